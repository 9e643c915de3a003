/* One Kaspa peer: a sans-IO kaspa_session run over a byte transport on a libuv loop. The
 * driver feeds the transport's bytes to the session, moves the session's output into the
 * transport while the transport is below its high-water mark, drives the session's
 * deadline with one timer, reports the session's events, and logs the session's end once:
 *
 *   kaspa_session_closed {peer, addr, relayed, bytes_in, bytes_out, messages_in,
 *                         messages_out, reason}
 *
 * Constructors (this header): plain TCP as a stock kaspad speaks it on 16111 (accept on a
 * listener, dial), and a libp2p stream (serve /kaspad/transport/1.0.0 and the PoC's
 * /kaspa/p2p/bridge/1.0 on a host, open one on a connection). The dialer is the gRPC client
 * (KASPA_CLIENT), the acceptor the gRPC server. Over TCP the session's peer_addr (duplicate
 * key) and log label are the socket's "ip:port"; over libp2p they are the peer's synthetic
 * fd00::/8 address and its base58 peer ID (kaspa_session_config_libp2p).
 *
 * Ending: when the session is over and its last bytes are handed on, the driver half-closes
 * the transport and waits up to KASPA_PEER_LINGER_MS for the peer's end (so that closing
 * with unread bytes does not turn into a reset that loses our last Reject or trailers);
 * a peer that does not read our last bytes gets KASPA_PEER_DRAIN_MS, then a reset.
 *
 * Lifetime: every kaspa_peer is owned by the driver. on_closed fires exactly once, after the
 * transport is gone; the peer (and its session) is freed when that callback returns. The
 * hub in the config must outlive every peer. Single-threaded (the loop's thread). */
#ifndef KASPA_PEER_H
#define KASPA_PEER_H

#include <uv.h>

#include "kaspa/session.h"
#include "lp2p/host.h"

#define KASPA_PEER_PROTO              "/kaspad/transport/1.0.0"
#define KASPA_PEER_PROTO_BRIDGE       "/kaspa/p2p/bridge/1.0" /* the public PoC's id */
#define KASPA_PEER_LINGER_MS          2000  /* after our FIN, wait this long for the peer's */
#define KASPA_PEER_DRAIN_MS           10000 /* after the session ended, for our last bytes */
#define KASPA_PEER_CONNECT_TIMEOUT_MS 5000  /* rusty-kaspa uses 1 s; lab links may be slower */

typedef struct kaspa_peer kaspa_peer;
/* A byte transport (src/net/transport.h); opaque to users of this header. */
typedef struct lp2p_transport lp2p_transport;

typedef struct kaspa_peer_callbacks {
    /* Session events (handshake, ready, ping, message, reject, closed). May send on
     * kaspa_peer_session() (then kaspa_peer_flush), ping or close; must not free anything. */
    void (*on_event)(void *user, kaspa_peer *p, const kaspa_event *ev);
    /* Optional: kaspa_peer_can_send became 1 (a write drained, a WINDOW_UPDATE arrived).
     * Only from the loop's callbacks, never from inside the owner's own call into the
     * driver. Bulk senders: send while can_send, flush, and wait for the next call. */
    void (*on_writable)(void *user, kaspa_peer *p);
    /* Once, after the transport is gone; p is freed when this returns. err 0 = clean end;
     * for a dial that never connected, kaspa_peer_session(p) is NULL. */
    void (*on_closed)(void *user, kaspa_peer *p, int err);
} kaspa_peer_callbacks;

/* What the logs call the peer. */
typedef struct kaspa_peer_names {
    const char *label;    /* "ip:port" or base58 peer ID (copied) */
    const char *addr;     /* TCP "ip:port" or the connection's multiaddr (copied) */
    const char *protocol; /* the libp2p stream protocol, NULL for TCP (copied) */
} kaspa_peer_names;

/* Runs a session over t (which must be open; the driver binds its events and owns it from
 * now on). cfg is copied; cfg->peer_addr, peer_label and relayed must already be set.
 * On error t is closed and nothing is reported. */
int kaspa_peer_start(uv_loop_t *loop, lp2p_transport *t, const kaspa_session_config *cfg,
                     kaspa_role role, const kaspa_peer_names *names, const kaspa_peer_callbacks *cb,
                     void *user, kaspa_peer **out);

/* ---- plain TCP --------------------------------------------------------------------------- */
typedef struct kaspa_peer_listener kaspa_peer_listener;

/* Listens on "HOST:PORT" (numeric; port 0 = ephemeral; logs kaspa_listen {addr}); every
 * accepted socket becomes a KASPA_SERVER peer with cfg (copied; peer_addr and label come from
 * the socket). cb/user are given to every peer. */
int kaspa_peer_listen_tcp(uv_loop_t *loop, const char *hostport, const kaspa_session_config *cfg,
                          const kaspa_peer_callbacks *cb, void *user, kaspa_peer_listener **out);
