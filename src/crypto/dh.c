#include "crypto/dh.h"
#include "lp2p/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

int lp2p_x25519_from_private(lp2p_x25519_key *k, const uint8_t priv[LP2P_X25519_LEN])
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, LP2P_X25519_LEN);
    if (!pk)
        return LP2P_ERR_CRYPTO;
    size_t len = LP2P_X25519_LEN;
    if (EVP_PKEY_get_raw_public_key(pk, k->pub, &len) != 1 || len != LP2P_X25519_LEN) {
        EVP_PKEY_free(pk);
        return LP2P_ERR_CRYPTO;
    }
    EVP_PKEY_free(k->pkey);
    k->pkey = pk;
    memmove(k->priv, priv, LP2P_X25519_LEN);
    return 0;
}

int lp2p_x25519_keygen(lp2p_x25519_key *k, const lp2p_rng *rng)
{
    uint8_t priv[LP2P_X25519_LEN];
    /* Any 32 random bytes are a valid X25519 private key (clamping happens in the ladder). */
    int rc = lp2p_rng_fill(rng, priv, sizeof(priv));
    if (!rc)
        rc = lp2p_x25519_from_private(k, priv);
    OPENSSL_cleanse(priv, sizeof(priv));
    return rc;
}

int lp2p_x25519_share(lp2p_x25519_key *dst, const lp2p_x25519_key *src)
{
    if (!src->pkey || EVP_PKEY_up_ref(src->pkey) != 1)
        return LP2P_ERR_CRYPTO;
    EVP_PKEY_free(dst->pkey);
    memmove(dst, src, sizeof(*dst));
    return 0;
}

int lp2p_x25519_dh(const lp2p_x25519_key *k, const uint8_t peer_pub[LP2P_X25519_LEN],
                   uint8_t out[LP2P_X25519_LEN])
{
    int rc = LP2P_ERR_CRYPTO;
    EVP_PKEY *ours = k->pkey;
    EVP_PKEY *theirs =
        EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, LP2P_X25519_LEN);
    EVP_PKEY_CTX *ctx = ours ? EVP_PKEY_CTX_new(ours, NULL) : NULL;
    size_t len = LP2P_X25519_LEN;
    if (ctx && theirs && EVP_PKEY_derive_init(ctx) == 1 &&
        EVP_PKEY_derive_set_peer(ctx, theirs) == 1 && EVP_PKEY_derive(ctx, out, &len) == 1 &&
        len == LP2P_X25519_LEN) {
        /* OpenSSL already refuses an all-zero result; check anyway, in constant time, so
         * a small-order key from the peer can never yield a predictable key. */
        static const uint8_t zero[LP2P_X25519_LEN];
        rc = CRYPTO_memcmp(out, zero, LP2P_X25519_LEN) == 0 ? LP2P_ERR_CRYPTO : 0;
    }
    if (rc)
        OPENSSL_cleanse(out, LP2P_X25519_LEN);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(theirs);
    return rc;
}

void lp2p_x25519_wipe(lp2p_x25519_key *k)
{
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k, sizeof(*k));
}
