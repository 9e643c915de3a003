/* Peer book: what we know about where each peer can be reached, and the relay quota.
 *
 * A plain data structure: no I/O, no clock (every call that needs time takes now_ms, any
 * monotonic milliseconds), no callbacks. It lives in src/host/ because the host owns it, but it
 * includes only util/, identity/ and wire/ headers, so it is unit-tested and fuzzed alone.
 *
 * ---- addresses ------------------------------------------------------------------------------
 *   peer (lp2p_peer_id) ─┬─ addr: binary multiaddr, canonical form (see below)
 *                        │        sources  bit set of LP2P_PB_SRC_* (merged on every add)
 *                        │        relayed  contains /p2p-circuit
 *                        │        public   lp2p_multiaddr_is_public (never for relayed)
 *                        │        last_seen_ms, last_dial_ms, dial result, consecutive failures
 *                        └─ addr ...   (at most max_addrs_per_peer)
 *
 * Canonical form: a trailing /p2p/<peer> naming the peer itself is stripped, so
 * "/ip4/1.2.3.4/tcp/1" and "/ip4/1.2.3.4/tcp/1/p2p/<peer>" are one entry; the dialer appends it
 * again (lp2p_multiaddr_append_p2p). A trailing /p2p/ naming ANOTHER peer is refused
 * (LP2P_ERR_INVAL): it is that peer's address, not this one's. A circuit address keeps its
 * relay part: "<relay-addr>/p2p/<relay>/p2p-circuit".
 *
 * Limits and eviction (least recently used):
 *   - a new peer past max_peers evicts the peer touched longest ago (added to or dialed);
 *   - a new address past max_addrs_per_peer evicts that peer's address seen longest ago;
 *   - addresses not seen for addr_ttl_ms expire (lp2p_peerbook_expire; candidates already
 *     skip them); a peer left without addresses is removed.
 *   Addresses from the user/config (LP2P_PB_SRC_USER) are pinned: they never expire and are
 *   never evicted, and a peer holding one is never evicted. When only pinned entries are left
 *   to evict, the add fails with LP2P_ERR_LIMIT, so a flood of identify results can never push
 *   out the relay or the remote peer the user configured.
 *   An IDENTIFY_OBSERVED address containing /p2p-circuit is refused (LP2P_ERR_UNSUPPORTED): a
 *   relayed observation is never a hole-punch candidate (DESIGN.md).
 *
 * Dial candidates, in preference order: direct public, direct private, relayed; within a class
 * the last dial succeeded first, then the most recently seen. An address whose last dial failed
 * is skipped for a backoff: dial_backoff_ms doubling per consecutive failure up to
 * dial_backoff_max_ms; a success resets it.
 *
 * ---- relay quota ----------------------------------------------------------------------------
 * At most max_relay_addrs relays in use at once, counting pending (a dial or RESERVE in flight)
 * plus confirmed (a reservation held). A relay address must end in /p2p/<relay> and must not be
 * a circuit; slots are keyed by the relay's peer ID, so two addresses of one relay share one
 * slot (a reservation is per relay, not per address).
 *
 *        reserve_pending            confirm
 *   free ───────────────► PENDING ──────────► CONFIRMED
 *     ▲                      │                    │
 *     └──── release ─────────┴────── release ─────┘   (failed dial / refused RESERVE /
 *                                                      reservation lost or expired)
 *   A failed dial reported with lp2p_peerbook_dial_result on the relay's address releases a
 *   PENDING slot of that relay by itself (never a CONFIRMED one: a second dial failing does not
 *   end a reservation held on an existing connection). A PENDING slot older than
 *   relay_pending_timeout_ms is released by lp2p_peerbook_expire, so a lost callback cannot
 *   leak the quota.
 *
 * Errors: LP2P_ERR_LIMIT quota/limit reached with nothing evictable, LP2P_ERR_EXISTS relay
 * already pending/confirmed, LP2P_ERR_STATE confirm of a confirmed slot, LP2P_ERR_NOT_FOUND
 * unknown peer/address/slot (double release), LP2P_ERR_INVAL / DECODE / UNSUPPORTED /
 * TOO_LARGE bad multiaddr bytes (from lp2p_multiaddr_from_bytes), LP2P_ERR_NOMEM.
 *
 * Lookups are linear scans: max_peers is ~1k and an add is rare next to the I/O it follows. */
