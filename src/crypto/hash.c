#include "crypto/hash.h"
#include "lp2p/err.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <string.h>

int lp2p_sha256(const void *p, size_t n, uint8_t out[LP2P_SHA256_LEN])
{
    unsigned int len = 0;
    if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != LP2P_SHA256_LEN)
        return LP2P_ERR_CRYPTO;
    return 0;
}

int lp2p_sha256_2(const void *a, size_t an, const void *b, size_t bn, uint8_t out[LP2P_SHA256_LEN])
{
    lp2p_sha256_ctx c = {0};
    int rc = lp2p_sha256_init(&c);
    if (!rc)
        rc = lp2p_sha256_update(&c, a, an);
    if (!rc)
        rc = lp2p_sha256_update(&c, b, bn);
    if (!rc)
        rc = lp2p_sha256_final(&c, out);
    lp2p_sha256_free(&c);
    return rc;
}

int lp2p_sha256_init(lp2p_sha256_ctx *c)
{
    if (!c->md && !(c->md = EVP_MD_CTX_new()))
        return LP2P_ERR_NOMEM;
    if (EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1)
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
    return EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) == 1 ? 0 : LP2P_ERR_CRYPTO;
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

static int noise_hkdf(const uint8_t ck[LP2P_SHA256_LEN], const void *ikm, size_t ikmlen,
                      uint8_t *outs[], size_t nout)
{
    uint8_t tmp[3 * LP2P_SHA256_LEN];
    int rc =
        lp2p_hkdf_sha256(ck, LP2P_SHA256_LEN, ikm, ikmlen, NULL, 0, tmp, nout * LP2P_SHA256_LEN);
    if (rc == 0)
        for (size_t i = 0; i < nout; i++)
            memcpy(outs[i], tmp + i * LP2P_SHA256_LEN, LP2P_SHA256_LEN);
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
