/* uvarint: spec examples, minimality and length limits (multiformats/unsigned-varint). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "util/buf.h"
#include "util/uvarint.h"

static void roundtrip(uint64_t v, const uint8_t *expect, size_t n)
{
    uint8_t out[LP2P_UVARINT_MAX];
    assert_int_equal(lp2p_uvarint_encode(v, out), n);
    assert_memory_equal(out, expect, n);
    assert_int_equal(lp2p_uvarint_len(v), n);
    const uint8_t *p = out;
    uint64_t got = 0;
    assert_int_equal(lp2p_uvarint_decode(&p, out + n, &got), 0);
    assert_int_equal(got, v);
    assert_ptr_equal(p, out + n);
}

static void test_spec_examples(void **state)
{
    roundtrip(1, (const uint8_t[]){0x01}, 1);
    roundtrip(127, (const uint8_t[]){0x7f}, 1);
    roundtrip(128, (const uint8_t[]){0x80, 0x01}, 2);
    roundtrip(255, (const uint8_t[]){0xff, 0x01}, 2);
    roundtrip(300, (const uint8_t[]){0xac, 0x02}, 2);
    roundtrip(16384, (const uint8_t[]){0x80, 0x80, 0x01}, 3);
    /* multiaddr codes: p2p 0x01a5 = a5 03, p2p-circuit 0x0122 = a2 02 */
    roundtrip(0x01a5, (const uint8_t[]){0xa5, 0x03}, 2);
    roundtrip(0x0122, (const uint8_t[]){0xa2, 0x02}, 2);
}

static void test_rejects_non_minimal_and_long(void **state)
{
    uint64_t v;
    const uint8_t nonmin[] = {0x81, 0x00};
    const uint8_t *p = nonmin;
    assert_int_equal(lp2p_uvarint_decode(&p, nonmin + 2, &v), LP2P_ERR_DECODE);
    const uint8_t ten[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    p = ten;
    assert_int_equal(lp2p_uvarint_decode(&p, ten + 10, &v), LP2P_ERR_DECODE);
    const uint8_t partial[] = {0x80, 0x80};
    p = partial;
    assert_int_equal(lp2p_uvarint_decode(&p, partial + 2, &v), LP2P_ERR_AGAIN);
    assert_ptr_equal(p, partial);
}

static void test_buf_queue(void **state)
{
    lp2p_buf b;
    lp2p_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(lp2p_buf_append_uvarint(&b, (uint64_t)i * 1000), 0);
    const uint8_t *p = lp2p_buf_head(&b), *end = p + lp2p_buf_size(&b);
    for (int i = 0; i < 1000; i++) {
        uint64_t v;
        assert_int_equal(lp2p_uvarint_decode(&p, end, &v), 0);
        assert_int_equal(v, (uint64_t)i * 1000);
    }
    lp2p_buf_consume(&b, lp2p_buf_size(&b));
    assert_int_equal(lp2p_buf_size(&b), 0);
    lp2p_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples),
        cmocka_unit_test(test_rejects_non_minimal_and_long),
        cmocka_unit_test(test_buf_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
