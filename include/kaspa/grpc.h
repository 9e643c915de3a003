/* gRPC over HTTP/2 for Kaspa's one bidirectional stream, sans-IO (bytes in, bytes out).
 *
 * Wire facts: ../shared/reference/kaspa-p2p-wire.md sections 1 and 6.
 *
 *   client (dialer)                                  server (listener)
 *   PRI * HTTP/2.0 + SETTINGS  ------------------->
 *   HEADERS :method POST :scheme http
 *           :path /protowire.P2P/MessageStream
 *           content-type application/grpc, te trailers,
 *           grpc-encoding gzip, grpc-accept-encoding gzip,identity
 *                              <-------------------  SETTINGS, HEADERS :status 200
 *                                                    content-type application/grpc [grpc-encoding
 * gzip] DATA [flag u8][len u32 BE][protobuf]  <------->  DATA ...  (one long-lived stream)
 *                              <-------------------  HEADERS (trailers) grpc-status [grpc-message]
 *
 * HTTP/2 itself is nghttp2 (mem_recv/mem_send); the 5-byte message framing, gzip (zlib),
 * header checks, keepalive PINGs and the close sequence are ours. */
#ifndef KASPA_GRPC_H
#define KASPA_GRPC_H

#include <stddef.h>
#include <stdint.h>

/* The library's owned byte buffer (drained by the peer driver; util/buf.h inside). */
typedef struct lp2p_buf lp2p_buf;

#define KASPA_GRPC_PATH "/protowire.P2P/MessageStream"
/* Decoded (inflated) message limit of our endpoint: 16 MiB, far below rusty-kaspa's
 * P2P_MAX_MESSAGE_SIZE of 1 GiB, which only IBD needs (docs/decisions.md, "message limit"). */
#define KASPA_GRPC_MAX_MESSAGE_DEFAULT (16u << 20)
/* Receive buffers (reassembly, inflate output) kept between messages, at most. */
#define KASPA_GRPC_KEEP_BYTES (256u << 10)

/* HTTP/2 settings profiles.
 * TCP: what a stock Kaspa node (tonic on hyper 1.x) uses: 16 KiB frames; server windows
 *      1 MiB stream / 1 MiB connection; client windows 2 MiB stream / 5 MiB connection.
 * LIBP2P: what the libp2p fork of rusty-kaspa uses on streams: 1 MiB frames, 8 MiB stream
 *      window, 16 MiB connection window, 64 KiB header list, PING every 30 s (10 s timeout). */
typedef enum kaspa_h2_profile {
    KASPA_H2_PROFILE_TCP = 0,
    KASPA_H2_PROFILE_LIBP2P = 1,
} kaspa_h2_profile;

typedef struct kaspa_grpc_config {
    kaspa_h2_profile profile;
    uint64_t max_message_size;     /* decoded size limit, checked before buffering and while
                                      inflating; default KASPA_GRPC_MAX_MESSAGE_DEFAULT */
    int gzip;                      /* client: gzip every message and offer gzip; server: gzip when
                                      the request's grpc-accept-encoding lists gzip. Default 1. */
    int gzip_level;                /* zlib level, default 1 (any level is the same wire format) */
    uint64_t keepalive_ms;         /* HTTP/2 PING interval, 0 = off */
    uint64_t keepalive_timeout_ms; /* PING ACK deadline */
    uint64_t open_timeout_ms;      /* client: response HEADERS; server: request HEADERS */
    size_t max_send_queue;         /* framed bytes waiting for flow-control window */
    const char *authority;         /* client :authority (default "kaspa") */
    const char *user_agent;        /* client user-agent header */
} kaspa_grpc_config;

/* Fills defaults for a profile (keepalive 30 s/10 s for LIBP2P, off for TCP). */
void kaspa_grpc_config_default(kaspa_grpc_config *c, kaspa_h2_profile profile);

/* ---- the HTTP/2 endpoint ----------------------------------------------------------------- */
typedef struct kaspa_grpc kaspa_grpc;

