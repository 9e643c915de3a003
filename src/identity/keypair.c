/* Our own identity: an Ed25519 key pair held in an OpenSSL EVP_PKEY.
 *
 *   PublicKey  (36 B): 08 01 12 20 ‖ pk(32)
 *   PrivateKey (68 B): 08 01 12 40 ‖ seed(32) ‖ pk(32)       what go/js-libp2p write
 *        legacy (100 B): 08 01 12 60 ‖ seed(32) ‖ pk(32) ‖ pk(32)  (old go-libp2p)
 *
 * A loaded private key must be consistent: the public key derived from the seed must equal
 * the stored copies, otherwise the file is corrupt (and we would sign as someone else). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "identity/wipe_alloc.h"
#include "keys.pb-c.h"
#include "lp2p/err.h"
#include "lp2p/identity.h"

#define ED25519_SEED   32
#define ED25519_PUB    32
#define ED25519_PB_LEN 36

struct lp2p_keypair {
    EVP_PKEY *pkey;
    uint8_t pub_pb[ED25519_PB_LEN]; /* serialized PublicKey */
    lp2p_peer_id id;
};

static const uint8_t ED25519_PUB_PREFIX[4] = {0x08, 0x01, 0x12, 0x20};

/* protobuf-c copies the seed into memory it allocates; this allocator wipes it on free.
 * Each block carries its size in a header (16 bytes keeps max_align_t alignment). */
#define WIPE_HDR 16
static void *wipe_alloc(void *ud, size_t size)
{
    uint8_t *p = malloc(size + WIPE_HDR);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof(size));
    return p + WIPE_HDR;
}
static void wipe_free(void *ud, void *ptr)
{
    if (!ptr)
        return;
    uint8_t *p = (uint8_t *)ptr - WIPE_HDR;
    size_t size;
    memcpy(&size, p, sizeof(size));
    OPENSSL_cleanse(p, size + WIPE_HDR);
    free(p);
}
ProtobufCAllocator lp2p_wiping_allocator = {wipe_alloc, wipe_free, NULL};

/* Fills pub_pb and id from pkey, which the keypair now owns. */
static int keypair_wrap(EVP_PKEY *pkey, lp2p_keypair **out)
{
    lp2p_keypair *kp = calloc(1, sizeof(*kp));
    if (!kp) {
        EVP_PKEY_free(pkey);
        return LP2P_ERR_NOMEM;
    }
    kp->pkey = pkey;
    size_t publen = ED25519_PUB;
    memcpy(kp->pub_pb, ED25519_PUB_PREFIX, sizeof(ED25519_PUB_PREFIX));
    if (EVP_PKEY_get_raw_public_key(pkey, kp->pub_pb + 4, &publen) != 1 || publen != ED25519_PUB) {
        lp2p_keypair_del(kp);
        ERR_clear_error();
        return LP2P_ERR_CRYPTO;
    }
    int rc = lp2p_peer_id_from_pubkey(kp->pub_pb, sizeof(kp->pub_pb), &kp->id);
    if (rc != 0) {
        lp2p_keypair_del(kp);
        return rc;
    }
    *out = kp;
    return 0;
}

int lp2p_keypair_generate(lp2p_keypair **out)
{
    if (!out)
        return LP2P_ERR_INVAL;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!pkey) {
        ERR_clear_error();
        return LP2P_ERR_CRYPTO;
    }
    return keypair_wrap(pkey, out);
}

void lp2p_keypair_del(lp2p_keypair *kp)
{
    if (!kp)
        return;
    EVP_PKEY_free(kp->pkey); /* OpenSSL clears its copy of the private key */
    OPENSSL_cleanse(kp, sizeof(*kp));
    free(kp);
}

