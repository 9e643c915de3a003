/* Limits of a Circuit Relay v2 server (reservations, circuits, rates). Defaults follow go- and
 * rust-libp2p. Shared by the sans-IO relay core and the relay server service
 * (lp2p/relay_server.h). */
#ifndef LP2P_RELAY_LIMITS_H
#define LP2P_RELAY_LIMITS_H

#include <stdint.h>

#include "lp2p/trace.h"

typedef struct lp2p_relay_config {
    uint32_t max_reservations;          /* 128 */
    uint32_t max_reservations_per_peer; /* 4 (rust; one per connection) */
    uint32_t max_reservations_per_ip;   /* 8 */
    uint64_t reservation_ttl_ms;        /* 1 h */
    uint32_t max_circuits;              /* 1024 in total */
    uint32_t max_circuits_per_peer;     /* 16, counting both ends */
    uint32_t max_circuits_per_pair;     /* 4: one source's share of a peer's circuits; 0 = off */
    /* a peer at max_circuits_per_peer asked for one more: its live circuit idle this long
     * (longest first) is cut to make room; 10 s; 0 = never */
    uint64_t circuit_idle_ms;
    uint64_t circuit_duration_ms; /* 2 min */
    uint64_t circuit_data;        /* 128 KiB per direction */
    uint64_t connect_timeout_ms;  /* 30 s (go ConnectTimeout) for the target's answer */
    /* token buckets (rust defaults): burst, and one token back per interval */
    uint32_t reserve_burst_peer;       /* 30 */
    uint64_t reserve_interval_peer_ms; /* 2 min */
    uint32_t reserve_burst_ip;         /* 60 */
    uint64_t reserve_interval_ip_ms;   /* 1 min */
    uint32_t connect_burst_peer;       /* 30 */
    uint64_t connect_interval_peer_ms; /* 2 min */
    uint32_t connect_burst_ip;         /* 60 */
    uint64_t connect_interval_ip_ms;   /* 1 min */
    /* relay_refused (peer, request, status, reason), relay_reserved, relay_circuit_failed,
     * relay_circuit_limit; zero = silent (lp2p_relay_config_default leaves it so) */
    lp2p_trace trace;
} lp2p_relay_config;

void lp2p_relay_config_default(lp2p_relay_config *cfg);

#endif
