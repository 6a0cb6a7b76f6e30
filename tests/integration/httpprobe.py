#!/usr/bin/env python3
"""httpprobe.py - raw-socket HTTP clients for t55-http.sh.

  httpprobe.py SOCK probe NAME...   run the named probes at once; print one
                                    JSON line each: {"name", "status", "closed_after"}
  httpprobe.py SOCK hold N SECONDS  open N connections that send nothing, keep
                                    them SECONDS (or until the server closes them);
                                    print how many the server closed
  httpprobe.py SOCK slow N SECONDS  N clients trickling a request head, 1 byte/s
  httpprobe.py SOCK get PATH stall|drop BYTES
                                    GET PATH, read BYTES, then stop reading until
                                    the server closes (stall) or disconnect (drop);
                                    print JSON
  httpprobe.py SOCK fuzz N METHOD PATH SEED
                                    send N mutations of the body SEED (1-4 random
                                    bytes changed each, seeds 1..N: repeatable);
                                    print the count of each status; exit 1 if
                                    any answer is 5xx or missing

status is the reply's status code (null: the server closed without a reply);
closed_after is how long the server took to close after the probe's last byte
of request (or after connecting).
"""
import json
import socket
import sys
import threading
import time

LIMIT = 30.0  # no probe waits longer than this


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def read_until_closed(s, t0, limit=LIMIT):
    """Read everything until EOF; (status, seconds since t0)."""
    data = b""
    s.settimeout(0.2)
    while time.monotonic() - t0 < limit:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            break
        if not chunk:
            break
        data += chunk
    status = None
    if data.startswith(b"HTTP/1."):
        try:
            status = int(data.split(b" ", 2)[1])
        except ValueError:
            pass
    return status, round(time.monotonic() - t0, 2)


def closed(s):
    """True if the server has closed s (reads return EOF or a reset)."""
    try:
        s.setblocking(False)
        return s.recv(65536) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset, broken pipe, or any other end of the connection
        return True


