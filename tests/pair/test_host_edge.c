/* Host edge cases: dialing with port reuse when a connection to the same address already
 * exists, simultaneous dials, dialing ourselves, the connection limit, and closing things
 * from inside callbacks. */
#include "pair/test_host_util.h"

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

static lp2p_conn *connect_a_to_b(void)
{
    return trio_connect(&A, &B);
}

/* Regression, fixed (port reuse, src/host/host.c lp2p_host_dial + src/net/tcp.c): B's address
 * without /p2p while A->B exists. The dial socket is bound to A's listen port, so it would
 * have the same 4-tuple as the live connection: connect() fails at once with
 * EADDRNOTAVAIL and lp2p_host_dial returns LP2P_ERR_IO ("address not available").
 * go-libp2p's reuseport dialer retries without the bind on EADDRINUSE/EADDRNOTAVAIL; we
 * should too (then the duplicate rule hands the dial the existing connection). */
static void test_regression_dial_without_peer_id_when_connected(void **state)
{
    lp2p_conn *c = connect_a_to_b();
    char plain[128];
    snprintf(plain, sizeof(plain), "/ip4/127.0.0.1/tcp/%u", B.port);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    int rc = lp2p_host_dial(A.host, plain, on_dial, &d);
    if (rc == 0)
        assert_true(RUN_UNTIL(d.done, 5000));
    if (rc != 0 || d.err != 0)
        fprintf(stderr, "dial without /p2p while connected: rc %d err %s\n", rc,
                lp2p_err_name(rc ? rc : d.err));
    assert_int_equal(rc, 0);
    assert_int_equal(d.err, 0);
    assert_ptr_equal(d.conn, c);
    echo_round_trip(c, "still one connection");
}

/* Regression, fixed (same cause as above): A and B dial each other in the same loop iteration.
 * B's dial socket (B's port -> A's port) has the 4-tuple of A's connection, already
 * completed by the kernel and waiting in B's accept queue: B's lp2p_host_dial returns
 * LP2P_ERR_IO synchronously although a connection to A is about to be accepted. */
static void test_regression_simultaneous_dial(void **state)
{
    static dial_rec da, db;
    memset(&da, 0, sizeof(da));
    memset(&db, 0, sizeof(db));
    assert_int_equal(lp2p_host_dial(A.host, B.addr, on_dial, &da), 0);
    assert_int_equal(lp2p_host_dial(B.host, A.addr, on_dial, &db), 0);
    assert_true(RUN_UNTIL(da.done && db.done, 5000));
    if (da.err || db.err)
        fprintf(stderr, "simultaneous dial: A %s, B %s\n", lp2p_err_name(da.err),
                lp2p_err_name(db.err));
    assert_int_equal(da.err, 0);
    assert_int_equal(db.err, 0);
    run_for(200);
    assert_non_null(lp2p_host_find_conn(A.host, lp2p_host_peer_id(B.host)));
    assert_non_null(lp2p_host_find_conn(B.host, lp2p_host_peer_id(A.host)));
    echo_round_trip(lp2p_host_find_conn(A.host, lp2p_host_peer_id(B.host)), "A to B");
    echo_round_trip(lp2p_host_find_conn(B.host, lp2p_host_peer_id(A.host)), "B to A");
}

/* Regression, fixed (src/host/host.c lp2p__host_conn_ready): the same race without the 4-tuple
 * clash. A also listens on 127.0.0.2 and B dials that, so both connections complete the
 * handshake. Each host keeps the connection that became ready first on ITS side, which is
 * its own outbound one, and closes the other as a duplicate: A closes B's, B closes A's,
 * and both peers end up with no connection (5 of 5 rounds here) although both dials
 * reported success. The survivor must be chosen the same way on both sides (e.g. the
 * connection dialed by the peer with the smaller peer ID), or duplicates kept (go-libp2p
 * and rust-libp2p keep both). */
