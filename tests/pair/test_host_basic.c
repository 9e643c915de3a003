/* Two (or three) hosts on 127.0.0.1 in one libuv loop: dialing by multiaddr, connected and
 * identify callbacks on both sides, echo streams (one, 64 at once, 16 MiB), protocol
 * refusal, connection reuse, wrong peer ID, refused port, handshake timeout against a
 * listener that never speaks, graceful close. Assertions are on callbacks, bytes and the
 * JSON log (events `connected`, `identify`, `disconnected`, `connection_failed`). */
#include "pair/test_host_util.h"

#include "util/list.h"

/* A and B listen; C is an extra host some tests start (teardown frees whatever exists). */
static host_rec A, B, C;

static int setup(void **state)
{
    trio_setup(&A, &B, &C, 0);
    return 0;
}

static int teardown(void **state)
{
    trio_teardown(&A, &B, &C);
    log_capture_stop(0);
    return 0;
}

/* A dials B by B's listen address (with /p2p) and both sides identify. */
static lp2p_conn *connect_a_to_b(void)
{
    return trio_connect(&A, &B);
}

static void test_dial_connect_identify_both_ways(void **state)
{
    lp2p_conn *c = connect_a_to_b();
    /* connected fired once on each side, with the right direction and peer */
    assert_int_equal(A.connected, 1);
    assert_int_equal(B.connected, 1);
    assert_ptr_equal(A.conn, c);
    assert_int_equal(A.outbound, 1);
    assert_int_equal(B.outbound, 0);
    assert_true(lp2p_peer_id_equal(lp2p_conn_peer(A.conn), lp2p_host_peer_id(B.host)));
    assert_true(lp2p_peer_id_equal(lp2p_conn_peer(B.conn), lp2p_host_peer_id(A.host)));
    assert_int_equal(lp2p_conn_is_relayed(A.conn), 0);

    /* A dials from its listen port (port reuse): B sees it at A's listen address, and
     * that is the observed address B reports to A in identify. */
    char a_sock[64], b_sock[64];
    snprintf(a_sock, sizeof(a_sock), "/ip4/127.0.0.1/tcp/%u", A.port);
    snprintf(b_sock, sizeof(b_sock), "/ip4/127.0.0.1/tcp/%u", B.port);
    assert_string_equal(B.remote_addr, a_sock);
    assert_string_equal(A.remote_addr, b_sock);
    assert_string_equal(A.observed, a_sock);
    assert_string_equal(B.observed, b_sock);

    /* agents and protocols */
    assert_string_equal(A.agent, "hosttest-B/1.0");
    assert_string_equal(B.agent, "hosttest-A/1.0");
    assert_true(A.has_echo_proto);
    assert_true(B.has_echo_proto);
    assert_true(A.nprotocols >= 4); /* id, id/push, ping, echo */

    /* the log says the same */
    char a_id[LP2P_PEER_ID_STR_MAX], b_id[LP2P_PEER_ID_STR_MAX], f1[200], f2[200];
    lp2p_peer_id_to_string(lp2p_host_peer_id(A.host), a_id, sizeof(a_id));
    lp2p_peer_id_to_string(lp2p_host_peer_id(B.host), b_id, sizeof(b_id));
    snprintf(f1, sizeof(f1), "\"peer\":\"%s\"", b_id);
    snprintf(f2, sizeof(f2), "\"peer\":\"%s\"", a_id);
    assert_int_equal(LOG_COUNT("connected", f1, "\"direction\":\"outbound\""), 1);
    assert_int_equal(LOG_COUNT("connected", f2, "\"direction\":\"inbound\""), 1);
    assert_int_equal(LOG_COUNT("identify", f1, "\"agent\":\"hosttest-B/1.0\"", "/echo/1.0.0"), 1);
    assert_int_equal(LOG_COUNT("identify", f2, "\"agent\":\"hosttest-A/1.0\""), 1);
    snprintf(f1, sizeof(f1), "\"observed\":\"%s\"", a_sock);
    assert_int_equal(LOG_COUNT("identify", f1), 1);
    assert_int_equal(LOG_COUNT("connection_failed"), 0);
}

static void test_echo_stream(void **state)
{
    lp2p_conn *c = connect_a_to_b();
    echo_round_trip(c, "hello, B");
    assert_int_equal(g_echo_opened, 1);
    assert_true(RUN_UNTIL(g_echo_closed == 1, 2000));
    /* and from the listener's side over the same connection */
    echo_round_trip(B.conn, "hello, A");
    assert_int_equal(g_echo_opened, 2);
}

