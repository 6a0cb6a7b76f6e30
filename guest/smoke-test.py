#!/usr/bin/env python3
"""Boot the corral test guest with bare QEMU (TCG) and check that it works.

Usage: guest/smoke-test.py [GUEST_DIR]   (default: <repo>/build/guest)
       CORRAL_GUEST_KERNEL=vmlinux guest/smoke-test.py   (PVH boot)
       SMOKE_VERBOSE=1 also prints the serial output

Checks: CORRAL-GUEST-READY, CORRAL-BLOCK lists vda and sr0 (q35 ide-cd),
the serial shell runs commands, virtio-blk hot-plug/unplug via QMP shows in
CORRAL-BLOCK, and QMP system_powerdown powers the guest off (QEMU exits).
Prints timings. Exit status 0 when every check passed.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ANSI = re.compile(rb"\x1b(\[[0-9;?]*[A-Za-z]|c)")


class Guest:
    def __init__(self, gdir, tmp):
        self.tmp = tmp
        self.qmp_path = os.path.join(tmp, "qmp.sock")
        self.disk = os.path.join(tmp, "vda.qcow2")
        self.hpdisk = os.path.join(tmp, "vdb.qcow2")
        for d in (self.disk, self.hpdisk):
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", d, "64M"],
                           check=True)
        cmd = [
            "qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-m", "256",
            "-nographic", "-no-reboot",
            "-kernel", os.path.join(gdir, os.environ.get("CORRAL_GUEST_KERNEL", "vmlinuz")),
            "-initrd", os.path.join(gdir, "initrd.img"),
            "-append", "console=ttyS0 quiet panic=-1 corral.hostname=smoketest",
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
            "-device", "pcie-root-port,id=rp1,chassis=1,slot=1,bus=pcie.0",
            "-drive", "file=%s,if=none,id=d0,format=qcow2" % self.disk,
            "-device", "virtio-blk-pci,drive=d0",
            "-device", "virtio-rng-pci",
            "-device", "ide-cd,bus=ide.1,id=cd0",
        ]
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.lines = []          # (time since start, decoded line)
        self.cond = threading.Condition()
        self.eof = False
        threading.Thread(target=self._reader, daemon=True).start()
        self.qmp = None

    def _reader(self):
        buf = b""
        while True:
            chunk = self.proc.stdout.read1(4096)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = ANSI.sub(b"", line).replace(b"\r", b"")
                with self.cond:
                    self.lines.append((time.monotonic() - self.t0,
                                       line.decode("utf-8", "replace")))
                    self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_line(self, pred, timeout, start=0):
        """Wait for a line (index >= start) satisfying pred; return (idx, t, line)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.lines)):
                    t, l = self.lines[i]
                    if pred(l):
                        return i, t, l
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    return None
                self.cond.wait(min(left, 0.2))

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def qmp_connect(self):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.qmp_path)
        self.qmp = s.makefile("rw")
        json.loads(self.qmp.readline())  # greeting
        self.qmp_cmd("qmp_capabilities")

    def qmp_cmd(self, cmd, **args):
        self.qmp.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
        self.qmp.flush()
        while True:
            msg = json.loads(self.qmp.readline())
            if "event" in msg:
                continue
            if "error" in msg:
                raise RuntimeError("%s: %s" % (cmd, msg["error"]))
            return msg["return"]

    def n_lines(self):
        with self.cond:
            return len(self.lines)


def block_pred(names_in=(), names_out=()):
    def pred(line):
        if not line.startswith("CORRAL-BLOCK:"):
            return False
        names = line[len("CORRAL-BLOCK:"):].split()
        return all(n in names for n in names_in) and not any(n in names for n in names_out)
    return pred


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    gdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "build", "guest")
    tmp = tempfile.mkdtemp(prefix="corral-smoke.")
    passed = failed = 0
    g = None

    def check(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print("ok   %s %s" % (name, detail))
        else:
            failed += 1
            print("FAIL %s %s" % (name, detail))
        sys.stdout.flush()
        return ok

    try:
        g = Guest(gdir, tmp)
        r = g.wait_line(lambda l: l == "CORRAL-GUEST-READY", 60)
        if not check("ready marker", r is not None,
                     "(%.2f s after QEMU start)" % r[1] if r else ""):
            return 1
        r = g.wait_line(block_pred(["vda", "sr0"]), 15)
        check("CORRAL-BLOCK lists vda and sr0", r is not None, r[2] if r else "")

        n = g.n_lines()
        g.send("echo hello-$((1+2)); hostname; ls /sys/block\n")
        r = g.wait_line(lambda l: l.strip() == "hello-3", 15, n)
        check("serial shell runs commands", r is not None)
        r = g.wait_line(lambda l: l.strip() == "smoketest", 5, n)
        check("corral.hostname= sets the hostname", r is not None)
        r = g.wait_line(lambda l: "sr0" in l.split() and "vda" in l.split(), 5, n)
        check("/sys/block shows sr0", r is not None, r[2] if r else "")

        g.qmp_connect()
        n = g.n_lines()
        t = time.monotonic()
        g.qmp_cmd("blockdev-add", **{"driver": "qcow2", "node-name": "hp1",
                                     "file": {"driver": "file",
                                              "filename": g.hpdisk}})
        g.qmp_cmd("device_add", driver="virtio-blk-pci", id="hpdisk",
                  drive="hp1", bus="rp1")
        r = g.wait_line(block_pred(["vda", "vdb"]), 20, n)
        check("hot-plug shows vdb", r is not None,
              "(%.2f s) %s" % (time.monotonic() - t, r[2]) if r else "")

        n = g.n_lines()
        t = time.monotonic()
        g.qmp_cmd("device_del", id="hpdisk")
        r = g.wait_line(block_pred(["vda"], ["vdb"]), 20, n)
        check("hot-unplug removes vdb", r is not None,
              "(%.2f s) %s" % (time.monotonic() - t, r[2]) if r else "")

        n = g.n_lines()
        g.send("echo still-$((40+2))\n")
        r = g.wait_line(lambda l: l.strip() == "still-42", 10, n)
        check("shell still works", r is not None)

        t = time.monotonic()
        g.qmp_cmd("system_powerdown")
        try:
            rc = g.proc.wait(10)
            dt = time.monotonic() - t
            check("system_powerdown powers off", dt < 3, "(QEMU exited %.2f s after, rc %d)" % (dt, rc))
        except subprocess.TimeoutExpired:
            check("system_powerdown powers off", False, "(QEMU still running after 10 s)")
    finally:
        if g is not None:
            if g.proc.poll() is None:
                g.proc.kill()
                g.proc.wait()
            if failed or os.environ.get("SMOKE_VERBOSE"):
                print("--- serial/QEMU output ---")
                for t, l in g.lines:
                    print("%7.2f %s" % (t, l))
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