typedef struct kaspa_grpc_callbacks {
    /* Client: the response HEADERS (:status 200) arrived. Server: a valid request arrived
     * and the response HEADERS are queued. Messages may be sent before this too. */
    void (*on_open)(void *user);
    /* One decoded message. Return 0, or a negative lp2p_err to stop delivering (the
     * endpoint then closes with grpc-status INTERNAL). */
    int (*on_message)(void *user, const uint8_t *msg, size_t len);
    /* The stream or connection ended: err 0 when the peer ended it cleanly, grpc_status from
     * trailers (-1 if none), message may be NULL. Fires at most once. */
    void (*on_close)(void *user, int err, int grpc_status, const char *grpc_message);
} kaspa_grpc_callbacks;

int kaspa_grpc_new(kaspa_grpc **out, const kaspa_grpc_config *cfg, int is_server,
                   const kaspa_grpc_callbacks *cb, void *user, uint64_t now_ms);
void kaspa_grpc_del(kaspa_grpc *g);
/* Feeds transport bytes. Returns 0 or a fatal lp2p_err (the connection is broken). */
int kaspa_grpc_recv(kaspa_grpc *g, const uint8_t *in, size_t len, uint64_t now_ms);
/* Queues one protobuf message. LP2P_ERR_LIMIT when max_send_queue would be exceeded,
 * LP2P_ERR_TOO_LARGE over max_message_size, LP2P_ERR_STATE after close. */
int kaspa_grpc_send(kaspa_grpc *g, const uint8_t *msg, size_t len);
/* Writes exactly len bytes of one message to dst: 0, or a negative lp2p_err. */
typedef int (*kaspa_grpc_pack_fn)(void *ctx, uint8_t *dst, size_t len);
/* kaspa_grpc_send of a message pack() writes: without gzip straight into the send queue
 * behind its 5-byte header (the message's one copy), with gzip into a scratch buffer that
 * is then deflated into the queue. Same errors, plus pack's. */
int kaspa_grpc_send_packed(kaspa_grpc *g, size_t len, kaspa_grpc_pack_fn pack, void *ctx);
/* Ends the stream after everything queued so far: server sends trailers with grpc_status
 * (and grpc_message if not NULL), client ends its side; then GOAWAY. */
int kaspa_grpc_close(kaspa_grpc *g, int grpc_status, const char *grpc_message);
/* Ends the connection at once for a peer that does not read: whatever waits for its
 * flow-control window is dropped (and freed), our stream is reset and GOAWAY
 * (ENHANCE_YOUR_CALM) follows; neither waits behind the data it would never take. */
void kaspa_grpc_abort(kaspa_grpc *g);
/* Bytes to write to the transport; drain with lp2p_buf_consume (util/buf.h). */
lp2p_buf *kaspa_grpc_out(kaspa_grpc *g);
/* Pulls pending HTTP/2 frames into out (done automatically by every call above). */
int kaspa_grpc_flush(kaspa_grpc *g);
uint64_t kaspa_grpc_next_deadline(const kaspa_grpc *g);
int kaspa_grpc_tick(kaspa_grpc *g, uint64_t now_ms);
/* 1 when the connection has nothing more to do: close the transport once out is drained. */
int kaspa_grpc_is_done(const kaspa_grpc *g);
/* The transport saw EOF or an error. */
void kaspa_grpc_transport_closed(kaspa_grpc *g);
/* Bytes queued for sending but not yet handed to HTTP/2. */
size_t kaspa_grpc_send_queue(const kaspa_grpc *g);
/* 1: the transport cannot take more; DATA frames wait in the send queue (control frames
 * still go out). 0: they go on, as one frame per window and peer's frame-size limit, which
 * out then holds without a copy when it was empty. Returns what the flush returns. */
int kaspa_grpc_hold_data(kaspa_grpc *g, int hold);
/* The send queue plus kaspa_grpc_out: all bytes of ours not yet taken by the transport. */
size_t kaspa_grpc_unsent(const kaspa_grpc *g);
/* Heap bytes held for received messages (kaspa_grpc_deframer_held of our stream). */
size_t kaspa_grpc_recv_held(const kaspa_grpc *g);
/* Messages received so far, and how many of them were gzip-compressed on the wire. */
uint64_t kaspa_grpc_msgs_in(const kaspa_grpc *g, uint64_t *gzipped);
/* Total bytes ever appended to out. */
uint64_t kaspa_grpc_bytes_out(const kaspa_grpc *g);
/* 1 if we gzip our messages (client: when configured; server: after open, if accepted). */
int kaspa_grpc_sending_gzip(const kaspa_grpc *g);

#endif