static void test_regression_simultaneous_dial_distinct_addresses(void **state)
{
    assert_int_equal(lp2p_host_listen(A.host, "/ip4/127.0.0.2/tcp/0"), 0);
    const char *const *addrs;
    assert_int_equal(lp2p_host_listen_addrs(A.host, &addrs), 2);
    char a2[256];
    snprintf(a2, sizeof(a2), "%s", addrs[1]);
    int ok_runs = 0;
    for (int round = 0; round < 5; round++) {
        static dial_rec da, db;
        memset(&da, 0, sizeof(da));
        memset(&db, 0, sizeof(db));
        int a_conn0 = A.connected, b_conn0 = B.connected;
        assert_int_equal(lp2p_host_dial(A.host, B.addr, on_dial, &da), 0);
        assert_int_equal(lp2p_host_dial(B.host, a2, on_dial, &db), 0);
        assert_true(RUN_UNTIL(da.done && db.done, 5000));
        run_for(300);
        lp2p_conn *ca = lp2p_host_find_conn(A.host, lp2p_host_peer_id(B.host));
        lp2p_conn *cb = lp2p_host_find_conn(B.host, lp2p_host_peer_id(A.host));
        fprintf(stderr, "round %d: dial A %s B %s; connected A +%d B +%d; A has %s, B has %s\n",
                round, lp2p_err_name(da.err), lp2p_err_name(db.err), A.connected - a_conn0,
                B.connected - b_conn0, ca ? lp2p_conn_remote_addr(ca) : "none",
                cb ? lp2p_conn_remote_addr(cb) : "none");
        if (ca && cb) {
            echo_round_trip(ca, "A to B");
            echo_round_trip(cb, "B to A");
            ok_runs++;
            lp2p_conn_close(ca, 0);
            assert_true(RUN_UNTIL(!lp2p_host_find_conn(B.host, lp2p_host_peer_id(A.host)), 3000));
        }
        run_for(50);
        assert_null(lp2p_host_find_conn(A.host, lp2p_host_peer_id(B.host)));
    }
    assert_int_equal(ok_runs, 5);
}

/* A peer that opens streams right after a simultaneous dial (as go and rust do on the
 * connection they chose) must not see them reset when duplicate resolution closes that
 * connection: the duplicate gets GoAway, its open streams finish, then it closes. Both
 * handshakes complete (A also listens on 127.0.0.2, B dials that). */
static stream_rec g_sa[5], g_sb[5];
static int g_round;
static void dial_then_echo(lp2p_conn *c, int err, void *ud)
{
    stream_rec *r = ud;
    r->err = err ? err : -9999; /* -9999: the stream was not opened */
    if (err || !c)
        return;
    static const char msg[] = "a stream opened at once";
    if (lp2p_conn_open_stream(c, ECHO_PROTO, &k_rec_cb, r, &r->s) == 0) {
        r->err = 0;
        lp2p_stream_write(r->s, msg, sizeof msg - 1);
        lp2p_stream_close(r->s);
    }
}

static void test_duplicate_closed_gracefully_after_simultaneous_dial(void **state)
{
    assert_int_equal(lp2p_host_listen(A.host, "/ip4/127.0.0.2/tcp/0"), 0);
    const char *const *addrs;
    assert_int_equal(lp2p_host_listen_addrs(A.host, &addrs), 2);
    char a2[256];
    snprintf(a2, sizeof(a2), "%s", addrs[1]);
    for (g_round = 0; g_round < 5; g_round++) {
        stream_rec *ra = &g_sa[g_round], *rb = &g_sb[g_round];
        sr_init(ra);
        sr_init(rb);
        assert_int_equal(lp2p_host_dial(A.host, B.addr, dial_then_echo, ra), 0);
        assert_int_equal(lp2p_host_dial(B.host, a2, dial_then_echo, rb), 0);
        assert_true(RUN_UNTIL(ra->closed && rb->closed, 5000));
        fprintf(stderr, "round %d: A's stream %s (%zu bytes back), B's stream %s (%zu)\n", g_round,
                lp2p_err_name(ra->err), lp2p_buf_size(&ra->got), lp2p_err_name(rb->err),
                lp2p_buf_size(&rb->got));
        assert_int_equal(ra->err, 0);
        assert_int_equal(rb->err, 0);
        assert_true(ra->eof && rb->eof);
        assert_int_equal(lp2p_buf_size(&ra->got), 23);
        assert_int_equal(lp2p_buf_size(&rb->got), 23);
        run_for(300);
        /* one connection survives, the same one on both sides */
        lp2p_conn *ca = lp2p_host_find_conn(A.host, lp2p_host_peer_id(B.host));
        lp2p_conn *cb = lp2p_host_find_conn(B.host, lp2p_host_peer_id(A.host));
        assert_non_null(ca);
        assert_non_null(cb);
        echo_round_trip(ca, "A to B");
        lp2p_conn_close(ca, 0);
        assert_true(RUN_UNTIL(!lp2p_host_find_conn(B.host, lp2p_host_peer_id(A.host)), 3000));
        run_for(50);
        sr_free(ra);
        sr_free(rb);
    }
}

