/* The bridge service (include/kaspa/bridge.h): per-peer loopback listeners, inbound stream
 * handlers, the peer keeper, and one splice (net/splice.h) per bridged session, with a
 * passive Version tap (bridge_tap.h) on each direction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaspa/bridge.h"
#include "kaspa/bridge_tap.h"
#include "lp2p/err.h"
#include "lp2p/stream_transport.h"
#include "net/splice.h"
#include "net/tcp_transport.h"
#include "util/list.h"
#include "util/log.h"

#define KEEPER_TICK_MS 500
#define ADDR_MAX       512

typedef struct bridge_peer {
    kaspa_bridge *b;
    lp2p_peer_id id;
    char id_str[LP2P_PEER_ID_STR_MAX];
    kaspa_loopback lo;
    char lo_str[KASPA_LOOPBACK_STR_MAX];
    int configured;
    char *addrs[KASPA_BRIDGE_MAX_PEER_ADDRS]; /* each ending in /p2p/<id> */
    size_t naddrs, next_addr;
    lp2p_tcp_listener *listener;
    uint32_t sessions;
    /* keeper */
    int dialing, direct;
    uint64_t next_dial_ms, backoff_ms, relayed_since_ms;
} bridge_peer;

struct kaspa_bridge {
    kaspa_bridge_config cfg;
    bridge_peer *peers; /* configured first, then inbound-only peers */
    size_t npeers, cap;
    lp2p_list sessions;
    size_t nsessions;
    uv_timer_t keeper;
    int closing;
    int dials_out; /* dial callbacks still owed: b must outlive them (see kaspa_bridge_free) */
};

typedef enum session_state { S_DIALING_KASPAD, S_SPLICED } session_state;

typedef struct bridge_session {
    lp2p_list link;
    kaspa_bridge *b;
    bridge_peer *p;
    session_state state;
    int outbound, relayed;
    lp2p_transport *tcp; /* splice side a: the local kaspad */
    lp2p_transport *st;  /* splice side b: the stream to the remote peer */
    int tcp_gone, st_gone;
    lp2p_splice *sp;
    kaspa_tap tap[2]; /* [0] bytes from the local kaspad, [1] from the remote */
    uint64_t start_ms;
    int logged; /* bridge_session_closed written */
} bridge_session;

static const char *dir_name(const bridge_session *s)
{
    return s->outbound ? "outbound" : "inbound";
}

static uint64_t now_ms(const kaspa_bridge *b)
{
    return uv_now(b->cfg.loop);
}

/* ---- peers ---------------------------------------------------------------------------------- */

static bridge_peer *find_peer(kaspa_bridge *b, const lp2p_peer_id *id)
{
    for (size_t i = 0; i < b->npeers; i++)
        if (lp2p_peer_id_equal(&b->peers[i].id, id))
            return &b->peers[i];
    return NULL;
}

/* 1 when another peer than p holds p's candidate address. */
static int loopback_taken(const kaspa_bridge *b, const bridge_peer *p)
{
    for (size_t i = 0; i < b->npeers; i++)
        if (&b->peers[i] != p && memcmp(b->peers[i].lo.ip, p->lo.ip, 4) == 0)
            return 1;
    return 0;
}

/* A peer that was not configured opened a stream: it takes a free slot, or the slot of an
 * earlier inbound-only peer with no session left (so a churn of peers cannot fill the table
 * for good), and the first of its candidates no other peer holds. */
static bridge_peer *add_inbound_peer(kaspa_bridge *b, const lp2p_peer_id *id)
{
    bridge_peer *p = NULL;
    if (b->npeers < b->cap) {
        p = &b->peers[b->npeers++];
    } else {
        for (size_t i = b->cfg.npeers; i < b->npeers && !p; i++)
            if (b->peers[i].sessions == 0)
                p = &b->peers[i];
        if (!p)
            return NULL;
    }
    memset(p, 0, sizeof *p);
    p->b = b;
    p->id = *id;
    uint32_t salt = 0;
    for (;;) {
        if (kaspa_loopback_derive(id, &salt, &p->lo) != 0) {
            memset(p, 0, sizeof *p); /* matches no peer; the slot stays free */
            return NULL;
        }
        if (!loopback_taken(b, p))
            break;
        salt++;
    }
    lp2p_peer_id_to_string(id, p->id_str, sizeof p->id_str);
    kaspa_loopback_str(&p->lo, p->lo_str);
    return p;
}

