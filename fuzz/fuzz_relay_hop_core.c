/* The relay's hop state machine (proto/relay_hop.c) driven by a sequence of events from the
 * input, with small limits so every table fills: RESERVE and CONNECT from 8 peers on 4
 * addresses and 8 connections, the target's answer (OK, refusal, garbage, stream failure),
 * circuit data, circuit close, connection close and clock ticks. Invariants: every hop message
 * is answered, a STOP_CONNECT names a circuit the core holds, the tables never pass their
 * limits, a cut or expired circuit is reported once, nothing leaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "proto/relay_hop.h"
#include "proto/relay_msg.h"
#include "util/buf.h"
#include "util/uvarint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPEERS   8
#define MAXCIRC  8
#define MAXRSV   6
#define PENDINGS 16

static lp2p_peer_id peer(unsigned i)
{
    uint8_t mh[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
    memset(mh + 6, 0x41 + (int)(i % NPEERS), 32);
    lp2p_peer_id p;
    if (lp2p_peer_id_from_bytes(mh, sizeof(mh), &p) < 0)
        abort();
    return p;
}

/* Body of a hop message (the length prefix that lp2p_relay_msg_encode adds, dropped). */
static void hop_body(lp2p_relay_type type, const lp2p_peer_id *target, lp2p_buf *out)
{
    lp2p_relay_msg m = {.kind = LP2P_RELAY_HOP, .type = type};
    if (target) {
        m.has_peer = 1;
        m.peer_id = lp2p_view_make(target->bytes, target->len);
    }
    lp2p_buf enc;
    lp2p_buf_init(&enc);
    if (lp2p_relay_msg_encode(&m, &enc) < 0)
        abort();
    uint64_t len;
    const uint8_t *p = lp2p_buf_head(&enc), *end = p + lp2p_buf_size(&enc);
    if (lp2p_uvarint_decode(&p, end, &len) < 0 || len != (uint64_t)(end - p))
        abort();
    lp2p_buf_append(out, p, (size_t)(end - p));
    lp2p_buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp2p_relay_config cfg;
    lp2p_relay_config_default(&cfg);
    cfg.max_reservations = MAXRSV;
    cfg.max_reservations_per_peer = 2;
    cfg.max_reservations_per_ip = 3;
    cfg.max_circuits = MAXCIRC;
    cfg.max_circuits_per_peer = 4;
    cfg.max_circuits_per_pair = 2;
    cfg.circuit_idle_ms = 1000;
    cfg.circuit_data = 4096;
    cfg.circuit_duration_ms = 20000;
    cfg.connect_timeout_ms = 5000;
    cfg.reserve_burst_peer = 3;
    cfg.reserve_interval_peer_ms = 1000;
    cfg.connect_burst_ip = 5;
    cfg.connect_interval_ip_ms = 500;
    lp2p_relay *r;
    if (lp2p_relay_new(&cfg, NULL, &r) < 0)
        return 0;
    uint64_t now = 1000, ids[PENDINGS] = {0};
    size_t nids = 0;
    lp2p_buf hop, stop, body;
    lp2p_buf_init(&hop);
    lp2p_buf_init(&stop);
    lp2p_buf_init(&body);
    for (size_t i = 0; i + 2 < size; i += 3) {
        uint8_t op = data[i] % 9, a = data[i + 1], b = data[i + 2];
        lp2p_buf_clear(&hop);
        lp2p_buf_clear(&stop);
        lp2p_buf_clear(&body);
        lp2p_relay_src src = {.peer = peer(a),
                              .conn_id = 1 + a % 8,
                              .ip = {10, 0, b % 2, a % 4},
                              .ip_len = 4,
                              .relayed = (b & 0xf0) == 0xf0};
        uint64_t id = nids ? ids[b % nids] : 0;
        size_t allowed = 0;
        lp2p_relay_result res;
        switch (op) {
        case 0:
        case 1: {
            lp2p_peer_id t = peer(b);
            hop_body(op == 0 ? LP2P_RELAY_RESERVE : LP2P_RELAY_CONNECT, op ? &t : NULL, &body);
            int rc = lp2p_relay_on_hop(r, &src, lp2p_buf_head(&body), lp2p_buf_size(&body), now,
                                       1700000000 + now / 1000, &hop, &stop, &res);
            if (rc == LP2P_ERR_NOMEM)
                break;
            if (rc < 0)
                abort();
            if (res.action == LP2P_RELAY_STOP_CONNECT) {
                if (lp2p_buf_size(&stop) == 0 || res.circuit_id == 0)
                    abort();
                ids[nids < PENDINGS ? nids++ : b % PENDINGS] = res.circuit_id;
            } else if (lp2p_buf_size(&hop) == 0) {
                abort(); /* every hop message is answered */
            }
            break;
        }
        case 2: { /* the target's answer: OK, a refusal, or garbage */
            lp2p_relay_msg m = {.kind = LP2P_RELAY_STOP,
                                .type = LP2P_RELAY_STATUS,
                                .has_status = 1,
                                .status = a & 1 ? LP2P_RELAY_STATUS_OK
                                                : LP2P_RELAY_STATUS_CONNECTION_FAILED};
            if (a & 2) {
                lp2p_buf_append(&body, data + i, 3);
            } else {
                lp2p_buf enc;
                lp2p_buf_init(&enc);
                if (lp2p_relay_msg_encode(&m, &enc) == 0)
                    lp2p_buf_append(&body, lp2p_buf_head(&enc) + 1, lp2p_buf_size(&enc) - 1);
                lp2p_buf_free(&enc);
            }
            lp2p_relay_on_stop_reply(r, id, lp2p_buf_head(&body), lp2p_buf_size(&body), now, &hop);
            break;
        }
        case 3:
            lp2p_relay_on_stop_failed(r, id, &hop);
            break;
        case 4:
            if (lp2p_relay_circuit_data(r, id, a & 1, (size_t)b * 64, &allowed) == 0 &&
                allowed != (size_t)b * 64)
                abort();
            if (allowed > (size_t)b * 64)
                abort();
            break;
        case 5:
            lp2p_relay_circuit_close(r, id);
            break;
        case 6:
            lp2p_relay_conn_closed(r, 1 + a % 8);
            break;
        case 7:
            now += (uint64_t)a * b * 10;
            /* fall through */
        default: {
            uint64_t d = lp2p_relay_next_deadline(r);
            if (op == 8 && d != UINT64_MAX && d > now)
                now = d;
            lp2p_relay_tick(r, now);
            break;
        }
        }
        uint64_t cid;
        int why;
        size_t drained = 0;
        while (lp2p_relay_poll_expired(r, &cid, &why) == 1)
            if (++drained > MAXCIRC || why < 0 || why > LP2P_RELAY_EXPIRED_IDLE)
                abort();
        if (lp2p_relay_circuit_count(r) > MAXCIRC || lp2p_relay_reservation_count(r) > MAXRSV)
            abort();
        (void)lp2p_relay_conn_has_reservation(r, src.conn_id);
    }
    lp2p_buf_free(&hop);
    lp2p_buf_free(&stop);
    lp2p_buf_free(&body);
    lp2p_relay_del(r);
    return 0;
}
