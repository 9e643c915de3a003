/* holepunch echo MULTIADDR: checks a peer's /echo/1.0.0 with many concurrent streams and
 * one large transfer, every byte compared. Used by the interop tests in both directions. */
#include "probe.h"
#include "cmds.h"

#include "lp2p/random.h"
#include "lp2p/err.h"
#include "lp2p/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_help =
    "usage: holepunch echo MULTIADDR [--streams N] [--bytes BYTES] [options]\n\n"
    "Opens N concurrent /echo/1.0.0 streams, each sending its own 4 KiB of random data,\n"
    "plus one stream carrying BYTES of random data; every echoed byte is compared.\n"
    "Prints `echo_result {ok, streams, bytes, seconds, mbps, relayed}`; exit 0 only if all "
    "matched.\n\n"
    "Options:\n"
    "  --streams N           concurrent small streams (default 64)\n"
    "  --bytes BYTES         size of the large transfer (default 16M; K/M/G suffixes)\n"
    "  --timeout DUR         give up after this long overall (default 60s; a bare number is\n"
    "                        milliseconds)\n\n";

static const char *const k_examples = "  holepunch echo /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...\n"
                                      "  holepunch echo --streams=8 --bytes=1M --timeout=30s "
                                      "/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...\n";

#define SMALL 4096

typedef struct echo_app echo_app;
typedef struct echo_stream {
    echo_app *app;
    uint8_t *data; /* what we sent */
    size_t len, sent, got;
    int ok, done;
} echo_stream;

struct echo_app {
    probe *cl;
    lp2p_conn *conn;
    long nstreams;
    long long big;
    echo_stream *es;
    int remaining, failures;
    uint64_t t0;
};

static void finish_one(echo_stream *e, int ok)
{
    if (e->done)
        return;
    e->done = 1;
    e->ok = ok;
    echo_app *a = e->app;
    if (!ok)
        a->failures++;
    if (--a->remaining == 0) {
        double secs = (double)(probe_now_us() - a->t0) / 1e6;
        double mbps = secs > 0 ? (double)a->big * 2 * 8 / secs / 1e6 : 0;
        lp2p_log(LP2P_INFO, "echo_result", LF_B("ok", a->failures == 0),
                 LF_I("streams", a->nstreams), LF_I("bytes", a->big), LF_I("failures", a->failures),
                 LF_F("seconds", secs), LF_F("mbps", mbps),
                 LF_B("relayed", lp2p_conn_is_relayed(a->conn)));
        probe_finish(a->cl, a->failures == 0 ? 0 : 1);
    }
}

static void pump(lp2p_stream *s, echo_stream *e)
{
    while (e->sent < e->len && lp2p_stream_pending(s) < (1u << 20)) {
        size_t n = e->len - e->sent;
        if (n > 65536)
            n = 65536;
        lp2p_stream_write(s, e->data + e->sent, n);
        e->sent += n;
    }
    if (e->sent == e->len)
        lp2p_stream_close(s);
}

static void on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    echo_stream *e = ud;
    if (e->got + n > e->len || memcmp(e->data + e->got, p, n) != 0) {
        lp2p_log(LP2P_ERROR, "echo_mismatch", LF_U("offset", e->got), LF_U("len", n));
        finish_one(e, 0);
        lp2p_stream_reset(s);
        return;
    }
    e->got += n;
}

static void on_eof(lp2p_stream *s, void *ud)
{
    echo_stream *e = ud;
    finish_one(e, e->got == e->len);
}

static void on_writable(lp2p_stream *s, void *ud)
{
    pump(s, ud);
}

static void on_close(lp2p_stream *s, int err, void *ud)
{
    echo_stream *e = ud;
    if (!e->done) {
        lp2p_log(LP2P_ERROR, "echo_stream_failed",
                 LF_S("reason", err ? lp2p_strerror(err) : "closed"));
        finish_one(e, 0);
    }
}

static const lp2p_stream_callbacks k_cb = {
    .on_data = on_data, .on_eof = on_eof, .on_writable = on_writable, .on_close = on_close};

static void on_connected(probe *cl, lp2p_conn *c)
{
    echo_app *a = cl->ud;
    a->cl = cl;
    a->conn = c;
    a->t0 = probe_now_us();
    long total = a->nstreams + (a->big > 0 ? 1 : 0);
    a->es = calloc((size_t)total, sizeof(echo_stream));
    a->remaining = (int)total;
    for (long i = 0; i < total; i++) {
        echo_stream *e = &a->es[i];
        e->app = a;
        e->len = i < a->nstreams ? SMALL : (size_t)a->big;
        e->data = malloc(e->len ? e->len : 1);
        if (!e->data || lp2p_random_bytes(e->data, e->len) < 0) {
            probe_finish(cl, 1);
            return;
        }
        lp2p_stream *s;
        if (lp2p_conn_open_stream(c, LP2P_ECHO_PROTO, &k_cb, e, &s) < 0) {
            finish_one(e, 0);
            continue;
        }
        pump(s, e);
    }
}

static const probe_ops k_ops = {.name = "echo", .on_connected = on_connected};

int cmd_echo(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    const char *target;
    long long streams = 64, bytes = 16LL << 20;
    uint64_t timeout = 60000;
    const cli_flag flags[] = {
        {"--streams", CLI_COUNT, &streams, NULL, 0, NULL, "a number of streams"},
        {"--bytes", CLI_COUNT, &bytes, NULL, 0, NULL, NULL},
        {"--timeout", CLI_DUR_MSEC, &timeout, NULL, 0, NULL, NULL},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    c.examples = k_examples;
    int pr = cli_parse_target(&c, argc, argv, "echo", k_help, flags, &target);
    if (pr != 0) {
        cli_common_free(&c);
        return pr > 0 ? 0 : 2;
    }
    echo_app app;
    memset(&app, 0, sizeof(app));
    app.nstreams = (long)streams;
    app.big = bytes;
    int rc = probe_run(&c, target, timeout, &k_ops, &app);
    if (app.es) {
        for (long i = 0; i < app.nstreams + (app.big > 0 ? 1 : 0); i++)
            free(app.es[i].data);
        free(app.es);
    }
    cli_common_free(&c);
    return rc;
}
