/* Yamux: a client core and a server core in one process, bytes passed by hand, fake clock.
 * Raw frames are injected where a misbehaving peer is needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "proto/yamux.h"
#include "test_trace.h"

#define MAX_APP 4096

/* What the app knows about one stream; survives the stream object. */
typedef struct app_stream {
    lp2p_yamux_stream *s; /* NULL once on_stream_closed ran */
    uint32_t id;
    uint64_t rx;      /* bytes delivered */
    uint64_t rx_bad;  /* bytes that did not match the pattern */
    uint64_t rx_hash; /* for echo checks */
    int fin, reset, closed, writable;
    int echo;    /* write back what arrives, close on FIN */
    int consume; /* report consumed at once */
    int reset_on_data;
    int nocheck; /* bulk runs: skip the per-byte pattern check */
} app_stream;

typedef struct peer {
    lp2p_yamux *y;
    app_stream app[MAX_APP];
    int n_app;
    int auto_accept;
    int echo;
    int goaway;
    uint32_t goaway_code;
    uint64_t rtt;
    int n_rtt;
    /* receive budget (on_window / on_admit): off = grant and admit everything */
    int budget_on, admit_no;
    uint32_t budget_allow, last_want;
    int window_asks;
} peer;

static uint64_t now;

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)(i * 31 + (i >> 9) + 7);
}

static app_stream *app_new(peer *p, lp2p_yamux_stream *s)
{
    assert_true(p->n_app < MAX_APP);
    app_stream *a = &p->app[p->n_app++];
    memset(a, 0, sizeof(*a));
    a->s = s;
    a->id = lp2p_yamux_stream_id(s);
    a->consume = 1;
    a->echo = p->echo;
    lp2p_yamux_stream_set_user(s, a);
    return a;
}

static void cb_stream(void *u, lp2p_yamux_stream *s)
{
    peer *p = u;
    app_new(p, s);
    if (p->auto_accept)
        assert_int_equal(lp2p_yamux_stream_accept(s), 0);
}

static void cb_data(void *u, lp2p_yamux_stream *s, const uint8_t *d, size_t n)
{
    app_stream *a = lp2p_yamux_stream_user(s);
    for (size_t i = 0; i < n && !a->nocheck; i++) {
        if (d[i] != pattern(a->rx + i))
            a->rx_bad++;
        a->rx_hash = a->rx_hash * 1000003u + d[i];
    }
    a->rx += n;
    if (a->echo)
        assert_int_equal(lp2p_yamux_stream_write(s, d, n), (long)n);
    if (a->consume)
        lp2p_yamux_stream_consumed(s, n);
    if (a->reset_on_data)
        assert_int_equal(lp2p_yamux_stream_reset(s), 0);
}

static void cb_fin(void *u, lp2p_yamux_stream *s)
{
    app_stream *a = lp2p_yamux_stream_user(s);
    a->fin = 1;
    if (a->echo)
        assert_int_equal(lp2p_yamux_stream_close(s), 0);
}

static void cb_reset(void *u, lp2p_yamux_stream *s)
{
    app_stream *a = lp2p_yamux_stream_user(s);
    a->reset = 1;
    /* still valid here: writing reports the reset */
    assert_int_equal(lp2p_yamux_stream_write(s, (const uint8_t *)"x", 1), LP2P_ERR_RESET);
}

static void cb_writable(void *u, lp2p_yamux_stream *s)
{
    app_stream *a = lp2p_yamux_stream_user(s);
    a->writable++;
}

static void cb_closed(void *u, lp2p_yamux_stream *s)
{
    app_stream *a = lp2p_yamux_stream_user(s);
    assert_non_null(a);
    assert_int_equal(a->closed, 0);
    a->closed = 1;
    a->s = NULL;
}

static void cb_goaway(void *u, uint32_t code)
{
    peer *p = u;
    p->goaway++;
    p->goaway_code = code;
}

static void cb_rtt(void *u, uint64_t rtt)
{
    peer *p = u;
    p->rtt = rtt;
    p->n_rtt++;
}

static uint32_t cb_window(void *u, lp2p_yamux_stream *s, uint32_t want, uint32_t grow)
{
    peer *p = u;
    p->window_asks++;
    p->last_want = want;
    return !p->budget_on || want < p->budget_allow ? want : p->budget_allow;
}

static int cb_admit(void *u)
{
    peer *p = u;
    return !p->admit_no;
}

static const lp2p_yamux_callbacks CBS = {cb_stream, cb_data,   cb_fin, cb_reset,  cb_writable,
                                         cb_closed, cb_goaway, cb_rtt, cb_window, cb_admit};

static peer *peer_new(const lp2p_yamux_config *cfg)
{
    peer *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    p->auto_accept = 1;
    assert_int_equal(lp2p_yamux_new(cfg, &CBS, p, &p->y), 0);
    return p;
}

static peer *peer_default(int is_client)
{
    lp2p_yamux_config c;
    lp2p_yamux_config_default(&c, is_client);
    return peer_new(&c);
}

static void peer_del(peer *p)
{
    lp2p_yamux_del(p->y);
    for (int i = 0; i < p->n_app; i++)
        assert_int_equal(p->app[i].closed, 1); /* del closes every stream */
    free(p);
}

/* Moves up to max bytes of a's output into b. Returns b's recv result. */
static int xfer_n(peer *a, peer *b, size_t max)
{
    lp2p_buf *o = lp2p_yamux_out(a->y);
    size_t n = lp2p_buf_size(o);
    if (n > max)
        n = max;
    if (n == 0)
        return 0;
    /* copy first: recv may append to b's buffer, never a's, but keep it simple */
    uint8_t *tmp = malloc(n);
    memcpy(tmp, lp2p_buf_head(o), n);
    lp2p_buf_consume(o, n);
    int rc = lp2p_yamux_recv(b->y, tmp, n, now);
    free(tmp);
    return rc;
}

static int xfer(peer *a, peer *b)
{
    return xfer_n(a, b, SIZE_MAX);
}