/* ---- sessions ------------------------------------------------------------------------------- */

static void session_free(bridge_session *s)
{
    kaspa_bridge *b = s->b;
    lp2p_list_remove(&s->link);
    b->nsessions--;
    s->p->sessions--;
    kaspa_tap_free(&s->tap[0]);
    kaspa_tap_free(&s->tap[1]);
    free(s);
}

static const char *end_name(const lp2p_splice_result *r)
{
    switch (r->end) {
    case LP2P_SPLICE_END_EOF:
        return "both sides closed";
    case LP2P_SPLICE_END_A:
        return r->err ? "kaspad connection failed" : "kaspad closed";
    case LP2P_SPLICE_END_B:
        return r->err ? "peer stream failed" : "peer stream closed";
    case LP2P_SPLICE_END_LOCAL:
        return "bridge shutting down";
    case LP2P_SPLICE_END_WRITE:
        return "write failed";
    }
    return "unknown";
}

/* Once per session, whichever of its ends reports first. */
static void log_closed(bridge_session *s, const char *reason, const char *detail, int err,
                       uint64_t to_remote, uint64_t to_kaspad)
{
    if (s->logged)
        return;
    s->logged = 1;
    lp2p_log(LP2P_INFO, "bridge_session_closed", LF_S("peer", s->p->id_str),
             LF_S("loopback", s->p->lo_str), LF_S("direction", dir_name(s)),
             LF_B("relayed", s->relayed), LF_U("bytes_to_kaspad", to_kaspad),
             LF_U("bytes_from_kaspad", to_remote), LF_U("duration_ms", now_ms(s->b) - s->start_ms),
             LF_S("reason", reason), LF_S("detail", detail ? detail : ""),
             LF_S("error", err ? lp2p_err_name(err) : ""));
}

static void on_splice_closed(void *ud, const lp2p_splice_result *r)
{
    bridge_session *s = ud;
    log_closed(s, end_name(r), r->why, r->err, r->bytes[LP2P_SPLICE_A_TO_B],
               r->bytes[LP2P_SPLICE_B_TO_A]);
    session_free(s);
}

/* The passive tap: which side is the gRPC client decides where the HTTP/2 preface is. */
static int on_observe(void *ud, int dir, const uint8_t *p, size_t n)
{
    bridge_session *s = ud;
    kaspa_tap *t = &s->tap[dir];
    kaspa_tap_state st = kaspa_tap_feed(t, p, n);
    if (st == KASPA_TAP_RUNNING)
        return 0;
    const char *side = dir == LP2P_SPLICE_A_TO_B ? "local" : "remote";
    if (st == KASPA_TAP_FOUND)
        lp2p_log(LP2P_INFO, "bridge_peer_version", LF_S("peer", s->p->id_str),
                 LF_S("loopback", s->p->lo_str), LF_S("direction", dir_name(s)), LF_S("side", side),
                 LF_S("network", t->version.network),
                 LF_U("protocol_version", t->version.protocol_version),
                 LF_S("user_agent", t->version.user_agent));
    else
        lp2p_log(LP2P_DEBUG, "bridge_tap_stopped", LF_S("peer", s->p->id_str), LF_S("side", side),
                 LF_S("state", kaspa_tap_state_name(st)));
    return 1;
}

