/* SHA-256, HMAC-SHA256 and HKDF-SHA256 over OpenSSL 3 (FIPS 180-4, RFC 2104, RFC 5869).
 *
 * Noise's HKDF (noise spec §4.3) is RFC 5869 with salt = chaining key, IKM = input key
 * material and an empty info string, cut into 2 or 3 outputs of 32 bytes:
 *   temp = HMAC(ck, ikm); out1 = HMAC(temp, 01); out2 = HMAC(temp, out1 ‖ 02); out3 = …
 * which is exactly RFC 5869 Expand's T(1) ‖ T(2) ‖ T(3). */
#ifndef LP2P_CRYPTO_HASH_H
#define LP2P_CRYPTO_HASH_H

#include <stddef.h>
#include <stdint.h>

#define LP2P_SHA256_LEN 32

/* One-shot digest. 0 or LP2P_ERR_CRYPTO. */
int lp2p_sha256(const void *p, size_t n, uint8_t out[LP2P_SHA256_LEN]);
/* SHA-256(a ‖ b) without concatenating first (Noise's MixHash). */
int lp2p_sha256_2(const void *a, size_t an, const void *b, size_t bn, uint8_t out[LP2P_SHA256_LEN]);

/* SHA-256 of the concatenation of n pieces (a NULL piece must have length 0). */
int lp2p_sha256_parts(const void *const *ptrs, const size_t *lens, size_t n,
                      uint8_t out[LP2P_SHA256_LEN]);

/* Incremental digest. init allocates; final writes the digest and resets the context for
 * reuse; free releases it (safe on a zeroed or freed context). */
typedef struct lp2p_sha256_ctx {
    struct evp_md_ctx_st *md;
} lp2p_sha256_ctx;

int lp2p_sha256_init(lp2p_sha256_ctx *c);
int lp2p_sha256_update(lp2p_sha256_ctx *c, const void *p, size_t n);
int lp2p_sha256_final(lp2p_sha256_ctx *c, uint8_t out[LP2P_SHA256_LEN]);
void lp2p_sha256_free(lp2p_sha256_ctx *c);

int lp2p_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                     uint8_t out[LP2P_SHA256_LEN]);

/* RFC 5869 Extract-then-Expand into out[0..outlen) (outlen <= 255*32). */
int lp2p_hkdf_sha256(const void *salt, size_t saltlen, const void *ikm, size_t ikmlen,
                     const void *info, size_t infolen, uint8_t *out, size_t outlen);

/* Noise HKDF(ck, ikm) with 2 or 3 outputs. Outputs may alias ck. */
int lp2p_hkdf2(const uint8_t ck[LP2P_SHA256_LEN], const void *ikm, size_t ikmlen,
               uint8_t out1[LP2P_SHA256_LEN], uint8_t out2[LP2P_SHA256_LEN]);
int lp2p_hkdf3(const uint8_t ck[LP2P_SHA256_LEN], const void *ikm, size_t ikmlen,
               uint8_t out1[LP2P_SHA256_LEN], uint8_t out2[LP2P_SHA256_LEN],
               uint8_t out3[LP2P_SHA256_LEN]);

#endif
