/* Splice: two byte transports joined both ways, bytes unchanged (the bridge's kaspad TCP
 * connection and its libp2p stream; a relay's two circuit halves).
 *
 *   a --on_data--> [observer] --write--> b        (direction 0, "a to b")
 *   b --on_data--> [observer] --write--> a        (direction 1, "b to a")
 *
 * Backpressure: after a write leaves the destination congested (lp2p_transport_congested),
 * the source is paused; the destination's on_writable resumes it. So at most the
 * destination's high-water mark plus one on_data chunk waits in it per direction.
 * Half-close: the source's on_eof shuts the destination's write side down (after its
 * pending bytes); when both directions have ended and both transports' pending bytes have
 * left (polled on cfg.loop), and close_grace_ms later (at most drain_timeout_ms in all),
 * both are closed cleanly.
 * Reset/close: a transport closing with an error resets the other one; closing cleanly
 * (without its EOF first) closes the other one after its pending bytes.
 * Exactly one on_closed, after both transports are gone; the splice frees itself after it
 * returns. Single-threaded, on the loop's thread. */
#ifndef LP2P_NET_SPLICE_H
#define LP2P_NET_SPLICE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "net/transport.h"

typedef struct lp2p_splice lp2p_splice;

enum {
    LP2P_SPLICE_A_TO_B = 0,
    LP2P_SPLICE_B_TO_A = 1,
};

/* Why a splice ended. */
typedef enum lp2p_splice_end {
    LP2P_SPLICE_END_EOF = 0, /* both sides half-closed: a clean end */
    LP2P_SPLICE_END_A,       /* transport a closed (err says how) */
    LP2P_SPLICE_END_B,       /* transport b closed */
    LP2P_SPLICE_END_LOCAL,   /* lp2p_splice_close by the owner */
    LP2P_SPLICE_END_WRITE,   /* a write failed (err) */
} lp2p_splice_end;

typedef struct lp2p_splice_result {
    uint64_t bytes[2]; /* forwarded, per direction */
    lp2p_splice_end end;
    int err;      /* 0 or the negative lp2p_err that ended it */
    char why[96]; /* the transport's reason text when it ended the splice, else "" */
} lp2p_splice_result;

typedef struct lp2p_splice_config {
    void (*on_closed)(void *ud, const lp2p_splice_result *r);
    /* Optional passive observer: sees every chunk, in order, before it is forwarded; p is
     * valid only during the call and must not be changed. Returns 0 to keep observing that
     * direction, 1 to stop (then it costs nothing for that direction any more). */
    int (*observe)(void *ud, int dir, const uint8_t *p, size_t n);
    void *ud;
    /* For the clean end: a transport's close may drop unsent bytes, so the splice waits for
     * pending() to reach 0 on both first. NULL loop: close at once. */
    uv_loop_t *loop;
    uint64_t drain_timeout_ms; /* default 10 s */
    uint64_t close_grace_ms;   /* after draining, before closing (0 = none) */
} lp2p_splice_config;

/* Takes over both transports (binds their events). Returns 0, LP2P_ERR_INVAL or
 * LP2P_ERR_NOMEM (then the transports are not touched: the caller still owns them). */
int lp2p_splice_new(lp2p_transport *a, lp2p_transport *b, const lp2p_splice_config *cfg,
                    lp2p_splice **out);
/* Ends the splice: reset = 1 resets both transports, 0 closes them after their pending
 * bytes. on_closed follows from the loop (end LP2P_SPLICE_END_LOCAL). */
void lp2p_splice_close(lp2p_splice *s, int reset);
/* Bytes forwarded so far in direction dir. */
uint64_t lp2p_splice_bytes(const lp2p_splice *s, int dir);

#endif