/* Connection caps (0 = none): at most max_conns peers in all, max_per_ip from one address;
 * past max_conns a newcomer evicts a peer that has not reached Ready, from the address
 * holding the most connections (if more than the newcomer's), else it is refused.
 * kaspa_peer_listen_tcp starts with KASPA_LISTEN_MAX_CONNS / KASPA_LISTEN_MAX_PER_IP. */
#define KASPA_LISTEN_MAX_CONNS  128
#define KASPA_LISTEN_MAX_PER_IP 8
void kaspa_peer_listener_limit(kaspa_peer_listener *l, uint32_t max_conns, uint32_t max_per_ip);
/* Bound port (useful with port 0). */
int kaspa_peer_listener_port(const kaspa_peer_listener *l);
/* Stops listening and ends every peer it accepted (clean gRPC end); the listener is freed
 * once all of them are gone. Safe from callbacks. */
void kaspa_peer_listener_close(kaspa_peer_listener *l);

/* Connects to "HOST:PORT" and runs a KASPA_CLIENT session once connected. A connection that
 * fails or times out (KASPA_PEER_CONNECT_TIMEOUT_MS) is reported by on_closed with
 * LP2P_ERR_IO / LP2P_ERR_TIMEOUT and no session. LP2P_ERR_INVAL for a bad address. */
int kaspa_peer_dial_tcp(uv_loop_t *loop, const char *hostport, const kaspa_session_config *cfg,
                        const kaspa_peer_callbacks *cb, void *user, kaspa_peer **out);

/* ---- libp2p streams ---------------------------------------------------------------------- */
/* Serves KASPA_PEER_PROTO and KASPA_PEER_PROTO_BRIDGE on host: each inbound stream becomes a
 * KASPA_SERVER peer with base (copied per stream; LIBP2P profile, the caller's gzip choice,
 * synthetic address, peer ID label, relayed flag from the connection). One per process;
 * base and its hub must outlive the host. Logs kaspa_stream_open {peer, addr, relayed,
 * synthetic_addr, protocol, role} per stream. */
int kaspa_peer_serve_libp2p(lp2p_host *host, uv_loop_t *loop, const kaspa_session_config *base,
                            const kaspa_peer_callbacks *cb, void *user);
/* Opens proto (NULL: KASPA_PEER_PROTO) on conn and runs a KASPA_CLIENT peer on it. A peer
 * that does not serve proto ends the session with reason "the peer does not serve ...". */
int kaspa_peer_open_libp2p(lp2p_conn *conn, const char *proto, uv_loop_t *loop,
                           const kaspa_session_config *base, const kaspa_peer_callbacks *cb,
                           void *user, kaspa_peer **out);
/* Runs a peer on a stream the caller already has (an inbound one from its own handler, or
 * one it opened), with the same settings and log lines as the two above. The driver takes
 * over s's callbacks; on error s is reset. out may be NULL. */
int kaspa_peer_start_libp2p(lp2p_stream *s, kaspa_role role, uv_loop_t *loop,
                            const kaspa_session_config *base, const kaspa_peer_callbacks *cb,
                            void *user, kaspa_peer **out);

/* ---- operations -------------------------------------------------------------------------- */
/* NULL before a dialed TCP connection is established. */
kaspa_session *kaspa_peer_session(kaspa_peer *p);
/* After using kaspa_session_* on this peer's session outside of an on_event callback:
 * moves what the session produced into the transport and re-arms the timer. */
void kaspa_peer_flush(kaspa_peer *p);
/* Bytes sent on this peer's session that the driver still holds: framed behind the HTTP/2
 * flow-control window, or waiting for the transport to take them. The transport's
 * backpressure reaches a sender through this figure, as a stream's does through
 * lp2p_stream_pending. */
size_t kaspa_peer_pending(const kaspa_peer *p);
/* The one answer to "can I send?": the session is Ready and kaspa_peer_pending is below
 * KASPA_PEER_HIGH_WATER. Bulk senders send while it is 1 and wait for on_writable, so a
 * burst holds at most this mark and one message in the driver (plus the transport's own
 * high-water mark), never the burst as a whole. */
#define KASPA_PEER_HIGH_WATER (1024 * 1024)
int kaspa_peer_can_send(const kaspa_peer *p);
/* kaspa_session_ping + flush; KASPA_EV_PING reports the round trip. */
int kaspa_peer_ping(kaspa_peer *p);
/* Ends the session (Reject{reason} first if reason), flushes, half-closes, then closes. A
 * dial still connecting is abandoned (on_closed with LP2P_ERR_CLOSED). */
void kaspa_peer_close(kaspa_peer *p, const char *reason);

/* Why the session ended (a Reject, the transport's error, ...); "" while it runs. */
const char *kaspa_peer_reason(const kaspa_peer *p);
const char *kaspa_peer_label(const kaspa_peer *p);
const char *kaspa_peer_addr(const kaspa_peer *p);
/* The session's duplicate key as text ("[fdxx:...]:port" over libp2p, "ip:port" over TCP). */
const char *kaspa_peer_key_addr(const kaspa_peer *p);
int kaspa_peer_relayed(const kaspa_peer *p);
void *kaspa_peer_user(const kaspa_peer *p);

#endif
