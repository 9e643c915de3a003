/* TCP on libuv with port reuse, so that dialing from the listen port makes the relay's
 * observed address the NAT mapping a hole punch needs (libp2p-wire.md A6, A9):
 *   - SO_REUSEADDR|SO_REUSEPORT on the listener and on every dial socket,
 *   - dial sockets bound to the listen address and port,
 *   - SO_LINGER 0 so the 4-tuple is free at once after close,
 *   - TCP_NODELAY. */
#ifndef LP2P_NET_TCP_H
#define LP2P_NET_TCP_H

#include <sys/socket.h>
#include <uv.h>

/* Opens a listening socket on addr with SO_REUSEADDR|SO_REUSEPORT. Returns 0 or -errno;
 * UV_EADDRINUSE when another socket already listens on addr (SO_REUSEPORT would share it).
 * *bound gets the actual address (port 0 resolved). */
int lp2p_tcp_listen(uv_loop_t *loop, uv_tcp_t *h, const struct sockaddr *addr, int backlog,
                    uv_connection_cb cb, struct sockaddr_storage *bound);

/* The reason a listen on addr failed with rc, for logs: "port N is already in use by another
 * process" for UV_EADDRINUSE, else uv_strerror. Returns out. */
const char *lp2p_tcp_listen_error(int rc, const struct sockaddr *addr, char *out, size_t n);

/* Starts a non-blocking connect from local (may be NULL: any port) to remote.
 * The socket gets SO_REUSEADDR|SO_REUSEPORT before bind, so it can share the listen port.
 * Returns 0 or -errno (libuv codes). */
int lp2p_tcp_dial_socket(uv_loop_t *loop, uv_tcp_t *h, uv_connect_t *req,
                         const struct sockaddr *local, const struct sockaddr *remote,
                         uv_connect_cb cb);

/* Applies TCP_NODELAY, keepalive and SO_LINGER 0 to a connected socket. */
void lp2p_tcp_tune(uv_tcp_t *h);

/* 1 when a and b are the same IPv4/IPv6 address (ports ignored). */
int lp2p_sockaddr_same_ip(const struct sockaddr *a, const struct sockaddr *b);
/* 1 when a and b are the same address and port. */
int lp2p_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b);

/* "ip:port" text of a sockaddr; returns out. */
const char *lp2p_sockaddr_str(const struct sockaddr *sa, char *out, size_t outlen);

#endif
