/* DCUtR: B and A in one process with a fake clock: the CONNECT/CONNECT/SYNC exchange on the
 * wire, RTT and dial times, address filtering, retries with fresh RTTs, bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "proto/dcutr.h"
#include "test_trace.h"
#include "util/uvarint.h"

/* /ip4/198.51.100.7/tcp/4001 */
static const uint8_t B_TCP[] = {0x04, 198, 51, 100, 7, 0x06, 0x0f, 0xa1};
/* /ip4/198.51.100.9/tcp/5001 */
static const uint8_t A_TCP[] = {0x04, 198, 51, 100, 9, 0x06, 0x13, 0x89};
/* /ip4/198.51.100.1/tcp/4001/p2p-circuit */
static const uint8_t CIRCUIT[] = {0x04, 198, 51, 100, 1, 0x06, 0x0f, 0xa1, 0xa2, 0x02};
/* /ip4/1.2.3.4/udp/4001 (not TCP: not a candidate for us) */
static const uint8_t UDP[] = {0x04, 1, 2, 3, 4, 0x91, 0x02, 0x0f, 0xa1};

static void init_b(lp2p_dcutr *b)
{
    const uint8_t *addrs[] = {CIRCUIT, B_TCP, UDP};
    const size_t lens[] = {sizeof(CIRCUIT), sizeof(B_TCP), sizeof(UDP)};
    assert_int_equal(lp2p_dcutr_init(b, LP2P_DCUTR_B, addrs, lens, 3, 0, 0, NULL), 0);
    assert_int_equal(b->nown, 1);
}

static void init_a(lp2p_dcutr *a, uint64_t now)
{
    const uint8_t *addrs[] = {A_TCP, CIRCUIT};
    const size_t lens[] = {sizeof(A_TCP), sizeof(CIRCUIT)};
    assert_int_equal(lp2p_dcutr_init(a, LP2P_DCUTR_A, addrs, lens, 2, 0, now, NULL), 0);
}

static int pump(lp2p_dcutr *from, lp2p_dcutr *to, uint64_t now)
{
    size_t n = lp2p_buf_size(&from->out);
    int rc = lp2p_dcutr_recv(to, lp2p_buf_head(&from->out), n, now);
    lp2p_buf_consume(&from->out, n);
    return rc;
}

/* One attempt with one-way delay `ow`: returns B's and A's events. */
static void one_attempt(lp2p_dcutr *b, uint64_t *now, uint64_t ow, lp2p_dcutr_event *evb,
                        lp2p_dcutr_event *eva, lp2p_dcutr *a)
{
    init_a(a, *now);
    assert_int_equal(lp2p_dcutr_start_attempt(b, *now), 0);
    uint64_t t0 = *now;
    *now += ow;
    assert_int_equal(pump(b, a, *now), 0);
    assert_int_equal(a->state, LP2P_DCUTR_WAIT_SYNC);
    *now += ow;
    assert_int_equal(pump(a, b, *now), 0);
    assert_int_equal(b->rtt_ms, *now - t0);
    assert_int_equal(b->state, LP2P_DCUTR_WAIT_DIAL);
    assert_int_equal(lp2p_dcutr_next_deadline(b), *now + ow); /* now + RTT/2 */
    uint64_t dial_at = *now + ow;
    *now += ow;
    assert_int_equal(pump(b, a, *now), 0);
    assert_int_equal(lp2p_dcutr_poll(a, eva), 1); /* A dials on SYNC */
    assert_int_equal(lp2p_dcutr_tick(b, dial_at - 1), 0);
    assert_int_equal(lp2p_dcutr_poll(b, evb), 0);
    assert_int_equal(lp2p_dcutr_tick(b, dial_at), 0);
    assert_int_equal(lp2p_dcutr_poll(b, evb), 1); /* B dials at the same moment */
    assert_int_equal(lp2p_dcutr_poll(b, evb + 1), 0);
}

