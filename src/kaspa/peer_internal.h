/* Inside the Kaspa peer driver: the struct the constructors (peer_tcp.c, peer_libp2p.c)
 * fill, and the two steps they need beyond kaspa_peer_start: a TCP dial has a peer before it
 * has a transport (attach it once connected, or fail). */
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
    int err;         /* why the transport went (0 = clean) */
    int fin_sent;    /* our half-close is queued */
    int eof;         /* the peer's half-close arrived */
    int lingering;   /* the timer is the drain/linger timer, not a session deadline */
    int t_closed;    /* we asked the transport to close: its on_closed follows */
    int closing;     /* the timer close started: on_closed follows */
    int in_writable; /* re-entrancy guard for cb.on_writable */
    void (*on_gone)(kaspa_peer *p); /* constructor hook, just before on_closed */
    void (*abort)(kaspa_peer *p);   /* constructor hook: give up a dial still connecting */
    void *dial;                     /* the constructor's connect state, or NULL */
};

/* A peer with no transport yet (names copied, cfg copied, timer initialised). */
kaspa_peer *kaspa_peer__new(uv_loop_t *loop, const kaspa_session_config *cfg, kaspa_role role,
                            const kaspa_peer_names *names, const kaspa_peer_callbacks *cb,
                            void *user);
/* Starts the session over t. On error the caller still owns p (use kaspa_peer__fail). */
int kaspa_peer__attach(kaspa_peer *p, lp2p_transport *t);
/* Ends p before it had a transport: on_closed(err) from the loop, then freed. */
void kaspa_peer__fail(kaspa_peer *p, int err);

#endif