#ifndef LP2P_HOST_PEERBOOK_H
#define LP2P_HOST_PEERBOOK_H

#include <stddef.h>
#include <stdint.h>

#include "lp2p/identity.h"
#include "wire/multiaddr.h"

/* Where an address came from (bits; one address may have several). */
enum {
    LP2P_PB_SRC_IDENTIFY_LISTEN = 1u << 0,   /* the peer's identify listenAddrs */
    LP2P_PB_SRC_IDENTIFY_OBSERVED = 1u << 1, /* what a peer saw us as (our own peer ID) */
    LP2P_PB_SRC_DCUTR = 1u << 2,             /* ObsAddrs in a DCUtR CONNECT */
    LP2P_PB_SRC_USER = 1u << 3,              /* config / command line: pinned */
    LP2P_PB_SRC_RELAY_RESERVATION = 1u << 4, /* addrs in a relay's reservation */
    LP2P_PB_SRC_ALL = (1u << 5) - 1,
};

typedef struct lp2p_peerbook_config {
    size_t max_peers;                  /* default 1024 */
    size_t max_addrs_per_peer;         /* default 16 */
    size_t max_relay_addrs;            /* relay quota, pending + confirmed; default 4 */
    uint64_t addr_ttl_ms;              /* default 1 h; 0 = addresses never expire */
    uint64_t dial_backoff_ms;          /* first backoff after a failed dial; default 5 s */
    uint64_t dial_backoff_max_ms;      /* cap; default 5 min */
    uint64_t relay_pending_timeout_ms; /* default 60 s; 0 = pending slots never time out */
} lp2p_peerbook_config;

typedef struct lp2p_peerbook lp2p_peerbook;

/* Dial outcome of an address, as recorded. */
enum { LP2P_PB_DIAL_NONE = 0, LP2P_PB_DIAL_OK = 1, LP2P_PB_DIAL_FAILED = 2 };

typedef struct lp2p_peerbook_addr_info {
    unsigned sources; /* LP2P_PB_SRC_* bits */
    int relayed;
    int is_public;
    uint64_t last_seen_ms;
    uint64_t last_dial_ms; /* meaningful when last_dial != LP2P_PB_DIAL_NONE */
    int last_dial;         /* LP2P_PB_DIAL_* */
    unsigned fails;        /* consecutive failed dials */
} lp2p_peerbook_addr_info;

void lp2p_peerbook_config_default(lp2p_peerbook_config *cfg);
/* cfg NULL = defaults. LP2P_ERR_INVAL when a max_* is 0 or backoff_max < backoff. */
int lp2p_peerbook_new(const lp2p_peerbook_config *cfg, lp2p_peerbook **out);
void lp2p_peerbook_del(lp2p_peerbook *pb);

/* ---- addresses ------------------------------------------------------------------------------ */
/* Validates (lp2p_multiaddr_from_bytes), canonicalizes and adds or merges one address:
 * a known address gets the new source bits ORed in and last_seen_ms = now_ms. Touches the
 * peer (LRU). Returns 1 when the address is new, 0 when merged, negative on error (nothing
 * changed then). sources must be a non-empty subset of LP2P_PB_SRC_ALL. */
int lp2p_peerbook_add_addr(lp2p_peerbook *pb, const lp2p_peer_id *peer, const uint8_t *ma,
                           size_t len, unsigned sources, uint64_t now_ms);
/* Same from an lp2p_multiaddr (already valid). */
int lp2p_peerbook_add_ma(lp2p_peerbook *pb, const lp2p_peer_id *peer, const lp2p_multiaddr *ma,
                         unsigned sources, uint64_t now_ms);
int lp2p_peerbook_remove_addr(lp2p_peerbook *pb, const lp2p_peer_id *peer,
                              const lp2p_multiaddr *ma);
int lp2p_peerbook_remove_peer(lp2p_peerbook *pb, const lp2p_peer_id *peer);