/* Both directions until quiet. */
static void pump(peer *c, peer *s)
{
    for (int i = 0; i < 10000; i++) {
        if (!lp2p_buf_size(lp2p_yamux_out(c->y)) && !lp2p_buf_size(lp2p_yamux_out(s->y)))
            return;
        assert_int_equal(xfer(c, s), 0);
        assert_int_equal(xfer(s, c), 0);
    }
    fail_msg("pump did not settle");
}

/* Session start: both send an RTT ping; answered at the same instant. */
static void start_pair(peer *c, peer *s)
{
    assert_int_equal(lp2p_yamux_tick(c->y, now), 0);
    assert_int_equal(lp2p_yamux_tick(s->y, now), 0);
    pump(c, s);
}

static void raw(peer *p, uint8_t type, uint16_t flags, uint32_t id, uint32_t len, int expect)
{
    lp2p_yamux_hdr h = {0, type, flags, id, len};
    uint8_t b[LP2P_YAMUX_HDR_LEN];
    lp2p_yamux_hdr_encode(&h, b);
    assert_int_equal(lp2p_yamux_recv(p->y, b, sizeof(b), now), expect);
}

static void raw_data(peer *p, uint32_t id, uint16_t flags, size_t len, int expect)
{
    uint8_t *b = calloc(1, LP2P_YAMUX_HDR_LEN + len);
    lp2p_yamux_hdr h = {0, LP2P_YAMUX_DATA, flags, id, (uint32_t)len};
    lp2p_yamux_hdr_encode(&h, b);
    for (size_t i = 0; i < len; i++)
        b[LP2P_YAMUX_HDR_LEN + i] = pattern(i);
    assert_int_equal(lp2p_yamux_recv(p->y, b, LP2P_YAMUX_HDR_LEN + len, now), expect);
    free(b);
}

/* Finds frame headers in an output buffer (frames are whole there). */
static int out_has(peer *p, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
    lp2p_buf *o = lp2p_yamux_out(p->y);
    const uint8_t *b = lp2p_buf_head(o);
    size_t n = lp2p_buf_size(o), off = 0;
    while (off + LP2P_YAMUX_HDR_LEN <= n) {
        lp2p_yamux_hdr h;
        assert_int_equal(lp2p_yamux_hdr_decode(b + off, &h), 0);
        if (h.type == type && h.flags == flags && h.stream_id == id && h.length == len)
            return 1;
        off += LP2P_YAMUX_HDR_LEN + (h.type == LP2P_YAMUX_DATA ? h.length : 0);
    }
    return 0;
}

static void drop_out(peer *p)
{
    lp2p_buf_clear(lp2p_yamux_out(p->y));
}

static void assert_goaway_protocol(peer *p)
{
    assert_true(out_has(p, LP2P_YAMUX_GOAWAY, 0, 0, LP2P_YAMUX_GOAWAY_PROTOCOL));
}

