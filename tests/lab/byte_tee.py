#!/usr/bin/env python3
"""A TCP relay for the lab tests that digests what it forwards: for every connection it
logs one JSON line when both directions are done,
  {"event": "tee_closed", "peer": "ip:port", "up_bytes": N, "up_sha256": "...",
   "down_bytes": M, "down_sha256": "..."}
("up" = from the accepted side towards --to). Put one in front of each end of a bridged
path and compare their digests: equal digests mean the bytes arrived as they were sent,
which byte counts alone cannot show.

--same-source binds the upstream socket to the accepted peer's IP (any 127/8 address works
on lo), so the server behind the tee still sees where the connection came from.
--corrupt-at N flips the byte at up-offset N (only for showing that a digest check fails).
"""
import argparse
import asyncio
import hashlib
import json
import sys


def log(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def pump(reader, writer, digest, count, corrupt_at):
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            if 0 <= corrupt_at - count[0] < len(data):
                i = corrupt_at - count[0]
                data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
            digest.update(data)
            count[0] += len(data)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()


async def serve(args):
    async def on_conn(creader, cwriter):
        peer = cwriter.get_extra_info("peername")
        try:
            local = (peer[0], 0) if args.same_source else None
            sreader, swriter = await asyncio.open_connection(args.to_host, args.to_port, local_addr=local)
        except OSError as e:
            log({"event": "tee_upstream_failed", "peer": f"{peer[0]}:{peer[1]}", "error": str(e)})
            cwriter.close()
            return
        up, down = hashlib.sha256(), hashlib.sha256()
        nup, ndown = [0], [0]
        await asyncio.gather(
            pump(creader, swriter, up, nup, args.corrupt_at),
            pump(sreader, cwriter, down, ndown, -1),
        )
        for w in (swriter, cwriter):
            w.close()
        log(
            {
                "event": "tee_closed",
                "peer": f"{peer[0]}:{peer[1]}",
                "up_bytes": nup[0],
                "up_sha256": up.hexdigest(),
                "down_bytes": ndown[0],
                "down_sha256": down.hexdigest(),
            }
        )

    srv = await asyncio.start_server(on_conn, args.host, args.port)
    log({"event": "tee_listen", "addr": f"{args.host}:{args.port}"})
    async with srv:
        await srv.serve_forever()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True, help="HOST:PORT")
    p.add_argument("--to", required=True, help="HOST:PORT")
    p.add_argument("--same-source", action="store_true")
    p.add_argument("--corrupt-at", type=int, default=-1)
    args = p.parse_args()
    args.host, port = args.listen.rsplit(":", 1)
    args.port = int(port)
    args.to_host, port = args.to.rsplit(":", 1)
    args.to_port = int(port)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
