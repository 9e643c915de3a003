/* Kaspa peers over plain TCP: a listener whose accepted sockets become KASPA_SERVER peers,
 * and a dial whose connected socket becomes a KASPA_CLIENT peer. What a stock rusty-kaspa
 * node speaks on 16111. See kaspa/peer.h. */
#include "kaspa/peer_internal.h" /* src/kaspa/peer_internal.h */
#include "kaspa/socket_transport.h"
#include "lp2p/err.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kaspa_peer_listener {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    kaspa_session_config cfg;
    kaspa_peer_callbacks cb;
    void *user;
    lp2p_list peers;
    int closing;
    int handle_open;
    int port;
};

static int to_sockaddr(const char *hostport, struct sockaddr_storage *ss, kaspa_addr *ka)
{
    kaspa_addr a;
    if (!hostport || kaspa_addr_parse(hostport, &a) != 0)
        return LP2P_ERR_INVAL;
    memset(ss, 0, sizeof(*ss));
    if (kaspa_addr_is_ipv4(&a)) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a.port);
        memcpy(&sin->sin_addr, a.ip + 12, 4);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(a.port);
        memcpy(&sin6->sin6_addr, a.ip, 16);
    }
    if (ka)
        *ka = a;
    return 0;
}

static void from_sockaddr(const struct sockaddr_storage *ss, kaspa_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        kaspa_addr_ipv4(a, (const uint8_t *)&sin->sin_addr, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        memcpy(a->ip, &sin6->sin6_addr, 16);
        a->port = ntohs(sin6->sin6_port);
    }
}

/* ---- listener ----------------------------------------------------------------------------- */
static void listener_maybe_free(kaspa_peer_listener *l)
{
    if (l->closing && !l->handle_open && lp2p_list_empty(&l->peers))
        free(l);
}

static void listener_peer_gone(kaspa_peer *p)
{
    kaspa_peer_listener *l = p->owner;
    lp2p_list_remove(&p->link);
    listener_maybe_free(l);
}

static void on_connection(uv_stream_t *ls, int status)
{
    kaspa_peer_listener *l = ls->data;
    if (status < 0 || l->closing)
        return;
    kaspa_sock *sock = kaspa_sock_new(l->loop);
    if (!sock)
        return;
    struct sockaddr_storage ss;
    if (uv_accept(ls, (uv_stream_t *)kaspa_sock_handle(sock)) < 0 ||
        kaspa_sock_peer(sock, &ss) != 0) {
        kaspa_sock_abort(sock);
        return;
    }
    kaspa_session_config cfg = l->cfg;
    char label[64];
    from_sockaddr(&ss, &cfg.peer_addr);
    kaspa_addr_format(&cfg.peer_addr, label, sizeof label);
    cfg.relayed = 0;
    lp2p_log(LP2P_INFO, "kaspa_tcp_accept", LF_S("peer", label));
    kaspa_peer_names names = {.label = label, .addr = label};
    kaspa_peer *p = kaspa_peer__new(l->loop, &cfg, KASPA_SERVER, &names, &l->cb, l->user);
    lp2p_transport *t = p ? kaspa_sock_start(sock) : NULL;
    if (!t) {
        if (p)
            kaspa_peer__fail(p, LP2P_ERR_IO); /* sock is already gone */
        else
            kaspa_sock_abort(sock);
        return;
    }
    p->owner = l;
    p->on_gone = listener_peer_gone;
    lp2p_list_insert_tail(&l->peers, &p->link);
    int rc = kaspa_peer__attach(p, t);
    if (rc)
        kaspa_peer__fail(p, rc);
}

static void on_listener_closed(uv_handle_t *h)
{
    kaspa_peer_listener *l = h->data;
    l->handle_open = 0;
    listener_maybe_free(l);
}

int kaspa_peer_listen_tcp(uv_loop_t *loop, const char *hostport, const kaspa_session_config *cfg,
                          const kaspa_peer_callbacks *cb, void *user, kaspa_peer_listener **out)
{
    struct sockaddr_storage ss;
    if (!cfg || !cfg->hub || to_sockaddr(hostport, &ss, NULL) != 0)
        return LP2P_ERR_INVAL;
    kaspa_peer_listener *l = calloc(1, sizeof(*l));
    if (!l)
        return LP2P_ERR_NOMEM;
    l->loop = loop;
    l->cfg = *cfg;
    if (cb)
        l->cb = *cb;
    l->user = user;
    lp2p_list_init(&l->peers);
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    l->handle_open = 1;
    int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 128, on_connection);
    if (rc < 0) {
        lp2p_log(LP2P_ERROR, "kaspa_tcp_listen_failed", LF_S("addr", hostport),
                 LF_S("reason", uv_strerror(rc)));
        l->closing = 1;
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return LP2P_ERR_IO;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    kaspa_addr ba;
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &len);
    from_sockaddr(&bound, &ba);
    l->port = ba.port;
    char txt[64];
    kaspa_addr_format(&ba, txt, sizeof txt);
    lp2p_log(LP2P_INFO, "kaspa_listen", LF_S("addr", txt), LF_S("network", cfg->network));
    *out = l;
    return 0;
}