/* Dialing our own address fails cleanly (no connection to ourselves, no crash). */
static void test_dial_self(void **state)
{
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    int rc = lp2p_host_dial(A.host, A.addr, on_dial, &d);
    if (rc == 0)
        assert_true(RUN_UNTIL(d.done, 5000));
    fprintf(stderr, "dial self: rc %d err %s\n", rc, lp2p_err_name(d.err));
    assert_true(rc < 0 || d.err < 0);
    run_for(100);
    assert_int_equal(A.connected, 0);
    /* A still works */
    lp2p_conn *c = connect_a_to_b();
    echo_round_trip(c, "after dialing myself");
}

/* max_conns: a host with room for 1 connection refuses a second one and logs why; the
 * first keeps working. */
static void test_connection_limit(void **state)
{
    host_start_ex(&C, "C", 1, 0, 1);
    static dial_rec d1, d2;
    memset(&d1, 0, sizeof(d1));
    memset(&d2, 0, sizeof(d2));
    assert_int_equal(lp2p_host_dial(A.host, C.addr, on_dial, &d1), 0);
    assert_true(RUN_UNTIL(d1.done && C.identified, 5000));
    assert_int_equal(d1.err, 0);
    assert_int_equal(lp2p_host_dial(B.host, C.addr, on_dial, &d2), 0);
    assert_true(RUN_UNTIL(d2.done, 5000));
    assert_true(d2.err < 0);
    assert_int_equal(C.connected, 1);
    assert_int_equal(LOG_COUNT("connection_failed", "\"reason\":\"too many connections\""), 1);
    echo_round_trip(d1.conn, "the first one stays");
}

/* Closing the connection from inside on_connected / on_identify, and the host from inside
 * a stream callback, must not touch freed memory (ASan). */
static int g_close_in;
static void close_on_connected(lp2p_conn *c, void *ud)
{
    h_on_connected(c, ud);
    if (g_close_in == 1)
        lp2p_conn_close(c, 0);
}
static void close_on_identify(lp2p_conn *c, const lp2p_identify_result *r, void *ud)
{
    h_on_identify(c, r, ud);
    if (g_close_in == 2)
        lp2p_conn_close(c, 0);
}

static void restart_b_with_closing_callbacks(void)
{
    host_free(&B);
    /* start C as the listener with our callbacks */
    assert_int_equal(lp2p_keypair_generate(&C.kp), 0);
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &g_loop, C.kp);
    hc.cb.on_connected = close_on_connected;
    hc.cb.on_disconnected = h_on_disconnected;
    hc.cb.on_identify = close_on_identify;
    hc.ud = &C;
    assert_int_equal(lp2p_host_new(&hc, &C.host), 0);
    assert_int_equal(lp2p_host_handle(C.host, ECHO_PROTO, &k_echo, NULL), 0);
    assert_int_equal(lp2p_host_listen(C.host, "/ip4/127.0.0.1/tcp/0"), 0);
    const char *const *addrs;
    lp2p_host_listen_addrs(C.host, &addrs);
    snprintf(C.addr, sizeof(C.addr), "%s", addrs[0]);
}

static void test_close_inside_on_connected(void **state)
{
    g_close_in = 1;
    restart_b_with_closing_callbacks();
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(A.host, C.addr, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done && C.disconnected, 5000));
    assert_int_equal(C.connected, 1);
    assert_int_equal(C.disconnected, 1);
    assert_true(RUN_UNTIL(A.disconnected == A.connected, 3000));
}

