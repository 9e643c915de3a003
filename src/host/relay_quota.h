/* Relay quota: at most max_relays relays in use at once, counting pending (a dial or RESERVE
 * in flight) plus confirmed (a reservation held). What is left of the peer book (see
 * docs/decisions.md): the host keeps no address book; its own addresses are host->observed.
 *
 *        reserve                 confirm
 *   free ───────► PENDING ──────────► CONFIRMED
 *     ▲              │                    │
 *     └── release ───┴────── release ─────┘   (failed dial / refused RESERVE /
 *                                              reservation lost or expired)
 *
 * A relay address must end in /p2p/<relay> and must not be a circuit; slots are keyed by the
 * relay's peer ID, so two addresses of one relay share one slot (a reservation is per relay,
 * not per address). A plain data structure: no I/O, no clock, fuzzed alone.
 *
 * Errors: LP2P_ERR_LIMIT quota full, LP2P_ERR_EXISTS relay already pending/confirmed,
 * LP2P_ERR_STATE confirm of a confirmed slot, LP2P_ERR_NOT_FOUND no slot (double release),
 * LP2P_ERR_INVAL no /p2p/ or a circuit, LP2P_ERR_NOMEM. */
#ifndef LP2P_HOST_RELAY_QUOTA_H
#define LP2P_HOST_RELAY_QUOTA_H

#include <stddef.h>

#include "lp2p/identity.h"
#include "wire/multiaddr.h"

typedef struct lp2p_relay_quota lp2p_relay_quota;

#define LP2P_RELAY_QUOTA_DEFAULT 4

/* LP2P_ERR_INVAL when max_relays is 0. */
int lp2p_relay_quota_new(size_t max_relays, lp2p_relay_quota **out);
void lp2p_relay_quota_del(lp2p_relay_quota *q);

int lp2p_relay_quota_reserve(lp2p_relay_quota *q, const lp2p_multiaddr *relay_addr);
int lp2p_relay_quota_confirm(lp2p_relay_quota *q, const lp2p_multiaddr *relay_addr);
int lp2p_relay_quota_release(lp2p_relay_quota *q, const lp2p_multiaddr *relay_addr);

size_t lp2p_relay_quota_npending(const lp2p_relay_quota *q);
size_t lp2p_relay_quota_nconfirmed(const lp2p_relay_quota *q);
int lp2p_relay_quota_is_pending(const lp2p_relay_quota *q, const lp2p_multiaddr *relay_addr);
int lp2p_relay_quota_is_confirmed(const lp2p_relay_quota *q, const lp2p_multiaddr *relay_addr);

#endif
