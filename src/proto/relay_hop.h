/* Circuit Relay v2, relay side: reservations, circuits, limits (sans-IO decision logic).
 * Wire facts: ../shared/reference/libp2p-wire.md A8.
 *
 *   client S            relay (this object)                    client C
 *   hop RESERVE  ──►    check limits, store (peer, conn)
 *                ◄──    hop STATUS{OK, reservation{expire, addrs, voucher}, limit}
 *                                                    ◄──   hop CONNECT{peer{id=S}}
 *                       look up S's reservation, check limits
 *   stop CONNECT ◄──    {peer{id=C}, limit}   (the host opens the stop stream: an action)
 *   stop STATUS OK ──►
 *                       ──►  hop STATUS{OK, limit}
 *   ═══════════ raw byte pipe; the host forwards and accounts every byte here ═══════════
 *
 * The object never touches a stream: it takes message bodies (the host frames them with
 * wire/lpm.h, cap LP2P_RELAY_MSG_MAX) and writes replies into buffers the host gives it.
 * Time: now_ms is the host's monotonic clock; unix_s is wall time, used only for the
 * reservation's wire `expire` and the voucher.
 *
 * Refusals, with the spec's codes:
 *   RESERVE/CONNECT over a relayed connection      PERMISSION_DENIED (spec: SHOULD NOT)
 *   RESERVE or CONNECT rate limit (peer or IP)     RESOURCE_LIMIT_EXCEEDED (as rust)
 *   reservation table / per peer / per IP full     RESERVATION_REFUSED (as go)
 *   CONNECT to a peer without a live reservation   NO_RESERVATION
 *   circuits per peer / in total                   RESOURCE_LIMIT_EXCEEDED
 *   circuits between one source and one target     RESOURCE_LIMIT_EXCEEDED
 *     (a full peer first loses its longest-idle live circuit, if idle >= circuit_idle_ms)
 *   the target refused or the stop stream failed   CONNECTION_FAILED
 *   undecodable message / missing peer             MALFORMED_MESSAGE
 *   hop STATUS from a client                       UNEXPECTED_MESSAGE */
#ifndef LP2P_PROTO_RELAY_HOP_H
#define LP2P_PROTO_RELAY_HOP_H

#include <stddef.h>
#include <stdint.h>

#include "lp2p/identity.h"
#include "lp2p/relay_limits.h"
#include "proto/relay_msg.h"
#include "util/buf.h"
#include "util/trace.h"

/* lp2p_relay_config (the limits) is public: include/lp2p/relay_limits.h. */

/* Where a hop message came from. ip: 4 or 16 bytes, compared as given (pass IPv4 as 4). */
typedef struct lp2p_relay_src {
    lp2p_peer_id peer;
    uint64_t conn_id; /* the host's id of the connection the hop stream is on */
    uint8_t ip[16];
    uint8_t ip_len;
    int relayed; /* the connection is itself a relayed circuit */
} lp2p_relay_src;

typedef enum lp2p_relay_action {
    LP2P_RELAY_REPLY_CLOSE = 0,  /* write hop_out on the hop stream, then close it */
    LP2P_RELAY_STOP_CONNECT = 1, /* open stop on target_conn_id, write stop_out; keep hop open */
} lp2p_relay_action;

typedef struct lp2p_relay_result {
    lp2p_relay_action action;
    int status;           /* status sent (or to be sent) to the hop client, for logs/metrics */
    lp2p_relay_type type; /* what the client asked for */
    uint64_t circuit_id;  /* STOP_CONNECT: pass back in _on_stop_reply / _on_stop_failed */
    lp2p_peer_id target;
    uint64_t target_conn_id;
} lp2p_relay_result;

typedef struct lp2p_relay lp2p_relay;

/* kp signs vouchers; it must outlive the relay. */
int lp2p_relay_new(const lp2p_relay_config *cfg, const lp2p_keypair *kp, lp2p_relay **out);
void lp2p_relay_del(lp2p_relay *r);
/* The relay's public addresses to hand out in reservations (binary multiaddrs, usually
 * ending in /p2p/<relay id>); copied. */
