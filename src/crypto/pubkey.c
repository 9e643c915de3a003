/* Verification of remote libp2p public keys with OpenSSL 3 EVP (see pubkey.h). */
#include "crypto/pubkey.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/hash.h"
#include "lp2p/err.h"

/* PKIX SubjectPublicKeyInfo DER (RSA and ECDSA keys). The whole buffer must be the one
 * structure: trailing bytes would let two different Data (two peer IDs) share a key. */
static int load_pkix(const uint8_t *data, size_t dlen, int want_id, EVP_PKEY **out)
{
    if (dlen == 0 || dlen > 0x7fffffff)
        return LP2P_ERR_DECODE;
    const unsigned char *p = data;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)dlen);
    if (!pk)
        return LP2P_ERR_DECODE;
    if (p != data + dlen) {
        EVP_PKEY_free(pk);
        return LP2P_ERR_DECODE;
    }
    if (EVP_PKEY_get_base_id(pk) != want_id) {
        EVP_PKEY_free(pk);
        return LP2P_ERR_UNSUPPORTED;
    }
    *out = pk;
    return 0;
}

static int check_rsa(EVP_PKEY *pk)
{
    int bits = EVP_PKEY_get_bits(pk);
    if (bits < LP2P_RSA_MIN_BITS || bits > LP2P_RSA_MAX_BITS)
        return LP2P_ERR_UNSUPPORTED;
    return 0;
}

/* EC keys: a named curve from the allowed list, and a public point that passes OpenSSL's
 * full check (on the curve, in the prime-order subgroup, not infinity). */
static int check_ec(EVP_PKEY *pk, const char *const *curves)
{
    char name[64];
    size_t nlen = 0;
    if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &nlen))
        return LP2P_ERR_UNSUPPORTED; /* explicit curve parameters */
    int known = 0;
    for (size_t i = 0; curves[i]; i++)
        if (strcmp(name, curves[i]) == 0)
            known = 1;
    if (!known)
        return LP2P_ERR_UNSUPPORTED;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (!ctx)
        return LP2P_ERR_NOMEM;
    int ok = EVP_PKEY_public_check(ctx);
    EVP_PKEY_CTX_free(ctx);
    return ok == 1 ? 0 : LP2P_ERR_DECODE;
}

static const char *const NIST_CURVES[] = {"prime256v1", "secp384r1", "secp521r1", "secp224r1",
                                          NULL};
static const char *const SECP256K1_CURVE[] = {"secp256k1", NULL};

/* Secp256k1: a bare SEC1 point (compressed 02/03 ‖ x, or 04 ‖ x ‖ y), turned into an
 * EVP_PKEY through OSSL_PARAMs on the named group. */
static int load_secp256k1(const uint8_t *data, size_t dlen, EVP_PKEY **out)
{
    if (!((dlen == 33 && (data[0] == 0x02 || data[0] == 0x03)) || (dlen == 65 && data[0] == 0x04)))
        return LP2P_ERR_DECODE;
    OSSL_PARAM params[3];
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"secp256k1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)data, dlen);
    params[2] = OSSL_PARAM_construct_end();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx)
        return LP2P_ERR_NOMEM;
    EVP_PKEY *pk = NULL;
    int ok = EVP_PKEY_fromdata_init(ctx) == 1 &&
             EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        EVP_PKEY_free(pk);
        return LP2P_ERR_DECODE;
    }
    *out = pk;
    return 0;
}

/* Parses and checks; on success *out is a new EVP_PKEY the caller frees. */
static int load_key(int type, const uint8_t *data, size_t dlen, EVP_PKEY **out)
{
    EVP_PKEY *pk = NULL;
    int rc;
    switch (type) {
    case LP2P_PK_ED25519:
        if (dlen != 32)
            return LP2P_ERR_DECODE;
        pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, data, dlen);
        rc = pk ? 0 : LP2P_ERR_DECODE;
        break;
    case LP2P_PK_RSA:
        rc = load_pkix(data, dlen, EVP_PKEY_RSA, &pk);
        if (rc == 0)
            rc = check_rsa(pk);
        break;
    case LP2P_PK_ECDSA:
        rc = load_pkix(data, dlen, EVP_PKEY_EC, &pk);
        if (rc == 0)
            rc = check_ec(pk, NIST_CURVES);
        break;
    case LP2P_PK_SECP256K1:
        rc = load_secp256k1(data, dlen, &pk);
        if (rc == 0)
            rc = check_ec(pk, SECP256K1_CURVE);
        break;
    default:
        return LP2P_ERR_UNSUPPORTED;
    }
    if (rc != 0) {
        EVP_PKEY_free(pk);
        ERR_clear_error(); /* failures are reported by code, not OpenSSL's error queue */
        return rc;
    }
    *out = pk;
    return 0;
}

