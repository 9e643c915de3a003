/* Reservation keeper: holds a Circuit Relay v2 reservation on each configured relay.
 *
 *   RESERVE at start → STATUS OK{expire, addrs, voucher} → log `reservation` with our
 *   /p2p-circuit addresses → refresh at 3/4 of the remaining TTL (relay_stop.h schedule)
 *   relay connection lost or RESERVE refused → back off (1 s doubling to the host's
 *   reserve_backoff_max_ms, 20 s by default, with jitter) and retry.
 *
 * The voucher is checked (signed by the relay, naming us); a bad one counts as a refusal. */
#include "host/host_internal.h"
#include "lp2p/host_stats.h"
#include "lp2p/err.h"
#include "net/wall_clock.h"
#include "proto/relay_stop.h"
#include "util/log.h"
#include "wire/lpm.h"
#include "wire/multiaddr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reservation {
    lp2p_list link;
    lp2p_host *h;
    char *text; /* relay multiaddr with /p2p/R */
    lp2p_multiaddr ma;
    lp2p_peer_id relay;
    char relay_str[LP2P_PEER_ID_STR_MAX];
    lp2p_relay_refresh rf;
    uv_timer_t timer;
    lp2p_lpm lpm;
    lp2p_stream *s; /* hop stream in flight */
    int dialing;
    int closing;
} reservation;

static void rsv_arm(reservation *r);

static void rsv_failed(reservation *r, const char *why)
{
    lp2p_relay_quota_release(r->h->relay_quota, &r->ma); /* the quota slot comes back */
    lp2p_relay_refresh_failed(&r->rf, lp2p__now(r->h));
    uint64_t next = lp2p_relay_refresh_next_deadline(&r->rf);
    lp2p_log(LP2P_WARN, "reservation_failed", LF_S("relay", r->relay_str), LF_S("reason", why),
             LF_U("retry_in_ms", next > lp2p__now(r->h) ? next - lp2p__now(r->h) : 0));
    rsv_arm(r);
}

/* JSON array of our circuit addresses through this relay, for the log. */
static void circuit_addrs_json(reservation *r, const lp2p_relay_reservation *rsv, lp2p_buf *js)
{
    char self[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_host_peer_id(r->h), self, sizeof(self));
    lp2p_buf_append_byte(js, '[');
    for (size_t i = 0; i < rsv->naddrs; i++) {
        lp2p_multiaddr ma = {0};
        char t[LP2P_MULTIADDR_STR_MAX], line[LP2P_MULTIADDR_STR_MAX + 200];
        if (lp2p_multiaddr_from_bytes(&ma, rsv->addrs[i], rsv->addr_lens[i], NULL, 0) < 0)
            continue;
        lp2p_multiaddr_strip_p2p(&ma);
        lp2p_multiaddr_to_string(&ma, t, sizeof(t));
        lp2p_multiaddr_free(&ma);
        int n = snprintf(line, sizeof(line), "%s\"%s/p2p/%s/p2p-circuit/p2p/%s\"",
                         lp2p_buf_size(js) > 1 ? "," : "", t, r->relay_str, self);
        lp2p_buf_append(js, line, (size_t)n);
    }
    lp2p_buf_append(js, "]", 2);
}

static void hop_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    reservation *r = ud;
    size_t used = 0;
    lp2p_view msg;
    int rc = lp2p_lpm_read(&r->lpm, p, n, &used, &msg);
    if (rc == 0)
        return;
    r->s = NULL;
    lp2p_stream_detach(s, rc < 0);
    if (rc < 0) {
        rsv_failed(r, "malformed answer from the relay");
        return;
    }
    lp2p_relay_reservation rsv;
    memset(&rsv, 0, sizeof(rsv));
    int status = 0;
    rc = lp2p_relay_client_on_reserve_reply(msg.ptr, msg.len, &r->relay, lp2p_host_peer_id(r->h),
                                            &rsv, &status, &LP2P_TRACE_LOG);
    if (rc < 0) {
        char why[96];
        snprintf(why, sizeof(why), "%s",
                 rc == LP2P_ERR_AUTH ? "voucher not signed by the relay or not for us"
                 : status            ? lp2p_relay_status_name(status)
                                     : "malformed STATUS");
        rsv_failed(r, why);
        return;
    }
    uint64_t now = lp2p__now(r->h), unix_now = lp2p_wall_ms() / 1000;
    lp2p_relay_refresh_ok(&r->rf, now, unix_now, rsv.expire_unix_s);
    lp2p_relay_quota_confirm(r->h->relay_quota, &r->ma); /* STATE on a refresh: fine */
    lp2p_buf js;
    lp2p_buf_init(&js);
    circuit_addrs_json(r, &rsv, &js);
    lp2p_log(LP2P_INFO, "reservation", LF_S("relay", r->relay_str),
             LF_U("expires", rsv.expire_unix_s), LF_J("addrs", (const char *)lp2p_buf_head(&js)),
             LF_U("limit_duration_s", rsv.limit_duration_s), LF_U("limit_data", rsv.limit_data),
             LF_U("refresh_in_s", (lp2p_relay_refresh_next_deadline(&r->rf) - now) / 1000));
    lp2p_buf_free(&js);
    lp2p_relay_reservation_free(&rsv);
    rsv_arm(r);
}

