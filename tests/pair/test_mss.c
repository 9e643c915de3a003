/* multistream-select 1.0: dialer and listener in one process, bytes passed through in every
 * fragmentation (libp2p-wire.md A3). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "proto/mss.h"
#include "util/buf.h"

/* ---- a listener's protocol table -------------------------------------------------------- */
typedef struct table {
    const char *const *protos;
    size_t n;
    int calls;
} table;

static int supports(void *user, const char *proto)
{
    table *t = user;
    t->calls++;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->protos[i], proto) == 0)
            return 1;
    return 0;
}

static const char *const LISTEN[] = {"/noise", "/yamux/1.0.0", "/ipfs/id/1.0.0"};

/* ---- one side of the pipe ------------------------------------------------------------ */
typedef struct side {
    lp2p_mss *m;
    lp2p_buf inbox;   /* bytes sent by the peer, not yet delivered */
    lp2p_buf app;     /* bytes handed to the application (after negotiation) */
    const char *data; /* application data this side writes once it may send */
    int data_sent;
    int rc;
} side;

static void side_init(side *s, lp2p_mss *m, const char *data)
{
    memset(s, 0, sizeof(*s));
    s->m = m;
    s->data = data;
    lp2p_buf_init(&s->inbox);
    lp2p_buf_init(&s->app);
}

static void side_free(side *s)
{
    lp2p_buf_free(&s->inbox);
    lp2p_buf_free(&s->app);
}

/* Moves what `from` has to send into `to`'s inbox, then its app data when allowed (right
 * behind the handshake bytes: same write, as a 0-RTT sender does). */
static int flush(side *from, side *to)
{
    size_t n = lp2p_buf_size(&from->m->out);
    if (n) { /* (lp2p_buf_head of a never-allocated buffer is NULL + 0) */
        assert_int_equal(lp2p_buf_append(&to->inbox, lp2p_buf_head(&from->m->out), n), 0);
        lp2p_buf_consume(&from->m->out, n);
    }
    if (from->data && !from->data_sent && from->rc >= 0 && lp2p_mss_may_send(from->m)) {
        assert_int_equal(lp2p_buf_append(&to->inbox, from->data, strlen(from->data)), 0);
        from->data_sent = 1;
        n += strlen(from->data);
    }
    return n > 0;
}

/* Delivers at most chunk bytes of s's inbox. */
static int deliver(side *s, size_t chunk)
{
    size_t n = lp2p_buf_size(&s->inbox);
    if (n == 0 || s->rc < 0)
        return 0;
    if (n > chunk)
        n = chunk;
    const uint8_t *p = lp2p_buf_head(&s->inbox);
    if (s->rc == 1) {
        assert_int_equal(lp2p_buf_append(&s->app, p, n), 0);
    } else {
        size_t used = 12345;
        s->rc = lp2p_mss_recv(s->m, p, n, &used);
        assert_true(used <= n);
        if (s->rc == 0)
            assert_int_equal(used, n); /* need more: everything was taken */
        if (s->rc == 1)
            assert_int_equal(lp2p_buf_append(&s->app, p + used, n - used), 0);
    }
    lp2p_buf_consume(&s->inbox, n);
    return 1;
}

static void pump(side *d, side *l, size_t chunk)
{
    for (int i = 0; i < 100000; i++) {
        int moved = flush(d, l) | flush(l, d);
        moved |= deliver(l, chunk);
        moved |= deliver(d, chunk);
        if (!moved)
            return;
    }
    fail_msg("pump did not settle");
}

static void assert_app(side *s, const char *want)
{
    assert_int_equal(lp2p_buf_size(&s->app), strlen(want));
    assert_memory_equal(lp2p_buf_head(&s->app), want, strlen(want));
}

