/* KaspadMessage decoding and the session's message handling.
 * Byte 0 picks the target:
 *   even: decode; a message of known fields re-encodes and decodes again to the same kind.
 *   odd:  the rest is a list of messages (u16 BE length + protobuf) sent by a raw gRPC client
 *         to a Kaspa server session, with the fake clock moving: the handshake state machine,
 *         flows and Reject paths see arbitrary message sequences. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/random.h"
#include "kaspa/grpc.h"
#include "kaspa/msg.h"
#include "kaspa/kaspa_p2p.pb-c.h" /* the fields of kaspa_msg */
#include "kaspa/session.h"
#include "util/log.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when m or any message nested in it kept unknown fields. protobuf-c keeps them verbatim,
 * even ones with the invalid field number 0, which it then refuses to decode again: only a
 * message made of known fields all the way down must survive a round trip. */
static int has_unknown(const ProtobufCMessage *m)
{
    if (m->n_unknown_fields)
        return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)base;
            for (size_t k = 0; k < n; k++)
                if (v[k] && has_unknown(v[k]))
                    return 1;
        } else {
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                uint32_t which = *(const uint32_t *)((const char *)m + f->quantifier_offset);
                if (which != f->id)
                    continue;
            }
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)base;
            if (sub && has_unknown(sub))
                return 1;
        }
    }
    return 0;
}

static void decode(const uint8_t *d, size_t n)
{
    kaspa_msg *m = kaspa_msg_decode(d, n);
    if (!m)
        return;
    int kind = kaspa_msg_kind(m);
    (void)kaspa_msg_kind_name(kind);
    lp2p_buf b;
    lp2p_buf_init(&b);
    if (kaspa_msg_encode(m, &b) != 0)
        abort();
    static const uint8_t none[1];
    kaspa_msg *m2 =
        kaspa_msg_decode(lp2p_buf_size(&b) ? lp2p_buf_head(&b) : none, lp2p_buf_size(&b));
    if (!has_unknown(&m->base) && (!m2 || kaspa_msg_kind(m2) != kind))
        abort();
    kaspa_msg_free(m2);
    kaspa_msg_free(m);
    lp2p_buf_free(&b);
}

static void pump(kaspa_session *s, kaspa_grpc *g, uint64_t now)
{
    for (int i = 0; i < 64; i++) {
        lp2p_buf *so = kaspa_session_out(s), *go = kaspa_grpc_out(g);
        size_t a = lp2p_buf_size(so), b = lp2p_buf_size(go);
        if (!a && !b)
            return;
        if (a) {
            uint8_t *t = malloc(a);
            memcpy(t, lp2p_buf_head(so), a);
            lp2p_buf_consume(so, a);
            kaspa_grpc_recv(g, t, a, now);
            free(t);
        }
        if (b) {
            uint8_t *t = malloc(b);
            memcpy(t, lp2p_buf_head(go), b);
            lp2p_buf_consume(go, b);
            kaspa_session_recv(s, t, b, now);
            free(t);
        }
    }
}

static void session(const uint8_t *d, size_t n)
{
    static kaspa_hub *hs;
    if (n == 0)
        return;
    if (!hs) {
        lp2p_log_set_level(LP2P_ERROR + 1);
        kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    }
    kaspa_session_config sc;
    kaspa_session_config_default(&sc, hs, KASPA_H2_PROFILE_TCP);
    sc.rng = LP2P_RNG_OPENSSL;
    kaspa_grpc_config gc;
    kaspa_grpc_config_default(&gc, KASPA_H2_PROFILE_TCP);
    gc.gzip = d[0] & 1;
    kaspa_session *s;
    kaspa_grpc *g;
    if (kaspa_session_new(&s, &sc, KASPA_SERVER, NULL, NULL, 0) != 0)
        return;
    if (kaspa_grpc_new(&g, &gc, 0, NULL, NULL, 0) != 0) {
        kaspa_session_del(s);
        return;
    }
    uint64_t now = 1;
    pump(s, g, now);
    size_t i = 1;
    while (i + 2 <= n) {
        size_t len = (size_t)d[i] << 8 | d[i + 1];
        i += 2;
        if (len > n - i)
            len = n - i;
        kaspa_grpc_send(g, d + i, len);
        i += len;
        now += 1000;
        pump(s, g, now);
        kaspa_session_tick(s, now);
        pump(s, g, now);
    }
    if (kaspa_hub_count(hs) > 1)
        abort(); /* one session registers at most one peer */
    kaspa_grpc_del(g);
    kaspa_session_del(s);
    if (kaspa_hub_count(hs) != 0)
        abort(); /* deleting the session unregisters it */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        session(data + 1, size - 1);
    else
        decode(data + 1, size - 1);
    return 0;
}
