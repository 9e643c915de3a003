/* Kaspa peers over plain TCP: a listener whose accepted sockets become KASPA_SERVER peers,
 * and a dial whose connected socket becomes a KASPA_CLIENT peer. What a stock rusty-kaspa
 * node speaks on 16111. See kaspa/peer.h. */
#include "kaspa/peer_internal.h" /* src/kaspa/peer_internal.h */
#include "lp2p/err.h"
#include "net/tcp.h"
#include "net/tcp_transport.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kaspa_peer_listener {
    uv_loop_t *loop;
    lp2p_tcp_listener *tcp;
    kaspa_session_config cfg;
    kaspa_peer_callbacks cb;
    void *user;
    lp2p_list peers;
    int closing;
    int handle_open;
    int port;
    uint32_t max_conns, max_per_ip; /* kaspa_peer_listener_limit; 0 = no cap */
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

static int live(const kaspa_peer *p)
{
    return !p->closing && !p->t_closed;
}

/* Live peers from address ip. */
static size_t from_ip(const kaspa_peer_listener *l, const uint8_t ip[16])
{
    size_t n = 0;
    lp2p_list *pos;
    for (pos = l->peers.next; pos != &l->peers; pos = pos->next) {
        const kaspa_peer *p = lp2p_container_of(pos, kaspa_peer, link);
        n += live(p) && memcmp(p->cfg.peer_addr.ip, ip, 16) == 0;
    }
    return n;
}

/* Room for a newcomer from ip, which already holds `mine`: the caps of
 * kaspa_peer_listener_limit. Past the total, a peer that has not reached Ready goes, from
 * the address holding the most, if that is more than the newcomer's would be (so a flood's
 * reconnect is refused and cannot evict its own in a chain, while a lone client gets in). */
static const char *make_room(kaspa_peer_listener *l, const uint8_t ip[16], size_t mine)
{
    if (l->max_per_ip && mine >= l->max_per_ip)
        return "too many connections from this address";
    size_t n = 0, best_n = mine + 1;
    kaspa_peer *victim = NULL;
    lp2p_list *pos;
    for (pos = l->peers.next; pos != &l->peers; pos = pos->next) {
        kaspa_peer *p = lp2p_container_of(pos, kaspa_peer, link);
        if (!live(p))
            continue;
        n++;
        if (p->session && kaspa_session_is_ready(p->session))
            continue;
        size_t k = from_ip(l, p->cfg.peer_addr.ip);
        if (k > best_n) {
            best_n = k;
            victim = p;
        }
    }
    if (!l->max_conns || n < l->max_conns)
        return NULL;
    if (!victim)
        return "too many connections";
    lp2p_log(LP2P_INFO, "kaspa_tcp_evicted", LF_S("peer", victim->label),
             LF_S("reason", "the listener is full and its address holds the most"));
    kaspa_peer__fail(victim, LP2P_ERR_LIMIT);
    return NULL;
}

void kaspa_peer_listener_limit(kaspa_peer_listener *l, uint32_t max_conns, uint32_t max_per_ip)
{
    l->max_conns = max_conns;
    l->max_per_ip = max_per_ip;
}

static void on_accept(void *ud, lp2p_transport *t)
{
    kaspa_peer_listener *l = ud;
    struct sockaddr_storage ss;
    if (l->closing || lp2p_transport_peer_sockaddr(t, &ss) != 0) {
        lp2p_transport_close(t, 1);
        return;
    }
    kaspa_session_config cfg = l->cfg;
    char label[64];
    from_sockaddr(&ss, &cfg.peer_addr);
    kaspa_addr_format(&cfg.peer_addr, label, sizeof label);
    const char *refused = make_room(l, cfg.peer_addr.ip, from_ip(l, cfg.peer_addr.ip));
    if (refused) {
        lp2p_log(LP2P_INFO, "kaspa_tcp_refused", LF_S("peer", label), LF_S("reason", refused));
        lp2p_transport_close(t, 1);
        return;
    }
    cfg.relayed = 0;
    lp2p_log(LP2P_INFO, "kaspa_tcp_accept", LF_S("peer", label));
    kaspa_peer_names names = {.label = label, .addr = label};
    kaspa_peer *p = kaspa_peer__new(l->loop, &cfg, KASPA_SERVER, &names, &l->cb, l->user);
    if (!p) {
        lp2p_transport_close(t, 1);
        return;
    }
    p->owner = l;
    p->on_gone = listener_peer_gone;
    lp2p_list_insert_tail(&l->peers, &p->link);
    int rc = kaspa_peer__attach(p, t);
    if (rc)
        kaspa_peer__fail(p, rc);
}

