/* A host's long-lived Noise static key and its libp2p identity signature, made once and
 * lent to every handshake (proto/noise.h, lp2p_noise_config.shared_static).
 *
 * The libp2p Noise spec lets the static X25519 key live for the whole process (it only
 * must not be persisted); rust-libp2p keeps one per transport. A fresh key per session
 * costs each handshake a key generation and an Ed25519 signature (two of the six
 * public-key operations per side) and buys nothing: forward secrecy comes from the
 * ephemeral keys (ee), and the static key is wiped with the host. See docs/decisions.md. */
#ifndef LP2P_PROTO_NOISE_STATIC_H
#define LP2P_PROTO_NOISE_STATIC_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/dh.h"
#include "lp2p/identity.h"
#include "util/rng.h"

typedef struct lp2p_noise_static {
    lp2p_x25519_key key;
    /* Sign(identity, "noise-libp2p-static-key:" ‖ key.pub); our keys are Ed25519. */
    uint8_t sig[LP2P_SIG_MAX];
    int ready;
} lp2p_noise_static;

/* Generates the key from rng and signs it with identity. s must be zeroed or wiped. */
int lp2p_noise_static_init(lp2p_noise_static *s, const lp2p_keypair *identity, const lp2p_rng *rng);
/* Frees and wipes (idempotent; fine on a zeroed struct). */
void lp2p_noise_static_wipe(lp2p_noise_static *s);

#endif
