/* Our observed addresses: what peers on direct connections tell us (identify observedAddr)
 * they see us at, i.e. the NAT mappings of our listen port. Sans-IO: the caller passes the
 * time and who observed.
 *
 * go-libp2p counts observations only from connections whose local address is a listen
 * address and needs several observers before it advertises one; rust-libp2p keeps an LRU
 * that favours frequent ones. This table does both: the caller only adds observations made
 * on connections from our listen port; each address counts distinct observers (by IP, so
 * one machine with many peer IDs is one vote); an address no one confirmed for
 * LP2P_OBS_TTL_MS expires; candidates come out most-confirmed first, then most recent; the
 * table is bounded and, when full, forgets the least-confirmed, least-recent address. */
#ifndef LP2P_HOST_OBSERVED_ADDRS_H
#define LP2P_HOST_OBSERVED_ADDRS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wire/multiaddr.h"

#define LP2P_OBS_MAX_ADDRS     16
#define LP2P_OBS_MAX_OBSERVERS 8 /* distinct observers remembered per address (count saturates) */
#define LP2P_OBS_TTL_MS        (30u * 60u * 1000u) /* go: OwnObservedAddrTTL, 30 min */
#define LP2P_OBS_KEY_LEN       16

typedef struct lp2p_obs_entry {
    lp2p_multiaddr ma; /* without /p2p */
    uint8_t observers[LP2P_OBS_MAX_OBSERVERS][LP2P_OBS_KEY_LEN];
    uint8_t nobservers;
    uint64_t first_ms, last_ms;
} lp2p_obs_entry;

typedef struct lp2p_obs_table {
    lp2p_obs_entry e[LP2P_OBS_MAX_ADDRS];
    size_t n;
} lp2p_obs_table;

/* Observer key: the observer's IP (IPv4 as is; IPv6 by its /64, one site). */
void lp2p_obs_key_from_sockaddr(const struct sockaddr_storage *ss, uint8_t key[LP2P_OBS_KEY_LEN]);
/* Records that `key` saw us at ma (binary, /p2p stripped by the table). 2: a new address,
 * 1: a new observer for a known one, 0: a repeat (recency refreshed), <0: error. */
int lp2p_obs_add(lp2p_obs_table *t, const uint8_t *ma, size_t len,
                 const uint8_t key[LP2P_OBS_KEY_LEN], uint64_t now_ms);
/* Drops expired addresses, then lists up to max, best first (observers, then recency).
 * The pointers are valid until the next add/candidates/free. */
size_t lp2p_obs_candidates(lp2p_obs_table *t, uint64_t now_ms, const uint8_t **out, size_t *lens,
                           size_t max);
/* Observers counted for ma (0 when unknown). */
unsigned lp2p_obs_observers(const lp2p_obs_table *t, const lp2p_multiaddr *ma);
void lp2p_obs_free(lp2p_obs_table *t);

#endif
