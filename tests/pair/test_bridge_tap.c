/* The bridge's passive Version tap (src/kaspa/bridge_tap.c) on real bytes: a Kaspa client
 * and server session (src/kaspa/session.c over grpc.c, nghttp2) handshake and ping in memory;
 * every byte each way is recorded and fed to a tap, whole, byte by byte and in odd chunks,
 * with gzip on and off. Then hand-made HTTP/2: PADDED DATA, malformed input, the budget. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaspa/kaspa_p2p.pb-c.h" /* the fields of kaspa_msg */
#include "crypto/random.h"
#include "kaspa/bridge_tap.h"
#include "kaspa/kaspa_p2p.pb-c.h"
#include "kaspa/grpc.h"
#include "kaspa/msg.h"
#include "kaspa/session.h"
#include "lp2p/err.h"

typedef struct rec {
    int ready, pings;
} rec;

static void on_event(void *u, kaspa_session *s, const kaspa_event *ev)
{
    rec *r = u;
    if (ev->type == KASPA_EV_READY)
        r->ready++;
    if (ev->type == KASPA_EV_PING)
        r->pings++;
}

/* Moves bytes both ways until quiet, recording each direction. */
/* Moves what from has to say into to, recording it; returns how many bytes moved. */
static size_t move(kaspa_session *from, kaspa_session *to, lp2p_buf *record, uint64_t now)
{
    lp2p_buf *o = kaspa_session_out(from);
    size_t n = lp2p_buf_size(o);
    if (!n)
        return 0;
    lp2p_buf_append(record, lp2p_buf_head(o), n);
    uint8_t *tmp = malloc(n);
    memcpy(tmp, lp2p_buf_head(o), n);
    lp2p_buf_consume(o, n);
    kaspa_session_recv(to, tmp, n, now);
    free(tmp);
    return n;
}

static void pump(kaspa_session *c, kaspa_session *s, lp2p_buf *c2s, lp2p_buf *s2c, uint64_t now)
{
    for (int i = 0; i < 100000; i++) {
        size_t moved = move(c, s, c2s, now);
        moved += move(s, c, s2c, now);
        if (!moved)
            return;
    }
    fail_msg("pump did not settle");
}

/* A real session's bytes: client (UA "/tap-client:1/", protocol 10) and server (UA
 * "/tap-server:2/", protocol 11) through Ready and two pings. */
static void record_session(int gzip, lp2p_buf *c2s, lp2p_buf *s2c, int *gzipped_in)
{
    kaspa_hub *hc, *hs;
    assert_int_equal(kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL), 0);
    assert_int_equal(kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL), 0);
    kaspa_session_config cc, sc;
    kaspa_session_config_default(&cc, hc, KASPA_H2_PROFILE_TCP);
    kaspa_session_config_default(&sc, hs, KASPA_H2_PROFILE_TCP);
    assert_int_equal(kaspa_addr_parse("127.0.0.1:16111", &cc.peer_addr), 0);
    assert_int_equal(kaspa_addr_parse("127.0.0.1:40000", &sc.peer_addr), 0);
    cc.rng = sc.rng = LP2P_RNG_OPENSSL; /* trace left zero: silent */
    cc.user_agent = "/tap-client:1/";
    sc.user_agent = "/tap-server:2/";
    cc.protocol_version = 10;
    sc.protocol_version = 11;
    cc.grpc.gzip = sc.grpc.gzip = gzip;
    rec rc = {0}, rs = {0};
    kaspa_session_callbacks cb = {on_event};
    kaspa_session *s, *c;
    assert_int_equal(kaspa_session_new(&s, &sc, KASPA_SERVER, &cb, &rs, 0), 0);
    assert_int_equal(kaspa_session_new(&c, &cc, KASPA_CLIENT, &cb, &rc, 0), 0);
    pump(c, s, c2s, s2c, 1);
    assert_int_equal(rc.ready, 1);
    assert_int_equal(rs.ready, 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(kaspa_session_ping(c, 10 + i), 0);
        pump(c, s, c2s, s2c, 11 + i);
    }
    assert_int_equal(rc.pings, 2);
    kaspa_session_stats st;
    kaspa_session_get_stats(s, &st);
    *gzipped_in = st.msgs_in_gzip > 0;
    kaspa_session_del(c);
    kaspa_session_del(s);
    kaspa_hub_del(hc);
    kaspa_hub_del(hs);
}

/* Feeds b to a fresh tap in pieces of `step` (0: all at once; SIZE_MAX: varying). */
static kaspa_tap_state tap_run(const lp2p_buf *b, int client_side, size_t step, kaspa_tap *t)
{
    kaspa_tap_init(t, client_side);
    const uint8_t *p = lp2p_buf_head(b);
    size_t n = lp2p_buf_size(b), off = 0;
    kaspa_tap_state st = KASPA_TAP_RUNNING;
    for (unsigned k = 0; off < n && st == KASPA_TAP_RUNNING; k++) {
        size_t m = step == 0 ? n : step == SIZE_MAX ? 1 + (k * 7919) % 613 : step;
        if (m > n - off)
            m = n - off;
        st = kaspa_tap_feed(t, p + off, m);
        off += m;
    }
    kaspa_tap_free(t);
    return st;
}

