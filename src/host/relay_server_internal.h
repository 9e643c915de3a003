/* Private structures of the relay server (relay_server.c: the service, its timer and
 * addresses; relay_circuit.c: hop streams, stop streams and the splice). Not a public API. */
#ifndef LP2P_HOST_RELAY_SERVER_INTERNAL_H
#define LP2P_HOST_RELAY_SERVER_INTERNAL_H

#include "host/host_internal.h"
#include "lp2p/relay_server.h"
#include "proto/relay_hop.h"
#include "util/list.h"
#include "wire/lpm.h"

#include <arpa/inet.h>

enum circ_state { C_WAIT_MSG, C_REPLIED, C_WAIT_STOP, C_LIVE, C_DONE };
enum { SRC = 0, DST = 1 }; /* stream index; also the direction of the bytes read from it */

#define EARLY_MAX       (64u << 10) /* bytes the source may send before the circuit is live */
#define RELAY_ADDRS_MAX 16          /* addresses handed out in a reservation */

typedef struct circ {
    lp2p_relay_server *svc;
    lp2p_list link;
    enum circ_state state;
    lp2p_stream *s[2]; /* SRC: the hop stream; DST: the stop stream (NULL once closed) */
    lp2p_lpm lpm[2];   /* message readers: hop request, stop reply */
    uint64_t id;       /* the core's circuit id; 0 = none */
    int in_core;       /* the core still holds the circuit: close it there when done */
    int was_live;
    uint64_t deadline_ms; /* stream timeout while WAIT_MSG / REPLIED; 0 = none */
    lp2p_buf early;       /* source bytes that arrived before the circuit went live */
    int eof[2];           /* that side sent FIN */
    int paused[2];        /* reading that side is paused: the other side's output is full */
    uint64_t bytes[2];
    int busy;
    int aborting;
    const char *reason;
    char src[LP2P_PEER_ID_STR_MAX];
    char dst[LP2P_PEER_ID_STR_MAX];
    char ip[INET6_ADDRSTRLEN];
} circ;

struct lp2p_relay_server {
    uv_loop_t *loop;
    lp2p_host *host;
    lp2p_relay *core;
    lp2p_relay_server_config cfg;
    uv_timer_t timer;
    lp2p_list circs;
    lp2p_relay_server_stats st;
    int closing;
    int sub; /* our subscription to the host's connection events */
};

/* relay_server.c */
size_t relay_refusal_index(int status);
uint64_t relay_server_now(const lp2p_relay_server *r);
void relay_server_rearm(lp2p_relay_server *r);

/* relay_circuit.c */
extern const lp2p_stream_callbacks lp2p__relay_hop_handler; /* ud: the server */
void relay_circ_finish(circ *c);
void relay_circ_ref(circ *c);
void relay_circ_unref(circ *c);
void relay_circ_abort(circ *c, const char *reason);
int relay_write_buf(lp2p_stream *s, lp2p_buf *b);
void relay_circ_linger(circ *c, enum circ_state st);

#endif
