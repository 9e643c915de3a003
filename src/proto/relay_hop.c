/* Relay v2, relay side: see relay_hop.h for the flow and the refusal table.
 * Tables are flat arrays sized by the config: at most a few hundred entries, scanned
 * linearly, allocated once in lp2p_relay_new so a flood can never grow them. */
#include "proto/relay_hop.h"

#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"

#define BUCKETS_MAX 2048 /* rate-limit entries; see bucket_victim for which one is recycled */

typedef struct rsv {
    lp2p_peer_id peer;
    uint64_t conn_id;
    uint8_t ip[16];
    uint8_t ip_len;
    uint64_t expire_ms;
} rsv;

typedef struct circuit {
    uint64_t id;
    lp2p_peer_id src, dst;
    int live; /* 0 = waiting for the target's stop STATUS */
    uint64_t start_ms;
    uint64_t bytes[2];
    /* Activity as last seen by a scan under pressure (see idle_victim): bytes then, and when
     * they were last seen to change. */
    uint64_t seen_bytes, seen_ms;
} circuit;

enum { B_RESERVE_PEER, B_RESERVE_IP, B_CONNECT_PEER, B_CONNECT_IP };

typedef struct bucket {
    uint8_t kind;
    uint8_t key_len;
    uint8_t key[LP2P_PEER_ID_MAX];
    uint32_t tokens;
    uint64_t last_ms;
    uint64_t used_ms; /* last request: the eviction order */
} bucket;

struct lp2p_relay {
    lp2p_relay_config cfg;
    const lp2p_keypair *kp;
    lp2p_view *addrs; /* owned copies */
    size_t naddrs;
    rsv *rsvs;
    size_t nrsvs;
    circuit *circuits;
    size_t ncircuits;
    uint64_t next_circuit_id;
    struct expired {
        uint64_t id;
        int pending;
    } * expired; /* for poll_expired */
    size_t nexpired;
    bucket *buckets;
    size_t nbuckets;
};

void lp2p_relay_config_default(lp2p_relay_config *c)
{
    memset(c, 0, sizeof(*c));
    c->max_reservations = 128;
    c->max_reservations_per_peer = 4;
    c->max_reservations_per_ip = 8;
    c->reservation_ttl_ms = 3600 * 1000;
    c->max_circuits = 1024;
    c->max_circuits_per_peer = 16;
    c->max_circuits_per_pair = 4;
    c->circuit_idle_ms = 10 * 1000;
    c->circuit_duration_ms = 120 * 1000;
    c->connect_timeout_ms = 30 * 1000;
    c->circuit_data = 1 << 17;
    c->reserve_burst_peer = 30;
    c->reserve_interval_peer_ms = 120 * 1000;
    c->reserve_burst_ip = 60;
    c->reserve_interval_ip_ms = 60 * 1000;
    c->connect_burst_peer = 30;
    c->connect_interval_peer_ms = 120 * 1000;
    c->connect_burst_ip = 60;
    c->connect_interval_ip_ms = 60 * 1000;
}

int lp2p_relay_new(const lp2p_relay_config *cfg, const lp2p_keypair *kp, lp2p_relay **out)
{
    lp2p_relay *r = calloc(1, sizeof(*r));
    if (!r)
        return LP2P_ERR_NOMEM;
    if (cfg)
        r->cfg = *cfg;
    else
        lp2p_relay_config_default(&r->cfg);
    r->kp = kp;
    r->next_circuit_id = 1;
    size_t nr = r->cfg.max_reservations ? r->cfg.max_reservations : 1;
    size_t nc = r->cfg.max_circuits ? r->cfg.max_circuits : 1;
    r->rsvs = calloc(nr, sizeof(*r->rsvs));
    r->circuits = calloc(nc, sizeof(*r->circuits));
    r->expired = calloc(nc, sizeof(*r->expired));
    r->buckets = calloc(BUCKETS_MAX, sizeof(*r->buckets));
    if (!r->rsvs || !r->circuits || !r->expired || !r->buckets) {
        lp2p_relay_del(r);
        return LP2P_ERR_NOMEM;
    }
    *out = r;
    return 0;
}

static void free_addrs(lp2p_relay *r)
{
    for (size_t i = 0; i < r->naddrs; i++)
        free((void *)r->addrs[i].ptr);
    free(r->addrs);
    r->addrs = NULL;
    r->naddrs = 0;
}

