/* Perf (/perf/1.0.0), sans-IO client and server. Wire facts: libp2p-wire.md A11.
 *
 *   client                                       server
 *   u64 BE: bytes to send back  ───────────►
 *   N upload bytes              ───────────►    drains until EOF
 *   close write                 ───────────►
 *                               ◄───────────    the requested number of bytes
 *                               ◄───────────    close write
 *
 * Both cores tell the caller what to write next, one chunk at a time, so the host writes only
 * as fast as the transport takes it:
 *
 *   for (;;) switch (lp2p_perf_*_next(x, &chunk)) {
 *   case LP2P_PERF_WRITE:       n = write(chunk.ptr, chunk.len); lp2p_perf_*_sent(x, n, now);
 *   case LP2P_PERF_CLOSE_WRITE: shutdown write; lp2p_perf_*_write_closed(x, now);
 *   case LP2P_PERF_READ:        wait for bytes / EOF and feed them in;
 *   case LP2P_PERF_DONE:        results are in the struct.
 *   }
 *
 * Payload bytes are zeros from a static buffer; their content is not checked (the spec says
 * nothing about it). Perf must not be enabled by default on public nodes (spec). */
#ifndef LP2P_PROTO_PERF_H
#define LP2P_PROTO_PERF_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/trace.h"

#define LP2P_PERF_PROTO "/perf/1.0.0"
/* One write of the payload: a stream seals a write to an idle stream at once, so a chunk of
 * four full Noise frames' worth leaves one short frame per chunk rather than one per 64 KiB. */
#define LP2P_PERF_CHUNK_MAX (256u << 10)

typedef enum lp2p_perf_action {
    LP2P_PERF_WRITE = 0,       /* write chunk, then report with _sent */
    LP2P_PERF_CLOSE_WRITE = 1, /* half-close, then report with _write_closed */
    LP2P_PERF_READ = 2,        /* nothing to write: feed input / EOF */
    LP2P_PERF_DONE = 3,
} lp2p_perf_action;

typedef struct lp2p_perf_client {
    uint64_t upload_bytes;   /* N */
    uint64_t download_bytes; /* requested from the server */
    uint8_t header[8];
    size_t header_sent;
    uint64_t uploaded;
    uint64_t downloaded;
    int write_closed;
    int eof;
    size_t chunk;
    uint64_t start_ms, upload_done_ms, end_ms;
    lp2p_trace trace; /* perf_rejected records (reason, ...); zero after init = silent */
} lp2p_perf_client;

/* chunk 0 = LP2P_PERF_CHUNK_MAX. now_ms = stream open time. */
void lp2p_perf_client_init(lp2p_perf_client *c, uint64_t upload_bytes, uint64_t download_bytes,
                           size_t chunk, uint64_t now_ms);
lp2p_perf_action lp2p_perf_client_next(const lp2p_perf_client *c, lp2p_view *chunk);
/* n bytes of the last chunk were written (n may be less than its length). */
int lp2p_perf_client_sent(lp2p_perf_client *c, size_t n, uint64_t now_ms);
int lp2p_perf_client_write_closed(lp2p_perf_client *c, uint64_t now_ms);
/* Download bytes; LP2P_ERR_DECODE when they exceed what was requested or arrive before the
 * upload is finished (the server must not answer concurrently). */
int lp2p_perf_client_recv(lp2p_perf_client *c, const uint8_t *in, size_t len, uint64_t now_ms);
/* Server closed: LP2P_ERR_DECODE when fewer bytes than requested arrived. */
int lp2p_perf_client_eof(lp2p_perf_client *c, uint64_t now_ms);

typedef struct lp2p_perf_server {
    uint8_t header[8];
    size_t header_have;
    uint64_t to_send; /* from the header */
    uint64_t max_send;
    uint64_t received; /* upload bytes after the header */
    uint64_t sent;
    int eof;
    int write_closed;
    size_t chunk;
    uint64_t start_ms, eof_ms, end_ms;
    lp2p_trace trace; /* perf_rejected records (reason, ...); zero after init = silent */
} lp2p_perf_server;

/* max_send: refuse requests above it (LP2P_ERR_LIMIT); 0 = no limit (the "timer" variant
 * asks for UINT64_MAX and closes early). */
void lp2p_perf_server_init(lp2p_perf_server *s, uint64_t max_send, size_t chunk, uint64_t now_ms);
int lp2p_perf_server_recv(lp2p_perf_server *s, const uint8_t *in, size_t len, uint64_t now_ms);
/* Client closed its write side: LP2P_ERR_DECODE if the 8-byte header is incomplete. */
int lp2p_perf_server_eof(lp2p_perf_server *s, uint64_t now_ms);
lp2p_perf_action lp2p_perf_server_next(const lp2p_perf_server *s, lp2p_view *chunk);
int lp2p_perf_server_sent(lp2p_perf_server *s, size_t n, uint64_t now_ms);
int lp2p_perf_server_write_closed(lp2p_perf_server *s, uint64_t now_ms);

#endif
