#!/usr/bin/env python3
"""rawframes.py - send hostile frames from a test "guest" (t67-hygiene.sh).

Runs inside a guest's network namespace and writes Ethernet frames straight
to its interface through an AF_PACKET socket, as a misbehaving guest would:

  rawframes.py IFACE dhcp MODE COUNT MYMAC
      DHCPDISCOVERs (with rapid commit, so a server that honours it hands
      out a lease per packet).  MODE: srcmac (random source MAC and chaddr),
      chaddr (own source MAC, random chaddr), clid (own MAC and chaddr,
      random client identifier).
  rawframes.py IFACE arp-reply MYMAC SPOOF_IP TARGET_MAC TARGET_IP
      an ARP reply telling TARGET that SPOOF_IP is at MYMAC (poisoning).
  rawframes.py IFACE tagged MYMAC VID
      three 802.1Q-tagged frames (VLAN hopping) to the broadcast address.
And, to time a bandwidth limit (ordinary TCP; IFACE unused):
  rawframes.py - sink PORT             accept one connection, read to EOF
  rawframes.py - send IP PORT BYTES    send BYTES, wait until the sink has them
"""
import random
import socket
import struct
import time
import sys


def mac(s):
    return bytes.fromhex(s.replace(":", ""))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xFFFF)
    t += t >> 16
    return (~t) & 0xFFFF


def rnd_mac():
    return bytes([0x02] + [random.randrange(256) for _ in range(5)])


def dhcp(sock, mode, count, me):
    for _ in range(count):
        r = rnd_mac()
        src = r if mode == "srcmac" else me
        ch = me if mode == "clid" else r
        opts = bytes([53, 1, 1, 80, 0])
        if mode == "clid":
            opts += bytes([61, 7, 1]) + rnd_mac()
        opts += bytes([255])
        bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, random.getrandbits(32), 0, 0x8000,
                            b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, ch + b"\0" * 10, b"", b"")
        bootp += b"\x63\x82\x53\x63" + opts
        udp = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b"\0" * 4, b"\xff" * 4)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        sock.send(b"\xff" * 6 + src + b"\x08\x00" + ip + udp)


def arp_reply(sock, me, spoof_ip, target_mac, target_ip):
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, me, socket.inet_aton(spoof_ip), target_mac,
                      socket.inet_aton(target_ip))
    for _ in range(3):
        sock.send(target_mac + me + b"\x08\x06" + arp)


def tagged(sock, me, vid):
    payload = bytes(46)
    for _ in range(3):
        sock.send(b"\xff" * 6 + me + struct.pack("!HHH", 0x8100, vid & 0xFFF, 0x0800) + payload)


def sink(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    srv.settimeout(30)
    conn, _ = srv.accept()
    while conn.recv(65536):
        pass
    conn.close()


def send(ip, port, count):
    # the sink may still be starting (a Python start takes a while under load)
    deadline = time.monotonic() + 10
    while True:
        try:
            conn = socket.create_connection((ip, port), timeout=30)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    conn.sendall(b"\0" * count)
    conn.shutdown(socket.SHUT_WR)
    conn.recv(1)  # EOF once the sink has read everything and closed
    conn.close()


def main():
    iface, what = sys.argv[1], sys.argv[2]
    if what == "sink":
        return sink(int(sys.argv[3]))
    if what == "send":
        return send(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    if what == "dhcp":
        dhcp(sock, sys.argv[3], int(sys.argv[4]), mac(sys.argv[5]))
    elif what == "tagged":
        tagged(sock, mac(sys.argv[3]), int(sys.argv[4]))
    elif what == "arp-reply":
        arp_reply(sock, mac(sys.argv[3]), sys.argv[4], mac(sys.argv[5]), sys.argv[6])
    else:
        sys.exit("rawframes.py: unknown frame kind " + what)


if __name__ == "__main__":
    main()
