/* Length-prefixed message reader: every fragmentation, the size bound checked before the
 * body is buffered, bad prefixes, and bytes after a message left to the caller. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "util/buf.h"
#include "wire/lpm.h"

static void test_encode(void **state)
{
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(lp2p_lpm_encode(&b, (const uint8_t *)"abc", 3), 0);
    assert_int_equal(lp2p_buf_size(&b), 4);
    assert_memory_equal(lp2p_buf_head(&b),
                        "\x03"
                        "abc",
                        4);
    lp2p_buf_clear(&b);
    uint8_t big[300];
    memset(big, 7, sizeof(big));
    assert_int_equal(lp2p_lpm_encode(&b, big, sizeof(big)), 0);
    assert_int_equal(lp2p_buf_size(&b), 302);
    assert_int_equal(lp2p_buf_head(&b)[0], 0xac); /* 300 = ac 02 */
    assert_int_equal(lp2p_buf_head(&b)[1], 0x02);
    lp2p_buf_clear(&b);
    assert_int_equal(lp2p_lpm_encode(&b, NULL, 0), 0);
    assert_int_equal(lp2p_buf_size(&b), 1);
    assert_int_equal(lp2p_buf_head(&b)[0], 0);
    lp2p_buf_free(&b);
}

static void test_whole_message_zero_copy_and_leftover(void **state)
{
    const uint8_t in[] = {0x03, 'a', 'b', 'c', 'X', 'Y'};
    lp2p_lpm r;
    lp2p_view m;
    size_t used;
    lp2p_lpm_init(&r, 16);
    assert_int_equal(lp2p_lpm_read(&r, in, sizeof(in), &used, &m), 1);
    assert_int_equal(used, 4); /* "XY" belongs to the caller */
    assert_ptr_equal(m.ptr, in + 1);
    assert_int_equal(m.len, 3);
    assert_memory_equal(m.ptr, "abc", 3);
    assert_false(lp2p_lpm_pending(&r));
    lp2p_lpm_free(&r);
}

/* Builds a stream of messages of lengths lens[], then reads it in chunks of `chunk` bytes. */
static void read_in_chunks(size_t chunk)
{
    static const size_t lens[] = {0, 1, 127, 128, 300, 4096, 5, 0};
    const size_t n = sizeof(lens) / sizeof(lens[0]);
    lp2p_buf s;
    lp2p_buf_init(&s);
    for (size_t i = 0; i < n; i++) {
        uint8_t *body = malloc(lens[i] + 1);
        for (size_t j = 0; j < lens[i]; j++)
            body[j] = (uint8_t)(i * 31 + j);
        assert_int_equal(lp2p_lpm_encode(&s, body, lens[i]), 0);
        free(body);
    }
    lp2p_lpm r;
    lp2p_lpm_init(&r, 4096);
    const uint8_t *p = lp2p_buf_head(&s);
    size_t left = lp2p_buf_size(&s), got = 0;
    while (left > 0) {
        size_t take = left < chunk ? left : chunk;
        const uint8_t *q = p;
        size_t qleft = take;
        while (qleft > 0) {
            size_t used;
            lp2p_view m;
            int rc = lp2p_lpm_read(&r, q, qleft, &used, &m);
            assert_true(rc == 0 || rc == 1);
            assert_true(used <= qleft);
            q += used;
            qleft -= used;
            if (rc == 1) {
                assert_true(got < n);
                assert_int_equal(m.len, lens[got]);
                for (size_t j = 0; j < m.len; j++)
                    assert_int_equal(m.ptr[j], (uint8_t)(got * 31 + j));
                got++;
            } else {
                assert_int_equal(qleft, 0);
            }
        }
        p += take;
        left -= take;
    }
    assert_int_equal(got, n);
    assert_false(lp2p_lpm_pending(&r));
    lp2p_lpm_free(&r);
    lp2p_buf_free(&s);
}

static void test_every_fragmentation(void **state)
{
    static const size_t chunks[] = {1, 2, 3, 7, 64, 129, 1000, 100000};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
        read_in_chunks(chunks[i]);
}

