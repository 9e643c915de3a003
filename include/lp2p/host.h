/* The libp2p host: listeners, connections (TCP or relayed), streams with protocol handlers.
 *
 * One libuv loop, owned by the application, drives everything; nothing here starts a
 * thread. Connections are upgraded multistream → Noise → Yamux (Yamux is chosen inside the
 * Noise handshake when both sides offer it, else negotiated by multistream). Exactly one
 * connection per peer is kept; a later duplicate is closed.
 *
 * Lifetimes: a stream is valid until its on_close callback returns; a connection until the
 * host's on_disconnected callback returns. Callbacks may write, close or reset the stream
 * they are called for. */
#ifndef LP2P_HOST_H
#define LP2P_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lp2p/identity.h"

typedef struct lp2p_host lp2p_host;
typedef struct lp2p_conn lp2p_conn;
typedef struct lp2p_stream lp2p_stream;

typedef struct lp2p_stream_callbacks {
    /* Inbound: protocol agreed, handler takes the stream. Outbound: not called (the stream
     * is usable at once; negotiation is lazy, 0-RTT). */
    void (*on_open)(lp2p_stream *s, void *ud);
    /* Bytes from the peer. The window is granted back when this returns, unless the stream
     * has more than its high-water mark of our own bytes waiting to go out (then it is
     * granted when those drain): a handler that echoes cannot be flooded. */
    void (*on_data)(lp2p_stream *s, const uint8_t *p, size_t n, void *ud);
    /* The peer closed its write side. */
    void (*on_eof)(lp2p_stream *s, void *ud);
    /* Our pending output fell below the low-water mark. */
    void (*on_writable)(lp2p_stream *s, void *ud);
    /* Last callback: err 0 = both sides closed cleanly, else why (reset, NA, conn lost). */
    void (*on_close)(lp2p_stream *s, int err, void *ud);
} lp2p_stream_callbacks;

typedef struct lp2p_identify_result {
    const char *agent;
    const char *protocol_version;
    const char *const *protocols;
    size_t nprotocols;
    const char *observed; /* multiaddr text, or NULL */
    const char *const *listen_addrs;
    size_t nlisten;
} lp2p_identify_result;

typedef struct lp2p_holepunch_event lp2p_holepunch_event; /* lp2p/holepunch.h */

/* Connection events. The config's callbacks are the first subscriber; more subscribe with
 * lp2p_host_subscribe. Any member may be NULL. */
typedef struct lp2p_host_callbacks {
    /* A connection is up and kept (after duplicate resolution). */
    void (*on_connected)(lp2p_conn *c, void *ud);
    /* Last event of a connection reported by on_connected; c is valid until it returns. */
    void (*on_disconnected)(lp2p_conn *c, int reason, void *ud);
    void (*on_identify)(lp2p_conn *c, const lp2p_identify_result *r, void *ud);
    /* Progress and outcome of a hole punch (lp2p/holepunch.h). */
    void (*on_holepunch)(const lp2p_holepunch_event *ev, void *ud);
} lp2p_host_callbacks;