static app_stream *open_stream(peer *p)
{
    lp2p_yamux_stream *s = NULL;
    assert_int_equal(lp2p_yamux_open(p->y, &s), 0);
    assert_non_null(s);
    return app_new(p, s);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_open_accept_echo(void **state)
{
    now = 1000;
    peer *c = peer_default(1), *s = peer_default(0);
    s->echo = 1;
    start_pair(c, s);

    app_stream *a = open_stream(c);
    assert_int_equal(a->id, 1);
    /* SYN rides on a WindowUpdate with delta 0 (default 256 KiB window) */
    assert_true(out_has(c, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 1, 0));
    uint8_t msg[100];
    for (int i = 0; i < 100; i++)
        msg[i] = pattern(i);
    assert_int_equal(lp2p_yamux_stream_write(a->s, msg, sizeof(msg)), 100);
    assert_true(out_has(c, LP2P_YAMUX_DATA, 0, 1, 100));
    assert_int_equal(lp2p_yamux_stream_close(a->s), 0);
    assert_int_equal(lp2p_yamux_stream_write(a->s, msg, 1), LP2P_ERR_CLOSED);
    assert_int_equal(xfer(c, s), 0);
    /* server: accepted (ACK), echoed, closed on FIN */
    assert_int_equal(s->n_app, 1);
    assert_int_equal(s->app[0].id, 1);
    assert_true(out_has(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_ACK, 1, 0));
    assert_true(out_has(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_FIN, 1, 0));
    assert_int_equal(s->app[0].rx, 100);
    assert_int_equal(s->app[0].rx_bad, 0);
    assert_int_equal(s->app[0].fin, 1);
    assert_int_equal(s->app[0].closed, 1); /* both FINs seen on the server side */
    assert_int_equal(xfer(s, c), 0);
    assert_int_equal(a->rx, 100);
    assert_int_equal(a->rx_bad, 0);
    assert_int_equal(a->fin, 1);
    assert_int_equal(a->closed, 1);

    lp2p_yamux_stats st;
    lp2p_yamux_stats_get(c->y, &st);
    assert_int_equal(st.streams_open, 0);
    assert_int_equal(st.bytes_out, 100);
    assert_int_equal(st.bytes_in, 100);

    /* the server opens even IDs */
    app_stream *b = open_stream(s);
    assert_int_equal(b->id, 2);
    pump(c, s);
    assert_int_equal(c->n_app, 2);
    assert_int_equal(c->app[1].id, 2);
    peer_del(c);
    peer_del(s);
}

static void test_64_concurrent_streams(void **state)
{
    now = 0;
    peer *c = peer_default(1), *s = peer_default(0);
    s->echo = 1;
    start_pair(c, s);
    enum { N = 64, LEN = 10000 };
    uint8_t *buf = malloc(LEN);
    for (int i = 0; i < LEN; i++)
        buf[i] = pattern(i);
    app_stream *as[N];
    for (int i = 0; i < N; i++)
        as[i] = open_stream(c);
    /* interleave: each stream writes in 1000-byte steps */
    for (int off = 0; off < LEN; off += 1000) {
        for (int i = 0; i < N; i++)
            assert_int_equal(lp2p_yamux_stream_write(as[i]->s, buf + off, 1000), 1000);
        assert_int_equal(xfer_n(c, s, 7777), 0); /* partial frames on purpose */
        assert_int_equal(xfer(s, c), 0);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(lp2p_yamux_stream_close(as[i]->s), 0);
    pump(c, s);
    assert_int_equal(s->n_app, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(as[i]->id, 1 + 2 * i);
        assert_int_equal(s->app[i].rx, LEN);
        assert_int_equal(s->app[i].rx_bad, 0);
        assert_int_equal(as[i]->rx, LEN);
        assert_int_equal(as[i]->rx_bad, 0);
        assert_int_equal(as[i]->closed, 1);
        assert_int_equal(s->app[i].closed, 1);
    }
    lp2p_yamux_stats st;
    lp2p_yamux_stats_get(s->y, &st);
    assert_int_equal(st.streams_open, 0);
    free(buf);
    peer_del(c);
    peer_del(s);
}

/* 16 MiB, the reader consumes at most 20 KiB per step: the sender is held to the window,
 * nothing buffers beyond window + a frame. */
static void test_16mib_slow_reader(void **state)
{
    now = 0;
    peer *c = peer_default(1), *s = peer_default(0);
    start_pair(c, s);
    app_stream *a = open_stream(c);
    pump(c, s);
    app_stream *b = &s->app[0];
    b->consume = 0;

    const uint64_t TOTAL = 16u << 20;
    const size_t CHUNK = 100000;
    uint8_t *buf = malloc(CHUNK);
    uint64_t written = 0, consumed = 0;
    int short_writes = 0, steps = 0;
    while (b->rx < TOTAL) {
        assert_true(++steps < 100000);
        now += 10; /* > 4 x RTT per step: a slow reader never earns a bigger window */
        if (written < TOTAL && (a->writable || written == 0 || short_writes == 0)) {
            size_t want = TOTAL - written < CHUNK ? (size_t)(TOTAL - written) : CHUNK;
            for (size_t i = 0; i < want; i++)
                buf[i] = pattern(written + i);
            long n = lp2p_yamux_stream_write(a->s, buf, want);
            assert_true(n >= 0);
            written += (uint64_t)n;
            if ((size_t)n < want) {
                short_writes++;
                a->writable = 0;
            }
        }
        uint32_t win = lp2p_yamux_stream_recv_window(b->s);
        /* in flight (sent, not consumed by the reader) never exceeds the reader's window */
        assert_true(written - consumed <= win);
        /* the sender's queue holds at most a window of data plus headers */
        size_t q = lp2p_buf_size(lp2p_yamux_out(c->y));
        assert_true(q <= win + (win / LP2P_YAMUX_DEFAULT_MAX_FRAME + 2) * LP2P_YAMUX_HDR_LEN + 64);
        assert_int_equal(xfer_n(c, s, 64 * 1024), 0);
        assert_true(lp2p_yamux_stream_unconsumed(b->s) <= win);
        uint32_t u = lp2p_yamux_stream_unconsumed(b->s);
        uint32_t take = u < 20000 ? u : 20000;
        lp2p_yamux_stream_consumed(b->s, take);
        consumed += take;
        assert_int_equal(xfer(s, c), 0);
    }
    assert_int_equal(b->rx, TOTAL);
    assert_int_equal(b->rx_bad, 0);
    assert_true(short_writes > 10); /* the window really pushed back */
    assert_int_equal(lp2p_yamux_stream_recv_window(b->s), LP2P_YAMUX_INITIAL_WINDOW);
    free(buf);
    peer_del(c);
    peer_del(s);
}

/* Runs a bulk transfer client->server, now advancing `step` ms per round; returns the
 * server's final window and checks it never passed max. */
static uint32_t run_autotune(uint64_t rtt, uint64_t step, uint32_t max_window)
{
    lp2p_yamux_config cc, sc;
    lp2p_yamux_config_default(&cc, 1);
    lp2p_yamux_config_default(&sc, 0);
    sc.max_window = max_window;
    peer *c = peer_new(&cc), *s = peer_new(&sc);
    now = 0;
    /* server measures RTT: its ping is answered `rtt` ms later */
    assert_int_equal(lp2p_yamux_tick(c->y, now), 0);
    assert_int_equal(lp2p_yamux_tick(s->y, now), 0);
    assert_int_equal(xfer(s, c), 0);
    now += rtt;
    assert_int_equal(xfer(c, s), 0);
    assert_int_equal(s->rtt, rtt);
    assert_int_equal(xfer(s, c), 0);

    app_stream *a = open_stream(c);
    assert_int_equal(xfer(c, s), 0);
    app_stream *b = &s->app[0];
    b->nocheck = 1;
    static uint8_t buf[1 << 20];
    uint32_t maxseen = 0;
    int at_max = 0;
    /* 60 rounds are enough to double 256 KiB -> 32 MiB; a few more rounds at the max
     * show it does not go beyond */
    for (int round = 0; round < 60 && at_max < 5; round++) {
        now += step;
        long n = lp2p_yamux_stream_write(a->s, buf, sizeof(buf));
        assert_true(n >= 0);
        assert_int_equal(xfer(c, s), 0);
        assert_int_equal(xfer(s, c), 0);
        uint32_t w = lp2p_yamux_stream_recv_window(b->s);
        if (w > maxseen)
            maxseen = w;
        if (w == max_window)
            at_max++;
        assert_true(lp2p_yamux_stream_send_window(a->s) <= max_window);
    }
    assert_true(maxseen <= max_window);
    uint32_t w = lp2p_yamux_stream_recv_window(b->s);
    peer_del(c);
    peer_del(s);
    return w;
}

static void test_window_autotune(void **state)
{
    /* fast consumer, updates due within 4 RTT: doubles up to the max, not beyond */
    assert_int_equal(run_autotune(50, 1, 4u << 20), 4u << 20);
    assert_int_equal(run_autotune(50, 1, 3u << 20), 3u << 20); /* capped, not a power */
    /* updates slower than 4 RTT: no growth */
    assert_int_equal(run_autotune(50, 250, 4u << 20), LP2P_YAMUX_INITIAL_WINDOW);
}

static void test_no_rtt_no_growth(void **state)
{
    lp2p_yamux_config sc;
    lp2p_yamux_config_default(&sc, 0);
    peer *c = peer_default(1), *s = peer_new(&sc);
    now = 0;
    /* the server's RTT ping is never answered, so its RTT stays unknown */
    assert_int_equal(lp2p_yamux_tick(s->y, now), 0);
    drop_out(s);
    app_stream *a = open_stream(c);
    assert_int_equal(xfer(c, s), 0);
    static uint8_t buf[1 << 20];
    for (int i = 0; i < 50; i++) {
        assert_true(lp2p_yamux_stream_write(a->s, buf, sizeof(buf)) >= 0);
        assert_int_equal(xfer(c, s), 0);
        assert_int_equal(xfer(s, c), 0);
    }
    assert_true(s->app[0].rx > 5u << 20); /* many windows' worth went through */
    assert_int_equal(lp2p_yamux_stream_recv_window(s->app[0].s), LP2P_YAMUX_INITIAL_WINDOW);
    peer_del(c);
    peer_del(s);
}

static void test_larger_initial_window_announced(void **state)
{
    lp2p_yamux_config cc, sc;
    lp2p_yamux_config_default(&cc, 1);
    lp2p_yamux_config_default(&sc, 0);
    cc.initial_window = 1u << 20;
    sc.initial_window = 2u << 20;
    peer *c = peer_new(&cc), *s = peer_new(&sc);
    now = 0;
    start_pair(c, s);
    app_stream *a = open_stream(c);
    assert_true(out_has(c, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 1, (1u << 20) - (256u << 10)));
    assert_int_equal(xfer(c, s), 0);
    assert_true(out_has(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_ACK, 1, (2u << 20) - (256u << 10)));
    assert_int_equal(lp2p_yamux_stream_send_window(s->app[0].s), 1u << 20);
    assert_int_equal(xfer(s, c), 0);
    assert_int_equal(lp2p_yamux_stream_send_window(a->s), 2u << 20);
    static uint8_t buf[3 << 20];
    assert_int_equal(lp2p_yamux_stream_write(a->s, buf, sizeof(buf)), 2u << 20);
    peer_del(c);
    peer_del(s);
}

static void test_fin_rst_semantics(void **state)
{
    now = 0;
    peer *c = peer_default(1), *s = peer_default(0);
    start_pair(c, s);
    uint8_t msg[10];
    for (int i = 0; i < 10; i++)
        msg[i] = pattern(i);

    /* half-close: after the client's FIN the server can still send */
    app_stream *a = open_stream(c);
    assert_int_equal(lp2p_yamux_stream_close(a->s), 0);
    assert_int_equal(lp2p_yamux_stream_close(a->s), 0); /* idempotent, one FIN */
    pump(c, s);
    app_stream *b = &s->app[0];
    assert_int_equal(b->fin, 1);
    assert_int_equal(b->closed, 0);
    assert_int_equal(lp2p_yamux_stream_write(b->s, msg, 10), 10);
    pump(c, s);
    assert_int_equal(a->rx, 10);
    assert_int_equal(a->closed, 0);
    assert_int_equal(lp2p_yamux_stream_close(b->s), 0);
    pump(c, s);
    assert_int_equal(a->fin, 1);
    assert_int_equal(a->closed, 1);
    assert_int_equal(b->closed, 1);

    /* RST: the peer sees on_reset then on_stream_closed; data it had in flight is
     * dropped quietly when it reaches the closed stream */
    a = open_stream(c);
    pump(c, s);
    b = &s->app[1];
    assert_int_equal(lp2p_yamux_stream_write(b->s, msg, 10), 10); /* in flight */
    assert_int_equal(lp2p_yamux_stream_reset(a->s), 0);
    assert_int_equal(a->closed, 1);  /* outside callbacks: closed before reset returns */
    assert_int_equal(xfer(s, c), 0); /* data for a reset stream: no error */
    assert_int_equal(a->rx, 0);
    assert_int_equal(xfer(c, s), 0);
    assert_int_equal(b->reset, 1);
    assert_int_equal(b->closed, 1);
    assert_int_equal(lp2p_yamux_error(c->y), 0);
    assert_int_equal(lp2p_yamux_error(s->y), 0);

    /* a callback resets its own stream while the same frame still carries FIN */
    a = open_stream(c);
    pump(c, s);
    b = &s->app[2];
    b->reset_on_data = 1;
    assert_int_equal(lp2p_yamux_stream_write(a->s, msg, 10), 10);
    assert_int_equal(lp2p_yamux_stream_close(a->s), 0);
    pump(c, s);
    assert_int_equal(b->closed, 1);
    assert_int_equal(b->fin, 0); /* FIN arrived after our reset: ignored */
    assert_int_equal(a->reset, 1);
    assert_int_equal(a->closed, 1);

    /* the peer refuses an open with RST */
    a = open_stream(s);
    assert_int_equal(xfer(s, c), 0);
    app_stream *r = &c->app[c->n_app - 1];
    assert_int_equal(lp2p_yamux_stream_reset(r->s), 0);
    assert_true(out_has(c, LP2P_YAMUX_WINDOW, LP2P_YAMUX_RST, a->id, 0));
    assert_int_equal(xfer(c, s), 0);
    assert_int_equal(a->reset, 1);
    assert_int_equal(a->closed, 1);
    lp2p_yamux_stats st;
    lp2p_yamux_stats_get(s->y, &st);
    assert_int_equal(st.ack_backlog, 0);
    assert_int_equal(st.streams_open, 0);
    peer_del(c);
    peer_del(s);
}

static void test_writable_after_window_reopens(void **state)
{
    now = 0;
    peer *c = peer_default(1), *s = peer_default(0);
    start_pair(c, s);
    app_stream *a = open_stream(c);
    pump(c, s);
    app_stream *b = &s->app[0];
    b->consume = 0;
    static uint8_t buf[300 << 10];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = pattern(i);
    assert_int_equal(lp2p_yamux_stream_write(a->s, buf, sizeof(buf)), 256 << 10);
    assert_int_equal(lp2p_yamux_stream_write(a->s, buf, 1), 0);
    pump(c, s);
    assert_int_equal(a->writable, 0);
    now += 100; /* later than 4 x RTT: plain update, no growth */
    assert_int_equal(lp2p_yamux_tick(s->y, now), 0); /* the core's clock for consumed() */
    /* less than half consumed: no update yet */
    lp2p_yamux_stream_consumed(b->s, 100 << 10);
    assert_int_equal(lp2p_buf_size(lp2p_yamux_out(s->y)), 0);
    lp2p_yamux_stream_consumed(b->s, 28 << 10);
    assert_true(out_has(s, LP2P_YAMUX_WINDOW, 0, 1, 128 << 10));
    pump(c, s);
    assert_int_equal(a->writable, 1);
    assert_int_equal(lp2p_yamux_stream_send_window(a->s), 128 << 10);
    peer_del(c);
    peer_del(s);
}

/* The receive budget: a grant the budget refuses is withheld whole (the peer's window stays
 * shut), a cut below LP2P_YAMUX_MIN_GRANT sends nothing, a larger cut is sent as it is, and
 * consumed(s, 0) asks again; a SYN the budget does not admit is refused with RST and counted
 * like a limit refusal. */
static void test_receive_budget_withholds_and_regrants(void **state)
{
    now = 0;
    peer *c = peer_default(1), *s = peer_default(0);
    start_pair(c, s);
    app_stream *a = open_stream(c);
    pump(c, s);
    app_stream *b = &s->app[0];
    b->consume = 0;
    static uint8_t buf[256 << 10];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = pattern(i);
    assert_int_equal(lp2p_yamux_stream_write(a->s, buf, sizeof(buf)), 256 << 10);
    pump(c, s);
    assert_int_equal(b->rx, 256 << 10);
    assert_int_equal(lp2p_yamux_stream_send_window(a->s), 0);

    s->budget_on = 1;
    s->budget_allow = 0;
    int asks = s->window_asks;
    lp2p_yamux_stream_consumed(b->s, 256 << 10);
    assert_int_equal(s->window_asks, asks + 1);
    assert_true(s->last_want >= 256 << 10); /* the refill, and growth if auto-tuning asks */
    assert_int_equal(lp2p_buf_size(lp2p_yamux_out(s->y)), 0); /* withheld */
    assert_int_equal(lp2p_yamux_stream_recv_credit(b->s), 0);

    s->budget_allow = 8 << 10; /* below LP2P_YAMUX_MIN_GRANT: still nothing */
    lp2p_yamux_stream_consumed(b->s, 0);
    assert_int_equal(lp2p_buf_size(lp2p_yamux_out(s->y)), 0);

    s->budget_allow = 64 << 10;
    lp2p_yamux_stream_consumed(b->s, 0);
    assert_true(out_has(s, LP2P_YAMUX_WINDOW, 0, 1, 64 << 10));
    pump(c, s);
    assert_int_equal(lp2p_yamux_stream_send_window(a->s), 64 << 10);
    assert_int_equal(lp2p_yamux_stream_recv_credit(b->s), 64 << 10);

    s->budget_on = 0; /* room again: the rest of the window follows (and growth, if due) */
    lp2p_yamux_stream_consumed(b->s, 0);
    pump(c, s);
    assert_true(lp2p_yamux_stream_send_window(a->s) >= 256 << 10);
    assert_int_equal(lp2p_yamux_stream_send_window(a->s), lp2p_yamux_stream_recv_window(b->s));

    s->admit_no = 1;
    app_stream *a2 = open_stream(c);
    pump(c, s);
    assert_int_equal(a2->reset, 1);
    assert_int_equal(s->n_app, 1); /* never announced */
    lp2p_yamux_stats st;
    lp2p_yamux_stats_get(s->y, &st);
    assert_int_equal(st.streams_refused, 1);
    peer_del(c);
    peer_del(s);
}

static void test_fatal_errors(void **state)
{
    now = 0;
    peer *s;
    /* client-parity SYN from the client is fine; an even SYN to the server is not */
    s = peer_default(0);
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 2, 0, LP2P_ERR_PROTO);
    assert_goaway_protocol(s);
    assert_int_equal(lp2p_yamux_recv(s->y, (const uint8_t *)"x", 1, now), LP2P_ERR_PROTO);
    peer_del(s);

    peer *c = peer_default(1);
    raw(c, LP2P_YAMUX_DATA, LP2P_YAMUX_SYN, 3, 0, LP2P_ERR_PROTO);
    assert_goaway_protocol(c);
    peer_del(c);

    /* window violation: 256 KiB is allowed, one more byte is not */
    s = peer_default(0);
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 1, 0, 0);
    s->app[0].consume = 0;
    raw_data(s, 1, 0, 256 << 10, 0);
    raw_data(s, 1, 0, 1, LP2P_ERR_FLOW_CONTROL);
    assert_goaway_protocol(s);
    peer_del(s);
    s = peer_default(0);
    s->auto_accept = 0;
    raw_data(s, 1, LP2P_YAMUX_SYN, (256 << 10) + 1, LP2P_ERR_FLOW_CONTROL);
    peer_del(s);

    /* a frame larger than any window we grant, even for a stream already closed */
    s = peer_default(0);
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 1, 0, 0);
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_RST, 1, 0, 0);
    raw(s, LP2P_YAMUX_DATA, 0, 1, (16u << 20) + 1, LP2P_ERR_FLOW_CONTROL);
    peer_del(s);

    /* bad version, unknown type */
    s = peer_default(0);
    const uint8_t v1[] = {1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    assert_int_equal(lp2p_yamux_recv(s->y, v1, sizeof(v1), now), LP2P_ERR_PROTO);
    assert_goaway_protocol(s);
    peer_del(s);
    s = peer_default(0);
    raw(s, 7, 0, 0, 0, LP2P_ERR_PROTO);
    peer_del(s);

    /* stream frame on the session ID; SYN reusing a live ID (frames for streams never
     * opened are dropped: test_unknown_stream_frames_dropped) */
    s = peer_default(0);
    raw(s, LP2P_YAMUX_DATA, 0, 0, 0, LP2P_ERR_PROTO);
    peer_del(s);
    s = peer_default(0);
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 5, 0, 0);
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 5, 0, LP2P_ERR_PROTO);
    peer_del(s);

    /* not fatal: frames for a closed stream, a header split byte by byte, SYNs out of order */
    s = peer_default(0);
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 9, 0, 0);
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 3, 0, 0);
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_RST, 3, 0, 0);
    raw_data(s, 3, 0, 100, 0);
    raw(s, LP2P_YAMUX_WINDOW, 0, 3, 1000, 0);
    lp2p_yamux_hdr h = {0, LP2P_YAMUX_DATA, LP2P_YAMUX_FIN, 9, 3};
    uint8_t b[LP2P_YAMUX_HDR_LEN + 3];
    lp2p_yamux_hdr_encode(&h, b);
    b[12] = pattern(0), b[13] = pattern(1), b[14] = pattern(2);
    for (size_t i = 0; i < sizeof(b); i++)
        assert_int_equal(lp2p_yamux_recv(s->y, b + i, 1, now), 0);
    assert_int_equal(s->app[0].rx, 3);
    assert_int_equal(s->app[0].rx_bad, 0);
    assert_int_equal(s->app[0].fin, 1);
    assert_int_equal(s->app[1].reset, 1);
    assert_int_equal(lp2p_yamux_error(s->y), 0);
    peer_del(s);
}

