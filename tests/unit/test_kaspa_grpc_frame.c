/* gRPC length-prefixed framing with gzip: encode/decode, every split point, limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kaspa/grpc.h"
#include "kaspa/grpc_frame.h" /* src/kaspa/grpc_frame.h */
#include "lp2p/err.h"
#include "util/buf.h"

typedef struct got {
    int n;
    size_t lens[16];
    uint8_t *data[16];
} got;

static int collect(void *u, const uint8_t *m, size_t n)
{
    got *g = u;
    if (g->n >= 16)
        return LP2P_ERR_LIMIT;
    g->lens[g->n] = n;
    g->data[g->n] = malloc(n ? n : 1);
    memcpy(g->data[g->n], m, n);
    g->n++;
    return 0;
}

static void got_free(got *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->data[i]);
    memset(g, 0, sizeof(*g));
}

static void test_identity_frame_bytes(void **state)
{
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(kaspa_grpc_frame_append(&b, (const uint8_t *)"\x08\x96\x01", 3, -1, NULL), 0);
    const uint8_t expect[] = {0x00, 0x00, 0x00, 0x00, 0x03, 0x08, 0x96, 0x01};
    assert_int_equal(lp2p_buf_size(&b), sizeof expect);
    assert_memory_equal(lp2p_buf_head(&b), expect, sizeof expect);
    /* empty message: 5 zero bytes */
    lp2p_buf_clear(&b);
    assert_int_equal(kaspa_grpc_frame_append(&b, NULL, 0, -1, NULL), 0);
    assert_int_equal(lp2p_buf_size(&b), 5);
    kaspa_grpc_deframer d;
    kaspa_grpc_deframer_init(&d, 1024);
    got g = {0};
    assert_int_equal(kaspa_grpc_deframe(&d, lp2p_buf_head(&b), 5, collect, &g), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.lens[0], 0);
    got_free(&g);
    kaspa_grpc_deframer_free(&d);
    lp2p_buf_free(&b);
}

static void test_gzip_roundtrip_every_split(void **state)
{
    uint8_t msg[3000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i % 7 == 0 ? i : 'k');
    lp2p_buf b;
    lp2p_buf_init(&b);
    void *zs = NULL;
    assert_int_equal(kaspa_grpc_frame_append(&b, msg, sizeof msg, 6, &zs), 0);
    assert_int_equal(kaspa_grpc_frame_append(&b, msg, 100, -1, &zs), 0);
    assert_int_equal(kaspa_grpc_frame_append(&b, msg, 10, 1, &zs), 0); /* state reused */
    kaspa_grpc_deflate_free(&zs);
    const uint8_t *w = lp2p_buf_head(&b);
    assert_int_equal(w[0], 1);
    /* The payload is a real gzip member (magic 1f 8b), not zlib or raw deflate. */
    assert_int_equal(w[5], 0x1f);
    assert_int_equal(w[6], 0x8b);
    size_t total = lp2p_buf_size(&b);
    for (size_t split = 0; split <= total; split += (split < 40 ? 1 : 97)) {
        kaspa_grpc_deframer d;
        kaspa_grpc_deframer_init(&d, 1 << 20);
        got g = {0};
        assert_int_equal(kaspa_grpc_deframe(&d, w, split, collect, &g), 0);
        assert_int_equal(kaspa_grpc_deframe(&d, w + split, total - split, collect, &g), 0);
        assert_int_equal(g.n, 3);
        assert_int_equal(d.gzipped, 2);
        assert_int_equal(g.lens[0], sizeof msg);
        assert_memory_equal(g.data[0], msg, sizeof msg);
        assert_int_equal(g.lens[1], 100);
        assert_memory_equal(g.data[1], msg, 100);
        assert_int_equal(g.lens[2], 10);
        got_free(&g);
        kaspa_grpc_deframer_free(&d);
    }
    /* byte at a time */
    kaspa_grpc_deframer d;
    kaspa_grpc_deframer_init(&d, 1 << 20);
    got g = {0};
    for (size_t i = 0; i < total; i++)
        assert_int_equal(kaspa_grpc_deframe(&d, w + i, 1, collect, &g), 0);
    assert_int_equal(g.n, 3);
    got_free(&g);
    kaspa_grpc_deframer_free(&d);
    lp2p_buf_free(&b);
}