static void test_close_inside_on_identify(void **state)
{
    g_close_in = 2;
    restart_b_with_closing_callbacks();
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(A.host, C.addr, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done && C.disconnected, 5000));
    assert_int_equal(d.err, 0);
    assert_int_equal(C.identified, 1);
    assert_true(RUN_UNTIL(A.disconnected == 1, 3000));
}

/* The whole host closed from inside on_connected, on_identify or on_disconnected (a
 * command that is done when its peer appears or leaves does exactly this). */
static int g_close_host_in; /* 1 connected, 2 identify, 3 disconnected */
static void hc_on_connected(lp2p_conn *c, void *ud)
{
    host_rec *r = ud;
    h_on_connected(c, ud);
    if (g_close_host_in == 1 && r->host) {
        lp2p_host_close(r->host);
        r->host = NULL;
    }
}
static void hc_on_identify(lp2p_conn *c, const lp2p_identify_result *res, void *ud)
{
    host_rec *r = ud;
    h_on_identify(c, res, ud);
    if (g_close_host_in == 2 && r->host) {
        lp2p_host_close(r->host);
        r->host = NULL;
    }
}
static void hc_on_disconnected(lp2p_conn *c, int reason, void *ud)
{
    host_rec *r = ud;
    h_on_disconnected(c, reason, ud);
    if (g_close_host_in == 3 && r->host) {
        lp2p_host_close(r->host);
        r->host = NULL;
    }
}

static void run_close_host_inside(int where)
{
    g_close_host_in = where;
    assert_int_equal(lp2p_keypair_generate(&C.kp), 0);
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &g_loop, C.kp);
    hc.cb.on_connected = hc_on_connected;
    hc.cb.on_disconnected = hc_on_disconnected;
    hc.cb.on_identify = hc_on_identify;
    hc.ud = &C;
    assert_int_equal(lp2p_host_new(&hc, &C.host), 0);
    assert_int_equal(lp2p_host_listen(C.host, "/ip4/127.0.0.1/tcp/0"), 0);
    const char *const *addrs;
    lp2p_host_listen_addrs(C.host, &addrs);
    char addr[256];
    snprintf(addr, sizeof(addr), "%s", addrs[0]);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(A.host, addr, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done, 5000));
    if (where == 3) {
        assert_int_equal(d.err, 0);
        assert_true(RUN_UNTIL(C.identified == 1, 3000));
        lp2p_conn_close(d.conn, 0); /* C's on_disconnected closes C */
    }
    assert_true(RUN_UNTIL(C.host == NULL, 3000));
    assert_true(RUN_UNTIL(A.disconnected == A.connected, 3000));
    /* A is fine afterwards */
    lp2p_conn *c = connect_a_to_b();
    echo_round_trip(c, "A still works");
}

static void test_host_close_inside_on_connected(void **state)
{
    run_close_host_inside(1);
}
static void test_host_close_inside_on_identify(void **state)
{
    run_close_host_inside(2);
}
static void test_host_close_inside_on_disconnected(void **state)
{
    run_close_host_inside(3);
}

/* The host closed from inside a stream's on_data. */
static lp2p_host *g_close_host;
static int g_data_seen;
static void closing_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    g_data_seen++;
    if (g_close_host) {
        lp2p_host *h = g_close_host;
        g_close_host = NULL;
        lp2p_host_close(h);
    }
}
static void noop_on_close(lp2p_stream *s, int err, void *ud)
{
}
static const lp2p_stream_callbacks k_closing = {.on_data = closing_on_data,
                                                .on_close = noop_on_close};

static void test_host_close_inside_stream_callback(void **state)
{
    lp2p_conn *c = connect_a_to_b();
    assert_int_equal(lp2p_host_handle(B.host, "/closer/1", &k_closing, NULL), 0);
    g_close_host = B.host;
    static stream_rec r;
    sr_init(&r);
    assert_int_equal(lp2p_conn_open_stream(c, "/closer/1", &k_rec_cb, &r, &r.s), 0);
    assert_int_equal(lp2p_stream_write(r.s, "bye", 3), 0);
    assert_true(RUN_UNTIL(r.closed, 3000));
    assert_int_equal(g_data_seen, 1);
    B.host = NULL; /* already closed */
    assert_true(RUN_UNTIL(A.disconnected == 1, 3000));
    sr_free(&r);
}

