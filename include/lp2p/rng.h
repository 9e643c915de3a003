/* A randomness source: what a caller installs in a core's config (lp2p_rng) so that the core
 * never picks its own (picotls's random_bytes). Public because public configs carry one
 * (kaspa/session.h); lp2p_rng_fill and the OpenSSL source stay private (util/rng.h,
 * crypto/random.h). */
#ifndef LP2P_RNG_H
#define LP2P_RNG_H

#include <stddef.h>

/* Fills buf with n random bytes: 0, or a negative code (the core fails the operation). */
typedef int (*lp2p_random_fn)(void *user, void *buf, size_t n);

typedef struct lp2p_rng {
    lp2p_random_fn fn;
    void *user;
} lp2p_rng;

#endif
