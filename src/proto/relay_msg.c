/* Relay v2 message codec: see relay_msg.h. */
#include "proto/relay_msg.h"

#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "relay.pb-c.h"
#include "util/uvarint.h"

const char *lp2p_relay_status_name(int status)
{
    switch (status) {
    case LP2P_RELAY_STATUS_UNUSED:
        return "UNUSED";
    case LP2P_RELAY_STATUS_OK:
        return "OK";
    case LP2P_RELAY_STATUS_RESERVATION_REFUSED:
        return "RESERVATION_REFUSED";
    case LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED:
        return "RESOURCE_LIMIT_EXCEEDED";
    case LP2P_RELAY_STATUS_PERMISSION_DENIED:
        return "PERMISSION_DENIED";
    case LP2P_RELAY_STATUS_CONNECTION_FAILED:
        return "CONNECTION_FAILED";
    case LP2P_RELAY_STATUS_NO_RESERVATION:
        return "NO_RESERVATION";
    case LP2P_RELAY_STATUS_MALFORMED_MESSAGE:
        return "MALFORMED_MESSAGE";
    case LP2P_RELAY_STATUS_UNEXPECTED_MESSAGE:
        return "UNEXPECTED_MESSAGE";
    default:
        return "UNKNOWN";
    }
}

/* Wire numbers of the Type enums differ between the two messages. */
static int type_to_wire(lp2p_relay_kind kind, lp2p_relay_type t, int *out)
{
    if (kind == LP2P_RELAY_HOP) {
        *out = (int)t; /* RESERVE 0, CONNECT 1, STATUS 2 */
        return 0;
    }
    if (t == LP2P_RELAY_CONNECT)
        *out = CIRCUIT__PB__STOP_MESSAGE__TYPE__CONNECT;
    else if (t == LP2P_RELAY_STATUS)
        *out = CIRCUIT__PB__STOP_MESSAGE__TYPE__STATUS;
    else
        return LP2P_ERR_INVAL;
    return 0;
}

static int type_from_wire(lp2p_relay_kind kind, int w, lp2p_relay_type *out)
{
    if (kind == LP2P_RELAY_HOP) {
        if (w < 0 || w > 2)
            return LP2P_ERR_DECODE;
        *out = (lp2p_relay_type)w;
        return 0;
    }
    if (w == CIRCUIT__PB__STOP_MESSAGE__TYPE__CONNECT)
        *out = LP2P_RELAY_CONNECT;
    else if (w == CIRCUIT__PB__STOP_MESSAGE__TYPE__STATUS)
        *out = LP2P_RELAY_STATUS;
    else
        return LP2P_ERR_DECODE;
    return 0;
}

static ProtobufCBinaryData bin(lp2p_view v)
{
    ProtobufCBinaryData b = {v.len, (uint8_t *)v.ptr};
    return b;
}

static int append_delimited(const ProtobufCMessage *m, lp2p_buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    if (n > LP2P_RELAY_MSG_MAX)
        return LP2P_ERR_TOO_LARGE;
    int rc = lp2p_buf_reserve(out, n + LP2P_UVARINT_MAX);
    if (rc)
        return rc;
    out->len += lp2p_uvarint_encode(n, out->data + out->len);
    out->len += protobuf_c_message_pack(m, out->data + out->len);
    return 0;
}

int lp2p_relay_msg_encode(const lp2p_relay_msg *m, lp2p_buf *out)
{
    int wtype;
    int rc = type_to_wire(m->kind, m->type, &wtype);
    if (rc)
        return rc;
    Circuit__Pb__Peer peer = CIRCUIT__PB__PEER__INIT;
    Circuit__Pb__Reservation rsv = CIRCUIT__PB__RESERVATION__INIT;
    Circuit__Pb__Limit limit = CIRCUIT__PB__LIMIT__INIT;
    ProtobufCBinaryData *paddrs = NULL, *raddrs = NULL;
    if (m->n_peer_addrs && !(paddrs = calloc(m->n_peer_addrs, sizeof(*paddrs))))
        return LP2P_ERR_NOMEM;
    if (m->n_rsv_addrs && !(raddrs = calloc(m->n_rsv_addrs, sizeof(*raddrs)))) {
        free(paddrs);
        return LP2P_ERR_NOMEM;
    }
    if (m->has_peer) {
        peer.has_id = 1;
        peer.id = bin(m->peer_id);
        for (size_t i = 0; i < m->n_peer_addrs; i++)
            paddrs[i] = bin(m->peer_addrs[i]);
        peer.addrs = paddrs;
        peer.n_addrs = m->n_peer_addrs;
    }
    if (m->has_reservation) {
        rsv.has_expire = 1;
        rsv.expire = m->rsv_expire;
        for (size_t i = 0; i < m->n_rsv_addrs; i++)
            raddrs[i] = bin(m->rsv_addrs[i]);
        rsv.addrs = raddrs;
        rsv.n_addrs = m->n_rsv_addrs;
        if (m->has_voucher) {
            rsv.has_voucher = 1;
            rsv.voucher = bin(m->voucher);
        }
    }
    if (m->has_limit) {
        /* Send only the non-zero bounds: an absent field means "no limit" to every impl. */
        limit.has_duration = m->limit_duration_s != 0;
        limit.duration = m->limit_duration_s;
        limit.has_data = m->limit_data != 0;
        limit.data = m->limit_data;
    }
    if (m->kind == LP2P_RELAY_HOP) {
        Circuit__Pb__HopMessage h = CIRCUIT__PB__HOP_MESSAGE__INIT;
        h.has_type = 1; /* RESERVE is 0: it must still be on the wire */
        h.type = (Circuit__Pb__HopMessage__Type)wtype;
        h.peer = m->has_peer ? &peer : NULL;
        h.reservation = m->has_reservation ? &rsv : NULL;
        h.limit = m->has_limit ? &limit : NULL;
        h.has_status = m->has_status;
        h.status = (Circuit__Pb__Status)m->status;
        rc = append_delimited(&h.base, out);
    } else {
        Circuit__Pb__StopMessage s = CIRCUIT__PB__STOP_MESSAGE__INIT;
        s.has_type = 1;
        s.type = (Circuit__Pb__StopMessage__Type)wtype;
        s.peer = m->has_peer ? &peer : NULL;
        s.limit = m->has_limit ? &limit : NULL;
        s.has_status = m->has_status;
        s.status = (Circuit__Pb__Status)m->status;
        rc = append_delimited(&s.base, out);
    }
    free(paddrs);
    free(raddrs);
    return rc;
}

