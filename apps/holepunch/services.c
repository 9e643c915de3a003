#include "services.h"

#include "lp2p/err.h"
#include "proto/perf.h"
#include "util/log.h"

#include <stdlib.h>
#include <uv.h>

/* ---- /echo/1.0.0: every byte back until EOF, then close. The host's backpressure stops
 * granting the peer window while our echo output is queued, so a peer that never reads
 * cannot make us buffer more than the high-water mark. */
static void echo_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    if (lp2p_stream_write(s, p, n) < 0)
        lp2p_stream_reset(s);
}
static void echo_on_eof(lp2p_stream *s, void *ud)
{
    lp2p_stream_close(s);
}
static const lp2p_stream_callbacks k_echo = {.on_data = echo_on_data, .on_eof = echo_on_eof};

void services_register_echo(lp2p_host *h)
{
    lp2p_host_handle(h, ECHO_PROTO, &k_echo, NULL);
}

/* ---- /perf/1.0.0 server ------------------------------------------------------------------ */
typedef struct perf_srv {
    lp2p_perf_server core;
} perf_srv;

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static void perf_pump(lp2p_stream *s, perf_srv *x)
{
    lp2p_view chunk;
    for (;;) {
        switch (lp2p_perf_server_next(&x->core, &chunk)) {
        case LP2P_PERF_WRITE:
            /* Keep about one high-water mark queued; on_writable resumes. */
            if (lp2p_stream_pending(s) >= (1u << 20))
                return;
            if (lp2p_stream_write(s, chunk.ptr, chunk.len) < 0) {
                lp2p_stream_reset(s);
                return;
            }
            lp2p_perf_server_sent(&x->core, chunk.len, now_ms());
            break;
        case LP2P_PERF_CLOSE_WRITE:
            lp2p_stream_close(s);
            lp2p_perf_server_write_closed(&x->core, now_ms());
            break;
        default:
            return;
        }
    }
}

static void perf_on_open(lp2p_stream *s, void *ud)
{
    perf_srv *x = calloc(1, sizeof(*x));
    if (!x) {
        lp2p_stream_reset(s);
        return;
    }
    lp2p_perf_server_init(&x->core, 0, 0, now_ms());
    x->core.trace = LP2P_TRACE_LOG;
    lp2p_stream_set_ud(s, x);
}
static void perf_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    perf_srv *x = ud;
    int rc = lp2p_perf_server_recv(&x->core, p, n, now_ms());
    if (rc < 0) {
        lp2p_log(LP2P_WARN, "perf_failed", LF_S("reason", lp2p_strerror(rc)));
        lp2p_stream_reset(s);
    }
}
static void perf_on_eof(lp2p_stream *s, void *ud)
{
    perf_srv *x = ud;
    if (lp2p_perf_server_eof(&x->core, now_ms()) < 0) {
        lp2p_stream_reset(s);
        return;
    }
    perf_pump(s, x);
}
static void perf_on_writable(lp2p_stream *s, void *ud)
{
    perf_pump(s, ud);
}
static void perf_on_close(lp2p_stream *s, int err, void *ud)
{
    free(ud);
}
static const lp2p_stream_callbacks k_perf = {
    .on_open = perf_on_open,
    .on_data = perf_on_data,
    .on_eof = perf_on_eof,
    .on_writable = perf_on_writable,
    .on_close = perf_on_close,
};

void services_register_perf(lp2p_host *h)
{
    lp2p_host_handle(h, LP2P_PERF_PROTO, &k_perf, NULL);
}
