/* DCUtR (/libp2p/dcutr): the hole-punch coordination over a relayed connection, sans-IO.
 * Wire facts: ../shared/reference/libp2p-wire.md A9 (libp2p/specs relay/DCUtR.md).
 *
 *   B (opens the dcutr stream; holds the reservation)      A (dialed B through the relay)
 *   CONNECT{B's observed addrs}  ───────────────►   t0
 *                                ◄───────────────   CONNECT{A's addrs}          t1: RTT = t1-t0
 *   SYNC                         ───────────────►
 *   dial at t1 + RTT/2                              dial on SYNC
 *   ═══════════════ TCP simultaneous open; A = Noise initiator / yamux client ═══════════════
 *
 *   frame = uvarint(len) ‖ HolePunch{required type=1 (CONNECT 100, SYNC 300); repeated ObsAddrs=2}
 *   len <= 4096 (all three impls)
 *
 * One lp2p_dcutr per hole punch. Role B keeps it across attempts: each attempt is a new
 * stream (as go and rust do), with a fresh CONNECT/SYNC and a fresh RTT; at most 3 attempts,
 * and the DIAL event of the last one sets try_swapped (go's fallback for peers with the old
 * inverted roles). Role A answers exactly one stream.
 *
 * Host rules that are not in this core: run A only on a dcutr stream that arrives on a relayed
 * connection we dialed (go rejects it on one it sees as inbound), and run B on a relayed
 * connection the peer dialed to us.
 *
 * Addresses: /p2p-circuit addresses are never sent or dialed, and neither is anything the
 * multiaddr codec does not accept (we punch TCP only); both lists are filtered. */
#ifndef LP2P_PROTO_DCUTR_H
#define LP2P_PROTO_DCUTR_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/trace.h"
#include "wire/lpm.h"

#define LP2P_DCUTR_PROTO        "/libp2p/dcutr"
#define LP2P_DCUTR_MSG_MAX      4096
#define LP2P_DCUTR_MAX_ATTEMPTS 3
#define LP2P_DCUTR_TIMEOUT_MS   10000 /* per-message wait on the stream (rust: 10 s) */
#define LP2P_DCUTR_MAX_ADDRS    32    /* kept per side; more is a flood, not a NAT */

typedef enum lp2p_dcutr_role {
    LP2P_DCUTR_B = 0, /* initiator of the dcutr stream */
    LP2P_DCUTR_A = 1, /* responder */
} lp2p_dcutr_role;

typedef enum lp2p_dcutr_state {
    LP2P_DCUTR_IDLE = 0,     /* B: before an attempt (start_attempt) */
    LP2P_DCUTR_WAIT_CONNECT, /* B: CONNECT sent; A: waiting for B's CONNECT */
    LP2P_DCUTR_WAIT_SYNC,    /* A: CONNECT sent, waiting for SYNC */
    LP2P_DCUTR_WAIT_DIAL,    /* B: SYNC sent, dialing at dial_at_ms */
    LP2P_DCUTR_DIALING,      /* DIAL event delivered; waiting for the host's result */
    LP2P_DCUTR_DONE,         /* punched */
    LP2P_DCUTR_FAILED,       /* out of attempts, or A's one attempt failed */
} lp2p_dcutr_state;

typedef struct lp2p_dcutr_event {
    /* the only event: dial these addresses now */
    const uint8_t *const *addrs; /* the peer's addresses, valid until the next attempt / free */
    const size_t *addr_lens;
    size_t naddrs;
    int attempt;         /* 1..3 */
    uint64_t rtt_ms;     /* measured in this attempt */
    int noise_initiator; /* DCUtR roles: A is Noise initiator and yamux client, B is not */
    int try_swapped;     /* B, last attempt: also try with the roles swapped */
} lp2p_dcutr_event;

typedef struct lp2p_dcutr {
    lp2p_dcutr_role role;
    lp2p_dcutr_state state;
    int attempt;
    uint64_t timeout_ms;
    lp2p_lpm rd;
    lp2p_buf out; /* bytes to write on the current dcutr stream */
    uint8_t **own;
    size_t *own_lens;
    size_t nown;
    uint8_t **peer;
    size_t *peer_lens;
    size_t npeer;
    uint64_t sent_ms; /* when our CONNECT went out */
    uint64_t rtt_ms;
    uint64_t dial_at_ms;  /* B */
    uint64_t deadline_ms; /* message timeout */
    int event_ready;
    /* dcutr_dial, dcutr_rejected, dcutr_no_addrs, dcutr_*_addrs_filtered records */
    lp2p_trace trace;
} lp2p_dcutr;

/* own: our addresses to offer (binary multiaddrs; B: observed/predicted ones), copied and
 * filtered. timeout_ms 0 = LP2P_DCUTR_TIMEOUT_MS. A starts waiting for CONNECT at now_ms.
 * trace (copied; NULL = silent) gets the records, from the filtering here on. */
int lp2p_dcutr_init(lp2p_dcutr *d, lp2p_dcutr_role role, const uint8_t *const *own,
                    const size_t *own_lens, size_t nown, uint64_t timeout_ms, uint64_t now_ms,
                    const lp2p_trace *trace);
void lp2p_dcutr_free(lp2p_dcutr *d);

/* B: a new stream is open; queues CONNECT in out and starts the RTT clock.
 * LP2P_ERR_STATE when not idle or out of attempts; LP2P_ERR_NA with no address to offer. */
int lp2p_dcutr_start_attempt(lp2p_dcutr *d, uint64_t now_ms);
/* Consumes all of in. LP2P_ERR_TOO_LARGE (frame > 4 KiB), LP2P_ERR_DECODE (bad protobuf,
 * unknown type, a message not expected now), LP2P_ERR_NA (the peer offered no usable
 * address). Any error ends the attempt: call lp2p_dcutr_attempt_failed. */
int lp2p_dcutr_recv(lp2p_dcutr *d, const uint8_t *in, size_t len, uint64_t now_ms);
/* B: the dial time (WAIT_DIAL) or the message timeout; UINT64_MAX = none. */
uint64_t lp2p_dcutr_next_deadline(const lp2p_dcutr *d);
/* B: fires the DIAL event at dial_at. LP2P_ERR_TIMEOUT when a message did not arrive. */
int lp2p_dcutr_tick(lp2p_dcutr *d, uint64_t now_ms);
/* 1 and *ev when the host must dial now. */
int lp2p_dcutr_poll(lp2p_dcutr *d, lp2p_dcutr_event *ev);
/* The host's outcome. succeeded: DONE. attempt_failed: returns 1 when B may retry (state
 * back to IDLE: open a new stream and call start_attempt), 0 when it is over (FAILED). */
void lp2p_dcutr_succeeded(lp2p_dcutr *d);
int lp2p_dcutr_attempt_failed(lp2p_dcutr *d);

/* Filter used for both lists, exposed for the host and tests: 1 when a binary multiaddr is a
 * punch candidate (decodes, and has no /p2p-circuit). */
int lp2p_dcutr_addr_usable(const uint8_t *ma, size_t len);

#endif
