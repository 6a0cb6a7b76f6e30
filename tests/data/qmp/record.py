#!/usr/bin/env python3
"""Record a QMP transcript from a real QEMU for tests/unit/test_qmp.c.

Usage: record.py SOCKET SCENARIO > tests/data/qmp/SCENARIO.replies

Start QEMU first, e.g. (basic):
  qemu-system-x86_64 -M q35 -accel tcg -m 64 -nographic -S -display none \
      -qmp unix:/tmp/q.sock,server=on,wait=off
and for the job and backup scenarios add writable qcow2 nodes:
  qemu-img create -f qcow2 /tmp/q.qcow2 64M
  qemu-io -f qcow2 -c 'write -P 0x5a 0 4M' /tmp/q.qcow2
  qemu-img create -f qcow2 /tmp/t.qcow2 64M
  ... -blockdev driver=file,filename=/tmp/q.qcow2,node-name=file0 \
      -blockdev driver=qcow2,file=file0,node-name=disk0 \
      -blockdev driver=file,filename=/tmp/t.qcow2,node-name=file1 \
      -blockdev driver=qcow2,file=file1,node-name=tgt0

and for the lifecycle scenario (tests/fake/fake-qemu.c replays it) a guest
that honours the power button, run as corrald runs QEMU (-no-shutdown,
hot-plug root ports rp0..rp3), its serial log named in RECORD_SERIAL_LOG so
the script can wait for the guest, and a qcow2 file to hot-plug in RECORD_DISK:
  qemu-img create -f qcow2 /tmp/h.qcow2 64M
  qemu-system-x86_64 -M q35 -accel tcg -m 256 -display none -S -no-shutdown \
      -nodefaults -kernel build/guest/vmlinuz -initrd build/guest/initrd.img \
      -append 'console=ttyS0 quiet' -serial file:/tmp/q.serial \
      -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,port=0x10,addr=0x2.0x0,multifunction=on \
      -device pcie-root-port,id=rp1,bus=pcie.0,chassis=2,port=0x11,addr=0x2.0x1 \
      -device pcie-root-port,id=rp2,bus=pcie.0,chassis=3,port=0x12,addr=0x2.0x2 \
      -device pcie-root-port,id=rp3,bus=pcie.0,chassis=4,port=0x13,addr=0x2.0x3 \
      -qmp unix:/tmp/q.sock,server=on,wait=off
  RECORD_SERIAL_LOG=/tmp/q.serial RECORD_DISK=/tmp/h.qcow2 record.py /tmp/q.sock lifecycle

Format of a .replies file: one JSON object per line, in wire order.  Lines
holding "execute" were sent by the client; every other line came from QEMU
(the greeting, replies, events).  Lines starting with '#' and blank lines
are comments.  The fake QEMU in the unit test replays the QEMU lines after
each client line, rewriting "id" to the id the client under test used.
"""
import json
import os
import select
import socket
import sys
import time

sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
pending = b""
closing = False  # after quit, QEMU closing the socket is the end, not a failure
out = []
seq = 0


def emit(msg):
    out.append(json.dumps(msg, separators=(", ", ": ")))


def recv(timeout):
    """Next message, or None if none arrives within timeout seconds."""
    global pending
    end = time.time() + timeout
    while b"\n" not in pending:
        left = end - time.time()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            return None
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            if closing:
                return None
            fail("QEMU closed the socket")
        pending += data
    line, pending = pending.split(b"\n", 1)
    msg = json.loads(line)
    emit(msg)
    return msg


def drain(secs):
    end = time.time() + secs
    while time.time() < end:
        if recv(max(0, end - time.time())) is None:
            break


def cmd(name, args=None, until_event=None, settle=0.1):
    """Send a command, record everything up to its reply, then wait for an
    optional event and record what trails within `settle` seconds."""
    global seq
    seq += 1
    msg = {"execute": name, "id": "corral-%d" % seq}
    if args is not None:
        msg["arguments"] = args
    emit(msg)
    sock.sendall(json.dumps(msg).encode() + b"\n")
    reply = None
    seen_event = until_event is None
    while reply is None:
        m = recv(10)
        if m is None:
            fail("no reply to " + name)
        if m.get("id") == msg["id"]:
            reply = m
        elif until_event and until_event(m):
            seen_event = True
    while not seen_event:
        m = recv(10)
        if m is None:
            fail("event for %s never came" % name)
        seen_event = bool(until_event(m))
    drain(settle)
    return reply


def job_concluded(job_id):
    return lambda m: (m.get("event") == "JOB_STATUS_CHANGE"
                      and m["data"]["id"] == job_id
                      and m["data"]["status"] == "concluded")


def fail(why):
    sys.stderr.write("\n".join(out) + "\n")
    raise SystemExit(why)


