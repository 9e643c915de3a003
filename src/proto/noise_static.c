/* The host's long-lived Noise static key and its signature (see noise_static.h). */
#include "proto/noise_static.h"
#include "proto/noise.h"
#include "lp2p/err.h"

#include <openssl/crypto.h>
#include <string.h>

#define PREFIX_LEN (sizeof(LP2P_NOISE_SIG_PREFIX) - 1)

int lp2p_noise_static_init(lp2p_noise_static *s, const lp2p_keypair *identity, const lp2p_rng *rng)
{
    if (!s || !identity || !rng)
        return LP2P_ERR_INVAL;
    int rc = lp2p_x25519_keygen(&s->key, rng);
    if (rc)
        return rc;
    uint8_t msg[PREFIX_LEN + LP2P_X25519_LEN];
    memcpy(msg, LP2P_NOISE_SIG_PREFIX, PREFIX_LEN);
    memcpy(msg + PREFIX_LEN, s->key.pub, LP2P_X25519_LEN);
    if ((rc = lp2p_keypair_sign(identity, msg, sizeof(msg), s->sig))) {
        lp2p_noise_static_wipe(s);
        return rc;
    }
    s->ready = 1;
    return 0;
}

void lp2p_noise_static_wipe(lp2p_noise_static *s)
{
    if (!s)
        return;
    lp2p_x25519_wipe(&s->key);
    OPENSSL_cleanse(s, sizeof(*s));
}
