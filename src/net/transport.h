/* A byte transport: what a libp2p connection's upgrade pipeline (multistream → Noise → Yamux)
 * and a Kaspa peer driver (HTTP/2) run over, without knowing what carries the bytes.
 *
 * Implementations:
 *   - TCP on libuv (src/net/tcp_transport.c): port reuse, listen, dial;
 *   - a libp2p stream (src/host/stream_transport.c): a relay circuit's hop/stop stream
 *     under a relayed connection, or a /kaspad/transport/1.0.0 stream under a Kaspa session;
 *   - an in-memory pair (src/net/mem_transport.c) for tests: two ends in one process.
 *
 * The owner (a connection, a Kaspa driver) embeds nothing: it holds a pointer to the
 * transport, gives it one events struct and a user pointer, and calls the vtable through the
 * inline helpers below. Single-threaded, on the loop's thread.
 *
 * Events go up, exactly as a socket reports them:
 *   on_connected an outbound transport that connects asynchronously (a TCP dial) finished
 *                connecting; transports born connected never send it. A failed connect is
 *                on_closed with the reason;
 *   on_data      bytes from the peer, valid only during the call;
 *   on_eof       the peer closed its write side (no more on_data);
 *   on_writable  pending() fell below the transport's low-water mark after having been at
 *                or above its high-water mark: write more;
 *   on_closed    last event, the transport is gone (err 0 = clean, else a negative lp2p_err,
 *                with `why` a human-readable reason such as "connection refused", or NULL);
 *                the owner must not touch the transport after this returns.
 * No event is delivered from inside the owner's own call into the transport (write, close,
 * ...): events come only from the loop, so an owner never re-enters itself.
 *
 * Lifetime: the transport frees itself after on_closed; close() may be called from any
 * event. */
#ifndef LP2P_NET_TRANSPORT_H
#define LP2P_NET_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "util/buf.h"

typedef struct lp2p_transport lp2p_transport;

typedef struct lp2p_transport_events {
    void (*on_connected)(void *ud); /* may be NULL for transports that are born connected */
    void (*on_data)(void *ud, const uint8_t *p, size_t n);
    void (*on_eof)(void *ud);
    void (*on_writable)(void *ud);
    void (*on_closed)(void *ud, int err, const char *why);
} lp2p_transport_events;

typedef struct lp2p_transport_vtable {
    /* Takes the bytes of *b (moved, not copied, where the transport can: *b is left empty
     * and may be reused by the caller). Never short. Returns 0 or a negative lp2p_err. */
    int (*write)(lp2p_transport *t, lp2p_buf *b);
    /* Bytes accepted by write() and not yet taken by the kernel / the carrying stream. */
    size_t (*pending)(const lp2p_transport *t);
    /* paused = 1: deliver no more on_data until resumed (read backpressure). */
    void (*pause_read)(lp2p_transport *t, int paused);
    /* Half-close after the pending bytes (FIN). */
    int (*shutdown)(lp2p_transport *t);
    /* Closes (reset = 1: drop pending bytes, RST / stream reset). on_closed follows from the
     * loop. */
    void (*close)(lp2p_transport *t, int reset);
    /* Human-readable remote address (multiaddr text, e.g. /ip4/1.2.3.4/tcp/5 or the circuit
     * address), for logs and identify's observed address. Valid for the transport's life. */
    const char *(*remote_addr)(const lp2p_transport *t);
    /* The peer's socket address (per-IP caps, hole-punch claims). 0, or LP2P_ERR_NOT_FOUND
     * for transports that have none (a stream, memory). */
    int (*peer_sockaddr)(const lp2p_transport *t, struct sockaddr_storage *out);
} lp2p_transport_vtable;

struct lp2p_transport {
    const lp2p_transport_vtable *vt;
    const lp2p_transport_events *ev; /* set by the owner with lp2p_transport_bind */
    void *ud;
    size_t high_water; /* pending() at or above this: stop writing until on_writable */
    size_t low_water;  /* on_writable when pending() falls below this (after high_water) */
};

static inline void lp2p_transport_bind(lp2p_transport *t, const lp2p_transport_events *ev, void *ud)
{
    t->ev = ev;
    t->ud = ud;
}
static inline int lp2p_transport_write(lp2p_transport *t, lp2p_buf *b)
{
    return t->vt->write(t, b);
}
static inline size_t lp2p_transport_pending(const lp2p_transport *t)
{
    return t->vt->pending(t);
}
/* 1 when the owner should stop writing and wait for on_writable. */
static inline int lp2p_transport_congested(const lp2p_transport *t)
{
    return t->vt->pending(t) >= t->high_water;
}
static inline void lp2p_transport_pause_read(lp2p_transport *t, int paused)
{
    t->vt->pause_read(t, paused);
}
static inline int lp2p_transport_shutdown(lp2p_transport *t)
{
    return t->vt->shutdown(t);
}
static inline void lp2p_transport_close(lp2p_transport *t, int reset)
{
    t->vt->close(t, reset);
}
static inline const char *lp2p_transport_remote_addr(const lp2p_transport *t)
{
    return t->vt->remote_addr(t);
}
static inline int lp2p_transport_peer_sockaddr(const lp2p_transport *t,
                                               struct sockaddr_storage *out)
{
    return t->vt->peer_sockaddr(t, out);
}

#endif