int lp2p_relay_msg_encode_status(lp2p_relay_kind kind, int status, lp2p_buf *out)
{
    lp2p_relay_msg m = {.kind = kind, .type = LP2P_RELAY_STATUS, .has_status = 1, .status = status};
    return lp2p_relay_msg_encode(&m, out);
}

static void fill_views(lp2p_view *v, ProtobufCBinaryData *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = lp2p_view_make(b[i].data, b[i].len);
}

int lp2p_relay_msg_decode(lp2p_relay_kind kind, const uint8_t *body, size_t len,
                          lp2p_relay_msg *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    if (len > LP2P_RELAY_MSG_MAX)
        return LP2P_ERR_TOO_LARGE;
    ProtobufCMessage *pb;
    int has_type, wtype;
    Circuit__Pb__Peer *peer;
    Circuit__Pb__Limit *limit;
    Circuit__Pb__Reservation *rsv = NULL;
    if (kind == LP2P_RELAY_HOP) {
        Circuit__Pb__HopMessage *h = circuit__pb__hop_message__unpack(NULL, len, body);
        if (!h)
            return LP2P_ERR_DECODE;
        pb = &h->base;
        has_type = h->has_type;
        wtype = (int)h->type;
        peer = h->peer;
        limit = h->limit;
        rsv = h->reservation;
        out->has_status = h->has_status;
        out->status = (int)h->status;
    } else {
        Circuit__Pb__StopMessage *s = circuit__pb__stop_message__unpack(NULL, len, body);
        if (!s)
            return LP2P_ERR_DECODE;
        pb = &s->base;
        has_type = s->has_type;
        wtype = (int)s->type;
        peer = s->peer;
        limit = s->limit;
        out->has_status = s->has_status;
        out->status = (int)s->status;
    }
    out->pb_ = pb;
    if (!has_type || type_from_wire(kind, wtype, &out->type) < 0) {
        lp2p_relay_msg_free(out);
        return LP2P_ERR_DECODE;
    }
    size_t nviews = (peer ? peer->n_addrs : 0) + (rsv ? rsv->n_addrs : 0);
    if (nviews && !(out->views_ = calloc(nviews, sizeof(lp2p_view)))) {
        lp2p_relay_msg_free(out);
        return LP2P_ERR_NOMEM;
    }
    if (peer) {
        out->has_peer = 1;
        out->peer_id = lp2p_view_make(peer->id.data, peer->has_id ? peer->id.len : 0);
        fill_views(out->views_, peer->addrs, peer->n_addrs);
        out->peer_addrs = out->views_;
        out->n_peer_addrs = peer->n_addrs;
    }
    if (rsv) {
        out->has_reservation = 1;
        out->rsv_expire = rsv->has_expire ? rsv->expire : 0;
        lp2p_view *rv = out->views_ ? out->views_ + out->n_peer_addrs : NULL;
        fill_views(rv, rsv->addrs, rsv->n_addrs);
        out->rsv_addrs = rv;
        out->n_rsv_addrs = rsv->n_addrs;
        out->has_voucher = rsv->has_voucher;
        out->voucher = lp2p_view_make(rsv->voucher.data, rsv->voucher.len);
    }
    if (limit) {
        out->has_limit = 1;
        out->limit_duration_s = limit->has_duration ? limit->duration : 0;
        out->limit_data = limit->has_data ? limit->data : 0;
    }
    return 0;
}

void lp2p_relay_msg_free(lp2p_relay_msg *m)
{
    if (m->pb_)
        protobuf_c_message_free_unpacked(m->pb_, NULL);
    free(m->views_);
    m->pb_ = NULL;
    m->views_ = NULL;
}