static int start_splice(bridge_session *s)
{
    /* The dialer is the gRPC client and sends the HTTP/2 preface: the local kaspad on an
     * outbound session, the remote peer's node on an inbound one. */
    kaspa_tap_init(&s->tap[0], s->outbound);
    kaspa_tap_init(&s->tap[1], !s->outbound);
    lp2p_splice_config cfg = {
        .on_closed = on_splice_closed,
        .observe = on_observe,
        .ud = s,
        .loop = s->b->cfg.loop,
        /* lets kaspad read the last bytes and FIN and close first, as after a real peer */
        .close_grace_ms = 200};
    int rc = lp2p_splice_new(s->tcp, s->st, &cfg, &s->sp);
    if (rc == 0)
        s->state = S_SPLICED;
    return rc;
}

static bridge_session *session_new(kaspa_bridge *b, bridge_peer *p, int outbound, int relayed)
{
    bridge_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->b = b;
    s->p = p;
    s->outbound = outbound;
    s->relayed = relayed;
    s->start_ms = now_ms(b);
    lp2p_list_insert_tail(&b->sessions, &s->link);
    b->nsessions++;
    p->sessions++;
    return s;
}

/* A session whose side b is stream, as a transport; NULL (stream reset) when out of memory. */
static bridge_session *session_with_stream(kaspa_bridge *b, bridge_peer *p, int outbound,
                                           int relayed, lp2p_stream *stream)
{
    bridge_session *s = session_new(b, p, outbound, relayed);
    if (s && lp2p_stream_transport_new(stream, NULL, &s->st) == 0)
        return s;
    if (s)
        session_free(s);
    lp2p_stream_reset(stream);
    return NULL;
}

static void log_open(const bridge_session *s, const char *proto)
{
    lp2p_log(LP2P_INFO, "bridge_session_open", LF_S("peer", s->p->id_str),
             LF_S("loopback", s->p->lo_str), LF_S("direction", dir_name(s)),
             LF_B("relayed", s->relayed), LF_S("protocol", proto));
}

static void log_refused(const bridge_peer *p, const char *direction, const char *reason)
{
    lp2p_log(LP2P_WARN, "bridge_session_refused", LF_S("peer", p ? p->id_str : ""),
             LF_S("loopback", p ? p->lo_str : ""), LF_S("direction", direction),
             LF_S("reason", reason));
}

/* 0 when one more session for p fits the limits, else the reason (logged by the caller). */
static const char *over_limit(const kaspa_bridge *b, const bridge_peer *p)
{
    if (b->nsessions >= b->cfg.max_sessions)
        return "bridged session limit reached (max_sessions)";
    if (p->sessions >= b->cfg.max_sessions_per_peer)
        return "session limit for this peer reached (max_sessions_per_peer)";
    return NULL;
}

/* ---- inbound: a peer's stream becomes a TCP connection to kaspad from its loopback ---------- */

/* While the kaspad connection is being made, the stream is paused and both transports report
 * here; the splice takes them over once kaspad accepted. Whichever goes first closes the
 * other; the session is freed when both are gone. */
static void tcp_dial_connected(void *ud)
{
    bridge_session *s = ud;
    if (start_splice(s) != 0) {
        log_closed(s, "out of memory", NULL, LP2P_ERR_NOMEM, 0, 0);
        lp2p_transport_close(s->tcp, 1);
        lp2p_transport_close(s->st, 1);
        return;
    }
    lp2p_transport_pause_read(s->st, 0);
}

static void tcp_dial_closed(void *ud, int err, const char *why)
{
    bridge_session *s = ud;
    s->tcp_gone = 1;
    log_closed(s, s->b->closing ? "bridge shutting down" : "kaspad refused the connection", why,
               err ? err : LP2P_ERR_REFUSED, 0, 0);
    if (s->st_gone)
        session_free(s);
    else
        lp2p_transport_close(s->st, 1);
}

static void st_dial_closed(void *ud, int err, const char *why)
{
    bridge_session *s = ud;
    s->st_gone = 1;
    log_closed(s,
               s->b->closing ? "bridge shutting down" : "peer stream closed before kaspad answered",
               why, err, 0, 0);
    if (s->tcp_gone)
        session_free(s);
    else
        lp2p_transport_close(s->tcp, 1);
}