void lp2p_relay_del(lp2p_relay *r)
{
    if (!r)
        return;
    free_addrs(r);
    free(r->rsvs);
    free(r->circuits);
    free(r->expired);
    free(r->buckets);
    free(r);
}

int lp2p_relay_set_addrs(lp2p_relay *r, const uint8_t *const *addrs, const size_t *lens, size_t n)
{
    lp2p_view *v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return LP2P_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        uint8_t *d = malloc(lens[i] ? lens[i] : 1);
        if (!d) {
            for (size_t j = 0; j < i; j++)
                free((void *)v[j].ptr);
            free(v);
            return LP2P_ERR_NOMEM;
        }
        memcpy(d, addrs[i], lens[i]);
        v[i] = lp2p_view_make(d, lens[i]);
    }
    free_addrs(r);
    r->addrs = v;
    r->naddrs = n;
    return 0;
}

/* ---- rate limits: token buckets keyed by (kind, peer or ip) ------------------------------ */

static void bucket_refill(bucket *b, uint32_t burst, uint64_t interval, uint64_t now)
{
    if (now <= b->last_ms)
        return;
    uint64_t add = (now - b->last_ms) / interval;
    if (add == 0)
        return;
    b->tokens = add >= burst - b->tokens ? burst : b->tokens + (uint32_t)add;
    b->last_ms = b->tokens == burst ? now : b->last_ms + add * interval;
}

static void bucket_limits(const lp2p_relay *r, int kind, uint32_t *burst, uint64_t *interval)
{
    const lp2p_relay_config *c = &r->cfg;
    *burst = kind == B_RESERVE_PEER   ? c->reserve_burst_peer
             : kind == B_RESERVE_IP   ? c->reserve_burst_ip
             : kind == B_CONNECT_PEER ? c->connect_burst_peer
                                      : c->connect_burst_ip;
    *interval = kind == B_RESERVE_PEER   ? c->reserve_interval_peer_ms
                : kind == B_RESERVE_IP   ? c->reserve_interval_ip_ms
                : kind == B_CONNECT_PEER ? c->connect_interval_peer_ms
                                         : c->connect_interval_ip_ms;
}

/* The entry a new source takes when the table is full. The table evicts rather than failing
 * closed (a full table once refused every new peer from anywhere: issue 9): first an entry
 * that has refilled (it carries no state), else the least recently used peer-keyed entry
 * (identities cost an attacker nothing; its address is still held by the IP's bucket), else
 * the least recently used entry of any kind. */
static bucket *bucket_victim(lp2p_relay *r, uint64_t now)
{
    bucket *lru_peer = NULL, *lru = NULL;
    for (size_t i = 0; i < r->nbuckets; i++) {
        bucket *c = &r->buckets[i];
        uint32_t cb;
        uint64_t ci;
        bucket_limits(r, c->kind, &cb, &ci);
        if (ci == 0 || cb == 0)
            return c;
        bucket_refill(c, cb, ci, now);
        if (c->tokens >= cb)
            return c;
        int peer_kind = c->kind == B_RESERVE_PEER || c->kind == B_CONNECT_PEER;
        if (peer_kind && (!lru_peer || c->used_ms < lru_peer->used_ms))
            lru_peer = c;
        if (!lru || c->used_ms < lru->used_ms)
            lru = c;
    }
    return lru_peer ? lru_peer : lru;
}

/* 1 when the request may proceed (a token was taken). burst or interval 0 = no limit. */
static int bucket_take(lp2p_relay *r, int kind, const uint8_t *key, size_t klen, uint64_t now)
{
    uint32_t burst;
    uint64_t interval;
    bucket_limits(r, kind, &burst, &interval);
    if (burst == 0 || interval == 0)
        return 1;
    bucket *b = NULL;
    for (size_t i = 0; i < r->nbuckets && !b; i++)
        if (r->buckets[i].kind == kind && r->buckets[i].key_len == klen &&
            memcmp(r->buckets[i].key, key, klen) == 0)
            b = &r->buckets[i];
    if (!b) {
        b = r->nbuckets < BUCKETS_MAX ? &r->buckets[r->nbuckets++] : bucket_victim(r, now);
        b->kind = (uint8_t)kind;
        b->key_len = (uint8_t)klen;
        memcpy(b->key, key, klen);
        b->tokens = burst;
        b->last_ms = now;
    }
    b->used_ms = now;
    bucket_refill(b, burst, interval, now);
    if (b->tokens == 0)
        return 0;
    b->tokens--;
    return 1;
}

