/* Ping: dialer and responder in one process with a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "crypto/random.h"
#include "lp2p/err.h"
#include "proto/ping.h"
#include "test_trace.h"

/* Moves everything queued in from->out into to, delivered at now. */
static int pump(lp2p_ping *from, lp2p_ping *to, uint64_t now)
{
    size_t n = lp2p_buf_size(&from->out);
    int rc = lp2p_ping_recv(to, lp2p_buf_head(&from->out), n, now);
    lp2p_buf_consume(&from->out, n);
    return rc;
}

static void test_repeated_pings_measure_rtt(void **state)
{
    lp2p_ping d, r;
    lp2p_ping_init(&d, LP2P_PING_DIALER, 0);
    d.rng = LP2P_RNG_OPENSSL;
    lp2p_ping_init(&r, LP2P_PING_RESPONDER, 0);
    uint64_t now = 1000;
    const uint64_t one_way[] = {10, 25, 3};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lp2p_ping_send(&d, NULL, now), 0);
        assert_int_equal(lp2p_buf_size(&d.out), LP2P_PING_SIZE);
        assert_int_equal(lp2p_ping_next_deadline(&d), now + LP2P_PING_TIMEOUT_MS);
        assert_int_equal(lp2p_ping_send(&d, NULL, now), LP2P_ERR_STATE); /* one at a time */
        uint8_t sent[LP2P_PING_SIZE];
        memcpy(sent, lp2p_buf_head(&d.out), LP2P_PING_SIZE);
        now += one_way[i];
        assert_int_equal(pump(&d, &r, now), 0);
        /* the responder echoes the very same bytes */
        assert_int_equal(lp2p_buf_size(&r.out), LP2P_PING_SIZE);
        assert_memory_equal(lp2p_buf_head(&r.out), sent, LP2P_PING_SIZE);
        now += one_way[i];
        assert_int_equal(pump(&r, &d, now), 1);
        assert_int_equal(d.last_rtt_ms, 2 * one_way[i]);
        assert_int_equal(lp2p_ping_next_deadline(&d), UINT64_MAX);
    }
    assert_int_equal(d.count, 3);
    assert_int_equal(r.count, 3);
    assert_int_equal(lp2p_ping_eof(&r), 0);
    assert_int_equal(lp2p_ping_eof(&d), 0);
    lp2p_ping_free(&d);
    lp2p_ping_free(&r);
}

static void test_split_delivery_and_random_payloads(void **state)
{
    lp2p_ping d, r;
    lp2p_ping_init(&d, LP2P_PING_DIALER, 0);
    d.rng = LP2P_RNG_OPENSSL;
    lp2p_ping_init(&r, LP2P_PING_RESPONDER, 0);
    assert_int_equal(lp2p_ping_send(&d, NULL, 0), 0);
    uint8_t first[LP2P_PING_SIZE];
    memcpy(first, lp2p_buf_head(&d.out), LP2P_PING_SIZE);
    /* byte by byte: the responder answers only once 32 bytes are in */
    for (int i = 0; i < LP2P_PING_SIZE; i++) {
        assert_int_equal(lp2p_buf_size(&r.out), 0);
        assert_int_equal(lp2p_ping_recv(&r, lp2p_buf_head(&d.out) + i, 1, 5), 0);
    }
    lp2p_buf_clear(&d.out);
    for (int i = 0; i < LP2P_PING_SIZE - 1; i++)
        assert_int_equal(lp2p_ping_recv(&d, lp2p_buf_head(&r.out) + i, 1, 7), 0);
    assert_int_equal(lp2p_ping_recv(&d, lp2p_buf_head(&r.out) + 31, 1, 9), 1);
    assert_int_equal(d.last_rtt_ms, 9);
    lp2p_buf_clear(&r.out);
    /* the next payload is fresh randomness */
    assert_int_equal(lp2p_ping_send(&d, NULL, 10), 0);
    assert_memory_not_equal(lp2p_buf_head(&d.out), first, LP2P_PING_SIZE);
    lp2p_ping_free(&d);
    lp2p_ping_free(&r);
}

static void test_mismatched_echo_is_an_error(void **state)
{
    lp2p_ping d;
    lp2p_ping_init(&d, LP2P_PING_DIALER, 0);
    d.rng = LP2P_RNG_OPENSSL;
    uint8_t payload[LP2P_PING_SIZE];
    memset(payload, 0xab, sizeof(payload));
    assert_int_equal(lp2p_ping_send(&d, payload, 0), 0);
    payload[17] ^= 1;
    assert_int_equal(lp2p_ping_recv(&d, payload, sizeof(payload), 3), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_ping_send(&d, NULL, 4), LP2P_ERR_STATE);
    lp2p_ping_free(&d);

    /* bytes with no ping outstanding */
    lp2p_ping_init(&d, LP2P_PING_DIALER, 0);
    d.rng = LP2P_RNG_OPENSSL;
    assert_int_equal(lp2p_ping_recv(&d, payload, 1, 0), LP2P_ERR_DECODE);
    lp2p_ping_free(&d);

    /* responder: EOF inside a block */
    lp2p_ping r;
    lp2p_ping_init(&r, LP2P_PING_RESPONDER, 0);
    uint8_t forty[40] = {0};
    assert_int_equal(lp2p_ping_recv(&r, forty, sizeof(forty), 0), 0);
    assert_int_equal(lp2p_buf_size(&r.out), 32);
    assert_int_equal(lp2p_ping_eof(&r), LP2P_ERR_DECODE);
    lp2p_ping_free(&r);
}

