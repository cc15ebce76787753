#!/usr/bin/env python3
"""Host end of tests/linux/linux_net.sh (run inside the test's network
namespace): one TCP connection from the Linux guest's /init.

  net_server.py BIND_IP PORT LOG

"PUT n\\n" then n bytes: checked against the pattern (seed 3), answered
"OK <FNV-1a-64 hex>\\n" (or "NO <hex>\\n"). "GET n\\n": n bytes of the
pattern with seed 4 are sent. Both FNVs and the rates go to LOG.
"""
import socket
import sys
import time


def pattern(start, n, seed):
    return bytes(((i * 7 + seed + (i >> 12) * 13) & 0xFF) for i in range(start, start + n))


def fnv(h, data):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def readline(c):
    line = b""
    while not line.endswith(b"\n"):
        b = c.recv(1)
        if not b:
            raise EOFError
        line += b
    return line.decode().strip()


def main():
    ip, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    out = open(log, "a", buffering=1)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, port))
    srv.listen(1)
    print("server: listening on %s:%d" % (ip, port), file=out)
    c, peer = srv.accept()
    print("server: connection from %s" % (peer,), file=out)
    while True:
        try:
            cmd = readline(c)
        except EOFError:
            break
        verb, n = cmd.split()[0], int(cmd.split()[1])
        if verb == "PUT":
            h, got, good, t0 = 0xCBF29CE484222325, 0, True, time.time()
            while got < n:
                data = c.recv(min(1 << 20, n - got))
                if not data:
                    break
                good = good and data == pattern(got, len(data), 3)
                h = fnv(h, data)
                got += len(data)
            dt = time.time() - t0
            ok = good and got == n
            print("server: PUT %d bytes %s fnv=%016x in %.3f s" % (got, "intact" if ok else "CORRUPT", h, dt), file=out)
            c.sendall(("%s %016x\n" % ("OK" if ok else "NO", h)).encode())
        elif verb == "GET":
            data = pattern(0, n, 4)
            t0 = time.time()
            c.sendall(data)
            print("server: GET %d bytes fnv=%016x sent in %.3f s" % (n, fnv(0xCBF29CE484222325, data), time.time() - t0), file=out)
    c.close()


if __name__ == "__main__":
    main()
