/* Inside the Kaspa peer driver: the struct the constructors (peer_tcp.c, peer_libp2p.c)
 * fill, and the steps they need beyond kaspa_peer_start: a TCP dial binds its transport at
 * once and begins the session when the transport reports on_connected. */
#ifndef KASPA_PEER_INTERNAL_H
#define KASPA_PEER_INTERNAL_H

#include "kaspa/peer.h"
#include "net/transport.h"
#include "util/list.h"

struct kaspa_peer {
    uv_loop_t *loop;
    lp2p_transport *t; /* NULL before attach and after on_closed */
    uv_timer_t timer;  /* session deadline, connect timeout, then drain/linger */
    kaspa_session *session;
    kaspa_session_config cfg;
    kaspa_role role;
    kaspa_peer_callbacks cb;
    void *user;
    lp2p_list link; /* in a listener's list (else self-linked) */
    void *owner;    /* the listener that accepted it, or NULL */
    char label[64];
    char addr[256];
    char key_addr[64];
    char proto[64];
    char reason[160];
    char why[96];    /* the transport's account of its end (on_closed) */
    int err;         /* why the transport went (0 = clean) */
    int fin_sent;    /* our half-close is queued */
    int eof;         /* the peer's half-close arrived */
    int lingering;   /* the timer is the drain/linger timer, not a session deadline */
    int t_closed;    /* we asked the transport to close: its on_closed follows */
    int closing;     /* the timer close started: on_closed follows */
    int in_writable; /* re-entrancy guard for cb.on_writable */
    void (*on_gone)(kaspa_peer *p);      /* constructor hook, just before on_closed */
    void (*on_connected)(kaspa_peer *p); /* constructor hook: the transport's on_connected */
};

/* A peer with no transport yet (names copied, cfg copied, timer initialised). */
kaspa_peer *kaspa_peer__new(uv_loop_t *loop, const kaspa_session_config *cfg, kaspa_role role,
                            const kaspa_peer_names *names, const kaspa_peer_callbacks *cb,
                            void *user);
/* Takes t (binds its events to p). */
void kaspa_peer__bind(kaspa_peer *p, lp2p_transport *t);
/* Starts the session over the bound transport. On error use kaspa_peer__fail. */
int kaspa_peer__begin(kaspa_peer *p);
/* Both. */
int kaspa_peer__attach(kaspa_peer *p, lp2p_transport *t);
/* Ends p (its transport reset if it has one): on_closed(err) from the loop, then freed. */
void kaspa_peer__fail(kaspa_peer *p, int err);

#endif
