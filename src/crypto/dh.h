/* X25519 (RFC 7748) over OpenSSL 3, for Noise's DH(). */
#ifndef LP2P_CRYPTO_DH_H
#define LP2P_CRYPTO_DH_H

#include <stdint.h>

#define LP2P_X25519_LEN 32

typedef struct lp2p_x25519_key {
    uint8_t priv[LP2P_X25519_LEN];
    uint8_t pub[LP2P_X25519_LEN];
} lp2p_x25519_key;

/* Fresh random key pair. */
int lp2p_x25519_keygen(lp2p_x25519_key *k);
/* Key pair from a given private scalar (tests, vectors); computes pub. */
int lp2p_x25519_from_private(lp2p_x25519_key *k, const uint8_t priv[LP2P_X25519_LEN]);
/* Shared secret of our private key and their public key. LP2P_ERR_CRYPTO when the result
 * is all zeros (a small-order public key, RFC 7748 §6.1) or OpenSSL fails. */
int lp2p_x25519_dh(const uint8_t priv[LP2P_X25519_LEN], const uint8_t peer_pub[LP2P_X25519_LEN],
                   uint8_t out[LP2P_X25519_LEN]);
/* Wipes the private key. */
void lp2p_x25519_wipe(lp2p_x25519_key *k);

#endif
