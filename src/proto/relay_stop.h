/* Circuit Relay v2, client side: hop RESERVE / CONNECT and their replies, the stop-side
 * answer to an incoming circuit, and the reservation refresh schedule.
 * Wire facts: ../shared/reference/libp2p-wire.md A8. Relay side: relay_hop.h.
 *
 *   reserving peer S                       relay R                      dialer C
 *   hop RESERVE ──────────────────────►                    ◄──── hop CONNECT{peer{id=S}}
 *             ◄────── hop STATUS{OK, reservation, limit}
 *             ◄────── stop CONNECT{peer{id=C}, limit}
 *   stop STATUS{OK} ──────────────────►   ────► hop STATUS{OK, limit}
 *
 * Message bodies in, framed bytes out (frame input with wire/lpm.h, LP2P_RELAY_MSG_MAX). */
#ifndef LP2P_PROTO_RELAY_STOP_H
#define LP2P_PROTO_RELAY_STOP_H

#include <stddef.h>
#include <stdint.h>

#include "lp2p/identity.h"
#include "proto/relay_msg.h"
#include "util/buf.h"
#include "util/trace.h"

/* What a relay granted. Everything owned; free with lp2p_relay_reservation_free. */
typedef struct lp2p_relay_reservation {
    uint64_t expire_unix_s;
    uint8_t **addrs; /* the relay's addresses (binary multiaddrs) */
    size_t *addr_lens;
    size_t naddrs;
    uint8_t *voucher; /* signed envelope, NULL when the relay sent none */
    size_t voucher_len;
    uint32_t limit_duration_s; /* 0 = none */
    uint64_t limit_data;       /* 0 = none */
} lp2p_relay_reservation;

void lp2p_relay_reservation_free(lp2p_relay_reservation *rsv);

/* ---- hop client ----------------------------------------------------------------------------- */
int lp2p_relay_client_reserve(lp2p_buf *out);
/* Parses the relay's answer to RESERVE. *status_out gets the status (0 if none).
 * 0: granted (out filled). LP2P_ERR_REFUSED: a non-OK status. LP2P_ERR_DECODE: not a hop
 * STATUS, or OK without a reservation. LP2P_ERR_AUTH: the voucher is present but not signed
 * by relay, or names another peer than self. trace (NULL = silent) hears why: relay_bad_reply
 * (request, reason) or relay_refused_us (request, status); the same for the CONNECT reply. */
int lp2p_relay_client_on_reserve_reply(const uint8_t *body, size_t len, const lp2p_peer_id *relay,
                                       const lp2p_peer_id *self, lp2p_relay_reservation *out,
                                       int *status_out, const lp2p_trace *trace);
int lp2p_relay_client_connect(const lp2p_peer_id *target, lp2p_buf *out);
/* Parses the answer to CONNECT. 0: OK, the stream is now the relayed connection (limit
 * values out, 0 = none). LP2P_ERR_REFUSED with *status_out, or LP2P_ERR_DECODE. */
int lp2p_relay_client_on_connect_reply(const uint8_t *body, size_t len, int *status_out,
                                       uint32_t *limit_duration_s, uint64_t *limit_data,
                                       const lp2p_trace *trace);

/* ---- stop side (the reserving peer answers an incoming circuit) ----------------------------- */
/* Parses stop CONNECT. 0: *src = the dialer, limits out; the caller then answers with
 * lp2p_relay_stop_reply(OK or a refusal). On bad input the right refusal
 * (MALFORMED_MESSAGE / UNEXPECTED_MESSAGE) is already in reply, LP2P_ERR_DECODE returned and
 * relay_bad_stop (reason) sent to trace (NULL = silent). */
int lp2p_relay_stop_on_connect(const uint8_t *body, size_t len, lp2p_peer_id *src,
                               uint32_t *limit_duration_s, uint64_t *limit_data, lp2p_buf *reply,
                               const lp2p_trace *trace);
int lp2p_relay_stop_reply(int status, lp2p_buf *reply);

/* ---- reservation refresh schedule -------------------------------------------------------------
 * Refresh at 3/4 of the remaining lifetime (rust's rule; earlier than go's "2 min before" for
 * the 1 h default, and never later), at least 1 s ahead. After a failure: exponential backoff
 * from 1 s to backoff_max_ms (default 20 s, so a relay that comes back is reserved on again
 * within about 20 s: a 5 min cap once meant 105 s after a 150 s outage), with jitter when
 * jitter_state is seeded (each wait drawn from [3/4, 1] of it, so listeners of one relay do
 * not return in step), but never past 3/4 of the remaining time of a still-valid
 * reservation. */
#define LP2P_RELAY_REFRESH_MIN_MS  1000
#define LP2P_RELAY_BACKOFF_BASE_MS 1000
#define LP2P_RELAY_BACKOFF_MAX_MS  (20 * 1000)

typedef struct lp2p_relay_refresh {
    uint64_t next_ms;
    int in_flight;
    unsigned failures;
    uint64_t valid_until_ms; /* 0 = no reservation held */
    lp2p_trace trace;        /* set after _init: relay_reservation_expired_on_arrival */
    uint64_t backoff_max_ms; /* set after _init; 0 = LP2P_RELAY_BACKOFF_MAX_MS */
    uint64_t jitter_state;   /* set after _init to a nonzero seed for jitter; 0 = none */
} lp2p_relay_refresh;

/* The first RESERVE is due at now_ms. */
void lp2p_relay_refresh_init(lp2p_relay_refresh *rf, uint64_t now_ms);
/* 1 when a RESERVE should be sent now (marks it in flight; no deadline until the outcome). */
int lp2p_relay_refresh_due(lp2p_relay_refresh *rf, uint64_t now_ms);
/* A reservation was granted. One that has already expired by unix_now_s counts as a failure
 * (so a relay sending expire=0 gets backoff, not a RESERVE every second). */
void lp2p_relay_refresh_ok(lp2p_relay_refresh *rf, uint64_t now_ms, uint64_t unix_now_s,
                           uint64_t expire_unix_s);
void lp2p_relay_refresh_failed(lp2p_relay_refresh *rf, uint64_t now_ms);
/* 1 while the last granted reservation is still valid at now_ms. */
int lp2p_relay_refresh_valid(const lp2p_relay_refresh *rf, uint64_t now_ms);
uint64_t lp2p_relay_refresh_next_deadline(const lp2p_relay_refresh *rf);

#endif
