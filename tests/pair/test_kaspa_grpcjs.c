/* Interop with @grpc/grpc-js (tests/interop/grpc/kaspa_peer.mjs, rusty-kaspa's own proto
 * files) over TCP on 127.0.0.1, both directions, from one libuv loop that runs our
 * kaspa_peer TCP listener/dial and the node process. Skips when node or node_modules is missing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "crypto/random.h"
#include "kaspa/peer.h"
#include "kaspa/kaspa_p2p.pb-c.h" /* the fields of kaspa_msg */
#include "lp2p/err.h"
#include "util/log.h"

static char g_script[1024], g_modules[1024];

typedef struct side {
    int handshake, ready, pings, closed, conn_closed, js_pings_seen;
    char reject_sent[300], reject_recv[300], ua[300];
    kaspa_session_stats st;
    int close_after_js_pings; /* client: close after our ping and this many of theirs */
    kaspa_peer *conn;
} side;

typedef struct proc {
    uv_process_t p;
    uv_pipe_t out;
    char buf[65536];
    size_t len;
    int exited;
    int64_t status;
    int port; /* from {"event":"listening","port":N} */
} proc;

static void on_ev(void *u, kaspa_peer *c, const kaspa_event *ev)
{
    side *s = u;
    s->conn = c;
    switch (ev->type) {
    case KASPA_EV_HANDSHAKE:
        s->handshake++;
        snprintf(s->ua, sizeof s->ua, "%s", ev->u.handshake.user_agent);
        break;
    case KASPA_EV_READY:
        s->ready++;
        if (s->close_after_js_pings)
            kaspa_session_ping(kaspa_peer_session(c), uv_now(uv_default_loop()));
        break;
    case KASPA_EV_PING:
        s->pings++;
        break;
    case KASPA_EV_MESSAGE:
        if (ev->u.message.kind == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING)
            s->js_pings_seen++;
        break;
    case KASPA_EV_REJECT:
        snprintf(ev->u.reject.sent ? s->reject_sent : s->reject_recv, 300, "%s",
                 ev->u.reject.reason);
        break;
    case KASPA_EV_CLOSED:
        s->closed++;
        kaspa_session_get_stats(kaspa_peer_session(c), &s->st);
        break;
    default:
        break;
    }
    if (s->close_after_js_pings && s->pings >= 1 && s->js_pings_seen >= s->close_after_js_pings &&
        !s->closed) {
        kaspa_session_get_stats(kaspa_peer_session(c), &s->st);
        kaspa_peer_close(c, NULL);
    }
}

static void on_closed(void *u, kaspa_peer *c, int err)
{
    side *s = u;
    s->conn_closed++;
    if (s->conn == c)
        s->conn = NULL;
}

static const kaspa_peer_callbacks CB = {.on_event = on_ev, .on_closed = on_closed};

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    proc *pr = p->data;
    pr->exited = 1;
    pr->status = sig ? -sig : status;
    uv_close((uv_handle_t *)p, NULL);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    proc *pr = h->data;
    size_t room = sizeof pr->buf - 1 - pr->len;
    *b = uv_buf_init(pr->buf + pr->len, (unsigned)room);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    proc *pr = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)s, NULL);
        return;
    }
    pr->len += (size_t)n;
    pr->buf[pr->len] = 0;
    const char *l = strstr(pr->buf, "\"event\":\"listening\",\"port\":");
    if (l && !pr->port)
        pr->port = atoi(l + strlen("\"event\":\"listening\",\"port\":"));
}