/* go-yamux and rust-yamux drop a frame without SYN for a stream they do not know, and
 * rust-yamux sends FIN or RST without SYN for a stream it never wrote on. Dropping costs
 * reading the frame and nothing else; it is counted and reported once per session. */
static void test_unknown_stream_frames_dropped(void **state)
{
    now = 0;
    trec_log log;
    lp2p_yamux_config sc;
    lp2p_yamux_config_default(&sc, 0);
    sc.trace = trec_trace(&log);
    peer *s = peer_new(&sc);
    raw_data(s, 7, 0, 5, 0);                             /* data, peer parity, never opened */
    raw(s, LP2P_YAMUX_WINDOW, 0, 4, 100, 0);             /* our own parity, not opened */
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_FIN, 11, 0, 0); /* rust: FIN without SYN */
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_RST, 13, 0, 0); /* rust: RST without SYN */
    raw_data(s, 15, LP2P_YAMUX_FIN, 64 << 10, 0);        /* payload skipped, not delivered */
    assert_int_equal(lp2p_yamux_error(s->y), 0);
    assert_false(out_has(s, LP2P_YAMUX_GOAWAY, 0, 0, LP2P_YAMUX_GOAWAY_PROTOCOL));
    assert_int_equal(s->n_app, 0);
    lp2p_yamux_stats st;
    lp2p_yamux_stats_get(s->y, &st);
    assert_int_equal(st.frames_unknown_stream, 5);
    assert_int_equal(st.bytes_in, 0);
    int reports = 0;
    for (size_t i = 0; i < log.n; i++)
        reports += !strcmp(log.r[i].event, "yamux_unknown_stream");
    assert_int_equal(reports, 1);
    const trec *r = trec_find(&log, "yamux_unknown_stream");
    assert_int_equal(r->level, LP2P_INFO);
    assert_int_equal(trec_u(r, "stream"), 7);
    /* the session still works: a real SYN on a dropped ID opens the stream */
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 7, 0, 0);
    raw_data(s, 7, 0, 3, 0);
    assert_int_equal(s->n_app, 1);
    assert_int_equal(s->app[0].rx, 3);
    peer_del(s);
}

