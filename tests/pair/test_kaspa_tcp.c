/* Kaspa over real TCP sockets on 127.0.0.1, server and clients in one libuv loop:
 * handshake, pings both ways, and the DUPLICATE/LOOPBACK/network Reject reasons. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "crypto/random.h"
#include "kaspa/peer.h"
#include "lp2p/err.h"
#include "util/log.h"

typedef struct side {
    int handshake, ready, pings, closed, conn_closed, conn_err;
    char reject_recv[300], reject_sent[300], network[64];
    kaspa_peer *conn;
} side;

static void on_ev(void *u, kaspa_peer *c, const kaspa_event *ev)
{
    side *s = u;
    s->conn = c;
    switch (ev->type) {
    case KASPA_EV_HANDSHAKE:
        s->handshake++;
        snprintf(s->network, sizeof s->network, "%s", ev->u.handshake.network);
        break;
    case KASPA_EV_READY:
        s->ready++;
        break;
    case KASPA_EV_PING:
        s->pings++;
        break;
    case KASPA_EV_REJECT:
        snprintf(ev->u.reject.sent ? s->reject_sent : s->reject_recv, 300, "%s",
                 ev->u.reject.reason);
        break;
    case KASPA_EV_CLOSED:
        s->closed++;
        break;
    default:
        break;
    }
}

static void on_closed(void *u, kaspa_peer *c, int err)
{
    side *s = u;
    s->conn_closed++;
    s->conn_err = err;
    if (s->conn == c)
        s->conn = NULL;
}

static const kaspa_peer_callbacks CB = {.on_event = on_ev, .on_closed = on_closed};

static void tick_cb(uv_timer_t *t)
{
}

/* Runs the loop until *v >= want or 10 s pass. */
static int run_until(uv_loop_t *loop, const int *v, int want)
{
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, tick_cb, 20, 20);
    uint64_t end = uv_now(loop) + 10000;
    while (*v < want && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&guard);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *v >= want;
}

static void client_cfg(kaspa_session_config *c, kaspa_hub *h)
{
    kaspa_session_config_default(c, h, KASPA_H2_PROFILE_TCP);
    c->rng = LP2P_RNG_OPENSSL;
}

