/* holepunch perf MULTIADDR: /perf/1.0.0 upload then download, throughput in Mbit/s. */
#include "probe.h"
#include "cmds.h"

#include "lp2p/err.h"
#include "proto/perf.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_help =
    "usage: holepunch perf MULTIADDR [--upload BYTES] [--download BYTES] [options]\n\n"
    "Runs /perf/1.0.0 against MULTIADDR: uploads BYTES, then asks for BYTES back, and prints\n"
    "a `perf` event with bytes, seconds and Mbit/s for each direction. Sizes take K/M/G.\n\n"
    "Options:\n"
    "  --upload BYTES        bytes to send (default 64M)\n"
    "  --download BYTES      bytes to receive (default 64M)\n"
    "  --timeout MS          give up after this long overall (default 120000)\n\n";

typedef struct perf_app {
    probe *cl;
    lp2p_conn *conn;
    lp2p_stream *s;
    lp2p_perf_client core;
    uint64_t up, down;
    uint64_t t_open, t_upload_done, t_end; /* microseconds */
} perf_app;

static void pump(perf_app *a)
{
    lp2p_view chunk;
    for (;;) {
        switch (lp2p_perf_client_next(&a->core, &chunk)) {
        case LP2P_PERF_WRITE:
            if (lp2p_stream_pending(a->s) >= (1u << 20))
                return; /* on_writable resumes */
            lp2p_stream_write(a->s, chunk.ptr, chunk.len);
            lp2p_perf_client_sent(&a->core, chunk.len, probe_now_us());
            break;
        case LP2P_PERF_CLOSE_WRITE:
            lp2p_stream_close(a->s);
            lp2p_perf_client_write_closed(&a->core, probe_now_us());
            a->t_upload_done = probe_now_us();
            break;
        default:
            return;
        }
    }
}

static void report(perf_app *a)
{
    double up_s = (double)(a->t_upload_done - a->t_open) / 1e6;
    double down_s = (double)(a->t_end - a->t_upload_done) / 1e6;
    double up_mbps = up_s > 0 ? (double)a->core.uploaded * 8 / up_s / 1e6 : 0;
    double down_mbps = down_s > 0 ? (double)a->core.downloaded * 8 / down_s / 1e6 : 0;
    lp2p_log(LP2P_INFO, "perf", LF_S("peer", lp2p_conn_peer_str(a->conn)),
             LF_U("upload_bytes", a->core.uploaded), LF_U("download_bytes", a->core.downloaded),
             LF_F("upload_s", up_s), LF_F("download_s", down_s), LF_F("upload_mbps", up_mbps),
             LF_F("download_mbps", down_mbps));
}

static void on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    perf_app *a = ud;
    if (lp2p_perf_client_recv(&a->core, p, n, probe_now_us()) < 0) {
        lp2p_log(LP2P_ERROR, "perf_failed", LF_S("reason", "server sent more than asked"));
        probe_finish(a->cl, 1);
    }
}

static void on_eof(lp2p_stream *s, void *ud)
{
    perf_app *a = ud;
    a->t_end = probe_now_us();
    int rc = lp2p_perf_client_eof(&a->core, probe_now_us());
    if (rc < 0) {
        lp2p_log(LP2P_ERROR, "perf_failed", LF_S("reason", "server sent fewer bytes than asked"));
        probe_finish(a->cl, 1);
        return;
    }
    report(a);
    probe_finish(a->cl, 0);
}

static void on_writable(lp2p_stream *s, void *ud)
{
    pump(ud);
}

static void on_close(lp2p_stream *s, int err, void *ud)
{
    perf_app *a = ud;
    if (!a->cl->finished) {
        lp2p_log(LP2P_ERROR, "perf_failed", LF_S("reason", err ? lp2p_strerror(err) : "closed"));
        probe_finish(a->cl, 1);
    }
}

static const lp2p_stream_callbacks k_cb = {
    .on_data = on_data, .on_eof = on_eof, .on_writable = on_writable, .on_close = on_close};

static void on_connected(probe *cl, lp2p_conn *c)
{
    perf_app *a = cl->ud;
    a->cl = cl;
    a->conn = c;
    a->t_open = probe_now_us();
    lp2p_perf_client_init(&a->core, a->up, a->down, 0, a->t_open);
    a->core.trace = LP2P_TRACE_LOG;
    if (lp2p_conn_open_stream(c, LP2P_PERF_PROTO, &k_cb, a, &a->s) < 0) {
        probe_finish(cl, 1);
        return;
    }
    pump(a);
}

static const probe_ops k_ops = {.on_connected = on_connected};

int cmd_perf(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    const char *target;
    long long up = 64LL << 20, down = 64LL << 20, timeout = 120000;
    const cli_num_opt opts[] = {{"--upload", &up}, {"--download", &down}, {"--timeout", &timeout}};
    int pr = cli_parse_target(&c, argc, argv, "perf", k_help, opts, sizeof(opts) / sizeof(opts[0]),
                              &target);
    if (pr != 0) {
        cli_common_free(&c);
        return pr > 0 ? 0 : 2;
    }
    perf_app app;
    memset(&app, 0, sizeof(app));
    app.up = (uint64_t)up;
    app.down = (uint64_t)down;
    int rc = probe_run(&c, target, (uint64_t)timeout, &k_ops, &app);
    cli_common_free(&c);
    return rc;
}
