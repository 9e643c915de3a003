/* Relay v2 message codec: exact bytes of the common messages, round trips, 4 KiB cap,
 * malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "proto/relay_msg.h"
#include "util/uvarint.h"

static void body_of(const lp2p_buf *b, const uint8_t **p, size_t *n)
{
    const uint8_t *q = lp2p_buf_head(b), *end = q + lp2p_buf_size(b);
    uint64_t len;
    assert_int_equal(lp2p_uvarint_decode(&q, end, &len), 0);
    assert_int_equal(len, (uint64_t)(end - q));
    *p = q;
    *n = (size_t)len;
}

/* Every body below is byte for byte what js-libp2p's encoder (@libp2p/circuit-relay-v2 pb)
 * produces for the same message (checked with node against tests/interop's node_modules). */
static void test_exact_bytes(void **state)
{
    lp2p_buf b;
    lp2p_buf_init(&b);
    /* hop RESERVE: type 0 must still be on the wire: 08 00 */
    lp2p_relay_msg m = {.kind = LP2P_RELAY_HOP, .type = LP2P_RELAY_RESERVE};
    assert_int_equal(lp2p_relay_msg_encode(&m, &b), 0);
    assert_int_equal(lp2p_buf_size(&b), 3);
    assert_memory_equal(lp2p_buf_head(&b), "\x02\x08\x00", 3);
    lp2p_buf_clear(&b);
    /* hop STATUS OK: 08 02 28 64 */
    assert_int_equal(lp2p_relay_msg_encode_status(LP2P_RELAY_HOP, LP2P_RELAY_STATUS_OK, &b), 0);
    assert_memory_equal(lp2p_buf_head(&b), "\x04\x08\x02\x28\x64", 5);
    lp2p_buf_clear(&b);
    /* stop STATUS OK: type STATUS is 1 in StopMessage, status is field 4: 08 01 20 64 */
    assert_int_equal(lp2p_relay_msg_encode_status(LP2P_RELAY_STOP, LP2P_RELAY_STATUS_OK, &b), 0);
    assert_memory_equal(lp2p_buf_head(&b), "\x04\x08\x01\x20\x64", 5);
    lp2p_buf_clear(&b);
    /* stop CONNECT with peer id 00 02 aa bb and limit {120 s, 131072}:
     * 08 00 | 12 06 0a 04 00 02 aa bb | 1a 06 08 78 10 80 80 08 */
    lp2p_relay_msg c = {.kind = LP2P_RELAY_STOP,
                        .type = LP2P_RELAY_CONNECT,
                        .has_peer = 1,
                        .peer_id = lp2p_view_make("\x00\x02\xaa\xbb", 4),
                        .has_limit = 1,
                        .limit_duration_s = 120,
                        .limit_data = 131072};
    assert_int_equal(lp2p_relay_msg_encode(&c, &b), 0);
    const uint8_t want[] = {0x12, 0x08, 0x00, 0x12, 0x06, 0x0a, 0x04, 0x00, 0x02, 0xaa,
                            0xbb, 0x1a, 0x06, 0x08, 0x78, 0x10, 0x80, 0x80, 0x08};
    assert_int_equal(lp2p_buf_size(&b), sizeof(want));
    assert_memory_equal(lp2p_buf_head(&b), want, sizeof(want));
    /* RESERVE does not exist in StopMessage */
    lp2p_relay_msg bad = {.kind = LP2P_RELAY_STOP, .type = LP2P_RELAY_RESERVE};
    lp2p_buf_clear(&b);
    assert_int_equal(lp2p_relay_msg_encode(&bad, &b), LP2P_ERR_INVAL);
    assert_int_equal(lp2p_buf_size(&b), 0);
    lp2p_buf_free(&b);
}