/* ---- tests ------------------------------------------------------------------------------ */
static void test_wire_bytes(void **state)
{
    const char *const protos[] = {"/noise"};
    lp2p_mss d, l;
    table t = {LISTEN, 3, 0};
    assert_int_equal(lp2p_mss_init_dialer(&d, protos, 1, 0), 0);
    assert_int_equal(lp2p_mss_init_listener(&l, supports, &t), 0);
    /* header and proposal pipelined in one output */
    static const char want[] = "\x13/multistream/1.0.0\n\x07/noise\n";
    assert_int_equal(lp2p_buf_size(&d.out), sizeof(want) - 1);
    assert_memory_equal(lp2p_buf_head(&d.out), want, sizeof(want) - 1);
    assert_false(lp2p_mss_may_send(&d));        /* not lazy */
    assert_int_equal(lp2p_buf_size(&l.out), 0); /* listener speaks once it heard the header */

    size_t used;
    assert_int_equal(lp2p_mss_recv(&l, lp2p_buf_head(&d.out), lp2p_buf_size(&d.out), &used), 1);
    assert_int_equal(used, sizeof(want) - 1);
    assert_string_equal(lp2p_mss_selected(&l), "/noise");
    /* header + echo in one output */
    assert_int_equal(lp2p_buf_size(&l.out), sizeof(want) - 1);
    assert_memory_equal(lp2p_buf_head(&l.out), want, sizeof(want) - 1);

    assert_null(lp2p_mss_selected(&d));
    assert_int_equal(lp2p_mss_recv(&d, lp2p_buf_head(&l.out), lp2p_buf_size(&l.out), &used), 1);
    assert_int_equal(used, sizeof(want) - 1);
    assert_string_equal(lp2p_mss_selected(&d), "/noise");
    assert_true(lp2p_mss_done(&d));
    assert_true(lp2p_mss_may_send(&d));
    /* after the end: nothing more is consumed */
    assert_int_equal(lp2p_mss_recv(&d, (const uint8_t *)"xyz", 3, &used), 1);
    assert_int_equal(used, 0);
    lp2p_mss_free(&d);
    lp2p_mss_free(&l);
}

static void test_fallback_every_fragmentation(void **state)
{
    const char *const protos[] = {"/yamux/2.0.0", "/mplex/6.7.0", "/yamux/1.0.0"};
    for (size_t chunk = 1; chunk <= 80; chunk++) {
        lp2p_mss d, l;
        table t = {LISTEN, 3, 0};
        side sd, sl;
        assert_int_equal(lp2p_mss_init_dialer(&d, protos, 3, 0), 0);
        assert_int_equal(lp2p_mss_init_listener(&l, supports, &t), 0);
        side_init(&sd, &d, "from-dialer");
        side_init(&sl, &l, "from-listener");
        pump(&sd, &sl, chunk);
        assert_int_equal(sd.rc, 1);
        assert_int_equal(sl.rc, 1);
        assert_string_equal(lp2p_mss_selected(&d), "/yamux/1.0.0");
        assert_string_equal(lp2p_mss_selected(&l), "/yamux/1.0.0");
        assert_int_equal(t.calls, 3); /* two refused, one accepted */
        /* application data written after agreement arrives intact */
        assert_app(&sd, "from-listener");
        assert_app(&sl, "from-dialer");
        side_free(&sd);
        side_free(&sl);
        lp2p_mss_free(&d);
        lp2p_mss_free(&l);
    }
}

static void test_all_refused(void **state)
{
    const char *const protos[] = {"/mplex/6.7.0", "/yamux/2.0.0"};
    for (size_t chunk = 1; chunk <= 64; chunk *= 2) {
        lp2p_mss d, l;
        table t = {LISTEN, 3, 0};
        side sd, sl;
        assert_int_equal(lp2p_mss_init_dialer(&d, protos, 2, 0), 0);
        assert_int_equal(lp2p_mss_init_listener(&l, supports, &t), 0);
        side_init(&sd, &d, NULL);
        side_init(&sl, &l, NULL);
        pump(&sd, &sl, chunk);
        assert_int_equal(sd.rc, LP2P_ERR_NA);
        assert_int_equal(sl.rc, 0); /* listener still waits: the dialer gives up or closes */
        assert_null(lp2p_mss_selected(&d));
        assert_string_not_equal(lp2p_mss_error_reason(&d), "");
        assert_int_equal(t.calls, 2);
        /* sticky */
        size_t used;
        assert_int_equal(lp2p_mss_recv(&d, (const uint8_t *)"\x03na\n", 4, &used), LP2P_ERR_NA);
        assert_int_equal(used, 0);
        side_free(&sd);
        side_free(&sl);
        lp2p_mss_free(&d);
        lp2p_mss_free(&l);
    }
}

/* 0-RTT: the dialer writes app data right behind header + proposal; the listener answers
 * header + echo + its own data in one buffer. Each side hands only application bytes on. */
