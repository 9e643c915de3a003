/* The in-memory transport pair that connection tests run over: delivery from the loop,
 * backpressure from a peer that stops reading, EOF and reset propagation. */
#include "test_host_util.h"

#include "net/mem_transport.h"
#include "transport_recorder.h"

static recorder g_a, g_b;

static int setup(void **state)
{
    loop_start();
    lp2p_transport *a, *b;
    assert_int_equal(lp2p_mem_transport_pair(&g_loop, &a, &b), 0);
    rec_bind(&g_a, a);
    rec_bind(&g_b, b);
    return 0;
}
static int teardown(void **state)
{
    if (g_a.t)
        lp2p_transport_close(g_a.t, 1);
    if (g_b.t)
        lp2p_transport_close(g_b.t, 1);
    assert_true(RUN_UNTIL(g_a.closed && g_b.closed, 1000));
    rec_free(&g_a);
    rec_free(&g_b);
    loop_finish();
    return 0;
}

static void test_bytes_arrive_from_the_loop_in_order(void **state)
{
    uint32_t seq = 0;
    lp2p_mem_transport_set_chunk(g_a.t, 1000);
    rec_write_pattern(&g_a, 5000, &seq);
    rec_write_pattern(&g_a, 2345, &seq);
    assert_int_equal(lp2p_buf_size(&g_b.got), 0); /* never from inside write() */
    assert_int_equal(lp2p_transport_pending(g_a.t), 7345);
    assert_true(RUN_UNTIL(lp2p_buf_size(&g_b.got) == 7345, 1000));
    assert_true(rec_got_pattern(&g_b));
    assert_int_equal(lp2p_transport_pending(g_a.t), 0);
    assert_int_equal(g_a.writable, 0); /* never reached the high-water mark */
    assert_string_equal(lp2p_transport_remote_addr(g_a.t), "/memory/a");
    struct sockaddr_storage ss;
    assert_int_equal(lp2p_transport_peer_sockaddr(g_a.t, &ss), LP2P_ERR_NOT_FOUND);
}

static void test_paused_reader_builds_pending_then_writable(void **state)
{
    g_a.t->high_water = 10000;
    g_a.t->low_water = 2000;
    lp2p_transport_pause_read(g_b.t, 1);
    assert_true(lp2p_mem_transport_read_paused(g_b.t));
    uint32_t seq = 0;
    rec_write_pattern(&g_a, 12000, &seq);
    run_for(30);
    assert_int_equal(lp2p_buf_size(&g_b.got), 0);
    assert_int_equal(lp2p_transport_pending(g_a.t), 12000);
    assert_true(lp2p_transport_congested(g_a.t));
    lp2p_mem_transport_set_chunk(g_a.t, 1000);
    lp2p_transport_pause_read(g_b.t, 0);
    assert_true(RUN_UNTIL(g_a.writable == 1, 1000));
    assert_true(g_a.pending_at_writable < 2000);
    assert_true(RUN_UNTIL(lp2p_buf_size(&g_b.got) == 12000, 1000));
    assert_int_equal(g_a.writable, 1);
    assert_true(rec_got_pattern(&g_b));
}

static void test_shutdown_then_close_gives_eof_after_bytes(void **state)
{
    uint32_t seq = 0;
    rec_write_pattern(&g_a, 300, &seq);
    assert_int_equal(lp2p_transport_shutdown(g_a.t), 0);
    assert_true(RUN_UNTIL(g_b.eof == 1, 1000));
    assert_int_equal(lp2p_buf_size(&g_b.got), 300);
    /* b can still answer a half-closed a */
    seq = 0;
    rec_write_pattern(&g_b, 10, &seq);
    assert_true(RUN_UNTIL(lp2p_buf_size(&g_a.got) == 10, 1000));
    /* close(0): pending bytes still reach the peer, then EOF; on_closed(0) here */
    lp2p_transport_close(g_b.t, 0);
    assert_int_equal(g_b.closed, 0);
    assert_true(RUN_UNTIL(g_b.closed == 1 && g_a.eof == 1, 1000));
    assert_int_equal(g_b.close_err, 0);
    assert_int_equal(g_a.closed, 0);
}

static void test_reset_drops_bytes_and_reaches_peer(void **state)
{
    uint32_t seq = 0;
    rec_write_pattern(&g_a, 300, &seq);
    lp2p_transport_close(g_a.t, 1);
    assert_true(RUN_UNTIL(g_a.closed == 1 && g_b.closed == 1, 1000));
    assert_int_equal(g_b.close_err, LP2P_ERR_RESET);
    assert_int_equal(lp2p_buf_size(&g_b.got), 0);
    assert_int_equal(g_b.eof, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bytes_arrive_from_the_loop_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paused_reader_builds_pending_then_writable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_then_close_gives_eof_after_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reset_drops_bytes_and_reaches_peer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
