/* Peer book: addresses per peer with source, relay flag, dial history; LRU and TTL bounds;
 * the relay quota (pending + confirmed). See peerbook.h for the model and the rules. */
#include "host/peerbook.h"

#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "util/list.h"

typedef struct pb_addr {
    lp2p_multiaddr ma; /* first member: candidates hand out &a->ma and map back */
    unsigned sources;
    uint8_t relayed, is_public, last_dial;
    unsigned fails;
    uint64_t last_seen_ms, last_dial_ms;
} pb_addr;

typedef struct pb_peer {
    lp2p_list lru; /* head of pb->peers = touched longest ago */
    lp2p_peer_id id;
    pb_addr *addrs;
    size_t naddrs, cap;
} pb_peer;

enum { SLOT_FREE = 0, SLOT_PENDING, SLOT_CONFIRMED };

typedef struct pb_slot {
    int state;
    lp2p_peer_id relay;
    lp2p_multiaddr addr; /* as passed to reserve_pending */
    uint64_t since_ms;   /* reserve_pending time (pending timeout) */
    uint64_t seq;        /* confirmation order, for relay_confirmed */
} pb_slot;

struct lp2p_peerbook {
    lp2p_peerbook_config cfg;
    lp2p_list peers;
    size_t npeers;
    pb_slot *slots; /* cfg.max_relay_addrs of them */
    uint64_t confirm_seq;
};

void lp2p_peerbook_config_default(lp2p_peerbook_config *cfg)
{
    cfg->max_peers = 1024;
    cfg->max_addrs_per_peer = 16;
    cfg->max_relay_addrs = 4;
    cfg->addr_ttl_ms = 60ull * 60 * 1000;
    cfg->dial_backoff_ms = 5000;
    cfg->dial_backoff_max_ms = 5ull * 60 * 1000;
    cfg->relay_pending_timeout_ms = 60ull * 1000;
}

int lp2p_peerbook_new(const lp2p_peerbook_config *cfg, lp2p_peerbook **out)
{
    lp2p_peerbook_config c;
    *out = NULL;
    if (cfg)
        c = *cfg;
    else
        lp2p_peerbook_config_default(&c);
    if (!c.max_peers || !c.max_addrs_per_peer || !c.max_relay_addrs ||
        c.dial_backoff_max_ms < c.dial_backoff_ms)
        return LP2P_ERR_INVAL;
    lp2p_peerbook *pb = calloc(1, sizeof(*pb));
    if (!pb)
        return LP2P_ERR_NOMEM;
    pb->slots = calloc(c.max_relay_addrs, sizeof(*pb->slots));
    if (!pb->slots) {
        free(pb);
        return LP2P_ERR_NOMEM;
    }
    pb->cfg = c;
    lp2p_list_init(&pb->peers);
    *out = pb;
    return 0;
}

static void peer_free(pb_peer *p)
{
    for (size_t i = 0; i < p->naddrs; i++)
        lp2p_multiaddr_free(&p->addrs[i].ma);
    free(p->addrs);
    free(p);
}

static void peer_drop(lp2p_peerbook *pb, pb_peer *p)
{
    lp2p_list_remove(&p->lru);
    pb->npeers--;
    peer_free(p);
}

void lp2p_peerbook_del(lp2p_peerbook *pb)
{
    if (!pb)
        return;
    lp2p_list *pos, *tmp;
    lp2p_list_foreach_safe(pos, tmp, &pb->peers)
    {
        peer_free(lp2p_container_of(pos, pb_peer, lru));
    }
    for (size_t i = 0; i < pb->cfg.max_relay_addrs; i++)
        lp2p_multiaddr_free(&pb->slots[i].addr);
    free(pb->slots);
    free(pb);
}

/* ---- helpers -------------------------------------------------------------------------------- */

static pb_peer *peer_find(const lp2p_peerbook *pb, const lp2p_peer_id *id)
{
    const lp2p_list *pos;
    for (pos = pb->peers.next; pos != &pb->peers; pos = pos->next) {
        pb_peer *p = lp2p_container_of(pos, pb_peer, lru);
        if (lp2p_peer_id_equal(&p->id, id))
            return p;
    }
    return NULL;
}