static void hop_on_close(lp2p_stream *s, int err, void *ud)
{
    reservation *r = ud;
    r->s = NULL;
    rsv_failed(r, "hop stream closed before the relay answered");
}

static const lp2p_stream_callbacks k_hop = {.on_data = hop_on_data, .on_close = hop_on_close};

static void rsv_send(reservation *r, lp2p_conn *c)
{
    lp2p_lpm_free(&r->lpm);
    lp2p_lpm_init(&r->lpm, LP2P_RELAY_MSG_MAX);
    int rc = lp2p_conn_open_stream(c, LP2P_RELAY_HOP_PROTO, &k_hop, r, &r->s);
    if (rc < 0) {
        r->s = NULL;
        rsv_failed(r, "could not open a hop stream");
        return;
    }
    lp2p_buf out;
    lp2p_buf_init(&out);
    lp2p_relay_client_reserve(&out);
    lp2p_stream_write(r->s, lp2p_buf_head(&out), lp2p_buf_size(&out));
    lp2p_buf_free(&out);
}

static void rsv_dialed(lp2p_conn *c, int err, void *ud)
{
    reservation *r = ud;
    r->dialing = 0;
    if (r->closing)
        return;
    if (err < 0 || !c) {
        rsv_failed(r, "could not connect to the relay");
        return;
    }
    rsv_send(r, c);
}

static void rsv_on_timer(uv_timer_t *t)
{
    reservation *r = t->data;
    uint64_t now = lp2p__now(r->h);
    if (r->s || r->dialing || !lp2p_relay_refresh_due(&r->rf, now)) {
        rsv_arm(r);
        return;
    }
    /* The relay quota: pending while we dial and RESERVE, confirmed on STATUS OK. */
    int q = lp2p_relay_quota_reserve(r->h->relay_quota, &r->ma);
    if (q == LP2P_ERR_LIMIT) {
        r->rf.in_flight = 0;
        rsv_failed(r, "relay quota full (too many relays in use)");
        return;
    }
    lp2p_conn *c = lp2p_host_find_conn(r->h, &r->relay);
    if (c && !c->relayed) {
        rsv_send(r, c);
        return;
    }
    r->dialing = 1;
    if (lp2p_host_dial(r->h, r->text, rsv_dialed, r) < 0) {
        r->dialing = 0;
        rsv_failed(r, "bad relay address");
    }
}

static void rsv_arm(reservation *r)
{
    if (r->closing)
        return;
    uint64_t now = lp2p__now(r->h), dl = lp2p_relay_refresh_next_deadline(&r->rf);
    if (dl == UINT64_MAX)
        return;
    uv_timer_start(&r->timer, rsv_on_timer, dl > now ? dl - now : 0, 0);
}