/* The address a rate limit is keyed by: what a new source costs the attacker. An IPv4
 * address; for IPv6 its /64, since one host is routinely handed a whole /64. */
static size_t rate_ip_len(const lp2p_relay_src *src)
{
    return src->ip_len == 16 ? 8 : src->ip_len;
}

/* The address's bucket is taken before the peer's: a source refused for its address creates
 * no per-identity state, so fresh identities from one address cannot fill the table. */
static int rate_ok(lp2p_relay *r, int connect, const lp2p_relay_src *src, uint64_t now)
{
    size_t iplen = rate_ip_len(src);
    if (!connect)
        return bucket_take(r, B_RESERVE_IP, src->ip, iplen, now) &&
               bucket_take(r, B_RESERVE_PEER, src->peer.bytes, src->peer.len, now);
    return bucket_take(r, B_CONNECT_IP, src->ip, iplen, now) &&
           bucket_take(r, B_CONNECT_PEER, src->peer.bytes, src->peer.len, now);
}

/* ---- tables -------------------------------------------------------------------------------- */

static void expire_reservations(lp2p_relay *r, uint64_t now)
{
    for (size_t i = 0; i < r->nrsvs;) {
        if (r->rsvs[i].expire_ms <= now)
            r->rsvs[i] = r->rsvs[--r->nrsvs];
        else
            i++;
    }
}

static circuit *find_circuit(lp2p_relay *r, uint64_t id)
{
    for (size_t i = 0; i < r->ncircuits; i++)
        if (r->circuits[i].id == id)
            return &r->circuits[i];
    return NULL;
}

static void remove_circuit(lp2p_relay *r, circuit *c)
{
    *c = r->circuits[--r->ncircuits];
}

static size_t circuits_of(const lp2p_relay *r, const lp2p_peer_id *p)
{
    size_t n = 0;
    for (size_t i = 0; i < r->ncircuits; i++)
        n +=
            lp2p_peer_id_equal(&r->circuits[i].src, p) + lp2p_peer_id_equal(&r->circuits[i].dst, p);
    return n;
}

static size_t circuits_between(const lp2p_relay *r, const lp2p_peer_id *a, const lp2p_peer_id *b)
{
    size_t n = 0;
    for (size_t i = 0; i < r->ncircuits; i++) {
        const circuit *c = &r->circuits[i];
        n += (lp2p_peer_id_equal(&c->src, a) && lp2p_peer_id_equal(&c->dst, b)) ||
             (lp2p_peer_id_equal(&c->src, b) && lp2p_peer_id_equal(&c->dst, a));
    }
    return n;
}

/* Under pressure (peer p holds all the circuits it may), the live circuit of p that has been
 * idle longest, if at least circuit_idle_ms, and not one between p and `keep` (the requester
 * must not win by cutting its own). Activity is sampled here, lazily: a circuit whose byte count
 * moved since the last scan counts as active now. */
static circuit *idle_victim(lp2p_relay *r, const lp2p_peer_id *p, const lp2p_peer_id *keep,
                            uint64_t now)
{
    if (r->cfg.circuit_idle_ms == 0)
        return NULL;
    circuit *best = NULL;
    for (size_t i = 0; i < r->ncircuits; i++) {
        circuit *c = &r->circuits[i];
        if (!c->live || !(lp2p_peer_id_equal(&c->src, p) || lp2p_peer_id_equal(&c->dst, p)))
            continue;
        uint64_t total = c->bytes[0] + c->bytes[1];
        if (total != c->seen_bytes) {
            c->seen_bytes = total;
            c->seen_ms = now;
        }
        if (lp2p_peer_id_equal(&c->src, keep) || lp2p_peer_id_equal(&c->dst, keep))
            continue;
        if (now - c->seen_ms >= r->cfg.circuit_idle_ms && (!best || c->seen_ms < best->seen_ms))
            best = c;
    }
    return best;
}