int kaspa_peer_listener_port(const kaspa_peer_listener *l)
{
    return l->port;
}

void kaspa_peer_listener_close(kaspa_peer_listener *l)
{
    if (l->closing)
        return;
    l->closing = 1;
    lp2p_list *pos, *tmp;
    lp2p_list_foreach_safe(pos, tmp, &l->peers)
    {
        kaspa_peer_close(lp2p_container_of(pos, kaspa_peer, link), NULL);
    }
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

/* ---- dial --------------------------------------------------------------------------------- */
/* Lives until libuv's connect callback, which comes even for an aborted dial (ECANCELED). */
typedef struct tcp_dial {
    uv_connect_t req;
    kaspa_sock *sock;
    kaspa_peer *p; /* NULL once the dial was given up */
} tcp_dial;

static void dial_abort(kaspa_peer *p)
{
    tcp_dial *d = p->dial;
    p->dial = NULL;
    p->abort = NULL;
    uv_timer_stop(&p->timer);
    if (d) {
        d->p = NULL;
        kaspa_sock_abort(d->sock);
    }
}

static void on_connect_timeout(uv_timer_t *t)
{
    kaspa_peer *p = t->data;
    lp2p_log(LP2P_WARN, "kaspa_tcp_connect_failed", LF_S("peer", p->label),
             LF_S("reason", "timeout"));
    dial_abort(p);
    kaspa_peer__fail(p, LP2P_ERR_TIMEOUT);
}

static void on_connect(uv_connect_t *req, int status)
{
    tcp_dial *d = req->data;
    kaspa_peer *p = d->p;
    if (!p) {
        free(d);
        return;
    }
    p->dial = NULL;
    p->abort = NULL;
    uv_timer_stop(&p->timer);
    if (status < 0) {
        lp2p_log(LP2P_WARN, "kaspa_tcp_connect_failed", LF_S("peer", p->label),
                 LF_S("reason", uv_strerror(status)));
        kaspa_sock_abort(d->sock);
        free(d);
        kaspa_peer__fail(p, LP2P_ERR_IO);
        return;
    }
    lp2p_log(LP2P_INFO, "kaspa_tcp_connected", LF_S("peer", p->label));
    lp2p_transport *t = kaspa_sock_start(d->sock);
    free(d);
    int rc = t ? kaspa_peer__attach(p, t) : LP2P_ERR_IO;
    if (rc)
        kaspa_peer__fail(p, rc);
}

int kaspa_peer_dial_tcp(uv_loop_t *loop, const char *hostport, const kaspa_session_config *cfg,
                        const kaspa_peer_callbacks *cb, void *user, kaspa_peer **out)
{
    struct sockaddr_storage ss;
    kaspa_session_config c;
    if (!cfg || !cfg->hub)
        return LP2P_ERR_INVAL;
    c = *cfg;
    if (to_sockaddr(hostport, &ss, &c.peer_addr) != 0)
        return LP2P_ERR_INVAL;
    c.relayed = 0;
    char label[64];
    kaspa_addr_format(&c.peer_addr, label, sizeof label);
    kaspa_peer_names names = {.label = label, .addr = label};
    tcp_dial *d = calloc(1, sizeof(*d));
    kaspa_peer *p = d ? kaspa_peer__new(loop, &c, KASPA_CLIENT, &names, cb, user) : NULL;
    kaspa_sock *sock = p ? kaspa_sock_new(loop) : NULL;
    if (!sock) {
        free(d);
        if (p) {
            memset(&p->cb, 0, sizeof p->cb);
            kaspa_peer__fail(p, LP2P_ERR_NOMEM);
        }
        return LP2P_ERR_NOMEM;
    }
    d->sock = sock;
    d->p = p;
    d->req.data = d;
    if (uv_tcp_connect(&d->req, kaspa_sock_handle(sock), (struct sockaddr *)&ss, on_connect) < 0) {
        kaspa_sock_abort(sock);
        free(d);
        memset(&p->cb, 0, sizeof p->cb); /* failing synchronously: reported by return value */
        kaspa_peer__fail(p, LP2P_ERR_IO);
        return LP2P_ERR_IO;
    }
    p->dial = d;
    p->abort = dial_abort;
    uv_timer_start(&p->timer, on_connect_timeout, KASPA_PEER_CONNECT_TIMEOUT_MS, 0);
    lp2p_log(LP2P_INFO, "kaspa_connect", LF_S("peer", label), LF_S("network", c.network));
    if (out)
        *out = p;
    return 0;
}
