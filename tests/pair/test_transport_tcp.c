/* The TCP byte transport on loopback: dial and accept, port reuse, write / pending /
 * on_writable, paused reading, shutdown, close, a refused dial, and a port already listened
 * on. */
#include "test_host_util.h"

#include "net/tcp_transport.h"
#include "transport_recorder.h"

#include <unistd.h>

/* ---- a listener that records what it accepts ------------------------------------------ */

typedef struct acceptor {
    recorder rec[4];
    int n;
} acceptor;

static void on_accept(void *ud, lp2p_transport *t)
{
    acceptor *a = ud;
    assert_true(a->n < 4);
    rec_bind(&a->rec[a->n++], t);
}

static int g_listener_done;
static void on_listener_done(void *ud)
{
    g_listener_done++;
}

typedef struct pair {
    lp2p_tcp_listener *l;
    acceptor acc;
    recorder dialer;
} pair;

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", port, &sa);
    return sa;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/* A listener on 127.0.0.1:0 and one dial to it (from `local` if given), both up. */
static void pair_up(pair *p, const struct sockaddr *local)
{
    memset(p, 0, sizeof(*p));
    struct sockaddr_in any = loopback(0);
    assert_int_equal(
        lp2p_tcp_listener_new(&g_loop, (struct sockaddr *)&any, 16, on_accept, &p->acc, &p->l), 0);
    struct sockaddr_in to = loopback(port_of(lp2p_tcp_listener_addr(p->l)));
    lp2p_transport *t;
    assert_int_equal(lp2p_tcp_dial(&g_loop, local, (struct sockaddr *)&to, &t), 0);
    rec_bind(&p->dialer, t);
    assert_true(RUN_UNTIL(p->dialer.connected && p->acc.n == 1, 2000));
}

static void pair_down(pair *p)
{
    if (p->dialer.t)
        lp2p_transport_close(p->dialer.t, 1);
    for (int i = 0; i < p->acc.n; i++)
        if (p->acc.rec[i].t)
            lp2p_transport_close(p->acc.rec[i].t, 1);
    g_listener_done = 0;
    lp2p_tcp_listener_close(p->l, on_listener_done, NULL);
    assert_true(RUN_UNTIL(g_listener_done == 1 && p->dialer.closed, 2000));
    rec_free(&p->dialer);
    for (int i = 0; i < p->acc.n; i++) {
        assert_true(RUN_UNTIL(p->acc.rec[i].closed, 2000));
        rec_free(&p->acc.rec[i]);
    }
}

