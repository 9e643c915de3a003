/* The hole-punch outcome, as an event of the host (lp2p_host_callbacks.on_holepunch).
 *
 * A relayed connection to a peer that speaks DCUtR starts a punch (the side that accepted the
 * relayed connection drives it). The coordinator reports each attempt and, once, how the
 * punch ended:
 *
 *   ATTEMPT ─► FAILED ─► ATTEMPT ─► ...            (B retries up to 3 times; A once)
 *      │          └──────────────────► GAVE_UP    no direct connection; the relay stays
 *      └─► DIRECT                                   the direct connection survived
 *   SKIPPED                                         the peer does not speak DCUtR
 *
 * DIRECT is fired after duplicate resolution: when every crossing connection of the punch
 * has been kept or closed, `direct` is the one the host kept (lp2p_host_find_conn returns it
 * from then on). The relayed connection is closed after a grace period of 3 s. */
#ifndef LP2P_HOLEPUNCH_H
#define LP2P_HOLEPUNCH_H

#include <stddef.h>
#include <stdint.h>

#include "lp2p/host.h"

typedef enum lp2p_holepunch_outcome {
    LP2P_HOLEPUNCH_ATTEMPT, /* an attempt dials (progress, not an end) */
    LP2P_HOLEPUNCH_FAILED,  /* one attempt failed; another may follow */
    LP2P_HOLEPUNCH_DIRECT,  /* end: a direct connection replaces the relayed one */
    LP2P_HOLEPUNCH_GAVE_UP, /* end: no more attempts; the relayed connection stays up */
    LP2P_HOLEPUNCH_SKIPPED, /* end: the peer does not speak /libp2p/dcutr */
} lp2p_holepunch_outcome;

struct lp2p_holepunch_event {
    lp2p_holepunch_outcome outcome;
    const lp2p_peer_id *peer;
    const char *peer_str;
    int attempt;        /* 1-based; 0 when no attempt started (SKIPPED, some GAVE_UP) */
    int role_b;         /* 1: we drove DCUtR (we accepted the relayed connection) */
    lp2p_conn *relayed; /* the relayed connection, or NULL once it is gone */
    const char *reason; /* FAILED, GAVE_UP, SKIPPED: why, for people */
    /* ATTEMPT */
    uint64_t rtt_ms; /* relayed round trip measured by B */
    size_t naddrs;   /* the peer's candidate addresses */
    int swapped;     /* this attempt tries the other Noise role (simultaneous-open retry) */
    /* DIRECT */
    lp2p_conn *direct;
    uint64_t relayed_to_direct_ms; /* from the relayed connection being ready */
    int initiator;                 /* our Noise/Yamux role on the direct connection */
};

#endif
