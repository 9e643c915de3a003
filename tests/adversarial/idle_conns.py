#!/usr/bin/env python3
"""Idle TCP connections: open COUNT connections to HOST:PORT, send nothing, and hold them for
SECS seconds; with --reconnect, each one the server closes is opened again at once (so the
server never sees fewer than COUNT idle peers). With --from BASE N the connections come from
BASE.1 ... BASE.N in turn (default: the kernel's choice of source address); with --subnets
FIRST N from 127.FIRST.0.1 ... 127.(FIRST+N-1).0.1, one address in each of N /24 subnets.

usage: idle_conns.py HOST PORT COUNT SECS [--reconnect] [--from BASE N | --subnets FIRST N]
prints {"event": "idle_conns", "opened", "closed_by_server", "failed", "secs"}
"""
import json
import selectors
import sys
import time

from tcp_util import connect_nonblocking


def main():
    host, port, count, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    rest = sys.argv[5:]
    reconnect = "--reconnect" in rest
    base, nips = None, 1
    if "--from" in rest:
        i = rest.index("--from")
        base, nips = rest[i + 1], int(rest[i + 2])
    first = None
    if "--subnets" in rest:
        i = rest.index("--subnets")
        first, nips = int(rest[i + 1]), int(rest[i + 2])
    nth = 0

    def source():
        if first is not None:
            return f"127.{first + nth % nips}.0.1"
        return f"{base}.{nth % nips + 1}" if base else None
    sel = selectors.DefaultSelector()
    opened = closed = failed = 0

    def open_one():
        nonlocal opened, failed, nth
        s = connect_nonblocking(host, port, source())
        nth += 1
        if s is None:
            failed += 1
            return
        opened += 1
        sel.register(s, selectors.EVENT_READ)

    for _ in range(count):
        open_one()
    print(json.dumps({"event": "idle_conns_open", "opened": opened}), flush=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < secs:
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            try:
                if s.recv(4096):
                    continue
            except BlockingIOError:
                continue
            except OSError:
                pass
            sel.unregister(s)
            s.close()
            closed += 1
            if reconnect:
                open_one()
    print(json.dumps({"event": "idle_conns", "opened": opened, "closed_by_server": closed,
                      "failed": failed, "secs": round(time.monotonic() - t0, 2)}), flush=True)


if __name__ == "__main__":
    main()