static void test_full_exchange_on_the_wire(void **state)
{
    lp2p_dcutr b, a;
    init_b(&b);
    init_a(&a, 1000);
    assert_int_equal(lp2p_dcutr_start_attempt(&b, 1000), 0);
    /* CONNECT{ObsAddrs=[B_TCP]}: the circuit and UDP addresses were filtered out. The body is
     * what js-libp2p's encoder (@libp2p/dcutr pb) writes for the same message. */
    const uint8_t want_connect[] = {0x0c, 0x08, 0x64, 0x12, 0x08, 0x04, 198,
                                    51,   100,  7,    0x06, 0x0f, 0xa1};
    assert_int_equal(lp2p_buf_size(&b.out), sizeof(want_connect));
    assert_memory_equal(lp2p_buf_head(&b.out), want_connect, sizeof(want_connect));
    assert_int_equal(lp2p_dcutr_next_deadline(&b), 1000 + LP2P_DCUTR_TIMEOUT_MS);

    assert_int_equal(pump(&b, &a, 1030), 0);
    const uint8_t want_reply[] = {0x0c, 0x08, 0x64, 0x12, 0x08, 0x04, 198,
                                  51,   100,  9,    0x06, 0x13, 0x89};
    assert_int_equal(lp2p_buf_size(&a.out), sizeof(want_reply));
    assert_memory_equal(lp2p_buf_head(&a.out), want_reply, sizeof(want_reply));

    assert_int_equal(pump(&a, &b, 1060), 0);
    assert_int_equal(b.rtt_ms, 60);
    const uint8_t want_sync[] = {0x03, 0x08, 0xac, 0x02}; /* type 300 */
    assert_int_equal(lp2p_buf_size(&b.out), sizeof(want_sync));
    assert_memory_equal(lp2p_buf_head(&b.out), want_sync, sizeof(want_sync));
    assert_int_equal(lp2p_dcutr_next_deadline(&b), 1090);

    lp2p_dcutr_event ev;
    assert_int_equal(lp2p_dcutr_poll(&a, &ev), 0);
    assert_int_equal(pump(&b, &a, 1090), 0);
    assert_int_equal(lp2p_dcutr_poll(&a, &ev), 1);
    assert_int_equal(ev.naddrs, 1);
    assert_int_equal(ev.addr_lens[0], sizeof(B_TCP));
    assert_memory_equal(ev.addrs[0], B_TCP, sizeof(B_TCP));
    assert_int_equal(ev.noise_initiator, 1);
    assert_int_equal(ev.try_swapped, 0);
    assert_int_equal(ev.rtt_ms, 60);
    assert_int_equal(a.state, LP2P_DCUTR_DIALING);

    assert_int_equal(lp2p_dcutr_tick(&b, 1089), 0);
    assert_int_equal(lp2p_dcutr_poll(&b, &ev), 0);
    assert_int_equal(lp2p_dcutr_tick(&b, 1090), 0);
    assert_int_equal(lp2p_dcutr_poll(&b, &ev), 1);
    assert_int_equal(ev.naddrs, 1);
    assert_memory_equal(ev.addrs[0], A_TCP, sizeof(A_TCP));
    assert_int_equal(ev.noise_initiator, 0);
    assert_int_equal(ev.attempt, 1);
    assert_int_equal(ev.rtt_ms, 60);
    assert_int_equal(ev.try_swapped, 0);
    assert_int_equal(lp2p_dcutr_next_deadline(&b), UINT64_MAX);
    lp2p_dcutr_succeeded(&b);
    assert_int_equal(b.state, LP2P_DCUTR_DONE);
    assert_int_equal(lp2p_dcutr_start_attempt(&b, 2000), LP2P_ERR_STATE);
    lp2p_dcutr_free(&a);
    lp2p_dcutr_free(&b);
}

static void test_three_attempts_fresh_rtt_then_swapped(void **state)
{
    lp2p_dcutr b, a;
    init_b(&b);
    uint64_t now = 5000;
    const uint64_t ow[] = {20, 75, 5};
    for (int i = 0; i < 3; i++) {
        lp2p_dcutr_event evb[2], eva;
        one_attempt(&b, &now, ow[i], evb, &eva, &a);
        assert_int_equal(evb[0].attempt, i + 1);
        assert_int_equal(evb[0].rtt_ms, 2 * ow[i]);
        assert_int_equal(eva.rtt_ms, 2 * ow[i]);
        assert_int_equal(evb[0].try_swapped, i == 2);
        assert_int_equal(eva.try_swapped, 0);
        lp2p_dcutr_free(&a);
        now += 10000; /* the dial timed out */
        assert_int_equal(lp2p_dcutr_attempt_failed(&b), i < 2);
    }
    assert_int_equal(b.state, LP2P_DCUTR_FAILED);
    assert_int_equal(lp2p_dcutr_start_attempt(&b, now), LP2P_ERR_STATE);
    lp2p_dcutr_free(&b);
}