static void test_unregistered_protocol_is_na(void **state)
{
    lp2p_conn *c = connect_a_to_b();
    static stream_rec r;
    sr_init(&r);
    assert_int_equal(lp2p_conn_open_stream(c, "/nobody/home/1.0.0", &k_rec_cb, &r, &r.s), 0);
    /* lazy negotiation: data may be written at once; it must never reach a handler */
    assert_int_equal(lp2p_stream_write(r.s, "knock", 5), 0);
    assert_true(RUN_UNTIL(r.closed, 5000));
    assert_int_equal(r.err, LP2P_ERR_NA);
    assert_int_equal(lp2p_buf_size(&r.got), 0);
    assert_int_equal(g_echo_opened, 0);
    sr_free(&r);
    /* the connection is unharmed */
    echo_round_trip(c, "still here");
    assert_int_equal(A.disconnected, 0);
}

#define NSTREAMS 64
#define SMALL    4096

static void test_64_concurrent_streams(void **state)
{
    lp2p_conn *c = connect_a_to_b();
    static stream_rec r[NSTREAMS];
    uint8_t msg[SMALL];
    for (int i = 0; i < NSTREAMS; i++) {
        sr_init(&r[i]);
        assert_int_equal(lp2p_conn_open_stream(c, ECHO_PROTO, &k_rec_cb, &r[i], &r[i].s), 0);
        for (size_t k = 0; k < SMALL; k++)
            msg[k] = pattern_byte((uint32_t)i, k);
        assert_int_equal(lp2p_stream_write(r[i].s, msg, SMALL), 0);
        assert_int_equal(lp2p_stream_close(r[i].s), 0);
    }
    int all = 0;
    assert_true(RUN_UNTIL(({
                              all = 1;
                              for (int i = 0; i < NSTREAMS; i++)
                                  all &= r[i].closed;
                              all;
                          }),
                          10000));
    assert_int_equal(g_echo_opened, NSTREAMS);
    for (int i = 0; i < NSTREAMS; i++) {
        assert_int_equal(r[i].err, 0);
        assert_int_equal(lp2p_buf_size(&r[i].got), SMALL);
        for (size_t k = 0; k < SMALL; k++)
            assert_int_equal(lp2p_buf_head(&r[i].got)[k], pattern_byte((uint32_t)i, k));
        sr_free(&r[i]);
    }
}

#define BIG   (16u << 20)
#define CHUNK (64u << 10)
#define HIGH  (1u << 20) /* the host's per-stream high-water mark (STREAM_HIGH_WATER) */

/* 16 MiB through the echo service, written as backpressure allows (kept below the
 * high-water mark, topped up whenever the loop returns), checked byte for byte as it comes
 * back. */
static void test_16mib_transfer(void **state)
{
    lp2p_conn *c = connect_a_to_b();
    static stream_rec r;
    sr_init(&r);
    r.check_pattern = 1;
    r.seed = 0xC0FFEE;
    assert_int_equal(lp2p_conn_open_stream(c, ECHO_PROTO, &k_rec_cb, &r, &r.s), 0);
    static uint8_t chunk[CHUNK];
    size_t sent = 0;
    while (sent < BIG) {
        while (sent < BIG && lp2p_stream_pending(r.s) + CHUNK < HIGH) {
            for (size_t k = 0; k < CHUNK; k++)
                chunk[k] = pattern_byte(r.seed, sent + k);
            assert_int_equal(lp2p_stream_write(r.s, chunk, CHUNK), 0);
            sent += CHUNK;
        }
        size_t before = r.checked;
        int progressed = RUN_UNTIL(
            lp2p_stream_pending(r.s) + CHUNK < HIGH || r.closed || r.checked > before, 10000);
        if (!progressed)
            fprintf(stderr, "stalled: sent %zu pending %zu echoed back %zu\n", sent,
                    lp2p_stream_pending(r.s), r.checked);
        assert_true(progressed);
        assert_false(r.closed);
    }
    assert_int_equal(lp2p_stream_close(r.s), 0);
    assert_true(RUN_UNTIL(r.closed, 20000));
    assert_int_equal(r.err, 0);
    assert_true(r.eof);
    assert_int_equal(r.mismatch, 0);
    assert_int_equal(r.checked, BIG);
    sr_free(&r);
}

/* Regression, fixed (host backpressure, src/host/stream.c deliver()): a stream withholds the
 * peer's window whenever its OWN pending output is above the high-water mark. A client that
 * queues a big write (lp2p_stream_write is documented as never short) on an echo stream
 * therefore stops granting the echo's window; the echo server's output then piles up past
 * its own high-water mark and it stops granting the client's window: both wait forever.
 * Skipped unless HOSTTEST_KNOWN_BUGS=1 so the suite stays green until the fix lands. */