static void test_declared_length_over_limit_rejected_before_buffering(void **state)
{
    kaspa_grpc_deframer d;
    kaspa_grpc_deframer_init(&d, 1000);
    got g = {0};
    const uint8_t hdr[] = {0x00, 0x00, 0x00, 0x03, 0xe9}; /* 1001 */
    assert_int_equal(kaspa_grpc_deframe(&d, hdr, 5, collect, &g), LP2P_ERR_TOO_LARGE);
    assert_int_equal(g.n, 0);
    kaspa_grpc_deframer_free(&d);
    /* A 1 GiB declaration within the limit buffers only what arrived. */
    kaspa_grpc_deframer_init(&d, 1u << 30);
    const uint8_t big[] = {0x00, 0x40, 0x00, 0x00, 0x00, 1, 2, 3};
    assert_int_equal(kaspa_grpc_deframe(&d, big, sizeof big, collect, &g), 0);
    assert_true(d.acc.cap < 4096);
    kaspa_grpc_deframer_free(&d);
}

static void test_bad_flag_and_bad_gzip(void **state)
{
    kaspa_grpc_deframer d;
    got g = {0};
    kaspa_grpc_deframer_init(&d, 1000);
    const uint8_t flag2[] = {0x02, 0, 0, 0, 1, 0};
    assert_int_equal(kaspa_grpc_deframe(&d, flag2, sizeof flag2, collect, &g), LP2P_ERR_DECODE);
    kaspa_grpc_deframer_free(&d);
    kaspa_grpc_deframer_init(&d, 1000);
    const uint8_t notgz[] = {0x01, 0, 0, 0, 4, 'a', 'b', 'c', 'd'};
    assert_int_equal(kaspa_grpc_deframe(&d, notgz, sizeof notgz, collect, &g), LP2P_ERR_DECODE);
    kaspa_grpc_deframer_free(&d);
    /* truncated gzip member */
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(kaspa_grpc_frame_append(&b, (const uint8_t *)"hello hello", 11, 6, NULL), 0);
    uint8_t *w = lp2p_buf_head(&b);
    size_t n = lp2p_buf_size(&b);
    w[4] = (uint8_t)(w[4] - 4); /* claim 4 bytes less: CRC/length trailer cut */
    kaspa_grpc_deframer_init(&d, 1000);
    assert_int_equal(kaspa_grpc_deframe(&d, w, n - 4, collect, &g), LP2P_ERR_DECODE);
    assert_int_equal(g.n, 0);
    kaspa_grpc_deframer_free(&d);
    lp2p_buf_free(&b);
}

static void test_gzip_bomb_stops_at_limit(void **state)
{
    size_t big = 8u << 20;
    uint8_t *zeros = calloc(1, big);
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(kaspa_grpc_frame_append(&b, zeros, big, 9, NULL), 0);
    free(zeros);
    assert_true(lp2p_buf_size(&b) < 64 * 1024); /* 8 MiB of zeros compresses to ~8 KiB */
    kaspa_grpc_deframer d;
    kaspa_grpc_deframer_init(&d, 1u << 20); /* 1 MiB limit */
    got g = {0};
    assert_int_equal(kaspa_grpc_deframe(&d, lp2p_buf_head(&b), lp2p_buf_size(&b), collect, &g),
                     LP2P_ERR_TOO_LARGE);
    assert_int_equal(g.n, 0);
    assert_true(d.inflated.cap <= (2u << 20)); /* never inflated far past the limit */
    /* issue 9: the bomb's output was held for the connection's life */
    assert_true(kaspa_grpc_deframer_held(&d) <= KASPA_GRPC_KEEP_BYTES);
    kaspa_grpc_deframer_free(&d);
    lp2p_buf_free(&b);
}

/* A big message is delivered, then its inflate and reassembly buffers go: a peer that sent
 * one large message once must not pin that much memory until it disconnects. */
