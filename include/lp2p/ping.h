/* The dialing side of /ipfs/ping/1.0.0 on a connection: one stream, one 32-byte random
 * payload at a time, its echo timed. (The responder is always on in the host.) */
#ifndef LP2P_PING_H
#define LP2P_PING_H

#include "lp2p/host.h"

#define LP2P_PING_PROTO "/ipfs/ping/1.0.0"

typedef struct lp2p_pinger lp2p_pinger;

typedef struct lp2p_pinger_callbacks {
    /* The echo of the last lp2p_pinger_send came back. */
    void (*on_rtt)(lp2p_pinger *p, double rtt_ms, void *ud);
    /* The echo did not match, or the stream ended first; the pinger is gone after this. */
    void (*on_fail)(lp2p_pinger *p, const char *reason, void *ud);
} lp2p_pinger_callbacks;

/* Opens the ping stream on c (nothing is sent yet). */
int lp2p_pinger_open(lp2p_conn *c, const lp2p_pinger_callbacks *cb, void *ud, lp2p_pinger **out);
/* Sends one ping now (LP2P_ERR_STATE while one is outstanding). */
int lp2p_pinger_send(lp2p_pinger *p);
/* 1 while a ping is waiting for its echo. */
int lp2p_pinger_waiting(const lp2p_pinger *p);
/* Half-closes the stream after what is queued and frees p; no callback follows. */
void lp2p_pinger_close(lp2p_pinger *p);

#endif
