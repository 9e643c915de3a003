/* Perf server (/perf/1.0.0, libp2p perf spec): reads the 8-byte length the client wants back,
 * drains what it uploads, then sends that many bytes. Off by default on public nodes, as the
 * spec asks: the app enables it with lp2p_host_serve_perf. Output is paced by on_writable, so
 * a client that never reads costs at most one high-water mark of buffer. */
#include "host/host_internal.h"
#include "lp2p/err.h"
#include "proto/perf.h"
#include "util/log.h"

#include <stdlib.h>

typedef struct perf_srv {
    lp2p_perf_server core;
} perf_srv;

static uint64_t now_ms(lp2p_stream *s)
{
    return lp2p__now(lp2p_stream_conn(s)->host);
}
static void perf_pump(lp2p_stream *s, perf_srv *x)
{
    lp2p_view chunk;
    for (;;) {
        switch (lp2p_perf_server_next(&x->core, &chunk)) {
        case LP2P_PERF_WRITE:
            /* Keep about one high-water mark queued; on_writable resumes. */
            if (lp2p_stream_pending(s) >= LP2P_STREAM_HIGH_WATER)
                return;
            if (lp2p_stream_write(s, chunk.ptr, chunk.len) < 0) {
                lp2p_stream_reset(s);
                return;
            }
            lp2p_perf_server_sent(&x->core, chunk.len, now_ms(s));
            break;
        case LP2P_PERF_CLOSE_WRITE:
            lp2p_stream_close(s);
            lp2p_perf_server_write_closed(&x->core, now_ms(s));
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
    lp2p_perf_server_init(&x->core, 0, 0, now_ms(s));
    x->core.trace = LP2P_TRACE_LOG;
    lp2p_stream_set_ud(s, x);
}
static void perf_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    perf_srv *x = ud;
    int rc = lp2p_perf_server_recv(&x->core, p, n, now_ms(s));
    if (rc < 0) {
        lp2p_log(LP2P_WARN, "perf_failed", LF_S("reason", lp2p_strerror(rc)));
        lp2p_stream_reset(s);
    }
}
static void perf_on_eof(lp2p_stream *s, void *ud)
{
    perf_srv *x = ud;
    if (lp2p_perf_server_eof(&x->core, now_ms(s)) < 0) {
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

int lp2p_host_serve_perf(lp2p_host *h)
{
    return lp2p_host_handle(h, LP2P_PERF_PROTO, &k_perf, NULL);
}