static void peer_touch(lp2p_peerbook *pb, pb_peer *p)
{
    lp2p_list_remove(&p->lru);
    lp2p_list_insert_tail(&pb->peers, &p->lru);
}

static int peer_pinned(const pb_peer *p)
{
    for (size_t i = 0; i < p->naddrs; i++)
        if (p->addrs[i].sources & LP2P_PB_SRC_USER)
            return 1;
    return 0;
}

/* Value of the last component when it is /p2p (1), 0 when the last is something else. */
static int last_is_p2p(const lp2p_multiaddr *ma, lp2p_peer_id *id)
{
    lp2p_ma_iter it;
    lp2p_ma_component c, last = {0};
    int rc, any = 0;
    lp2p_ma_iter_init(&it, ma);
    while ((rc = lp2p_ma_iter_next(&it, &c)) == 1) {
        last = c;
        any = 1;
    }
    if (rc < 0 || !any || last.code != LP2P_MA_P2P)
        return 0;
    return lp2p_peer_id_from_bytes(last.value, last.len, id) == 0 ? 1 : -1;
}

/* Copy of ma without a trailing /p2p/<peer>; INVAL when it names another peer or nothing is
 * left. The result is owned by the caller. */
static int canonical(const lp2p_peer_id *peer, const lp2p_multiaddr *ma, lp2p_multiaddr *out)
{
    lp2p_peer_id id;
    int rc = last_is_p2p(ma, &id);
    if (rc < 0)
        return LP2P_ERR_INVAL;
    if (rc == 1 && !lp2p_peer_id_equal(&id, peer))
        return LP2P_ERR_INVAL;
    rc = lp2p_multiaddr_copy(out, ma);
    if (rc < 0)
        return rc;
    lp2p_multiaddr_strip_p2p(out);
    if (out->len == 0) {
        lp2p_multiaddr_free(out);
        return LP2P_ERR_INVAL; /* just /p2p/<peer>: no way to reach it */
    }
    return 0;
}

static pb_addr *addr_find(const pb_peer *p, const lp2p_multiaddr *canon)
{
    for (size_t i = 0; i < p->naddrs; i++)
        if (lp2p_multiaddr_equal(&p->addrs[i].ma, canon))
            return &p->addrs[i];
    return NULL;
}

static void addr_drop(pb_peer *p, size_t i)
{
    lp2p_multiaddr_free(&p->addrs[i].ma);
    memmove(&p->addrs[i], &p->addrs[i + 1], (p->naddrs - i - 1) * sizeof(*p->addrs));
    p->naddrs--;
}

static int addr_expired(const lp2p_peerbook *pb, const pb_addr *a, uint64_t now_ms)
{
    if (!pb->cfg.addr_ttl_ms || (a->sources & LP2P_PB_SRC_USER))
        return 0;
    return now_ms >= a->last_seen_ms && now_ms - a->last_seen_ms >= pb->cfg.addr_ttl_ms;
}

static uint64_t backoff_of(const lp2p_peerbook *pb, unsigned fails)
{
    uint64_t b = pb->cfg.dial_backoff_ms;
    for (unsigned i = 1; i < fails && b < pb->cfg.dial_backoff_max_ms; i++)
        b *= 2;
    return b < pb->cfg.dial_backoff_max_ms ? b : pb->cfg.dial_backoff_max_ms;
}

static int addr_backing_off(const lp2p_peerbook *pb, const pb_addr *a, uint64_t now_ms)
{
    if (a->last_dial != LP2P_PB_DIAL_FAILED)
        return 0;
    return now_ms < a->last_dial_ms || now_ms - a->last_dial_ms < backoff_of(pb, a->fails);
}

/* ---- addresses ------------------------------------------------------------------------------ */

/* Index of the address to evict for a new one (non-pinned, seen longest ago), or -1. */
static long addr_victim(const pb_peer *p)
{
    long v = -1;
    for (size_t i = 0; i < p->naddrs; i++) {
        if (p->addrs[i].sources & LP2P_PB_SRC_USER)
            continue;
        if (v < 0 || p->addrs[i].last_seen_ms < p->addrs[v].last_seen_ms)
            v = (long)i;
    }
    return v;
}

