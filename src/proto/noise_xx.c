/* Noise XX (noise spec rev. 34 §5) for 25519 / ChaChaPoly / SHA256. */
#include "proto/noise_xx.h"
#include "lp2p/err.h"

#include <openssl/crypto.h>
#include <string.h>

#define HASHLEN LP2P_SHA256_LEN
#define DHLEN   LP2P_X25519_LEN
#define TAGLEN  LP2P_NOISE_TAG_LEN

/* ---- CipherState ------------------------------------------------------------------------ */

void lp2p_noise_cs_init_key(lp2p_noise_cs *cs, const uint8_t k[LP2P_AEAD_KEY_LEN])
{
    lp2p_aead_init(&cs->aead, k);
    cs->n = 0;
    cs->has_key = 1;
}

void lp2p_noise_cs_free(lp2p_noise_cs *cs)
{
    lp2p_aead_free(&cs->aead);
    cs->n = 0;
    cs->has_key = 0;
}

int lp2p_noise_cs_encrypt(lp2p_noise_cs *cs, const uint8_t *ad, size_t adlen, const uint8_t *pt,
                          size_t len, uint8_t *out)
{
    if (!cs->has_key) {
        if (len)
            memmove(out, pt, len);
        return 0;
    }
    if (cs->n == UINT64_MAX) /* reserved nonce: the session is used up */
        return LP2P_ERR_CRYPTO;
    int rc = lp2p_aead_seal(&cs->aead, cs->n, ad, adlen, pt, len, out);
    if (rc)
        return rc;
    cs->n++;
    return 0;
}

int lp2p_noise_cs_encrypt_gather(lp2p_noise_cs *cs, const struct iovec *pt, int cnt, uint8_t *out)
{
    if (!cs->has_key)
        return LP2P_ERR_STATE; /* only transport messages are gathered: the key is set */
    if (cs->n == UINT64_MAX)
        return LP2P_ERR_CRYPTO;
    int rc = lp2p_aead_seal_gather(&cs->aead, cs->n, pt, cnt, out);
    if (rc)
        return rc;
    cs->n++;
    return 0;
}

int lp2p_noise_cs_decrypt(lp2p_noise_cs *cs, const uint8_t *ad, size_t adlen, const uint8_t *ct,
                          size_t len, uint8_t *out)
{
    if (!cs->has_key) {
        if (len)
            memmove(out, ct, len);
        return 0;
    }
    if (cs->n == UINT64_MAX)
        return LP2P_ERR_CRYPTO;
    int rc = lp2p_aead_open(&cs->aead, cs->n, ad, adlen, ct, len, out);
    if (rc)
        return LP2P_ERR_CRYPTO;
    cs->n++;
    return 0;
}

/* ---- SymmetricState ------------------------------------------------------------------------ */

static int mix_hash(lp2p_noise_xx *x, const uint8_t *data, size_t n)
{
    return lp2p_sha256_2(x->h, HASHLEN, data, n, x->h);
}

static int mix_key(lp2p_noise_xx *x, const uint8_t *ikm, size_t n)
{
    uint8_t k[HASHLEN];
    int rc = lp2p_hkdf2(x->ck, ikm, n, x->ck, k);
    if (!rc)
        lp2p_noise_cs_init_key(&x->cs, k); /* HASHLEN == 32: no truncation needed */
    OPENSSL_cleanse(k, sizeof(k));
    return rc;
}

/* MixKey(DH(priv, pub)). */
static int mix_dh(lp2p_noise_xx *x, const lp2p_x25519_key *ours, const uint8_t *pub)
{
    uint8_t shared[DHLEN];
    int rc = lp2p_x25519_dh(ours, pub, shared);
    if (!rc)
        rc = mix_key(x, shared, DHLEN);
    OPENSSL_cleanse(shared, sizeof(shared));
    return rc;
}

