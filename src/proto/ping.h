/* Ping (/ipfs/ping/1.0.0), sans-IO. Wire facts: ../shared/reference/libp2p-wire.md A7.
 *
 *   dialer                                   responder
 *   32 random bytes      ───────────────►
 *                        ◄───────────────   the same 32 bytes
 *   (repeat on the same stream; the dialer closes its write side after the last ping)
 *
 * The dialer measures RTT from the now_ms values it is given. A ping that is not echoed
 * within the timeout (default 10 s, as go) fails with LP2P_ERR_TIMEOUT from tick. */
#ifndef LP2P_PROTO_PING_H
#define LP2P_PROTO_PING_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/rng.h"
#include "util/trace.h"

#define LP2P_PING_PROTO      "/ipfs/ping/1.0.0"
#define LP2P_PING_SIZE       32
#define LP2P_PING_TIMEOUT_MS 10000

typedef enum lp2p_ping_role { LP2P_PING_DIALER = 0, LP2P_PING_RESPONDER = 1 } lp2p_ping_role;

typedef struct lp2p_ping {
    lp2p_ping_role role;
    lp2p_buf out;                  /* bytes to write; drain with lp2p_buf_head/size/consume */
    uint8_t sent[LP2P_PING_SIZE];  /* dialer: the outstanding payload */
    uint8_t block[LP2P_PING_SIZE]; /* partial 32-byte block received so far */
    size_t have;                   /* bytes in block */
    int waiting;                   /* dialer: a ping is outstanding */
    int failed;
    uint64_t sent_ms;
    uint64_t timeout_ms;
    uint64_t last_rtt_ms; /* dialer: RTT of the last completed ping */
    uint64_t count;       /* completed pings (dialer) / echoed blocks (responder) */
    /* Set by the caller after lp2p_ping_init (both zero there): */
    lp2p_rng rng;     /* dialer: payloads when lp2p_ping_send gets none (LP2P_RNG_OPENSSL) */
    lp2p_trace trace; /* ping_failed records (reason, err); zero = silent */
} lp2p_ping;

/* timeout_ms 0 = LP2P_PING_TIMEOUT_MS (only used by the dialer). */
void lp2p_ping_init(lp2p_ping *p, lp2p_ping_role role, uint64_t timeout_ms);
void lp2p_ping_free(lp2p_ping *p);

/* Dialer: queues one ping. payload NULL = 32 bytes from p->rng (LP2P_ERR_STATE without one).
 * LP2P_ERR_STATE while a ping is outstanding or after a failure. */
int lp2p_ping_send(lp2p_ping *p, const uint8_t *payload, uint64_t now_ms);

/* Consumes all of in. Dialer: returns the number of pings completed by this input (0 or 1;
 * RTT in last_rtt_ms); LP2P_ERR_DECODE when the echo differs or bytes arrive with no ping
 * outstanding. Responder: queues an echo for every complete 32-byte block; returns 0. */
int lp2p_ping_recv(lp2p_ping *p, const uint8_t *in, size_t len, uint64_t now_ms);

/* The remote closed its write side. Responder: 0 when it ended on a block boundary (then
 * close our write side too), else LP2P_ERR_DECODE. Dialer: LP2P_ERR_CLOSED while waiting. */
int lp2p_ping_eof(lp2p_ping *p);

uint64_t lp2p_ping_next_deadline(const lp2p_ping *p);
/* LP2P_ERR_TIMEOUT once an outstanding ping is past its deadline. */
int lp2p_ping_tick(lp2p_ping *p, uint64_t now_ms);

#endif
