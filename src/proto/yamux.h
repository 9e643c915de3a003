/* Yamux stream multiplexer, sans-IO (libp2p/specs yamux/README.md; behaviour of
 * libp2p/go-yamux where the spec is silent). Frame codec: proto/yamux_frame.h.
 *
 * Bytes in:  lp2p_yamux_recv(y, in, len, now_ms) consumes everything; a partial header is
 *            kept (12 bytes at most), Data payload is handed to on_data as it arrives, so
 *            the core never buffers received payload.
 * Bytes out: lp2p_yamux_out(y) is a buffer of plaintext frames; the caller drains it
 *            (lp2p_buf_head/size/consume), encrypts and writes. Its size is bounded by the
 *            peer's windows plus small control frames; check it for socket backpressure.
 * Time:      the core reads no clock. now_ms comes in through recv/tick/ping; the latest
 *            value is the core's "now" for stream calls that take no time argument
 *            (consumed() uses it for auto-tuning: call tick() first if the loop was idle).
 *
 * Roles: is_client opens odd stream IDs, the server even ones (role from config: DCUtR may
 * assign it independently of who dialed). ID 0 is the session (Ping, GoAway).
 *
 * Stream lifetime (no dangling pointers):
 *   - A stream object is created by lp2p_yamux_open() (outbound) or announced by on_stream
 *     (inbound). It stays valid until on_stream_closed(s) returns; that is the last callback
 *     for s, and s is freed right after it.
 *   - A stream is finished when both directions are closed (local close + remote FIN) or
 *     it is reset (either side). on_stream_closed fires at the end of the outermost yamux
 *     call that finished it (recv/tick/write/close/reset/consumed...), never in the middle
 *     of a callback. So inside any callback, every stream pointer the host holds is valid,
 *     and a callback may call write/close/reset/consumed on its own or any other stream.
 *   - Calling lp2p_yamux_stream_reset(s) from outside a callback therefore fires
 *     on_stream_closed(s) before it returns: do not touch s afterwards.
 *   - lp2p_yamux_del() fires on_stream_closed for every stream still alive, then frees.
 *   - A callback must not call lp2p_yamux_del(); recv/tick from a callback return
 *     LP2P_ERR_STATE.
 *
 * Inbound streams: on_stream(s) announces a peer's SYN. The stream is "pending" (counted
 * against accept_backlog) until we ACK it: lp2p_yamux_stream_accept(s), or implicitly with
 * our first frame on it (write, close, window update). Data that arrives before is
 * delivered normally. To refuse, reset it.
 *
 * Flow control (receive): every stream starts with a 256 KiB window (spec); a larger
 * initial_window is announced in the SYN/ACK WindowUpdate. Received Data is delivered with
 * on_data and counts as unconsumed until the app calls lp2p_yamux_stream_consumed(s, n).
 * A WindowUpdate is sent once at least half of the window is free again. Auto-tuning (as
 * go-yamux): if that update is due less than 4 RTT after the previous one (the epoch), the
 * window doubles, up to max_window. RTT comes from Ping; until one is measured the window
 * does not grow. A peer that sends past the window is fatal (LP2P_ERR_FLOW_CONTROL).
 * Receive budget: with on_window set, every grant (refill or growth) is first offered to
 * it and shrinks to what it allows: window updates are ours to withhold, so a peer that
 * never reads what it provokes cannot make us hold more than the caller's budget. A
 * withheld grant is asked again by lp2p_yamux_stream_consumed(s, 0).
 *
 * Flow control (send): lp2p_yamux_stream_write() accepts at most the peer's remaining
 * window and returns the count accepted (0 when the window is shut). If it accepted less
 * than asked, on_writable(s) fires once the peer reopens the window.
 *
 * Unknown streams: a frame without SYN for a stream ID never opened is dropped (payload
 * skipped, flags ignored), as go-yamux and rust-yamux do; rust-yamux sends FIN or RST
 * without SYN for a stream it never wrote on. Counted in stats, reported once per session
 * (yamux_unknown_stream). A frame larger than any window we grant stays fatal.
 *
 * Errors: fatal codes (LP2P_ERR_PROTO, _FLOW_CONTROL, _FLOOD, _NOMEM) from recv/tick leave
 * the core dead: out holds a final GoAway(protocol error) where appropriate; flush it, close
 * the connection, del. A keepalive ping left unanswered makes tick return LP2P_ERR_TIMEOUT,
 * which also means "close the connection" here (the core is dead after it). */
#ifndef LP2P_PROTO_YAMUX_H
#define LP2P_PROTO_YAMUX_H

#include <stddef.h>
#include <stdint.h>

#include "proto/yamux_frame.h"
#include "util/buf.h"
#include "util/trace.h"