static void test_lazy_app_data_same_buffer(void **state)
{
    const char *const protos[] = {"/noise"};
    for (size_t chunk = 1; chunk <= 100; chunk++) {
        lp2p_mss d, l;
        table t = {LISTEN, 3, 0};
        side sd, sl;
        assert_int_equal(lp2p_mss_init_dialer(&d, protos, 1, 1), 0);
        assert_true(lp2p_mss_may_send(&d));
        assert_int_equal(lp2p_mss_init_listener(&l, supports, &t), 0);
        side_init(&sd, &d, "noise-msg1-e");
        side_init(&sl, &l, "noise-msg2");
        pump(&sd, &sl, chunk);
        assert_int_equal(sd.rc, 1);
        assert_int_equal(sl.rc, 1);
        assert_app(&sl, "noise-msg1-e");
        assert_app(&sd, "noise-msg2");
        side_free(&sd);
        side_free(&sl);
        lp2p_mss_free(&d);
        lp2p_mss_free(&l);
    }

    /* explicit single-buffer check with consumed counts */
    lp2p_mss d, l;
    table t = {LISTEN, 3, 0};
    lp2p_buf wire;
    lp2p_buf_init(&wire);
    assert_int_equal(lp2p_mss_init_dialer(&d, protos, 1, 1), 0);
    assert_int_equal(lp2p_mss_init_listener(&l, supports, &t), 0);
    size_t hs = lp2p_buf_size(&d.out), used;
    assert_int_equal(lp2p_buf_append(&wire, lp2p_buf_head(&d.out), hs), 0);
    assert_int_equal(lp2p_buf_append(&wire, "APP", 3), 0);
    assert_int_equal(lp2p_mss_recv(&l, lp2p_buf_head(&wire), lp2p_buf_size(&wire), &used), 1);
    assert_int_equal(used, hs);
    assert_memory_equal(lp2p_buf_head(&wire) + used, "APP", 3);
    lp2p_buf_clear(&wire);
    assert_int_equal(lp2p_buf_append(&wire, lp2p_buf_head(&l.out), lp2p_buf_size(&l.out)), 0);
    assert_int_equal(lp2p_buf_append(&wire, "REPLY", 5), 0);
    assert_int_equal(lp2p_mss_recv(&d, lp2p_buf_head(&wire), lp2p_buf_size(&wire), &used), 1);
    assert_int_equal(used, lp2p_buf_size(&l.out));
    assert_memory_equal(lp2p_buf_head(&wire) + used, "REPLY", 5);
    lp2p_buf_free(&wire);
    lp2p_mss_free(&d);
    lp2p_mss_free(&l);
}

/* Lazy only with exactly one protocol. */
static void test_lazy_needs_single_proto(void **state)
{
    const char *const protos[] = {"/noise", "/tls/1.0.0"};
    lp2p_mss d;
    assert_int_equal(lp2p_mss_init_dialer(&d, protos, 2, 1), 0);
    assert_false(lp2p_mss_may_send(&d));
    lp2p_mss_free(&d);
}

/* A lazy dialer whose protocol is refused must not treat anything as application data. */
static void test_lazy_refused_and_wrong_echo(void **state)
{
    const char *const protos[] = {"/kaspad/transport/1.0.0"};
    lp2p_mss d, l;
    table t = {LISTEN, 3, 0};
    side sd, sl;
    assert_int_equal(lp2p_mss_init_dialer(&d, protos, 1, 1), 0);
    assert_int_equal(lp2p_mss_init_listener(&l, supports, &t), 0);
    side_init(&sd, &d, "payload");
    side_init(&sl, &l, NULL);
    pump(&sd, &sl, 3);
    assert_int_equal(sd.rc, LP2P_ERR_NA);
    assert_false(lp2p_mss_may_send(&d));
    assert_int_equal(lp2p_buf_size(&sd.app), 0);
    side_free(&sd);
    side_free(&sl);
    lp2p_mss_free(&d);
    lp2p_mss_free(&l);

    /* echo of another protocol */
    size_t used;
    assert_int_equal(lp2p_mss_init_dialer(&d, protos, 1, 1), 0);
    static const char reply[] = "\x13/multistream/1.0.0\n\x07/noise\nDATA";
    assert_int_equal(lp2p_mss_recv(&d, (const uint8_t *)reply, sizeof(reply) - 1, &used),
                     LP2P_ERR_PROTO);
    assert_null(lp2p_mss_selected(&d));
    lp2p_mss_free(&d);
}

static int listener_feed(const void *bytes, size_t n, size_t *used)
{
    lp2p_mss l;
    table t = {LISTEN, 3, 0};
    assert_int_equal(lp2p_mss_init_listener(&l, supports, &t), 0);
    int rc = lp2p_mss_recv(&l, bytes, n, used);
    if (rc < 0)
        assert_string_not_equal(lp2p_mss_error_reason(&l), "");
    lp2p_mss_free(&l);
    return rc;
}

#define HDR "\x13/multistream/1.0.0\n"