static void test_accept_backlog_and_ack_backlog(void **state)
{
    lp2p_yamux_config cc, sc;
    lp2p_yamux_config_default(&cc, 1);
    lp2p_yamux_config_default(&sc, 0);
    sc.accept_backlog = 4;
    cc.max_ack_backlog = 6;
    peer *c = peer_new(&cc), *s = peer_new(&sc);
    s->auto_accept = 0;
    now = 0;
    start_pair(c, s);
    for (int i = 0; i < 6; i++)
        open_stream(c);
    lp2p_yamux_stream *x;
    assert_int_equal(lp2p_yamux_open(c->y, &x), LP2P_ERR_LIMIT); /* ACK backlog full */
    assert_int_equal(xfer(c, s), 0);
    assert_int_equal(s->n_app, 4); /* the other 2 were refused with RST, not fatal */
    assert_true(out_has(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_RST, 9, 0));
    assert_true(out_has(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_RST, 11, 0));
    lp2p_yamux_stats st;
    lp2p_yamux_stats_get(s->y, &st);
    assert_int_equal(st.pending_accept, 4);
    assert_int_equal(st.streams_refused, 2);
    assert_int_equal(xfer(s, c), 0);
    assert_int_equal(c->app[4].reset, 1);
    assert_int_equal(c->app[5].reset, 1);
    assert_int_equal(c->app[0].reset, 0);
    lp2p_yamux_stats_get(c->y, &st);
    assert_int_equal(st.ack_backlog, 4);
    /* accepting one frees a backlog slot on both sides */
    assert_int_equal(lp2p_yamux_stream_accept(s->app[0].s), 0);
    assert_int_equal(lp2p_yamux_stream_accept(s->app[0].s), 0);
    pump(c, s);
    lp2p_yamux_stats_get(c->y, &st);
    assert_int_equal(st.ack_backlog, 3);
    open_stream(c);
    pump(c, s);
    assert_int_equal(s->n_app, 5);
    assert_int_equal(lp2p_yamux_error(s->y), 0);
    assert_int_equal(lp2p_yamux_error(c->y), 0);
    peer_del(c);
    peer_del(s);
}

