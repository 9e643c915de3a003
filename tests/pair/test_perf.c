/* Perf: client and server in one process with a fake clock and a small "transport" window,
 * so both sides must work in chunks and respect partial writes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "proto/perf.h"
#include "test_trace.h"

static void test_upload_then_download(void **state)
{
    lp2p_perf_client c;
    lp2p_perf_server s;
    const uint64_t up = 1000003, down = 777777;
    uint64_t now = 100;
    lp2p_perf_client_init(&c, up, down, 4096, now);
    lp2p_perf_server_init(&s, 0, 8192, now);

    /* The header on the wire is u64 big-endian of the download size. */
    lp2p_view v;
    assert_int_equal(lp2p_perf_client_next(&c, &v), LP2P_PERF_WRITE);
    assert_int_equal(v.len, 8);
    const uint8_t be[8] = {0, 0, 0, 0, 0, 0x0b, 0xde, 0x31}; /* 777777 */
    assert_memory_equal(v.ptr, be, 8);

    /* client side: the "transport" takes at most 3000 bytes per write, 1 ms each */
    uint64_t wire = 0;
    int writes = 0;
    for (;;) {
        lp2p_perf_action a = lp2p_perf_client_next(&c, &v);
        if (a == LP2P_PERF_CLOSE_WRITE) {
            assert_int_equal(lp2p_perf_client_write_closed(&c, now), 0);
            assert_int_equal(lp2p_perf_server_eof(&s, now), 0);
            break;
        }
        assert_int_equal(a, LP2P_PERF_WRITE);
        assert_true(v.len <= 4096);
        size_t n = v.len < 3000 ? v.len : 3000;
        assert_int_equal(lp2p_perf_server_next(&s, &(lp2p_view){0}), LP2P_PERF_READ);
        assert_int_equal(lp2p_perf_server_recv(&s, v.ptr, n, now), 0);
        assert_int_equal(lp2p_perf_client_sent(&c, n, now), 0);
        wire += n;
        writes++;
        now += 1;
    }
    assert_int_equal(wire, 8 + up);
    assert_int_equal(s.received, up);
    assert_int_equal(s.to_send, down);
    assert_int_equal(c.upload_done_ms - c.start_ms, (uint64_t)writes);

    /* server side: answers only now, in chunks of <= 8192 */
    uint64_t got = 0;
    for (;;) {
        lp2p_perf_action a = lp2p_perf_server_next(&s, &v);
        assert_int_equal(lp2p_perf_client_next(&c, &(lp2p_view){0}), LP2P_PERF_READ);
        if (a == LP2P_PERF_CLOSE_WRITE) {
            assert_int_equal(lp2p_perf_server_write_closed(&s, now), 0);
            assert_int_equal(lp2p_perf_client_eof(&c, now), 0);
            break;
        }
        assert_int_equal(a, LP2P_PERF_WRITE);
        assert_true(v.len <= 8192);
        assert_int_equal(lp2p_perf_client_recv(&c, v.ptr, v.len, now), 0);
        assert_int_equal(lp2p_perf_server_sent(&s, v.len, now), 0);
        got += v.len;
        now += 2;
    }
    assert_int_equal(got, down);
    assert_int_equal(c.downloaded, down);
    assert_int_equal(lp2p_perf_client_next(&c, &v), LP2P_PERF_DONE);
    assert_int_equal(lp2p_perf_server_next(&s, &v), LP2P_PERF_DONE);
    assert_int_equal(c.end_ms - c.upload_done_ms, 2 * ((down + 8191) / 8192));
    assert_int_equal(s.end_ms, c.end_ms);
}

