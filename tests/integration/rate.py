#!/usr/bin/env python3
"""rate.py - measure TCP throughput between the host and a guest (t69).

  rate.py recv ADDR PORT OUT   accept one connection on ADDR:PORT, read to EOF,
                               write "BYTES SECONDS RATE TAILRATE" to OUT
                               (OUT.listening exists once it listens: the
                               guest's sender is started only then)
                               (bytes/s from the first byte to EOF, and over
                               the second half of the bytes only: a policer's
                               bucket lets a sender burst at first); gives up
                               after 60 s
  rate.py send ADDR PORT BYTES connect (retried for 20 s while refused: the
                               guest's listener starts in the background),
                               send BYTES zero bytes, half-close, wait
                               for the peer's EOF (everything delivered) and
                               print "BYTES SECONDS RATE" (connect to EOF)

Only addresses on this machine (a guest on a corral bridge) are used."""
import socket
import sys
import time


def recv(addr, port, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(1)
    open(out + ".listening", "w").close()
    s.settimeout(60)
    c, _ = s.accept()
    c.settimeout(60)
    n, t0, marks = 0, None, []
    while True:
        b = c.recv(65536)
        if not b:
            break
        now = time.monotonic()
        if t0 is None:
            t0 = now
        n += len(b)
        marks.append((n, now))
    end = time.monotonic()
    dt = end - (t0 or end)
    c.close()
    half = next(((k, t) for k, t in marks if k >= n / 2), (n, end))
    tail = (n - half[0]) / (end - half[1]) if end > half[1] else 0
    with open(out, "w") as f:
        f.write("%d %.3f %d %d\n" % (n, dt, n / dt if dt > 0 else 0, tail))


def send(addr, port, nbytes):
    n = int(nbytes)
    deadline = time.monotonic() + 20
    while True:
        try:
            c = socket.create_connection((addr, int(port)), timeout=60)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    t0 = time.monotonic()
    buf = bytes(65536)
    left = n
    while left > 0:
        left -= c.send(buf[: min(left, len(buf))])
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536):
        pass
    dt = time.monotonic() - t0
    c.close()
    print("%d %.3f %d" % (n, dt, n / dt if dt > 0 else 0))


if __name__ == "__main__":
    {"recv": recv, "send": send}[sys.argv[1]](*sys.argv[2:])