/* Removes c and queues it for _poll_expired (reason LP2P_RELAY_EXPIRED_*). */
static void expire_circuit(lp2p_relay *r, circuit *c, int why)
{
    size_t cap = r->cfg.max_circuits ? r->cfg.max_circuits : 1;
    if (r->nexpired < cap) { /* else the host is not polling; the circuit still goes */
        r->expired[r->nexpired].id = c->id;
        r->expired[r->nexpired].pending = why;
        r->nexpired++;
    }
    remove_circuit(r, c);
}

/* 1 when peer p may take one more circuit, cutting an idle one of its circuits if it is full. */
static int room_for(lp2p_relay *r, const lp2p_peer_id *p, const lp2p_peer_id *other, uint64_t now)
{
    if (circuits_of(r, p) < r->cfg.max_circuits_per_peer)
        return 1;
    circuit *v = idle_victim(r, p, other, now);
    if (!v)
        return 0;
    lp2p_emit(&r->cfg.trace, LP2P_INFO, "relay_circuit_limit", LF_U("circuit", v->id),
              LF_S("limit", "idle under pressure"));
    expire_circuit(r, v, LP2P_RELAY_EXPIRED_IDLE);
    return 1;
}

static void trace_refusal(const lp2p_relay *r, const lp2p_relay_src *src, const char *req,
                          int status, const char *why)
{
    char id[LP2P_PEER_ID_STR_MAX] = "?";
    lp2p_peer_id_to_string(&src->peer, id, sizeof(id));
    lp2p_emit(&r->cfg.trace, LP2P_INFO, "relay_refused", LF_S("peer", id), LF_S("request", req),
              LF_S("status", lp2p_relay_status_name(status)), LF_S("reason", why));
}

static int refuse(const lp2p_relay *r, lp2p_relay_result *res, const lp2p_relay_src *src,
                  const char *req, int status, const char *why, lp2p_buf *hop_out)
{
    trace_refusal(r, src, req, status, why);
    res->action = LP2P_RELAY_REPLY_CLOSE;
    res->status = status;
    return lp2p_relay_msg_encode_status(LP2P_RELAY_HOP, status, hop_out);
}

static void set_limit(const lp2p_relay *r, lp2p_relay_msg *m)
{
    m->has_limit = r->cfg.circuit_duration_ms != 0 || r->cfg.circuit_data != 0;
    m->limit_duration_s = (uint32_t)(r->cfg.circuit_duration_ms / 1000);
    m->limit_data = r->cfg.circuit_data;
}

/* ---- RESERVE ------------------------------------------------------------------------------- */

static int on_reserve(lp2p_relay *r, const lp2p_relay_src *src, uint64_t now, uint64_t unix_s,
                      lp2p_buf *hop_out, lp2p_relay_result *res)
{
    if (src->relayed)
        return refuse(r, res, src, "reserve", LP2P_RELAY_STATUS_PERMISSION_DENIED,
                      "over a relayed connection", hop_out);
    if (!rate_ok(r, 0, src, now))
        return refuse(r, res, src, "reserve", LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED,
                      "rate limit", hop_out);
    expire_reservations(r, now);
    rsv *e = NULL;
    size_t per_peer = 0, per_ip = 0;
    for (size_t i = 0; i < r->nrsvs; i++) {
        rsv *x = &r->rsvs[i];
        if (lp2p_peer_id_equal(&x->peer, &src->peer)) {
            if (x->conn_id == src->conn_id)
                e = x; /* a refresh on the same connection replaces its reservation */
            per_peer++;
        }
        if (x->ip_len == src->ip_len && memcmp(x->ip, src->ip, src->ip_len) == 0)
            per_ip++;
    }
    int fresh = e == NULL;
    if (fresh) {
        if (r->nrsvs >= r->cfg.max_reservations)
            return refuse(r, res, src, "reserve", LP2P_RELAY_STATUS_RESERVATION_REFUSED,
                          "reservation table full", hop_out);
        if (per_peer >= r->cfg.max_reservations_per_peer)
            return refuse(r, res, src, "reserve", LP2P_RELAY_STATUS_RESERVATION_REFUSED,
                          "too many reservations for this peer", hop_out);
        if (per_ip >= r->cfg.max_reservations_per_ip)
            return refuse(r, res, src, "reserve", LP2P_RELAY_STATUS_RESERVATION_REFUSED,
                          "too many reservations from this IP", hop_out);
    }

    uint64_t expire_unix = unix_s + r->cfg.reservation_ttl_ms / 1000;
    uint8_t *voucher = NULL;
    size_t vlen = 0;
    if (r->kp && lp2p_voucher_seal(r->kp, &src->peer, expire_unix, &voucher, &vlen) < 0)
        return refuse(r, res, src, "reserve", LP2P_RELAY_STATUS_RESERVATION_REFUSED,
                      "could not sign the voucher", hop_out);

    lp2p_relay_msg m = {.kind = LP2P_RELAY_HOP,
                        .type = LP2P_RELAY_STATUS,
                        .has_status = 1,
                        .status = LP2P_RELAY_STATUS_OK,
                        .has_reservation = 1,
                        .rsv_expire = expire_unix,
                        .rsv_addrs = r->addrs,
                        .n_rsv_addrs = r->naddrs,
                        .has_voucher = voucher != NULL,
                        .voucher = lp2p_view_make(voucher, vlen)};
    set_limit(r, &m);
    int rc = lp2p_relay_msg_encode(&m, hop_out);
    free(voucher);
    if (rc < 0)
        return rc;
    if (fresh) {
        e = &r->rsvs[r->nrsvs++];
        e->peer = src->peer;
        e->conn_id = src->conn_id;
        memcpy(e->ip, src->ip, sizeof(e->ip));
        e->ip_len = src->ip_len;
    }
    e->expire_ms = now + r->cfg.reservation_ttl_ms;
    res->action = LP2P_RELAY_REPLY_CLOSE;
    res->status = LP2P_RELAY_STATUS_OK;
    char id[LP2P_PEER_ID_STR_MAX] = "?";
    lp2p_peer_id_to_string(&src->peer, id, sizeof(id));
    lp2p_emit(&r->cfg.trace, LP2P_INFO, "relay_reserved", LF_S("peer", id), LF_B("refresh", !fresh),
              LF_U("expire", expire_unix));
    return 0;
}

