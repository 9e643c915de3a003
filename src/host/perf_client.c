/* lp2p/perf.h: the perf client core (proto/perf.h) on one host stream, writing while the
 * stream's output stays under its high-water mark. */
#include "lp2p/perf.h"

#include "lp2p/err.h"
#include "proto/perf.h"
#include "util/log.h"

#include <stdlib.h>
#include <uv.h>

typedef struct perf_run {
    lp2p_stream *s;
    lp2p_perf_client core;
    lp2p_perf_done_cb cb;
    void *ud;
    uint64_t t_open, t_upload_done; /* microseconds */
} perf_run;

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000u;
}

/* Reports once and lets the stream go (reset when the run failed). */
static void done(perf_run *r, int err, const char *reason)
{
    lp2p_perf_result res = {0};
    if (!err) {
        uint64_t t_end = now_us();
        res.uploaded = r->core.uploaded;
        res.downloaded = r->core.downloaded;
        res.upload_s = (double)(r->t_upload_done - r->t_open) / 1e6;
        res.download_s = (double)(t_end - r->t_upload_done) / 1e6;
    }
    if (r->s)
        lp2p_stream_detach(r->s, err != 0);
    r->s = NULL;
    r->cb(err, reason, err ? NULL : &res, r->ud);
    free(r);
}

static void pump(perf_run *r)
{
    lp2p_view chunk;
    for (;;) {
        switch (lp2p_perf_client_next(&r->core, &chunk)) {
        case LP2P_PERF_WRITE:
            if (lp2p_stream_pending(r->s) >= LP2P_STREAM_HIGH_WATER)
                return; /* on_writable resumes */
            lp2p_stream_write(r->s, chunk.ptr, chunk.len);
            lp2p_perf_client_sent(&r->core, chunk.len, now_us());
            break;
        case LP2P_PERF_CLOSE_WRITE:
            lp2p_stream_close(r->s);
            r->t_upload_done = now_us();
            lp2p_perf_client_write_closed(&r->core, r->t_upload_done);
            break;
        default:
            return;
        }
    }
}

static void on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    perf_run *r = ud;
    if (lp2p_perf_client_recv(&r->core, p, n, now_us()) < 0)
        done(r, LP2P_ERR_DECODE, "server sent more than asked");
}

static void on_eof(lp2p_stream *s, void *ud)
{
    perf_run *r = ud;
    if (lp2p_perf_client_eof(&r->core, now_us()) < 0)
        done(r, LP2P_ERR_DECODE, "server sent fewer bytes than asked");
    else
        done(r, 0, NULL);
}

static void on_writable(lp2p_stream *s, void *ud)
{
    pump(ud);
}

static void on_close(lp2p_stream *s, int err, void *ud)
{
    perf_run *r = ud;
    r->s = NULL;
    done(r, err ? err : LP2P_ERR_STATE, err ? lp2p_strerror(err) : "closed");
}

static const lp2p_stream_callbacks k_cb = {
    .on_data = on_data, .on_eof = on_eof, .on_writable = on_writable, .on_close = on_close};

int lp2p_perf_start(lp2p_conn *c, uint64_t upload_bytes, uint64_t download_bytes,
                    lp2p_perf_done_cb cb, void *ud)
{
    perf_run *r = calloc(1, sizeof(*r));
    if (!r)
        return LP2P_ERR_NOMEM;
    r->cb = cb;
    r->ud = ud;
    r->t_open = now_us();
    lp2p_perf_client_init(&r->core, upload_bytes, download_bytes, 0, r->t_open);
    r->core.trace = LP2P_TRACE_LOG;
    int rc = lp2p_conn_open_stream(c, LP2P_PERF_PROTO, &k_cb, r, &r->s);
    if (rc < 0) {
        free(r);
        return rc;
    }
    pump(r);
    return 0;
}