typedef struct lp2p_host_config {
    uv_loop_t *loop;
    const lp2p_keypair *identity;  /* borrowed; must outlive the host */
    const char *agent;             /* identify agentVersion */
    uint64_t dial_timeout_ms;      /* TCP connect; default 10 s */
    uint64_t handshake_timeout_ms; /* multistream+Noise+Yamux; default 10 s */
    uint32_t max_conns;            /* default 256 */
    uint32_t max_conns_per_ip;     /* inbound from one IP address; 0 = no cap (default) */
    /* inbound from one /24 (IPv4) or /56 (IPv6); 0 = no cap (default) */
    uint32_t max_conns_per_subnet;
    /* Past max_conns an inbound connection evicts rather than being refused: half-open ones
     * first (oldest first), then upgraded ones with no stream and nothing a service keeps
     * (a relay reservation) that are older than conn_grace_ms (default 2 s), down to 15/16
     * of max_conns (go-libp2p's connection manager trims from a high to a low watermark). */
    uint64_t conn_grace_ms;
    uint32_t max_streams_per_conn; /* default 512 */
    uint32_t max_stream_window;    /* Yamux auto-tune ceiling; default 16 MiB */
    /* Memory budget of what peers can make us hold: each stream is charged its receive
     * window (granted, not yet used, plus delivered, not yet consumed) and its queued
     * output. Window updates are withheld and new inbound streams refused
     * (`stream_refused`) once a connection would exceed max_conn_memory (0 = 32 MiB, as
     * go-libp2p's resource manager) or all connections together max_memory (0 = 1/8 of
     * the memory we may use, between 64 MiB and 1 GiB); a connection may always hold
     * 1 MiB (four fresh streams), so peers that overspend the process budget cannot lock
     * out a good one. */
    uint64_t max_conn_memory;
    uint64_t max_memory;
    int holepunch; /* serve and start DCUtR; default 1 */
    /* A punch that has no direct connection this long after the relayed one came up gives
     * up (LP2P_HOLEPUNCH_GAVE_UP). 0 (default): when DCUtR's attempts are spent. */
    uint64_t holepunch_timeout_ms;
    /* When we drive DCUtR (we accepted the relayed connection) and an exchange's attempts are
     * spent: start this many fresh exchanges on the same relayed connection, each
     * holepunch_repunch_delay_ms after the last gave up. Default 0 (GAVE_UP at once). */
    uint32_t holepunch_repunch;
    uint64_t holepunch_repunch_delay_ms; /* default 10 s */
    /* Reservations: the longest wait between RESERVE attempts after a failure (backoff from
     * 1 s, with jitter); 0 = the default, 20 s. */
    uint64_t reserve_backoff_max_ms;
    lp2p_host_callbacks cb;
    void *ud;
} lp2p_host_config;

void lp2p_host_config_default(lp2p_host_config *c, uv_loop_t *loop, const lp2p_keypair *id);
int lp2p_host_new(const lp2p_host_config *c, lp2p_host **out);
/* Closes every connection and listener; the host is freed once the loop has run the
 * close callbacks (call uv_run again after this). */
void lp2p_host_close(lp2p_host *h);

/* Listens on a /ip4|ip6/.../tcp/PORT multiaddr. The first listener's port is the one
 * dial sockets bind to (port reuse). Logs `listening {addr}` with /p2p/<id>. */
int lp2p_host_listen(lp2p_host *h, const char *multiaddr);
/* Listen addresses (text, with /p2p/<id>); valid until the next listen call. */
size_t lp2p_host_listen_addrs(const lp2p_host *h, const char *const **out);
const lp2p_peer_id *lp2p_host_peer_id(const lp2p_host *h);

/* Keeps a Circuit Relay v2 reservation on a relay (/ip4/…/tcp/…/p2p/<relay>): reserves now,
 * refreshes at 3/4 of the TTL, reserves again with backoff after the relay connection drops.
 * Logs `reservation {relay, expires, addrs}` with our /p2p-circuit addresses. Peers then
 * reach us with lp2p_host_dial("<relay>/p2p/<relay>/p2p-circuit/p2p/<us>"). */
int lp2p_host_reserve(lp2p_host *h, const char *relay_multiaddr);

/* Adds a subscriber to the connection events (cb is copied). Subscribers are called in the
 * order they subscribed, on_disconnected in the reverse order. Returns an id >= 0 for
 * lp2p_host_unsubscribe, or LP2P_ERR_LIMIT. Safe to call from an event callback. */
int lp2p_host_subscribe(lp2p_host *h, const lp2p_host_callbacks *cb, void *ud);
/* No event reaches that subscriber any more (also from inside one of its callbacks). */
void lp2p_host_unsubscribe(lp2p_host *h, int id);

