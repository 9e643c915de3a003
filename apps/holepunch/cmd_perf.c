/* holepunch perf MULTIADDR: /perf/1.0.0 upload then download, throughput in Mbit/s. */
#include "probe.h"
#include "cmds.h"

#include "lp2p/err.h"
#include "lp2p/log.h"
#include "lp2p/perf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_help =
    "usage: holepunch perf MULTIADDR [--upload BYTES] [--download BYTES] [options]\n\n"
    "Runs /perf/1.0.0 against MULTIADDR: uploads BYTES, then asks for BYTES back, and prints\n"
    "a `perf` event with bytes, seconds and Mbit/s for each direction. Sizes take K/M/G.\n\n"
    "Options:\n"
    "  --upload SIZE         bytes to send (default 64M)\n"
    "  --download SIZE       bytes to receive (default 64M)\n"
    "  --timeout DUR         give up after this long overall (default 2m; a bare number is\n"
    "                        milliseconds)\n\n";

static const char *const k_examples =
    "  holepunch perf /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...\n"
    "  holepunch perf --upload=16M --download=0 --listen /ip4/0.0.0.0/tcp/0 --wait-direct=10s \\\n"
    "      /ip4/192.0.2.1/tcp/4001/p2p/12D3KooWRelay.../p2p-circuit/p2p/12D3KooWPeer...\n";

typedef struct perf_app {
    probe *cl;
    lp2p_conn *conn;
    uint64_t up, down;
} perf_app;

static void on_done(int err, const char *reason, const lp2p_perf_result *r, void *ud)
{
    perf_app *a = ud;
    if (a->cl->finished)
        return; /* the run ended with the host (timeout) */
    if (err) {
        lp2p_log(LP2P_ERROR, "perf_failed", LF_S("reason", reason));
        probe_finish(a->cl, 1);
        return;
    }
    double up_mbps = r->upload_s > 0 ? (double)r->uploaded * 8 / r->upload_s / 1e6 : 0;
    double down_mbps = r->download_s > 0 ? (double)r->downloaded * 8 / r->download_s / 1e6 : 0;
    lp2p_log(LP2P_INFO, "perf", LF_S("peer", lp2p_conn_peer_str(a->conn)),
             LF_U("upload_bytes", r->uploaded), LF_U("download_bytes", r->downloaded),
             LF_F("upload_s", r->upload_s), LF_F("download_s", r->download_s),
             LF_F("upload_mbps", up_mbps), LF_F("download_mbps", down_mbps));
    probe_finish(a->cl, 0);
}

static void on_connected(probe *cl, lp2p_conn *c)
{
    perf_app *a = cl->ud;
    a->cl = cl;
    a->conn = c;
    if (lp2p_perf_start(c, a->up, a->down, on_done, a) < 0)
        probe_finish(cl, 1);
}

static const probe_ops k_ops = {.name = "perf", .on_connected = on_connected};

int cmd_perf(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    const char *target;
    uint64_t up = 64ULL << 20, down = 64ULL << 20, timeout = 120000;
    const cli_flag flags[] = {
        {"--upload", CLI_SIZE, &up, NULL, 0, NULL, NULL},
        {"--download", CLI_SIZE, &down, NULL, 0, NULL, NULL},
        {"--timeout", CLI_DUR_MSEC, &timeout, NULL, 0, NULL, NULL},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    c.examples = k_examples;
    int pr = cli_parse_target(&c, argc, argv, "perf", k_help, flags, &target);
    if (pr != 0) {
        cli_common_free(&c);
        return pr > 0 ? 0 : 2;
    }
    perf_app app;
    memset(&app, 0, sizeof(app));
    app.up = up;
    app.down = down;
    int rc = probe_run(&c, target, timeout, &k_ops, &app);
    cli_common_free(&c);
    return rc;
}
