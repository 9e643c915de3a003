/* The probe (probe.h): dial one target, wait for a hole-punched connection if asked, hand
 * the connection to the command. */
#include "probe.h"

#include "lp2p/err.h"
#include "lp2p/holepunch.h"
#include "lp2p/log.h"

#include <stdio.h>
#include <string.h>

uint64_t probe_now_us(void)
{
    return uv_hrtime() / 1000u;
}

void probe_finish(probe *cl, int exit_code)
{
    if (cl->finished)
        return;
    cl->finished = 1;
    cl->exit_code = exit_code;
    if (cl->ops->on_finish)
        cl->ops->on_finish(cl);
    uv_timer_stop(&cl->deadline);
    uv_close((uv_handle_t *)&cl->deadline, NULL);
    uv_close((uv_handle_t *)&cl->direct_wait, NULL);
    if (cl->host)
        lp2p_host_close(cl->host);
    cl->host = NULL;
    cli_signals_close();
}

static void start(probe *cl, lp2p_conn *c)
{
    if (cl->started || cl->finished)
        return;
    cl->started = 1;
    uv_timer_stop(&cl->direct_wait);
    cl->ops->on_connected(cl, c);
}

static void on_direct_timeout(uv_timer_t *t)
{
    probe *cl = t->data;
    lp2p_log(LP2P_WARN, "no_direct_connection",
             LF_S("reason", "no hole-punched connection in time; continuing over the relay"),
             LF_I("waited_ms", cl->wait_direct_ms));
    if (cl->relayed)
        start(cl, cl->relayed);
}

static void on_dial(lp2p_conn *c, int err, void *ud)
{
    probe *cl = ud;
    if (err < 0) {
        fprintf(stderr, "holepunch: could not connect: %s\n", lp2p_strerror(err));
        probe_finish(cl, 1);
        return;
    }
    if (lp2p_conn_is_relayed(c) && cl->wait_direct_ms > 0) {
        lp2p_conn *direct = lp2p_host_find_conn(cl->host, lp2p_conn_peer(c));
        if (direct && !lp2p_conn_is_relayed(direct)) {
            start(cl, direct);
            return;
        }
        cl->relayed = c;
        uv_timer_start(&cl->direct_wait, on_direct_timeout, (uint64_t)cl->wait_direct_ms, 0);
        return;
    }
    start(cl, c);
}

/* A hole punch to the peer we wait for ended with a direct connection (the one the host
 * kept after duplicate resolution). */
static void on_holepunch(const lp2p_holepunch_event *ev, void *ud)
{
    probe *cl = ud;
    if (cl->relayed && ev->outcome == LP2P_HOLEPUNCH_DIRECT && ev->direct &&
        lp2p_peer_id_equal(ev->peer, lp2p_conn_peer(cl->relayed)))
        start(cl, ev->direct);
}

static void on_disconnected_any(lp2p_conn *c, int reason, void *ud)
{
    probe *cl = ud;
    if (c == cl->relayed)
        cl->relayed = NULL;
}

static void on_identify(lp2p_conn *c, const lp2p_identify_result *r, void *ud)
{
    probe *cl = ud;
    if (cl->ops->on_identify && !cl->finished)
        cl->ops->on_identify(cl, c, r);
}

static void on_deadline(uv_timer_t *t)
{
    probe *cl = t->data;
    lp2p_log(LP2P_ERROR, "timeout", LF_S("reason", "command did not finish in time"));
    probe_finish(cl, 1);
}

static void on_stop(void *ud)
{
    probe_finish(ud, 130);
}

int probe_run(cli_common *c, const char *target, uint64_t timeout_ms, const probe_ops *ops,
              void *ud)
{
    probe cl = {.ops = ops, .ud = ud};
    if (strstr(target, "/p2p-circuit")) /* through a relay: the punch needs --listen */
        cli_warn_no_listen(c);
    if (!(cl.kp = cli_tool_key(c)))
        return 1;
    uv_loop_init(&cl.loop);
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &cl.loop, cl.kp);
    hc.cb.on_identify = on_identify;
    hc.cb.on_holepunch = on_holepunch;
    hc.cb.on_disconnected = on_disconnected_any;
    cl.wait_direct_ms = c->wait_direct_ms;
    hc.ud = &cl;
    if (cli_host_new(c, &hc, ops->name, &cl.host) != 0) {
        uv_loop_close(&cl.loop);
        lp2p_keypair_del(cl.kp);
        return 1;
    }
    cli_listen_all(cl.host, c);
    uv_timer_init(&cl.loop, &cl.direct_wait);
    cl.direct_wait.data = &cl;
    uv_timer_init(&cl.loop, &cl.deadline);
    cl.deadline.data = &cl;
    uv_timer_start(&cl.deadline, on_deadline, timeout_ms, 0);
    cli_on_signal(&cl.loop, on_stop, &cl);
    if (lp2p_host_dial(cl.host, target, on_dial, &cl) < 0)
        probe_finish(&cl, 1);
    uv_run(&cl.loop, UV_RUN_DEFAULT);
    cli_host_shutdown(&cl.loop, cl.host);
    uv_loop_close(&cl.loop);
    lp2p_keypair_del(cl.kp);
    return cl.exit_code;
}
