/* Signed envelopes (libp2p/specs RFC/0002-signed-envelopes.md).
 *
 *   Envelope { public_key=1 (serialized PublicKey), payload_type=2, payload=3, signature=5 }
 *
 *   signature = Sign(identity key,
 *                    uvarint(len(domain))       ‖ domain        -- never sent; both sides
 *                    uvarint(len(payload_type)) ‖ payload_type     know it from context
 *                    uvarint(len(payload))      ‖ payload)
 *
 * The domain separates uses of the same key: a peer record signature cannot be replayed as
 * a relay voucher or as anything else. */
#include <stdlib.h>
#include <string.h>

#include "envelope.pb-c.h"
#include "identity/envelope_limits.h"
#include "lp2p/err.h"
#include "lp2p/identity.h"
#include "util/buf.h"

const uint8_t LP2P_PAYLOAD_PEER_RECORD[2] = {0x03, 0x01};   /* multicodec libp2p-peer-record */
const uint8_t LP2P_PAYLOAD_RELAY_VOUCHER[2] = {0x03, 0x02}; /* multicodec libp2p-relay-rsvp */

static int signed_bytes(lp2p_buf *b, const char *domain, const uint8_t *ptype, size_t ptlen,
                        const uint8_t *payload, size_t plen)
{
    size_t dlen = strlen(domain);
    int rc = lp2p_buf_reserve(b, dlen + ptlen + plen + 30);
    if (rc == 0)
        rc = lp2p_buf_append_uvarint(b, dlen);
    if (rc == 0)
        rc = lp2p_buf_append(b, domain, dlen);
    if (rc == 0)
        rc = lp2p_buf_append_uvarint(b, ptlen);
    if (rc == 0)
        rc = lp2p_buf_append(b, ptype, ptlen);
    if (rc == 0)
        rc = lp2p_buf_append_uvarint(b, plen);
    if (rc == 0)
        rc = lp2p_buf_append(b, payload, plen);
    return rc;
}

int lp2p_envelope_seal(const lp2p_keypair *kp, const char *domain, const uint8_t *ptype,
                       size_t ptlen, const uint8_t *payload, size_t plen, uint8_t **out,
                       size_t *outlen)
{
    if (!kp || !domain || !*domain || (!ptype && ptlen) || (!payload && plen) || !out || !outlen)
        return LP2P_ERR_INVAL;
    if (plen > LP2P_ENVELOPE_LIMIT)
        return LP2P_ERR_TOO_LARGE;
    lp2p_buf sb;
    lp2p_buf_init(&sb);
    int rc = signed_bytes(&sb, domain, ptype, ptlen, payload, plen);
    uint8_t sig[LP2P_SIG_MAX];
    if (rc == 0)
        rc = lp2p_keypair_sign(kp, lp2p_buf_head(&sb), lp2p_buf_size(&sb), sig);
    lp2p_buf_free(&sb);
    if (rc != 0)
        return rc;

    Lp2p__Envelope__Envelope env = LP2P__ENVELOPE__ENVELOPE__INIT;
    size_t pklen;
    env.public_key.data = (uint8_t *)lp2p_keypair_pubkey(kp, &pklen);
    env.public_key.len = pklen;
    env.payload_type.data = (uint8_t *)ptype;
    env.payload_type.len = ptlen;
    env.payload.data = (uint8_t *)payload;
    env.payload.len = plen;
    env.signature.data = sig;
    env.signature.len = sizeof(sig);
    size_t n = lp2p__envelope__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(n);
    if (!buf)
        return LP2P_ERR_NOMEM;
    lp2p__envelope__envelope__pack(&env, buf);
    *out = buf;
    *outlen = n;
    return 0;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

int lp2p_envelope_open(const uint8_t *env, size_t n, const char *domain, const uint8_t *ptype,
                       size_t ptlen, lp2p_envelope *out)
{
    if (!env || !domain || !*domain || !out)
        return LP2P_ERR_INVAL;
    memset(out, 0, sizeof(*out));
    if (n > LP2P_ENVELOPE_LIMIT + 1024)
        return LP2P_ERR_TOO_LARGE;
    Lp2p__Envelope__Envelope *m = lp2p__envelope__envelope__unpack(NULL, n, env);
    if (!m)
        return LP2P_ERR_DECODE;
    int rc = 0;
    lp2p_buf sb;
    lp2p_buf_init(&sb);
    if (m->public_key.len == 0 || m->signature.len == 0) {
        rc = LP2P_ERR_DECODE;
    } else if (ptype &&
               (m->payload_type.len != ptlen || memcmp(m->payload_type.data, ptype, ptlen) != 0)) {
        rc = LP2P_ERR_UNSUPPORTED;
    } else {
        rc = signed_bytes(&sb, domain, m->payload_type.data, m->payload_type.len, m->payload.data,
                          m->payload.len);
    }
    if (rc == 0)
        rc = lp2p_pubkey_verify(m->public_key.data, m->public_key.len, lp2p_buf_head(&sb),
                                lp2p_buf_size(&sb), m->signature.data, m->signature.len);
    lp2p_buf_free(&sb);
    if (rc == 0)
        rc = lp2p_peer_id_from_pubkey(m->public_key.data, m->public_key.len, &out->signer);
    if (rc == 0) {
        out->pubkey = dup_bytes(m->public_key.data, m->public_key.len);
        out->pubkey_len = m->public_key.len;
        out->payload_type = dup_bytes(m->payload_type.data, m->payload_type.len);
        out->payload_type_len = m->payload_type.len;
        out->payload = dup_bytes(m->payload.data, m->payload.len);
        out->payload_len = m->payload.len;
        if (!out->pubkey || !out->payload_type || !out->payload) {
            lp2p_envelope_free(out);
            rc = LP2P_ERR_NOMEM;
        }
    }
    lp2p__envelope__envelope__free_unpacked(m, NULL);
    return rc;
}

void lp2p_envelope_free(lp2p_envelope *e)
{
    if (!e)
        return;
    free(e->pubkey);
    free(e->payload_type);
    free(e->payload);
    memset(e, 0, sizeof(*e));
}