static pb_peer *peer_victim(const lp2p_peerbook *pb)
{
    const lp2p_list *pos;
    for (pos = pb->peers.next; pos != &pb->peers; pos = pos->next) {
        pb_peer *p = lp2p_container_of(pos, pb_peer, lru);
        if (!peer_pinned(p))
            return p;
    }
    return NULL;
}

int lp2p_peerbook_add_ma(lp2p_peerbook *pb, const lp2p_peer_id *peer, const lp2p_multiaddr *ma,
                         unsigned sources, uint64_t now_ms)
{
    if (!sources || (sources & ~(unsigned)LP2P_PB_SRC_ALL) || !ma || !ma->len || !peer)
        return LP2P_ERR_INVAL;
    int relayed = lp2p_multiaddr_is_circuit(ma);
    if (relayed && (sources & LP2P_PB_SRC_IDENTIFY_OBSERVED))
        return LP2P_ERR_UNSUPPORTED; /* relayed observations are never punch candidates */
    lp2p_multiaddr canon = {0};
    int rc = canonical(peer, ma, &canon);
    if (rc < 0)
        return rc;

    pb_peer *p = peer_find(pb, peer);
    pb_addr *a = p ? addr_find(p, &canon) : NULL;
    if (a) {
        lp2p_multiaddr_free(&canon);
        a->sources |= sources;
        if (now_ms > a->last_seen_ms)
            a->last_seen_ms = now_ms;
        peer_touch(pb, p);
        return 0;
    }

    /* Decide every eviction before changing anything, so a refusal leaves the book as it was. */
    pb_peer *evict_peer = NULL;
    long evict_addr = -1;
    if (!p && pb->npeers >= pb->cfg.max_peers) {
        evict_peer = peer_victim(pb);
        if (!evict_peer) {
            lp2p_multiaddr_free(&canon);
            return LP2P_ERR_LIMIT;
        }
    }
    if (p && p->naddrs >= pb->cfg.max_addrs_per_peer) {
        evict_addr = addr_victim(p);
        if (evict_addr < 0) {
            lp2p_multiaddr_free(&canon);
            return LP2P_ERR_LIMIT;
        }
    }

    pb_peer *np = NULL;
    if (!p) {
        np = calloc(1, sizeof(*np));
        if (!np) {
            lp2p_multiaddr_free(&canon);
            return LP2P_ERR_NOMEM;
        }
        np->id = *peer;
        lp2p_list_init(&np->lru);
        p = np;
    }
    if (evict_addr < 0 && p->naddrs == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        if (cap > pb->cfg.max_addrs_per_peer)
            cap = pb->cfg.max_addrs_per_peer;
        pb_addr *na = realloc(p->addrs, cap * sizeof(*na));
        if (!na) {
            lp2p_multiaddr_free(&canon);
            if (np)
                free(np);
            return LP2P_ERR_NOMEM;
        }
        p->addrs = na;
        p->cap = cap;
    }

    if (evict_peer)
        peer_drop(pb, evict_peer);
    if (evict_addr >= 0)
        addr_drop(p, (size_t)evict_addr);
    if (np) {
        lp2p_list_insert_tail(&pb->peers, &np->lru);
        pb->npeers++;
    }
    a = &p->addrs[p->naddrs++];
    memset(a, 0, sizeof(*a));
    a->ma = canon;
    a->sources = sources;
    a->relayed = (uint8_t)(relayed != 0);
    a->is_public = (uint8_t)(!relayed && lp2p_multiaddr_is_public(&canon));
    a->last_seen_ms = now_ms;
    peer_touch(pb, p);
    return 1;
}

int lp2p_peerbook_add_addr(lp2p_peerbook *pb, const lp2p_peer_id *peer, const uint8_t *ma,
                           size_t len, unsigned sources, uint64_t now_ms)
{
    lp2p_multiaddr m = {0};
    if (!ma || !len)
        return LP2P_ERR_DECODE;
    int rc = lp2p_multiaddr_from_bytes(&m, ma, len, NULL, 0);
    if (rc < 0)
        return rc;
    rc = lp2p_peerbook_add_ma(pb, peer, &m, sources, now_ms);
    lp2p_multiaddr_free(&m);
    return rc;
}