static void test_tcp_handshake_pings_and_rejects(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    kaspa_hub *hs, *ha, *hdup, *hw;
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    kaspa_hub_new(&ha, NULL, &LP2P_RNG_OPENSSL);
    kaspa_hub_new(&hw, NULL, &LP2P_RNG_OPENSSL);
    kaspa_hub_new(&hdup, kaspa_hub_node_id(ha), &LP2P_RNG_OPENSSL);
    side srv = {0}, a = {0}, d = {0}, l = {0}, w = {0};

    kaspa_session_config sc;
    kaspa_session_config_default(&sc, hs, KASPA_H2_PROFILE_TCP);
    sc.rng = LP2P_RNG_OPENSSL;
    kaspa_peer_listener *server;
    assert_int_equal(kaspa_peer_listen_tcp(&loop, "127.0.0.1:0", &sc, &CB, &srv, &server), 0);
    int port = kaspa_peer_listener_port(server);
    assert_true(port > 0);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);

    /* handshake */
    kaspa_session_config cc;
    client_cfg(&cc, ha);
    assert_int_equal(kaspa_peer_dial_tcp(&loop, target, &cc, &CB, &a, NULL), 0);
    assert_true(run_until(&loop, &a.ready, 1));
    assert_true(run_until(&loop, &srv.ready, 1));
    assert_string_equal(a.network, "kaspa-mainnet");
    assert_int_equal(kaspa_hub_count(hs), 1);
    kaspa_peer *srv_a = srv.conn;
    assert_non_null(srv_a);

    /* pings both ways */
    assert_int_equal(kaspa_peer_ping(a.conn), 0);
    assert_true(run_until(&loop, &a.pings, 1));
    assert_int_equal(kaspa_session_ping(kaspa_peer_session(srv_a), uv_now(&loop)), 0);
    kaspa_peer_flush(srv_a);
    assert_true(run_until(&loop, &srv.pings, 1));

    /* duplicate: same node id, same IP */
    kaspa_session_config dc;
    client_cfg(&dc, hdup);
    assert_int_equal(kaspa_peer_dial_tcp(&loop, target, &dc, &CB, &d, NULL), 0);
    assert_true(run_until(&loop, &d.conn_closed, 1));
    assert_string_equal(d.reject_recv, KASPA_REJECT_DUPLICATE);
    assert_string_equal(srv.reject_sent, KASPA_REJECT_DUPLICATE);
    assert_int_equal(d.ready, 0);

    /* loopback: a client with the server's own node id */
    kaspa_session_config lc;
    client_cfg(&lc, hs);
    assert_int_equal(kaspa_peer_dial_tcp(&loop, target, &lc, &CB, &l, NULL), 0);
    assert_true(run_until(&loop, &l.conn_closed, 1));
    assert_string_equal(l.reject_sent, KASPA_REJECT_LOOPBACK);
    assert_string_equal(srv.reject_sent, KASPA_REJECT_LOOPBACK);
    assert_int_equal(l.ready, 0);

    /* wrong network */
    kaspa_session_config wc;
    client_cfg(&wc, hw);
    wc.network = "kaspa-testnet-10";
    assert_int_equal(kaspa_peer_dial_tcp(&loop, target, &wc, &CB, &w, NULL), 0);
    assert_true(run_until(&loop, &w.conn_closed, 1));
    /* both sides detect it at the same time; each sends its own Reject and closes */
    assert_string_equal(w.reject_sent,
                        "Network mismatch - local: kaspa-testnet-10, remote: kaspa-mainnet");
    assert_string_equal(srv.reject_sent,
                        "Network mismatch - local: kaspa-mainnet, remote: kaspa-testnet-10");

    /* the first connection survived all of that */
    assert_non_null(a.conn);
    assert_true(kaspa_session_is_ready(kaspa_peer_session(a.conn)));
    assert_int_equal(srv.conn_closed, 3);

    /* clean shutdown: client closes, server sees it, then the server goes away */
    kaspa_peer_close(a.conn, NULL);
    assert_true(run_until(&loop, &a.conn_closed, 1));
    assert_true(run_until(&loop, &srv.conn_closed, 4));
    assert_int_equal(kaspa_hub_count(hs), 0);
    kaspa_peer_listener_close(server);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0); /* no handle left behind */
    kaspa_hub_del(hs);
    kaspa_hub_del(ha);
    kaspa_hub_del(hw);
    kaspa_hub_del(hdup);
}

static void test_tcp_connect_refused_and_server_close_with_peers(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    kaspa_hub *hs, *hc;
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
    side srv = {0}, c = {0}, bad = {0};
    kaspa_session_config sc, cc;
    kaspa_session_config_default(&sc, hs, KASPA_H2_PROFILE_TCP);
    sc.rng = LP2P_RNG_OPENSSL;
    kaspa_session_config_default(&cc, hc, KASPA_H2_PROFILE_TCP);
    cc.rng = LP2P_RNG_OPENSSL;
    kaspa_peer_listener *server;
    assert_int_equal(kaspa_peer_listen_tcp(&loop, "127.0.0.1:0", &sc, &CB, &srv, &server), 0);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", kaspa_peer_listener_port(server));

    /* a port nobody listens on (the server's port + 1 is almost surely free; accept IO) */
    char closed_port[64];
    snprintf(closed_port, sizeof closed_port, "127.0.0.1:%d", kaspa_peer_listener_port(server) + 1);
    assert_int_equal(kaspa_peer_dial_tcp(&loop, closed_port, &cc, &CB, &bad, NULL), 0);
    assert_true(run_until(&loop, &bad.conn_closed, 1));
    assert_int_equal(bad.conn_err, LP2P_ERR_IO);
    assert_int_equal(kaspa_peer_dial_tcp(&loop, "not-an-address", &cc, &CB, &bad, NULL),
                     LP2P_ERR_INVAL);

    assert_int_equal(kaspa_peer_dial_tcp(&loop, target, &cc, &CB, &c, NULL), 0);
    assert_true(run_until(&loop, &c.ready, 1));
    /* closing the server ends its sessions cleanly; the client sees the stream end */
    kaspa_peer_listener_close(server);
    assert_true(run_until(&loop, &c.conn_closed, 1));
    assert_int_equal(c.closed, 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    kaspa_hub_del(hs);
    kaspa_hub_del(hc);
}

int main(void)
{
    lp2p_log_set_level(LP2P_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_handshake_pings_and_rejects),
        cmocka_unit_test(test_tcp_connect_refused_and_server_close_with_peers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