static void ignore_data(void *ud, const uint8_t *p, size_t n)
{
}
static void ignore_event(void *ud)
{
}

static const lp2p_transport_events k_tcp_dialing = {
    .on_connected = tcp_dial_connected,
    .on_data = ignore_data,
    .on_eof = ignore_event,
    .on_writable = ignore_event,
    .on_closed = tcp_dial_closed,
};
static const lp2p_transport_events k_st_dialing = {
    .on_data = ignore_data,
    .on_eof = ignore_event,
    .on_writable = ignore_event,
    .on_closed = st_dial_closed,
};

static void on_inbound_stream(lp2p_stream *stream, void *ud)
{
    kaspa_bridge *b = ud;
    lp2p_conn *c = lp2p_stream_conn(stream);
    const lp2p_peer_id *id = lp2p_conn_peer(c);
    int relayed = lp2p_conn_is_relayed(c);
    bridge_peer *p = find_peer(b, id);
    if (b->closing) {
        lp2p_stream_reset(stream);
        return;
    }
    if (!p && !(p = add_inbound_peer(b, id))) {
        log_refused(NULL, "inbound", "too many peers that were not configured have sessions");
        lp2p_stream_reset(stream);
        return;
    }
    if (relayed && !b->cfg.relayed_fallback) {
        log_refused(p, "inbound", "stream over a relay circuit and --relayed-fallback is off");
        lp2p_stream_reset(stream);
        return;
    }
    const char *why = over_limit(b, p);
    if (why) {
        log_refused(p, "inbound", why);
        lp2p_stream_reset(stream);
        return;
    }
    bridge_session *s = session_with_stream(b, p, 0, relayed, stream);
    if (!s)
        return;
    lp2p_transport_bind(s->st, &k_st_dialing, s);
    lp2p_transport_pause_read(s->st, 1);
    log_open(s, lp2p_stream_protocol(stream));
    struct sockaddr_in local;
    memset(&local, 0, sizeof local);
    local.sin_family = AF_INET;
    memcpy(&local.sin_addr, p->lo.ip, 4);
    int rc = lp2p_tcp_dial(b->cfg.loop, (const struct sockaddr *)&local,
                           (const struct sockaddr *)&b->cfg.kaspad, &s->tcp);
    if (rc != 0) {
        s->tcp_gone = 1;
        log_closed(s, "cannot connect to kaspad", uv_strerror(rc), LP2P_ERR_IO, 0, 0);
        lp2p_transport_close(s->st, 1); /* st_dial_closed frees s */
        return;
    }
    lp2p_transport_bind(s->tcp, &k_tcp_dialing, s);
}

static const lp2p_stream_callbacks k_inbound = {.on_open = on_inbound_stream};

/* ---- outbound: kaspad's connection to a peer's loopback becomes a stream to that peer ------- */

static void refuse_closed(void *ud, int err, const char *why)
{
}
static const lp2p_transport_events k_refused = {
    .on_data = ignore_data,
    .on_eof = ignore_event,
    .on_writable = ignore_event,
    .on_closed = refuse_closed,
};

static void refuse_tcp(lp2p_transport *t, bridge_peer *p, const char *reason)
{
    log_refused(p, "outbound", reason);
    lp2p_transport_bind(t, &k_refused, NULL);
    lp2p_transport_close(t, 1);
}

static const lp2p_stream_callbacks k_outbound_stream = {0};

