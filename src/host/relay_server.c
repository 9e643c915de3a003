/* Circuit Relay v2 server: the service (see lp2p/relay_server.h). Its configuration, the
 * addresses it hands out, the timer that runs the core's deadlines and the hop streams'
 * timeouts, and the host's connection events (a closed connection ends its reservations).
 * The circuits themselves are in relay_circuit.c. */
#include "host/relay_server_internal.h"
#include "lp2p/err.h"
#include "util/log.h"
#include "wire/multiaddr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int k_refusal_status[LP2P_RELAY_SERVER_NREFUSALS] = {
    LP2P_RELAY_STATUS_RESERVATION_REFUSED, LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED,
    LP2P_RELAY_STATUS_PERMISSION_DENIED,   LP2P_RELAY_STATUS_CONNECTION_FAILED,
    LP2P_RELAY_STATUS_NO_RESERVATION,      LP2P_RELAY_STATUS_MALFORMED_MESSAGE,
    LP2P_RELAY_STATUS_UNEXPECTED_MESSAGE,
};

const char *lp2p_relay_server_refusal_name(size_t i)
{
    return i < LP2P_RELAY_SERVER_NREFUSALS ? lp2p_relay_status_name(k_refusal_status[i]) : "";
}

size_t relay_refusal_index(int status)
{
    for (size_t i = 0; i < LP2P_RELAY_SERVER_NREFUSALS; i++)
        if (k_refusal_status[i] == status)
            return i;
    return 5; /* anything else (none today): counted as MALFORMED_MESSAGE */
}

void lp2p_relay_server_config_default(lp2p_relay_server_config *c)
{
    memset(c, 0, sizeof(*c));
    lp2p_relay_config_default(&c->limits);
    c->limits.trace = LP2P_TRACE_LOG;
    c->stream_timeout_ms = 60 * 1000;
    c->max_pending_hops_per_conn = 10;
    c->max_buffered = 4u << 20;
}

uint64_t relay_server_now(const lp2p_relay_server *r)
{
    return uv_now(r->loop);
}

/* ---- timer: the core's deadlines and the hop stream timeout ------------------------------ */

static void on_timer(uv_timer_t *t);

void relay_server_rearm(lp2p_relay_server *r)
{
    if (r->closing)
        return;
    uint64_t d = lp2p_relay_next_deadline(r->core);
    lp2p_list *pos, *tmp;
    lp2p_list_foreach_safe(pos, tmp, &r->circs)
    {
        circ *c = lp2p_container_of(pos, circ, link);
        if (c->deadline_ms && c->deadline_ms < d)
            d = c->deadline_ms;
    }
    if (d == UINT64_MAX) {
        uv_timer_stop(&r->timer);
        return;
    }
    uint64_t now = relay_server_now(r);
    uv_timer_start(&r->timer, on_timer, d > now ? d - now : 0, 0);
}

static circ *find_circ(lp2p_relay_server *r, uint64_t id)
{
    lp2p_list *pos, *tmp;
    lp2p_list_foreach_safe(pos, tmp, &r->circs)
    {
        circ *c = lp2p_container_of(pos, circ, link);
        if (c->id == id && c->in_core)
            return c;
    }
    return NULL;
}

static void expire_circuit(lp2p_relay_server *r, uint64_t id, int was_pending)
{
    circ *c = find_circ(r, id);
    if (!c)
        return;
    relay_circ_ref(c);
    c->in_core = 0; /* the core removed it already */
    if (was_pending == LP2P_RELAY_EXPIRED_PENDING) {
        /* The target never answered stop CONNECT: the source hears CONNECTION_FAILED. */
        lp2p_log(LP2P_INFO, "circuit_failed", LF_S("src", c->src), LF_S("dst", c->dst),
                 LF_S("reason", "target did not answer stop CONNECT in time"));
        r->st.circuits_refused_total[relay_refusal_index(LP2P_RELAY_STATUS_CONNECTION_FAILED)]++;
        lp2p_buf out;
        lp2p_buf_init(&out);
        relay_circ_linger(c, C_DONE);
        if (lp2p_relay_msg_encode_status(LP2P_RELAY_HOP, LP2P_RELAY_STATUS_CONNECTION_FAILED,
                                         &out) == 0 &&
            relay_write_buf(c->s[SRC], &out) == 0)
            lp2p_stream_close(c->s[SRC]);
        lp2p_buf_free(&out);
        if (c->s[DST])
            lp2p_stream_reset(c->s[DST]);
    } else if (was_pending == LP2P_RELAY_EXPIRED_IDLE) {
        lp2p_log(LP2P_INFO, "circuit_limit", LF_S("src", c->src), LF_S("dst", c->dst),
                 LF_S("reason", "idle under pressure"),
                 LF_U("bytes", c->bytes[SRC] + c->bytes[DST]));
        relay_circ_abort(c, "idle under pressure");
    } else {
        lp2p_log(LP2P_INFO, "circuit_limit", LF_S("src", c->src), LF_S("dst", c->dst),
                 LF_S("reason", "duration"), LF_U("bytes", c->bytes[SRC] + c->bytes[DST]),
                 LF_U("limit_s", r->cfg.limits.circuit_duration_ms / 1000));
        r->st.circuits_limited_total[1]++;
        relay_circ_abort(c, "duration limit");
    }
    relay_circ_unref(c);
}