/* ---- CONNECT ------------------------------------------------------------------------------- */

static int on_connect(lp2p_relay *r, const lp2p_relay_src *src, const lp2p_relay_msg *m,
                      uint64_t now, lp2p_buf *hop_out, lp2p_buf *stop_out, lp2p_relay_result *res)
{
    if (src->relayed)
        return refuse(r, res, src, "connect", LP2P_RELAY_STATUS_PERMISSION_DENIED,
                      "over a relayed connection", hop_out);
    lp2p_peer_id target;
    if (!m->has_peer || lp2p_peer_id_from_bytes(m->peer_id.ptr, m->peer_id.len, &target) < 0)
        return refuse(r, res, src, "connect", LP2P_RELAY_STATUS_MALFORMED_MESSAGE,
                      "missing or invalid target peer ID", hop_out);
    if (!rate_ok(r, 1, src, now))
        return refuse(r, res, src, "connect", LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED,
                      "rate limit", hop_out);
    expire_reservations(r, now);
    const rsv *t = NULL;
    for (size_t i = 0; i < r->nrsvs; i++)
        if (lp2p_peer_id_equal(&r->rsvs[i].peer, &target) &&
            (!t || r->rsvs[i].expire_ms > t->expire_ms))
            t = &r->rsvs[i]; /* the most recently refreshed connection */
    if (!t)
        return refuse(r, res, src, "connect", LP2P_RELAY_STATUS_NO_RESERVATION,
                      "target has no reservation", hop_out);
    if (r->ncircuits >= r->cfg.max_circuits)
        return refuse(r, res, src, "connect", LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED,
                      "circuit table full", hop_out);
    /* A source's share of one destination's circuits first: one identity cannot take them
     * all (16 CONNECTs once locked every other source out of a victim). */
    if (r->cfg.max_circuits_per_pair &&
        circuits_between(r, &src->peer, &target) >= r->cfg.max_circuits_per_pair)
        return refuse(r, res, src, "connect", LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED,
                      "too many circuits between this pair", hop_out);
    if (!room_for(r, &src->peer, &target, now) || !room_for(r, &target, &src->peer, now))
        return refuse(r, res, src, "connect", LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED,
                      "too many circuits for this peer", hop_out);

    lp2p_relay_msg stop = {.kind = LP2P_RELAY_STOP,
                           .type = LP2P_RELAY_CONNECT,
                           .has_peer = 1,
                           .peer_id = lp2p_view_make(src->peer.bytes, src->peer.len)};
    set_limit(r, &stop);
    int rc = lp2p_relay_msg_encode(&stop, stop_out);
    if (rc < 0)
        return rc;
    circuit *c = &r->circuits[r->ncircuits++];
    memset(c, 0, sizeof(*c));
    c->id = r->next_circuit_id++;
    c->start_ms = now; /* pending since: for the connect timeout */
    c->src = src->peer;
    c->dst = target;
    res->action = LP2P_RELAY_STOP_CONNECT;
    res->status = LP2P_RELAY_STATUS_OK;
    res->circuit_id = c->id;
    res->target = target;
    res->target_conn_id = t->conn_id;
    return 0;
}

