/* The Circuit Relay v2 hop service on a host: streams of /libp2p/circuit/relay/0.2.0/hop in,
 * /libp2p/circuit/relay/0.2.0/stop out, and the byte splice between them once a circuit is
 * live. Decisions (limits, reservations, vouchers, accounting, expiry) are the sans-IO core's
 * (src/proto/relay_hop.h); this file only frames messages, moves bytes and keeps time.
 * Wire facts: ../shared/reference/libp2p-wire.md A8.
 *
 *   source ──hop CONNECT──► relay ──stop CONNECT{src, limit}──► target
 *          ◄─hop STATUS OK─       ◄────────stop STATUS OK──────
 *   source ═══ bytes, counted per direction, cut at the data or duration limit ═══ target
 *
 * Everything runs on the host's loop; nothing here starts a thread. */
#ifndef HOLEPUNCH_RELAY_SVC_H
#define HOLEPUNCH_RELAY_SVC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lp2p/host.h"
#include "proto/relay_hop.h"

typedef struct relay_svc relay_svc;

typedef struct relay_svc_config {
    lp2p_relay_config core;
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
} relay_svc_config;

void relay_svc_config_default(relay_svc_config *c);

/* Counters for metrics; read on the loop thread. */
typedef struct relay_svc_stats {
    size_t reservations_active;
    uint64_t reservations_granted_total;
    uint64_t reservations_refused_total[7]; /* by relay_svc_refusal_status */
    size_t circuits_active;                 /* live circuits (spliced) */
    uint64_t circuits_total;                /* circuits that went live */
    uint64_t circuits_refused_total[7];     /* CONNECTs answered with a non-OK status */
    uint64_t circuits_limited_total[2];     /* cut at the limit: 0 data, 1 duration */
    uint64_t bytes_relayed[2];              /* 0 source→target, 1 target→source */
} relay_svc_stats;

/* Refusal statuses in the order of the stats arrays, and their names (metric labels). */
#define RELAY_SVC_NREFUSALS 7
extern const int relay_svc_refusal_status[RELAY_SVC_NREFUSALS];
const char *relay_svc_refusal_name(size_t i);

/* Registers the hop handler on h. kp signs vouchers; kp and h must outlive the service. */
int relay_svc_new(uv_loop_t *loop, lp2p_host *h, const lp2p_keypair *kp,
                  const relay_svc_config *cfg, relay_svc **out);
/* Call from the host's on_disconnected: the connection's reservations end. NULL is ignored
 * (after relay_svc_close, pass NULL: the host reports its last disconnections later). */
void relay_svc_conn_closed(relay_svc *r, lp2p_conn *c);
/* Resets every circuit and stream, stops the timer. The object is freed once the loop has
 * run the timer's close callback (call before lp2p_host_close, then uv_run). NULL is ignored. */
void relay_svc_close(relay_svc *r);
void relay_svc_stats_get(const relay_svc *r, relay_svc_stats *out);

#endif
