/* The Circuit Relay v2 server (hop side) as a service of a host: streams of
 * /libp2p/circuit/relay/0.2.0/hop in, /libp2p/circuit/relay/0.2.0/stop out, and the byte
 * splice between them once a circuit is live. Decisions (limits, reservations, vouchers,
 * accounting, expiry) are the sans-IO core's (src/proto/relay_hop.h); the service frames
 * messages, moves bytes and keeps time. Wire facts: ../shared/reference/libp2p-wire.md A8.
 *
 *   source ──hop CONNECT──► relay ──stop CONNECT{src, limit}──► target
 *          ◄─hop STATUS OK─       ◄────────stop STATUS OK──────
 *   source ═══ bytes, counted per direction, cut at the data or duration limit ═══ target
 *
 * The server subscribes to the host's connection events itself: a closed connection ends its
 * reservations. Everything runs on the host's loop; nothing here starts a thread. */
#ifndef LP2P_RELAY_SERVER_H
#define LP2P_RELAY_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "lp2p/host.h"
#include "lp2p/identity.h"
#include "lp2p/relay_limits.h"

typedef struct lp2p_relay_server lp2p_relay_server;

typedef struct lp2p_relay_server_config {
    lp2p_relay_config limits;
    /* Addresses handed out in reservations (text; /p2p/<relay id> is appended when missing).
     * NULL/0: the host's listen addresses, less unspecified ones (0.0.0.0, ::). */
    const char *const *announce;
    size_t nannounce;
    /* A hop stream that has not sent its message within this time is reset (go: 1 min). */
    uint64_t stream_timeout_ms;
    /* Hop streams of one connection still waiting for their request; more are reset at once
     * (rust: 10 concurrent streams per connection). */
    uint32_t max_pending_hops_per_conn;
    /* Bound on bytes queued towards one side of a circuit; over it the circuit is reset.
     * Reading the other side pauses at LP2P_STREAM_HIGH_WATER, so only what it had in flight
     * (at most one window: keep the host's max_stream_window below this) comes on top. */
    size_t max_buffered;
} lp2p_relay_server_config;

void lp2p_relay_server_config_default(lp2p_relay_server_config *c);

/* Refusal statuses, in the order of the *_refused_total arrays; names are metric labels. */
#define LP2P_RELAY_SERVER_NREFUSALS 7
const char *lp2p_relay_server_refusal_name(size_t i);

/* Counters for metrics; read on the loop thread. */
typedef struct lp2p_relay_server_stats {
    size_t reservations_active;
    uint64_t reservations_granted_total;
    uint64_t reservations_refused_total[LP2P_RELAY_SERVER_NREFUSALS];
    size_t circuits_active;                                       /* live circuits (spliced) */
    uint64_t circuits_total;                                      /* circuits that went live */
    uint64_t circuits_refused_total[LP2P_RELAY_SERVER_NREFUSALS]; /* non-OK CONNECT answers */
    uint64_t circuits_limited_total[2]; /* cut at the limit: 0 data, 1 duration */
    uint64_t bytes_relayed[2];          /* 0 source→target, 1 target→source */
    size_t connections_active;          /* libp2p connections of the host, open now */
    uint64_t connections_total;         /* ... established since the server started */
} lp2p_relay_server_stats;

/* Registers the hop handler on h and subscribes to its connection events. kp signs
 * vouchers; kp and h must outlive the server. */
int lp2p_relay_server_new(lp2p_host *h, const lp2p_keypair *kp, const lp2p_relay_server_config *cfg,
                          lp2p_relay_server **out);
/* Resets every circuit and stream, unsubscribes, stops the timer. The object is freed once
 * the loop has run the timer's close callback (call before lp2p_host_close, then uv_run).
 * NULL is ignored. */
void lp2p_relay_server_close(lp2p_relay_server *r);
void lp2p_relay_server_stats_get(const lp2p_relay_server *r, lp2p_relay_server_stats *out);

#endif
