/* Kaspa P2P over plain TCP on a libuv loop: what `holepunch server --kaspa-listen` and
 * `holepunch client --kaspa-connect` run, and what a stock rusty-kaspa node speaks on 16111.
 *
 * Each TCP connection runs one kaspa_session (TCP settings profile unless the config says
 * otherwise). The peer's IP:port from the socket is the session's peer_addr (duplicate key)
 * and its log label. Addresses are numeric: "127.0.0.1:16111", "[::1]:16111".
 *
 * Lifetime: every kaspa_tcp_conn is owned by this module. on_conn_closed fires once per
 * connection after its socket is closed; the conn is freed when that callback returns. The
 * hub in the config must outlive all connections. Single-threaded (the loop's thread). */
#ifndef KASPA_TCP_H
#define KASPA_TCP_H

#include <uv.h>

#include "kaspa/session.h"

#define KASPA_TCP_HIGH_WATER         (1024 * 1024)
#define KASPA_TCP_CONNECT_TIMEOUT_MS 5000 /* rusty-kaspa uses 1 s; lab links may be slower */

typedef struct kaspa_tcp_server kaspa_tcp_server;
typedef struct kaspa_tcp_conn kaspa_tcp_conn;

typedef struct kaspa_tcp_callbacks {
    /* Session events (handshake, ready, ping, reject, closed). May call kaspa_tcp_conn_close
     * and kaspa_session_* send functions; must not free anything. */
    void (*on_event)(void *user, kaspa_tcp_conn *c, const kaspa_event *ev);
    /* The socket is closed (err 0 after a clean session end; otherwise why). */
    void (*on_conn_closed)(void *user, kaspa_tcp_conn *c, int err);
    /* Optional: the connection can take more (kaspa_tcp_conn_can_send became 1, e.g. after a
     * write completed, a WINDOW_UPDATE arrived). Called only from the loop's callbacks, never
     * from the owner's own kaspa_tcp_conn_flush/ping. For bulk senders: send
     * while can_send, then kaspa_tcp_conn_flush, and wait for the next call. */
    void (*on_writable)(void *user, kaspa_tcp_conn *c);
} kaspa_tcp_callbacks;

/* Listens on "HOST:PORT" (port 0 = ephemeral). cfg is copied (peer_addr/peer_label are set
 * per connection); the hub pointer is kept. */
int kaspa_tcp_listen(uv_loop_t *loop, const char *hostport, const kaspa_session_config *cfg,
                     const kaspa_tcp_callbacks *cb, void *user, kaspa_tcp_server **out);
/* Bound port (useful with port 0). */
int kaspa_tcp_server_port(const kaspa_tcp_server *s);
/* Stops listening and closes every connection of this server (with a clean gRPC end); the
 * server is freed once all its handles are closed. Safe from callbacks. */
void kaspa_tcp_server_close(kaspa_tcp_server *s);

/* Connects to "HOST:PORT" and runs a client session on success. Connection failures are
 * reported through on_conn_closed (err LP2P_ERR_IO or LP2P_ERR_TIMEOUT). */
int kaspa_tcp_connect(uv_loop_t *loop, const char *hostport, const kaspa_session_config *cfg,
                      const kaspa_tcp_callbacks *cb, void *user, kaspa_tcp_conn **out);

/* Ends the session (Reject{reason} first if reason != NULL), flushes, closes the socket. */
void kaspa_tcp_conn_close(kaspa_tcp_conn *c, const char *reason);
/* After using the kaspa_session_* API on this connection's session outside of an on_event
 * callback: writes what the session produced and re-arms its timer. */
void kaspa_tcp_conn_flush(kaspa_tcp_conn *c);
/* 1 when the session is Ready and the socket (bytes handed to uv_write, not yet written),
 * the session's output and its HTTP/2 send queue are all below KASPA_TCP_HIGH_WATER: the
 * backpressure gate for bulk sends, so a burst never sits in memory as a whole. */
int kaspa_tcp_conn_can_send(const kaspa_tcp_conn *c);
/* Sends our Ping now (kaspa_session_ping + flush); KASPA_EV_PING reports the RTT. */
int kaspa_tcp_conn_ping(kaspa_tcp_conn *c);
/* NULL before the TCP connection is established. */
kaspa_session *kaspa_tcp_conn_session(kaspa_tcp_conn *c);
/* "ip:port" of the peer. */
const char *kaspa_tcp_conn_peer(const kaspa_tcp_conn *c);
void *kaspa_tcp_conn_user(const kaspa_tcp_conn *c);

#endif
