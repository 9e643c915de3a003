/* Relay v2 client side: see relay_stop.h. */
#include "proto/relay_stop.h"

#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"

void lp2p_relay_reservation_free(lp2p_relay_reservation *rsv)
{
    for (size_t i = 0; i < rsv->naddrs; i++)
        free(rsv->addrs[i]);
    free(rsv->addrs);
    free(rsv->addr_lens);
    free(rsv->voucher);
    memset(rsv, 0, sizeof(*rsv));
}

int lp2p_relay_client_reserve(lp2p_buf *out)
{
    lp2p_relay_msg m = {.kind = LP2P_RELAY_HOP, .type = LP2P_RELAY_RESERVE};
    return lp2p_relay_msg_encode(&m, out);
}

int lp2p_relay_client_connect(const lp2p_peer_id *target, lp2p_buf *out)
{
    lp2p_relay_msg m = {.kind = LP2P_RELAY_HOP,
                        .type = LP2P_RELAY_CONNECT,
                        .has_peer = 1,
                        .peer_id = lp2p_view_make(target->bytes, target->len)};
    return lp2p_relay_msg_encode(&m, out);
}

/* Decodes a hop STATUS; 0 with m filled when OK, else an error (m freed). */
static int hop_status(const uint8_t *body, size_t len, lp2p_relay_msg *m, int *status_out,
                      const char *what, const lp2p_trace *trace)
{
    *status_out = 0;
    int rc = lp2p_relay_msg_decode(LP2P_RELAY_HOP, body, len, m);
    if (rc < 0) {
        lp2p_emit(trace, LP2P_WARN, "relay_bad_reply", LF_S("request", what),
                  LF_S("reason", "undecodable"));
        return rc;
    }
    if (m->type != LP2P_RELAY_STATUS || !m->has_status) {
        lp2p_emit(trace, LP2P_WARN, "relay_bad_reply", LF_S("request", what),
                  LF_S("reason", "not a STATUS"));
        lp2p_relay_msg_free(m);
        return LP2P_ERR_DECODE;
    }
    *status_out = m->status;
    if (m->status != LP2P_RELAY_STATUS_OK) {
        lp2p_emit(trace, LP2P_INFO, "relay_refused_us", LF_S("request", what),
                  LF_S("status", lp2p_relay_status_name(m->status)));
        lp2p_relay_msg_free(m);
        return LP2P_ERR_REFUSED;
    }
    return 0;
}

int lp2p_relay_client_on_reserve_reply(const uint8_t *body, size_t len, const lp2p_peer_id *relay,
                                       const lp2p_peer_id *self, lp2p_relay_reservation *out,
                                       int *status_out, const lp2p_trace *trace)
{
    memset(out, 0, sizeof(*out));
    lp2p_relay_msg m;
    int rc = hop_status(body, len, &m, status_out, "reserve", trace);
    if (rc < 0)
        return rc;
    if (!m.has_reservation) {
        lp2p_emit(trace, LP2P_WARN, "relay_bad_reply", LF_S("request", "reserve"),
                  LF_S("reason", "OK without a reservation"));
        rc = LP2P_ERR_DECODE;
        goto done;
    }
    if (m.has_voucher) {
        /* Advisory per spec, but a relay that signs garbage is broken: do not rely on it. */
        lp2p_peer_id vpeer;
        uint64_t vexpire;
        rc = lp2p_voucher_open(m.voucher.ptr, m.voucher.len, relay, &vpeer, &vexpire);
        if (rc < 0 || !lp2p_peer_id_equal(&vpeer, self)) {
            lp2p_emit(
                trace, LP2P_WARN, "relay_bad_reply", LF_S("request", "reserve"),
                LF_S("reason", rc < 0 ? "voucher does not verify" : "voucher for another peer"));
            rc = LP2P_ERR_AUTH;
            goto done;
        }
        if (!(out->voucher = malloc(m.voucher.len ? m.voucher.len : 1))) {
            rc = LP2P_ERR_NOMEM;
            goto done;
        }
        if (m.voucher.len)
            memcpy(out->voucher, m.voucher.ptr, m.voucher.len);
        out->voucher_len = m.voucher.len;
    }
    out->expire_unix_s = m.rsv_expire;
    if (m.n_rsv_addrs) {
        out->addrs = calloc(m.n_rsv_addrs, sizeof(*out->addrs));
        out->addr_lens = calloc(m.n_rsv_addrs, sizeof(*out->addr_lens));
        if (!out->addrs || !out->addr_lens) {
            rc = LP2P_ERR_NOMEM;
            goto done;
        }
        for (size_t i = 0; i < m.n_rsv_addrs; i++) {
            const lp2p_view *a = &m.rsv_addrs[i];
            if (!(out->addrs[i] = malloc(a->len ? a->len : 1))) {
                rc = LP2P_ERR_NOMEM;
                goto done;
            }
            if (a->len) /* protobuf-c gives empty bytes a NULL pointer */
                memcpy(out->addrs[i], a->ptr, a->len);
            out->addr_lens[i] = a->len;
            out->naddrs++;
        }
    }
    if (m.has_limit) {
        out->limit_duration_s = m.limit_duration_s;
        out->limit_data = m.limit_data;
    }
    rc = 0;
done:
    lp2p_relay_msg_free(&m);
    if (rc < 0)
        lp2p_relay_reservation_free(out);
    return rc;
}

