/* `holepunch bridge`: a sidecar beside a stock kaspad that splices Kaspa P2P bytes between the
 * local kaspad and remote peers over hole-punched libp2p connections (issue 10).
 *
 * One loopback address per remote peer. kaspad keys peers by (node id, IP) and
 * ConnectionManager::ban(ip) disconnects every peer with that IP, so bridged peers must not
 * all come from 127.0.0.1: each remote peer gets its own address in 127.0.0.0/8, derived from
 * its peer ID. The bridge connects to the local kaspad FROM that address for the peer's
 * inbound streams, and listens ON it for kaspad's outbound connections to that peer. This is
 * the sidecar's counterpart of the proof of concept's synthetic fd00::/8 address.
 *
 *   candidate(peer, salt) = SHA-256("kaspa-bridge-loopback/1" || salt (4 bytes, BE) ||
 *                                   peer ID multihash bytes)
 *   address               = 127.d[0].d[1].d[2]   accepted when each of d[0..2] is in 1..254
 *
 * so never 127.0.0.1, nothing in 127.0.x.x (127.0.0.53 resolvers, 127.0.1.1 hostnames), and
 * no ".0"/".255" octet. A rejected candidate tries the next salt. */
#ifndef KASPA_BRIDGE_H
#define KASPA_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "lp2p/identity.h"

typedef struct kaspa_loopback {
    uint8_t ip[4]; /* 127, a, b, c */
} kaspa_loopback;

#define KASPA_LOOPBACK_STR_MAX 16 /* "127.254.254.254" + NUL */
/* Salts tried per peer before giving up (each candidate is rejected with probability about
 * 1.2 %, so this is never reached in practice; it bounds the loop). */
#define KASPA_LOOPBACK_MAX_SALT 4096

/* The address of peer for one salt, or LP2P_ERR_INVAL when that candidate is not an
 * acceptable form (then try salt + 1). */
int kaspa_loopback_candidate(const lp2p_peer_id *peer, uint32_t salt, kaspa_loopback *out);
/* The first acceptable candidate with salt >= *salt (updated to the salt used). */
int kaspa_loopback_derive(const lp2p_peer_id *peer, uint32_t *salt, kaspa_loopback *out);

/* Addresses for a set of configured peers, all distinct: peers are taken in sorted order of
 * their multihash bytes (shorter first, then memcmp), and each takes its first candidate not
 * yet taken by an earlier one. The result depends only on the set, not on the order given,
 * so it is stable across restarts; a peer's address changes only if a new peer that sorts
 * before it collides with it (about one chance in 16 million per pair). The same peer ID
 * listed twice gets the same address. out[i] is for peers[i]. Returns 0, LP2P_ERR_INVAL,
 * LP2P_ERR_NOMEM, or LP2P_ERR_LIMIT when a peer runs out of salts. */
int kaspa_loopback_assign(const lp2p_peer_id *peers, size_t n, kaspa_loopback *out);

/* "127.a.b.c" into out (>= KASPA_LOOPBACK_STR_MAX bytes). Returns out. */
char *kaspa_loopback_str(const kaspa_loopback *a, char *out);

#endif