static void test_oversize_line(void **state)
{
    size_t used;
    /* prefix 1025 (81 08) right after the header: refused before the body arrives */
    static const char over[] = HDR "\x81\x08";
    assert_int_equal(listener_feed(over, sizeof(over) - 1, &used), LP2P_ERR_TOO_LARGE);
    assert_int_equal(used, sizeof(over) - 1);
    /* as first message, too */
    assert_int_equal(listener_feed("\xff\xff\x03", 3, &used), LP2P_ERR_TOO_LARGE);

    /* exactly 1024 (1023 chars + newline) is a legal line: answered na */
    uint8_t msg[sizeof(HDR) - 1 + 2 + 1024];
    memcpy(msg, HDR, sizeof(HDR) - 1);
    uint8_t *p = msg + sizeof(HDR) - 1;
    p[0] = 0x80, p[1] = 0x08; /* 1024 */
    memset(p + 2, 'a', 1023);
    p[2] = '/';
    p[2 + 1023] = '\n';
    lp2p_mss l;
    table t = {LISTEN, 3, 0};
    assert_int_equal(lp2p_mss_init_listener(&l, supports, &t), 0);
    assert_int_equal(lp2p_mss_recv(&l, msg, sizeof(msg), &used), 0);
    assert_int_equal(used, sizeof(msg));
    assert_int_equal(t.calls, 1);
    static const char want[] = HDR "\x03na\n";
    assert_int_equal(lp2p_buf_size(&l.out), sizeof(want) - 1);
    assert_memory_equal(lp2p_buf_head(&l.out), want, sizeof(want) - 1);
    lp2p_mss_free(&l);

    /* the dialer refuses to propose what no peer would read, and rejects long replies */
    char longp[1025];
    memset(longp, 'x', 1024);
    longp[0] = '/';
    longp[1024] = '\0';
    const char *const protos[] = {longp};
    lp2p_mss d;
    assert_int_equal(lp2p_mss_init_dialer(&d, protos, 1, 0), LP2P_ERR_INVAL);
    lp2p_mss_free(&d);
    const char *const ok[] = {"/noise"};
    assert_int_equal(lp2p_mss_init_dialer(&d, ok, 1, 0), 0);
    assert_int_equal(lp2p_mss_recv(&d, (const uint8_t *)over, sizeof(over) - 1, &used),
                     LP2P_ERR_TOO_LARGE);
    lp2p_mss_free(&d);
}

static void test_garbage_header(void **state)
{
    size_t used;
    /* another version */
    static const char v2[] = "\x13/multistream/2.0.0\n";
    assert_int_equal(listener_feed(v2, sizeof(v2) - 1, &used), LP2P_ERR_PROTO);
    /* a proposal before the header */
    static const char prop[] = "\x07/noise\n";
    assert_int_equal(listener_feed(prop, sizeof(prop) - 1, &used), LP2P_ERR_PROTO);
    /* an HTTP request: 'G' = 71-byte "line" that does not end in a newline */
    static const char http[] = "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\n"
                               "Accept: */*\r\n\r\n";
    assert_int_equal(listener_feed(http, sizeof(http) - 1, &used), LP2P_ERR_PROTO);
    /* empty message, missing newline, embedded newline and NUL */
    assert_int_equal(listener_feed("\x00", 1, &used), LP2P_ERR_PROTO);
    assert_int_equal(listener_feed("\x02na", 3, &used), LP2P_ERR_PROTO);
    assert_int_equal(listener_feed(HDR "\x04n\na\n", sizeof(HDR) - 1 + 5, &used), LP2P_ERR_PROTO);
    assert_int_equal(listener_feed(HDR "\x04n\0a\n", sizeof(HDR) - 1 + 5, &used), LP2P_ERR_PROTO);
    /* non-minimal length prefix */
    assert_int_equal(listener_feed("\x93\x00", 2, &used), LP2P_ERR_PROTO);

    /* the dialer: first message na, or a stray message where the answer should be */
    const char *const protos[] = {"/noise"};
    lp2p_mss d;
    assert_int_equal(lp2p_mss_init_dialer(&d, protos, 1, 0), 0);
    assert_int_equal(lp2p_mss_recv(&d, (const uint8_t *)"\x03na\n", 4, &used), LP2P_ERR_PROTO);
    lp2p_mss_free(&d);
    assert_int_equal(lp2p_mss_init_dialer(&d, protos, 1, 0), 0);
    assert_int_equal(lp2p_mss_recv(&d, (const uint8_t *)HDR "\x03ls\n", sizeof(HDR) - 1 + 4, &used),
                     LP2P_ERR_PROTO);
    lp2p_mss_free(&d);
}