int lp2p_relay_client_on_connect_reply(const uint8_t *body, size_t len, int *status_out,
                                       uint32_t *limit_duration_s, uint64_t *limit_data,
                                       const lp2p_trace *trace)
{
    lp2p_relay_msg m;
    *limit_duration_s = 0;
    *limit_data = 0;
    int rc = hop_status(body, len, &m, status_out, "connect", trace);
    if (rc < 0)
        return rc;
    if (m.has_limit) {
        *limit_duration_s = m.limit_duration_s;
        *limit_data = m.limit_data;
    }
    lp2p_relay_msg_free(&m);
    return 0;
}

int lp2p_relay_stop_on_connect(const uint8_t *body, size_t len, lp2p_peer_id *src,
                               uint32_t *limit_duration_s, uint64_t *limit_data, lp2p_buf *reply,
                               const lp2p_trace *trace)
{
    lp2p_relay_msg m;
    *limit_duration_s = 0;
    *limit_data = 0;
    int rc = lp2p_relay_msg_decode(LP2P_RELAY_STOP, body, len, &m);
    if (rc == LP2P_ERR_NOMEM)
        return rc;
    int status = 0;
    const char *why = NULL;
    if (rc < 0) {
        status = LP2P_RELAY_STATUS_MALFORMED_MESSAGE;
        why = "undecodable";
    } else if (m.type != LP2P_RELAY_CONNECT) {
        status = LP2P_RELAY_STATUS_UNEXPECTED_MESSAGE;
        why = "not a CONNECT";
    } else if (!m.has_peer || lp2p_peer_id_from_bytes(m.peer_id.ptr, m.peer_id.len, src) < 0) {
        status = LP2P_RELAY_STATUS_MALFORMED_MESSAGE;
        why = "missing or invalid peer ID";
    } else if (m.has_limit) {
        *limit_duration_s = m.limit_duration_s;
        *limit_data = m.limit_data;
    }
    if (rc == 0)
        lp2p_relay_msg_free(&m);
    if (!status)
        return 0;
    lp2p_emit(trace, LP2P_WARN, "relay_bad_stop", LF_S("reason", why));
    rc = lp2p_relay_stop_reply(status, reply);
    return rc < 0 ? rc : LP2P_ERR_DECODE;
}

int lp2p_relay_stop_reply(int status, lp2p_buf *reply)
{
    return lp2p_relay_msg_encode_status(LP2P_RELAY_STOP, status, reply);
}

/* ---- refresh schedule ------------------------------------------------------------------------ */

void lp2p_relay_refresh_init(lp2p_relay_refresh *rf, uint64_t now_ms)
{
    memset(rf, 0, sizeof(*rf));
    rf->next_ms = now_ms;
}

int lp2p_relay_refresh_due(lp2p_relay_refresh *rf, uint64_t now_ms)
{
    if (rf->in_flight || now_ms < rf->next_ms)
        return 0;
    rf->in_flight = 1;
    return 1;
}

void lp2p_relay_refresh_ok(lp2p_relay_refresh *rf, uint64_t now_ms, uint64_t unix_now_s,
                           uint64_t expire_unix_s)
{
    if (expire_unix_s <= unix_now_s) {
        /* Already expired (or no expire sent): back off rather than re-reserving every second. */
        lp2p_emit(&rf->trace, LP2P_WARN, "relay_reservation_expired_on_arrival",
                  LF_U("expire", expire_unix_s), LF_U("now", unix_now_s));
        lp2p_relay_refresh_failed(rf, now_ms);
        return;
    }
    uint64_t left_ms = (expire_unix_s - unix_now_s) * 1000;
    uint64_t wait = left_ms / 4 * 3;
    if (wait < LP2P_RELAY_REFRESH_MIN_MS)
        wait = LP2P_RELAY_REFRESH_MIN_MS;
    rf->in_flight = 0;
    rf->failures = 0;
    rf->valid_until_ms = now_ms + left_ms;
    rf->next_ms = now_ms + wait;
}

void lp2p_relay_refresh_failed(lp2p_relay_refresh *rf, uint64_t now_ms)
{
    rf->in_flight = 0;
    if (rf->failures < 30)
        rf->failures++;
    uint64_t max = rf->backoff_max_ms ? rf->backoff_max_ms : LP2P_RELAY_BACKOFF_MAX_MS;
    uint64_t wait = LP2P_RELAY_BACKOFF_BASE_MS << (rf->failures - 1 < 20 ? rf->failures - 1 : 20);
    if (wait > max)
        wait = max;
    if (rf->jitter_state) { /* xorshift64: spreading retries needs no cryptographic source */
        uint64_t x = rf->jitter_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        rf->jitter_state = x;
        wait -= x % (wait / 4 + 1);
    }
    /* While the old reservation still holds, retry well before it lapses. */
    if (rf->valid_until_ms > now_ms) {
        uint64_t cap = (rf->valid_until_ms - now_ms) / 4 * 3;
        if (cap < LP2P_RELAY_REFRESH_MIN_MS)
            cap = LP2P_RELAY_REFRESH_MIN_MS;
        if (wait > cap)
            wait = cap;
    }
    rf->next_ms = now_ms + wait;
}

int lp2p_relay_refresh_valid(const lp2p_relay_refresh *rf, uint64_t now_ms)
{
    return now_ms < rf->valid_until_ms;
}

uint64_t lp2p_relay_refresh_next_deadline(const lp2p_relay_refresh *rf)
{
    return rf->in_flight ? UINT64_MAX : rf->next_ms;
}