static void test_buffers_released_after_each_message(void **state)
{
    size_t big = 4u << 20;
    uint8_t *msg = malloc(big);
    for (size_t i = 0; i < big; i++)
        msg[i] = (uint8_t)(i * 2654435761u >> 13); /* compressible, not trivially */
    kaspa_grpc_deframer d;
    kaspa_grpc_deframer_init(&d, 8u << 20);
    for (int level = -1; level <= 1; level += 2) { /* identity, then gzip */
        lp2p_buf b;
        lp2p_buf_init(&b);
        assert_int_equal(kaspa_grpc_frame_append(&b, msg, big, level, NULL), 0);
        got g = {0};
        /* in two pieces, so the frame is reassembled in the deframer's own buffer */
        size_t half = lp2p_buf_size(&b) / 2;
        assert_int_equal(kaspa_grpc_deframe(&d, lp2p_buf_head(&b), half, collect, &g), 0);
        assert_int_equal(
            kaspa_grpc_deframe(&d, lp2p_buf_head(&b) + half, lp2p_buf_size(&b) - half, collect, &g),
            0);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.lens[0], big);
        assert_memory_equal(g.data[0], msg, big);
        assert_true(kaspa_grpc_deframer_held(&d) <= KASPA_GRPC_KEEP_BYTES);
        got_free(&g);
        lp2p_buf_free(&b);
    }
    kaspa_grpc_deframer_free(&d);
    free(msg);
}

static int fail_cb(void *u, const uint8_t *m, size_t n)
{
    (*(int *)u)++;
    return LP2P_ERR_PROTO;
}

static void test_callback_error_propagates(void **state)
{
    lp2p_buf b;
    lp2p_buf_init(&b);
    kaspa_grpc_frame_append(&b, (const uint8_t *)"x", 1, -1, NULL);
    kaspa_grpc_frame_append(&b, (const uint8_t *)"y", 1, -1, NULL);
    kaspa_grpc_deframer d;
    kaspa_grpc_deframer_init(&d, 100);
    int calls = 0;
    assert_int_equal(kaspa_grpc_deframe(&d, lp2p_buf_head(&b), lp2p_buf_size(&b), fail_cb, &calls),
                     LP2P_ERR_PROTO);
    assert_int_equal(calls, 1);
    kaspa_grpc_deframer_free(&d);
    lp2p_buf_free(&b);
}

/* gzip made with zlib (another implementation: tonic and grpc-js use flate2/zlib) into one
 * gRPC frame of flag 1. */
static void zlib_gzip_frame(const uint8_t *msg, size_t len, lp2p_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uLong bound = deflateBound(&zs, len) + 32;
    assert_int_equal(lp2p_buf_reserve(out, 5 + bound), 0);
    uint8_t *h = out->data + out->len;
    zs.next_in = (Bytef *)msg;
    zs.avail_in = (uInt)len;
    zs.next_out = h + 5;
    zs.avail_out = (uInt)bound;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t clen = bound - zs.avail_out;
    deflateEnd(&zs);
    h[0] = 1;
    h[1] = (uint8_t)(clen >> 24);
    h[2] = (uint8_t)(clen >> 16);
    h[3] = (uint8_t)(clen >> 8);
    h[4] = (uint8_t)clen;
    out->len += 5 + clen;
}