static int setup(void **state)
{
    loop_start();
    return 0;
}
static int teardown(void **state)
{
    loop_finish();
    return 0;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_dial_accept_both_ways(void **state)
{
    pair p;
    pair_up(&p, NULL);
    recorder *srv = &p.acc.rec[0];
    assert_int_equal(srv->connected, 0); /* accepted transports are born connected */

    /* Both ends know the peer: the accepted one sees the dialer's ephemeral port. */
    struct sockaddr_storage peer;
    assert_int_equal(lp2p_transport_peer_sockaddr(srv->t, &peer), 0);
    assert_int_equal(peer.ss_family, AF_INET);
    assert_int_equal(lp2p_transport_peer_sockaddr(p.dialer.t, &peer), 0);
    assert_int_equal(port_of(&peer), port_of(lp2p_tcp_listener_addr(p.l)));
    char want[64];
    snprintf(want, sizeof(want), "/ip4/127.0.0.1/tcp/%u", port_of(lp2p_tcp_listener_addr(p.l)));
    assert_string_equal(lp2p_transport_remote_addr(p.dialer.t), want);
    assert_non_null(strstr(lp2p_transport_remote_addr(srv->t), "/ip4/127.0.0.1/tcp/"));

    uint32_t seq = 0;
    rec_write_pattern(&p.dialer, 100000, &seq);
    assert_true(RUN_UNTIL(lp2p_buf_size(&srv->got) == 100000, 2000));
    assert_true(rec_got_pattern(srv));
    seq = 0;
    rec_write_pattern(srv, 5000, &seq);
    assert_true(RUN_UNTIL(lp2p_buf_size(&p.dialer.got) == 5000, 2000));
    assert_true(rec_got_pattern(&p.dialer));
    pair_down(&p);
}

/* A dial bound to the listen port (port reuse): the peer sees our listen port as the
 * source, which is what makes the relay's observed address the NAT mapping. */
static void test_dial_from_listen_port(void **state)
{
    acceptor other = {0};
    lp2p_tcp_listener *mine;
    struct sockaddr_in any = loopback(0);
    assert_int_equal(
        lp2p_tcp_listener_new(&g_loop, (struct sockaddr *)&any, 16, on_accept, &other, &mine), 0);
    pair p;
    pair_up(&p, (const struct sockaddr *)lp2p_tcp_listener_addr(mine));
    struct sockaddr_storage src;
    assert_int_equal(lp2p_transport_peer_sockaddr(p.acc.rec[0].t, &src), 0);
    assert_int_equal(port_of(&src), port_of(lp2p_tcp_listener_addr(mine)));

    /* The same 4-tuple again is refused at once, not later. */
    struct sockaddr_in to = loopback(port_of(lp2p_tcp_listener_addr(p.l)));
    lp2p_transport *t = NULL;
    int rc = lp2p_tcp_dial(&g_loop, (const struct sockaddr *)lp2p_tcp_listener_addr(mine),
                           (struct sockaddr *)&to, &t);
    assert_true(rc == UV_EADDRINUSE || rc == UV_EADDRNOTAVAIL);
    assert_null(t);

    pair_down(&p);
    g_listener_done = 0;
    lp2p_tcp_listener_close(mine, on_listener_done, NULL);
    assert_true(RUN_UNTIL(g_listener_done == 1, 1000));
    assert_int_equal(other.n, 0);
}

/* A second listener on a port that is already listened on is refused (SO_REUSEPORT would
 * have let the kernel split connections between the two), and the first keeps serving. */
static void test_second_listener_refused(void **state)
{
    pair p;
    pair_up(&p, NULL);
    struct sockaddr_in same = loopback(port_of(lp2p_tcp_listener_addr(p.l)));
    acceptor other = {0};
    lp2p_tcp_listener *second = NULL;
    assert_int_equal(
        lp2p_tcp_listener_new(&g_loop, (struct sockaddr *)&same, 16, on_accept, &other, &second),
        UV_EADDRINUSE);
    assert_null(second);
    lp2p_transport *t;
    assert_int_equal(lp2p_tcp_dial(&g_loop, NULL, (struct sockaddr *)&same, &t), 0);
    recorder r;
    rec_bind(&r, t);
    assert_true(RUN_UNTIL(r.connected && p.acc.n == 2, 2000));
    assert_int_equal(other.n, 0);
    lp2p_transport_close(t, 1);
    assert_true(RUN_UNTIL(r.closed, 2000));
    rec_free(&r);
    pair_down(&p);
}

static int raw_socket(int reuseport)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    assert_true(fd >= 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    if (reuseport)
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
    return fd;
}

/* A restart finds TIME_WAIT leftovers of dials from its listen port: they are not a
 * listener, so listening there again works. The leftover is made with plain sockets (our
 * transports close with linger 0 and leave none): a dial from the port that closes first. */
static void test_listen_again_beside_time_wait(void **state)
{
    acceptor acc = {0};
    lp2p_tcp_listener *l;
    struct sockaddr_in any = loopback(0);
    assert_int_equal(
        lp2p_tcp_listener_new(&g_loop, (struct sockaddr *)&any, 16, on_accept, &acc, &l), 0);
    struct sockaddr_in mine = loopback(port_of(lp2p_tcp_listener_addr(l)));

    int far = raw_socket(0);
    struct sockaddr_in far_addr = loopback(0);
    socklen_t len = sizeof(far_addr);
    assert_int_equal(bind(far, (struct sockaddr *)&far_addr, sizeof(far_addr)), 0);
    assert_int_equal(listen(far, 1), 0);
    assert_int_equal(getsockname(far, (struct sockaddr *)&far_addr, &len), 0);
    int dial = raw_socket(1);
    assert_int_equal(bind(dial, (struct sockaddr *)&mine, sizeof(mine)), 0);
    assert_int_equal(connect(dial, (struct sockaddr *)&far_addr, sizeof(far_addr)), 0);
    int accepted = accept(far, NULL, NULL);
    assert_true(accepted >= 0);
    close(dial); /* the active close: TIME_WAIT stays on our listen port */
    char c;
    assert_int_equal(read(accepted, &c, 1), 0);
    close(accepted);
    close(far);

    g_listener_done = 0;
    lp2p_tcp_listener_close(l, on_listener_done, NULL);
    assert_true(RUN_UNTIL(g_listener_done == 1, 1000));
    assert_int_equal(
        lp2p_tcp_listener_new(&g_loop, (struct sockaddr *)&mine, 16, on_accept, &acc, &l), 0);
    g_listener_done = 0;
    lp2p_tcp_listener_close(l, on_listener_done, NULL);
    assert_true(RUN_UNTIL(g_listener_done == 1, 1000));
    assert_int_equal(acc.n, 0);
}

/* A receiver that does not read fills the kernel buffers; pending then reaches the
 * high-water mark (congested), and on_writable comes once, below the low-water mark, after
 * reading resumes. Paused reading delivers nothing. */
static void test_pending_pause_and_writable(void **state)
{
    pair p;
    pair_up(&p, NULL);
    recorder *srv = &p.acc.rec[0];
    lp2p_transport_pause_read(srv->t, 1);
    uint32_t seq = 0;
    size_t sent = 0;
    while (!lp2p_transport_congested(p.dialer.t) && sent < (256u << 20)) {
        rec_write_pattern(&p.dialer, 256u << 10, &seq);
        sent += 256u << 10;
        uv_run(&g_loop, UV_RUN_NOWAIT);
    }
    assert_true(lp2p_transport_congested(p.dialer.t));
    assert_true(lp2p_transport_pending(p.dialer.t) >= LP2P_TCP_HIGH_WATER);
    run_for(100);
    assert_int_equal(lp2p_buf_size(&srv->got), 0); /* paused: not one byte */
    assert_int_equal(p.dialer.writable, 0);

    lp2p_transport_pause_read(srv->t, 0);
    assert_true(RUN_UNTIL(p.dialer.writable == 1, 5000));
    assert_true(p.dialer.pending_at_writable < p.dialer.t->low_water);
    assert_true(RUN_UNTIL(lp2p_buf_size(&srv->got) == sent, 5000));
    assert_true(rec_got_pattern(srv));
    assert_int_equal(p.dialer.writable, 1);
    pair_down(&p);
}

/* A write the socket takes at once hands the caller its own buffer back, emptied (the next
 * batch is sealed into memory still in cache); a write that has to wait keeps the bytes
 * in the transport and gives the caller another buffer. Both arrive in order. */
static void test_taken_write_returns_the_buffer(void **state)
{
    pair p;
    pair_up(&p, NULL);
    recorder *srv = &p.acc.rec[0];
    lp2p_buf b;
    lp2p_buf_init(&b);
    /* A small write the socket takes at once: the caller keeps no buffer (an idle
     * connection holds none). */
    lp2p_buf_append(&b, "hello", 5);
    assert_int_equal(lp2p_transport_write(p.dialer.t, &b), 0);
    assert_int_equal(lp2p_transport_pending(p.dialer.t), 0);
    assert_int_equal(b.cap, 0);
    assert_true(RUN_UNTIL(lp2p_buf_size(&srv->got) == 5, 2000));
    lp2p_buf_consume(&srv->got, 5);
    /* A bulk batch the socket takes at once: the caller gets its own, warm buffer back. */
    const size_t big = 128u << 10;
    for (uint32_t i = 0; i < big; i++)
        lp2p_buf_append(&b, &(uint8_t){(uint8_t)i}, 1);
    const uint8_t *mine = b.data;
    size_t cap = b.cap;
    assert_int_equal(lp2p_transport_write(p.dialer.t, &b), 0);
    assert_int_equal(lp2p_transport_pending(p.dialer.t), 0);
    assert_int_equal(lp2p_buf_size(&b), 0);
    assert_ptr_equal(b.data, mine);
    assert_int_equal(b.cap, cap);
    assert_true(RUN_UNTIL(lp2p_buf_size(&srv->got) == big, 2000));
    for (uint32_t i = 0; i < big; i++)
        assert_int_equal(lp2p_buf_head(&srv->got)[i], (uint8_t)i);

    /* the receiver stops reading: the kernel buffers fill and a write waits in the queue */
    lp2p_transport_pause_read(srv->t, 1);
    uint32_t seq = 0;
    size_t sent = 0;
    while (lp2p_transport_pending(p.dialer.t) == 0 && sent < (256u << 20)) {
        rec_write_pattern(&p.dialer, 256u << 10, &seq);
        sent += 256u << 10;
        uv_run(&g_loop, UV_RUN_NOWAIT);
    }
    assert_true(lp2p_transport_pending(p.dialer.t) > 0);
    lp2p_buf_append(&b, "tail", 4);
    mine = b.data;
    assert_int_equal(lp2p_transport_write(p.dialer.t, &b), 0);
    assert_int_equal(lp2p_buf_size(&b), 0);
    assert_ptr_not_equal(b.data, mine); /* moved into the queued request */
    lp2p_buf_free(&b);
    lp2p_transport_pause_read(srv->t, 0);
    assert_true(RUN_UNTIL(lp2p_buf_size(&srv->got) == big + sent + 4, 10000));
    const uint8_t *g = lp2p_buf_head(&srv->got) + big;
    for (size_t i = 0; i < sent; i++)
        assert_int_equal(g[i], (uint8_t)((uint32_t)i * 7u));
    assert_memory_equal(g + sent, "tail", 4);
    pair_down(&p);
}

/* shutdown is a half-close: the peer sees EOF and can still answer. */
static void test_shutdown_half_close(void **state)
{
    pair p;
    pair_up(&p, NULL);
    recorder *srv = &p.acc.rec[0];
    uint32_t seq = 0;
    rec_write_pattern(&p.dialer, 1000, &seq);
    assert_int_equal(lp2p_transport_shutdown(p.dialer.t), 0);
    assert_true(RUN_UNTIL(srv->eof == 1, 2000));
    assert_int_equal(lp2p_buf_size(&srv->got), 1000); /* EOF after the bytes */
    seq = 0;
    rec_write_pattern(srv, 700, &seq);
    assert_true(RUN_UNTIL(lp2p_buf_size(&p.dialer.got) == 700, 2000));
    assert_int_equal(p.dialer.eof, 0);
    /* Writing after our own shutdown is refused. */
    lp2p_buf b;
    lp2p_buf_init(&b);
    lp2p_buf_append(&b, "x", 1);
    assert_int_equal(lp2p_transport_write(p.dialer.t, &b), LP2P_ERR_STATE);
    lp2p_buf_free(&b);
    pair_down(&p);
}

/* close: on_closed(0) from the loop, never from inside close(); the peer is told (linger 0
 * makes it a reset). */
static void test_close_reaches_the_peer(void **state)
{
    pair p;
    pair_up(&p, NULL);
    recorder *srv = &p.acc.rec[0];
    lp2p_transport_close(p.dialer.t, 0);
    assert_int_equal(p.dialer.closed, 0);
    assert_true(RUN_UNTIL(p.dialer.closed == 1, 1000));
    assert_int_equal(p.dialer.close_err, 0);
    assert_true(RUN_UNTIL(srv->eof || srv->closed, 2000));
    pair_down(&p);
}

/* A dial to a port nobody listens on: on_closed with the socket's reason. */
static void test_dial_refused(void **state)
{
    pair p;
    pair_up(&p, NULL);
    struct sockaddr_in to = loopback(port_of(lp2p_tcp_listener_addr(p.l)));
    pair_down(&p); /* the port is free again */
    lp2p_transport *t;
    assert_int_equal(lp2p_tcp_dial(&g_loop, NULL, (struct sockaddr *)&to, &t), 0);
    recorder r;
    rec_bind(&r, t);
    assert_true(RUN_UNTIL(r.closed == 1, 2000));
    assert_int_equal(r.connected, 0);
    assert_int_equal(r.close_err, LP2P_ERR_IO);
    assert_string_equal(r.close_why, "connection refused");
    rec_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dial_accept_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dial_from_listen_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_listener_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_again_beside_time_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_pause_and_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_taken_write_returns_the_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_half_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_reaches_the_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dial_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
