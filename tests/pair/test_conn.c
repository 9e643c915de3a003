/* A connection (multistream → Noise → Yamux) over the in-memory transport: no sockets.
 * Two hosts without listeners; the test hands each a transport end as the TCP listener
 * and dialer would. */
#include "test_host_util.h"

#include "host/host_internal.h"
#include "net/mem_transport.h"
#include "test_mem_pair.h"
#include "proto/yamux_frame.h"
#include "transport_recorder.h"

#define SINK_PROTO "/test/sink/1.0.0"

static host_rec A, B;
static stream_rec g_sink; /* B's end of the sink stream */
static lp2p_conn *g_ca, *g_cb;

static void sink_on_open(lp2p_stream *s, void *ud)
{
    g_sink.s = s;
}
static const lp2p_stream_callbacks k_sink = {
    .on_open = sink_on_open,
    .on_data = sr_on_data,
    .on_eof = sr_on_eof,
    .on_close = sr_on_close,
};

static int setup(void **state)
{
    log_capture_start();
    loop_start();
    host_start(&A, "A", 0, 0);
    host_start(&B, "B", 0, 0);
    sr_init(&g_sink);
    g_sink.check_pattern = 1;
    g_sink.seed = 7;
    assert_int_equal(lp2p_host_handle(B.host, SINK_PROTO, &k_sink, &g_sink), 0);
    mem_connect(&A, &B, &g_ca, &g_cb);
    return 0;
}

static int teardown(void **state)
{
    host_free(&A);
    host_free(&B);
    loop_finish();
    host_free_key(&A);
    host_free_key(&B);
    sr_free(&g_sink);
    log_capture_stop(0);
    return 0;
}

static void test_upgrade_over_memory(void **state)
{
    assert_true(lp2p_peer_id_equal(lp2p_conn_peer(g_ca), lp2p_host_peer_id(B.host)));
    assert_true(lp2p_peer_id_equal(lp2p_conn_peer(g_cb), lp2p_host_peer_id(A.host)));
    assert_true(lp2p_conn_is_outbound(g_ca));
    assert_false(lp2p_conn_is_outbound(g_cb));
    assert_false(lp2p_conn_is_relayed(g_ca));
    assert_string_equal(lp2p_conn_remote_addr(g_cb), "/memory/b"); /* the transport's own */
    assert_true(RUN_UNTIL(A.identified && B.identified, 3000));
}

static void test_streams_both_ways(void **state)
{
    echo_round_trip(g_ca, "from A over memory");
    echo_round_trip(g_cb, "from B over memory");
}

/* A second transport into B that speaks garbage: only that connection closes. */
static void test_bad_input_closes_only_that_connection(void **state)
{
    lp2p_transport *tx, *ty;
    assert_int_equal(lp2p_mem_transport_pair(&g_loop, &tx, &ty), 0);
    recorder bad;
    rec_bind(&bad, tx);
    assert_non_null(lp2p__host_inbound(B.host, ty));
    lp2p_buf b;
    lp2p_buf_init(&b);
    lp2p_buf_append(&b, "\x13/not-multistream/1\n", 20);
    assert_int_equal(lp2p_transport_write(tx, &b), 0);
    lp2p_buf_free(&b);
    assert_true(RUN_UNTIL(bad.closed, 2000));
    assert_int_equal(bad.close_err, LP2P_ERR_RESET);
    assert_int_equal(LOG_COUNT("connection_failed", "\"stage\":\"multistream\""), 1);
    assert_int_equal(B.disconnected, 0);
    echo_round_trip(g_ca, "still here");
    rec_free(&bad);
}

/* B stops reading: A's connection stops at its transport's high-water mark (the rest waits
 * in the stream), and goes on when B reads again (on_writable). */