/* Our gzip is what zlib reads, and zlib's gzip is what we read. */
static void test_gzip_interop_with_zlib(void **state)
{
    uint8_t msg[5000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i % 11 == 0 ? i * 7 : 'x');
    for (int level = 0; level <= 9; level += 3) {
        lp2p_buf b;
        lp2p_buf_init(&b);
        assert_int_equal(kaspa_grpc_frame_append(&b, msg, sizeof msg, level, NULL), 0);
        const uint8_t *w = lp2p_buf_head(&b);
        size_t clen = (size_t)w[1] << 24 | (size_t)w[2] << 16 | (size_t)w[3] << 8 | w[4];
        assert_int_equal(clen, lp2p_buf_size(&b) - 5);
        uint8_t back[sizeof msg + 16];
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        assert_int_equal(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
        zs.next_in = (Bytef *)w + 5;
        zs.avail_in = (uInt)clen;
        zs.next_out = back;
        zs.avail_out = sizeof back;
        assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
        assert_int_equal(zs.avail_in, 0);
        assert_int_equal(zs.total_out, sizeof msg);
        assert_memory_equal(back, msg, sizeof msg);
        inflateEnd(&zs);
        lp2p_buf_free(&b);
    }
    lp2p_buf b;
    lp2p_buf_init(&b);
    zlib_gzip_frame(msg, sizeof msg, &b);
    zlib_gzip_frame(msg, 0, &b); /* an empty message, gzipped */
    kaspa_grpc_deframer d;
    kaspa_grpc_deframer_init(&d, 1 << 20);
    got g = {0};
    assert_int_equal(kaspa_grpc_deframe(&d, lp2p_buf_head(&b), lp2p_buf_size(&b), collect, &g), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.lens[0], sizeof msg);
    assert_memory_equal(g.data[0], msg, sizeof msg);
    assert_int_equal(g.lens[1], 0);
    got_free(&g);
    kaspa_grpc_deframer_free(&d);
    lp2p_buf_free(&b);
}

/* A bomb whose trailer lies about its size (ISIZE says 100 bytes): decoding still stops at
 * the limit (TOO_LARGE) with no buffer much past it; under a limit it fits in, the lie is a
 * corrupt member (DECODE). Bytes after the member, or a second member, are refused. */
static void test_gzip_lying_trailer_and_trailing_bytes(void **state)
{
    size_t big = 8u << 20;
    uint8_t *zeros = calloc(1, big);
    lp2p_buf b;
    lp2p_buf_init(&b);
    zlib_gzip_frame(zeros, big, &b);
    free(zeros);
    uint8_t *w = lp2p_buf_head(&b);
    size_t n = lp2p_buf_size(&b);
    w[n - 4] = 100, w[n - 3] = 0, w[n - 2] = 0, w[n - 1] = 0;
    kaspa_grpc_deframer d;
    got g = {0};
    kaspa_grpc_deframer_init(&d, 1u << 20);
    assert_int_equal(kaspa_grpc_deframe(&d, w, n, collect, &g), LP2P_ERR_TOO_LARGE);
    assert_int_equal(g.n, 0);
    assert_true(d.inflated.cap <= (2u << 20));
    assert_true(kaspa_grpc_deframer_held(&d) <= KASPA_GRPC_KEEP_BYTES);
    kaspa_grpc_deframer_free(&d);
    kaspa_grpc_deframer_init(&d, 16u << 20);
    assert_int_equal(kaspa_grpc_deframe(&d, w, n, collect, &g), LP2P_ERR_DECODE);
    assert_int_equal(g.n, 0);
    kaspa_grpc_deframer_free(&d);
    lp2p_buf_free(&b);

    /* one member, then 3 stray bytes inside the same gRPC frame */
    lp2p_buf_init(&b);
    zlib_gzip_frame((const uint8_t *)"hello", 5, &b);
    w = lp2p_buf_head(&b);
    size_t clen = lp2p_buf_size(&b) - 5;
    uint8_t framed[256];
    assert_true(clen * 2 + 5 <= sizeof framed);
    memcpy(framed, w, 5 + clen);
    memcpy(framed + 5 + clen, "abc", 3);
    framed[4] = (uint8_t)(clen + 3);
    kaspa_grpc_deframer_init(&d, 1000);
    assert_int_equal(kaspa_grpc_deframe(&d, framed, 5 + clen + 3, collect, &g), LP2P_ERR_DECODE);
    kaspa_grpc_deframer_free(&d);
    /* two members in one frame */
    memcpy(framed + 5 + clen, w + 5, clen);
    framed[4] = (uint8_t)(2 * clen);
    kaspa_grpc_deframer_init(&d, 1000);
    assert_int_equal(kaspa_grpc_deframe(&d, framed, 5 + 2 * clen, collect, &g), LP2P_ERR_DECODE);
    assert_int_equal(g.n, 0);
    kaspa_grpc_deframer_free(&d);
    lp2p_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_frame_bytes),
        cmocka_unit_test(test_gzip_roundtrip_every_split),
        cmocka_unit_test(test_declared_length_over_limit_rejected_before_buffering),
        cmocka_unit_test(test_bad_flag_and_bad_gzip),
        cmocka_unit_test(test_gzip_bomb_stops_at_limit),
        cmocka_unit_test(test_gzip_interop_with_zlib),
        cmocka_unit_test(test_gzip_lying_trailer_and_trailing_bytes),
        cmocka_unit_test(test_buffers_released_after_each_message),
        cmocka_unit_test(test_callback_error_propagates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
