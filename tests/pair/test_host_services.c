/* The host's echo and perf servers (src/host/echo_svc.c, perf_svc.c) through the public API:
 * enabled with lp2p_host_serve_echo / lp2p_host_serve_perf, advertised in identify, and
 * answering on the wire: echo returns every byte then closes; perf drains the upload and
 * sends exactly the length asked for in its 8-byte big-endian header, then closes. */
#include "pair/test_host_util.h"

#include "proto/perf.h"

TRIO_FIXTURE()

static void test_echo_server(void **state)
{
    /* Replaces the harness's own echo handler: the host's answers now. */
    assert_int_equal(lp2p_host_serve_echo(B.host), 0);
    lp2p_conn *c = trio_connect(&A, &B);
    assert_true(A.has_echo_proto);
    g_echo_opened = 0;
    echo_round_trip(c, "the host's own echo");
    assert_int_equal(g_echo_opened, 0);
}

static void test_perf_server(void **state)
{
    assert_int_equal(lp2p_host_serve_perf(B.host), 0);
    lp2p_conn *c = trio_connect(&A, &B);
    static stream_rec r;
    sr_init(&r);
    assert_int_equal(lp2p_conn_open_stream(c, LP2P_PERF_PROTO, &k_rec_cb, &r, &r.s), 0);
    const uint64_t want = 300000; /* more than one Yamux window's worth is not needed */
    uint8_t hdr[8];
    for (int i = 0; i < 8; i++)
        hdr[i] = (uint8_t)(want >> (56 - 8 * i));
    static uint8_t up[100000];
    memset(up, 0x5a, sizeof(up));
    assert_int_equal(lp2p_stream_write(r.s, hdr, sizeof(hdr)), 0);
    assert_int_equal(lp2p_stream_write(r.s, up, sizeof(up)), 0);
    assert_int_equal(lp2p_stream_close(r.s), 0);
    assert_true(RUN_UNTIL(r.closed, 5000));
    assert_int_equal(r.err, 0);
    assert_true(r.eof);
    assert_int_equal(lp2p_buf_size(&r.got), want);
    sr_free(&r);
}

static void test_perf_off_by_default(void **state)
{
    lp2p_conn *c = trio_connect(&A, &B);
    static stream_rec r;
    sr_init(&r);
    assert_int_equal(lp2p_conn_open_stream(c, LP2P_PERF_PROTO, &k_rec_cb, &r, &r.s), 0);
    assert_int_equal(lp2p_stream_write(r.s, "\0\0\0\0\0\0\0\1", 8), 0);
    assert_true(RUN_UNTIL(r.closed, 5000));
    assert_int_equal(r.err, LP2P_ERR_NA);
    sr_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perf_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perf_off_by_default, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
