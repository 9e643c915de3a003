/* Cryptographically secure random bytes: the declarations are public (lp2p/random.h); the
 * library's code goes on including this header, which also brings lp2p_rng_fill. */
#ifndef LP2P_CRYPTO_RANDOM_H
#define LP2P_CRYPTO_RANDOM_H

#include "lp2p/random.h"
#include "util/rng.h"

#endif