int lp2p_keypair_sign(const lp2p_keypair *kp, const uint8_t *msg, size_t n,
                      uint8_t sig[LP2P_SIG_MAX])
{
    if (!kp || !sig || (!msg && n))
        return LP2P_ERR_INVAL;
    static const uint8_t empty[1];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return LP2P_ERR_NOMEM;
    size_t siglen = LP2P_SIG_MAX;
    int ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, kp->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, msg ? msg : empty, n) == 1 && siglen == LP2P_SIG_MAX;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return LP2P_ERR_CRYPTO;
    }
    return 0;
}

const uint8_t *lp2p_keypair_pubkey(const lp2p_keypair *kp, size_t *len)
{
    if (len)
        *len = sizeof(kp->pub_pb);
    return kp->pub_pb;
}

const lp2p_peer_id *lp2p_keypair_peer_id(const lp2p_keypair *kp)
{
    return &kp->id;
}

int lp2p_keypair_from_private_pb(const uint8_t *pb, size_t n, lp2p_keypair **out)
{
    if (!pb || !out || n == 0 || n > LP2P_PRIVKEY_PB_LIMIT)
        return LP2P_ERR_DECODE;
    Lp2p__Keys__PrivateKey *m = lp2p__keys__private_key__unpack(&lp2p_wiping_allocator, n, pb);
    if (!m)
        return LP2P_ERR_DECODE;
    int rc = 0;
    uint8_t seed[ED25519_SEED], stored_pub[ED25519_PUB];
    if (m->base.n_unknown_fields != 0) {
        rc = LP2P_ERR_DECODE;
    } else if (m->type != LP2P__KEYS__KEY_TYPE__Ed25519) {
        rc = LP2P_ERR_UNSUPPORTED;
    } else if (m->data.len == 64 ||
               (m->data.len == 96 && memcmp(m->data.data + 32, m->data.data + 64, 32) == 0)) {
        memcpy(seed, m->data.data, ED25519_SEED);
        memcpy(stored_pub, m->data.data + ED25519_SEED, ED25519_PUB);
    } else {
        rc = LP2P_ERR_DECODE;
    }
    lp2p__keys__private_key__free_unpacked(m, &lp2p_wiping_allocator);
    if (rc != 0)
        return rc;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
    OPENSSL_cleanse(seed, sizeof(seed));
    if (!pkey) {
        ERR_clear_error();
        return LP2P_ERR_CRYPTO;
    }
    lp2p_keypair *kp;
    rc = keypair_wrap(pkey, &kp);
    if (rc != 0)
        return rc;
    if (memcmp(kp->pub_pb + 4, stored_pub, ED25519_PUB) != 0) {
        lp2p_keypair_del(kp);
        return LP2P_ERR_DECODE; /* seed and public half disagree: corrupt key */
    }
    *out = kp;
    return 0;
}

int lp2p_keypair_to_private_pb(const lp2p_keypair *kp, uint8_t *out, size_t *n)
{
    if (!kp || !out || !n)
        return LP2P_ERR_INVAL;
    uint8_t data[ED25519_SEED + ED25519_PUB];
    size_t slen = ED25519_SEED;
    if (EVP_PKEY_get_raw_private_key(kp->pkey, data, &slen) != 1 || slen != ED25519_SEED) {
        ERR_clear_error();
        return LP2P_ERR_CRYPTO;
    }
    memcpy(data + ED25519_SEED, kp->pub_pb + 4, ED25519_PUB);
    Lp2p__Keys__PrivateKey m = LP2P__KEYS__PRIVATE_KEY__INIT;
    m.type = LP2P__KEYS__KEY_TYPE__Ed25519;
    m.data.data = data;
    m.data.len = sizeof(data);
    size_t need = lp2p__keys__private_key__get_packed_size(&m);
    int rc = 0;
    if (need > *n) {
        rc = LP2P_ERR_TOO_LARGE;
    } else {
        lp2p__keys__private_key__pack(&m, out);
        *n = need;
    }
    OPENSSL_cleanse(data, sizeof(data));
    return rc;
}