static void test_timeout_then_retry(void **state)
{
    lp2p_dcutr b;
    init_b(&b);
    assert_int_equal(lp2p_dcutr_start_attempt(&b, 100), 0);
    assert_int_equal(lp2p_dcutr_tick(&b, 100 + LP2P_DCUTR_TIMEOUT_MS - 1), 0);
    assert_int_equal(lp2p_dcutr_tick(&b, 100 + LP2P_DCUTR_TIMEOUT_MS), LP2P_ERR_TIMEOUT);
    assert_int_equal(lp2p_dcutr_attempt_failed(&b), 1);
    /* the next attempt starts on a clean stream: only the new CONNECT is queued */
    assert_int_equal(lp2p_dcutr_start_attempt(&b, 20000), 0);
    assert_int_equal(lp2p_buf_size(&b.out), 13);
    assert_int_equal(b.attempt, 2);

    /* A that never gets SYNC times out too */
    lp2p_dcutr a;
    init_a(&a, 20000);
    assert_int_equal(pump(&b, &a, 20010), 0);
    assert_int_equal(lp2p_dcutr_next_deadline(&a), 20010 + LP2P_DCUTR_TIMEOUT_MS);
    assert_int_equal(lp2p_dcutr_tick(&a, 20010 + LP2P_DCUTR_TIMEOUT_MS), LP2P_ERR_TIMEOUT);
    assert_int_equal(lp2p_dcutr_attempt_failed(&a), 0); /* A never retries by itself */
    lp2p_dcutr_free(&a);
    lp2p_dcutr_free(&b);
}

static void feed_a(const uint8_t *bytes, size_t n, int want)
{
    lp2p_dcutr a;
    init_a(&a, 0);
    assert_int_equal(lp2p_dcutr_recv(&a, bytes, n, 1), want);
    assert_int_equal(lp2p_dcutr_poll(&a, &(lp2p_dcutr_event){0}), 0);
    lp2p_dcutr_free(&a);
}

static void test_bad_input(void **state)
{
    /* a prefix announcing 4097 bytes: refused before any body arrives */
    uint8_t pre[LP2P_UVARINT_MAX];
    size_t pn = lp2p_uvarint_encode(LP2P_DCUTR_MSG_MAX + 1, pre);
    feed_a(pre, pn, LP2P_ERR_TOO_LARGE);
    /* garbage protobuf */
    feed_a((const uint8_t *)"\x02\xff\xff", 3, LP2P_ERR_DECODE);
    /* required type missing */
    feed_a((const uint8_t *)"\x02\x12\x00", 3, LP2P_ERR_DECODE);
    /* unknown type 5 */
    feed_a((const uint8_t *)"\x02\x08\x05", 3, LP2P_ERR_DECODE);
    /* SYNC before CONNECT */
    feed_a((const uint8_t *)"\x03\x08\xac\x02", 4, LP2P_ERR_DECODE);
    /* CONNECT offering only a relay address */
    const uint8_t only_circuit[] = {0x0e, 0x08, 0x64, 0x12, 0x0a, 0x04, 198, 51,
                                    100,  1,    0x06, 0x0f, 0xa1, 0xa2, 0x02};
    feed_a(only_circuit, sizeof(only_circuit), LP2P_ERR_NA);
    /* CONNECT with no address at all */
    feed_a((const uint8_t *)"\x02\x08\x64", 3, LP2P_ERR_NA);

    /* B: a second CONNECT after SYNC is unexpected */
    lp2p_dcutr b, a;
    init_b(&b);
    init_a(&a, 0);
    assert_int_equal(lp2p_dcutr_start_attempt(&b, 0), 0);
    assert_int_equal(pump(&b, &a, 1), 0);
    lp2p_buf copy;
    lp2p_buf_init(&copy);
    assert_int_equal(lp2p_buf_append(&copy, lp2p_buf_head(&a.out), lp2p_buf_size(&a.out)), 0);
    assert_int_equal(pump(&a, &b, 2), 0);
    assert_int_equal(lp2p_dcutr_recv(&b, lp2p_buf_head(&copy), lp2p_buf_size(&copy), 3),
                     LP2P_ERR_DECODE);
    lp2p_buf_free(&copy);
    lp2p_dcutr_free(&a);
    lp2p_dcutr_free(&b);

    /* B with nothing usable to offer cannot start */
    const uint8_t *addrs[] = {CIRCUIT};
    const size_t lens[] = {sizeof(CIRCUIT)};
    assert_int_equal(lp2p_dcutr_init(&b, LP2P_DCUTR_B, addrs, lens, 1, 0, 0, NULL), 0);
    assert_int_equal(lp2p_dcutr_start_attempt(&b, 0), LP2P_ERR_NA);
    lp2p_dcutr_free(&b);
}

/* Each attempt's details reach the caller's trace sink (the host logs them as dcutr_dial,
 * dcutr_rejected, ... lines): role, attempt, the fresh RTT, how many addresses, swapped roles. */
