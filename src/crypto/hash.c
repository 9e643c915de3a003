#include "crypto/hash.h"
#include "lp2p/err.h"
#include "util/thread_exit.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <pthread.h>
#include <string.h>

/* SHA-256 fetched once: EVP_sha256() is a placeholder that OpenSSL 3 resolves with a fetch
 * (a name lookup under a lock) on every EVP_DigestInit_ex, which cost more than the two
 * compressions of a Noise MixHash. The fetched object is immutable and shared by threads. */
static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
    pthread_once(&g_sha256_once, fetch_sha256);
    return g_sha256 ? g_sha256 : EVP_sha256();
}

/* The calling thread's digest context for the one-shot functions below (made on first use,
 * freed when the thread exits; the main thread's lives until the process ends). */
static _Thread_local EVP_MD_CTX *t_md;
static _Thread_local EVP_MAC_CTX *t_hmac; /* see thread_hmac */

static void free_thread_ctxs(void)
{
    EVP_MD_CTX_free(t_md);
    t_md = NULL;
    EVP_MAC_CTX_free(t_hmac);
    t_hmac = NULL;
}

static EVP_MD_CTX *thread_md(void)
{
    if (!t_md && (t_md = EVP_MD_CTX_new()))
        (void)lp2p_thread_at_exit(free_thread_ctxs);
    return t_md;
}

/* SHA-256(a ‖ b) with the thread's context; either part may be empty. */
static int digest2(const void *a, size_t an, const void *b, size_t bn, uint8_t out[LP2P_SHA256_LEN])
{
    EVP_MD_CTX *c = thread_md();
    unsigned int len = 0;
    if (!c)
        return LP2P_ERR_NOMEM;
    if (EVP_DigestInit_ex2(c, sha256_md(), NULL) != 1 || (an && EVP_DigestUpdate(c, a, an) != 1) ||
        (bn && EVP_DigestUpdate(c, b, bn) != 1) || EVP_DigestFinal_ex(c, out, &len) != 1 ||
        len != LP2P_SHA256_LEN)
        return LP2P_ERR_CRYPTO;
    return 0;
}

int lp2p_sha256_parts(const void *const *ptrs, const size_t *lens, size_t n,
                      uint8_t out[LP2P_SHA256_LEN])
{
    EVP_MD_CTX *c = thread_md();
    unsigned int len = 0;
    if (!c)
        return LP2P_ERR_NOMEM;
    if (EVP_DigestInit_ex2(c, sha256_md(), NULL) != 1)
        return LP2P_ERR_CRYPTO;
    for (size_t i = 0; i < n; i++)
        if (lens[i] && EVP_DigestUpdate(c, ptrs[i], lens[i]) != 1)
            return LP2P_ERR_CRYPTO;
    if (EVP_DigestFinal_ex(c, out, &len) != 1 || len != LP2P_SHA256_LEN)
        return LP2P_ERR_CRYPTO;
    return 0;
}

int lp2p_sha256(const void *p, size_t n, uint8_t out[LP2P_SHA256_LEN])
{
    return digest2(p, n, NULL, 0, out);
}

int lp2p_sha256_2(const void *a, size_t an, const void *b, size_t bn, uint8_t out[LP2P_SHA256_LEN])
{
    return digest2(a, an, b, bn, out);
}

int lp2p_sha256_init(lp2p_sha256_ctx *c)
{
    if (!c->md && !(c->md = EVP_MD_CTX_new()))
        return LP2P_ERR_NOMEM;
    if (EVP_DigestInit_ex2(c->md, sha256_md(), NULL) != 1)
        return LP2P_ERR_CRYPTO;
    return 0;
}

int lp2p_sha256_update(lp2p_sha256_ctx *c, const void *p, size_t n)
{
    if (!c->md)
        return LP2P_ERR_STATE;
    return EVP_DigestUpdate(c->md, p, n) == 1 ? 0 : LP2P_ERR_CRYPTO;
}

int lp2p_sha256_final(lp2p_sha256_ctx *c, uint8_t out[LP2P_SHA256_LEN])
{
    unsigned int len = 0;
    if (!c->md)
        return LP2P_ERR_STATE;
    if (EVP_DigestFinal_ex(c->md, out, &len) != 1 || len != LP2P_SHA256_LEN)
        return LP2P_ERR_CRYPTO;
    /* Ready for another message without a new allocation. */
    return EVP_DigestInit_ex2(c->md, sha256_md(), NULL) == 1 ? 0 : LP2P_ERR_CRYPTO;
}

void lp2p_sha256_free(lp2p_sha256_ctx *c)
{
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

int lp2p_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t n,
                     uint8_t out[LP2P_SHA256_LEN])
{
    unsigned int len = 0;
    if (keylen > INT32_MAX)
        return LP2P_ERR_INVAL;
    /* HMAC() with an empty key needs a non-NULL pointer. */
    static const uint8_t empty[1];
    if (!HMAC(EVP_sha256(), keylen ? key : empty, (int)keylen, n ? msg : empty, n, out, &len) ||
        len != LP2P_SHA256_LEN)
        return LP2P_ERR_CRYPTO;
    return 0;
}