static void test_too_large_before_body(void **state)
{
    lp2p_lpm r;
    lp2p_view m;
    size_t used;
    /* exactly max is fine */
    lp2p_lpm_init(&r, 4096);
    const uint8_t at_max[] = {0x80, 0x20}; /* 4096 */
    assert_int_equal(lp2p_lpm_read(&r, at_max, 2, &used, &m), 0);
    assert_int_equal(used, 2);
    assert_true(lp2p_lpm_pending(&r));
    lp2p_lpm_free(&r);

    /* max + 1, prefix split across two reads, followed by body bytes: refused at the prefix,
     * none of the body taken */
    lp2p_lpm_init(&r, 4096);
    const uint8_t over[] = {0x81, 0x20, 'x', 'x', 'x'}; /* 4097 */
    assert_int_equal(lp2p_lpm_read(&r, over, 1, &used, &m), 0);
    assert_int_equal(used, 1);
    assert_int_equal(lp2p_lpm_read(&r, over + 1, 4, &used, &m), LP2P_ERR_TOO_LARGE);
    assert_int_equal(used, 1);
    assert_int_equal(lp2p_buf_size(&r.acc), 0);
    /* sticky */
    assert_int_equal(lp2p_lpm_read(&r, (const uint8_t *)"\x01x", 2, &used, &m), LP2P_ERR_TOO_LARGE);
    assert_int_equal(used, 0);
    lp2p_lpm_free(&r);

    /* a huge announced length (2^62) is refused without allocation */
    lp2p_lpm_init(&r, 8192);
    const uint8_t huge[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40};
    assert_int_equal(lp2p_lpm_read(&r, huge, sizeof(huge), &used, &m), LP2P_ERR_TOO_LARGE);
    assert_null(r.acc.data);
    lp2p_lpm_free(&r);
}

static void test_bad_prefix(void **state)
{
    lp2p_lpm r;
    lp2p_view m;
    size_t used;
    lp2p_lpm_init(&r, 4096);
    const uint8_t nonmin[] = {0x85, 0x00, 'a'};
    assert_int_equal(lp2p_lpm_read(&r, nonmin, sizeof(nonmin), &used, &m), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_lpm_read(&r, (const uint8_t *)"\x01x", 2, &used, &m), LP2P_ERR_DECODE);
    lp2p_lpm_free(&r);

    /* ten continuation bytes: never a valid uvarint, refused at the 9th */
    lp2p_lpm_init(&r, (size_t)-1);
    uint8_t ten[10];
    memset(ten, 0x80, sizeof(ten));
    assert_int_equal(lp2p_lpm_read(&r, ten, sizeof(ten), &used, &m), LP2P_ERR_DECODE);
    assert_int_equal(used, 9);
    lp2p_lpm_free(&r);
}

static void test_partial_then_more(void **state)
{
    lp2p_lpm r;
    lp2p_view m;
    size_t used;
    lp2p_lpm_init(&r, 100);
    /* "hello" split as 05 'he' | 'llo' 02 'ok' */
    assert_int_equal(lp2p_lpm_read(&r, (const uint8_t *)"\x05he", 3, &used, &m), 0);
    assert_int_equal(used, 3);
    assert_true(lp2p_lpm_pending(&r));
    const uint8_t rest[] = {'l', 'l', 'o', 0x02, 'o', 'k'};
    assert_int_equal(lp2p_lpm_read(&r, rest, sizeof(rest), &used, &m), 1);
    assert_int_equal(used, 3);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.ptr, "hello", 5);
    assert_int_equal(lp2p_lpm_read(&r, rest + 3, 3, &used, &m), 1);
    assert_int_equal(used, 3);
    assert_memory_equal(m.ptr, "ok", 2);
    assert_int_equal(lp2p_lpm_read(&r, rest, 0, &used, &m), 0);
    assert_int_equal(used, 0);
    assert_false(lp2p_lpm_pending(&r));
    lp2p_lpm_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_whole_message_zero_copy_and_leftover),
        cmocka_unit_test(test_every_fragmentation),
        cmocka_unit_test(test_too_large_before_body),
        cmocka_unit_test(test_bad_prefix),
        cmocka_unit_test(test_partial_then_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