static void test_zero_sizes_and_errors(void **state)
{
    lp2p_perf_client c;
    lp2p_perf_server s;
    lp2p_view v;
    lp2p_perf_client_init(&c, 0, 0, 0, 0);
    lp2p_perf_server_init(&s, 0, 0, 0);
    assert_int_equal(lp2p_perf_client_next(&c, &v), LP2P_PERF_WRITE);
    assert_int_equal(lp2p_perf_server_recv(&s, v.ptr, v.len, 0), 0);
    assert_int_equal(lp2p_perf_client_sent(&c, v.len, 0), 0);
    assert_int_equal(lp2p_perf_client_next(&c, &v), LP2P_PERF_CLOSE_WRITE);
    assert_int_equal(lp2p_perf_client_sent(&c, 1, 0), LP2P_ERR_STATE);
    assert_int_equal(lp2p_perf_client_write_closed(&c, 0), 0);
    assert_int_equal(lp2p_perf_server_eof(&s, 0), 0);
    assert_int_equal(lp2p_perf_server_next(&s, &v), LP2P_PERF_CLOSE_WRITE);
    assert_int_equal(lp2p_perf_server_write_closed(&s, 0), 0);
    assert_int_equal(lp2p_perf_client_eof(&c, 0), 0);

    /* server: header cut short by EOF */
    lp2p_perf_server_init(&s, 0, 0, 0);
    assert_int_equal(lp2p_perf_server_recv(&s, (const uint8_t *)"\0\0\0", 3, 0), 0);
    assert_int_equal(lp2p_perf_server_eof(&s, 0), LP2P_ERR_DECODE);

    /* server: request above max_send */
    lp2p_perf_server_init(&s, 1000, 0, 0);
    const uint8_t big[8] = {0, 0, 0, 0, 0, 0, 0x03, 0xe9}; /* 1001 */
    assert_int_equal(lp2p_perf_server_recv(&s, big, 8, 0), LP2P_ERR_LIMIT);

    /* client: the server sends more than requested / closes early / sends during upload */
    lp2p_perf_client_init(&c, 0, 10, 0, 0);
    uint8_t junk[11] = {0};
    assert_int_equal(lp2p_perf_client_recv(&c, junk, 1, 0), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_perf_client_sent(&c, 8, 0), 0);
    assert_int_equal(lp2p_perf_client_write_closed(&c, 0), 0);
    assert_int_equal(lp2p_perf_client_recv(&c, junk, 11, 0), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_perf_client_recv(&c, junk, 9, 0), 0);
    assert_int_equal(lp2p_perf_client_eof(&c, 0), LP2P_ERR_DECODE);
}

/* Refusals reach the caller's trace sink (the perf services log them): why, with the numbers. */
static void test_refusals_are_traced(void **state)
{
    trec_log log;
    lp2p_perf_server s;
    lp2p_perf_server_init(&s, 1000, 0, 0);
    s.trace = trec_trace(&log);
    const uint8_t big[8] = {0, 0, 0, 0, 0, 0, 0x03, 0xe9}; /* 1001 */
    assert_int_equal(lp2p_perf_server_recv(&s, big, 8, 0), LP2P_ERR_LIMIT);
    const trec *r = trec_find(&log, "perf_rejected");
    assert_int_equal(r->level, LP2P_WARN);
    assert_string_equal(trec_str(r, "reason"), "request above max_send");
    assert_int_equal(trec_u(r, "requested"), 1001);

    lp2p_perf_client c;
    lp2p_perf_client_init(&c, 0, 10, 0, 0);
    c.trace = trec_trace(&log);
    assert_int_equal(lp2p_perf_client_sent(&c, 8, 0), 0);
    assert_int_equal(lp2p_perf_client_write_closed(&c, 0), 0);
    uint8_t junk[4] = {0};
    assert_int_equal(lp2p_perf_client_recv(&c, junk, 4, 0), 0);
    assert_int_equal(log.n, 0);
    assert_int_equal(lp2p_perf_client_eof(&c, 0), LP2P_ERR_DECODE);
    r = trec_find(&log, "perf_rejected");
    assert_string_equal(trec_str(r, "reason"), "server closed early");
    assert_int_equal(trec_u(r, "downloaded"), 4);
    assert_int_equal(trec_u(r, "requested"), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_then_download),
        cmocka_unit_test(test_zero_sizes_and_errors),
        cmocka_unit_test(test_refusals_are_traced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
