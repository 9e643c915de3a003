/* Relay v2 parsers: the message codec (decode → encode → decode must agree), the relay's
 * hop handler and the client/stop reply parsers, on arbitrary bodies. First input byte picks
 * the message kind. Never crashes, never leaks, always answers a hop message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "util/log.h"
#include "proto/relay_hop.h"
#include "proto/relay_msg.h"
#include "proto/relay_stop.h"
#include "util/uvarint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int view_eq(lp2p_view a, lp2p_view b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void same_or_abort(const lp2p_relay_msg *a, const lp2p_relay_msg *b)
{
    if (a->type != b->type || a->has_peer != b->has_peer ||
        a->has_reservation != b->has_reservation || a->has_limit != b->has_limit ||
        a->has_status != b->has_status || (a->has_status && a->status != b->status))
        abort();
    if (a->has_peer) {
        if (!view_eq(a->peer_id, b->peer_id) || a->n_peer_addrs != b->n_peer_addrs)
            abort();
        for (size_t i = 0; i < a->n_peer_addrs; i++)
            if (!view_eq(a->peer_addrs[i], b->peer_addrs[i]))
                abort();
    }
    if (a->has_reservation) {
        if (a->rsv_expire != b->rsv_expire || a->n_rsv_addrs != b->n_rsv_addrs ||
            a->has_voucher != b->has_voucher ||
            (a->has_voucher && !view_eq(a->voucher, b->voucher)))
            abort();
        for (size_t i = 0; i < a->n_rsv_addrs; i++)
            if (!view_eq(a->rsv_addrs[i], b->rsv_addrs[i]))
                abort();
    }
    if (a->has_limit &&
        (a->limit_duration_s != b->limit_duration_s || a->limit_data != b->limit_data))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp2p_log_set_level(LP2P_ERROR); /* refusal lines would dominate the run time */
    if (size < 1)
        return 0;
    lp2p_relay_kind kind = (data[0] & 1) ? LP2P_RELAY_STOP : LP2P_RELAY_HOP;
    data++;
    size--;

    /* 1. codec round trip */
    lp2p_relay_msg a;
    if (lp2p_relay_msg_decode(kind, data, size, &a) == 0) {
        lp2p_buf w;
        lp2p_buf_init(&w);
        int rc = lp2p_relay_msg_encode(&a, &w);
        if (rc == 0) {
            const uint8_t *p = lp2p_buf_head(&w), *end = p + lp2p_buf_size(&w);
            uint64_t n;
            lp2p_relay_msg b;
            if (lp2p_uvarint_decode(&p, end, &n) != 0 || n != (uint64_t)(end - p) ||
                lp2p_relay_msg_decode(kind, p, (size_t)n, &b) != 0)
                abort();
            same_or_abort(&a, &b);
            lp2p_relay_msg_free(&b);
        } else if (rc != LP2P_ERR_TOO_LARGE) {
            abort();
        }
        lp2p_buf_free(&w);
        lp2p_relay_msg_free(&a);
    }

    /* 2. the relay always answers something well formed */
    lp2p_relay *r;
    if (lp2p_relay_new(NULL, NULL, &r) != 0)
        return 0;
    lp2p_relay_src src;
    memset(&src, 0, sizeof(src));
    src.peer.len = 2; /* identity multihash, empty digest: a syntactically fine ID */
    src.ip_len = 4;
    lp2p_buf hop, stop;
    lp2p_buf_init(&hop);
    lp2p_buf_init(&stop);
    lp2p_relay_result res;
    if (lp2p_relay_on_hop(r, &src, data, size, 1000, 1764000000, &hop, &stop, &res) == 0 &&
        lp2p_buf_size(&hop) + lp2p_buf_size(&stop) == 0)
        abort();
    if (res.action == LP2P_RELAY_STOP_CONNECT) {
        lp2p_buf_clear(&hop);
        (void)lp2p_relay_on_stop_reply(r, res.circuit_id, data, size, 1000, &hop);
    }
    lp2p_buf_free(&hop);
    lp2p_buf_free(&stop);
    lp2p_relay_del(r);

    /* 3. client-side parsers */
    lp2p_peer_id relay_id = {.len = 2}, self = {.len = 2}, peer;
    lp2p_relay_reservation rsv;
    int status;
    uint32_t d;
    uint64_t lim;
    if (lp2p_relay_client_on_reserve_reply(data, size, &relay_id, &self, &rsv, &status, NULL) == 0)
        lp2p_relay_reservation_free(&rsv);
    (void)lp2p_relay_client_on_connect_reply(data, size, &status, &d, &lim, NULL);
    lp2p_buf reply;
    lp2p_buf_init(&reply);
    (void)lp2p_relay_stop_on_connect(data, size, &peer, &d, &lim, &reply, NULL);
    lp2p_buf_free(&reply);
    return 0;
}