/* Finds (peer, ma) with ma canonicalized; NOT_FOUND / INVAL otherwise. */
static int lookup(const lp2p_peerbook *pb, const lp2p_peer_id *peer, const lp2p_multiaddr *ma,
                  pb_peer **pp, pb_addr **pa)
{
    *pp = peer_find(pb, peer);
    *pa = NULL;
    if (!ma || !ma->len)
        return LP2P_ERR_INVAL;
    lp2p_multiaddr canon = {0};
    int rc = canonical(peer, ma, &canon);
    if (rc < 0)
        return rc;
    if (*pp)
        *pa = addr_find(*pp, &canon);
    lp2p_multiaddr_free(&canon);
    return *pa ? 0 : LP2P_ERR_NOT_FOUND;
}

int lp2p_peerbook_remove_addr(lp2p_peerbook *pb, const lp2p_peer_id *peer, const lp2p_multiaddr *ma)
{
    pb_peer *p;
    pb_addr *a;
    int rc = lookup(pb, peer, ma, &p, &a);
    if (rc < 0)
        return rc;
    addr_drop(p, (size_t)(a - p->addrs));
    if (!p->naddrs)
        peer_drop(pb, p);
    return 0;
}

int lp2p_peerbook_remove_peer(lp2p_peerbook *pb, const lp2p_peer_id *peer)
{
    pb_peer *p = peer_find(pb, peer);
    if (!p)
        return LP2P_ERR_NOT_FOUND;
    peer_drop(pb, p);
    return 0;
}

static pb_slot *slot_find(const lp2p_peerbook *pb, const lp2p_peer_id *relay)
{
    for (size_t i = 0; i < pb->cfg.max_relay_addrs; i++)
        if (pb->slots[i].state != SLOT_FREE && lp2p_peer_id_equal(&pb->slots[i].relay, relay))
            return &pb->slots[i];
    return NULL;
}

static void slot_free(pb_slot *s)
{
    lp2p_multiaddr_free(&s->addr);
    memset(s, 0, sizeof(*s));
}

int lp2p_peerbook_dial_result(lp2p_peerbook *pb, const lp2p_peer_id *peer, const lp2p_multiaddr *ma,
                              int result, uint64_t now_ms)
{
    pb_peer *p;
    pb_addr *a;
    int rc = lookup(pb, peer, ma, &p, &a);
    if (rc < 0 && rc != LP2P_ERR_NOT_FOUND)
        return rc;
    if (a) {
        a->last_dial_ms = now_ms;
        if (result < 0) {
            a->last_dial = LP2P_PB_DIAL_FAILED;
            if (a->fails < 64)
                a->fails++;
        } else {
            a->last_dial = LP2P_PB_DIAL_OK;
            a->fails = 0;
        }
        peer_touch(pb, p);
    }
    int released = 0;
    pb_slot *s = slot_find(pb, peer);
    if (result < 0 && s && s->state == SLOT_PENDING) {
        lp2p_multiaddr c1 = {0}, c2 = {0};
        if (canonical(peer, &s->addr, &c1) == 0 && canonical(peer, ma, &c2) == 0 &&
            lp2p_multiaddr_equal(&c1, &c2)) {
            slot_free(s);
            released = 1;
        }
        lp2p_multiaddr_free(&c1);
        lp2p_multiaddr_free(&c2);
    }
    if (!a && !released)
        return LP2P_ERR_NOT_FOUND;
    return released;
}

/* Preference: lower is better. */
static int addr_class(const pb_addr *a)
{
    return a->relayed ? 2 : a->is_public ? 0 : 1;
}

/* 1 when x should come before y. */
static int addr_better(const pb_addr *x, const pb_addr *y)
{
    int cx = addr_class(x), cy = addr_class(y);
    if (cx != cy)
        return cx < cy;
    int ox = x->last_dial == LP2P_PB_DIAL_OK, oy = y->last_dial == LP2P_PB_DIAL_OK;
    if (ox != oy)
        return ox;
    return x->last_seen_ms > y->last_seen_ms;
}