int lp2p_hkdf_sha256(const void *salt, size_t saltlen, const void *ikm, size_t ikmlen,
                     const void *info, size_t infolen, uint8_t *out, size_t outlen)
{
    static const uint8_t empty[1];
    if (outlen == 0 || outlen > 255 * LP2P_SHA256_LEN)
        return LP2P_ERR_INVAL;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    if (!kdf)
        return LP2P_ERR_CRYPTO;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!ctx)
        return LP2P_ERR_NOMEM;
    OSSL_PARAM params[5], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(ikmlen ? ikm : empty),
                                             ikmlen);
    /* An absent salt is HashLen zero bytes (RFC 5869 §2.2): same HMAC key as an empty one. */
    if (saltlen)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    if (infolen)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    *p = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(ctx, out, outlen, params) == 1;
    EVP_KDF_CTX_free(ctx);
    return ok ? 0 : LP2P_ERR_CRYPTO;
}

/* OpenSSL's HMAC fetched once, and the calling thread's HMAC-SHA256 context: EVP_MAC_init
 * with a new key reuses the digest, where HMAC() or OpenSSL's HKDF (lp2p_hkdf_sha256)
 * fetch the MAC and the digest by name on every call — three times what the twelve
 * compressions of a Noise HKDF cost. */
static EVP_MAC *g_hmac;
static pthread_once_t g_hmac_once = PTHREAD_ONCE_INIT;

static void fetch_hmac(void)
{
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static EVP_MAC_CTX *thread_hmac(void)
{
    if (t_hmac)
        return t_hmac;
    pthread_once(&g_hmac_once, fetch_hmac);
    if (!g_hmac)
        return NULL;
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(g_hmac);
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    if (!c || EVP_MAC_CTX_set_params(c, params) != 1) {
        EVP_MAC_CTX_free(c);
        return NULL;
    }
    (void)lp2p_thread_at_exit(free_thread_ctxs);
    return t_hmac = c;
}

/* HMAC-SHA256 with a 32-byte key (Noise only keys HMAC with ck or the temporary key) over
 * a ‖ b. */
static int hmac32(const uint8_t key[LP2P_SHA256_LEN], const void *a, size_t an, const void *b,
                  size_t bn, uint8_t out[LP2P_SHA256_LEN])
{
    EVP_MAC_CTX *c = thread_hmac();
    size_t len = 0;
    if (!c)
        return LP2P_ERR_CRYPTO;
    if (EVP_MAC_init(c, key, LP2P_SHA256_LEN, NULL) != 1 || (an && EVP_MAC_update(c, a, an) != 1) ||
        (bn && EVP_MAC_update(c, b, bn) != 1) ||
        EVP_MAC_final(c, out, &len, LP2P_SHA256_LEN) != 1 || len != LP2P_SHA256_LEN)
        return LP2P_ERR_CRYPTO;
    return 0;
}

/* Noise HKDF (§4.3): temp = HMAC(ck, ikm); out_i = HMAC(temp, out_{i-1} ‖ i). Outputs are
 * written only at the end, so they may alias ck. */
static int noise_hkdf(const uint8_t ck[LP2P_SHA256_LEN], const void *ikm, size_t ikmlen,
                      uint8_t *outs[], size_t nout)
{
    uint8_t temp[LP2P_SHA256_LEN], tmp[3][LP2P_SHA256_LEN];
    int rc = hmac32(ck, ikm, ikmlen, NULL, 0, temp);
    for (size_t i = 0; !rc && i < nout; i++) {
        uint8_t ctr = (uint8_t)(i + 1);
        rc = hmac32(temp, i ? tmp[i - 1] : NULL, i ? LP2P_SHA256_LEN : 0, &ctr, 1, tmp[i]);
    }
    if (rc == 0)
        for (size_t i = 0; i < nout; i++)
            memcpy(outs[i], tmp[i], LP2P_SHA256_LEN);
    OPENSSL_cleanse(temp, sizeof(temp));
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return rc;
}

int lp2p_hkdf2(const uint8_t ck[LP2P_SHA256_LEN], const void *ikm, size_t ikmlen,
               uint8_t out1[LP2P_SHA256_LEN], uint8_t out2[LP2P_SHA256_LEN])
{
    uint8_t *outs[2] = {out1, out2};
    return noise_hkdf(ck, ikm, ikmlen, outs, 2);
}

int lp2p_hkdf3(const uint8_t ck[LP2P_SHA256_LEN], const void *ikm, size_t ikmlen,
               uint8_t out1[LP2P_SHA256_LEN], uint8_t out2[LP2P_SHA256_LEN],
               uint8_t out3[LP2P_SHA256_LEN])
{
    uint8_t *outs[3] = {out1, out2, out3};
    return noise_hkdf(ck, ikm, ikmlen, outs, 3);
}