static void test_attempt_details_are_traced(void **state)
{
    trec_log bl, al;
    lp2p_trace bt = trec_trace(&bl), at = trec_trace(&al);
    lp2p_dcutr b, a;
    const uint8_t *baddrs[] = {CIRCUIT, B_TCP, UDP};
    const size_t blens[] = {sizeof(CIRCUIT), sizeof(B_TCP), sizeof(UDP)};
    assert_int_equal(lp2p_dcutr_init(&b, LP2P_DCUTR_B, baddrs, blens, 3, 0, 0, &bt), 0);
    const trec *r = trec_find(&bl, "dcutr_own_addrs_filtered");
    assert_int_equal(r->level, LP2P_DEBUG);
    assert_int_equal(trec_u(r, "dropped"), 2);
    assert_int_equal(trec_u(r, "kept"), 1);
    uint64_t now = 5000;
    const uint64_t ow[] = {20, 75, 5};
    for (int i = 0; i < 3; i++) {
        bl.n = 0;
        lp2p_dcutr_event evb[2], eva;
        one_attempt(&b, &now, ow[i], evb, &eva, &a);
        assert_int_equal(bl.n, 1);
        r = trec_find(&bl, "dcutr_dial");
        assert_int_equal(r->level, LP2P_INFO);
        assert_string_equal(trec_str(r, "role"), "B");
        assert_int_equal(trec_u(r, "attempt"), i + 1);
        assert_int_equal(trec_u(r, "rtt_ms"), 2 * ow[i]);
        assert_int_equal(trec_u(r, "addrs"), 1);
        assert_int_equal(trec_u(r, "try_swapped"), i == 2);
        lp2p_dcutr_free(&a);
        now += 10000;
        lp2p_dcutr_attempt_failed(&b);
    }
    lp2p_dcutr_free(&b);

    /* A: a SYNC before any CONNECT is refused, and the record says why */
    const uint8_t *aaddrs[] = {A_TCP, CIRCUIT};
    const size_t alens[] = {sizeof(A_TCP), sizeof(CIRCUIT)};
    assert_int_equal(lp2p_dcutr_init(&a, LP2P_DCUTR_A, aaddrs, alens, 2, 0, 0, &at), 0);
    assert_int_equal(trec_u(trec_find(&al, "dcutr_own_addrs_filtered"), "dropped"), 1);
    assert_int_equal(lp2p_dcutr_recv(&a, (const uint8_t *)"\x03\x08\xac\x02", 4, 1),
                     LP2P_ERR_DECODE);
    r = trec_find(&al, "dcutr_rejected");
    assert_int_equal(r->level, LP2P_WARN);
    assert_string_equal(trec_str(r, "role"), "A");
    assert_int_equal(trec_u(r, "attempt"), 1);
    assert_string_equal(trec_str(r, "reason"), "message not expected now");
    assert_string_equal(trec_str(r, "err"), "DECODE");
    lp2p_dcutr_free(&a);

    /* B with nothing usable to offer says so */
    assert_int_equal(lp2p_dcutr_init(&b, LP2P_DCUTR_B, baddrs, blens, 1, 0, 0, &bt), 0);
    assert_int_equal(lp2p_dcutr_start_attempt(&b, 0), LP2P_ERR_NA);
    assert_string_equal(trec_str(trec_find(&bl, "dcutr_no_addrs"), "reason"),
                        "nothing to offer the peer");
    lp2p_dcutr_free(&b);
}

static void test_split_delivery(void **state)
{
    /* every message arrives one byte at a time: same result */
    lp2p_dcutr b, a;
    init_b(&b);
    init_a(&a, 0);
    assert_int_equal(lp2p_dcutr_start_attempt(&b, 0), 0);
    for (size_t i = 0; i < lp2p_buf_size(&b.out); i++)
        assert_int_equal(lp2p_dcutr_recv(&a, lp2p_buf_head(&b.out) + i, 1, 10), 0);
    lp2p_buf_clear(&b.out);
    for (size_t i = 0; i < lp2p_buf_size(&a.out); i++)
        assert_int_equal(lp2p_dcutr_recv(&b, lp2p_buf_head(&a.out) + i, 1, 40), 0);
    assert_int_equal(b.rtt_ms, 40);
    assert_int_equal(lp2p_dcutr_next_deadline(&b), 60);
    lp2p_dcutr_free(&a);
    lp2p_dcutr_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_exchange_on_the_wire),
        cmocka_unit_test(test_three_attempts_fresh_rtt_then_swapped),
        cmocka_unit_test(test_timeout_then_retry),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_split_delivery),
        cmocka_unit_test(test_attempt_details_are_traced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
