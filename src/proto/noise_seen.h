/* Identity signatures a host has already verified in Noise handshakes: a bounded table of
 * SHA-256(SHA-256(identity_key) ‖ static_pub ‖ identity_sig) over the triples whose
 * signature checked out. A peer that reconnects with the same static key (rust-libp2p, and
 * our own hosts: noise_static.h) sends the same triple again; a hit skips the signature
 * verification, the most expensive step of the handshake.
 *
 * Why it is safe (docs/decisions.md): verification is a deterministic function of the
 * three inputs (the signed message is the fixed prefix and the static key); an entry is
 * added only after a verification succeeded, and a hit needs the same digest, i.e. (SHA-256
 * being second-preimage resistant) the same bytes. What the handshake proves about the
 * static key is unchanged: the DHs (es, se) still need its private half, so a replayed
 * triple is useless to anyone else, with or without the cache. Hostile peers cannot grow
 * it: a fixed number of slots, overwritten on collision (a miss only costs the verify).
 * Sans-IO: no clock, no allocation after _new. */
#ifndef LP2P_PROTO_NOISE_SEEN_H
#define LP2P_PROTO_NOISE_SEEN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/hash.h"

#define LP2P_NOISE_SEEN_SLOTS 256 /* 8 KiB; a relay's regulars reconnect with one key each */

typedef struct lp2p_noise_seen lp2p_noise_seen;

lp2p_noise_seen *lp2p_noise_seen_new(void);
void lp2p_noise_seen_del(lp2p_noise_seen *t);

/* The digest that names a triple. 0 or LP2P_ERR_CRYPTO. */
int lp2p_noise_seen_digest(const uint8_t *idkey, size_t idlen, const uint8_t static_pub[32],
                           const uint8_t *sig, size_t siglen, uint8_t d[LP2P_SHA256_LEN]);
/* 1 when d was added before (and not overwritten since), else 0. */
int lp2p_noise_seen_has(const lp2p_noise_seen *t, const uint8_t d[LP2P_SHA256_LEN]);
/* Records d (call only after the signature verified). */
void lp2p_noise_seen_add(lp2p_noise_seen *t, const uint8_t d[LP2P_SHA256_LEN]);

#endif
