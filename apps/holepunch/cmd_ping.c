/* holepunch ping MULTIADDR: dial, identify, then /ipfs/ping/1.0.0 round trips. */
#include "probe.h"
#include "cmds.h"

#include "crypto/random.h"
#include "lp2p/err.h"
#include "lp2p/holepunch.h"
#include "proto/ping.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_help =
    "usage: holepunch ping MULTIADDR [--count N] [--interval MS] [options]\n\n"
    "Dials MULTIADDR (ending in /p2p/<peer-id> to check who answers), waits for identify,\n"
    "prints the peer's agent, then sends N pings (32 random bytes echoed) and prints RTTs.\n\n"
    "Options:\n"
    "  --count N             pings to send (default 3)\n"
    "  --interval MS         pause between pings (default 1000)\n"
    "  --timeout MS          give up after this long overall (default 30000)\n\n";

typedef struct ping_app {
    probe *cl;
    lp2p_stream *s;
    lp2p_ping core;
    int count, done;
    uint64_t interval_ms;
    uv_timer_t timer;
    int timer_live;
    int identified, started;
    lp2p_conn *conn;
    int sub;           /* our subscription to the host's hole-punch event, or -1 */
    lp2p_peer_id peer; /* whose idle stream was reset (the next ping finds its connection) */
} ping_app;

static void send_one(ping_app *a)
{
    /* The core counts in the unit it is given: we pass microseconds for sub-ms RTTs. */
    if (lp2p_ping_send(&a->core, NULL, probe_now_us()) < 0) {
        probe_finish(a->cl, 1);
        return;
    }
    lp2p_stream_write(a->s, lp2p_buf_head(&a->core.out), lp2p_buf_size(&a->core.out));
    lp2p_buf_clear(&a->core.out);
}

static const lp2p_stream_callbacks k_cb;
static int reopen(ping_app *a);

static void on_timer(uv_timer_t *t)
{
    ping_app *a = t->data;
    /* The peer reset our idle stream meanwhile (p_on_close): the next ping opens a new one. */
    if (!a->s) {
        /* a->conn may be gone by now: ask the host for the peer's connection */
        a->conn = lp2p_host_find_conn(a->cl->host, &a->peer);
        if (!a->conn || lp2p_conn_open_stream(a->conn, LP2P_PING_PROTO, &k_cb, a, &a->s) < 0) {
            lp2p_log(LP2P_ERROR, "ping_failed", LF_S("reason", "connection to the peer closed"));
            probe_finish(a->cl, 1);
            return;
        }
    }
    send_one(a);
}

static void p_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    ping_app *a = ud;
    int rc = lp2p_ping_recv(&a->core, p, n, probe_now_us());
    if (rc < 0) {
        lp2p_log(LP2P_ERROR, "ping_failed", LF_S("peer", lp2p_conn_peer_str(a->conn)),
                 LF_S("reason", "echo did not match"));
        probe_finish(a->cl, 1);
        return;
    }
    if (rc == 0)
        return;
    a->done++;
    lp2p_log(LP2P_INFO, "ping", LF_S("peer", lp2p_conn_peer_str(a->conn)),
             LF_F("rtt_ms", (double)a->core.last_rtt_ms / 1000.0), LF_I("seq", a->done));
    if (a->done >= a->count) {
        lp2p_stream_close(s);
        probe_finish(a->cl, 0);
        return;
    }
    uv_timer_start(&a->timer, on_timer, a->interval_ms, 0);
}

static void start(ping_app *a);

/* The hole punch gave us a direct connection while the pings run over the relay: go on over
 * it at once (the relayed connection closes after its grace period). A ping in flight is
 * sent again there. */
static void on_holepunch(const lp2p_holepunch_event *ev, void *ud)
{
    ping_app *a = ud;
    if (ev->outcome != LP2P_HOLEPUNCH_DIRECT || !a->conn || a->cl->finished ||
        !lp2p_conn_is_relayed(a->conn) || !lp2p_peer_id_equal(ev->peer, lp2p_conn_peer(a->conn)))
        return;
    lp2p_log(LP2P_INFO, "ping_moved", LF_S("peer", lp2p_conn_peer_str(ev->direct)),
             LF_S("to", lp2p_conn_remote_addr(ev->direct)));
    if (!a->s) {
        /* Not started yet (identify pending): start there instead. */
        a->conn = ev->direct;
        if (!a->started && lp2p_conn_identified(a->conn))
            start(a);
        return;
    }
    int in_flight = a->core.waiting;
    lp2p_stream_detach(a->s, 0);
    a->s = NULL;
    a->conn = ev->direct;
    if (reopen(a) == 0 && in_flight)
        send_one(a);
}

/* A fresh ping stream (and ping state) on a->conn. */
static int reopen(ping_app *a)
{
    lp2p_ping_free(&a->core);
    lp2p_ping_init(&a->core, LP2P_PING_DIALER, 10000u * 1000u);
    a->core.rng = LP2P_RNG_OPENSSL;
    a->core.trace = LP2P_TRACE_LOG;
    if (lp2p_conn_open_stream(a->conn, LP2P_PING_PROTO, &k_cb, a, &a->s) < 0) {
        probe_finish(a->cl, 1);
        return -1;
    }
    return 0;
}