int lp2p_crypto_pubkey_check(int type, const uint8_t *data, size_t dlen)
{
    EVP_PKEY *pk = NULL;
    int rc = load_key(type, data, dlen, &pk);
    EVP_PKEY_free(pk);
    return rc;
}

/* Signatures this thread has verified: a direct-mapped table of SHA-256(tag ‖ type ‖
 * |key| ‖ key ‖ |sig| ‖ sig ‖ msg) over the (key, signature, message) triples that checked
 * out. A peer that connects again sends the same signed peer record in identify (and the
 * same Noise identity signature over its static key, proto/noise_static.h): a hit skips an
 * Ed25519 verification (~40 µs), 38% of each side's instructions for a connection with
 * identify. Safe (docs/decisions.md): verification is a deterministic function of the
 * triple, only successes are entered, and a hit needs the same digest (the lengths make the
 * encoding injective), i.e. the same bytes; for Noise, what the handshake proves about the
 * static key is unchanged, since the DHs still need its private half. Bounded: the slots are
 * overwritten, a miss only costs the verification. */
#define VERIFIED_SLOTS 256 /* 8 KiB per thread */
static _Thread_local uint8_t t_verified[VERIFIED_SLOTS][LP2P_SHA256_LEN];
static _Thread_local uint8_t t_verified_used[VERIFIED_SLOTS];

static int triple_digest(int type, const uint8_t *data, size_t dlen, const uint8_t *msg,
                         size_t msglen, const uint8_t *sig, size_t siglen,
                         uint8_t d[LP2P_SHA256_LEN])
{
    static const char tag[] = "lp2p verified signature 1";
    uint8_t t = (uint8_t)type;
    uint64_t kl = dlen, sl = siglen;
    const void *ptrs[] = {tag, &t, &kl, data, &sl, sig, msg};
    const size_t lens[] = {sizeof(tag), 1, sizeof(kl), dlen, sizeof(sl), siglen, msglen};
    return lp2p_sha256_parts(ptrs, lens, sizeof(lens) / sizeof(lens[0]), d);
}

static size_t verified_slot(const uint8_t d[LP2P_SHA256_LEN])
{
    return ((size_t)d[0] | (size_t)d[1] << 8) % VERIFIED_SLOTS;
}

static int verify_uncached(int type, const uint8_t *data, size_t dlen, const uint8_t *msg,
                           size_t msglen, const uint8_t *sig, size_t siglen);

int lp2p_crypto_pubkey_verify(int type, const uint8_t *data, size_t dlen, const uint8_t *msg,
                              size_t msglen, const uint8_t *sig, size_t siglen)
{
    static const uint8_t empty[1];
    if (!msg)
        msg = empty, msglen = 0;
    if (!sig || siglen == 0 || !data)
        return verify_uncached(type, data, dlen, msg, msglen, sig, siglen);
    uint8_t d[LP2P_SHA256_LEN];
    int have_d = triple_digest(type, data, dlen, msg, msglen, sig, siglen, d) == 0;
    size_t i = have_d ? verified_slot(d) : 0;
    if (have_d && t_verified_used[i] && memcmp(t_verified[i], d, LP2P_SHA256_LEN) == 0)
        return 0;
    int rc = verify_uncached(type, data, dlen, msg, msglen, sig, siglen);
    if (rc == 0 && have_d) {
        memcpy(t_verified[i], d, LP2P_SHA256_LEN);
        t_verified_used[i] = 1;
    }
    return rc;
}