static void test_stream_flood(void **state)
{
    lp2p_yamux_config cc, sc;
    lp2p_yamux_config_default(&cc, 1);
    lp2p_yamux_config_default(&sc, 0);
    sc.max_streams = 4;
    peer *c = peer_new(&cc), *s = peer_new(&sc);
    now = 0;
    start_pair(c, s);
    /* up to twice the limit: the extra ones are refused, session lives */
    for (int i = 0; i < 8; i++)
        open_stream(c);
    assert_int_equal(xfer(c, s), 0);
    assert_int_equal(s->n_app, 4);
    lp2p_yamux_stats st;
    lp2p_yamux_stats_get(s->y, &st);
    assert_int_equal(st.streams_refused, 4);
    /* one stream ends normally: the peer is not flooding, refusals start over */
    assert_int_equal(lp2p_yamux_stream_reset(s->app[0].s), 0);
    for (int i = 0; i < 5; i++)
        open_stream(c);
    assert_int_equal(xfer(c, s), 0);
    assert_int_equal(lp2p_yamux_error(s->y), 0);
    /* one more SYN than twice the limit, with no stream ending: fatal */
    open_stream(c);
    assert_int_equal(xfer(c, s), LP2P_ERR_FLOOD);
    assert_goaway_protocol(s);
    peer_del(c);
    peer_del(s);
}

