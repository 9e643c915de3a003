#include "crypto/aead.h"
#include "lp2p/err.h"
#include "util/thread_exit.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

/* The calling thread's two contexts, made on first use and freed when the thread exits
 * (util/thread_exit.h; the main thread's live until the process ends). */
static _Thread_local EVP_CIPHER_CTX *t_ctx[2]; /* [0] open, [1] seal */
/* The key each context holds: a frame of the same connection as the last one (the common
 * case: a burst, or one busy connection) only resets the IV, as a per-key context did. */
static _Thread_local uint64_t t_loaded[2]; /* lp2p_aead.id; 0 = none */
static _Atomic uint64_t g_next_id = 1;

static void free_thread_ctxs(void)
{
    for (int i = 0; i < 2; i++) {
        EVP_CIPHER_CTX_free(t_ctx[i]);
        t_ctx[i] = NULL;
        t_loaded[i] = 0;
    }
}

/* The thread's context for enc (1) or dec (0), loaded with a's key and iv. */
static int ctx_for(const lp2p_aead *a, const uint8_t iv[LP2P_AEAD_NONCE_LEN], int enc,
                   EVP_CIPHER_CTX **out)
{
    EVP_CIPHER_CTX *c = t_ctx[enc];
    if (!c) {
        if (!(c = EVP_CIPHER_CTX_new()))
            return LP2P_ERR_NOMEM;
        if (EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, NULL, NULL, enc) != 1) {
            EVP_CIPHER_CTX_free(c);
            return LP2P_ERR_CRYPTO;
        }
        t_ctx[enc] = c;
        (void)lp2p_thread_at_exit(free_thread_ctxs);
    }
    int same = a->id && t_loaded[enc] == a->id;
    if (EVP_CipherInit_ex(c, NULL, NULL, same ? NULL : a->key, iv, enc) != 1) {
        t_loaded[enc] = 0;
        return LP2P_ERR_CRYPTO;
    }
    t_loaded[enc] = a->id;
    *out = c;
    return 0;
}

int lp2p_aead_init(lp2p_aead *a, const uint8_t key[LP2P_AEAD_KEY_LEN])
{
    memmove(a->key, key, LP2P_AEAD_KEY_LEN);
    a->id = g_next_id++; /* atomic: threads never share an id, so never a wrong key */
    return 0;
}

void lp2p_aead_free(lp2p_aead *a)
{
    OPENSSL_cleanse(a->key, sizeof(a->key));
    a->id = 0;
}

void lp2p_aead_noise_nonce(uint64_t n, uint8_t iv[LP2P_AEAD_NONCE_LEN])
{
    memset(iv, 0, 4);
    for (int i = 0; i < 8; i++)
        iv[4 + i] = (uint8_t)(n >> (8 * i));
}

/* One AEAD pass over the pieces in order: ciphertext lands contiguous in out, then the tag. */
static int seal_pieces(lp2p_aead *a, const uint8_t iv[LP2P_AEAD_NONCE_LEN], const uint8_t *ad,
                       size_t adlen, const struct iovec *pt, int cnt, uint8_t *out)
{
    int outl = 0, rc;
    size_t len = 0;
    for (int i = 0; i < cnt; i++)
        len += pt[i].iov_len;
    if (len > INT_MAX - LP2P_AEAD_TAG_LEN || adlen > INT_MAX)
        return LP2P_ERR_TOO_LARGE;
    EVP_CIPHER_CTX *c;
    if ((rc = ctx_for(a, iv, 1, &c)))
        return rc;
    if (adlen && EVP_EncryptUpdate(c, NULL, &outl, ad, (int)adlen) != 1)
        return LP2P_ERR_CRYPTO;
    size_t off = 0;
    for (int i = 0; i < cnt; i++) {
        if (pt[i].iov_len &&
            EVP_EncryptUpdate(c, out + off, &outl, pt[i].iov_base, (int)pt[i].iov_len) != 1)
            return LP2P_ERR_CRYPTO;
        off += pt[i].iov_len;
    }
    if (EVP_EncryptFinal_ex(c, out + len, &outl) != 1)
        return LP2P_ERR_CRYPTO;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, LP2P_AEAD_TAG_LEN, out + len) != 1)
        return LP2P_ERR_CRYPTO;
    return 0;
}

int lp2p_aead_seal_iv(lp2p_aead *a, const uint8_t iv[LP2P_AEAD_NONCE_LEN], const uint8_t *ad,
                      size_t adlen, const uint8_t *pt, size_t len, uint8_t *out)
{
    struct iovec one = {(void *)pt, len};
    return seal_pieces(a, iv, ad, adlen, &one, 1, out);
}

int lp2p_aead_open_iv(lp2p_aead *a, const uint8_t iv[LP2P_AEAD_NONCE_LEN], const uint8_t *ad,
                      size_t adlen, const uint8_t *ct, size_t len, uint8_t *out)
{
    int outl = 0, rc;
    if (len < LP2P_AEAD_TAG_LEN)
        return LP2P_ERR_CRYPTO;
    if (len > INT_MAX || adlen > INT_MAX)
        return LP2P_ERR_TOO_LARGE;
    EVP_CIPHER_CTX *c;
    if ((rc = ctx_for(a, iv, 0, &c)))
        return rc;
    size_t n = len - LP2P_AEAD_TAG_LEN;
    /* The tag is copied out first: with out == ct, decryption overwrites nothing past n,
     * but OpenSSL wants a mutable pointer for SET_TAG. */
    uint8_t tag[LP2P_AEAD_TAG_LEN];
    memcpy(tag, ct + n, LP2P_AEAD_TAG_LEN);
    if (adlen && EVP_DecryptUpdate(c, NULL, &outl, ad, (int)adlen) != 1)
        return LP2P_ERR_CRYPTO;
    if (n && EVP_DecryptUpdate(c, out, &outl, ct, (int)n) != 1)
        return LP2P_ERR_CRYPTO;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, LP2P_AEAD_TAG_LEN, tag) != 1)
        return LP2P_ERR_CRYPTO;
    if (EVP_DecryptFinal_ex(c, out + n, &outl) != 1)
        return LP2P_ERR_CRYPTO;
    return 0;
}

int lp2p_aead_seal(lp2p_aead *a, uint64_t n, const uint8_t *ad, size_t adlen, const uint8_t *pt,
                   size_t len, uint8_t *out)
{
    uint8_t iv[LP2P_AEAD_NONCE_LEN];
    lp2p_aead_noise_nonce(n, iv);
    return lp2p_aead_seal_iv(a, iv, ad, adlen, pt, len, out);
}

int lp2p_aead_seal_gather(lp2p_aead *a, uint64_t n, const struct iovec *pt, int cnt, uint8_t *out)
{
    uint8_t iv[LP2P_AEAD_NONCE_LEN];
    lp2p_aead_noise_nonce(n, iv);
    return seal_pieces(a, iv, NULL, 0, pt, cnt, out);
}

int lp2p_aead_open(lp2p_aead *a, uint64_t n, const uint8_t *ad, size_t adlen, const uint8_t *ct,
                   size_t len, uint8_t *out)
{
    uint8_t iv[LP2P_AEAD_NONCE_LEN];
    lp2p_aead_noise_nonce(n, iv);
    return lp2p_aead_open_iv(a, iv, ad, adlen, ct, len, out);
}