static int spawn_node(uv_loop_t *loop, proc *pr, char **args)
{
    memset(pr, 0, sizeof(*pr));
    uv_pipe_init(loop, &pr->out, 0);
    pr->out.data = pr;
    pr->p.data = pr;
    uv_stdio_container_t io[3];
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[1].data.stream = (uv_stream_t *)&pr->out;
    io[2].flags = UV_INHERIT_FD;
    io[2].data.fd = 2;
    uv_process_options_t o = {0};
    o.file = "node";
    o.args = args;
    o.exit_cb = on_exit_cb;
    o.stdio = io;
    o.stdio_count = 3;
    int rc = uv_spawn(loop, &pr->p, &o);
    if (rc < 0) {
        uv_close((uv_handle_t *)&pr->out, NULL);
        uv_close((uv_handle_t *)&pr->p, NULL);
        return rc;
    }
    uv_read_start((uv_stream_t *)&pr->out, alloc_cb, read_cb);
    return 0;
}

static void nop(uv_timer_t *t)
{
}

static int run_until(uv_loop_t *loop, const int *v, int want, uint64_t ms)
{
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, nop, 20, 20);
    uint64_t end = uv_now(loop) + ms;
    while (*v < want && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&guard);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *v >= want;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static int setup(void **state)
{
    /* tests/pair/ -> tests/interop/ */
    const char *src = getenv("SRC_DIR");
    if (src) {
        snprintf(g_script, sizeof g_script, "%s/tests/interop/grpc/kaspa_peer.mjs", src);
        snprintf(g_modules, sizeof g_modules, "%s/tests/interop/node_modules/@grpc/grpc-js", src);
    } else {
        const char *f = __FILE__;
        const char *cut = strstr(f, "tests/pair/");
        int n = cut ? (int)(cut - f) : 0;
        snprintf(g_script, sizeof g_script, "%.*stests/interop/grpc/kaspa_peer.mjs", n, f);
        snprintf(g_modules, sizeof g_modules, "%.*stests/interop/node_modules/@grpc/grpc-js", n, f);
    }
    return 0;
}

static int have_node(void)
{
    if (access(g_script, R_OK) != 0 || access(g_modules, R_OK) != 0)
        return 0;
    return system("node --version >/dev/null 2>&1") == 0;
}

static void test_grpcjs_client_to_our_server(void **state)
{
    if (!have_node())
        skip();
    uv_loop_t *loop = uv_default_loop();
    kaspa_hub *hs;
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config sc;
    kaspa_session_config_default(&sc, hs, KASPA_H2_PROFILE_TCP);
    sc.rng = LP2P_RNG_OPENSSL;
    side srv = {0};
    kaspa_peer_listener *server;
    assert_int_equal(kaspa_peer_listen_tcp(loop, "127.0.0.1:0", &sc, &CB, &srv, &server), 0);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", kaspa_peer_listener_port(server));
    char *args[] = {"node", g_script, "client", target, "--pings", "5", NULL};
    proc js;
    assert_int_equal(spawn_node(loop, &js, args), 0);
    assert_true(run_until(loop, &js.exited, 1, 20000));
    assert_true(run_until(loop, &srv.conn_closed, 1, 5000));
    print_message("grpc-js client said:\n%s", js.buf);
    assert_int_equal(js.status, 0);
    assert_int_equal(count(js.buf, "\"event\":\"ready\""), 1);
    assert_int_equal(count(js.buf, "\"event\":\"ping\""), 5);              /* we answered 5 Pings */
    assert_int_equal(count(js.buf, "\"event\":\"request_addresses\""), 1); /* we asked once */
    assert_true(strstr(js.buf, "\"network\":\"kaspa-mainnet\"") != NULL);
    assert_true(strstr(js.buf, "\"user_agent\":\"/kaspa-holepunch:") != NULL);
    assert_int_equal(srv.handshake, 1);
    assert_int_equal(srv.ready, 1);
    assert_string_equal(srv.ua, "/grpc-js-peer:0.1/");
    /* gzip both ways: grpc-js compressed everything; we compressed our replies */
    assert_true(srv.st.msgs_in >= 8);
    assert_int_equal(srv.st.msgs_in_gzip, srv.st.msgs_in);
    assert_int_equal(srv.st.sending_gzip, 1);
    kaspa_peer_listener_close(server);
    uv_run(loop, UV_RUN_DEFAULT);
    kaspa_hub_del(hs);
}