/* The core reports violations to its caller's trace sink (the host logs them as yamux_fatal
 * lines): which rule, which stream, which error. Without a sink it says nothing. */
static void test_violations_are_traced(void **state)
{
    now = 0;
    trec_log log;
    lp2p_yamux_config sc;
    lp2p_yamux_config_default(&sc, 0);
    assert_null(sc.trace.fn); /* silent unless the caller asks */

    /* window violation on stream 1 */
    sc.trace = trec_trace(&log);
    peer *s = peer_new(&sc);
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 1, 0, 0);
    s->app[0].consume = 0;
    raw_data(s, 1, 0, 256 << 10, 0);
    assert_int_equal(log.n, 0); /* within the window: nothing to report */
    raw_data(s, 1, 0, 1, LP2P_ERR_FLOW_CONTROL);
    assert_int_equal(log.n, 1);
    const trec *r = trec_find(&log, "yamux_fatal");
    assert_int_equal(r->level, LP2P_WARN);
    assert_string_equal(trec_str(r, "reason"), "data beyond receive window");
    assert_int_equal(trec_u(r, "stream"), 1);
    assert_string_equal(trec_str(r, "error"), "FLOW_CONTROL");
    /* later input is refused without a second report */
    assert_int_equal(lp2p_yamux_recv(s->y, (const uint8_t *)"x", 1, now), LP2P_ERR_FLOW_CONTROL);
    assert_int_equal(log.n, 1);
    peer_del(s);

    /* a stream flood: refusals first (debug records), then the fatal one */
    lp2p_yamux_config cc;
    lp2p_yamux_config_default(&cc, 1);
    sc.max_streams = 2;
    sc.trace = trec_trace(&log);
    peer *c = peer_new(&cc);
    s = peer_new(&sc);
    start_pair(c, s);
    for (int i = 0; i < 5; i++)
        open_stream(c);
    assert_int_equal(xfer(c, s), LP2P_ERR_FLOOD);
    r = trec_find(&log, "yamux_refuse_stream");
    assert_int_equal(r->level, LP2P_DEBUG);
    assert_int_equal(trec_u(r, "stream"), 5); /* the third SYN (1, 3 accepted) */
    assert_int_equal(trec_u(r, "inbound"), 2);
    r = trec_find(&log, "yamux_fatal");
    assert_string_equal(trec_str(r, "reason"), "stream flood");
    assert_int_equal(trec_u(r, "stream"), 9);
    assert_string_equal(trec_str(r, "error"), "FLOOD");
    peer_del(c);
    peer_del(s);

    /* GoAway from the peer is reported with its code */
    sc.trace = trec_trace(&log);
    s = peer_new(&sc);
    raw(s, LP2P_YAMUX_GOAWAY, 0, 0, LP2P_YAMUX_GOAWAY_INTERNAL, 0);
    r = trec_find(&log, "yamux_goaway_received");
    assert_int_equal(r->level, LP2P_INFO);
    assert_int_equal(trec_u(r, "code"), LP2P_YAMUX_GOAWAY_INTERNAL);
    peer_del(s);
}