static void test_write_backpressure_and_resume(void **state)
{
    g_ca->t->high_water = 64u << 10;
    g_ca->t->low_water = 16u << 10;
    lp2p_transport_pause_read(g_cb->t, 1);
    static stream_rec w;
    sr_init(&w);
    assert_int_equal(lp2p_conn_open_stream(g_ca, SINK_PROTO, &k_rec_cb, &w, &w.s), 0);
    size_t total = 8u << 20;
    uint8_t *data = malloc(total);
    assert_non_null(data);
    for (size_t i = 0; i < total; i++)
        data[i] = pattern_byte(7, i);
    assert_int_equal(lp2p_stream_write(w.s, data, total), 0);
    free(data);
    run_for(200);
    assert_true(lp2p_transport_congested(g_ca->t));
    /* one Yamux window at most, never the whole 8 MiB */
    assert_true(lp2p_transport_pending(g_ca->t) < (512u << 10));
    assert_true(lp2p_stream_pending(w.s) > total / 2);
    assert_int_equal(g_sink.checked, 0);

    lp2p_transport_pause_read(g_cb->t, 0);
    assert_true(RUN_UNTIL(g_sink.checked == total, 10000));
    assert_false(g_sink.mismatch);
    assert_int_equal(lp2p_stream_pending(w.s), 0);
    /* Drained and idle: the connection keeps no ciphertext buffer (issue 13: an idle
     * connection holds no write buffer; 10,000 of them at a relay add up). */
    run_for(50);
    assert_int_equal(g_ca->wire.cap, 0);
    assert_int_equal(g_cb->wire.cap, 0);
    lp2p_stream_reset(w.s);
    assert_true(RUN_UNTIL(w.closed, 2000));
    sr_free(&w);
}

/* Issue 9: a peer sends Yamux PINGs and never reads the replies. B stops reading once its
 * unsent output passes the read-pause mark, so that output stays bounded; when the peer
 * reads again everything is answered and the connection lives on. */
static void test_read_backpressure_on_unread_ping_replies(void **state)
{
    lp2p_transport_pause_read(g_ca->t, 1);    /* "A" never reads what B sends */
    const size_t batch = 4096, batches = 100; /* 400k PINGs: 4.8 MB of replies */
    uint8_t *frames = malloc(batch * LP2P_YAMUX_HDR_LEN);
    assert_non_null(frames);
    size_t max_pending = 0;
    for (size_t k = 0; k < batches; k++) {
        for (size_t i = 0; i < batch; i++)
            yhdr(frames + i * LP2P_YAMUX_HDR_LEN, 0, LP2P_YAMUX_PING, LP2P_YAMUX_SYN, 0,
                 (uint32_t)(k * batch + i));
        lp2p_buf ct;
        lp2p_buf_init(&ct);
        /* A's own session encrypts, so its nonces stay in step with what B expects. */
        assert_int_equal(lp2p_noise_encrypt(g_ca->noise, frames, batch * LP2P_YAMUX_HDR_LEN, &ct),
                         0);
        assert_int_equal(lp2p_transport_write(g_ca->t, &ct), 0);
        lp2p_buf_free(&ct);
        for (int i = 0; i < 5; i++)
            uv_run(&g_loop, UV_RUN_NOWAIT);
        size_t p = lp2p_transport_pending(g_cb->t);
        if (p > max_pending)
            max_pending = p;
    }
    free(frames);
    run_for(100);
    size_t p = lp2p_transport_pending(g_cb->t);
    if (p > max_pending)
        max_pending = p;
    assert_true(lp2p_mem_transport_read_paused(g_cb->t));
    size_t bound = g_cb->t->high_water + CONN_READ_PAUSE + (256u << 10);
    assert_true(max_pending <= bound);
    assert_int_equal(LOG_COUNT("read_paused"), 1);

    lp2p_transport_pause_read(g_ca->t, 0);
    assert_true(RUN_UNTIL(!lp2p_mem_transport_read_paused(g_cb->t) &&
                              lp2p_transport_pending(g_ca->t) == 0 &&
                              lp2p_transport_pending(g_cb->t) == 0,
                          10000));
    assert_int_equal(B.disconnected, 0);
    assert_int_equal(A.disconnected, 0);
    echo_round_trip(g_ca, "after the flood");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upgrade_over_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_closes_only_that_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_backpressure_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_backpressure_on_unread_ping_replies, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
