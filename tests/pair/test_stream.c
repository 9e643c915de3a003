/* Streams on one connection over the in-memory transport: the connection pulls the
 * streams' queued bytes when its transport can take more (round-robin, one quantum each),
 * so a bulk stream cannot hold back a small one, a stream whose Yamux window is shut does
 * not hold back the others, and the bytes staged below the transport never exceed its
 * high-water mark by more than one quantum. The writer's one question, "can I send?", is
 * lp2p_stream_pending() against LP2P_STREAM_HIGH_WATER, answered again by on_writable. */
#include "test_host_util.h"

#include "host/host_internal.h"
#include "net/mem_transport.h"
#include "test_mem_pair.h"

#define X_PROTO "/test/x/1.0.0"
#define Y_PROTO "/test/y/1.0.0"
#define Z_PROTO "/test/z/1.0.0"
/* One pull of a stream (src/host/stream.c, MUX_CHUNK) and what Noise and Yamux add to it. */
#define QUANTUM  (256u << 10)
#define OVERHEAD (16u << 10)

static host_rec A, B;
static lp2p_conn *g_ca, *g_cb;

/* B's end of each stream: bytes checked against the writer's pattern, and how many bytes
 * all of B's streams had received when this one had received `mark` bytes. */
typedef struct sink {
    lp2p_stream *s;
    uint32_t seed;
    size_t got, mark, total_at_mark;
    int marked, mismatch, eof, pause_on_open;
} sink;
static sink g_x, g_y, g_z;
static size_t g_total; /* bytes received on all of B's sinks */

static void sink_open(lp2p_stream *s, void *ud)
{
    sink *k = ud;
    k->s = s;
    if (k->pause_on_open)
        lp2p_stream_pause_read(s, 1);
}
static void sink_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    sink *k = ud;
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern_byte(k->seed, k->got + i))
            k->mismatch = 1;
    k->got += n;
    g_total += n;
    if (!k->marked && k->mark && k->got >= k->mark) {
        k->marked = 1;
        k->total_at_mark = g_total;
    }
}
static void sink_eof(lp2p_stream *s, void *ud)
{
    ((sink *)ud)->eof = 1;
}
static void sink_close(lp2p_stream *s, int err, void *ud)
{
    ((sink *)ud)->s = NULL;
}
static const lp2p_stream_callbacks k_sink = {
    .on_open = sink_open,
    .on_data = sink_data,
    .on_eof = sink_eof,
    .on_close = sink_close,
};

/* A's end: writes `total` bytes of its pattern, as much as the stream takes below its
 * high-water mark, the rest from on_writable (the one answer to "can I send?"). */
typedef struct writer {
    lp2p_stream *s;
    uint32_t seed;
    size_t total, sent, max_pending;
    int writable, closed, err;
} writer;

static void writer_fill(writer *w)
{
    uint8_t chunk[16384];
    while (w->s && w->sent < w->total && lp2p_stream_pending(w->s) < LP2P_STREAM_HIGH_WATER) {
        size_t n = w->total - w->sent < sizeof chunk ? w->total - w->sent : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern_byte(w->seed, w->sent + i);
        assert_int_equal(lp2p_stream_write(w->s, chunk, n), 0);
        w->sent += n;
        if (lp2p_stream_pending(w->s) > w->max_pending)
            w->max_pending = lp2p_stream_pending(w->s);
    }
    if (w->s && w->sent == w->total)
        lp2p_stream_close(w->s);
}
static void writer_writable(lp2p_stream *s, void *ud)
{
    writer *w = ud;
    w->writable++;
    writer_fill(w);
}
static void writer_close(lp2p_stream *s, int err, void *ud)
{
    writer *w = ud;
    w->closed = 1;
    w->err = err;
    w->s = NULL;
}
static const lp2p_stream_callbacks k_writer = {
    .on_writable = writer_writable,
    .on_close = writer_close,
};

static void writer_start(writer *w, const char *proto, uint32_t seed, size_t total)
{
    memset(w, 0, sizeof *w);
    w->seed = seed;
    w->total = total;
    assert_int_equal(lp2p_conn_open_stream(g_ca, proto, &k_writer, w, &w->s), 0);
    writer_fill(w);
}

static int setup(void **state)
{
    log_capture_start();
    loop_start();
    host_start(&A, "A", 0, 0);
    host_start(&B, "B", 0, 0);
    memset(&g_x, 0, sizeof g_x);
    memset(&g_y, 0, sizeof g_y);
    memset(&g_z, 0, sizeof g_z);
    g_x.seed = 1;
    g_y.seed = 2;
    g_z.seed = 3;
    g_total = 0;
    assert_int_equal(lp2p_host_handle(B.host, X_PROTO, &k_sink, &g_x), 0);
    assert_int_equal(lp2p_host_handle(B.host, Y_PROTO, &k_sink, &g_y), 0);
    assert_int_equal(lp2p_host_handle(B.host, Z_PROTO, &k_sink, &g_z), 0);
    mem_connect(&A, &B, &g_ca, &g_cb);
    assert_true(RUN_UNTIL(A.identified && B.identified, 3000));
    return 0;
}

static int teardown(void **state)
{
    host_free(&A);
    host_free(&B);
    loop_finish();
    host_free_key(&A);
    host_free_key(&B);
    log_capture_stop(0);
    return 0;
}

/* While B does not read, A's connection stages no more than its transport's high-water
 * mark plus one quantum: the streams keep the rest, each up to its own mark, and nothing
 * sits in the connection's ciphertext or the muxer's output once the loop is idle. */