int lp2p_relay_on_hop(lp2p_relay *r, const lp2p_relay_src *src, const uint8_t *body, size_t len,
                      uint64_t now_ms, uint64_t unix_s, lp2p_buf *hop_out, lp2p_buf *stop_out,
                      lp2p_relay_result *res)
{
    memset(res, 0, sizeof(*res));
    if (src->ip_len > sizeof(src->ip) || src->peer.len > LP2P_PEER_ID_MAX)
        return LP2P_ERR_INVAL;
    lp2p_relay_msg m;
    int rc = lp2p_relay_msg_decode(LP2P_RELAY_HOP, body, len, &m);
    if (rc == LP2P_ERR_NOMEM)
        return rc;
    if (rc < 0)
        return refuse(r, res, src, "?", LP2P_RELAY_STATUS_MALFORMED_MESSAGE,
                      "undecodable hop message", hop_out);
    res->type = m.type;
    switch (m.type) {
    case LP2P_RELAY_RESERVE:
        rc = on_reserve(r, src, now_ms, unix_s, hop_out, res);
        break;
    case LP2P_RELAY_CONNECT:
        rc = on_connect(r, src, &m, now_ms, hop_out, stop_out, res);
        break;
    default:
        rc = refuse(r, res, src, "status", LP2P_RELAY_STATUS_UNEXPECTED_MESSAGE,
                    "STATUS sent to the relay", hop_out);
        break;
    }
    lp2p_relay_msg_free(&m);
    return rc;
}

/* ---- the target's answer ------------------------------------------------------------------- */

static int circuit_failed(lp2p_relay *r, circuit *c, lp2p_buf *hop_out, const char *why, int err)
{
    char id[LP2P_PEER_ID_STR_MAX] = "?";
    lp2p_peer_id_to_string(&c->dst, id, sizeof(id));
    lp2p_emit(&r->cfg.trace, LP2P_INFO, "relay_circuit_failed", LF_S("target", id),
              LF_S("reason", why));
    remove_circuit(r, c);
    int rc =
        lp2p_relay_msg_encode_status(LP2P_RELAY_HOP, LP2P_RELAY_STATUS_CONNECTION_FAILED, hop_out);
    return rc < 0 ? rc : err;
}

int lp2p_relay_on_stop_reply(lp2p_relay *r, uint64_t circuit_id, const uint8_t *body, size_t len,
                             uint64_t now_ms, lp2p_buf *hop_out)
{
    circuit *c = find_circuit(r, circuit_id);
    if (!c || c->live)
        return LP2P_ERR_NOT_FOUND;
    lp2p_relay_msg m;
    int rc = lp2p_relay_msg_decode(LP2P_RELAY_STOP, body, len, &m);
    if (rc < 0)
        return circuit_failed(r, c, hop_out, "undecodable stop reply", LP2P_ERR_DECODE);
    int ok = m.type == LP2P_RELAY_STATUS && m.has_status && m.status == LP2P_RELAY_STATUS_OK;
    int status = m.has_status ? m.status : 0;
    lp2p_relay_msg_free(&m);
    if (!ok)
        return circuit_failed(r, c, hop_out, lp2p_relay_status_name(status), LP2P_ERR_REFUSED);
    lp2p_relay_msg reply = {.kind = LP2P_RELAY_HOP,
                            .type = LP2P_RELAY_STATUS,
                            .has_status = 1,
                            .status = LP2P_RELAY_STATUS_OK};
    set_limit(r, &reply);
    if ((rc = lp2p_relay_msg_encode(&reply, hop_out)) < 0)
        return rc;
    c->live = 1;
    c->start_ms = now_ms;
    c->seen_ms = now_ms;
    return 0;
}

