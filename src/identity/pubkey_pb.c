/* PublicKey protobuf: strict decoding, and the identity-level validate/verify entry points
 * that hand the key material to src/crypto/pubkey.c. */
#include "identity/pubkey_pb.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/pubkey.h"
#include "keys.pb-c.h"
#include "lp2p/err.h"
#include "lp2p/identity.h"

int lp2p_pubkey_pb_decode(const uint8_t *pb, size_t n, int *type, const uint8_t **data,
                          size_t *dlen)
{
    if (!pb || n == 0 || n > LP2P_PUBKEY_PB_LIMIT)
        return LP2P_ERR_DECODE;
    Lp2p__Keys__PublicKey *m = lp2p__keys__public_key__unpack(NULL, n, pb);
    if (!m)
        return LP2P_ERR_DECODE; /* includes a missing required field */
    int rc = 0;
    /* Canonical iff re-encoding gives the same bytes and nothing unknown rode along:
     * this rejects padded varints, reordered or repeated fields and extra fields. */
    if (m->base.n_unknown_fields != 0 || lp2p__keys__public_key__get_packed_size(m) != n) {
        rc = LP2P_ERR_DECODE;
    } else {
        uint8_t *re = malloc(n);
        if (!re) {
            rc = LP2P_ERR_NOMEM;
        } else {
            lp2p__keys__public_key__pack(m, re);
            if (memcmp(re, pb, n) != 0)
                rc = LP2P_ERR_DECODE;
            free(re);
        }
    }
    if (rc == 0 && ((int)m->type < LP2P_PK_RSA || (int)m->type > LP2P_PK_ECDSA))
        rc = LP2P_ERR_UNSUPPORTED;
    if (rc == 0) {
        *type = (int)m->type;
        /* Canonical layout puts Data last, so it is the tail of pb. */
        *dlen = m->data.len;
        *data = pb + (n - m->data.len);
    }
    lp2p__keys__public_key__free_unpacked(m, NULL);
    return rc;
}

int lp2p_pubkey_validate(const uint8_t *pubkey_pb, size_t n, lp2p_key_type *type_out)
{
    int type;
    const uint8_t *data;
    size_t dlen;
    int rc = lp2p_pubkey_pb_decode(pubkey_pb, n, &type, &data, &dlen);
    if (rc != 0)
        return rc;
    rc = lp2p_crypto_pubkey_check(type, data, dlen);
    if (rc == 0 && type_out)
        *type_out = (lp2p_key_type)type;
    return rc;
}

int lp2p_pubkey_verify(const uint8_t *pubkey_pb, size_t n, const uint8_t *msg, size_t msglen,
                       const uint8_t *sig, size_t siglen)
{
    int type;
    const uint8_t *data;
    size_t dlen;
    int rc = lp2p_pubkey_pb_decode(pubkey_pb, n, &type, &data, &dlen);
    if (rc != 0)
        return rc;
    return lp2p_crypto_pubkey_verify(type, data, dlen, msg, msglen, sig, siglen);
}
