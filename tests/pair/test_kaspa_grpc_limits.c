/* The gRPC endpoint's message limit against a hostile peer (issue 9): a gzip bomb stops at the
 * limit, costs the peer its stream and connection at once (trailers RESOURCE_EXHAUSTED naming
 * the limit, then GOAWAY, no grace period), and leaves no buffer behind; a large message
 * under the limit is delivered and its buffers are released after it. And the send path's
 * shortcut (kaspa_grpc_send_packed) puts the same bytes on the wire as kaspa_grpc_send. Two
 * endpoints in one process, bytes copied in memory, fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaspa/grpc.h"
#include "lp2p/err.h"
#include "util/buf.h"

typedef struct end {
    kaspa_grpc *g;
    int opened, msgs, closed, close_err, grpc_status;
    size_t last_len;
    char close_msg[256];
} end;

static void on_open(void *u)
{
    ((end *)u)->opened = 1;
}

static int on_message(void *u, const uint8_t *m, size_t n)
{
    end *e = u;
    e->msgs++;
    e->last_len = n;
    return 0;
}

static void on_close(void *u, int err, int grpc_status, const char *msg)
{
    end *e = u;
    e->closed = 1;
    e->close_err = err;
    e->grpc_status = grpc_status;
    snprintf(e->close_msg, sizeof e->close_msg, "%s", msg ? msg : "");
}

static void end_new_gzip(end *e, int is_server, uint64_t max, int gzip)
{
    memset(e, 0, sizeof(*e));
    kaspa_grpc_config c;
    kaspa_grpc_config_default(&c, KASPA_H2_PROFILE_TCP);
    c.gzip = gzip;
    c.max_message_size = max;
    c.gzip_level = 9;
    c.max_send_queue = 64u << 20;
    kaspa_grpc_callbacks cb = {on_open, on_message, on_close};
    assert_int_equal(kaspa_grpc_new(&e->g, &c, is_server, &cb, e, 0), 0);
}

static void end_new(end *e, int is_server, uint64_t max)
{
    end_new_gzip(e, is_server, max, 1);
}

static void move(end *from, end *to)
{
    lp2p_buf *o = kaspa_grpc_out(from->g);
    size_t n = lp2p_buf_size(o);
    if (!n)
        return;
    uint8_t *tmp = malloc(n);
    memcpy(tmp, lp2p_buf_head(o), n);
    lp2p_buf_consume(o, n);
    kaspa_grpc_recv(to->g, tmp, n, 1);
    free(tmp);
}

/* Both ways until quiet; the clock never moves, so nothing here waits for a grace period. */
static void pump(end *a, end *b)
{
    for (int i = 0; i < 100000; i++) {
        if (!lp2p_buf_size(kaspa_grpc_out(a->g)) && !lp2p_buf_size(kaspa_grpc_out(b->g)))
            return;
        move(a, b);
        move(b, a);
    }
    fail_msg("pump did not settle");
}

static void test_default_limit_is_far_below_rusty_kaspas(void **state)
{
    kaspa_grpc_config c;
    kaspa_grpc_config_default(&c, KASPA_H2_PROFILE_TCP);
    assert_int_equal(c.max_message_size, 16u << 20);
    kaspa_grpc_config_default(&c, KASPA_H2_PROFILE_LIBP2P);
    assert_int_equal(c.max_message_size, 16u << 20);
}

