/* The TCP byte transport on libuv (net/transport.h), with the port reuse of net/tcp.h:
 * a listener hands out one transport per accepted socket; a dial returns its transport at
 * once and reports on_connected (or on_closed with the reason) from the loop.
 *
 * Writes move the caller's lp2p_buf into the uv_write request (no copy). A write that has
 * to queue gives back a spare, already-allocated buffer from a small pool that the sockets
 * of one thread share, so a busy connection does not fault in fresh pages each time; a bulk
 * batch (≥ 64 KiB) libuv wrote at once gives the caller its own buffer back, still warm; a
 * small write libuv took at once leaves the caller no buffer (an idle connection holds none).
 * pending() is libuv's write queue: bytes the kernel has not taken yet. */
#ifndef LP2P_NET_TCP_TRANSPORT_H
#define LP2P_NET_TCP_TRANSPORT_H

#include <sys/socket.h>
#include <uv.h>

#include "net/transport.h"

/* pending() at or above this is congestion; on_writable below half of it. */
#define LP2P_TCP_HIGH_WATER (1u << 20)

typedef struct lp2p_tcp_listener lp2p_tcp_listener;

/* A socket was accepted: t is connected (no on_connected follows) and not bound yet; the
 * callee binds it (lp2p_transport_bind) or closes it before returning. */
typedef void (*lp2p_tcp_accept_cb)(void *ud, lp2p_transport *t);

/* Listens on addr with SO_REUSEADDR|SO_REUSEPORT. Returns 0 or a negative libuv code (for
 * uv_strerror): UV_EADDRINUSE when another socket already listens on addr. */
int lp2p_tcp_listener_new(uv_loop_t *loop, const struct sockaddr *addr, int backlog,
                          lp2p_tcp_accept_cb cb, void *ud, lp2p_tcp_listener **out);
/* The bound address (port 0 resolved): dials share it for port reuse. */
const struct sockaddr_storage *lp2p_tcp_listener_addr(const lp2p_tcp_listener *l);
/* Stops accepting; done(ud) runs from the loop once the socket is closed (may be NULL). */
void lp2p_tcp_listener_close(lp2p_tcp_listener *l, void (*done)(void *ud), void *ud);

/* Starts a connect from local (NULL: any port; else bound with port reuse) to remote.
 * 0: *out is the transport (bind it now; on_connected or on_closed follows from the loop).
 * Negative libuv code: nothing was created (UV_EADDRINUSE / UV_EADDRNOTAVAIL when local's
 * 4-tuple to remote is taken). */
int lp2p_tcp_dial(uv_loop_t *loop, const struct sockaddr *local, const struct sockaddr *remote,
                  lp2p_transport **out);

#endif