static void test_ping_rtt_and_keepalive_timeout(void **state)
{
    lp2p_yamux_config cc;
    lp2p_yamux_config_default(&cc, 1);
    cc.keepalive_ms = 1000;
    cc.ping_timeout_ms = 500;
    peer *c = peer_new(&cc), *s = peer_default(0);
    now = 5000;
    assert_int_equal(lp2p_yamux_next_deadline(c->y), 0); /* not started: tick now */
    assert_int_equal(lp2p_yamux_tick(c->y, now), 0);
    assert_true(out_has(c, LP2P_YAMUX_PING, LP2P_YAMUX_SYN, 0, 1));
    assert_int_equal(lp2p_yamux_ping(c->y, now), LP2P_ERR_AGAIN); /* one at a time */
    assert_int_equal(lp2p_yamux_next_deadline(c->y), 5500);
    assert_int_equal(xfer(c, s), 0);
    assert_true(out_has(s, LP2P_YAMUX_PING, LP2P_YAMUX_ACK, 0, 1));
    now = 5030;
    assert_int_equal(xfer(s, c), 0);
    assert_int_equal(c->rtt, 30);
    assert_int_equal(c->n_rtt, 1);
    assert_int_equal(lp2p_yamux_next_deadline(c->y), 6000);
    /* an explicit ping measures again */
    assert_int_equal(lp2p_yamux_ping(c->y, now), 0);
    assert_int_equal(xfer(c, s), 0);
    now = 5042;
    assert_int_equal(xfer(s, c), 0);
    assert_int_equal(c->rtt, 12);
    /* keepalive: due at 5030 + 1000; the peer goes silent */
    drop_out(s);
    assert_int_equal(lp2p_yamux_tick(c->y, 6029), 0);
    assert_int_equal(lp2p_buf_size(lp2p_yamux_out(c->y)), 0);
    assert_int_equal(lp2p_yamux_tick(c->y, 6030), 0);
    assert_true(out_has(c, LP2P_YAMUX_PING, LP2P_YAMUX_SYN, 0, 3));
    assert_int_equal(lp2p_yamux_next_deadline(c->y), 6530);
    assert_int_equal(lp2p_yamux_tick(c->y, 6529), 0);
    assert_int_equal(lp2p_yamux_tick(c->y, 6530), LP2P_ERR_TIMEOUT);
    assert_int_equal(lp2p_yamux_error(c->y), LP2P_ERR_TIMEOUT);
    assert_int_equal(lp2p_yamux_next_deadline(c->y), UINT64_MAX);
    /* a peer that keeps sending is alive even if the pong is slow */
    peer *c3 = peer_new(&cc), *s3 = peer_default(0);
    now = 0;
    start_pair(c3, s3);
    app_stream *b3 = open_stream(s3);
    assert_int_equal(xfer(s3, c3), 0);
    assert_int_equal(lp2p_yamux_tick(c3->y, 1000), 0); /* keepalive ping, never answered */
    drop_out(c3);
    for (now = 1100; now <= 3000; now += 100) {
        assert_int_equal(lp2p_yamux_stream_write(b3->s, (const uint8_t *)"\x07", 1), 1);
        assert_int_equal(xfer(s3, c3), 0);
        assert_int_equal(lp2p_yamux_tick(c3->y, now), 0);
    }
    assert_int_equal(lp2p_yamux_tick(c3->y, 3499), 0);
    assert_int_equal(lp2p_yamux_tick(c3->y, 3500), LP2P_ERR_TIMEOUT); /* silent for 500 ms */
    peer_del(c3);
    peer_del(s3);

    /* a stale ACK (wrong value) is ignored */
    peer *c2 = peer_new(&cc);
    assert_int_equal(lp2p_yamux_tick(c2->y, 0), 0);
    raw(c2, LP2P_YAMUX_PING, LP2P_YAMUX_ACK, 0, 99, 0);
    assert_int_equal(c2->n_rtt, 0);
    peer_del(c2);
    peer_del(c);
    peer_del(s);
}

static void test_goaway(void **state)
{
    now = 0;
    peer *c = peer_default(1), *s = peer_default(0);
    s->echo = 1;
    start_pair(c, s);
    app_stream *a = open_stream(c);
    pump(c, s);
    assert_int_equal(lp2p_yamux_goaway(s->y, LP2P_YAMUX_GOAWAY_NORMAL), 0);
    assert_true(out_has(s, LP2P_YAMUX_GOAWAY, 0, 0, 0));
    lp2p_yamux_stream *x;
    assert_int_equal(lp2p_yamux_open(s->y, &x), LP2P_ERR_CLOSED);
    pump(c, s);
    assert_int_equal(c->goaway, 1);
    assert_int_equal(c->goaway_code, 0);
    assert_int_equal(lp2p_yamux_open(c->y, &x), LP2P_ERR_CLOSED);
    /* the existing stream still works both ways */
    uint8_t msg[5] = {pattern(0), pattern(1), pattern(2), pattern(3), pattern(4)};
    assert_int_equal(lp2p_yamux_stream_write(a->s, msg, 5), 5);
    pump(c, s);
    assert_int_equal(a->rx, 5);
    assert_int_equal(a->rx_bad, 0);
    /* a SYN after our GoAway is refused with RST */
    raw(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, 3, 0, 0);
    assert_true(out_has(s, LP2P_YAMUX_WINDOW, LP2P_YAMUX_RST, 3, 0));
    assert_int_equal(s->n_app, 1);
    peer_del(c);
    peer_del(s);
}

static void test_del_closes_live_streams(void **state)
{
    now = 0;
    peer *c = peer_default(1), *s = peer_default(0);
    start_pair(c, s);
    open_stream(c);
    open_stream(c);
    pump(c, s);
    assert_int_equal(c->app[0].closed, 0);
    peer_del(c); /* asserts on_stream_closed ran for each */
    peer_del(s);
}

static void test_config_rejected(void **state)
{
    lp2p_yamux_config c;
    lp2p_yamux *y;
    lp2p_yamux_config_default(&c, 1);
    c.max_window = 33u << 20;
    assert_int_equal(lp2p_yamux_new(&c, &CBS, NULL, &y), LP2P_ERR_INVAL);
    lp2p_yamux_config_default(&c, 1);
    c.initial_window = 1000;
    assert_int_equal(lp2p_yamux_new(&c, &CBS, NULL, &y), LP2P_ERR_INVAL);
    lp2p_yamux_config_default(&c, 1);
    c.max_window = 32u << 20;
    assert_int_equal(lp2p_yamux_new(&c, &CBS, NULL, &y), 0);
    lp2p_yamux_del(y);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]); /* e.g. "test_goaway" */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_accept_echo),
        cmocka_unit_test(test_64_concurrent_streams),
        cmocka_unit_test(test_16mib_slow_reader),
        cmocka_unit_test(test_window_autotune),
        cmocka_unit_test(test_no_rtt_no_growth),
        cmocka_unit_test(test_larger_initial_window_announced),
        cmocka_unit_test(test_fin_rst_semantics),
        cmocka_unit_test(test_writable_after_window_reopens),
        cmocka_unit_test(test_receive_budget_withholds_and_regrants),
        cmocka_unit_test(test_fatal_errors),
        cmocka_unit_test(test_unknown_stream_frames_dropped),
        cmocka_unit_test(test_accept_backlog_and_ack_backlog),
        cmocka_unit_test(test_stream_flood),
        cmocka_unit_test(test_violations_are_traced),
        cmocka_unit_test(test_ping_rtt_and_keepalive_timeout),
        cmocka_unit_test(test_goaway),
        cmocka_unit_test(test_del_closes_live_streams),
        cmocka_unit_test(test_config_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