/* The peer ended its side of the ping stream: go-libp2p closes a ping stream idle for 10 s
 * (p2p/protocol/ping/ping.go pingTimeout), so with --interval above that every later ping
 * needs a new stream. A ping in flight is sent again on it; otherwise the timer opens it. */
static void p_on_eof(lp2p_stream *s, void *ud)
{
    ping_app *a = ud;
    (void)s;
    if (a->done >= a->count || a->cl->finished)
        return;
    int in_flight = a->core.waiting;
    lp2p_log(LP2P_INFO, "ping_stream_ended", LF_S("peer", lp2p_conn_peer_str(a->conn)),
             LF_B("in_flight", in_flight));
    a->peer = *lp2p_conn_peer(a->conn); /* on_timer opens the next stream (as after a reset) */
    lp2p_stream_detach(a->s, 0);
    a->s = NULL;
    if (in_flight && reopen(a) == 0)
        send_one(a);
}

static void p_on_close(lp2p_stream *s, int err, void *ud)
{
    ping_app *a = ud;
    a->s = NULL;
    if (a->done >= a->count || a->cl->finished)
        return;
    /* go-libp2p and js-libp2p reset a ping stream idle for 10 s: with no ping in flight that
     * is no failure; the next ping opens a new stream (on_timer), at most one per ping. */
    if (err == LP2P_ERR_RESET && a->done > 0 && !a->core.waiting && a->timer_live &&
        uv_is_active((uv_handle_t *)&a->timer)) {
        a->peer = *lp2p_conn_peer(a->conn);
        lp2p_log(LP2P_INFO, "ping_stream_replaced", LF_S("peer", lp2p_conn_peer_str(a->conn)),
                 LF_S("reason", err ? lp2p_strerror(err) : "stream closed"));
        return;
    }
    if (a->done < a->count) {
        lp2p_log(LP2P_ERROR, "ping_failed", LF_S("peer", lp2p_conn_peer_str(a->conn)),
                 LF_S("reason", err ? lp2p_strerror(err) : "stream closed early"));
        probe_finish(a->cl, 1);
    }
}

static const lp2p_stream_callbacks k_cb = {
    .on_data = p_on_data, .on_eof = p_on_eof, .on_close = p_on_close};

static void start(ping_app *a)
{
    if (a->started)
        return;
    a->started = 1;
    if (lp2p_conn_open_stream(a->conn, LP2P_PING_PROTO, &k_cb, a, &a->s) < 0) {
        probe_finish(a->cl, 1);
        return;
    }
    send_one(a);
}

static void on_connected(probe *cl, lp2p_conn *c)
{
    ping_app *a = cl->ud;
    a->cl = cl;
    a->conn = c;
    uv_timer_init(&cl->loop, &a->timer);
    a->timer.data = a;
    a->timer_live = 1;
    const lp2p_host_callbacks hp = {.on_holepunch = on_holepunch};
    a->sub = lp2p_host_subscribe(cl->host, &hp, a);
    if (lp2p_conn_identified(c))
        start(a); /* e.g. the relayed connection, after waiting for a punch in vain */
}

static void on_identify(probe *cl, lp2p_conn *c, const lp2p_identify_result *r)
{
    ping_app *a = cl->ud;
    /* Only the peer we dialed: through a relay, the relay identifies first. */
    if (c != a->conn)
        return;
    start(a);
}

static void on_finish(probe *cl)
{
    ping_app *a = cl->ud;
    if (a->sub >= 0 && cl->host)
        lp2p_host_unsubscribe(cl->host, a->sub);
    a->sub = -1;
    if (a->timer_live) {
        a->timer_live = 0;
        uv_close((uv_handle_t *)&a->timer, NULL);
    }
}

static const probe_ops k_ops = {
    .on_connected = on_connected, .on_identify = on_identify, .on_finish = on_finish};

int cmd_ping(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    const char *target;
    long long count = 3, interval = 1000, timeout = 30000;
    const cli_num_opt opts[] = {
        {"--count", &count}, {"--interval", &interval}, {"--timeout", &timeout}};
    int pr = cli_parse_target(&c, argc, argv, "ping", k_help, opts, sizeof(opts) / sizeof(opts[0]),
                              &target);
    if (pr != 0) {
        cli_common_free(&c);
        return pr > 0 ? 0 : 2;
    }
    ping_app app;
    memset(&app, 0, sizeof(app));
    app.count = count > 0 ? (int)count : 1;
    app.sub = -1;
    app.interval_ms = (uint64_t)interval;
    lp2p_ping_init(&app.core, LP2P_PING_DIALER, 10000u * 1000u);
    app.core.rng = LP2P_RNG_OPENSSL;
    app.core.trace = LP2P_TRACE_LOG;
    int rc = probe_run(&c, target, (uint64_t)timeout, &k_ops, &app);
    lp2p_ping_free(&app.core);
    cli_common_free(&c);
    return rc;
}
