/* holepunch ping MULTIADDR: dial, identify, then /ipfs/ping/1.0.0 round trips. */
#include "probe.h"
#include "cmds.h"

#include "lp2p/err.h"
#include "lp2p/holepunch.h"
#include "lp2p/ping.h"
#include "lp2p/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_help =
    "usage: holepunch ping MULTIADDR [--count N] [--interval DUR] [options]\n\n"
    "Dials MULTIADDR (ending in /p2p/<peer-id> to check who answers), waits for identify,\n"
    "prints the peer's agent, then sends N pings (32 random bytes echoed) and prints RTTs.\n\n"
    "Options:\n"
    "  --count N             pings to send (default 3)\n"
    "  --interval DUR        pause between pings (default 1s)\n"
    "  --timeout DUR         give up after this long overall (default 30s)\n"
    "                        (a bare number is milliseconds for both)\n\n";

static const char *const k_examples =
    "  holepunch ping /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...\n"
    "  holepunch ping --count=10 --interval=200ms /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW...\n"
    "  holepunch ping --listen /ip4/0.0.0.0/tcp/0 --wait-direct=10s \\\n"
    "      /ip4/192.0.2.1/tcp/4001/p2p/12D3KooWRelay.../p2p-circuit/p2p/12D3KooWPeer...\n";

typedef struct ping_app {
    probe *cl;
    lp2p_pinger *pg;
    int count, done;
    uint64_t interval_ms;
    uv_timer_t timer;
    int timer_live;
    int identified, started;
    lp2p_conn *conn;
    int sub; /* our subscription to the host's hole-punch event, or -1 */
} ping_app;

static void send_one(ping_app *a)
{
    int rc = lp2p_pinger_send(a->pg);
    if (rc < 0) {
        /* no peer field: on LP2P_ERR_CLOSED a->conn may be gone */
        lp2p_log(LP2P_ERROR, "ping_failed",
                 LF_S("reason",
                      rc == LP2P_ERR_CLOSED ? "connection to the peer closed" : lp2p_strerror(rc)));
        probe_finish(a->cl, 1);
    }
}

static void on_timer(uv_timer_t *t)
{
    ping_app *a = t->data;
    if (a->pg)
        send_one(a);
}

static void on_rtt(lp2p_pinger *pg, double rtt_ms, void *ud)
{
    ping_app *a = ud;
    a->done++;
    lp2p_log(LP2P_INFO, "ping", LF_S("peer", lp2p_conn_peer_str(a->conn)), LF_F("rtt_ms", rtt_ms),
             LF_I("seq", a->done), LF_B("relayed", lp2p_conn_is_relayed(a->conn)));
    if (a->done >= a->count) {
        lp2p_pinger_close(a->pg);
        a->pg = NULL;
        probe_finish(a->cl, 0);
        return;
    }
    uv_timer_start(&a->timer, on_timer, a->interval_ms, 0);
}

static void on_fail(lp2p_pinger *pg, const char *reason, void *ud)
{
    ping_app *a = ud;
    a->pg = NULL;
    if (a->cl->finished)
        return;
    lp2p_log(LP2P_ERROR, "ping_failed", LF_S("peer", lp2p_conn_peer_str(a->conn)),
             LF_S("reason", reason));
    probe_finish(a->cl, 1);
}

static const lp2p_pinger_callbacks k_cb = {.on_rtt = on_rtt, .on_fail = on_fail};
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
    if (!a->pg) {
        /* Not started yet (identify pending): start there instead. */
        a->conn = ev->direct;
        if (!a->started && lp2p_conn_identified(a->conn))
            start(a);
        return;
    }
    int in_flight = lp2p_pinger_waiting(a->pg);
    lp2p_pinger_close(a->pg);
    a->pg = NULL;
    a->conn = ev->direct;
    if (lp2p_pinger_open(a->conn, &k_cb, a, &a->pg) < 0) {
        probe_finish(a->cl, 1);
        return;
    }
    if (in_flight)
        send_one(a);
}

static void start(ping_app *a)
{
    if (a->started)
        return;
    a->started = 1;
    if (lp2p_pinger_open(a->conn, &k_cb, a, &a->pg) < 0) {
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

static const probe_ops k_ops = {.name = "ping",
                                .on_connected = on_connected,
                                .on_identify = on_identify,
                                .on_finish = on_finish};

int cmd_ping(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    const char *target;
    long long count = 3;
    uint64_t interval = 1000, timeout = 30000;
    const cli_flag flags[] = {
        {"--count", CLI_COUNT, &count, NULL, 0, NULL, "a number of pings"},
        {"--interval", CLI_DUR_MSEC, &interval, NULL, 0, NULL, NULL},
        {"--timeout", CLI_DUR_MSEC, &timeout, NULL, 0, NULL, NULL},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    c.examples = k_examples;
    int pr = cli_parse_target(&c, argc, argv, "ping", k_help, flags, &target);
    if (pr != 0) {
        cli_common_free(&c);
        return pr > 0 ? 0 : 2;
    }
    ping_app app;
    memset(&app, 0, sizeof(app));
    app.count = count > 0 ? (int)count : 1;
    app.sub = -1;
    app.interval_ms = interval;
    int rc = probe_run(&c, target, timeout, &k_ops, &app);
    /* app.pg is gone: the host closed its stream (on_fail) before probe_run returned. */
    cli_common_free(&c);
    return rc;
}