static void test_gzip_bomb_resets_the_peer_and_keeps_nothing(void **state)
{
    end cl, sv;
    end_new(&sv, 1, 1u << 20);  /* our endpoint: 1 MiB limit */
    end_new(&cl, 0, 64u << 20); /* the attacker may send what it likes */
    pump(&cl, &sv);
    assert_true(cl.opened && sv.opened);

    /* under the limit: delivered, and the 768 KiB of inflate output are not kept */
    size_t ok = 768u << 10, bomb = 48u << 20;
    uint8_t *zeros = calloc(1, bomb);
    assert_int_equal(kaspa_grpc_send(cl.g, zeros, ok), 0);
    pump(&cl, &sv);
    assert_int_equal(sv.msgs, 1);
    assert_int_equal(sv.last_len, ok);
    assert_true(kaspa_grpc_recv_held(sv.g) <= KASPA_GRPC_KEEP_BYTES);

    /* 48 MiB of zeros gzip to ~48 KiB on the wire */
    assert_int_equal(kaspa_grpc_send(cl.g, zeros, bomb), 0);
    free(zeros);
    pump(&cl, &sv);
    assert_int_equal(sv.msgs, 1);
    assert_int_equal(sv.closed, 1);
    assert_int_equal(sv.close_err, LP2P_ERR_TOO_LARGE);
    assert_non_null(strstr(sv.close_msg, "1048576")); /* the log line names the limit */
    assert_true(kaspa_grpc_recv_held(sv.g) <= KASPA_GRPC_KEEP_BYTES);
    /* the attacker learns why (tonic's status for an over-limit message) ... */
    assert_int_equal(cl.closed, 1);
    assert_int_equal(cl.grpc_status, 8); /* RESOURCE_EXHAUSTED */
    assert_non_null(strstr(cl.close_msg, "1048576"));
    /* ... and the connection ends now (GOAWAY), not after the 2 s close grace */
    assert_true(kaspa_grpc_is_done(sv.g));

    kaspa_grpc_del(cl.g);
    kaspa_grpc_del(sv.g);
}

static int pack_copy(void *ctx, uint8_t *dst, size_t len)
{
    memcpy(dst, ctx, len);
    return 0;
}

static int pack_fails(void *ctx, uint8_t *dst, size_t len)
{
    return LP2P_ERR_FATAL;
}

/* The send path's copies were cut (the message packed into the send queue, DATA frames with
 * NGHTTP2_DATA_FLAG_NO_COPY): kaspa_grpc_send_packed still puts exactly the bytes of
 * kaspa_grpc_send on the wire, with gzip off and on, over several DATA frames and window
 * updates; a pack that fails queues nothing. */
static void test_send_packed_is_send_on_the_wire(void **state)
{
    size_t n = 300000; /* > the 64 KiB stream window and many 16 KiB frames */
    uint8_t *msg = malloc(n);
    for (size_t i = 0; i < n; i++)
        msg[i] = (uint8_t)(i * 7 + i / 251);
    for (int gzip = 0; gzip <= 1; gzip++) {
        end a, as, b, bs;
        end_new_gzip(&a, 0, 1u << 20, gzip);
        end_new_gzip(&b, 0, 1u << 20, gzip);
        end_new(&as, 1, 1u << 20);
        end_new(&bs, 1, 1u << 20);
        pump(&a, &as);
        pump(&b, &bs);
        assert_int_equal(kaspa_grpc_sending_gzip(b.g), gzip);
        assert_int_equal(kaspa_grpc_send_packed(b.g, n, pack_fails, msg), LP2P_ERR_FATAL);
        assert_int_equal(kaspa_grpc_send_queue(b.g), 0);
        assert_int_equal(kaspa_grpc_send(a.g, msg, n), 0);
        assert_int_equal(kaspa_grpc_send_packed(b.g, n, pack_copy, msg), 0);
        for (int round = 0; round < 64 && (as.msgs == 0 || bs.msgs == 0); round++) {
            lp2p_buf *oa = kaspa_grpc_out(a.g), *ob = kaspa_grpc_out(b.g);
            assert_int_equal(lp2p_buf_size(oa), lp2p_buf_size(ob));
            assert_memory_equal(lp2p_buf_head(oa), lp2p_buf_head(ob), lp2p_buf_size(oa));
            move(&a, &as);
            move(&b, &bs);
            move(&as, &a);
            move(&bs, &b);
        }
        assert_int_equal(as.msgs, 1);
        assert_int_equal(bs.msgs, 1);
        assert_int_equal(bs.last_len, n);
        kaspa_grpc_del(a.g);
        kaspa_grpc_del(b.g);
        kaspa_grpc_del(as.g);
        kaspa_grpc_del(bs.g);
    }
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_limit_is_far_below_rusty_kaspas),
        cmocka_unit_test(test_gzip_bomb_resets_the_peer_and_keeps_nothing),
        cmocka_unit_test(test_send_packed_is_send_on_the_wire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