static void on_kaspad_accept(void *ud, lp2p_transport *t)
{
    bridge_peer *p = ud;
    kaspa_bridge *b = p->b;
    if (b->closing) {
        refuse_tcp(t, p, "bridge shutting down");
        return;
    }
    lp2p_conn *c = lp2p_host_find_conn(b->cfg.host, &p->id);
    if (!c) {
        refuse_tcp(t, p, "no connection to the peer yet (dialing)");
        return;
    }
    int relayed = lp2p_conn_is_relayed(c);
    if (relayed && !b->cfg.relayed_fallback) {
        refuse_tcp(t, p, "no direct connection to the peer yet and --relayed-fallback is off");
        return;
    }
    const char *why = over_limit(b, p);
    if (why) {
        refuse_tcp(t, p, why);
        return;
    }
    lp2p_stream *stream;
    if (lp2p_conn_open_stream(c, KASPA_BRIDGE_PROTO, &k_outbound_stream, NULL, &stream) != 0) {
        refuse_tcp(t, p, "cannot open a stream to the peer");
        return;
    }
    bridge_session *s = session_with_stream(b, p, 1, relayed, stream);
    if (!s) {
        refuse_tcp(t, p, "out of memory");
        return;
    }
    s->tcp = t;
    if (start_splice(s) != 0) {
        /* Nothing is bound yet: both transports can just be closed. */
        lp2p_transport_bind(s->st, &k_refused, NULL);
        lp2p_transport_close(s->st, 1);
        session_free(s);
        refuse_tcp(t, p, "out of memory");
        return;
    }
    log_open(s, KASPA_BRIDGE_PROTO);
}

/* ---- keeping the configured peers connected ---------------------------------------------------
 */

static void on_peer_dialed(lp2p_conn *c, int err, void *ud)
{
    bridge_peer *p = ud;
    kaspa_bridge *b = p->b;
    b->dials_out--;
    p->dialing = 0;
    if (b->closing)
        return;
    if (err < 0) {
        lp2p_log(LP2P_INFO, "bridge_peer_dial", LF_S("peer", p->id_str), LF_S("result", "failed"),
                 LF_S("error", lp2p_strerror(err)), LF_U("retry_ms", p->backoff_ms));
        p->next_dial_ms = now_ms(b) + p->backoff_ms;
        p->backoff_ms =
            p->backoff_ms * 2 > b->cfg.redial_max_ms ? b->cfg.redial_max_ms : p->backoff_ms * 2;
        return;
    }
    lp2p_log(LP2P_INFO, "bridge_peer_dial", LF_S("peer", p->id_str), LF_S("result", "connected"),
             LF_B("relayed", lp2p_conn_is_relayed(c)));
}

static void keep_peer(kaspa_bridge *b, bridge_peer *p, uint64_t now)
{
    lp2p_conn *c = lp2p_host_find_conn(b->cfg.host, &p->id);
    if (c && !lp2p_conn_is_relayed(c)) {
        if (!p->direct)
            lp2p_log(LP2P_INFO, "bridge_peer_direct", LF_S("peer", p->id_str),
                     LF_S("loopback", p->lo_str), LF_S("addr", lp2p_conn_remote_addr(c)));
        p->direct = 1;
        p->relayed_since_ms = 0;
        p->backoff_ms = b->cfg.redial_min_ms;
        return;
    }
    if (p->direct)
        lp2p_log(LP2P_INFO, "bridge_peer_lost", LF_S("peer", p->id_str));
    p->direct = 0;
    if (c) {
        if (!p->relayed_since_ms)
            p->relayed_since_ms = now;
        if (!b->cfg.relayed_fallback && p->sessions == 0 &&
            now - p->relayed_since_ms >= b->cfg.punch_wait_ms) {
            lp2p_log(LP2P_WARN, "bridge_punch_timeout", LF_S("peer", p->id_str),
                     LF_U("waited_ms", now - p->relayed_since_ms), LF_U("retry_ms", p->backoff_ms));
            p->relayed_since_ms = 0;
            p->next_dial_ms = now + p->backoff_ms;
            p->backoff_ms =
                p->backoff_ms * 2 > b->cfg.redial_max_ms ? b->cfg.redial_max_ms : p->backoff_ms * 2;
            lp2p_conn_close(c, LP2P_ERR_TIMEOUT);
        }
        return;
    }
    p->relayed_since_ms = 0;
    if (p->dialing || p->naddrs == 0 || now < p->next_dial_ms)
        return;
    const char *ma = p->addrs[p->next_addr++ % p->naddrs];
    p->dialing = 1;
    b->dials_out++;
    if (lp2p_host_dial(b->cfg.host, ma, on_peer_dialed, p) < 0) {
        b->dials_out--;
        p->dialing = 0;
        p->next_dial_ms = now + p->backoff_ms;
        lp2p_log(LP2P_WARN, "bridge_peer_dial", LF_S("peer", p->id_str), LF_S("addr", ma),
                 LF_S("result", "bad address"));
    }
}

