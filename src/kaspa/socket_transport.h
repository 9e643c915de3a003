/* A connected TCP socket as an lp2p_transport (src/net/transport.h), for the Kaspa peer
 * driver's TCP constructors. Minimal on purpose: it stands in until the general TCP
 * transport (src/net/tcp_transport.c) lands, and has exactly the contract of that header.
 *
 *   kaspa_sock_new -> uv_accept / uv_tcp_connect on kaspa_sock_handle -> kaspa_sock_start
 *   (the transport, reading), or kaspa_sock_abort (closed and freed, no events).
 *
 * Writes move the caller's buffer into a uv_write (no copy); pending() is what uv has not
 * written yet; high-water 1 MiB, on_writable once it is below a quarter of that. */
#ifndef KASPA_SOCKET_TRANSPORT_H
#define KASPA_SOCKET_TRANSPORT_H

#include <uv.h>

#include "net/transport.h"

#define KASPA_SOCK_HIGH_WATER (1024 * 1024)

typedef struct kaspa_sock kaspa_sock;

kaspa_sock *kaspa_sock_new(uv_loop_t *loop);
uv_tcp_t *kaspa_sock_handle(kaspa_sock *s);
/* Starts reading; NULL (and s aborted) on failure. Sets TCP_NODELAY and keepalive 10 s. */
lp2p_transport *kaspa_sock_start(kaspa_sock *s);
void kaspa_sock_abort(kaspa_sock *s);
/* The peer's address from the socket; 0 or LP2P_ERR_IO. */
int kaspa_sock_peer(kaspa_sock *s, struct sockaddr_storage *ss);

#endif