typedef struct lp2p_yamux lp2p_yamux;
typedef struct lp2p_yamux_stream lp2p_yamux_stream;

/* Largest payload of one Data frame we send by default: header + payload = 65519 bytes,
 * the largest Noise plaintext, so a caller that encrypts one yamux frame per Noise message
 * never splits a frame; the 12-byte header then costs 0.02%. Receiving accepts any size
 * within the window (go-yamux sends up to 64 KiB - 12, rust-yamux 16 KiB). */
#define LP2P_YAMUX_DEFAULT_MAX_FRAME (65519u - LP2P_YAMUX_HDR_LEN)
/* Hard ceiling for max_window (DESIGN: yamux windows grow up to 32 MiB). */
#define LP2P_YAMUX_MAX_WINDOW_LIMIT (32u * 1024u * 1024u)

typedef struct lp2p_yamux_config {
    int is_client;            /* 1: odd stream IDs, 0: even */
    uint32_t initial_window;  /* receive window announced at open/accept (>= 256 KiB) */
    uint32_t max_window;      /* auto-tuning ceiling (default 16 MiB, at most 32 MiB) */
    uint32_t max_streams;     /* live inbound streams; beyond -> RST (default 1000, as go) */
    uint32_t accept_backlog;  /* inbound streams not yet ACKed; beyond -> RST (256) */
    uint32_t max_ack_backlog; /* our outbound streams not yet ACKed; beyond -> open fails (256) */
    uint64_t keepalive_ms;    /* ping interval, 0 = no keepalive (default 30 s, as go) */
    uint64_t ping_timeout_ms; /* unanswered ping -> LP2P_ERR_TIMEOUT (default 10 s) */
    uint32_t max_frame;       /* max Data payload per frame we send */
    /* yamux_fatal (reason, stream, error), yamux_refuse_stream, yamux_goaway_received;
     * zero = silent (lp2p_yamux_config_default leaves it so) */
    lp2p_trace trace;
} lp2p_yamux_config;

void lp2p_yamux_config_default(lp2p_yamux_config *c, int is_client);

typedef struct lp2p_yamux_callbacks {
    /* Peer opened s (SYN). Not yet ACKed: see lp2p_yamux_stream_accept. */
    void (*on_stream)(void *user, lp2p_yamux_stream *s);
    /* Payload for s; p is valid only during the call. Call consumed() when processed. */
    void (*on_data)(void *user, lp2p_yamux_stream *s, const uint8_t *p, size_t n);
    /* Peer half-closed (FIN): no more data will arrive on s. */
    void (*on_fin)(void *user, lp2p_yamux_stream *s);
    /* Peer reset s (RST), including a refused open. */
    void (*on_reset)(void *user, lp2p_yamux_stream *s);
    /* The peer's window for s reopened after a short write. */
    void (*on_writable)(void *user, lp2p_yamux_stream *s);
    /* Both directions done or reset: last callback for s, freed after it returns. */
    void (*on_stream_closed)(void *user, lp2p_yamux_stream *s);
    /* Peer sent GoAway: no new streams either way; existing ones continue. go-yamux
     * closes the session on codes other than 0 (normal); the host may do the same. */
    void (*on_goaway)(void *user, uint32_t code);
    /* A ping was answered. */
    void (*on_rtt)(void *user, uint64_t rtt_ms);
    /* Receive budget (NULL: grant all). We are about to grant the peer `want` more bytes of
     * window on s, `grow` of them by auto-tuning (want - grow refills the current window).
     * Returns what may be granted (0..want). Below want the window does not grow, and a
     * grant smaller than the refill (or LP2P_YAMUX_MIN_GRANT) is withheld whole until the
     * next consumed() asks again. */
    uint32_t (*on_window)(void *user, lp2p_yamux_stream *s, uint32_t want, uint32_t grow);
    /* Receive budget for a peer's SYN (NULL: admit): 0 refuses it like a stream limit
     * (RST, counted towards the stream flood), since the spec grants it 256 KiB at once. */
    int (*on_admit)(void *user);
} lp2p_yamux_callbacks;

/* The smallest window update a budget cut is allowed to send (no silly-window trickle). */
#define LP2P_YAMUX_MIN_GRANT (16u * 1024u)

typedef struct lp2p_yamux_stats {
    uint32_t streams_open;          /* live streams (not finished) */
    uint32_t streams_inbound;       /* live inbound streams */
    uint32_t pending_accept;        /* inbound, not yet ACKed by us */
    uint32_t ack_backlog;           /* outbound, not yet ACKed by the peer */
    uint64_t bytes_in;              /* Data payload received */
    uint64_t bytes_out;             /* Data payload queued for sending */
    uint64_t streams_refused;       /* inbound SYNs answered with RST (limits, goaway) */
    uint64_t rtt_ms;                /* latest measured RTT, 0 = unknown */
    uint64_t frames_unknown_stream; /* frames without SYN for a stream never opened: dropped */
} lp2p_yamux_stats;

