/* HOST:PORT with a host name ("localhost:16111", "node.example.org:16111"), resolved on the
 * loop (uv_getaddrinfo, so /etc/hosts and the system resolver apply) into the numeric
 * "IP:PORT" / "[IP6]:PORT" the Kaspa dial takes. Called again for every reconnect, so a name
 * that moves is followed. */
#ifndef HOLEPUNCH_RESOLVE_H
#define HOLEPUNCH_RESOLVE_H

#include <uv.h>

/* numeric: the first IPv4 address (else the first IPv6 one) with the port, or NULL and err
 * says why ("no address for NAME: ..."). Both are valid during the call only. */
typedef void (*hostport_resolved_fn)(void *ud, const char *numeric, const char *err);

/* 0 when a lookup was started (cb follows on the loop), LP2P_ERR_INVAL when hostport is not
 * HOST:PORT with a port 1..65535. */
int hostport_resolve(uv_loop_t *loop, const char *hostport, hostport_resolved_fn cb, void *ud);

/* The same, now (blocking getaddrinfo: for flags resolved once at start, before the loop
 * runs). family AF_INET for IPv4 only, AF_UNSPEC for either (IPv4 first); port0_ok for a
 * listen address. 0 with the numeric form in out; LP2P_ERR_INVAL when hostport is not
 * HOST:PORT; LP2P_ERR_NOT_FOUND with err = "no address for NAME: ..." as above. */
int hostport_resolve_now(const char *hostport, int family, int port0_ok, char *out, size_t outlen,
                         char *err, size_t errlen);

#endif