int lp2p_relay_set_addrs(lp2p_relay *r, const uint8_t *const *addrs, const size_t *lens, size_t n);

/* One hop message body. Always answers: for REPLY_CLOSE hop_out holds the reply; for
 * STOP_CONNECT stop_out holds the stop CONNECT for the target. Returns 0, LP2P_ERR_NOMEM, or
 * LP2P_ERR_INVAL for a src with ip_len > 16 (nothing written then). */
int lp2p_relay_on_hop(lp2p_relay *r, const lp2p_relay_src *src, const uint8_t *body, size_t len,
                      uint64_t now_ms, uint64_t unix_s, lp2p_buf *hop_out, lp2p_buf *stop_out,
                      lp2p_relay_result *res);
/* The target's answer on the stop stream. OK: hop_out gets STATUS{OK, limit}, the circuit is
 * live, return 0 (both streams become a pipe). Otherwise hop_out gets CONNECTION_FAILED, the
 * circuit is gone, and LP2P_ERR_REFUSED / LP2P_ERR_DECODE is returned: close both streams. */
int lp2p_relay_on_stop_reply(lp2p_relay *r, uint64_t circuit_id, const uint8_t *body, size_t len,
                             uint64_t now_ms, lp2p_buf *hop_out);
/* The host could not open or write the stop stream: hop_out gets CONNECTION_FAILED. */
int lp2p_relay_on_stop_failed(lp2p_relay *r, uint64_t circuit_id, lp2p_buf *hop_out);

/* Bytes the host is about to forward on a live circuit; dir 0 = dialer→target, 1 = back.
 * *allowed = how many of n may still be forwarded. 0: all of them. LP2P_ERR_LIMIT: the data
 * limit is reached (forward *allowed bytes, then reset both streams and call _circuit_close).
 * LP2P_ERR_NOT_FOUND: no such live circuit. */
int lp2p_relay_circuit_data(lp2p_relay *r, uint64_t circuit_id, int dir, size_t n, size_t *allowed);
/* The host closed the circuit (either side, or after a limit). */
void lp2p_relay_circuit_close(lp2p_relay *r, uint64_t circuit_id);
/* A connection went away: its reservations end (spec: valid only while it stays up). */
void lp2p_relay_conn_closed(lp2p_relay *r, uint64_t conn_id);
/* 1 while a reservation made on that connection is held (connection pressure keeps it). */
int lp2p_relay_conn_has_reservation(const lp2p_relay *r, uint64_t conn_id);

/* Earliest reservation expiry, circuit duration limit or connect timeout; UINT64_MAX = none. */
uint64_t lp2p_relay_next_deadline(const lp2p_relay *r);
/* Drops expired reservations; circuits past their duration, and pending ones whose target
 * did not answer within connect_timeout_ms, are removed and queued for _poll_expired. */
int lp2p_relay_tick(lp2p_relay *r, uint64_t now_ms);
/* Why a circuit was removed for the host (*was_pending of _poll_expired). */
enum {
    LP2P_RELAY_EXPIRED_DURATION = 0, /* a live circuit hit its duration limit */
    LP2P_RELAY_EXPIRED_PENDING = 1,  /* the target never answered stop CONNECT in time */
    LP2P_RELAY_EXPIRED_IDLE = 2,     /* live, idle, cut for a new circuit of a full peer */
};
/* 1 and *circuit_id when a circuit was removed by tick or cut by _on_hop, 0 when none is left.
 * *was_pending = DURATION or IDLE: reset both its streams.
 * *was_pending = PENDING: write
 * lp2p_relay_msg_encode_status(LP2P_RELAY_HOP, LP2P_RELAY_STATUS_CONNECTION_FAILED) on the
 * hop stream, close it, and reset the stop stream. */
int lp2p_relay_poll_expired(lp2p_relay *r, uint64_t *circuit_id, int *was_pending);

/* Introspection for tests and metrics. */
size_t lp2p_relay_reservation_count(const lp2p_relay *r);
size_t lp2p_relay_circuit_count(const lp2p_relay *r);

#endif