static void on_keeper(uv_timer_t *t)
{
    kaspa_bridge *b = t->data;
    uint64_t now = now_ms(b);
    for (size_t i = 0; i < b->cfg.npeers; i++)
        keep_peer(b, &b->peers[i], now);
}

/* ---- setup and teardown -----------------------------------------------------------------------
 */

void kaspa_bridge_config_default(kaspa_bridge_config *c, uv_loop_t *loop, lp2p_host *host)
{
    memset(c, 0, sizeof *c);
    c->loop = loop;
    c->host = host;
    struct sockaddr_in *k = (struct sockaddr_in *)&c->kaspad;
    uv_ip4_addr("127.0.0.1", 16111, k);
    c->peer_port = 16113;
    c->max_sessions_per_peer = 8;
    c->max_sessions = 128;
    c->max_inbound_peers = 64;
    c->punch_wait_ms = 20000;
    c->redial_min_ms = 1000;
    c->redial_max_ms = 60000;
}

static int peer_addr_copy(bridge_peer *p, const char *ma)
{
    const char *tail = strstr(ma, "/p2p/");
    const char *last = NULL;
    while (tail) { /* the last /p2p/ component names the target */
        last = tail;
        tail = strstr(tail + 5, "/p2p/");
    }
    int named = last && strcmp(last + 5, p->id_str) == 0;
    size_t n = strlen(ma) + (named ? 0 : 5 + strlen(p->id_str)) + 1;
    if (n > ADDR_MAX)
        return LP2P_ERR_INVAL;
    char *s = malloc(n);
    if (!s)
        return LP2P_ERR_NOMEM;
    snprintf(s, n, named ? "%s" : "%s/p2p/%s", ma, p->id_str);
    p->addrs[p->naddrs++] = s;
    return 0;
}

