/* Dialing /dns/NAME, /dns4/NAME, /dns6/NAME (…/tcp/PORT[/p2p/ID]): the name is resolved on the
 * loop (uv_getaddrinfo: /etc/hosts and the system resolver) and the first address of the
 * wanted family is dialed as /ip4|ip6/ADDR/tcp/PORT[/p2p/ID] through lp2p_host_dial. Every
 * dial resolves again, so the reservation keeper's redials follow a relay whose address
 * changed. A name that does not resolve fails the dial with a `dial_failed` line naming it.
 * /dnsaddr/NAME is handed to dnsaddr.c (TXT lookups). */
#include "host/host_internal.h"
#include "lp2p/err.h"
#include "util/log.h"
#include "wire/multiaddr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct dns_dial {
    uv_getaddrinfo_t req;
    lp2p_host *h;
    lp2p_dial_cb cb;
    void *ud;
    uint16_t port;
    int family;
    char host[LP2P_MULTIADDR_DNSMAX + 1];
    char p2p[LP2P_PEER_ID_STR_MAX + 8]; /* "/p2p/<id>" or "" */
    char *text;
} dns_dial;

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    dns_dial *d = req->data;
    lp2p_host *h = d->h;
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = res; status == 0 && ai && !pick; ai = ai->ai_next)
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
            pick = ai;
    int rc = LP2P_ERR_NOT_FOUND;
    if (h->closing) {
        rc = LP2P_ERR_CLOSED;
    } else if (pick) {
        char ip[64], ma[LP2P_MULTIADDR_STR_MAX];
        if (pick->ai_family == AF_INET)
            uv_ip4_name((const struct sockaddr_in *)pick->ai_addr, ip, sizeof(ip));
        else
            uv_ip6_name((const struct sockaddr_in6 *)pick->ai_addr, ip, sizeof(ip));
        snprintf(ma, sizeof(ma), "/%s/%s/tcp/%u%s", pick->ai_family == AF_INET ? "ip4" : "ip6", ip,
                 (unsigned)d->port, d->p2p);
        lp2p_log(LP2P_INFO, "dns_resolved", LF_S("addr", d->text), LF_S("to", ma));
        rc = lp2p_host_dial(h, ma, d->cb, d->ud); /* reports to cb itself from now on */
        if (rc == 0)
            d->cb = NULL;
    } else {
        char why[LP2P_MULTIADDR_DNSMAX + 96]; /* the name, up to 255 bytes, and the reason */
        snprintf(why, sizeof(why), "the name %s does not resolve (%s)", d->host,
                 status ? uv_strerror(status) : "no address of that family");
        lp2p_log(LP2P_WARN, "dial_failed", LF_S("addr", d->text), LF_S("reason", why));
    }
    if (d->cb)
        d->cb(NULL, rc, d->ud);
    uv_freeaddrinfo(res);
    free(d->text);
    free(d);
    if (--h->open_handles == 0 && h->closing)
        lp2p__host_free(h);
}

/* 1: ma starts with a dns component and the dial was started (or failed: *rc); 0: not a DNS
 * address, dial it as usual. */
int lp2p__host_dial_dns(lp2p_host *h, const lp2p_multiaddr *ma, const char *text, lp2p_dial_cb cb,
                        void *ud, int *rc)
{
    lp2p_ma_iter it;
    lp2p_ma_component c;
    lp2p_ma_iter_init(&it, ma);
    if (lp2p_ma_iter_next(&it, &c) <= 0)
        return 0;
    if (c.code == LP2P_MA_DNSADDR) { /* TXT records, not A/AAAA: dnsaddr.c */
        *rc = lp2p__host_dial_dnsaddr(h, ma, text, cb, ud);
        return 1;
    }
    if (c.code != LP2P_MA_DNS && c.code != LP2P_MA_DNS4 && c.code != LP2P_MA_DNS6)
        return 0;
    dns_dial *d = calloc(1, sizeof(*d));
    if (!d || !(d->text = strdup(text))) {
        free(d);
        *rc = LP2P_ERR_NOMEM;
        return 1;
    }
    if (lp2p_multiaddr_host_port(ma, d->host, sizeof(d->host), &d->port, &d->family) < 0) {
        lp2p_log(LP2P_ERROR, "dial_failed", LF_S("addr", text),
                 LF_S("reason", "not a /dns|dns4|dns6/NAME/tcp/PORT address"));
        free(d->text);
        free(d);
        *rc = LP2P_ERR_INVAL;
        return 1;
    }
    lp2p_peer_id id;
    if (lp2p_multiaddr_peer_id(ma, &id) == 0) {
        char s[LP2P_PEER_ID_STR_MAX];
        lp2p_peer_id_to_string(&id, s, sizeof(s));
        snprintf(d->p2p, sizeof(d->p2p), "/p2p/%s", s);
    }
    d->h = h;
    d->cb = cb;
    d->ud = ud;
    d->req.data = d;
    struct addrinfo hints = {.ai_family = d->family, .ai_socktype = SOCK_STREAM};
    int r = uv_getaddrinfo(h->loop, &d->req, on_resolved, d->host, NULL, &hints);
    if (r < 0) {
        free(d->text);
        free(d);
        *rc = LP2P_ERR_IO;
        return 1;
    }
    h->open_handles++;
    *rc = 0;
    return 1;
}
