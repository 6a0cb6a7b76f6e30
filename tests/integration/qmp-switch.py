#!/usr/bin/env python3
"""qmp-switch.py QMP_SOCKET DEVICE OLD_FILE NEW_FILE FORMAT

Drive a live disk move the way corrald does (service/volume.c), on a QEMU
whose corrald is not running, up to and including the switch-over
(job-complete), and leave the concluded mirror job undismissed: what a
corrald killed in the switch-over's second leaves behind.  t25-recovery.sh
uses it to check that start-up recovery records such a move."""
import json
import socket
import sys
import time


def main():
    sock_path, device, old_file, new_file, fmt = sys.argv[1:6]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    f = s.makefile("rw")
    f.readline()  # greeting

    def cmd(name, args=None):
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        f.write(json.dumps(msg) + "\n")
        f.flush()
        while True:
            reply = json.loads(f.readline())
            if "event" in reply:
                continue
            if "error" in reply:
                sys.exit("%s: %s" % (name, reply["error"]["desc"]))
            return reply["return"]

    cmd("qmp_capabilities")
    old_node = next(b["inserted"]["node-name"] for b in cmd("query-block")
                    if b.get("inserted", {}).get("file") == old_file)
    node = "%s-m%d" % (device, int(time.time()))
    job = "move-" + node
    cmd("blockdev-add", {"driver": "file", "filename": new_file, "node-name": node + "-f"})
    cmd("blockdev-add", {"driver": fmt, "file": node + "-f", "node-name": node})
    cmd("blockdev-mirror", {"job-id": job, "device": old_node, "target": node, "sync": "full",
                            "copy-mode": "write-blocking", "auto-dismiss": False})

    def status():
        return next(j["status"] for j in cmd("query-jobs") if j["id"] == job)

    deadline = time.time() + 60
    while status() != "ready":
        if time.time() > deadline:
            sys.exit("the mirror did not become ready")
        time.sleep(0.1)
    cmd("job-complete", {"id": job})
    while status() != "concluded":
        if time.time() > deadline:
            sys.exit("the mirror did not conclude")
        time.sleep(0.1)
    print(node)


main()