/* EncryptAndHash: appends ciphertext (plaintext before the first key) to out. */
static int encrypt_and_hash(lp2p_noise_xx *x, const uint8_t *pt, size_t len, lp2p_buf *out)
{
    size_t clen = len + (x->cs.has_key ? TAGLEN : 0);
    int rc = lp2p_buf_reserve(out, clen);
    if (rc)
        return rc;
    uint8_t *ct = clen ? out->data + out->len : NULL;
    if ((rc = lp2p_noise_cs_encrypt(&x->cs, x->h, HASHLEN, pt, len, ct)))
        return rc;
    if ((rc = mix_hash(x, ct, clen)))
        return rc;
    out->len += clen;
    return 0;
}

/* DecryptAndHash into out (len - 16 bytes once keyed). */
static int decrypt_and_hash(lp2p_noise_xx *x, const uint8_t *ct, size_t len, uint8_t *out)
{
    uint8_t h[HASHLEN];
    memcpy(h, x->h, HASHLEN); /* the AD is h before this ciphertext is mixed in */
    int rc = mix_hash(x, ct, len);
    if (!rc)
        rc = lp2p_noise_cs_decrypt(&x->cs, h, HASHLEN, ct, len, out);
    return rc;
}

/* ---- HandshakeState ------------------------------------------------------------------------ */

static int init_symmetric(lp2p_noise_xx *x, int initiator, const uint8_t *prologue, size_t plen,
                          const lp2p_rng *rng)
{
    memset(x, 0, sizeof(*x));
    x->initiator = !!initiator;
    if (rng)
        x->rng = *rng;
    /* The protocol name is exactly HASHLEN bytes, so h = name without hashing (§5.2). */
    _Static_assert(sizeof(LP2P_NOISE_PROTOCOL_NAME) - 1 == HASHLEN, "name is 32 bytes");
    memcpy(x->h, LP2P_NOISE_PROTOCOL_NAME, HASHLEN);
    memcpy(x->ck, x->h, HASHLEN);
    /* MixHash(prologue) happens even for an empty prologue. */
    return mix_hash(x, prologue, plen);
}

int lp2p_noise_xx_init(lp2p_noise_xx *x, int initiator, const uint8_t *prologue, size_t plen,
                       const uint8_t *s_priv, const uint8_t *e_priv, const lp2p_rng *rng)
{
    int rc = init_symmetric(x, initiator, prologue, plen, rng);
    if (rc)
        return rc;
    rc = s_priv ? lp2p_x25519_from_private(&x->s, s_priv) : lp2p_x25519_keygen(&x->s, &x->rng);
    if (rc)
        return rc;
    if (e_priv) {
        if ((rc = lp2p_x25519_from_private(&x->e, e_priv)))
            return rc;
        x->e_given = 1;
    }
    return 0;
}

int lp2p_noise_xx_init_with_static(lp2p_noise_xx *x, int initiator, const uint8_t *prologue,
                                   size_t plen, const lp2p_x25519_key *s, const lp2p_rng *rng)
{
    int rc = init_symmetric(x, initiator, prologue, plen, rng);
    return rc ? rc : lp2p_x25519_share(&x->s, s);
}

void lp2p_noise_xx_free(lp2p_noise_xx *x)
{
    lp2p_noise_cs_free(&x->cs);
    lp2p_x25519_wipe(&x->s);
    lp2p_x25519_wipe(&x->e);
    OPENSSL_cleanse(x, sizeof(*x));
}

int lp2p_noise_xx_our_turn(const lp2p_noise_xx *x)
{
    /* Messages 0 and 2 are the initiator's, message 1 the responder's. */
    if (x->msg >= 3)
        return 0;
    return (x->msg % 2 == 0) == x->initiator;
}

/* Token "e" on write: generate (unless injected), MixHash(e.pub), send e.pub. */
static int write_e(lp2p_noise_xx *x, lp2p_buf *out)
{
    int rc = 0;
    if (!x->e_given && (rc = lp2p_x25519_keygen(&x->e, &x->rng)))
        return rc;
    if ((rc = lp2p_buf_append(out, x->e.pub, DHLEN)))
        return rc;
    return mix_hash(x, x->e.pub, DHLEN);
}