/* Records a dial of (peer, ma): result 0 = connected, negative = failed (the lp2p_err code).
 * Touches the peer when the address is known. Record ordinary dials only: a DCUtR punch
 * attempt failing says nothing about the address. On failure also releases the PENDING relay slot
 * of `peer` when ma is one of its addresses (ma with or without /p2p/<peer>). Returns the number of
 * relay slots released (0 or 1), or LP2P_ERR_NOT_FOUND when the address is unknown and no slot was
 * released. */
int lp2p_peerbook_dial_result(lp2p_peerbook *pb, const lp2p_peer_id *peer, const lp2p_multiaddr *ma,
                              int result, uint64_t now_ms);

/* Up to max dial candidates for peer, best first (see the top of this file). The pointers are
 * borrowed: valid until the next call that changes the book. Returns the count (0 for an
 * unknown peer). */
size_t lp2p_peerbook_candidates(const lp2p_peerbook *pb, const lp2p_peer_id *peer, uint64_t now_ms,
                                const lp2p_multiaddr **out, size_t max);

size_t lp2p_peerbook_npeers(const lp2p_peerbook *pb);
/* Number of addresses stored for peer (0 when unknown). */
size_t lp2p_peerbook_naddrs(const lp2p_peerbook *pb, const lp2p_peer_id *peer);
int lp2p_peerbook_has_peer(const lp2p_peerbook *pb, const lp2p_peer_id *peer);
/* 0 and *out filled, or LP2P_ERR_NOT_FOUND. ma may carry the trailing /p2p/<peer>. */
int lp2p_peerbook_addr_info_get(const lp2p_peerbook *pb, const lp2p_peer_id *peer,
                                const lp2p_multiaddr *ma, lp2p_peerbook_addr_info *out);

/* ---- relay quota ---------------------------------------------------------------------------- */
/* Takes a slot for the relay at relay_addr (…/p2p/<relay>). LP2P_ERR_LIMIT when pending +
 * confirmed = max_relay_addrs, LP2P_ERR_EXISTS when that relay already has a slot,
 * LP2P_ERR_INVAL when relay_addr has no /p2p/ or is a circuit. */
int lp2p_peerbook_relay_reserve_pending(lp2p_peerbook *pb, const lp2p_multiaddr *relay_addr,
                                        uint64_t now_ms);
/* PENDING → CONFIRMED. LP2P_ERR_NOT_FOUND no slot, LP2P_ERR_STATE already confirmed. */
int lp2p_peerbook_relay_confirm(lp2p_peerbook *pb, const lp2p_multiaddr *relay_addr,
                                uint64_t now_ms);
/* Frees the slot (pending or confirmed). LP2P_ERR_NOT_FOUND when there is none (a second
 * release of the same relay). */
int lp2p_peerbook_relay_release(lp2p_peerbook *pb, const lp2p_multiaddr *relay_addr);
size_t lp2p_peerbook_relay_npending(const lp2p_peerbook *pb);
size_t lp2p_peerbook_relay_nconfirmed(const lp2p_peerbook *pb);
int lp2p_peerbook_relay_is_pending(const lp2p_peerbook *pb, const lp2p_multiaddr *relay_addr);
int lp2p_peerbook_relay_is_confirmed(const lp2p_peerbook *pb, const lp2p_multiaddr *relay_addr);
/* Confirmed relay addresses (as passed to reserve_pending), oldest confirmation first.
 * Borrowed pointers, valid until the next change. Returns the count written. */
size_t lp2p_peerbook_relay_confirmed(const lp2p_peerbook *pb, const lp2p_multiaddr **out,
                                     size_t max);

/* ---- time ----------------------------------------------------------------------------------- */
/* Drops expired addresses (and peers left empty) and times out stale PENDING relay slots.
 * Returns how many addresses + slots went. */
size_t lp2p_peerbook_expire(lp2p_peerbook *pb, uint64_t now_ms);
/* When expire next has work (UINT64_MAX = never). */
uint64_t lp2p_peerbook_next_deadline(const lp2p_peerbook *pb);

#endif