static void test_grpcjs_wrong_network_rejected(void **state)
{
    if (!have_node())
        skip();
    uv_loop_t *loop = uv_default_loop();
    kaspa_hub *hs;
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config sc;
    kaspa_session_config_default(&sc, hs, KASPA_H2_PROFILE_TCP);
    sc.rng = LP2P_RNG_OPENSSL;
    side srv = {0};
    kaspa_peer_listener *server;
    assert_int_equal(kaspa_peer_listen_tcp(loop, "127.0.0.1:0", &sc, &CB, &srv, &server), 0);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", kaspa_peer_listener_port(server));
    char *args[] = {"node",
                    g_script,
                    "client",
                    target,
                    "--network",
                    "kaspa-testnet-10",
                    "--expect-reject",
                    "Network mismatch - local: kaspa-mainnet",
                    NULL};
    proc js;
    assert_int_equal(spawn_node(loop, &js, args), 0);
    assert_true(run_until(loop, &js.exited, 1, 20000));
    print_message("grpc-js client said:\n%s", js.buf);
    assert_int_equal(js.status, 0);
    assert_true(run_until(loop, &srv.conn_closed, 1, 5000));
    assert_string_equal(srv.reject_sent,
                        "Network mismatch - local: kaspa-mainnet, remote: kaspa-testnet-10");
    assert_int_equal(srv.ready, 0);
    kaspa_peer_listener_close(server);
    uv_run(loop, UV_RUN_DEFAULT);
    kaspa_hub_del(hs);
}

static void test_our_client_to_grpcjs_server(void **state)
{
    if (!have_node())
        skip();
    uv_loop_t *loop = uv_default_loop();
    char *args[] = {"node", g_script, "server", "127.0.0.1:0", "--pings", "2", NULL};
    proc js;
    assert_int_equal(spawn_node(loop, &js, args), 0);
    assert_true(run_until(loop, &js.port, 1, 20000));
    kaspa_hub *hc;
    kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config cc;
    kaspa_session_config_default(&cc, hc, KASPA_H2_PROFILE_TCP);
    cc.rng = LP2P_RNG_OPENSSL;
    side cl = {0};
    cl.close_after_js_pings = 2;
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", js.port);
    assert_int_equal(kaspa_peer_dial_tcp(loop, target, &cc, &CB, &cl, NULL), 0);
    int ok1 = run_until(loop, &cl.conn_closed, 1, 20000);
    int ok2 = run_until(loop, &js.exited, 1, 10000);
    print_message("grpc-js server said:\n%s", js.buf);
    print_message("ours: ready %d pings %d js_pings %d closed %d conn_closed %d\n", cl.ready,
                  cl.pings, cl.js_pings_seen, cl.closed, cl.conn_closed);
    if (!ok2)
        uv_process_kill(&js.p, SIGTERM);
    assert_true(ok1);
    assert_true(ok2);
    assert_int_equal(cl.ready, 1);
    assert_int_equal(cl.pings, 1);         /* grpc-js answered our Ping */
    assert_int_equal(cl.js_pings_seen, 2); /* and we answered its two */
    assert_string_equal(cl.ua, "/grpc-js-peer:0.1/");
    assert_int_equal(cl.st.sending_gzip, 1); /* a Kaspa client gzips every message */
    /* (grpc-js hides grpc-encoding from handlers; it decoded our gzip'd messages.) */
    assert_int_equal(count(js.buf, "\"event\":\"ping\""), 2);
    assert_int_equal(js.status, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    kaspa_hub_del(hc);
}

int main(void)
{
    lp2p_log_set_level(getenv("KASPA_TEST_LOG") ? LP2P_DEBUG : LP2P_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_grpcjs_client_to_our_server, setup),
        cmocka_unit_test_setup(test_grpcjs_wrong_network_rejected, setup),
        cmocka_unit_test_setup(test_our_client_to_grpcjs_server, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
