#!/usr/bin/env python3
"""Hostile HTTP/2 openings: connect, write the client preface and an empty SETTINGS frame,
and close at once, COUNT times in batches of BATCH. Every other close is an abortive one
(SO_LINGER 0: RST instead of FIN), so the server's first writes hit a reset socket (EPIPE).

usage: h2_openings.py HOST PORT COUNT [BATCH]    prints one JSON line with what it did
"""
import json
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = struct.pack(">I", 0)[1:] + bytes([4, 0]) + struct.pack(">I", 0)  # len 0, type 4


def main():
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 25
    done = refused = 0
    t0 = time.monotonic()
    while done + refused < count:
        socks = []
        for _ in range(min(batch, count - done - refused)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.connect((host, port))
                s.sendall(PREFACE + SETTINGS)
                socks.append(s)
            except OSError:
                refused += 1
                s.close()
        for i, s in enumerate(socks):
            if i % 2 == 0:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            done += 1
    print(json.dumps({"event": "h2_openings", "closed": done, "refused": refused,
                      "secs": round(time.monotonic() - t0, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