/* The peer resets a stream: the opener's on_close reports LP2P_ERR_RESET. */
static void reset_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    lp2p_stream_reset(s);
}
static const lp2p_stream_callbacks k_resetter = {.on_data = reset_on_data,
                                                 .on_close = noop_on_close};

static void test_peer_reset_reported(void **state)
{
    lp2p_conn *c = connect_a_to_b();
    assert_int_equal(lp2p_host_handle(B.host, "/resetter/1", &k_resetter, NULL), 0);
    static stream_rec r;
    sr_init(&r);
    assert_int_equal(lp2p_conn_open_stream(c, "/resetter/1", &k_rec_cb, &r, &r.s), 0);
    assert_int_equal(lp2p_stream_write(r.s, "x", 1), 0);
    assert_true(RUN_UNTIL(r.closed, 3000));
    assert_int_equal(r.err, LP2P_ERR_RESET);
    sr_free(&r);
    echo_round_trip(c, "conn survives a reset");
}

/* Closing the host while a dial is still in the TCP/handshake stage: the dial callback
 * gets LP2P_ERR_CLOSED, and the log line names an error code, not "UNKNOWN".
 * Regression, fixed (src/host/conn.c lp2p__conn_fail): lp2p_conn_close(c, 0) logs
 * connection_failed with error lp2p_err_name(0) = "UNKNOWN"; it should log the code the
 * dial callback gets (err ? err : LP2P_ERR_CLOSED). */
static void never_accept(uv_stream_t *srv, int status)
{
}

static void test_regression_close_during_dial_names_the_error(void **state)
{
    /* a listener that accepts and never speaks */
    static uv_tcp_t srv;
    uv_tcp_init(&g_loop, &srv);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_bind(&srv, (struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv, 8, never_accept), 0);
    int sl = sizeof(sa);
    uv_tcp_getsockname(&srv, (struct sockaddr *)&sa, &sl);
    char addr[128];
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/%u", ntohs(sa.sin_port));
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(A.host, addr, on_dial, &d), 0);
    run_for(100);
    if (d.done)
        fprintf(stderr, "dial ended early: %s\n", lp2p_err_name(d.err));
    assert_int_equal(d.done, 0);
    host_free(&A);
    assert_int_equal(d.done, 1);
    assert_int_equal(d.err, LP2P_ERR_CLOSED);
    uv_close((uv_handle_t *)&srv, NULL);
    assert_int_equal(LOG_COUNT("connection_failed", "\"error\":\"UNKNOWN\""), 0);
    assert_int_equal(LOG_COUNT("connection_failed", "\"error\":\"CLOSED\""), 1);
}

/* C takes at most 4 inbound streams per connection (max_streams_per_conn). */
static lp2p_conn *connect_a_to_limited_c(void)
{
    assert_int_equal(lp2p_keypair_generate(&C.kp), 0);
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &g_loop, C.kp);
    hc.max_streams_per_conn = 4;
    hc.cb.on_connected = h_on_connected;
    hc.cb.on_disconnected = h_on_disconnected;
    hc.cb.on_identify = h_on_identify;
    hc.ud = &C;
    assert_int_equal(lp2p_host_new(&hc, &C.host), 0);
    assert_int_equal(lp2p_host_handle(C.host, ECHO_PROTO, &k_echo, NULL), 0);
    assert_int_equal(lp2p_host_listen(C.host, "/ip4/127.0.0.1/tcp/0"), 0);
    const char *const *addrs;
    lp2p_host_listen_addrs(C.host, &addrs);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(A.host, addrs[0], on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done && C.identified && A.identified, 5000));
    assert_int_equal(d.err, 0);
    run_for(50); /* identify streams finished */
    return d.conn;
}

static stream_rec g_sr[16];

/* Opens n echo streams that write 4 bytes and stay open; runs until each has its echo or
 * is closed; returns how many were echoed and how many reset. */
