/* Yamux 12-byte header codec (libp2p/specs yamux/README.md "Framing"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "proto/yamux_frame.h"

static void test_encode_layout(void **state)
{
    /* WindowUpdate|SYN on stream 1 announcing 768 KiB more: all fields big-endian */
    lp2p_yamux_hdr h = {0, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 1, 0x000c0000};
    uint8_t out[LP2P_YAMUX_HDR_LEN];
    lp2p_yamux_hdr_encode(&h, out);
    const uint8_t expect[] = {0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
                              0x00, 0x01, 0x00, 0x0c, 0x00, 0x00};
    assert_memory_equal(out, expect, sizeof(expect));

    /* GoAway protocol error on the session */
    lp2p_yamux_hdr g = {0, LP2P_YAMUX_GOAWAY, 0, 0, LP2P_YAMUX_GOAWAY_PROTOCOL};
    lp2p_yamux_hdr_encode(&g, out);
    const uint8_t eg[] = {0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_memory_equal(out, eg, sizeof(eg));
}

static void test_roundtrip_extremes(void **state)
{
    const lp2p_yamux_hdr cases[] = {
        {0, LP2P_YAMUX_DATA, 0, 0xfffffffe, 0xffffffff},
        {0, LP2P_YAMUX_PING, LP2P_YAMUX_ACK, 0, 0x12345678},
        {0, LP2P_YAMUX_DATA, LP2P_YAMUX_FIN | LP2P_YAMUX_RST, 0x80000001, 65507},
        {0, LP2P_YAMUX_WINDOW, 0xfff0, 2, 0}, /* unknown flag bits survive */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t raw[LP2P_YAMUX_HDR_LEN];
        lp2p_yamux_hdr_encode(&cases[i], raw);
        lp2p_yamux_hdr d;
        assert_int_equal(lp2p_yamux_hdr_decode(raw, &d), 0);
        assert_int_equal(d.type, cases[i].type);
        assert_int_equal(d.flags, cases[i].flags);
        assert_int_equal(d.stream_id, cases[i].stream_id);
        assert_int_equal(d.length, cases[i].length);
    }
    /* decode reads big-endian: 0x01020304 */
    const uint8_t raw[] = {0, 0, 0, 4, 1, 2, 3, 4, 0, 0, 1, 0};
    lp2p_yamux_hdr d;
    assert_int_equal(lp2p_yamux_hdr_decode(raw, &d), 0);
    assert_int_equal(d.flags, LP2P_YAMUX_FIN);
    assert_int_equal(d.stream_id, 0x01020304);
    assert_int_equal(d.length, 256);
}

static void test_rejects_version_and_type(void **state)
{
    lp2p_yamux_hdr d;
    const uint8_t v1[] = {1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    assert_int_equal(lp2p_yamux_hdr_decode(v1, &d), LP2P_ERR_PROTO);
    const uint8_t t4[] = {0, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    assert_int_equal(lp2p_yamux_hdr_decode(t4, &d), LP2P_ERR_PROTO);
    const uint8_t t255[] = {0, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    assert_int_equal(lp2p_yamux_hdr_decode(t255, &d), LP2P_ERR_PROTO);
    const uint8_t t3[] = {0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    assert_int_equal(lp2p_yamux_hdr_decode(t3, &d), 0);
    assert_int_equal(d.length, LP2P_YAMUX_GOAWAY_INTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_layout),
        cmocka_unit_test(test_roundtrip_extremes),
        cmocka_unit_test(test_rejects_version_and_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
