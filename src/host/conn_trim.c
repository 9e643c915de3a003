/* Connection pressure: what an inbound connection over the host's caps evicts, if anything.
 *
 *   nconns > max_conns (high) ──► evict one, and more idle ones until nconns <= low (15/16
 *   of it; half-open ones only one per arrival: each freed slot is a reconnect away):
 *       1. half-open inbound connections (still in multistream / Noise / muxer negotiation)
 *       2. upgraded inbound connections with no stream, nothing a service keeps (a relay
 *          reservation: host_observer.keeps), older than conn_grace_ms
 *     within a class: from the address holding the most connections first, then oldest;
 *     only from an address that holds more connections than the new one's (see evict)
 *     nothing left to evict and still over max_conns ──► the new connection is refused
 *   its /24 (/56) over max_conns_per_subnet ──► the same, among that subnet's connections
 *
 * Outbound and relayed connections are never evicted: we chose them. The new connection is
 * never its own victim. */
#include "host/host_internal.h"
#include "lp2p/err.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* 1 when a and b are in the same /24 (IPv4) or /56 (IPv6). */
static int same_subnet(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const uint8_t *x = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
        const uint8_t *y = (const uint8_t *)&((const struct sockaddr_in *)b)->sin_addr;
        return memcmp(x, y, 3) == 0;
    }
    if (a->ss_family == AF_INET6) {
        const uint8_t *x = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
        const uint8_t *y = ((const struct sockaddr_in6 *)b)->sin6_addr.s6_addr;
        return memcmp(x, y, 7) == 0;
    }
    return 0;
}

static int kept_by_service(const lp2p_host *h, const lp2p_conn *c)
{
    for (size_t i = 0; i < h->nobservers; i++) {
        const host_observer *o = &h->observers[i];
        if (o->live && o->keeps && o->keeps(c, o->ud))
            return 1;
    }
    return 0;
}

enum { RANK_KEEP = 0, RANK_IDLE = 1, RANK_HALF_OPEN = 2 };

/* The victim class of c (RANK_*): half-open, idle past the grace period, or not a victim. */
static int victim_rank(const lp2p_host *h, const lp2p_conn *c, uint64_t now)
{
    if (c->outbound || c->relayed || c->stage == CONN_CLOSED)
        return RANK_KEEP;
    if (c->stage != CONN_READY)
        return RANK_HALF_OPEN;
    if (c->nstreams || now - c->ready_ms < h->cfg.conn_grace_ms || kept_by_service(h, c))
        return RANK_KEEP;
    return RANK_IDLE;
}

typedef struct cand {
    lp2p_conn *c;
    int rank;
    uint8_t ip[16]; /* the address, zero-padded: what per-address counts group by */
    size_t n;       /* connections from that address among the candidates' pool */
} cand;

static void ip_key(const lp2p_conn *c, uint8_t key[16])
{
    memset(key, 0, 16);
    if (!c->has_from)
        return;
    if (c->from.ss_family == AF_INET)
        memcpy(key, &((const struct sockaddr_in *)&c->from)->sin_addr, 4);
    else if (c->from.ss_family == AF_INET6)
        memcpy(key, ((const struct sockaddr_in6 *)&c->from)->sin6_addr.s6_addr, 16);
}

static int by_ip(const void *a, const void *b)
{
    return memcmp(((const cand *)a)->ip, ((const cand *)b)->ip, 16);
}

/* Eviction order: the worst class first, then the address holding the most connections (a
 * flood's connections go before a lone client's, however young: evicting the oldest alone let
 * a reconnecting flood cycle through every slot, a good client's handshake included), then
 * the oldest. */
static int by_victim(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->rank != y->rank)
        return y->rank - x->rank;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    return x->c->created_ms < y->c->created_ms ? -1 : x->c->created_ms > y->c->created_ms;
}

/* Evicts up to `want` victims other than `in` (among in's subnet when `subnet`) whose
 * address holds more connections than in's does; returns how many. That last rule keeps a
 * reconnecting flood from evicting its own connections in a chain (each eviction is answered
 * by a reconnect that evicts the next; the accept loop then starved everyone): the flood's
 * new connection is refused, cheaply, and a lone client's evicts one of the flood's. One
 * sort per call (not a scan per victim): under a flood this runs for every accepted
 * connection. */
static size_t evict(lp2p_host *h, const lp2p_conn *in, int subnet, size_t want, const char *why)
{
    uint8_t in_ip[16];
    ip_key(in, in_ip);
    size_t in_n = 0;
    size_t max = h->nconns, n = 0;
    cand *v = max ? calloc(max, sizeof(*v)) : NULL;
    if (!v)
        return 0;
    uint64_t now = lp2p__now(h);
    lp2p_list *pos;
    for (pos = h->conns.next; pos != &h->conns && n < max; pos = pos->next) {
        lp2p_conn *c = lp2p_container_of(pos, lp2p_conn, link);
        if (c == in || (subnet && !(c->has_from && same_subnet(&c->from, &in->from))))
            continue;
        uint8_t key[16];
        ip_key(c, key);
        if (memcmp(key, in_ip, 16) == 0)
            in_n++;
        int rank = victim_rank(h, c, now);
        if (rank == RANK_KEEP)
            continue;
        v[n].c = c;
        v[n].rank = rank;
        ip_key(c, v[n].ip);
        n++;
    }
    qsort(v, n, sizeof(*v), by_ip);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && memcmp(v[j].ip, v[i].ip, 16) == 0)
            j++;
        for (size_t k = i; k < j; k++)
            v[k].n = j - i;
        i = j;
    }
    qsort(v, n, sizeof(*v), by_victim);
    size_t done = 0;
    for (size_t i = 0; i < n && done < want; i++) {
        if (v[i].n <= in_n + 1 || (done > 0 && v[i].rank != RANK_IDLE))
            continue;
        lp2p__conn_fail(v[i].c, LP2P_ERR_LIMIT, why);
        done++;
    }
    free(v);
    return done;
}

static size_t in_subnet(const lp2p_host *h, const lp2p_conn *in)
{
    size_t n = 0;
    lp2p_list *pos;
    for (pos = h->conns.next; pos != &h->conns; pos = pos->next) {
        const lp2p_conn *c = lp2p_container_of(pos, lp2p_conn, link);
        n += c->has_from && !c->outbound && same_subnet(&c->from, &in->from);
    }
    return n;
}

int lp2p__host_make_room(lp2p_host *h, lp2p_conn *in, const char **why)
{
    if (h->cfg.max_conns_per_subnet && in->has_from &&
        in_subnet(h, in) > h->cfg.max_conns_per_subnet &&
        evict(h, in, 1, 1, "evicted: its subnet is over its connection cap") == 0) {
        *why = "too many connections from this subnet";
        return LP2P_ERR_LIMIT;
    }
    if (h->nconns <= h->cfg.max_conns)
        return 0;
    size_t low = h->cfg.max_conns - h->cfg.max_conns / 16;
    evict(h, in, 0, h->nconns - low, "evicted: the connection table is full");
    if (h->nconns <= h->cfg.max_conns)
        return 0;
    *why = "too many connections";
    return LP2P_ERR_LIMIT;
}