static void open_held_streams(lp2p_conn *c, int n, int *echoed, int *reset, int *lost)
{
    for (int i = 0; i < n; i++) {
        sr_init(&g_sr[i]);
        assert_int_equal(lp2p_conn_open_stream(c, ECHO_PROTO, &k_rec_cb, &g_sr[i], &g_sr[i].s), 0);
        assert_int_equal(lp2p_stream_write(g_sr[i].s, "ping", 4), 0);
    }
    int settled = RUN_UNTIL(({
                                int k = 0;
                                for (int i = 0; i < n; i++)
                                    k += lp2p_buf_size(&g_sr[i].got) == 4 || g_sr[i].closed;
                                k == n;
                            }),
                            5000);
    assert_true(settled);
    run_for(50);
    *echoed = *reset = *lost = 0;
    for (int i = 0; i < n; i++) {
        *echoed += !g_sr[i].closed && lp2p_buf_size(&g_sr[i].got) == 4;
        *reset += g_sr[i].closed && g_sr[i].err == LP2P_ERR_RESET;
        *lost += g_sr[i].closed && g_sr[i].err != LP2P_ERR_RESET;
    }
    fprintf(stderr, "%d streams: %d echoed and open, %d reset, %d lost\n", n, *echoed, *reset,
            *lost);
}

static void close_held_streams(int n)
{
    for (int i = 0; i < n; i++)
        if (g_sr[i].s)
            lp2p_stream_close(g_sr[i].s);
    assert_true(RUN_UNTIL(({
                              int all = 1;
                              for (int i = 0; i < n; i++)
                                  all &= g_sr[i].closed;
                              all;
                          }),
                          5000));
    for (int i = 0; i < n; i++)
        sr_free(&g_sr[i]);
}

/* 8 streams at once against a limit of 4: 4 are served, 4 refused with RST (the opener's
 * on_close says LP2P_ERR_RESET), the connection stays up. */
static void test_stream_limit_per_connection(void **state)
{
    lp2p_conn *c = connect_a_to_limited_c();
    int echoed, reset, lost;
    open_held_streams(c, 8, &echoed, &reset, &lost);
    assert_int_equal(echoed, 4);
    assert_int_equal(reset, 4);
    assert_int_equal(lost, 0);
    close_held_streams(8);
    assert_int_equal(A.disconnected, 0);
    echo_round_trip(c, "after the refusals");
}

/* Documented behaviour of the Yamux core (refused_burst > max_streams is a flood): an
 * honest peer that opens more than twice the limit at once, without letting a stream end,
 * loses the whole connection, and the host says why. With the default limit (512) that
 * takes 1025 concurrent opens. */
static void test_stream_burst_past_twice_the_limit_is_a_flood(void **state)
{
    lp2p_conn *c = connect_a_to_limited_c();
    (void)c;
    int echoed, reset, lost;
    open_held_streams(c, 10, &echoed, &reset, &lost);
    assert_true(lost > 0);
    assert_true(RUN_UNTIL(C.disconnected == 1, 3000));
    assert_int_equal(LOG_COUNT("disconnected", "\"reason\":\"peer flooded us past a limit\""), 1);
    assert_int_equal(LOG_COUNT("yamux_fatal", "\"reason\":\"stream flood\""), 1);
    for (int i = 0; i < 10; i++)
        sr_free(&g_sr[i]);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_regression_dial_without_peer_id_when_connected),
        T(test_regression_simultaneous_dial),
        T(test_regression_simultaneous_dial_distinct_addresses),
        T(test_duplicate_closed_gracefully_after_simultaneous_dial),
        T(test_dial_self),
        T(test_connection_limit),
        T(test_close_inside_on_connected),
        T(test_close_inside_on_identify),
        T(test_host_close_inside_stream_callback),
        T(test_host_close_inside_on_connected),
        T(test_host_close_inside_on_identify),
        T(test_host_close_inside_on_disconnected),
        T(test_peer_reset_reported),
        T(test_regression_close_during_dial_names_the_error),
        T(test_stream_limit_per_connection),
        T(test_stream_burst_past_twice_the_limit_is_a_flood),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
