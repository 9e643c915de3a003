#include "crypto/dh.h"
#include "lp2p/err.h"
#include "util/thread_exit.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

/* The calling thread's reusable OpenSSL objects (made on first use, freed when the thread
 * exits; the main thread's live until the process ends). EVP_PKEY_new_raw_*_key looks the
 * key type up by name under a lock on every call (~4 µs of a 33 µs DH here); these keep
 * what that lookup found:
 *   t_fromdata: an X25519 EVP_PKEY_CTX ready for EVP_PKEY_fromdata (key pairs);
 *   t_peer:     a public-key EVP_PKEY whose key is replaced before each DH (every DH sets
 *               it as its context's peer right after, so no DH reads a stale one). */
static _Thread_local EVP_PKEY_CTX *t_fromdata;
static _Thread_local EVP_PKEY *t_peer;

static void free_thread_objs(void)
{
    EVP_PKEY_CTX_free(t_fromdata);
    t_fromdata = NULL;
    EVP_PKEY_free(t_peer);
    t_peer = NULL;
}

/* A new EVP_PKEY holding the key pair of priv (OpenSSL derives the public key). */
static EVP_PKEY *pkey_from_private(const uint8_t priv[LP2P_X25519_LEN])
{
    if (!t_fromdata) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
        if (!c || EVP_PKEY_fromdata_init(c) != 1) {
            EVP_PKEY_CTX_free(c);
            return NULL;
        }
        t_fromdata = c;
        (void)lp2p_thread_at_exit(free_thread_objs);
    }
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)priv, LP2P_X25519_LEN),
        OSSL_PARAM_construct_end()};
    EVP_PKEY *pk = NULL;
    if (EVP_PKEY_fromdata(t_fromdata, &pk, EVP_PKEY_KEYPAIR, params) != 1) {
        EVP_PKEY_free(pk);
        return NULL;
    }
    return pk;
}

/* The thread's peer EVP_PKEY, now holding pub. */
static EVP_PKEY *peer_pkey(const uint8_t pub[LP2P_X25519_LEN])
{
    if (!t_peer) {
        if (!(t_peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, LP2P_X25519_LEN)))
            return NULL;
        (void)lp2p_thread_at_exit(free_thread_objs);
        return t_peer;
    }
    if (EVP_PKEY_set_octet_string_param(t_peer, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
                                        LP2P_X25519_LEN) != 1)
        return NULL;
    return t_peer;
}

int lp2p_x25519_from_private(lp2p_x25519_key *k, const uint8_t priv[LP2P_X25519_LEN])
{
    EVP_PKEY *pk = pkey_from_private(priv);
    if (!pk)
        return LP2P_ERR_CRYPTO;
    size_t len = LP2P_X25519_LEN;
    EVP_PKEY_CTX *dctx = NULL;
    if (EVP_PKEY_get_raw_public_key(pk, k->pub, &len) != 1 || len != LP2P_X25519_LEN ||
        !(dctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) || EVP_PKEY_derive_init(dctx) != 1) {
        EVP_PKEY_CTX_free(dctx);
        EVP_PKEY_free(pk);
        return LP2P_ERR_CRYPTO;
    }
    EVP_PKEY_CTX_free(k->dctx);
    EVP_PKEY_free(k->pkey);
    k->pkey = pk;
    k->dctx = dctx;
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
    if (!src->pkey || !src->dctx)
        return LP2P_ERR_CRYPTO;
    EVP_PKEY_CTX *dctx = EVP_PKEY_CTX_dup(src->dctx); /* no name lookup, unlike a new one */
    if (!dctx)
        return LP2P_ERR_CRYPTO;
    if (EVP_PKEY_up_ref(src->pkey) != 1) {
        EVP_PKEY_CTX_free(dctx);
        return LP2P_ERR_CRYPTO;
    }
    lp2p_x25519_wipe(dst);
    memcpy(dst->priv, src->priv, LP2P_X25519_LEN);
    memcpy(dst->pub, src->pub, LP2P_X25519_LEN);
    dst->pkey = src->pkey;
    dst->dctx = dctx;
    return 0;
}

int lp2p_x25519_dh(const lp2p_x25519_key *k, const uint8_t peer_pub[LP2P_X25519_LEN],
                   uint8_t out[LP2P_X25519_LEN])
{
    int rc = LP2P_ERR_CRYPTO;
    EVP_PKEY_CTX *ctx = k->dctx;
    EVP_PKEY *theirs = ctx ? peer_pkey(peer_pub) : NULL;
    size_t len = LP2P_X25519_LEN;
    /* No peer validation (validate = 0): for X25519 OpenSSL's check only asks whether the
     * key has a public part, at the price of one more context; every 32 bytes are a valid
     * u-coordinate, and the small-order ones are caught by the all-zero check below. The
     * context keeps a reference to the thread's peer key until the next DH replaces it;
     * the peer key object's bytes change under it only through peer_pkey, right before a
     * DH that sets it again. */
    if (theirs && EVP_PKEY_derive_set_peer_ex(ctx, theirs, 0) == 1 &&
        EVP_PKEY_derive(ctx, out, &len) == 1 && len == LP2P_X25519_LEN) {
        /* OpenSSL already refuses an all-zero result; check anyway, in constant time, so
         * a small-order key from the peer can never yield a predictable key. */
        static const uint8_t zero[LP2P_X25519_LEN];
        rc = CRYPTO_memcmp(out, zero, LP2P_X25519_LEN) == 0 ? LP2P_ERR_CRYPTO : 0;
    }
    if (rc)
        OPENSSL_cleanse(out, LP2P_X25519_LEN);
    return rc;
}

void lp2p_x25519_wipe(lp2p_x25519_key *k)
{
    EVP_PKEY_CTX_free(k->dctx);
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k, sizeof(*k));
}
