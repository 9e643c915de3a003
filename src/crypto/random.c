#include "crypto/random.h"
#include "lp2p/err.h"

#include <limits.h>
#include <openssl/rand.h>

int lp2p_random_bytes(void *p, size_t n)
{
    unsigned char *b = p;
    /* RAND_bytes takes an int; feed large requests in INT_MAX pieces. */
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        if (RAND_bytes(b, chunk) != 1)
            return LP2P_ERR_CRYPTO;
        b += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

int lp2p_random_openssl(void *user, void *p, size_t n)
{
    (void)user;
    return lp2p_random_bytes(p, n);
}