static void check_both_ways(int gzip)
{
    lp2p_buf c2s, s2c;
    lp2p_buf_init(&c2s);
    lp2p_buf_init(&s2c);
    int gzipped = 0;
    record_session(gzip, &c2s, &s2c, &gzipped);
    assert_int_equal(gzipped, gzip); /* the messages really were (not) compressed */
    const size_t steps[] = {0, 1, SIZE_MAX, 9, 4096};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        kaspa_tap t;
        assert_int_equal(tap_run(&c2s, 1, steps[i], &t), KASPA_TAP_FOUND);
        assert_string_equal(t.version.user_agent, "/tap-client:1/");
        assert_string_equal(t.version.network, "kaspa-mainnet");
        assert_int_equal(t.version.protocol_version, 10);
        assert_true(t.seen < lp2p_buf_size(&c2s)); /* stopped at the Version */
        assert_int_equal(tap_run(&s2c, 0, steps[i], &t), KASPA_TAP_FOUND);
        assert_string_equal(t.version.user_agent, "/tap-server:2/");
        assert_int_equal(t.version.protocol_version, 11);
    }
    /* The direction matters: server bytes do not start with the client preface. */
    kaspa_tap t;
    assert_int_equal(tap_run(&s2c, 1, 0, &t), KASPA_TAP_MALFORMED);
    assert_int_equal(tap_run(&c2s, 0, 0, &t), KASPA_TAP_MALFORMED);
    const char *dir = getenv("TAP_WRITE_CORPUS"); /* regenerates fuzz/corpus/fuzz_bridge_tap */
    if (dir) {
        const lp2p_buf *bs[2] = {&s2c, &c2s};
        for (int side = 0; side < 2; side++) {
            char path[512];
            snprintf(path, sizeof path, "%s/session_%s_%s", dir, side ? "client" : "server",
                     gzip ? "gzip" : "identity");
            FILE *f = fopen(path, "wb");
            assert_non_null(f);
            uint8_t first = (uint8_t)side;
            fwrite(&first, 1, 1, f);
            fwrite(lp2p_buf_head(bs[side]), 1, lp2p_buf_size(bs[side]), f);
            fclose(f);
        }
    }
    lp2p_buf_free(&c2s);
    lp2p_buf_free(&s2c);
}

static void test_real_session_gzip(void **state)
{
    check_both_ways(1);
}

static void test_real_session_identity(void **state)
{
    check_both_ways(0);
}