static void on_timer(uv_timer_t *t)
{
    lp2p_relay_server *r = t->data;
    uint64_t now = relay_server_now(r);
    lp2p_relay_tick(r->core, now);
    uint64_t id;
    int was_pending;
    while (lp2p_relay_poll_expired(r->core, &id, &was_pending) == 1)
        expire_circuit(r, id, was_pending);
    lp2p_list *pos, *tmp;
    lp2p_list_foreach_safe(pos, tmp, &r->circs)
    {
        circ *c = lp2p_container_of(pos, circ, link);
        if (!c->deadline_ms || c->deadline_ms > now)
            continue;
        c->deadline_ms = 0;
        relay_circ_ref(c);
        if (c->state == C_WAIT_MSG)
            lp2p_log(LP2P_INFO, "hop_timeout", LF_S("peer", c->src), LF_S("ip", c->ip),
                     LF_U("after_ms", r->cfg.stream_timeout_ms));
        relay_circ_abort(c, "stream timeout");
        relay_circ_unref(c);
    }
    relay_server_rearm(r);
}

/* ---- service ------------------------------------------------------------------------------- */

static int set_addrs(lp2p_relay_server *r, const char *const *texts, size_t n)
{
    lp2p_multiaddr mas[RELAY_ADDRS_MAX];
    const uint8_t *ptrs[RELAY_ADDRS_MAX];
    size_t lens[RELAY_ADDRS_MAX], k = 0;
    const lp2p_peer_id *me = lp2p_host_peer_id(r->host);
    int rc = 0;
    for (size_t i = 0; i < n && k < RELAY_ADDRS_MAX; i++) {
        char err[128] = "";
        lp2p_multiaddr ma = {0};
        if ((rc = lp2p_multiaddr_parse(&ma, texts[i], err, sizeof(err))) < 0) {
            lp2p_log(LP2P_ERROR, "relay_bad_address", LF_S("addr", texts[i]), LF_S("reason", err));
            goto out;
        }
        lp2p_peer_id pid;
        if (lp2p_multiaddr_peer_id(&ma, &pid) < 0 &&
            (rc = lp2p_multiaddr_append_p2p(&ma, me)) < 0) {
            lp2p_multiaddr_free(&ma);
            goto out;
        }
        char text[LP2P_MULTIADDR_STR_MAX];
        if (lp2p_multiaddr_to_string(&ma, text, sizeof(text)) == 0)
            lp2p_log(LP2P_INFO, "relay_address", LF_S("addr", text));
        mas[k] = ma;
        ptrs[k] = ma.bytes;
        lens[k] = ma.len;
        k++;
    }
    if (k == 0)
        lp2p_log(LP2P_WARN, "relay_no_address",
                 LF_S("reason", "no interface address to announce: reservations carry no "
                                "relay address; pass --announce"));
    rc = lp2p_relay_set_addrs(r->core, ptrs, lens, k);
out:
    for (size_t i = 0; i < k; i++)
        lp2p_multiaddr_free(&mas[i]);
    return rc;
}

/* No --announce: the host's concrete listen addresses (0.0.0.0 expanded to the interfaces;
 * rust-libp2p rejects a reservation without addresses, NoAddressesInReservation). */