/* Services of the host beside identify, ping and DCUtR (always on), enabled by the app. */
#define LP2P_ECHO_PROTO "/echo/1.0.0"
/* /echo/1.0.0: every byte back until EOF. */
int lp2p_host_serve_echo(lp2p_host *h);
/* /perf/1.0.0 (libp2p perf spec): off by default on public nodes, as the spec asks. */
int lp2p_host_serve_perf(lp2p_host *h);

/* Registers a handler for inbound streams of a protocol. */
int lp2p_host_handle(lp2p_host *h, const char *proto, const lp2p_stream_callbacks *cb, void *ud);

/* Dials a multiaddr ending in /p2p/<id> (the ID is checked in Noise) or not (any peer).
 * A /p2p-circuit address dials through that relay (connecting to it first if needed); a
 * relay that has no reservation for the target makes cb see LP2P_ERR_NOT_FOUND.
 * If a connection to that peer exists it is reused. cb gets the connection or an error. */
typedef void (*lp2p_dial_cb)(lp2p_conn *c, int err, void *ud);
int lp2p_host_dial(lp2p_host *h, const char *multiaddr, lp2p_dial_cb cb, void *ud);

/* Opens a stream for proto (lazy multistream: data may be written at once). */
int lp2p_conn_open_stream(lp2p_conn *c, const char *proto, const lp2p_stream_callbacks *cb,
                          void *ud, lp2p_stream **out);
/* The ready connection to peer (a direct one preferred over a relayed one), or NULL. */
lp2p_conn *lp2p_host_find_conn(const lp2p_host *h, const lp2p_peer_id *peer);
const lp2p_peer_id *lp2p_conn_peer(const lp2p_conn *c);
/* 1 once the peer answered identify on this connection. */
int lp2p_conn_identified(const lp2p_conn *c);
/* 1 when the connection runs over a relay circuit (/p2p-circuit). */
int lp2p_conn_is_relayed(const lp2p_conn *c);
const char *lp2p_conn_peer_str(const lp2p_conn *c);
const char *lp2p_conn_remote_addr(const lp2p_conn *c); /* multiaddr text */
int lp2p_conn_is_outbound(const lp2p_conn *c);
void lp2p_conn_close(lp2p_conn *c, int reason);
lp2p_host *lp2p_conn_host(const lp2p_conn *c);

/* Queues bytes (copied). Never short: output beyond the window waits in the stream. */
int lp2p_stream_write(lp2p_stream *s, const void *p, size_t n);
/* Bytes queued in the stream and not yet handed to the muxer. */
size_t lp2p_stream_pending(const lp2p_stream *s);
/* Half-close: FIN after the pending bytes. */
int lp2p_stream_close(lp2p_stream *s);
void lp2p_stream_reset(lp2p_stream *s);
const char *lp2p_stream_protocol(const lp2p_stream *s);
lp2p_conn *lp2p_stream_conn(const lp2p_stream *s);
void lp2p_stream_set_ud(lp2p_stream *s, void *ud);
/* The owner lets go of s: no callback reaches it any more, and s is reset (reset != 0) or
 * half-closed after its pending bytes. Safe to call from s's own callbacks. */
void lp2p_stream_detach(lp2p_stream *s, int reset);
/* Replaces the stream's callbacks (e.g. a relay turning a hop stream into a byte pipe). */
void lp2p_stream_set_callbacks(lp2p_stream *s, const lp2p_stream_callbacks *cb, void *ud);
/* Our pending output at or above this stops granting the peer window, and arms on_writable
 * (called when pending falls below a quarter of it). */
#define LP2P_STREAM_HIGH_WATER (1u << 20)
/* paused = 1: bytes the peer sends on s are still delivered, but not granted back as window,
 * so the peer stops after at most one window; paused = 0: grants what was held back. For
 * code that forwards s's bytes elsewhere (a relay splicing two streams): pause s while the
 * destination's lp2p_stream_pending is >= LP2P_STREAM_HIGH_WATER, resume in the
 * destination's on_writable. */
void lp2p_stream_pause_read(lp2p_stream *s, int paused);

#endif