static void test_backpressure_stops_at_the_transport(void **state)
{
    g_ca->t->high_water = 64u << 10;
    g_ca->t->low_water = 16u << 10;
    lp2p_transport_pause_read(g_cb->t, 1);
    static writer x, y;
    writer_start(&x, X_PROTO, 1, 4u << 20);
    writer_start(&y, Y_PROTO, 2, 4u << 20);
    run_for(300);
    assert_true(lp2p_transport_congested(g_ca->t));
    assert_true(lp2p_transport_pending(g_ca->t) <= (64u << 10) + QUANTUM + OVERHEAD);
    assert_int_equal(lp2p_buf_size(&g_ca->wire), 0);
    assert_int_equal(lp2p_buf_size(lp2p_yamux_out(g_ca->yamux)), 0);
    /* each writer stopped at the stream's mark and waits for on_writable (its queue is
     * still above the low mark: the connection took one quantum at most) */
    assert_true(lp2p_stream_pending(x.s) >= LP2P_STREAM_HIGH_WATER - QUANTUM);
    assert_true(lp2p_stream_pending(y.s) >= LP2P_STREAM_HIGH_WATER - QUANTUM);
    assert_true(x.sent < x.total && y.sent < y.total);
    assert_true(x.max_pending < LP2P_STREAM_HIGH_WATER + 16384);
    assert_int_equal(x.writable + y.writable, 0);
    assert_int_equal(g_total, 0);

    lp2p_transport_pause_read(g_cb->t, 0);
    assert_true(RUN_UNTIL(g_x.eof && g_y.eof, 20000));
    assert_int_equal(g_x.got, x.total);
    assert_int_equal(g_y.got, y.total);
    assert_false(g_x.mismatch || g_y.mismatch);
    assert_true(x.writable > 0 && y.writable > 0);
}

/* A bulk stream queued first does not hold back small streams queued after it: once the
 * transport drains, each ready stream is pulled for one quantum in turn. */
static void test_pull_is_round_robin(void **state)
{
    g_ca->t->high_water = 64u << 10;
    g_ca->t->low_water = 16u << 10;
    lp2p_transport_pause_read(g_cb->t, 1);
    static writer x, y, z;
    writer_start(&x, X_PROTO, 1, 3u << 20);
    run_for(100);
    assert_true(lp2p_transport_congested(g_ca->t));
    writer_start(&y, Y_PROTO, 2, 1000);
    writer_start(&z, Z_PROTO, 3, 1000);
    g_y.mark = 1000;
    g_z.mark = 1000;
    lp2p_transport_pause_read(g_cb->t, 0);
    assert_true(RUN_UNTIL(g_x.eof && g_y.eof && g_z.eof, 20000));
    assert_false(g_x.mismatch || g_y.mismatch || g_z.mismatch);
    assert_int_equal(g_x.got, x.total);
    /* What X had in the transport before Y and Z were queued, plus one quantum each time
     * round, came first; the 3 MiB did not. */
    size_t bound = (64u << 10) + 2 * QUANTUM + 2 * OVERHEAD + 2000;
    assert_true(g_y.marked && g_z.marked);
    assert_true(g_y.total_at_mark <= bound);
    assert_true(g_z.total_at_mark <= bound);
}

/* Two bulk streams share the connection: when one of them is done the other has had a fair
 * share, not what was left over. */
static void test_two_bulk_streams_share(void **state)
{
    g_ca->t->high_water = 64u << 10;
    g_ca->t->low_water = 16u << 10;
    static writer x, y;
    const size_t total = 4u << 20;
    g_x.mark = total;
    g_y.mark = total;
    writer_start(&x, X_PROTO, 1, total);
    writer_start(&y, Y_PROTO, 2, total);
    assert_true(RUN_UNTIL(g_x.eof && g_y.eof, 20000));
    assert_false(g_x.mismatch || g_y.mismatch);
    size_t first = g_x.total_at_mark < g_y.total_at_mark ? g_x.total_at_mark : g_y.total_at_mark;
    /* the first to finish: its 4 MiB and at least half of the other's (not exact turns:
     * a stream waiting for its window update sits out, and B's updates race the loop) */
    assert_true(first >= total + total / 2);
}

/* A stream whose peer stopped granting window leaves the pull order: the others go on, and
 * it comes back when the window reopens. */
static void test_shut_window_does_not_block_others(void **state)
{
    g_x.pause_on_open = 1; /* B holds X's window back */
    static writer x, y;
    writer_start(&x, X_PROTO, 1, 2u << 20);
    assert_true(RUN_UNTIL(g_x.s && lp2p_yamux_stream_send_window(x.s->ys) == 0, 5000));
    run_for(100); /* what was in flight arrives */
    size_t x_before = g_x.got;
    assert_true(x_before < (1u << 20)); /* one window (256 KiB as announced), not 2 MiB */
    writer_start(&y, Y_PROTO, 2, 1u << 20);
    assert_true(RUN_UNTIL(g_y.eof, 10000));
    assert_int_equal(g_y.got, y.total);
    assert_false(g_y.mismatch);
    assert_int_equal(g_x.got, x_before); /* X still waits for its window */
    assert_false(g_x.eof);
    lp2p_stream_pause_read(g_x.s, 0);
    assert_true(RUN_UNTIL(g_x.eof, 10000));
    assert_int_equal(g_x.got, x.total);
    assert_false(g_x.mismatch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backpressure_stops_at_the_transport, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_is_round_robin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_bulk_streams_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shut_window_does_not_block_others, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
