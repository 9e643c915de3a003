/* X25519 (RFC 7748) over OpenSSL 3, for Noise's DH(). */
#ifndef LP2P_CRYPTO_DH_H
#define LP2P_CRYPTO_DH_H

#include <stdint.h>

#include "util/rng.h"

#define LP2P_X25519_LEN 32

/* A key pair. It keeps OpenSSL's parsed form of priv, because building it from raw bytes
 * costs a scalar multiplication (OpenSSL derives the public key): caching it halves the
 * cost of each DH; and a derive context on it, because making one looks the algorithm up
 * by name (~2 µs, 18 k instructions) while a DH only needs to set the peer. Release with
 * lp2p_x25519_wipe. A struct may be moved (copied, then the source zeroed) but not
 * duplicated: use lp2p_x25519_share. One thread at a time uses a key. */
typedef struct lp2p_x25519_key {
    uint8_t priv[LP2P_X25519_LEN];
    uint8_t pub[LP2P_X25519_LEN];
    struct evp_pkey_st *pkey;
    struct evp_pkey_ctx_st *dctx; /* derive-initialised on pkey */
} lp2p_x25519_key;

/* Fresh key pair from the caller's randomness (k must be zeroed or wiped). */
int lp2p_x25519_keygen(lp2p_x25519_key *k, const lp2p_rng *rng);
/* Key pair from a given private scalar (tests, vectors); computes pub. k must be zeroed or
 * wiped. */
int lp2p_x25519_from_private(lp2p_x25519_key *k, const uint8_t priv[LP2P_X25519_LEN]);
/* dst becomes a second holder of src's key pair (OpenSSL's parsed key is reference-counted,
 * so no scalar multiplication; the derive context is duplicated, so dst and src may then
 * be used by different threads). dst must be zeroed or wiped; wipe both independently. */
int lp2p_x25519_share(lp2p_x25519_key *dst, const lp2p_x25519_key *src);
/* Shared secret of our private key and their public key. LP2P_ERR_CRYPTO when the result
 * is all zeros (a small-order public key, RFC 7748 §6.1) or OpenSSL fails. */
int lp2p_x25519_dh(const lp2p_x25519_key *k, const uint8_t peer_pub[LP2P_X25519_LEN],
                   uint8_t out[LP2P_X25519_LEN]);
/* Frees OpenSSL's copy and wipes the private key. Idempotent. */
void lp2p_x25519_wipe(lp2p_x25519_key *k);

#endif
