#!/usr/bin/env python3
"""Host end of tests/integration/virtio_net.sh, run inside the test's network
namespace: a UDP responder for the probe guest's net tests.

  net_responder.py BIND_IP PORT GUEST_IP LOG [TAP GSO_SEND]

Datagrams (first 4 bytes say what):
  ECH0...   echoed back unchanged
  BURS n s  n datagrams "SEQ!" + seq, padded to s bytes, sent back at once
  SNK!...   counted (the transmit rate test)
  DONE      answered "CNT!" + the count (the next SNK! starts a new count);
            the rate goes to LOG. The count is of the datagrams that
            reached this socket: those read plus those the socket dropped
            because this script did not read them in time (SO_RXQ_OVFL).
            Under emulation Python reads a few hundred a second, so the
            drops are this script's slowness, not frames hearth lost.
  PING      three ICMP echo requests to GUEST_IP over a raw socket,
            answered "PONG" + the number of replies
  GSO! n s m MAC  (with GSO_SEND) runs tests/host/gso_send to write n TCP GSO
            frames of s payload bytes, segment size m, to MAC into TAP;
            answered "GSOD" + the number sent (it queues behind them)
"""
import os
import socket
import struct
import subprocess
import sys
import time

SO_RXQ_OVFL = 40  # asm-generic/socket.h; not exported by Python's socket module


def icmp_checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ping_guest(guest):
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    raw.settimeout(2)
    replies = 0
    ident = os.getpid() & 0xFFFF
    for seq in range(1, 4):
        payload = bytes(range(48))
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, icmp_checksum(hdr + payload), ident, seq) + payload
        raw.sendto(pkt, (guest, 0))
        deadline = time.time() + 2
        while time.time() < deadline:
            try:
                data, _ = raw.recvfrom(2048)
            except socket.timeout:
                break
            ihl = (data[0] & 15) * 4
            t, _, _, i, s = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if t == 0 and i == ident and s == seq and data[ihl + 8:] == payload:
                replies += 1
                break
    raw.close()
    return replies


def main():
    bind_ip, port, guest, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    tap, gso_send = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else (None, None)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
    s.bind((bind_ip, port))
    out = open(log, "a", buffering=1)
    print("responder: listening on %s:%d" % (bind_ip, port), file=out)
    count, first, last, reported = 0, None, None, False
    drops = drops0 = 0  # the socket's drop counter: now, at a run's start
    while True:
        data, anc, _, peer = s.recvmsg(65536, socket.CMSG_SPACE(4))
        for level, typ, val in anc:  # sent only once the counter is not 0
            if level == socket.SOL_SOCKET and typ == SO_RXQ_OVFL and len(val) >= 4:
                drops = struct.unpack("I", val[:4])[0]
        kind = data[:4]
        if kind == b"ECH0":
            s.sendto(data, peer)
        elif kind == b"BURS":
            n, size = struct.unpack("!II", data[4:12])
            t0 = time.time()
            for i in range(n):
                s.sendto(b"SEQ!" + struct.pack("!I", i) + bytes(max(0, size - 8)), peer)
            print("burst: sent %d datagrams in %.3f s" % (n, time.time() - t0), file=out)
        elif kind == b"SNK!":
            if reported or first is None:  # a new run
                count, first, last, reported = 0, None, None, False
                drops0 = drops
            now = time.time()
            first = first or now
            last = now
            count += 1
        elif kind == b"DONE":
            secs = (last - first) if count > 1 else 0
            pps = (count - 1) / secs if secs > 0 else 0
            # dropped unread: SNK! datagrams, and any DONE the guest had to
            # send again; its bytes 4-8 hold the last SNK! index, so no
            # more than that many can have been sent
            lost = drops - drops0
            if len(data) >= 8:
                lost = min(lost, max(0, struct.unpack("!I", data[4:8])[0] + 1 - count))
            print("sink: frames=%d read=%d dropped-unread=%d seconds=%.3f pps=%.0f" %
                  (count + lost, count, lost, secs, pps), file=out)
            s.sendto(b"CNT!" + struct.pack("!I", count + lost), peer)
            reported = True
        elif kind == b"PING":
            n = ping_guest(guest)
            print("ping: %d replies from %s" % (n, guest), file=out)
            s.sendto(b"PONG" + struct.pack("!I", n), peer)
        elif kind == b"GSO!" and gso_send and len(data) >= 20:
            n, size, mss = struct.unpack("!IIH", data[4:14])
            mac = ":".join("%02x" % b for b in data[14:20])
            r = subprocess.run([gso_send, tap, mac, bind_ip, peer[0], str(n), str(size), str(mss)],
                               capture_output=True, text=True)
            print((r.stdout + r.stderr).strip() + " (exit %d)" % r.returncode, file=out)
            sent = int(r.stdout.split()[2]) if r.stdout.startswith("gso_send: sent") else 0
            s.sendto(b"GSOD" + struct.pack("!I", sent), peer)


if __name__ == "__main__":
    main()
