/* Verified (identity key, static key, signature) triples (see noise_seen.h). */
#include "proto/noise_seen.h"
#include "lp2p/err.h"

#include <stdlib.h>
#include <string.h>

/* Direct-mapped: the digest is uniformly random, so its first bytes pick the slot. */
struct lp2p_noise_seen {
    uint8_t slot[LP2P_NOISE_SEEN_SLOTS][LP2P_SHA256_LEN];
    uint8_t used[LP2P_NOISE_SEEN_SLOTS];
};

lp2p_noise_seen *lp2p_noise_seen_new(void)
{
    return calloc(1, sizeof(lp2p_noise_seen));
}

void lp2p_noise_seen_del(lp2p_noise_seen *t)
{
    free(t);
}

int lp2p_noise_seen_digest(const uint8_t *idkey, size_t idlen, const uint8_t static_pub[32],
                           const uint8_t *sig, size_t siglen, uint8_t d[LP2P_SHA256_LEN])
{
    /* H(idkey) first fixes the length of everything before sig: no two triples share an
     * input to the outer hash. */
    uint8_t head[LP2P_SHA256_LEN + 32];
    if (lp2p_sha256(idkey, idlen, head))
        return LP2P_ERR_CRYPTO;
    memcpy(head + LP2P_SHA256_LEN, static_pub, 32);
    return lp2p_sha256_2(head, sizeof(head), sig, siglen, d);
}

static size_t index_of(const uint8_t d[LP2P_SHA256_LEN])
{
    return ((size_t)d[0] | (size_t)d[1] << 8) % LP2P_NOISE_SEEN_SLOTS;
}

int lp2p_noise_seen_has(const lp2p_noise_seen *t, const uint8_t d[LP2P_SHA256_LEN])
{
    size_t i = index_of(d);
    return t->used[i] && memcmp(t->slot[i], d, LP2P_SHA256_LEN) == 0;
}

void lp2p_noise_seen_add(lp2p_noise_seen *t, const uint8_t d[LP2P_SHA256_LEN])
{
    size_t i = index_of(d);
    memcpy(t->slot[i], d, LP2P_SHA256_LEN);
    t->used[i] = 1;
}
