/* The probe: a short-lived dialing peer for the ping/perf/echo commands (the Kaspa client
 * is kaspa_client.c): one loop, one host, one target; the command's logic starts when the
 * connection is up and ends by calling probe_finish(exit_code). */
#ifndef HOLEPUNCH_PROBE_H
#define HOLEPUNCH_PROBE_H

#include "cli.h"
#include "lp2p/host.h"

typedef struct probe probe;
typedef struct probe_ops {
    const char *name; /* the command, for its error lines */
    void (*on_connected)(probe *cl, lp2p_conn *c);
    /* Optional: the peer answered identify. */
    void (*on_identify)(probe *cl, lp2p_conn *c, const lp2p_identify_result *r);
    /* Optional: release the command's own loop handles (called once, from probe_finish). */
    void (*on_finish)(probe *cl);
} probe_ops;

struct probe {
    uv_loop_t loop;
    lp2p_host *host;
    lp2p_keypair *kp;
    const probe_ops *ops;
    void *ud;
    int exit_code;
    int finished;
    uv_timer_t deadline;
    uv_timer_t direct_wait; /* --wait-direct */
    long wait_direct_ms;
    lp2p_conn *relayed; /* the relayed connection while we wait for a direct one */
    int started;
};

/* Runs the loop until probe_finish (or the overall timeout). Returns the exit code. */
int probe_run(cli_common *c, const char *target, uint64_t timeout_ms, const probe_ops *ops,
              void *ud);
void probe_finish(probe *cl, int exit_code);
uint64_t probe_now_us(void);

#endif