def trickle(s, data, t0):
    """Send data one byte a second until the server closes; seconds since t0."""
    for b in data:
        try:
            s.send(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            break
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            if closed(s):
                return round(time.monotonic() - t0, 2)
            time.sleep(0.05)
        s.setblocking(True)
        if time.monotonic() - t0 > LIMIT:
            break
    return round(time.monotonic() - t0, 2)


def send_all(s, data):
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered early and closed: read the answer


HEAD = b"GET /v1/host HTTP/1.1\r\nHost: corral\r\n"


def probe(path, name):
    s = connect(path)
    t0 = time.monotonic()
    status = None
    if name == "nothing":
        status, after = read_until_closed(s, t0)
    elif name == "crlf":
        s.sendall(b"\r\n")
        status, after = read_until_closed(s, t0)
    elif name == "trickle-head":
        after = trickle(s, HEAD + b"X-Slow: " + b"a" * 100, t0)
    elif name == "short-body":
        s.sendall(b"POST /v1/vms HTTP/1.1\r\nHost: corral\r\nContent-Length: 100\r\n\r\n" + b"{" * 10)
        t0 = time.monotonic()
        status, after = read_until_closed(s, t0)
    elif name == "trickle-body":
        s.sendall(b"POST /v1/vms HTTP/1.1\r\nHost: corral\r\nContent-Length: 100\r\n\r\n")
        t0 = time.monotonic()
        after = trickle(s, b" " * 100, t0)
    elif name == "garbage":
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage \x00\xff\r\n\r\n")
        status, after = read_until_closed(s, t0)
    elif name == "bad-request-line":
        s.sendall(b"GET\r\n\r\n")
        status, after = read_until_closed(s, t0)
    elif name == "bad-version":
        s.sendall(b"GET /v1/host HTTP/9.9\r\nHost: corral\r\n\r\n")
        status, after = read_until_closed(s, t0)
    elif name == "junk-header":
        s.sendall(HEAD + b"\x01junk" * 400 + b"\r\n\r\n")
        status, after = read_until_closed(s, t0)
    elif name == "huge-header":
        s.sendall(HEAD + b"X-Big: " + b"a" * 100000 + b"\r\n\r\n")
        status, after = read_until_closed(s, t0)
    elif name == "big-body":
        body = b" " * (10 << 20)
        send_all(s, b"POST /v1/vms HTTP/1.1\r\nHost: corral\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        status, after = read_until_closed(s, t0)
    elif name == "big-chunked":
        send_all(s, b"POST /v1/vms HTTP/1.1\r\nHost: corral\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"100000\r\n" + b" " * 0x100000 + b"\r\n"
        for _ in range(10):
            send_all(s, chunk)
        send_all(s, b"0\r\n\r\n")
        status, after = read_until_closed(s, t0)
    elif name == "bad-query":
        s.sendall(b"GET /v1/vms?select=%zz HTTP/1.1\r\nHost: corral\r\nConnection: close\r\n\r\n")
        status, after = read_until_closed(s, t0)
    elif name == "ok":
        s.sendall(b"GET /v1/host HTTP/1.1\r\nHost: corral\r\nConnection: close\r\n\r\n")
        status, after = read_until_closed(s, t0)
    else:
        raise SystemExit("unknown probe " + name)
    s.close()
    return {"name": name, "status": status, "closed_after": after}


def run_probes(path, names):
    out = [None] * len(names)

    def one(i, n):
        out[i] = probe(path, n)

    threads = [threading.Thread(target=one, args=(i, n)) for i, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o in out:
        print(json.dumps(o))


def hold(path, n, seconds):
    socks = [connect(path) for _ in range(n)]
    print("open", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end and not all(closed(s) for s in socks):
        time.sleep(0.1)
    print(json.dumps({"opened": n, "closed_by_server": sum(1 for s in socks if closed(s))}))


def slow(path, n, seconds):
    socks = [connect(path) for _ in range(n)]
    print("open", flush=True)
    data = HEAD + b"X-Slow: " + b"a" * 1000
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end and i < len(data):
        for s in socks:
            try:
                s.send(data[i:i + 1])
            except OSError:
                pass
        i += 1
        time.sleep(1.0)
    for s in socks:
        s.close()


def get(path, target, mode, nbytes):
    s = connect(path)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET " + target.encode() + b" HTTP/1.1\r\nHost: corral\r\nConnection: close\r\n\r\n")
    t0 = time.monotonic()
    data = b""
    while len(data) < nbytes:
        chunk = s.recv(min(65536, nbytes - len(data)))
        if not chunk:
            break
        data += chunk
    if mode == "drop":
        s.close()
        print(json.dumps({"read": len(data)}))
        return
    # stall: stop reading; report when the server closes the connection.
    print("stalled", flush=True)
    while not closed_quiet(s) and time.monotonic() - t0 < LIMIT:
        time.sleep(0.5)
    print(json.dumps({"read": len(data), "server_closed_after": round(time.monotonic() - t0, 2)}))


def fuzz(path, n, method, target, seed):
    import random
    counts, bad = {}, []
    for i in range(1, n + 1):
        r = random.Random(i)
        body = bytearray(seed.encode())
        for _ in range(r.randint(1, 4)):
            body[r.randrange(len(body))] = r.randrange(256)
        s = connect(path)
        send_all(s, b"%s %s HTTP/1.1\r\nHost: corral\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                 % (method.encode(), target.encode(), len(body), bytes(body)))
        reply = b""
        s.settimeout(LIMIT)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        s.close()
        status = reply.split(b" ", 2)[1].decode() if reply.startswith(b"HTTP/1.") else "none"
        counts[status] = counts.get(status, 0) + 1
        if status == "none" or status.startswith("5"):
            bad.append((i, bytes(body), reply[:200]))
    print(json.dumps(counts, sort_keys=True))
    for i, body, reply in bad:
        print("mutation %d: %r -> %r" % (i, body, reply))
    sys.exit(1 if bad else 0)


def closed_quiet(s):
    """Has the server closed s?  Peeks only at the socket error state and
    POLLRDHUP, without reading the queued reply bytes."""
    import select
    p = select.poll()
    p.register(s, select.POLLRDHUP | select.POLLHUP)
    return any(ev & (select.POLLRDHUP | select.POLLHUP) for _, ev in p.poll(0))


def main():
    path, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "probe":
        run_probes(path, args)
    elif cmd == "hold":
        hold(path, int(args[0]), float(args[1]))
    elif cmd == "slow":
        slow(path, int(args[0]), float(args[1]))
    elif cmd == "get":
        get(path, args[0], args[1], int(args[2]))
    elif cmd == "fuzz":
        fuzz(path, int(args[0]), args[1], args[2], args[3])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
