/* base58btc and base32 (multibase 'b'): published vectors, strictness of decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "util/base32.h"
#include "util/base58.h"

static void b58_roundtrip(const void *bytes, size_t n, const char *text)
{
    char out[512];
    assert_int_equal(lp2p_base58_encode(bytes, n, out, sizeof(out)), (int)strlen(text));
    assert_string_equal(out, text);
    uint8_t back[512];
    assert_int_equal(lp2p_base58_decode(text, strlen(text), back, sizeof(back)), (int)n);
    assert_memory_equal(back, bytes, n);
}

/* draft-msporny-base58 examples and the Bitcoin leading-zero rule. */
static void test_base58_vectors(void **state)
{
    b58_roundtrip("Hello World!", 12, "2NEpo7TZRRrLZSi2U");
    b58_roundtrip("The quick brown fox jumps over the lazy dog.", 44,
                  "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z");
    b58_roundtrip((const uint8_t[]){0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd}, 6, "11233QC4");
    b58_roundtrip((const uint8_t[]){0x00}, 1, "1");
    b58_roundtrip((const uint8_t[]){0x00, 0x00, 0x00}, 3, "111");
    b58_roundtrip((const uint8_t[]){0x39}, 1, "z");
    b58_roundtrip((const uint8_t[]){0x3a}, 1, "21");
}

static void test_base58_rejects(void **state)
{
    uint8_t out[64];
    /* 0, O, I, l are not in the alphabet; neither are spaces or '+'. */
    assert_int_equal(lp2p_base58_decode("0abc", 4, out, sizeof(out)), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_base58_decode("abOc", 4, out, sizeof(out)), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_base58_decode("abIc", 4, out, sizeof(out)), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_base58_decode("abcl", 4, out, sizeof(out)), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_base58_decode("ab c", 4, out, sizeof(out)), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_base58_decode("", 0, out, sizeof(out)), LP2P_ERR_DECODE);
    /* Embedded NUL inside the stated length is rejected, not treated as the end. */
    assert_int_equal(lp2p_base58_decode("ab\0c", 4, out, sizeof(out)), LP2P_ERR_DECODE);
    /* Output too small is reported, not overflowed. */
    assert_int_equal(lp2p_base58_decode("2NEpo7TZRRrLZSi2U", 17, out, 11), LP2P_ERR_TOO_LARGE);
    char small[5];
    assert_int_equal(lp2p_base58_encode((const uint8_t *)"Hello", 5, small, sizeof(small)),
                     LP2P_ERR_TOO_LARGE);
}

static void b32_roundtrip(const char *bytes, const char *text)
{
    size_t n = strlen(bytes);
    char out[128];
    assert_int_equal(lp2p_base32_encoded_len(n), strlen(text));
    assert_int_equal(lp2p_base32_encode((const uint8_t *)bytes, n, out, sizeof(out)),
                     (int)strlen(text));
    assert_string_equal(out, text);
    uint8_t back[128];
    assert_int_equal(lp2p_base32_decode(text, strlen(text), 0, back, sizeof(back)), (int)n);
    assert_memory_equal(back, bytes, n);
}

/* RFC 4648 section 10 vectors, lowercased and without '=' padding (multibase 'b'). */
static void test_base32_rfc4648(void **state)
{
    b32_roundtrip("", "");
    b32_roundtrip("f", "my");
    b32_roundtrip("fo", "mzxq");
    b32_roundtrip("foo", "mzxw6");
    b32_roundtrip("foob", "mzxw6yq");
    b32_roundtrip("fooba", "mzxw6ytb");
    b32_roundtrip("foobar", "mzxw6ytboi");
}

static void test_base32_rejects(void **state)
{
    uint8_t out[64];
    /* padding, impossible lengths (8k+1, 8k+3, 8k+6), characters outside the alphabet */
    assert_int_equal(lp2p_base32_decode("my======", 8, 0, out, sizeof(out)), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_base32_decode("m", 1, 0, out, sizeof(out)), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_base32_decode("mzx", 3, 0, out, sizeof(out)), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_base32_decode("mzxw6y", 6, 0, out, sizeof(out)), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_base32_decode("m1", 2, 0, out, sizeof(out)), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_base32_decode("m8", 2, 0, out, sizeof(out)), LP2P_ERR_DECODE);
    /* "mz": the last 2 of 10 bits are not zero, so it is not the canonical text of any byte */
    assert_int_equal(lp2p_base32_decode("mz", 2, 0, out, sizeof(out)), LP2P_ERR_DECODE);
    /* case: lowercase only unless upper is asked for; never mixed */
    assert_int_equal(lp2p_base32_decode("MY", 2, 0, out, sizeof(out)), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_base32_decode("MY", 2, 1, out, sizeof(out)), 1);
    assert_int_equal(out[0], 'f');
    assert_int_equal(lp2p_base32_decode("MzXQ", 4, 1, out, sizeof(out)), LP2P_ERR_DECODE);
    /* too small an output buffer */
    assert_int_equal(lp2p_base32_decode("mzxw6ytboi", 10, 0, out, 5), LP2P_ERR_TOO_LARGE);
    char small[4];
    assert_int_equal(lp2p_base32_encode((const uint8_t *)"foo", 3, small, sizeof(small)),
                     LP2P_ERR_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base58_vectors),
        cmocka_unit_test(test_base58_rejects),
        cmocka_unit_test(test_base32_rfc4648),
        cmocka_unit_test(test_base32_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