static void test_ls(void **state)
{
    size_t used;
    lp2p_mss l;
    table t = {LISTEN, 3, 0};
    static const char ls[] = HDR "\x03ls\n";
    /* without a list: na, as go-multistream */
    assert_int_equal(lp2p_mss_init_listener(&l, supports, &t), 0);
    assert_int_equal(lp2p_mss_recv(&l, (const uint8_t *)ls, sizeof(ls) - 1, &used), 0);
    static const char na[] = HDR "\x03na\n";
    assert_int_equal(lp2p_buf_size(&l.out), sizeof(na) - 1);
    assert_memory_equal(lp2p_buf_head(&l.out), na, sizeof(na) - 1);
    assert_int_equal(t.calls, 0);
    lp2p_mss_free(&l);

    /* with a list: uvarint(total) {uvarint(len) proto \n}* \n */
    static const char *const list[] = {"/noise", "/yamux/1.0.0"};
    assert_int_equal(lp2p_mss_init_listener(&l, supports, &t), 0);
    lp2p_mss_set_ls(&l, list, 2);
    assert_int_equal(lp2p_mss_recv(&l, (const uint8_t *)ls, sizeof(ls) - 1, &used), 0);
    static const char want[] = HDR "\x17\x07/noise\n\x0d/yamux/1.0.0\n\n";
    assert_int_equal(lp2p_buf_size(&l.out), sizeof(want) - 1);
    assert_memory_equal(lp2p_buf_head(&l.out), want, sizeof(want) - 1);
    /* and the negotiation goes on afterwards */
    lp2p_buf_consume(&l.out, lp2p_buf_size(&l.out));
    assert_int_equal(lp2p_mss_recv(&l, (const uint8_t *)"\x07/noise\n", 8, &used), 1);
    assert_string_equal(lp2p_mss_selected(&l), "/noise");
    lp2p_mss_free(&l);
}

static void test_too_many_proposals(void **state)
{
    lp2p_mss l;
    table t = {LISTEN, 3, 0};
    lp2p_buf in;
    lp2p_buf_init(&in);
    assert_int_equal(lp2p_mss_write_line(&in, LP2P_MSS_PROTOCOL), 0);
    for (int i = 0; i < LP2P_MSS_MAX_PROPOSALS; i++)
        assert_int_equal(lp2p_mss_write_line(&in, "/nope"), 0);
    size_t hdr_and_max = lp2p_buf_size(&in), used;
    assert_int_equal(lp2p_mss_write_line(&in, "/noise"), 0);
    assert_int_equal(lp2p_mss_init_listener(&l, supports, &t), 0);
    assert_int_equal(lp2p_mss_recv(&l, lp2p_buf_head(&in), hdr_and_max, &used), 0);
    assert_int_equal(lp2p_mss_recv(&l, lp2p_buf_head(&in) + used, lp2p_buf_size(&in) - used, &used),
                     LP2P_ERR_LIMIT);
    assert_int_equal(t.calls, LP2P_MSS_MAX_PROPOSALS);
    lp2p_buf_free(&in);
    lp2p_mss_free(&l);
}

static void test_dialer_init_validation(void **state)
{
    lp2p_mss d;
    const char *const na[] = {"na"}, *const nl[] = {"/a\nb"}, *const empty[] = {""},
                      *const ok[] = {"/ok"};
    assert_int_equal(lp2p_mss_init_dialer(&d, ok, 0, 0), LP2P_ERR_INVAL);
    lp2p_mss_free(&d);
    assert_int_equal(lp2p_mss_init_dialer(&d, na, 1, 0), LP2P_ERR_INVAL);
    lp2p_mss_free(&d);
    assert_int_equal(lp2p_mss_init_dialer(&d, nl, 1, 0), LP2P_ERR_INVAL);
    lp2p_mss_free(&d);
    assert_int_equal(lp2p_mss_init_dialer(&d, empty, 1, 0), LP2P_ERR_INVAL);
    lp2p_mss_free(&d);
    lp2p_mss l;
    assert_int_equal(lp2p_mss_init_listener(&l, NULL, NULL), LP2P_ERR_INVAL);
    lp2p_mss_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_bytes),
        cmocka_unit_test(test_fallback_every_fragmentation),
        cmocka_unit_test(test_all_refused),
        cmocka_unit_test(test_lazy_app_data_same_buffer),
        cmocka_unit_test(test_lazy_needs_single_proto),
        cmocka_unit_test(test_lazy_refused_and_wrong_echo),
        cmocka_unit_test(test_oversize_line),
        cmocka_unit_test(test_garbage_header),
        cmocka_unit_test(test_ls),
        cmocka_unit_test(test_too_many_proposals),
        cmocka_unit_test(test_dialer_init_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
