/* The system's randomness (OpenSSL's DRBG, seeded by the OS): the source the host and the
 * apps install in a core's config (lp2p/rng.h), and random bytes for an app's own payloads. */
#ifndef LP2P_RANDOM_H
#define LP2P_RANDOM_H

#include <stddef.h>

#include "lp2p/rng.h"

/* Fills p with n random bytes. 0, or LP2P_ERR_CRYPTO when the DRBG fails. */
int lp2p_random_bytes(void *p, size_t n);

/* lp2p_random_bytes as an lp2p_random_fn. */
int lp2p_random_openssl(void *user, void *p, size_t n);
#define LP2P_RNG_OPENSSL ((lp2p_rng){.fn = lp2p_random_openssl, .user = NULL})

#endif
