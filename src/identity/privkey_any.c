/* Public half of a libp2p PrivateKey of any type, so `holepunch id` can name the peer of a
 * key file written by go- or js-libp2p whatever its type.
 *
 *   PrivateKey { KeyType Type = 1; bytes Data = 2 }   Data per type:
 *     Ed25519   seed ‖ pub (or legacy seed ‖ pub ‖ pub)
 *     Secp256k1 32-byte big-endian scalar
 *     ECDSA     SEC1 ECPrivateKey DER          (go: x509.MarshalECPrivateKey)
 *     RSA       PKCS#1 RSAPrivateKey DER       (go: x509.MarshalPKCS1PrivateKey) */
#include <stdlib.h>
#include <string.h>

#include "crypto/pubkey.h"
#include "identity/pubkey_pb.h"
#include "identity/wipe_alloc.h"
#include "keys.pb-c.h"
#include "lp2p/err.h"
#include "lp2p/identity.h"

static int ed25519_public(const uint8_t *pb, size_t n, uint8_t *pub, size_t *publen)
{
    lp2p_keypair *kp;
    int rc = lp2p_keypair_from_private_pb(pb, n, &kp);
    if (rc != 0)
        return rc;
    size_t len;
    const uint8_t *p = lp2p_keypair_pubkey(kp, &len);
    if (len > *publen) {
        rc = LP2P_ERR_TOO_LARGE;
    } else {
        memcpy(pub, p, len);
        *publen = len;
    }
    lp2p_keypair_del(kp);
    return rc;
}

int lp2p_private_pb_public_key(const uint8_t *pb, size_t n, uint8_t *pub, size_t *publen,
                               lp2p_key_type *type_out)
{
    if (!pb || !pub || !publen || n == 0 || n > LP2P_PRIVKEY_PB_LIMIT)
        return LP2P_ERR_DECODE;
    Lp2p__Keys__PrivateKey *m = lp2p__keys__private_key__unpack(&lp2p_wiping_allocator, n, pb);
    if (!m)
        return LP2P_ERR_DECODE;
    int type = (int)m->type;
    int rc = 0;
    uint8_t data[LP2P_PUBKEY_PB_LIMIT];
    size_t dlen = sizeof(data);
    if (m->base.n_unknown_fields != 0)
        rc = LP2P_ERR_DECODE;
    else if (type == LP2P_PK_ED25519)
        rc = ed25519_public(pb, n, pub, publen);
    else
        rc = lp2p_crypto_pubkey_from_private(type, m->data.data, m->data.len, data, &dlen);
    lp2p__keys__private_key__free_unpacked(m, &lp2p_wiping_allocator);
    if (rc == 0 && type != LP2P_PK_ED25519) {
        Lp2p__Keys__PublicKey pk = LP2P__KEYS__PUBLIC_KEY__INIT;
        pk.type = (Lp2p__Keys__KeyType)type;
        pk.data.data = data;
        pk.data.len = dlen;
        size_t need = lp2p__keys__public_key__get_packed_size(&pk);
        if (need > *publen) {
            rc = LP2P_ERR_TOO_LARGE;
        } else {
            lp2p__keys__public_key__pack(&pk, pub);
            *publen = need;
        }
    }
    if (rc == 0 && type_out)
        *type_out = (lp2p_key_type)type;
    return rc;
}
