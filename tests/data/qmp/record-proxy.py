#!/usr/bin/env python3
"""Record the QMP conversation of a client with a real QEMU, for replays.

Usage: record-proxy.py LISTEN_SOCKET QEMU_SOCKET OUT.replies &
then point the client (tests/migrate/mig-drive) at LISTEN_SOCKET.  One
client connection is relayed both ways, unchanged; every message is written
to OUT.replies in wire order, in record.py's format (client lines hold
"execute"), so tests/unit/qmp_fake.c can replay it.  Ends when either side
closes.  Used for tests/data/qmp/migrate-*.replies (see test_migrate.c).
"""
import json
import os
import select
import socket
import subprocess
import sys

listen_path, qemu_path, out_path = sys.argv[1:4]
try:
    os.unlink(listen_path)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX)
srv.bind(listen_path)
srv.listen(1)
cli, _ = srv.accept()
qemu = socket.socket(socket.AF_UNIX)
qemu.connect(qemu_path)
version = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
out = open(out_path, "w")
out.write("# Recorded from %s by tests/data/qmp/record-proxy.py\n" % version)
pending = {cli: b"", qemu: b""}
peer = {cli: qemu, qemu: cli}
done = False
while not done:
    for s in select.select([cli, qemu], [], [])[0]:
        data = s.recv(65536)
        if not data:
            done = True
            break
        peer[s].sendall(data)
        pending[s] += data
        while b"\n" in pending[s]:
            line, pending[s] = pending[s].split(b"\n", 1)
            if line.strip():
                out.write(json.dumps(json.loads(line), separators=(", ", ": ")) + "\n")
out.close()