int lp2p_noise_xx_write(lp2p_noise_xx *x, const uint8_t *payload, size_t plen, lp2p_buf *out)
{
    if (!lp2p_noise_xx_our_turn(x))
        return LP2P_ERR_STATE;
    size_t start = lp2p_buf_size(out);
    int rc = 0;
    switch (x->msg) {
    case 0: /* -> e */
        rc = write_e(x, out);
        break;
    case 1: /* <- e, ee, s, es */
        if (!(rc = write_e(x, out)) && !(rc = mix_dh(x, &x->e, x->re)) &&
            !(rc = encrypt_and_hash(x, x->s.pub, DHLEN, out)))
            rc = mix_dh(x, &x->s, x->re);
        break;
    case 2: /* -> s, se */
        if (!(rc = encrypt_and_hash(x, x->s.pub, DHLEN, out)))
            rc = mix_dh(x, &x->s, x->re);
        break;
    }
    if (!rc)
        rc = encrypt_and_hash(x, payload, plen, out);
    if (!rc && lp2p_buf_size(out) - start > LP2P_NOISE_MAX_MSG)
        rc = LP2P_ERR_TOO_LARGE;
    if (rc)
        return rc;
    x->msg++;
    return 0;
}

int lp2p_noise_xx_read(lp2p_noise_xx *x, const uint8_t *msg, size_t msglen, lp2p_buf *payload_out)
{
    if (lp2p_noise_xx_our_turn(x) || lp2p_noise_xx_done(x))
        return LP2P_ERR_STATE;
    if (msglen > LP2P_NOISE_MAX_MSG)
        return LP2P_ERR_PROTO;
    const uint8_t *p = msg, *end = msg + msglen;
    int rc = 0;
    /* Fixed part of each message, then the payload (with a tag once keyed). */
    static const size_t fixed[3] = {DHLEN, DHLEN + DHLEN + TAGLEN, DHLEN + TAGLEN};
    size_t need = fixed[x->msg] + (x->msg > 0 ? TAGLEN : 0);
    if (msglen < need)
        return LP2P_ERR_PROTO;
    switch (x->msg) {
    case 0: /* -> e */
        memcpy(x->re, p, DHLEN);
        p += DHLEN;
        rc = mix_hash(x, x->re, DHLEN);
        break;
    case 1: /* <- e, ee, s, es */
        memcpy(x->re, p, DHLEN);
        p += DHLEN;
        if (!(rc = mix_hash(x, x->re, DHLEN)) && !(rc = mix_dh(x, &x->e, x->re)) &&
            !(rc = decrypt_and_hash(x, p, DHLEN + TAGLEN, x->rs))) {
            p += DHLEN + TAGLEN;
            rc = mix_dh(x, &x->e, x->rs);
        }
        break;
    case 2: /* -> s, se */
        if (!(rc = decrypt_and_hash(x, p, DHLEN + TAGLEN, x->rs))) {
            p += DHLEN + TAGLEN;
            rc = mix_dh(x, &x->e, x->rs);
        }
        break;
    }
    if (rc)
        return rc;
    size_t clen = (size_t)(end - p);
    size_t ptlen = x->cs.has_key ? clen - TAGLEN : clen;
    if ((rc = lp2p_buf_reserve(payload_out, clen)))
        return rc;
    uint8_t *dst = clen ? payload_out->data + payload_out->len : NULL;
    if ((rc = decrypt_and_hash(x, p, clen, dst)))
        return rc;
    payload_out->len += ptlen;
    x->msg++;
    return 0;
}

int lp2p_noise_xx_split(lp2p_noise_xx *x, lp2p_noise_cs *tx, lp2p_noise_cs *rx)
{
    if (!lp2p_noise_xx_done(x))
        return LP2P_ERR_STATE;
    uint8_t k1[HASHLEN], k2[HASHLEN];
    int rc = lp2p_hkdf2(x->ck, NULL, 0, k1, k2);
    if (!rc) {
        lp2p_noise_cs_init_key(tx, x->initiator ? k1 : k2);
        lp2p_noise_cs_init_key(rx, x->initiator ? k2 : k1);
    }
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    /* Handshake secrets are no longer needed; keep h and rs (channel binding, identity). */
    lp2p_noise_cs_free(&x->cs);
    OPENSSL_cleanse(x->ck, sizeof(x->ck));
    lp2p_x25519_wipe(&x->e);
    lp2p_x25519_wipe(&x->s);
    return rc;
}