static void frame(lp2p_buf *b, uint32_t len, uint8_t type, uint8_t flags, uint32_t sid)
{
    uint8_t h[9] = {
        (uint8_t)(len >> 16), (uint8_t)(len >> 8),  (uint8_t)len,        type,        flags,
        (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
    lp2p_buf_append(b, h, 9);
}

/* A gRPC-framed Version (user agent ua), gzip'd when gzip_level >= 0. */
static void version_msg(lp2p_buf *out, const char *ua, int gzip_level)
{
    Protowire__VersionMessage v = PROTOWIRE__VERSION_MESSAGE__INIT;
    v.protocolversion = 7;
    v.useragent = (char *)ua;
    v.network = "kaspa-testnet-10";
    kaspa_msg m = PROTOWIRE__KASPAD_MESSAGE__INIT;
    m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION;
    m.version = &v;
    lp2p_buf pb;
    lp2p_buf_init(&pb);
    assert_int_equal(kaspa_msg_encode(&m, &pb), 0);
    void *zs = NULL;
    assert_int_equal(
        kaspa_grpc_frame_append(out, lp2p_buf_head(&pb), lp2p_buf_size(&pb), gzip_level, &zs), 0);
    kaspa_grpc_deflate_free(&zs);
    lp2p_buf_free(&pb);
}

static void test_padded_data_other_streams_and_frames(void **state)
{
    lp2p_buf b, msg;
    lp2p_buf_init(&b);
    lp2p_buf_init(&msg);
    version_msg(&msg, "/padded:3/", 6);
    frame(&b, 6, 0x4, 0, 0); /* SETTINGS */
    lp2p_buf_append(&b, "\0\x03\0\0\0\x64", 6);
    frame(&b, 3, 0x1, 0x4, 3); /* HEADERS on stream 3 (payload never decoded) */
    lp2p_buf_append(&b, "\x88\x40\x01", 3);
    frame(&b, 4, 0x0, 0, 5); /* DATA on another stream: ignored */
    lp2p_buf_append(&b, "\0\0\0\0", 4);
    /* PADDED DATA on stream 3: [pad 10] first 4 message bytes [10 pad bytes] */
    frame(&b, 1 + 4 + 10, 0x0, 0x8, 3);
    lp2p_buf_append_byte(&b, 10);
    lp2p_buf_append(&b, lp2p_buf_head(&msg), 4);
    lp2p_buf_append(&b, "PPPPPPPPPP", 10);
    frame(&b, 8, 0x6, 0, 0); /* PING between the pieces */
    lp2p_buf_append(&b, "12345678", 8);
    size_t rest = lp2p_buf_size(&msg) - 4;
    frame(&b, (uint32_t)rest + 1, 0x0, 0x8, 3); /* PADDED with zero padding */
    lp2p_buf_append_byte(&b, 0);
    lp2p_buf_append(&b, lp2p_buf_head(&msg) + 4, rest);
    kaspa_tap t;
    assert_int_equal(tap_run(&b, 0, 0, &t), KASPA_TAP_FOUND);
    assert_string_equal(t.version.user_agent, "/padded:3/");
    assert_string_equal(t.version.network, "kaspa-testnet-10");
    assert_int_equal(t.version.protocol_version, 7);
    assert_int_equal(tap_run(&b, 0, 1, &t), KASPA_TAP_FOUND);
    lp2p_buf_free(&b);
    lp2p_buf_free(&msg);
}

/* The server side's bytes: SETTINGS, then one frame of `type`/`flags` on stream 1 carrying
 * payload; the verdict of a fresh tap on them. */
static kaspa_tap_state server_frame(int settings_first, uint8_t type, uint8_t flags,
                                    const void *payload, size_t n)
{
    lp2p_buf b;
    lp2p_buf_init(&b);
    if (settings_first)
        frame(&b, 0, 0x4, 0, 0);
    frame(&b, (uint32_t)n, type, flags, 1);
    lp2p_buf_append(&b, payload, n);
    kaspa_tap t;
    kaspa_tap_state st = tap_run(&b, 0, 0, &t);
    lp2p_buf_free(&b);
    return st;
}

static void test_malformed_ends_the_tap(void **state)
{
    /* pad length >= frame length */
    assert_int_equal(server_frame(1, 0x0, 0x8, "\x03xy", 3), KASPA_TAP_MALFORMED);
    /* the first frame is not SETTINGS */
    assert_int_equal(server_frame(0, 0x0, 0, "\0\0\0\0", 4), KASPA_TAP_MALFORMED);
    /* a gRPC message declared over the tap's bound: refused before buffering */
    assert_int_equal(server_frame(1, 0x0, 0, "\x00\x00\x01\x00\x01", 5), KASPA_TAP_MALFORMED);
    /* not protobuf */
    assert_int_equal(server_frame(1, 0x0, 0, "\x00\x00\x00\x00\x03\xff\xff\xff", 8),
                     KASPA_TAP_MALFORMED);
    /* a gzip bomb: 1 MiB of zeros squeezed in ~1 KiB; inflation stops at the bound */
    uint8_t *zeros = calloc(1, 1u << 20);
    lp2p_buf framed;
    lp2p_buf_init(&framed);
    void *zs = NULL;
    assert_int_equal(kaspa_grpc_frame_append(&framed, zeros, 1u << 20, 9, &zs), 0);
    kaspa_grpc_deflate_free(&zs);
    free(zeros);
    assert_true(lp2p_buf_size(&framed) < 8192);
    assert_int_equal(server_frame(1, 0x0, 0, lp2p_buf_head(&framed), lp2p_buf_size(&framed)),
                     KASPA_TAP_MALFORMED);
    lp2p_buf_free(&framed);
    /* a wrong client preface; after stopping, more bytes change nothing */
    const char *http1 = "GET / HTTP/1.1\r\n\r\n";
    kaspa_tap t;
    kaspa_tap_init(&t, 1);
    assert_int_equal(kaspa_tap_feed(&t, (const uint8_t *)http1, 18), KASPA_TAP_MALFORMED);
    assert_int_equal(kaspa_tap_feed(&t, (const uint8_t *)http1, 18), KASPA_TAP_MALFORMED);
    assert_int_equal(t.seen, 18);
    kaspa_tap_free(&t);
}

static void test_budget(void **state)
{
    /* 2 MiB of frames that are never DATA for the stream: the tap looks at 1 MiB, then stops
     * and looks at nothing more. */
    lp2p_buf b;
    lp2p_buf_init(&b);
    uint8_t junk[16384];
    memset(junk, 'j', sizeof junk);
    frame(&b, 0, 0x4, 0, 0);
    while (lp2p_buf_size(&b) < (2u << 20)) {
        frame(&b, sizeof junk, 0x8 /* WINDOW_UPDATE-typed, any length walked */, 0, 0);
        lp2p_buf_append(&b, junk, sizeof junk);
    }
    kaspa_tap t;
    kaspa_tap_init(&t, 0);
    size_t off = 0, n = lp2p_buf_size(&b);
    kaspa_tap_state st = KASPA_TAP_RUNNING;
    while (off < n) {
        size_t m = n - off < 100000 ? n - off : 100000;
        st = kaspa_tap_feed(&t, lp2p_buf_head(&b) + off, m);
        off += m;
    }
    assert_int_equal(st, KASPA_TAP_BUDGET_SPENT);
    assert_int_equal(t.seen, KASPA_TAP_BUDGET);
    kaspa_tap_free(&t);
    lp2p_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_session_gzip),
        cmocka_unit_test(test_real_session_identity),
        cmocka_unit_test(test_padded_data_other_streams_and_frames),
        cmocka_unit_test(test_malformed_ends_the_tap),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