size_t lp2p_peerbook_candidates(const lp2p_peerbook *pb, const lp2p_peer_id *peer, uint64_t now_ms,
                                const lp2p_multiaddr **out, size_t max)
{
    const pb_peer *p = peer_find(pb, peer);
    size_t n = 0;
    if (!p || !max)
        return 0;
    /* Insertion into a sorted, truncated list; ties keep insertion order (stable). */
    for (size_t i = 0; i < p->naddrs; i++) {
        const pb_addr *a = &p->addrs[i];
        if (addr_expired(pb, a, now_ms) || addr_backing_off(pb, a, now_ms))
            continue;
        size_t at = n;
        while (at > 0 && addr_better(a, (const pb_addr *)out[at - 1]))
            at--;
        if (at >= max)
            continue;
        size_t last = n < max ? n : max - 1;
        for (size_t k = last; k > at; k--)
            out[k] = out[k - 1];
        out[at] = &a->ma;
        if (n < max)
            n++;
    }
    return n;
}

size_t lp2p_peerbook_npeers(const lp2p_peerbook *pb)
{
    return pb->npeers;
}

size_t lp2p_peerbook_naddrs(const lp2p_peerbook *pb, const lp2p_peer_id *peer)
{
    const pb_peer *p = peer_find(pb, peer);
    return p ? p->naddrs : 0;
}

int lp2p_peerbook_has_peer(const lp2p_peerbook *pb, const lp2p_peer_id *peer)
{
    return peer_find(pb, peer) != NULL;
}

int lp2p_peerbook_addr_info_get(const lp2p_peerbook *pb, const lp2p_peer_id *peer,
                                const lp2p_multiaddr *ma, lp2p_peerbook_addr_info *out)
{
    pb_peer *p;
    pb_addr *a;
    int rc = lookup(pb, peer, ma, &p, &a);
    if (rc < 0)
        return rc;
    out->sources = a->sources;
    out->relayed = a->relayed;
    out->is_public = a->is_public;
    out->last_seen_ms = a->last_seen_ms;
    out->last_dial_ms = a->last_dial_ms;
    out->last_dial = a->last_dial;
    out->fails = a->fails;
    return 0;
}

/* ---- relay quota ---------------------------------------------------------------------------- */

/* The relay's peer ID from …/p2p/<relay>; INVAL for circuits and addresses without /p2p. */
static int relay_id(const lp2p_multiaddr *ma, lp2p_peer_id *id)
{
    if (!ma || !ma->len || lp2p_multiaddr_is_circuit(ma))
        return LP2P_ERR_INVAL;
    return last_is_p2p(ma, id) == 1 ? 0 : LP2P_ERR_INVAL;
}

static size_t slots_in(const lp2p_peerbook *pb, int state)
{
    size_t n = 0;
    for (size_t i = 0; i < pb->cfg.max_relay_addrs; i++)
        n += pb->slots[i].state == state;
    return n;
}

int lp2p_peerbook_relay_reserve_pending(lp2p_peerbook *pb, const lp2p_multiaddr *relay_addr,
                                        uint64_t now_ms)
{
    lp2p_peer_id id;
    int rc = relay_id(relay_addr, &id);
    if (rc < 0)
        return rc;
    if (slot_find(pb, &id))
        return LP2P_ERR_EXISTS;
    for (size_t i = 0; i < pb->cfg.max_relay_addrs; i++) {
        pb_slot *s = &pb->slots[i];
        if (s->state != SLOT_FREE)
            continue;
        rc = lp2p_multiaddr_copy(&s->addr, relay_addr);
        if (rc < 0)
            return rc;
        s->state = SLOT_PENDING;
        s->relay = id;
        s->since_ms = now_ms;
        return 0;
    }
    return LP2P_ERR_LIMIT;
}

int lp2p_peerbook_relay_confirm(lp2p_peerbook *pb, const lp2p_multiaddr *relay_addr,
                                uint64_t now_ms)
{
    lp2p_peer_id id;
    int rc = relay_id(relay_addr, &id);
    if (rc < 0)
        return rc;
    pb_slot *s = slot_find(pb, &id);
    if (!s)
        return LP2P_ERR_NOT_FOUND;
    if (s->state != SLOT_PENDING)
        return LP2P_ERR_STATE;
    s->state = SLOT_CONFIRMED;
    s->since_ms = now_ms;
    s->seq = ++pb->confirm_seq;
    return 0;
}