int lp2p_relay_on_stop_failed(lp2p_relay *r, uint64_t circuit_id, lp2p_buf *hop_out)
{
    circuit *c = find_circuit(r, circuit_id);
    if (!c || c->live)
        return LP2P_ERR_NOT_FOUND;
    return circuit_failed(r, c, hop_out, "stop stream failed", 0);
}

/* ---- live circuits ------------------------------------------------------------------------- */

int lp2p_relay_circuit_data(lp2p_relay *r, uint64_t circuit_id, int dir, size_t n, size_t *allowed)
{
    *allowed = 0;
    circuit *c = find_circuit(r, circuit_id);
    if (!c || !c->live || dir < 0 || dir > 1)
        return LP2P_ERR_NOT_FOUND;
    uint64_t cap = r->cfg.circuit_data;
    if (cap == 0 || n <= cap - c->bytes[dir]) {
        c->bytes[dir] += n;
        *allowed = n;
        return 0;
    }
    *allowed = (size_t)(cap - c->bytes[dir]);
    c->bytes[dir] = cap;
    lp2p_emit(&r->cfg.trace, LP2P_INFO, "relay_circuit_limit", LF_U("circuit", circuit_id),
              LF_S("limit", "data"), LF_U("bytes", cap));
    return LP2P_ERR_LIMIT;
}

void lp2p_relay_circuit_close(lp2p_relay *r, uint64_t circuit_id)
{
    circuit *c = find_circuit(r, circuit_id);
    if (c)
        remove_circuit(r, c);
}

void lp2p_relay_conn_closed(lp2p_relay *r, uint64_t conn_id)
{
    for (size_t i = 0; i < r->nrsvs;) {
        if (r->rsvs[i].conn_id == conn_id)
            r->rsvs[i] = r->rsvs[--r->nrsvs];
        else
            i++;
    }
}

int lp2p_relay_conn_has_reservation(const lp2p_relay *r, uint64_t conn_id)
{
    for (size_t i = 0; i < r->nrsvs; i++)
        if (r->rsvs[i].conn_id == conn_id)
            return 1;
    return 0;
}

/* When circuit c must go: end of its duration when live, connect timeout while pending. */
static uint64_t circuit_deadline(const lp2p_relay *r, const circuit *c)
{
    uint64_t lim = c->live ? r->cfg.circuit_duration_ms : r->cfg.connect_timeout_ms;
    return lim ? c->start_ms + lim : UINT64_MAX;
}

uint64_t lp2p_relay_next_deadline(const lp2p_relay *r)
{
    if (r->nexpired)
        return 0; /* circuits cut under pressure wait for _poll_expired */
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < r->nrsvs; i++)
        if (r->rsvs[i].expire_ms < d)
            d = r->rsvs[i].expire_ms;
    for (size_t i = 0; i < r->ncircuits; i++) {
        uint64_t cd = circuit_deadline(r, &r->circuits[i]);
        if (cd < d)
            d = cd;
    }
    return d;
}

int lp2p_relay_tick(lp2p_relay *r, uint64_t now_ms)
{
    expire_reservations(r, now_ms);
    for (size_t i = 0; i < r->ncircuits;) {
        circuit *c = &r->circuits[i];
        if (now_ms < circuit_deadline(r, c)) {
            i++;
            continue;
        }
        lp2p_emit(&r->cfg.trace, LP2P_INFO, "relay_circuit_limit", LF_U("circuit", c->id),
                  LF_S("limit", c->live ? "duration" : "connect timeout"));
        expire_circuit(r, c, c->live ? LP2P_RELAY_EXPIRED_DURATION : LP2P_RELAY_EXPIRED_PENDING);
    }
    return 0;
}

int lp2p_relay_poll_expired(lp2p_relay *r, uint64_t *circuit_id, int *was_pending)
{
    if (r->nexpired == 0)
        return 0;
    *circuit_id = r->expired[0].id;
    *was_pending = r->expired[0].pending;
    memmove(r->expired, r->expired + 1, (r->nexpired - 1) * sizeof(*r->expired));
    r->nexpired--;
    return 1;
}

size_t lp2p_relay_reservation_count(const lp2p_relay *r)
{
    return r->nrsvs;
}

size_t lp2p_relay_circuit_count(const lp2p_relay *r)
{
    return r->ncircuits;
}