static void test_roundtrip_reservation(void **state)
{
    const lp2p_view addrs[] = {lp2p_view_make("\x04\x01\x02\x03\x04\x06\x0f\xa1", 8),
                               lp2p_view_make("\x04\x05\x06\x07\x08\x06\x0f\xa2", 8)};
    lp2p_relay_msg m = {.kind = LP2P_RELAY_HOP,
                        .type = LP2P_RELAY_STATUS,
                        .has_status = 1,
                        .status = LP2P_RELAY_STATUS_OK,
                        .has_reservation = 1,
                        .rsv_expire = 1764086400,
                        .rsv_addrs = addrs,
                        .n_rsv_addrs = 2,
                        .has_voucher = 1,
                        .voucher = lp2p_view_make("voucher-bytes", 13),
                        .has_limit = 1,
                        .limit_duration_s = 0, /* no duration limit: field omitted */
                        .limit_data = 4096};
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(lp2p_relay_msg_encode(&m, &b), 0);
    const uint8_t *p;
    size_t n;
    body_of(&b, &p, &n);
    lp2p_relay_msg d;
    assert_int_equal(lp2p_relay_msg_decode(LP2P_RELAY_HOP, p, n, &d), 0);
    assert_int_equal(d.type, LP2P_RELAY_STATUS);
    assert_true(d.has_status);
    assert_int_equal(d.status, LP2P_RELAY_STATUS_OK);
    assert_true(d.has_reservation);
    assert_int_equal(d.rsv_expire, 1764086400);
    assert_int_equal(d.n_rsv_addrs, 2);
    assert_memory_equal(d.rsv_addrs[1].ptr, addrs[1].ptr, 8);
    assert_true(d.has_voucher);
    assert_int_equal(d.voucher.len, 13);
    assert_memory_equal(d.voucher.ptr, "voucher-bytes", 13);
    assert_true(d.has_limit);
    assert_int_equal(d.limit_duration_s, 0);
    assert_int_equal(d.limit_data, 4096);
    assert_false(d.has_peer);
    lp2p_relay_msg_free(&d);

    /* hop CONNECT with peer addrs */
    lp2p_relay_msg c = {.kind = LP2P_RELAY_HOP,
                        .type = LP2P_RELAY_CONNECT,
                        .has_peer = 1,
                        .peer_id = lp2p_view_make("\x00\x01\x07", 3),
                        .peer_addrs = addrs,
                        .n_peer_addrs = 2};
    lp2p_buf_clear(&b);
    assert_int_equal(lp2p_relay_msg_encode(&c, &b), 0);
    body_of(&b, &p, &n);
    assert_int_equal(lp2p_relay_msg_decode(LP2P_RELAY_HOP, p, n, &d), 0);
    assert_int_equal(d.type, LP2P_RELAY_CONNECT);
    assert_true(d.has_peer);
    assert_int_equal(d.peer_id.len, 3);
    assert_int_equal(d.n_peer_addrs, 2);
    assert_memory_equal(d.peer_addrs[0].ptr, addrs[0].ptr, 8);
    assert_false(d.has_reservation);
    assert_false(d.has_limit);
    assert_false(d.has_status);
    lp2p_relay_msg_free(&d);
    lp2p_buf_free(&b);
}

static void test_size_cap(void **state)
{
    uint8_t *big = calloc(1, 5000);
    lp2p_relay_msg m = {.kind = LP2P_RELAY_HOP,
                        .type = LP2P_RELAY_CONNECT,
                        .has_peer = 1,
                        .peer_id = lp2p_view_make(big, 4100)};
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(lp2p_relay_msg_encode(&m, &b), LP2P_ERR_TOO_LARGE);
    assert_int_equal(lp2p_buf_size(&b), 0);
    /* the largest message that fits: 4096 bytes of protobuf */
    m.peer_id.len = 4096 - 2 - 3 - 3; /* 08 01 | 12 len(2) | 0a len(2) */
    assert_int_equal(lp2p_relay_msg_encode(&m, &b), 0);
    const uint8_t *p;
    size_t n;
    body_of(&b, &p, &n);
    assert_int_equal(n, 4096);
    lp2p_relay_msg d;
    assert_int_equal(lp2p_relay_msg_decode(LP2P_RELAY_HOP, p, n, &d), 0);
    lp2p_relay_msg_free(&d);
    assert_int_equal(lp2p_relay_msg_decode(LP2P_RELAY_HOP, big, 4097, &d), LP2P_ERR_TOO_LARGE);
    free(big);
    lp2p_buf_free(&b);
}

static void test_malformed(void **state)
{
    lp2p_relay_msg d;
    /* no type */
    assert_int_equal(lp2p_relay_msg_decode(LP2P_RELAY_HOP, (const uint8_t *)"\x28\x64", 2, &d),
                     LP2P_ERR_DECODE);
    /* unknown type numbers: 3 in hop, 2 in stop */
    assert_int_equal(lp2p_relay_msg_decode(LP2P_RELAY_HOP, (const uint8_t *)"\x08\x03", 2, &d),
                     LP2P_ERR_DECODE);
    assert_int_equal(lp2p_relay_msg_decode(LP2P_RELAY_STOP, (const uint8_t *)"\x08\x02", 2, &d),
                     LP2P_ERR_DECODE);
    /* truncated length-delimited field */
    assert_int_equal(
        lp2p_relay_msg_decode(LP2P_RELAY_HOP, (const uint8_t *)"\x08\x01\x12\x05\x0a", 5, &d),
        LP2P_ERR_DECODE);
    /* the same bytes mean different types in the two kinds */
    assert_int_equal(lp2p_relay_msg_decode(LP2P_RELAY_STOP, (const uint8_t *)"\x08\x01", 2, &d), 0);
    assert_int_equal(d.type, LP2P_RELAY_STATUS);
    lp2p_relay_msg_free(&d);
    assert_int_equal(lp2p_relay_msg_decode(LP2P_RELAY_HOP, (const uint8_t *)"\x08\x01", 2, &d), 0);
    assert_int_equal(d.type, LP2P_RELAY_CONNECT);
    lp2p_relay_msg_free(&d);
    assert_string_equal(lp2p_relay_status_name(204), "NO_RESERVATION");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_roundtrip_reservation),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