static void test_regression_big_single_write_to_echo_deadlocks(void **state)
{
    lp2p_conn *c = connect_a_to_b();
    static stream_rec r;
    sr_init(&r);
    r.check_pattern = 1;
    r.seed = 7;
    assert_int_equal(lp2p_conn_open_stream(c, ECHO_PROTO, &k_rec_cb, &r, &r.s), 0);
    const size_t n = 8u << 20;
    uint8_t *big = malloc(n);
    assert_non_null(big);
    for (size_t k = 0; k < n; k++)
        big[k] = pattern_byte(r.seed, k);
    assert_int_equal(lp2p_stream_write(r.s, big, n), 0); /* one call, 8 MiB queued */
    free(big);
    assert_int_equal(lp2p_stream_close(r.s), 0);
    int done = RUN_UNTIL(r.closed, 10000);
    if (!done)
        fprintf(stderr, "deadlocked: pending %zu echoed back %zu of %zu\n",
                r.s ? lp2p_stream_pending(r.s) : 0, r.checked, n);
    assert_true(done);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.checked, n);
    assert_int_equal(r.mismatch, 0);
    sr_free(&r);
}

static void test_second_dial_reuses_connection(void **state)
{
    lp2p_conn *c = connect_a_to_b();
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(A.host, B.addr, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done, 2000));
    assert_int_equal(d.err, 0);
    assert_ptr_equal(d.conn, c);
    run_for(100);
    assert_int_equal(A.connected, 1);
    assert_int_equal(B.connected, 1);
    assert_int_equal(LOG_COUNT("connected"), 2); /* one per side, no new connection */
    echo_round_trip(d.conn, "same conn");
}

/* B dials A back while A->B is up: one connection per peer, the dial gets the existing one
 * (either at once, or after the duplicate is closed). */
static void test_reverse_dial_keeps_one_connection(void **state)
{
    lp2p_conn *c = connect_a_to_b();
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(B.host, A.addr, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done, 5000));
    assert_int_equal(d.err, 0);
    assert_ptr_equal(d.conn, B.conn);
    run_for(100);
    assert_ptr_equal(A.conn, c);
    assert_int_equal(A.disconnected, 0);
    assert_int_equal(B.disconnected, 0);
    echo_round_trip(c, "A to B");
    echo_round_trip(d.conn, "B to A");
}

static void test_wrong_peer_id_fails(void **state)
{
    host_start(&C, "C", 0, 0);
    /* B's address with C's peer ID */
    char wrong[300], c_id[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_host_peer_id(C.host), c_id, sizeof(c_id));
    snprintf(wrong, sizeof(wrong), "/ip4/127.0.0.1/tcp/%u/p2p/%s", B.port, c_id);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(A.host, wrong, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done, 5000));
    assert_int_equal(d.err, LP2P_ERR_PEER_ID_MISMATCH);
    assert_null(d.conn);
    run_for(100);
    assert_int_equal(A.connected, 0);
    assert_int_equal(B.connected, 0); /* B never saw a finished handshake */
    char f[200];
    snprintf(f, sizeof(f), "\"peer\":\"%s\"", c_id);
    assert_int_equal(LOG_COUNT("connection_failed", f, "\"error\":\"PEER_ID_MISMATCH\"",
                               "\"reason\":\"remote key does not match"),
                     1);
    /* the right ID still works afterwards */
    lp2p_conn *c = connect_a_to_b();
    echo_round_trip(c, "right peer");
}

static void test_closed_port_fails_fast(void **state)
{
    /* a port that was just free: bind, read it, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    char addr[300], b_id[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_host_peer_id(B.host), b_id, sizeof(b_id));
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%u/p2p/%s", ntohs(sa.sin_port), b_id);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    uint64_t t0 = uv_now(&g_loop);
    assert_int_equal(lp2p_host_dial(A.host, addr, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done, 5000));
    assert_int_equal(d.err, LP2P_ERR_IO);
    assert_true(d.at_ms - t0 < 1000); /* refused at once, not a timeout */
    assert_int_equal(
        LOG_COUNT("connection_failed", "\"stage\":\"dial\"", "\"reason\":\"", "\"error\":\"IO\""),
        1);
    assert_int_equal(LOG_COUNT("connection_failed", "refused"), 1);
    assert_int_equal(A.connected, 0);
}

/* A listener that accepts and never says a word: the dialer's handshake times out. */
static uv_tcp_t g_mute_srv;
static uv_tcp_t g_mute_conn[4];
static int g_mute_accepted;

static void mute_on_connection(uv_stream_t *srv, int status)
{
    if (status < 0 || g_mute_accepted == 4)
        return;
    uv_tcp_t *t = &g_mute_conn[g_mute_accepted];
    uv_tcp_init(&g_loop, t);
    if (uv_accept(srv, (uv_stream_t *)t) == 0)
        g_mute_accepted++;
    else
        uv_close((uv_handle_t *)t, NULL);
}