static void test_timeout(void **state)
{
    lp2p_ping d;
    lp2p_ping_init(&d, LP2P_PING_DIALER, 0);
    d.rng = LP2P_RNG_OPENSSL;
    assert_int_equal(lp2p_ping_next_deadline(&d), UINT64_MAX);
    assert_int_equal(lp2p_ping_send(&d, NULL, 500), 0);
    assert_int_equal(lp2p_ping_next_deadline(&d), 10500);
    assert_int_equal(lp2p_ping_tick(&d, 10499), 0);
    assert_int_equal(lp2p_ping_tick(&d, 10500), LP2P_ERR_TIMEOUT);
    assert_int_equal(lp2p_ping_next_deadline(&d), UINT64_MAX);
    lp2p_ping_free(&d);

    /* a custom timeout */
    lp2p_ping_init(&d, LP2P_PING_DIALER, 2000);
    d.rng = LP2P_RNG_OPENSSL;
    assert_int_equal(lp2p_ping_send(&d, NULL, 0), 0);
    assert_int_equal(lp2p_ping_tick(&d, 1999), 0);
    assert_int_equal(lp2p_ping_tick(&d, 2000), LP2P_ERR_TIMEOUT);
    lp2p_ping_free(&d);
}

/* The payload comes from the caller's randomness: none installed is an error, not a
 * predictable payload, and the same seed gives the same bytes. */
static void test_payload_from_callers_rng(void **state)
{
    lp2p_ping d;
    lp2p_ping_init(&d, LP2P_PING_DIALER, 0);
    assert_int_equal(lp2p_ping_send(&d, NULL, 0), LP2P_ERR_STATE);
    uint8_t first[LP2P_PING_SIZE];
    for (int run = 0; run < 2; run++) {
        uint64_t seed = 42;
        lp2p_ping_free(&d);
        lp2p_ping_init(&d, LP2P_PING_DIALER, 0);
        d.rng = test_rng(&seed);
        assert_int_equal(lp2p_ping_send(&d, NULL, 0), 0);
        if (run == 0)
            memcpy(first, lp2p_buf_head(&d.out), LP2P_PING_SIZE);
        else
            assert_memory_equal(lp2p_buf_head(&d.out), first, LP2P_PING_SIZE);
    }
    lp2p_ping_free(&d);
}

/* A failure is reported to the caller's trace sink, with the reason (the core logs nothing). */
static void test_failures_are_traced(void **state)
{
    trec_log log;
    lp2p_ping d;
    lp2p_ping_init(&d, LP2P_PING_DIALER, 0);
    d.trace = trec_trace(&log);
    uint8_t payload[LP2P_PING_SIZE];
    memset(payload, 0xab, sizeof(payload));
    assert_int_equal(lp2p_ping_send(&d, payload, 0), 0);
    payload[3] ^= 1;
    assert_int_equal(lp2p_ping_recv(&d, payload, sizeof(payload), 3), LP2P_ERR_DECODE);
    assert_int_equal(log.n, 1);
    const trec *r = trec_find(&log, "ping_failed");
    assert_int_equal(r->level, LP2P_WARN);
    assert_string_equal(trec_str(r, "err"), "DECODE");
    assert_string_equal(trec_str(r, "reason"), "echo differs from the ping");
    lp2p_ping_free(&d);

    lp2p_ping_init(&d, LP2P_PING_DIALER, 1000);
    d.trace = trec_trace(&log);
    assert_int_equal(lp2p_ping_send(&d, payload, 0), 0);
    assert_int_equal(lp2p_ping_tick(&d, 1000), LP2P_ERR_TIMEOUT);
    assert_string_equal(trec_str(trec_find(&log, "ping_failed"), "err"), "TIMEOUT");
    lp2p_ping_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeated_pings_measure_rtt),
        cmocka_unit_test(test_payload_from_callers_rng),
        cmocka_unit_test(test_failures_are_traced),
        cmocka_unit_test(test_split_delivery_and_random_payloads),
        cmocka_unit_test(test_mismatched_echo_is_an_error),
        cmocka_unit_test(test_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