int lp2p_host_reserve(lp2p_host *h, const char *relay_text)
{
    lp2p_multiaddr ma = {0};
    char err[128] = "";
    int rc = lp2p_multiaddr_parse(&ma, relay_text, err, sizeof(err));
    lp2p_multiaddr ma_keep = {0};
    if (rc == 0)
        lp2p_multiaddr_copy(&ma_keep, &ma);
    if (rc < 0) {
        lp2p_log(LP2P_ERROR, "reservation_failed", LF_S("relay", relay_text), LF_S("reason", err));
        return rc;
    }
    reservation *r = calloc(1, sizeof(*r));
    if (!r) {
        lp2p_multiaddr_free(&ma);
        lp2p_multiaddr_free(&ma_keep);
        return LP2P_ERR_NOMEM;
    }
    rc = lp2p_multiaddr_peer_id(&ma, &r->relay);
    lp2p_multiaddr_free(&ma);
    r->ma = ma_keep;
    if (rc < 0) {
        lp2p_multiaddr_free(&r->ma);
        free(r);
        lp2p_log(LP2P_ERROR, "reservation_failed", LF_S("relay", relay_text),
                 LF_S("reason", "the relay address must end in /p2p/<relay peer id>"));
        return LP2P_ERR_INVAL;
    }
    r->h = h;
    r->text = strdup(relay_text);
    lp2p_peer_id_to_string(&r->relay, r->relay_str, sizeof(r->relay_str));
    lp2p_lpm_init(&r->lpm, LP2P_RELAY_MSG_MAX);
    lp2p_relay_refresh_init(&r->rf, lp2p__now(h));
    r->rf.trace = LP2P_TRACE_LOG;
    r->rf.backoff_max_ms = h->cfg.reserve_backoff_max_ms;
    r->rf.jitter_state = (uv_hrtime() ^ (uint64_t)(uintptr_t)r) | 1;
    uv_timer_init(h->loop, &r->timer);
    r->timer.data = r;
    h->open_handles++;
    lp2p_list_insert_tail(&h->reservations, &r->link);
    rsv_arm(r);
    return 0;
}

static void rsv_conn_gone(lp2p_conn *c, int reason, void *ud)
{
    lp2p_host *h = c->host;
    lp2p_list *pos;
    for (pos = h->reservations.next; pos != &h->reservations; pos = pos->next) {
        reservation *r = lp2p_container_of(pos, reservation, link);
        if (c->relayed || !lp2p_peer_id_equal(&r->relay, &c->peer) || r->closing)
            continue;
        /* A reservation lives only as long as the connection to the relay. */
        r->rf.valid_until_ms = 0;
        if (!r->s && !r->dialing)
            rsv_failed(r, "connection to the relay lost");
    }
}

static void rsv_closed(uv_handle_t *hd)
{
    reservation *r = hd->data;
    lp2p_host *h = r->h;
    lp2p_lpm_free(&r->lpm);
    lp2p_multiaddr_free(&r->ma);
    free(r->text);
    free(r);
    if (--h->open_handles == 0 && h->closing)
        lp2p__host_free(h);
}

static void rsv_host_close(lp2p_host *h, void *ud)
{
    while (!lp2p_list_empty(&h->reservations)) {
        lp2p_list *e = h->reservations.next;
        lp2p_list_remove(e);
        reservation *r = lp2p_container_of(e, reservation, link);
        r->closing = 1;
        uv_close((uv_handle_t *)&r->timer, rsv_closed);
    }
}

void lp2p__reservations_register(lp2p_host *h)
{
    host_observer o = {
        .cb = {.on_disconnected = rsv_conn_gone}, .on_host_close = rsv_host_close, .order = 30};
    lp2p__host_observe(h, &o);
}

/* For health checks and metrics (lp2p/host_stats.h). */
size_t lp2p_host_reservations_held(const lp2p_host *h, size_t *configured)
{
    size_t held = 0, n = 0;
    uint64_t now = lp2p__now(h);
    for (const lp2p_list *pos = h->reservations.next; pos != &h->reservations; pos = pos->next) {
        const reservation *r = lp2p_container_of(pos, reservation, link);
        n++;
        held += lp2p_relay_refresh_valid(&r->rf, now) ? 1 : 0;
    }
    if (configured)
        *configured = n;
    return held;
}

size_t lp2p_host_reservations(const lp2p_host *h, lp2p_reservation_info *out, size_t max)
{
    size_t n = 0;
    uint64_t now = lp2p__now(h);
    for (const lp2p_list *pos = h->reservations.next; pos != &h->reservations; pos = pos->next) {
        const reservation *r = lp2p_container_of(pos, reservation, link);
        if (n < max) {
            lp2p_reservation_info *i = &out[n];
            snprintf(i->relay, sizeof(i->relay), "%s", r->relay_str);
            i->held = lp2p_relay_refresh_valid(&r->rf, now);
            i->expires_in_ms = i->held ? r->rf.valid_until_ms - now : 0;
            i->failures = r->rf.failures;
        }
        n++;
    }
    return n;
}