int lp2p_peerbook_relay_release(lp2p_peerbook *pb, const lp2p_multiaddr *relay_addr)
{
    lp2p_peer_id id;
    int rc = relay_id(relay_addr, &id);
    if (rc < 0)
        return rc;
    pb_slot *s = slot_find(pb, &id);
    if (!s)
        return LP2P_ERR_NOT_FOUND;
    slot_free(s);
    return 0;
}

size_t lp2p_peerbook_relay_npending(const lp2p_peerbook *pb)
{
    return slots_in(pb, SLOT_PENDING);
}

size_t lp2p_peerbook_relay_nconfirmed(const lp2p_peerbook *pb)
{
    return slots_in(pb, SLOT_CONFIRMED);
}

static int relay_state(const lp2p_peerbook *pb, const lp2p_multiaddr *relay_addr)
{
    lp2p_peer_id id;
    if (relay_id(relay_addr, &id) < 0)
        return SLOT_FREE;
    const pb_slot *s = slot_find(pb, &id);
    return s ? s->state : SLOT_FREE;
}

int lp2p_peerbook_relay_is_pending(const lp2p_peerbook *pb, const lp2p_multiaddr *relay_addr)
{
    return relay_state(pb, relay_addr) == SLOT_PENDING;
}

int lp2p_peerbook_relay_is_confirmed(const lp2p_peerbook *pb, const lp2p_multiaddr *relay_addr)
{
    return relay_state(pb, relay_addr) == SLOT_CONFIRMED;
}

size_t lp2p_peerbook_relay_confirmed(const lp2p_peerbook *pb, const lp2p_multiaddr **out,
                                     size_t max)
{
    size_t n = 0;
    uint64_t after = 0;
    /* Slots are few (the quota): repeated minimum search keeps confirmation order. */
    while (n < max) {
        const pb_slot *best = NULL;
        for (size_t i = 0; i < pb->cfg.max_relay_addrs; i++) {
            const pb_slot *s = &pb->slots[i];
            if (s->state == SLOT_CONFIRMED && s->seq > after && (!best || s->seq < best->seq))
                best = s;
        }
        if (!best)
            break;
        out[n++] = &best->addr;
        after = best->seq;
    }
    return n;
}

/* ---- time ----------------------------------------------------------------------------------- */

size_t lp2p_peerbook_expire(lp2p_peerbook *pb, uint64_t now_ms)
{
    size_t gone = 0;
    lp2p_list *pos, *tmp;
    lp2p_list_foreach_safe(pos, tmp, &pb->peers)
    {
        pb_peer *p = lp2p_container_of(pos, pb_peer, lru);
        for (size_t i = p->naddrs; i-- > 0;) {
            if (addr_expired(pb, &p->addrs[i], now_ms)) {
                addr_drop(p, i);
                gone++;
            }
        }
        if (!p->naddrs)
            peer_drop(pb, p);
    }
    uint64_t to = pb->cfg.relay_pending_timeout_ms;
    for (size_t i = 0; to && i < pb->cfg.max_relay_addrs; i++) {
        pb_slot *s = &pb->slots[i];
        if (s->state == SLOT_PENDING && now_ms >= s->since_ms && now_ms - s->since_ms >= to) {
            slot_free(s);
            gone++;
        }
    }
    return gone;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t lp2p_peerbook_next_deadline(const lp2p_peerbook *pb)
{
    uint64_t dl = UINT64_MAX;
    const lp2p_list *pos;
    if (pb->cfg.addr_ttl_ms) {
        for (pos = pb->peers.next; pos != &pb->peers; pos = pos->next) {
            const pb_peer *p = lp2p_container_of(pos, pb_peer, lru);
            for (size_t i = 0; i < p->naddrs; i++) {
                if (p->addrs[i].sources & LP2P_PB_SRC_USER)
                    continue;
                uint64_t t = sat_add(p->addrs[i].last_seen_ms, pb->cfg.addr_ttl_ms);
                if (t < dl)
                    dl = t;
            }
        }
    }
    for (size_t i = 0; pb->cfg.relay_pending_timeout_ms && i < pb->cfg.max_relay_addrs; i++) {
        const pb_slot *s = &pb->slots[i];
        if (s->state != SLOT_PENDING)
            continue;
        uint64_t t = sat_add(s->since_ms, pb->cfg.relay_pending_timeout_ms);
        if (t < dl)
            dl = t;
    }
    return dl;
}
