/* Cryptographically secure random bytes (OpenSSL's DRBG, seeded by the OS). */
#ifndef LP2P_CRYPTO_RANDOM_H
#define LP2P_CRYPTO_RANDOM_H

#include <stddef.h>

/* Fills p with n random bytes. 0, or LP2P_ERR_CRYPTO when the DRBG fails. */
int lp2p_random_bytes(void *p, size_t n);

#endif
