/* ChaCha20-Poly1305 AEAD (RFC 8439) over OpenSSL 3, with Noise's nonce encoding.
 *
 * Noise (spec §12.3): the 96-bit nonce is 32 bits of zeros followed by the little-endian
 * 64-bit counter n:   00 00 00 00 ‖ le64(n)
 *
 * One lp2p_aead holds only its key (32 bytes). The EVP_CIPHER_CTXs are the thread's, one
 * for sealing and one for opening, shared by every key: a frame loads key and IV into them
 * (ChaCha20 has no key schedule: loading a key is a copy), so a frame still costs no
 * allocation, and an idle connection does not keep two OpenSSL contexts (~2.2 KiB). */
#ifndef LP2P_CRYPTO_AEAD_H
#define LP2P_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include <sys/uio.h>

#define LP2P_AEAD_KEY_LEN   32
#define LP2P_AEAD_NONCE_LEN 12
#define LP2P_AEAD_TAG_LEN   16

typedef struct lp2p_aead {
    uint8_t key[LP2P_AEAD_KEY_LEN];
    uint64_t id; /* unique per lp2p_aead_init in the process: which key a context holds */
} lp2p_aead;

/* Sets the key. Safe on a zeroed struct and to call again to rekey. 0 or error. */
int lp2p_aead_init(lp2p_aead *a, const uint8_t key[LP2P_AEAD_KEY_LEN]);
/* Wipes the key. Safe on a zeroed or freed struct. */
void lp2p_aead_free(lp2p_aead *a);

/* Writes len bytes of ciphertext then the 16-byte tag to out (len + 16 bytes). out may equal
 * pt (in place). ad may be NULL when adlen is 0. */
int lp2p_aead_seal_iv(lp2p_aead *a, const uint8_t iv[LP2P_AEAD_NONCE_LEN], const uint8_t *ad,
                      size_t adlen, const uint8_t *pt, size_t len, uint8_t *out);
/* ct is len bytes including the tag (len >= 16); writes len - 16 bytes of plaintext to out
 * (may equal ct). LP2P_ERR_CRYPTO when the tag does not verify; out is then garbage. */
int lp2p_aead_open_iv(lp2p_aead *a, const uint8_t iv[LP2P_AEAD_NONCE_LEN], const uint8_t *ad,
                      size_t adlen, const uint8_t *ct, size_t len, uint8_t *out);

/* The same with the Noise nonce 00000000 ‖ le64(n). */
int lp2p_aead_seal(lp2p_aead *a, uint64_t n, const uint8_t *ad, size_t adlen, const uint8_t *pt,
                   size_t len, uint8_t *out);
int lp2p_aead_open(lp2p_aead *a, uint64_t n, const uint8_t *ad, size_t adlen, const uint8_t *ct,
                   size_t len, uint8_t *out);

/* Seals the concatenation of cnt pieces (no associated data) in one pass, so a frame built
 * from a header and a payload that live apart needs no copy first: out gets their total
 * length + 16 bytes; a piece may sit exactly where its ciphertext goes (in place), otherwise
 * the pieces must not overlap out. */
int lp2p_aead_seal_gather(lp2p_aead *a, uint64_t n, const struct iovec *pt, int cnt, uint8_t *out);

/* Writes Noise's nonce for n into iv. */
void lp2p_aead_noise_nonce(uint64_t n, uint8_t iv[LP2P_AEAD_NONCE_LEN]);

#endif
