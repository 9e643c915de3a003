/* Randomness comes from the caller (picotls's random_bytes): a core never picks its own
 * source, so tests and fuzz targets can run it deterministically. The host and the apps pass
 * LP2P_RNG_OPENSSL (crypto/random.h). */
#ifndef LP2P_UTIL_RNG_H
#define LP2P_UTIL_RNG_H

#include <stddef.h>

#include "lp2p/err.h"
#include "lp2p/rng.h" /* the lp2p_rng type */

/* A zero lp2p_rng (no source installed) fails with LP2P_ERR_STATE rather than hand out
 * predictable bytes. */
static inline int lp2p_rng_fill(const lp2p_rng *r, void *buf, size_t n)
{
    if (!r || !r->fn)
        return LP2P_ERR_STATE;
    return r->fn(r->user, buf, n);
}

#endif