static int set_listen_addrs(lp2p_relay_server *r)
{
    lp2p_multiaddr mas[HOST_MAX_ADVERTISED];
    char texts[HOST_MAX_ADVERTISED][LP2P_MULTIADDR_STR_MAX];
    const char *ptrs[HOST_MAX_ADVERTISED];
    size_t n = lp2p__host_advertised_addrs(r->host, mas, HOST_MAX_ADVERTISED), k = 0;
    for (size_t i = 0; i < n; i++) {
        if (lp2p_multiaddr_to_string(&mas[i], texts[k], sizeof(texts[k])) == 0) {
            ptrs[k] = texts[k];
            k++;
        }
        lp2p_multiaddr_free(&mas[i]);
    }
    return set_addrs(r, ptrs, k);
}

/* ---- connection events ---------------------------------------------------------------- */

static void rs_on_connected(lp2p_conn *c, void *ud)
{
    lp2p_relay_server *r = ud;
    r->st.connections_active++;
    r->st.connections_total++;
}

/* A reservation lives as long as the connection it was made on. */
static void rs_on_disconnected(lp2p_conn *c, int reason, void *ud)
{
    lp2p_relay_server *r = ud;
    if (r->st.connections_active)
        r->st.connections_active--;
    if (!r->closing)
        lp2p_relay_conn_closed(r->core, (uint64_t)(uintptr_t)c);
}

static void rs_on_host_close(lp2p_host *h, void *ud)
{
    lp2p_relay_server_close(ud);
}

/* Connection pressure must not evict a peer that holds a reservation. */
static int rs_keeps(const lp2p_conn *c, void *ud)
{
    const lp2p_relay_server *r = ud;
    return lp2p_relay_conn_has_reservation(r->core, (uint64_t)(uintptr_t)c);
}

int lp2p_relay_server_new(lp2p_host *h, const lp2p_keypair *kp, const lp2p_relay_server_config *cfg,
                          lp2p_relay_server **out)
{
    lp2p_relay_server *r = calloc(1, sizeof(*r));
    if (!r)
        return LP2P_ERR_NOMEM;
    r->loop = h->loop;
    r->host = h;
    r->cfg = *cfg;
    lp2p_list_init(&r->circs);
    int rc = lp2p_relay_new(&cfg->limits, kp, &r->core);
    if (rc < 0) {
        free(r);
        return rc;
    }
    if (cfg->nannounce)
        rc = set_addrs(r, cfg->announce, cfg->nannounce);
    else
        rc = set_listen_addrs(r);
    if (rc == 0)
        rc = lp2p_host_handle(h, LP2P_RELAY_HOP_PROTO, &lp2p__relay_hop_handler, r);
    if (rc < 0) {
        lp2p_relay_del(r->core);
        free(r);
        return rc;
    }
    host_observer o = {
        .cb = {.on_connected = rs_on_connected, .on_disconnected = rs_on_disconnected},
        .on_host_close = rs_on_host_close,
        .keeps = rs_keeps,
        .ud = r};
    r->sub = lp2p__host_observe(h, &o);
    if (r->sub < 0) {
        rc = r->sub;
        lp2p_relay_del(r->core);
        free(r);
        return rc;
    }
    uv_timer_init(r->loop, &r->timer);
    r->timer.data = r;
    *out = r;
    return 0;
}

static void svc_free(uv_handle_t *hd)
{
    lp2p_relay_server *r = hd->data;
    lp2p_relay_del(r->core);
    free(r);
}

void lp2p_relay_server_close(lp2p_relay_server *r)
{
    if (!r || r->closing)
        return;
    r->closing = 1;
    lp2p_host_unsubscribe(r->host, r->sub);
    lp2p_list *pos, *tmp;
    lp2p_list_foreach_safe(pos, tmp, &r->circs)
    {
        circ *c = lp2p_container_of(pos, circ, link);
        c->busy++; /* nothing below may free it: we do */
        c->aborting = 1;
        c->reason = "relay shutting down";
        for (int i = 0; i < 2; i++) {
            lp2p_stream *s = c->s[i];
            c->s[i] = NULL;
            if (s)
                lp2p_stream_detach(s, 1);
        }
        relay_circ_finish(c);
    }
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, svc_free);
}

void lp2p_relay_server_stats_get(const lp2p_relay_server *r, lp2p_relay_server_stats *out)
{
    *out = r->st;
    out->reservations_active = lp2p_relay_reservation_count(r->core);
}
