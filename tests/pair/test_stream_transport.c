/* A libp2p stream as a byte transport (lp2p/stream_transport.h), between two hosts on
 * loopback: bytes both ways, a write moved (not copied) into an idle stream, paused reading
 * holds delivery, shutdown is EOF, a reset or a
 * close on one end is on_closed on the other. */
#include "test_host_util.h"

#include "lp2p/stream_transport.h"
#include "net/transport.h"
#include "transport_recorder.h"

#define PIPE_PROTO "/test/pipe/1.0.0"

static host_rec A, B, C;
static recorder g_out, g_in; /* A's end (opened), B's end (accepted) */
static int g_in_up;

static void pipe_on_open(lp2p_stream *s, void *ud)
{
    lp2p_transport *t;
    assert_int_equal(lp2p_stream_transport_new(s, NULL, &t), 0);
    rec_bind(&g_in, t);
    g_in_up = 1;
}
static const lp2p_stream_callbacks k_pipe = {.on_open = pipe_on_open};
static const lp2p_stream_callbacks k_none = {0};

static int setup(void **state)
{
    trio_setup(&A, &B, &C, 0);
    g_in_up = 0;
    assert_int_equal(lp2p_host_handle(B.host, PIPE_PROTO, &k_pipe, NULL), 0);
    lp2p_conn *c = trio_connect(&A, &B);
    lp2p_stream *s;
    assert_int_equal(lp2p_conn_open_stream(c, PIPE_PROTO, &k_none, NULL, &s), 0);
    lp2p_transport *t;
    assert_int_equal(lp2p_stream_transport_new(s, "/test/out", &t), 0);
    rec_bind(&g_out, t);
    assert_string_equal(lp2p_transport_remote_addr(t), "/test/out");
    assert_true(RUN_UNTIL(g_in_up, 2000));
    return 0;
}
static int teardown(void **state)
{
    if (g_out.t)
        lp2p_transport_close(g_out.t, 1);
    if (g_in.t)
        lp2p_transport_close(g_in.t, 1);
    assert_true(RUN_UNTIL(g_out.closed && g_in.closed, 2000));
    rec_free(&g_out);
    rec_free(&g_in);
    trio_teardown(&A, &B, &C);
    log_capture_stop(0);
    return 0;
}

static void test_bytes_both_ways(void **state)
{
    uint32_t seq = 0;
    rec_write_pattern(&g_out, 3u << 20, &seq);
    assert_true(lp2p_transport_congested(g_out.t)); /* 3 MiB waits in the stream */
    assert_true(RUN_UNTIL(lp2p_buf_size(&g_in.got) == 3u << 20, 5000));
    assert_true(rec_got_pattern(&g_in));
    assert_true(RUN_UNTIL(g_out.writable >= 1, 2000)); /* congested, then told */
    seq = 0;
    rec_write_pattern(&g_in, 1000, &seq);
    assert_true(RUN_UNTIL(lp2p_buf_size(&g_out.got) == 1000, 2000));
    assert_true(rec_got_pattern(&g_out));
    /* the accepted end names the connection it rides on */
    assert_string_equal(lp2p_transport_remote_addr(g_in.t), B.remote_addr);
}

/* A write to a stream with nothing queued takes the caller's buffer itself (no copy: the
 * caller gets another buffer back), and so does the next one while those bytes still wait
 * (the queue's tail); a third while both wait is copied behind them. Either way the peer
 * gets every byte in order. */
static void test_write_moves_into_an_idle_stream(void **state)
{
    uint32_t seq = 0;
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(lp2p_buf_reserve(&b, 3u << 20), 0);
    for (size_t i = 0; i < 3u << 20; i++)
        b.data[b.len++] = (uint8_t)(seq++ * 7u);
    const uint8_t *mine = b.data;
    assert_int_equal(lp2p_transport_write(g_out.t, &b), 0);
    assert_int_equal(lp2p_buf_size(&b), 0);
    assert_ptr_not_equal(b.data, mine); /* the stream holds our buffer now */
    lp2p_buf_free(&b);
    assert_true(lp2p_transport_congested(g_out.t)); /* bytes wait in the stream: */
    /* the next whole buffer is moved too, behind them (the stream's queue tail) */
    lp2p_buf_init(&b);
    assert_int_equal(lp2p_buf_reserve(&b, 100000), 0);
    for (size_t i = 0; i < 100000; i++)
        b.data[b.len++] = (uint8_t)(seq++ * 7u);
    mine = b.data;
    assert_int_equal(lp2p_transport_write(g_out.t, &b), 0);
    assert_int_equal(lp2p_buf_size(&b), 0);
    assert_ptr_not_equal(b.data, mine);
    lp2p_buf_free(&b);
    /* a third while both wait is copied behind the second: the caller keeps its buffer */
    lp2p_buf_init(&b);
    assert_int_equal(lp2p_buf_reserve(&b, 1000), 0);
    for (size_t i = 0; i < 1000; i++)
        b.data[b.len++] = (uint8_t)(seq++ * 7u);
    mine = b.data;
    assert_int_equal(lp2p_transport_write(g_out.t, &b), 0);
    assert_int_equal(lp2p_buf_size(&b), 0);
    assert_ptr_equal(b.data, mine);
    lp2p_buf_free(&b);
    assert_int_equal(lp2p_transport_pending(g_out.t) > 100000 + 1000, 1);
    assert_true(RUN_UNTIL(lp2p_buf_size(&g_in.got) == (3u << 20) + 101000, 5000));
    assert_true(rec_got_pattern(&g_in));
}

static void test_pause_holds_delivery(void **state)
{
    lp2p_transport_pause_read(g_in.t, 1);
    uint32_t seq = 0;
    rec_write_pattern(&g_out, 5000, &seq);
    run_for(100);
    assert_int_equal(lp2p_buf_size(&g_in.got), 0);
    lp2p_transport_pause_read(g_in.t, 0);
    assert_int_equal(lp2p_buf_size(&g_in.got), 0); /* from the loop, not from the call */
    assert_true(RUN_UNTIL(lp2p_buf_size(&g_in.got) == 5000, 2000));
    assert_true(rec_got_pattern(&g_in));
}

static void test_shutdown_is_eof(void **state)
{
    uint32_t seq = 0;
    rec_write_pattern(&g_out, 100, &seq);
    assert_int_equal(lp2p_transport_shutdown(g_out.t), 0);
    assert_true(RUN_UNTIL(g_in.eof == 1, 2000));
    assert_int_equal(lp2p_buf_size(&g_in.got), 100);
}

static void test_close_and_reset_reach_the_other_end(void **state)
{
    lp2p_transport_close(g_out.t, 1);
    assert_int_equal(g_out.closed, 0);
    assert_true(RUN_UNTIL(g_out.closed == 1 && g_in.closed == 1, 2000));
    assert_int_equal(g_out.close_err, 0);
    assert_int_equal(g_in.close_err, LP2P_ERR_RESET);
    assert_string_equal(g_in.close_why, "carrying stream reset");
    /* the connection under the stream is untouched */
    assert_non_null(lp2p_host_find_conn(A.host, lp2p_host_peer_id(B.host)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bytes_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_moves_into_an_idle_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_holds_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_is_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_and_reset_reach_the_other_end, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