int lp2p_yamux_new(const lp2p_yamux_config *cfg, const lp2p_yamux_callbacks *cb, void *user,
                   lp2p_yamux **out);
void lp2p_yamux_del(lp2p_yamux *y);

int lp2p_yamux_recv(lp2p_yamux *y, const uint8_t *in, size_t len, uint64_t now_ms);
lp2p_buf *lp2p_yamux_out(lp2p_yamux *y);
uint64_t lp2p_yamux_next_deadline(const lp2p_yamux *y);
/* Sends due pings (the first tick/recv also sends an RTT-probe ping) and checks the ping
 * timeout. Keepalive pings go out every keepalive_ms even while busy, so the RTT stays
 * fresh; any bytes received while a ping is outstanding restart its timeout (the pong may
 * be queued behind data), so only a silent peer times out. */
int lp2p_yamux_tick(lp2p_yamux *y, uint64_t now_ms);
/* Sends a ping now. LP2P_ERR_AGAIN if one is already outstanding. */
int lp2p_yamux_ping(lp2p_yamux *y, uint64_t now_ms);
/* Sends GoAway(code); afterwards we open no streams and refuse the peer's new ones. */
int lp2p_yamux_goaway(lp2p_yamux *y, uint32_t code);
void lp2p_yamux_stats_get(const lp2p_yamux *y, lp2p_yamux_stats *st);
/* 0 while alive, else the fatal error that killed the session. */
int lp2p_yamux_error(const lp2p_yamux *y);

/* Opens an outbound stream (sends WindowUpdate|SYN). LP2P_ERR_LIMIT past max_ack_backlog
 * or max_streams outbound, LP2P_ERR_CLOSED after GoAway (either side). */
int lp2p_yamux_open(lp2p_yamux *y, lp2p_yamux_stream **out);
/* ACKs an inbound stream (WindowUpdate|ACK, announcing initial_window). Idempotent. */
int lp2p_yamux_stream_accept(lp2p_yamux_stream *s);
/* Returns bytes accepted (0..len, bounded by the peer's window), or LP2P_ERR_CLOSED after
 * our close, LP2P_ERR_RESET after a reset. */
long lp2p_yamux_stream_write(lp2p_yamux_stream *s, const uint8_t *p, size_t len);
/* The send path that does not copy: takes up to len bytes of the peer's window (at most
 * max_frame) for one Data frame and writes its header to hdr; the caller sends hdr and the
 * payload right after everything already in lp2p_yamux_out (an inbound stream's ACK goes
 * there first). Returns the payload length (0 when the window is shut: on_writable follows)
 * or the errors of lp2p_yamux_stream_write. */
long lp2p_yamux_stream_frame(lp2p_yamux_stream *s, size_t len, uint8_t hdr[LP2P_YAMUX_HDR_LEN]);
/* Half-close: sends FIN. Idempotent; LP2P_ERR_RESET if reset. */
int lp2p_yamux_stream_close(lp2p_yamux_stream *s);
/* Sends RST (if anything was sent or received) and finishes s. */
int lp2p_yamux_stream_reset(lp2p_yamux_stream *s);
/* The app processed n bytes delivered by on_data: may send a WindowUpdate. */
void lp2p_yamux_stream_consumed(lp2p_yamux_stream *s, size_t n);
uint32_t lp2p_yamux_stream_id(const lp2p_yamux_stream *s);
void lp2p_yamux_stream_set_user(lp2p_yamux_stream *s, void *user);
void *lp2p_yamux_stream_user(const lp2p_yamux_stream *s);
int lp2p_yamux_stream_is_outbound(const lp2p_yamux_stream *s);
/* Current receive window (grows with auto-tuning) and bytes the peer still may send. */
uint32_t lp2p_yamux_stream_recv_window(const lp2p_yamux_stream *s);
/* Bytes we may still send before the peer's next WindowUpdate. */
uint32_t lp2p_yamux_stream_send_window(const lp2p_yamux_stream *s);
/* Bytes delivered by on_data and not yet reported consumed. */
uint32_t lp2p_yamux_stream_unconsumed(const lp2p_yamux_stream *s);
/* Window granted and not yet used: what the peer may still send on s without asking
 * (0 once it sent FIN or the stream was reset). */
uint32_t lp2p_yamux_stream_recv_credit(const lp2p_yamux_stream *s);

#endif
