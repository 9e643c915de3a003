/* A short-lived dialing peer for the ping/perf/echo commands: one loop, one host, one
 * target; the command's logic starts when the connection is up and ends by calling
 * client_finish(exit_code). */
#ifndef HOLEPUNCH_CLIENT_H
#define HOLEPUNCH_CLIENT_H

#include "cli.h"
#include "lp2p/host.h"

typedef struct client client;
typedef struct client_ops {
    void (*on_connected)(client *cl, lp2p_conn *c);
    /* Optional: the peer answered identify. */
    void (*on_identify)(client *cl, lp2p_conn *c, const lp2p_identify_result *r);
    /* Optional: release the command's own loop handles (called once, from client_finish). */
    void (*on_finish)(client *cl);
} client_ops;

struct client {
    uv_loop_t loop;
    lp2p_host *host;
    lp2p_keypair *kp;
    const client_ops *ops;
    void *ud;
    int exit_code;
    int finished;
    uv_timer_t deadline;
    uv_timer_t direct_wait; /* --wait-direct */
    long wait_direct_ms;
    lp2p_conn *relayed; /* the relayed connection while we wait for a direct one */
    int started;
};

/* Runs the loop until client_finish (or the overall timeout). Returns the exit code. */
int client_run(cli_common *c, const char *target, uint64_t timeout_ms, const client_ops *ops,
               void *ud);
void client_finish(client *cl, int exit_code);
uint64_t client_now_us(void);

#endif
