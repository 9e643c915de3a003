#!/usr/bin/env python3
"""A flood of TCP connections that a daemon with a per-IP cap refuses: for SECS seconds,
round-robin over NIPS source addresses BASE.1 ... BASE.NIPS, keep up to WINDOW connections
open and count each one by what the daemon did with it. One the daemon closes within GRACE
seconds of the connect is "refused" (it went past the per-IP cap); one still open after that
is "held" (it got a seat) and stays open until the end, so the seats stay taken and every
later connection from that address is refused too.

usage: conn_flood.py HOST PORT SECS BASE NIPS [WINDOW] [GRACE]
prints one JSON line: {"event": "conn_flood", "connects", "refused", "held", "failed", "secs"}
"""
import json
import selectors
import sys
import time

from tcp_util import connect_nonblocking


def main():
    host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    base, nips = sys.argv[4], int(sys.argv[5])
    window = int(sys.argv[6]) if len(sys.argv) > 6 else 64
    grace = float(sys.argv[7]) if len(sys.argv) > 7 else 2.0
    sel = selectors.DefaultSelector()
    connects = refused = failed = 0
    held = []
    pending = 0
    t0 = time.monotonic()
    ip = 0
    while True:
        now = time.monotonic()
        flooding = now - t0 < secs
        while flooding and pending < window:
            s = connect_nonblocking(host, port, f"{base}.{ip % nips + 1}")
            ip += 1
            if s is None:
                failed += 1
                continue
            connects += 1
            pending += 1
            sel.register(s, selectors.EVENT_READ, now)
        if not flooding and pending == 0:
            break
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (ConnectionResetError, ConnectionRefusedError):
                data = b""
            except BlockingIOError:
                continue
            if data:
                continue  # a greeting: the daemon is talking to it; decided at GRACE
            sel.unregister(s)
            s.close()
            pending -= 1
            if time.monotonic() - key.data <= grace:
                refused += 1
            else:
                failed += 1
        # Connections still open after GRACE got a seat: keep them until the end.
        now = time.monotonic()
        for key in list(sel.get_map().values()):
            if now - key.data > grace:
                sel.unregister(key.fileobj)
                held.append(key.fileobj)
                pending -= 1
    print(json.dumps({"event": "conn_flood", "connects": connects, "refused": refused,
                      "held": len(held), "failed": failed,
                      "secs": round(time.monotonic() - t0, 2)}), flush=True)
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