int kaspa_bridge_new(const kaspa_bridge_config *c, kaspa_bridge **out)
{
    if (!c || !c->loop || !c->host || !out || c->npeers > KASPA_BRIDGE_MAX_PEERS ||
        (c->npeers && !c->peers))
        return LP2P_ERR_INVAL;
    *out = NULL;
    kaspa_bridge *b = calloc(1, sizeof *b);
    if (!b)
        return LP2P_ERR_NOMEM;
    b->cfg = *c;
    b->cfg.peers = NULL;
    lp2p_list_init(&b->sessions);
    b->cap = c->npeers + c->max_inbound_peers;
    b->peers = calloc(b->cap ? b->cap : 1, sizeof *b->peers);
    lp2p_peer_id *ids = calloc(c->npeers ? c->npeers : 1, sizeof *ids);
    kaspa_loopback *los = calloc(c->npeers ? c->npeers : 1, sizeof *los);
    int rc = (!b->peers || !ids || !los) ? LP2P_ERR_NOMEM : 0;
    for (size_t i = 0; rc == 0 && i < c->npeers; i++) {
        ids[i] = c->peers[i].id;
        for (size_t j = 0; j < i; j++)
            if (lp2p_peer_id_equal(&ids[i], &ids[j]))
                rc = LP2P_ERR_EXISTS;
    }
    if (rc == 0)
        rc = kaspa_loopback_assign(ids, c->npeers, los);
    for (size_t i = 0; rc == 0 && i < c->npeers; i++) {
        bridge_peer *p = &b->peers[i];
        p->b = b;
        p->id = ids[i];
        p->lo = los[i];
        p->configured = 1;
        p->backoff_ms = c->redial_min_ms;
        lp2p_peer_id_to_string(&p->id, p->id_str, sizeof p->id_str);
        kaspa_loopback_str(&p->lo, p->lo_str);
        for (size_t k = 0; rc == 0 && k < c->peers[i].naddrs && k < KASPA_BRIDGE_MAX_PEER_ADDRS;
             k++)
            rc = peer_addr_copy(p, c->peers[i].addrs[k]);
        b->npeers++;
    }
    free(ids);
    free(los);
    for (size_t i = 0; rc == 0 && i < b->npeers; i++) {
        bridge_peer *p = &b->peers[i];
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons(c->peer_port);
        memcpy(&sa.sin_addr, p->lo.ip, 4);
        int uvrc = lp2p_tcp_listener_new(c->loop, (const struct sockaddr *)&sa, 128,
                                         on_kaspad_accept, p, &p->listener);
        char ep[64];
        kaspa_bridge_peer_endpoint(b, i, ep, sizeof ep);
        if (uvrc != 0) {
            lp2p_log(LP2P_ERROR, "bridge_listen", LF_S("peer", p->id_str), LF_S("addr", ep),
                     LF_S("error", uv_strerror(uvrc)));
            p->listener = NULL;
            rc = LP2P_ERR_IO;
            break;
        }
        char flag[80];
        snprintf(flag, sizeof flag, "--connect=%s", ep);
        lp2p_log(LP2P_INFO, "bridge_listen", LF_S("peer", p->id_str), LF_S("addr", ep),
                 LF_S("kaspad_flag", flag));
    }
    if (rc == 0)
        rc = lp2p_host_handle(c->host, KASPA_BRIDGE_PROTO, &k_inbound, b);
    if (rc == 0)
        rc = lp2p_host_handle(c->host, KASPA_BRIDGE_PROTO_POC, &k_inbound, b);
    uv_timer_init(c->loop, &b->keeper);
    b->keeper.data = b;
    if (rc != 0) {
        kaspa_bridge_close(b);
        *out = b; /* the caller frees it after the loop ran the closes */
        return rc;
    }
    uv_timer_start(&b->keeper, on_keeper, 0, KEEPER_TICK_MS);
    *out = b;
    return 0;
}

int kaspa_bridge_peer_endpoint(const kaspa_bridge *b, size_t i, char *out, size_t n)
{
    if (i >= b->cfg.npeers)
        return LP2P_ERR_INVAL;
    snprintf(out, n, "%s:%u", b->peers[i].lo_str, b->cfg.peer_port);
    return 0;
}

size_t kaspa_bridge_sessions(const kaspa_bridge *b)
{
    return b->nsessions;
}

void kaspa_bridge_close(kaspa_bridge *b)
{
    if (!b || b->closing)
        return;
    b->closing = 1;
    uv_timer_stop(&b->keeper);
    uv_close((uv_handle_t *)&b->keeper, NULL);
    for (size_t i = 0; i < b->npeers; i++)
        if (b->peers[i].listener) {
            lp2p_tcp_listener_close(b->peers[i].listener, NULL, NULL);
            b->peers[i].listener = NULL;
        }
    lp2p_list *pos, *tmp;
    lp2p_list_foreach_safe(pos, tmp, &b->sessions)
    {
        bridge_session *s = lp2p_container_of(pos, bridge_session, link);
        if (s->state == S_SPLICED) {
            lp2p_splice_close(s->sp, 1);
        } else {
            if (!s->tcp_gone && s->tcp)
                lp2p_transport_close(s->tcp, 1);
            if (!s->st_gone)
                lp2p_transport_close(s->st, 1);
        }
    }
}

void kaspa_bridge_free(kaspa_bridge *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->npeers; i++)
        for (size_t k = 0; k < b->peers[i].naddrs; k++)
            free(b->peers[i].addrs[k]);
    free(b->peers);
    free(b);
}
