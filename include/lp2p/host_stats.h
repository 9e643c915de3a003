/* Read-only views of a host's state for health checks and metrics (loop thread only). */
#ifndef LP2P_HOST_STATS_H
#define LP2P_HOST_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "lp2p/host.h"
#include "lp2p/identity.h"

/* Relays on which a reservation is held right now; *configured (may be NULL) gets how many
 * lp2p_host_reserve calls the host keeps. */
size_t lp2p_host_reservations_held(const lp2p_host *h, size_t *configured);

/* One kept reservation (an lp2p_host_reserve call), for per-relay metrics. */
typedef struct lp2p_reservation_info {
    char relay[LP2P_PEER_ID_STR_MAX]; /* the relay's peer ID */
    int held;                         /* a granted reservation is valid now */
    uint64_t expires_in_ms;           /* while held: until it lapses unless refreshed */
    unsigned failures;                /* attempts failed in a row (0 after a grant) */
} lp2p_reservation_info;
/* Up to max entries into out, in lp2p_host_reserve order; returns how many the host keeps. */
size_t lp2p_host_reservations(const lp2p_host *h, lp2p_reservation_info *out, size_t max);

/* Stream payload bytes (Yamux data, after decryption) a connection carried so far. A direct
 * connection to a relay also carries the relayed connections' bytes. */
void lp2p_conn_payload_bytes(const lp2p_conn *c, uint64_t *in, uint64_t *out);
/* The sum over the connections open now (reported connected), relayed (1) or direct (0). */
void lp2p_host_payload_bytes(const lp2p_host *h, int relayed, uint64_t *in, uint64_t *out);

/* The memory budget (lp2p_host_config max_memory / max_conn_memory, mem_budget.c): what all
 * connections' streams are charged now (receive windows granted and unread, our queued
 * output), the limits, the connections waiting for room for a withheld window grant, and
 * how often the budget refused a stream or cut a grant since the host started. */
typedef struct lp2p_memory_info {
    uint64_t used_bytes;
    uint64_t limit_bytes;      /* the process budget */
    uint64_t conn_limit_bytes; /* each connection's budget */
    size_t starved_conns;
    uint64_t streams_refused;
    uint64_t grants_cut;
} lp2p_memory_info;
void lp2p_host_memory(const lp2p_host *h, lp2p_memory_info *out);

#endif
