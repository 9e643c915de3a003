/* Noise_XX_25519_ChaChaPoly_SHA256: the Noise Protocol Framework (rev. 34) state objects for
 * the one pattern libp2p uses, with no libp2p specifics (those are in proto/noise.h).
 * Split out so the cacophony test vectors can drive it with their prologue and payloads.
 *
 *   XX:
 *     -> e
 *     <- e, ee, s, es
 *     -> s, se
 *
 * Sans-IO and unframed: write appends one handshake message to a buffer, read consumes
 * exactly one. */
#ifndef LP2P_PROTO_NOISE_XX_H
#define LP2P_PROTO_NOISE_XX_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/aead.h"
#include "crypto/dh.h"
#include "crypto/hash.h"
#include "util/buf.h"

#define LP2P_NOISE_PROTOCOL_NAME "Noise_XX_25519_ChaChaPoly_SHA256"
#define LP2P_NOISE_TAG_LEN       LP2P_AEAD_TAG_LEN
/* Largest Noise message (spec §3). */
#define LP2P_NOISE_MAX_MSG 65535

/* CipherState (spec §5.1): key k and 64-bit nonce n. n = 2^64-1 is reserved, so after
 * 2^64-1 messages the state refuses to go on (LP2P_ERR_CRYPTO). */
typedef struct lp2p_noise_cs {
    lp2p_aead aead;
    uint64_t n;
    int has_key;
} lp2p_noise_cs;

void lp2p_noise_cs_init_key(lp2p_noise_cs *cs, const uint8_t k[LP2P_AEAD_KEY_LEN]);
void lp2p_noise_cs_free(lp2p_noise_cs *cs);
/* Without a key the plaintext is copied through; with one, out gets len + 16 bytes.
 * out may equal pt. */
int lp2p_noise_cs_encrypt(lp2p_noise_cs *cs, const uint8_t *ad, size_t adlen, const uint8_t *pt,
                          size_t len, uint8_t *out);
/* The same over the concatenation of cnt pieces, keyed states only; out must not overlap. */
int lp2p_noise_cs_encrypt_gather(lp2p_noise_cs *cs, const struct iovec *pt, int cnt, uint8_t *out);
/* out gets len - 16 bytes (len when no key). The nonce advances only on success. */
int lp2p_noise_cs_decrypt(lp2p_noise_cs *cs, const uint8_t *ad, size_t adlen, const uint8_t *ct,
                          size_t len, uint8_t *out);

/* HandshakeState (spec §5.3) with its SymmetricState (§5.2) inlined. */
typedef struct lp2p_noise_xx {
    int initiator;
    int msg; /* handshake messages processed so far, 0..3 */
    uint8_t ck[LP2P_SHA256_LEN];
    uint8_t h[LP2P_SHA256_LEN];
    lp2p_noise_cs cs;
    lp2p_x25519_key s, e;
    int e_given;  /* e was injected (test vectors) rather than generated on write */
    lp2p_rng rng; /* the caller's randomness, for s and e */
    uint8_t rs[LP2P_X25519_LEN], re[LP2P_X25519_LEN];
} lp2p_noise_xx;

/* s_priv / e_priv: X25519 private keys to use, or NULL for fresh ones drawn from rng (e_priv
 * is for test vectors only: an ephemeral key must never be reused). rng is copied. */
int lp2p_noise_xx_init(lp2p_noise_xx *x, int initiator, const uint8_t *prologue, size_t plen,
                       const uint8_t *s_priv, const uint8_t *e_priv, const lp2p_rng *rng);
/* The same with a long-lived static key pair s held by the caller (shared, not copied:
 * building a key from raw bytes costs a scalar multiplication). */
int lp2p_noise_xx_init_with_static(lp2p_noise_xx *x, int initiator, const uint8_t *prologue,
                                   size_t plen, const lp2p_x25519_key *s, const lp2p_rng *rng);
void lp2p_noise_xx_free(lp2p_noise_xx *x);
/* Whose turn: 1 when the next handshake message is ours to write. */
int lp2p_noise_xx_our_turn(const lp2p_noise_xx *x);
static inline int lp2p_noise_xx_done(const lp2p_noise_xx *x)
{
    return x->msg >= 3;
}
/* Appends the next handshake message carrying payload to out. */
int lp2p_noise_xx_write(lp2p_noise_xx *x, const uint8_t *payload, size_t plen, lp2p_buf *out);
/* Processes the next handshake message (exactly msglen bytes); appends its payload to
 * payload_out. LP2P_ERR_PROTO when too short, LP2P_ERR_CRYPTO when it does not decrypt or
 * a DH is degenerate. */
int lp2p_noise_xx_read(lp2p_noise_xx *x, const uint8_t *msg, size_t msglen, lp2p_buf *payload_out);
/* After the third message: the two transport CipherStates (initiator sends with the first
 * key). Wipes the handshake secrets. */
int lp2p_noise_xx_split(lp2p_noise_xx *x, lp2p_noise_cs *tx, lp2p_noise_cs *rx);

#endif