recv(5)  # greeting
scenario = sys.argv[2]
cmd("qmp_capabilities")
if scenario == "basic":
    cmd("query-status")
    cmd("device_del", {"id": "nosuchdev"})
    # QEMU was started with -S: cont first, so that stop has something to stop.
    cmd("cont", until_event=lambda m: m.get("event") == "RESUME")
    cmd("query-status")
    cmd("stop", until_event=lambda m: m.get("event") == "STOP")
    cmd("query-status")
elif scenario == "job":
    # What qmp_job_wait() does: query-jobs once concluded, then job-dismiss.
    cmd("snapshot-save", {"job-id": "snap-save", "tag": "s1",
                          "vmstate": "disk0", "devices": ["disk0"]},
        until_event=job_concluded("snap-save"))
    cmd("query-jobs")
    cmd("job-dismiss", {"id": "snap-save"})
    # A failing snapshot-load: the command "succeeds", the job carries the error.
    cmd("snapshot-load", {"job-id": "snap-load", "tag": "nosuchtag",
                          "vmstate": "disk0", "devices": ["disk0"]},
        until_event=job_concluded("snap-load"))
    cmd("query-jobs")
    cmd("job-dismiss", {"id": "snap-load"})
elif scenario == "backup":
    # Rate-limited so that the first query-jobs sees it running; a client
    # then has to wait for JOB_STATUS_CHANGE before asking again.
    cmd("blockdev-backup", {"job-id": "bk0", "device": "disk0", "target": "tgt0",
                            "sync": "full", "speed": 8 * 1024 * 1024,
                            "x-perf": {"max-chunk": 1024 * 1024},
                            "auto-dismiss": False}, settle=0)
    cmd("query-jobs", settle=0)
    while not any('"concluded"' in l and '"bk0"' in l for l in out):
        if recv(60) is None:
            fail("bk0 never concluded")
    drain(0.1)
    cmd("query-jobs")
    cmd("job-dismiss", {"id": "bk0"})
elif scenario == "lifecycle":
    # What corrald's runtime sends over a VM's life (src/qemu/runtime.c):
    # status in each state, pause, resume, reset, a disk hot-plugged into
    # slot 0 as rt_disk_attach does, a disk-only snapshot of it as
    # snap_qmp_create_disks does, the disk unplugged as rt_disk_detach does
    # (the guest releases it: DEVICE_DELETED), the power button honoured by
    # the guest (-no-shutdown: QEMU stays, status "shutdown"), then quit.
    serial = os.environ.get("RECORD_SERIAL_LOG")
    disk = os.environ.get("RECORD_DISK")
    if not serial or not disk:
        fail("lifecycle needs RECORD_SERIAL_LOG (the guest's serial log) and RECORD_DISK (a qcow2)")

    def wait_serial(marker):
        end = time.time() + 120
        while marker.encode() not in open(serial, "rb").read():
            if time.time() > end:
                fail("the guest never printed " + marker)
            time.sleep(0.2)
        drain(0.2)

    cmd("query-status")
    cmd("cont", until_event=lambda m: m.get("event") == "RESUME")
    cmd("query-status")
    cmd("stop", until_event=lambda m: m.get("event") == "STOP")
    cmd("query-status")
    cmd("cont", until_event=lambda m: m.get("event") == "RESUME")
    cmd("system_reset", until_event=lambda m: m.get("event") == "RESET")
    wait_serial("CORRAL-GUEST-READY")
    cmd("query-vnc")
    cmd("blockdev-add", {"driver": "file", "filename": disk, "node-name": "disk0-file", "read-only": False})
    cmd("blockdev-add", {"driver": "qcow2", "file": "disk0-file", "node-name": "disk0", "read-only": False})
    cmd("device_add", {"driver": "virtio-blk-pci", "id": "disk0", "drive": "disk0", "bus": "rp0"})
    wait_serial("CORRAL-BLOCK: vda")
    cmd("transaction", {"actions": [{"type": "blockdev-snapshot-internal-sync",
                                     "data": {"device": "disk0", "name": "s1"}}]})
    cmd("device_del", {"id": "disk0"},
        until_event=lambda m: (m.get("event") == "DEVICE_DELETED"
                               and m.get("data", {}).get("device") == "disk0"))
    cmd("blockdev-del", {"node-name": "disk0"})
    cmd("blockdev-del", {"node-name": "disk0-file"})
    cmd("system_powerdown",
        until_event=lambda m: m.get("event") == "SHUTDOWN", settle=0.5)
    cmd("query-status")
    closing = True
    cmd("quit", settle=0.5)
else:
    fail("unknown scenario " + scenario)

qemu = json.loads(out[0])["QMP"]["version"]["qemu"]
print("# Recorded from QEMU %d.%d.%d by tests/data/qmp/record.py %s"
      % (qemu["major"], qemu["minor"], qemu["micro"], scenario))
for line in out:
    print(line)