static void on_listener_closed(void *ud)
{
    kaspa_peer_listener *l = ud;
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
    l->max_conns = KASPA_LISTEN_MAX_CONNS;
    l->max_per_ip = KASPA_LISTEN_MAX_PER_IP;
    int rc = lp2p_tcp_listener_new(loop, (struct sockaddr *)&ss, 128, on_accept, l, &l->tcp);
    if (rc < 0) {
        char why[96];
        lp2p_log(
            LP2P_ERROR, "kaspa_tcp_listen_failed", LF_S("addr", hostport),
            LF_S("reason", lp2p_tcp_listen_error(rc, (struct sockaddr *)&ss, why, sizeof why)));
        free(l);
        return LP2P_ERR_IO;
    }
    l->handle_open = 1;
    kaspa_addr ba;
    from_sockaddr(lp2p_tcp_listener_addr(l->tcp), &ba);
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
    lp2p_tcp_listener_close(l->tcp, on_listener_closed, l);
}

/* ---- dial --------------------------------------------------------------------------------- */
static void dial_connected(kaspa_peer *p)
{
    uv_timer_stop(&p->timer);
    p->on_connected = NULL;
    lp2p_log(LP2P_INFO, "kaspa_tcp_connected", LF_S("peer", p->label));
    int rc = kaspa_peer__begin(p);
    if (rc)
        kaspa_peer__fail(p, rc);
}

/* A dial that never connected: the transport's reason (the timeout is logged by its timer). */
static void dial_gone(kaspa_peer *p)
{
    if (!p->session && p->err != LP2P_ERR_TIMEOUT && p->err != LP2P_ERR_CLOSED)
        lp2p_log(LP2P_WARN, "kaspa_tcp_connect_failed", LF_S("peer", p->label),
                 LF_S("reason", p->why[0] ? p->why : lp2p_strerror(p->err)));
}

static void on_connect_timeout(uv_timer_t *t)
{
    kaspa_peer *p = t->data;
    lp2p_log(LP2P_WARN, "kaspa_tcp_connect_failed", LF_S("peer", p->label),
             LF_S("reason", "timeout"));
    kaspa_peer__fail(p, LP2P_ERR_TIMEOUT);
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
    kaspa_peer *p = kaspa_peer__new(loop, &c, KASPA_CLIENT, &names, cb, user);
    if (!p)
        return LP2P_ERR_NOMEM;
    lp2p_transport *t;
    int rc = lp2p_tcp_dial(loop, NULL, (struct sockaddr *)&ss, &t);
    if (rc < 0) {
        lp2p_log(LP2P_WARN, "kaspa_tcp_connect_failed", LF_S("peer", label),
                 LF_S("reason", uv_strerror(rc)));
        memset(&p->cb, 0, sizeof p->cb); /* failing synchronously: reported by return value */
        kaspa_peer__fail(p, LP2P_ERR_IO);
        return LP2P_ERR_IO;
    }
    kaspa_peer__bind(p, t);
    p->on_connected = dial_connected;
    p->on_gone = dial_gone;
    uv_timer_start(&p->timer, on_connect_timeout, KASPA_PEER_CONNECT_TIMEOUT_MS, 0);
    lp2p_log(LP2P_INFO, "kaspa_connect", LF_S("peer", label), LF_S("network", c.network));
    if (out)
        *out = p;
    return 0;
}