static int verify_uncached(int type, const uint8_t *data, size_t dlen, const uint8_t *msg,
                           size_t msglen, const uint8_t *sig, size_t siglen)
{
    EVP_PKEY *pk = NULL;
    int rc = load_key(type, data, dlen, &pk);
    if (rc != 0)
        return rc;
    if (!sig || siglen == 0) {
        EVP_PKEY_free(pk);
        return LP2P_ERR_AUTH;
    }
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    if (!mctx) {
        EVP_PKEY_free(pk);
        return LP2P_ERR_NOMEM;
    }
    /* Ed25519 hashes internally (no digest); the other three sign SHA-256(msg). */
    const EVP_MD *md = type == LP2P_PK_ED25519 ? NULL : EVP_sha256();
    static const uint8_t empty[1];
    if (!msg)
        msg = empty, msglen = 0;
    EVP_PKEY_CTX *pctx = NULL;
    rc = LP2P_ERR_AUTH;
    if (EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pk) == 1) {
        int padding_ok = 1;
        if (type == LP2P_PK_RSA)
            padding_ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
        if (padding_ok && EVP_DigestVerify(mctx, sig, siglen, msg, msglen) == 1)
            rc = 0;
    } else {
        rc = LP2P_ERR_CRYPTO;
    }
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_free(pk);
    ERR_clear_error();
    return rc;
}

/* secp256k1: Q = d·G, written as a compressed SEC1 point (what go and js put in PublicKey). */
static int secp256k1_public(const uint8_t *priv, size_t plen, uint8_t *out, size_t *outlen)
{
    if (plen != 32)
        return LP2P_ERR_DECODE;
    if (*outlen < 33)
        return LP2P_ERR_TOO_LARGE;
    int rc = LP2P_ERR_NOMEM;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp256k1);
    BN_CTX *bctx = BN_CTX_new();
    BIGNUM *d = BN_bin2bn(priv, (int)plen, NULL);
    EC_POINT *q = g ? EC_POINT_new(g) : NULL;
    if (g && bctx && d && q) {
        rc = LP2P_ERR_DECODE;
        /* 0 < d < n, else it is not a private key */
        if (!BN_is_zero(d) && BN_cmp(d, EC_GROUP_get0_order(g)) < 0 &&
            EC_POINT_mul(g, q, d, NULL, NULL, bctx) == 1 &&
            EC_POINT_point2oct(g, q, POINT_CONVERSION_COMPRESSED, out, 33, bctx) == 33) {
            *outlen = 33;
            rc = 0;
        }
    }
    EC_POINT_free(q);
    BN_clear_free(d);
    BN_CTX_free(bctx);
    EC_GROUP_free(g);
    return rc;
}

/* ECDSA and RSA: parse the DER private key, write the PKIX public key DER. */
static int der_private_public(int type, const uint8_t *priv, size_t plen, uint8_t *out,
                              size_t *outlen)
{
    if (plen == 0 || plen > 0x7fffffff)
        return LP2P_ERR_DECODE;
    const unsigned char *p = priv;
    EVP_PKEY *pk =
        d2i_PrivateKey(type == LP2P_PK_RSA ? EVP_PKEY_RSA : EVP_PKEY_EC, NULL, &p, (long)plen);
    if (!pk)
        return LP2P_ERR_DECODE;
    int rc = p == priv + plen ? 0 : LP2P_ERR_DECODE;
    if (rc == 0)
        rc = type == LP2P_PK_RSA ? check_rsa(pk) : check_ec(pk, NIST_CURVES);
    if (rc == 0) {
        int len = i2d_PUBKEY(pk, NULL);
        if (len <= 0) {
            rc = LP2P_ERR_DECODE;
        } else if ((size_t)len > *outlen) {
            rc = LP2P_ERR_TOO_LARGE;
        } else {
            unsigned char *o = out;
            i2d_PUBKEY(pk, &o);
            *outlen = (size_t)len;
        }
    }
    EVP_PKEY_free(pk);
    return rc;
}

int lp2p_crypto_pubkey_from_private(int type, const uint8_t *priv, size_t plen, uint8_t *out,
                                    size_t *outlen)
{
    int rc;
    switch (type) {
    case LP2P_PK_SECP256K1:
        rc = secp256k1_public(priv, plen, out, outlen);
        break;
    case LP2P_PK_ECDSA:
    case LP2P_PK_RSA:
        rc = der_private_public(type, priv, plen, out, outlen);
        break;
    default:
        return LP2P_ERR_UNSUPPORTED;
    }
    ERR_clear_error();
    return rc;
}