static void test_handshake_timeout_against_mute_listener(void **state)
{
    /* a dialer host with a short handshake timeout */
    host_start(&C, "C", 0, 300);
    g_mute_accepted = 0;
    uv_tcp_init(&g_loop, &g_mute_srv);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_bind(&g_mute_srv, (struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&g_mute_srv, 8, mute_on_connection), 0);
    int sl = sizeof(sa);
    assert_int_equal(uv_tcp_getsockname(&g_mute_srv, (struct sockaddr *)&sa, &sl), 0);
    char addr[300], b_id[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_host_peer_id(B.host), b_id, sizeof(b_id));
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%u/p2p/%s", ntohs(sa.sin_port), b_id);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    uint64_t t0 = uv_now(&g_loop);
    assert_int_equal(lp2p_host_dial(C.host, addr, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done, 5000));
    uint64_t took = d.at_ms - t0;
    assert_int_equal(d.err, LP2P_ERR_TIMEOUT);
    assert_int_equal(g_mute_accepted, 1);
    assert_true(took >= 250 && took < 2000);
    assert_int_equal(LOG_COUNT("connection_failed", "\"reason\":\"handshake timed out\"",
                               "\"error\":\"TIMEOUT\""),
                     1);
    for (int i = 0; i < g_mute_accepted; i++)
        uv_close((uv_handle_t *)&g_mute_conn[i], NULL);
    uv_close((uv_handle_t *)&g_mute_srv, NULL);
}

/* The listener side: a client that connects and says nothing is dropped after the
 * handshake timeout, and the host keeps serving others. */
static void test_inbound_handshake_timeout(void **state)
{
    host_start(&C, "C", 1, 300);
    static raw_peer p;
    raw_connect(&p, C.port);
    uint64_t t0 = uv_now(&g_loop);
    assert_true(RUN_UNTIL(raw_gone(&p), 3000));
    uint64_t took = uv_now(&g_loop) - t0;
    assert_true(took >= 250 && took < 2000);
    assert_int_equal(lp2p_buf_size(&p.in), 0); /* the listener never spoke first */
    assert_int_equal(LOG_COUNT("connection_failed", "\"stage\":\"multistream\"",
                               "\"reason\":\"handshake timed out\""),
                     1);
    raw_close(&p);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(A.host, C.addr, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done, 5000));
    assert_int_equal(d.err, 0);
    echo_round_trip(d.conn, "after the mute one");
}

/* IPv6 loopback: B also listens on [::1]; A (no IPv6 listener, so no port reuse) dials it,
 * identify reports an /ip6 observed address, echo works. Skipped where ::1 is missing. */
static void test_ipv6_loopback(void **state)
{
    if (lp2p_host_listen(B.host, "/ip6/::1/tcp/0") != 0)
        skip();
    const char *const *addrs;
    assert_int_equal(lp2p_host_listen_addrs(B.host, &addrs), 2);
    assert_true(strncmp(addrs[1], "/ip6/::1/tcp/", 13) == 0);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(A.host, addrs[1], on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done && A.identified && B.identified, 5000));
    assert_int_equal(d.err, 0);
    assert_true(strncmp(A.observed, "/ip6/::1/tcp/", 13) == 0);
    assert_string_equal(A.observed, B.remote_addr);
    assert_true(strncmp(lp2p_conn_remote_addr(d.conn), "/ip6/::1/tcp/", 13) == 0);
    echo_round_trip(d.conn, "over ipv6");
}

/* host_close with a live connection and an open stream: the stream owner gets on_close
 * with an error, the peer sees disconnected, every handle closes (teardown checks that
 * uv_loop_close succeeds; ASan checks that nothing leaks). */
static void test_graceful_close(void **state)
{
    lp2p_conn *c = connect_a_to_b();
    static stream_rec r;
    sr_init(&r);
    assert_int_equal(lp2p_conn_open_stream(c, ECHO_PROTO, &k_rec_cb, &r, &r.s), 0);
    assert_int_equal(lp2p_stream_write(r.s, "pending", 7), 0);
    assert_true(RUN_UNTIL(lp2p_buf_size(&r.got) == 7, 2000));
    host_free(&A);
    assert_true(r.closed); /* synchronously, from lp2p_host_close */
    assert_int_not_equal(r.err, 0);
    assert_int_equal(A.disconnected, 1);
    assert_true(RUN_UNTIL(B.disconnected == 1, 3000));
    assert_null(B.conn);
    assert_true(LOG_COUNT("disconnected", "\"reason\":\"") >= 2);
    sr_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dial_connect_identify_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unregistered_protocol_is_na, setup, teardown),
        cmocka_unit_test_setup_teardown(test_64_concurrent_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_16mib_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regression_big_single_write_to_echo_deadlocks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_second_dial_reuses_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reverse_dial_keeps_one_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_peer_id_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_port_fails_fast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_timeout_against_mute_listener, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inbound_handshake_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graceful_close, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
