/* The client side of /perf/1.0.0 (libp2p perf spec) on a connection: upload N bytes, then
 * receive the M bytes asked for; the result carries both directions' bytes and times. */
#ifndef LP2P_PERF_H
#define LP2P_PERF_H

#include <stdint.h>

#include "lp2p/host.h"

#define LP2P_PERF_PROTO "/perf/1.0.0"

typedef struct lp2p_perf_result {
    uint64_t uploaded, downloaded;
    double upload_s;   /* stream open to our write side closed */
    double download_s; /* from then to the server's end of stream */
} lp2p_perf_result;

/* err 0: r holds the run; else reason says why it failed (r is NULL). Called once. */
typedef void (*lp2p_perf_done_cb)(int err, const char *reason, const lp2p_perf_result *r, void *ud);

/* Starts a run on c; cb is called once, when it ends, and then the run is freed. */
int lp2p_perf_start(lp2p_conn *c, uint64_t upload_bytes, uint64_t download_bytes,
                    lp2p_perf_done_cb cb, void *ud);

#endif
