/* Host names in HOST:PORT: see resolve.h. */
#include "resolve.h"

#include "lp2p/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>

typedef struct resolve_req {
    uv_getaddrinfo_t req;
    hostport_resolved_fn cb;
    void *ud;
    unsigned port;
    char host[256];
} resolve_req;

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    resolve_req *r = req->data;
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = res; ai && !pick; ai = ai->ai_next)
        if (ai->ai_family == AF_INET)
            pick = ai;
    for (const struct addrinfo *ai = res; ai && !pick; ai = ai->ai_next)
        if (ai->ai_family == AF_INET6)
            pick = ai;
    char ip[64] = "", out[96], err[320];
    if (status == 0 && pick) {
        if (pick->ai_family == AF_INET)
            uv_ip4_name((const struct sockaddr_in *)pick->ai_addr, ip, sizeof(ip));
        else
            uv_ip6_name((const struct sockaddr_in6 *)pick->ai_addr, ip, sizeof(ip));
        snprintf(out, sizeof(out), pick->ai_family == AF_INET ? "%s:%u" : "[%s]:%u", ip, r->port);
        r->cb(r->ud, out, NULL);
    } else {
        snprintf(err, sizeof(err), "no address for %s: %s", r->host,
                 status ? uv_strerror(status) : "no IPv4 or IPv6 address");
        r->cb(r->ud, NULL, err);
    }
    uv_freeaddrinfo(res);
    free(r);
}

/* "HOST:PORT" / "[V6]:PORT" into host (brackets stripped) and port; port 0 only if allowed. */
static int split_hostport(const char *hostport, char *host, size_t hostlen, unsigned *port,
                          int port0_ok)
{
    const char *colon = hostport ? strrchr(hostport, ':') : NULL;
    if (!colon || colon == hostport)
        return LP2P_ERR_INVAL;
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end || end == colon + 1 || (p == 0 && !port0_ok) || p > 65535)
        return LP2P_ERR_INVAL;
    const char *h = hostport;
    size_t n = (size_t)(colon - hostport);
    if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hostlen)
        return LP2P_ERR_INVAL;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (unsigned)p;
    return 0;
}

int hostport_resolve(uv_loop_t *loop, const char *hostport, hostport_resolved_fn cb, void *ud)
{
    resolve_req *r = calloc(1, sizeof(*r));
    if (!r)
        return LP2P_ERR_NOMEM;
    if (split_hostport(hostport, r->host, sizeof(r->host), &r->port, 0) < 0) {
        free(r);
        return LP2P_ERR_INVAL;
    }
    r->cb = cb;
    r->ud = ud;
    r->req.data = r;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = uv_getaddrinfo(loop, &r->req, on_resolved, r->host, NULL, &hints);
    if (rc < 0) {
        free(r);
        return LP2P_ERR_IO;
    }
    return 0;
}

int hostport_resolve_now(const char *hostport, int family, int port0_ok, char *out, size_t outlen,
                         char *err, size_t errlen)
{
    char host[256];
    unsigned port;
    if (split_hostport(hostport, host, sizeof(host), &port, port0_ok) < 0)
        return LP2P_ERR_INVAL;
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(host, NULL, &hints, &res);
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = g ? NULL : res; ai && !pick; ai = ai->ai_next)
        if (ai->ai_family == AF_INET)
            pick = ai;
    for (const struct addrinfo *ai = g ? NULL : res; ai && !pick; ai = ai->ai_next)
        if (ai->ai_family == AF_INET6)
            pick = ai;
    if (!pick) {
        snprintf(err, errlen, "no address for %s: %s", host,
                 g                   ? gai_strerror(g)
                 : family == AF_INET ? "no IPv4 address"
                                     : "no IPv4 or IPv6 address");
        if (res)
            freeaddrinfo(res);
        return LP2P_ERR_NOT_FOUND;
    }
    char ip[64];
    if (pick->ai_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)pick->ai_addr, ip, sizeof(ip));
    else
        uv_ip6_name((const struct sockaddr_in6 *)pick->ai_addr, ip, sizeof(ip));
    snprintf(out, outlen, pick->ai_family == AF_INET ? "%s:%u" : "[%s]:%u", ip, port);
    freeaddrinfo(res);
    return 0;
}
