/* Splice (src/net/splice.c) between two in-memory transport pairs on a real libuv loop:
 *
 *   ca <-mem-> sa ==splice== sb <-mem-> cb
 *
 * big transfers both ways byte for byte, the backpressure bound while one end does not read,
 * half-close each way, reset propagation, the owner's close, the passive observer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lp2p/err.h"
#include "net/mem_transport.h"
#include "net/splice.h"

#define HIGH_WATER (256u * 1024)
#define CHUNK      (16u * 1024)

typedef struct endp {
    lp2p_transport *t;
    uint8_t seed;      /* pattern of what this end sends */
    uint8_t peer_seed; /* pattern of what it should receive */
    uint64_t to_send, sent, got;
    int shutdown_when_done, shut;
    int eof, closed, close_err, bad;
} endp;

static uint8_t pattern(uint8_t seed, uint64_t i)
{
    return (uint8_t)(i * 31 + seed + (i >> 13));
}

static void endp_fill(endp *p)
{
    while (!p->closed && p->sent < p->to_send && !lp2p_transport_congested(p->t)) {
        uint8_t tmp[65536];
        uint64_t n = p->to_send - p->sent;
        if (n > sizeof tmp)
            n = sizeof tmp;
        for (uint64_t i = 0; i < n; i++)
            tmp[i] = pattern(p->seed, p->sent + i);
        lp2p_buf b;
        lp2p_buf_init(&b);
        lp2p_buf_append(&b, tmp, n);
        assert_int_equal(lp2p_transport_write(p->t, &b), 0);
        lp2p_buf_free(&b);
        p->sent += n;
    }
    if (!p->closed && p->sent == p->to_send && p->shutdown_when_done && !p->shut) {
        p->shut = 1;
        assert_int_equal(lp2p_transport_shutdown(p->t), 0);
    }
}

static void ep_data(void *ud, const uint8_t *d, size_t n)
{
    endp *p = ud;
    for (size_t i = 0; i < n; i++)
        if (d[i] != pattern(p->peer_seed, p->got + i))
            p->bad = 1;
    p->got += n;
}
static void ep_eof(void *ud)
{
    ((endp *)ud)->eof = 1;
}
static void ep_writable(void *ud)
{
    endp_fill(ud);
}
static void ep_closed(void *ud, int err, const char *why)
{
    endp *p = ud;
    p->closed = 1;
    p->close_err = err;
}
static const lp2p_transport_events ep_events = {
    .on_data = ep_data, .on_eof = ep_eof, .on_writable = ep_writable, .on_closed = ep_closed};

typedef struct rig {
    uv_loop_t loop;
    endp ca, cb;
    lp2p_transport *sa, *sb;
    uv_check_t sampler; /* peak of what the splice queued toward cb, while sampling */
    int sampling;
    size_t peak_to_cb, peak_ca;
    lp2p_splice *sp;
    int done;
    lp2p_splice_result res;
    uint64_t observed[2];
    uint64_t observe_stop_after;
} rig;

static void on_splice_closed(void *ud, const lp2p_splice_result *r)
{
    rig *g = ud;
    g->done++;
    g->res = *r;
}

static int observe(void *ud, int dir, const uint8_t *p, size_t n)
{
    rig *g = ud;
    g->observed[dir] += n;
    return g->observe_stop_after && g->observed[dir] >= g->observe_stop_after;
}

static void sample(uv_check_t *h)
{
    rig *g = h->data;
    if (!g->sampling)
        return;
    size_t n = lp2p_transport_pending(g->sb);
    if (n > g->peak_to_cb)
        g->peak_to_cb = n;
    n = lp2p_transport_pending(g->ca.t);
    if (n > g->peak_ca)
        g->peak_ca = n;
}

static void mem_pair(rig *g, lp2p_transport **a, lp2p_transport **b)
{
    assert_int_equal(lp2p_mem_transport_pair(&g->loop, a, b), 0);
    lp2p_transport *t[2] = {*a, *b};
    for (int i = 0; i < 2; i++) {
        t[i]->high_water = HIGH_WATER;
        t[i]->low_water = HIGH_WATER / 4;
        lp2p_mem_transport_set_chunk(t[i], CHUNK);
    }
}

static void rig_setup(rig *g, int with_observer)
{
    memset(g, 0, sizeof *g);
    assert_int_equal(uv_loop_init(&g->loop), 0);
    uv_check_init(&g->loop, &g->sampler);
    g->sampler.data = g;
    uv_check_start(&g->sampler, sample);
    uv_unref((uv_handle_t *)&g->sampler);
    mem_pair(g, &g->ca.t, &g->sa);
    mem_pair(g, &g->cb.t, &g->sb);
    g->ca.seed = g->cb.peer_seed = 7;
    g->cb.seed = g->ca.peer_seed = 99;
    lp2p_transport_bind(g->ca.t, &ep_events, &g->ca);
    lp2p_transport_bind(g->cb.t, &ep_events, &g->cb);
    lp2p_splice_config cfg = {
        .on_closed = on_splice_closed,
        .observe = with_observer ? observe : NULL,
        .ud = g,
        .loop = &g->loop,
    };
    assert_int_equal(lp2p_splice_new(g->sa, g->sb, &cfg, &g->sp), 0);
}

static void on_stop_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop for about ms (the splice's drain poll keeps it busy meanwhile). */
static void run_ms(rig *g, uint64_t ms)
{
    uv_timer_t t;
    uv_timer_init(&g->loop, &t);
    uv_timer_start(&t, on_stop_timer, ms, 0);
    uv_run(&g->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&g->loop, UV_RUN_NOWAIT);
}

static void rig_teardown(rig *g)
{
    if (!g->ca.closed)
        lp2p_transport_close(g->ca.t, 0);
    if (!g->cb.closed)
        lp2p_transport_close(g->cb.t, 0);
    uv_close((uv_handle_t *)&g->sampler, NULL);
    uv_run(&g->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&g->loop), 0);
}

static void test_big_transfer_both_ways(void **state)
{
    rig g;
    rig_setup(&g, 1);
    g.ca.to_send = 8u << 20;
    g.cb.to_send = (8u << 20) + 12345;
    g.ca.shutdown_when_done = g.cb.shutdown_when_done = 1;
    endp_fill(&g.ca);
    endp_fill(&g.cb);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    assert_int_equal(g.done, 1);
    assert_int_equal(g.res.end, LP2P_SPLICE_END_EOF);
    assert_int_equal(g.res.err, 0);
    assert_int_equal(g.res.bytes[LP2P_SPLICE_A_TO_B], g.ca.to_send);
    assert_int_equal(g.res.bytes[LP2P_SPLICE_B_TO_A], g.cb.to_send);
    assert_int_equal(g.cb.got, g.ca.to_send);
    assert_int_equal(g.ca.got, g.cb.to_send);
    assert_false(g.ca.bad);
    assert_false(g.cb.bad);
    assert_true(g.ca.eof && g.cb.eof);
    /* The observer saw every byte both ways. */
    assert_int_equal(g.observed[0], g.ca.to_send);
    assert_int_equal(g.observed[1], g.cb.to_send);
    rig_teardown(&g);
}

static void test_backpressure_bound(void **state)
{
    rig g;
    rig_setup(&g, 0);
    g.ca.to_send = 32u << 20;
    g.sampling = 1;
    lp2p_transport_pause_read(g.cb.t, 1); /* cb does not read */
    endp_fill(&g.ca);
    uv_run(&g.loop, UV_RUN_DEFAULT); /* runs until nothing moves */
    /* Everything stalled with a bounded amount in flight: at most high water + one write
     * queued toward cb, the same from ca toward the splice, and ca stopped writing. */
    assert_true(g.peak_to_cb > 0 && g.peak_to_cb <= HIGH_WATER + CHUNK);
    assert_true(g.peak_ca <= HIGH_WATER + 65536);
    assert_true(g.ca.sent < 2 * HIGH_WATER + 3 * 65536);
    assert_int_equal(g.cb.got, 0);
    assert_int_equal(g.done, 0);
    /* cb reads again: all of it arrives, in order, with the same bound. */
    g.ca.shutdown_when_done = 1;
    lp2p_transport_pause_read(g.cb.t, 0);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    assert_int_equal(g.cb.got, g.ca.to_send);
    assert_false(g.cb.bad);
    assert_true(g.cb.eof);
    assert_true(g.peak_to_cb <= HIGH_WATER + CHUNK);
    assert_int_equal(g.done, 0); /* b to a still open */
    g.sampling = 0;
    lp2p_transport_shutdown(g.cb.t);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    assert_int_equal(g.done, 1);
    assert_int_equal(g.res.end, LP2P_SPLICE_END_EOF);
    rig_teardown(&g);
}

static void test_half_close_each_way(void **state)
{
    rig g;
    rig_setup(&g, 0);
    /* ca sends a little and shuts down; cb sees EOF yet can still answer. */
    g.ca.to_send = 1000;
    g.ca.shutdown_when_done = 1;
    endp_fill(&g.ca);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    assert_true(g.cb.eof);
    assert_int_equal(g.cb.got, 1000);
    assert_false(g.ca.eof);
    assert_int_equal(g.done, 0);
    g.cb.to_send = 300000;
    g.cb.shutdown_when_done = 1;
    endp_fill(&g.cb);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    assert_int_equal(g.ca.got, 300000);
    assert_false(g.ca.bad);
    assert_true(g.ca.eof);
    assert_int_equal(g.done, 1);
    assert_int_equal(g.res.end, LP2P_SPLICE_END_EOF);
    assert_int_equal(g.res.bytes[1], 300000);
    rig_teardown(&g);
}

/* Both directions ended while bytes still wait toward a reader that is paused: the splice
 * does not close (a TCP close would drop them) until they have been taken. */
static void test_clean_end_waits_for_pending(void **state)
{
    rig g;
    rig_setup(&g, 0);
    lp2p_transport_pause_read(g.cb.t, 1);
    g.ca.to_send = 200000;
    g.ca.shutdown_when_done = 1;
    endp_fill(&g.ca);
    assert_int_equal(lp2p_transport_shutdown(g.cb.t), 0);
    g.cb.shut = 1;
    run_ms(&g, 100);
    assert_true(lp2p_transport_pending(g.sb) > 0);
    assert_int_equal(g.done, 0);
    lp2p_transport_pause_read(g.cb.t, 0);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    assert_int_equal(g.done, 1);
    assert_int_equal(g.res.end, LP2P_SPLICE_END_EOF);
    assert_int_equal(g.cb.got, 200000);
    assert_true(g.cb.eof);
    rig_teardown(&g);
}

static void test_reset_propagates(void **state)
{
    for (int side = 0; side < 2; side++) {
        rig g;
        rig_setup(&g, 0);
        g.ca.to_send = g.cb.to_send = 100000;
        endp_fill(&g.ca);
        endp_fill(&g.cb);
        uv_run(&g.loop, UV_RUN_NOWAIT);
        endp *killer = side ? &g.cb : &g.ca, *victim = side ? &g.ca : &g.cb;
        lp2p_transport_close(killer->t, 1);
        uv_run(&g.loop, UV_RUN_DEFAULT);
        assert_true(victim->closed);
        assert_int_equal(victim->close_err, LP2P_ERR_RESET);
        assert_int_equal(g.done, 1);
        assert_int_equal(g.res.end, side ? LP2P_SPLICE_END_B : LP2P_SPLICE_END_A);
        assert_int_equal(g.res.err, LP2P_ERR_RESET);
        rig_teardown(&g);
    }
}

static void test_owner_close_and_observer_stop(void **state)
{
    rig g;
    rig_setup(&g, 1);
    g.observe_stop_after = 1; /* stop after the first chunk */
    g.ca.to_send = 200000;
    endp_fill(&g.ca);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    assert_int_equal(g.cb.got, 200000);
    assert_true(g.observed[0] > 0 && g.observed[0] <= 65536);
    lp2p_splice_close(g.sp, 1);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    assert_int_equal(g.done, 1);
    assert_int_equal(g.res.end, LP2P_SPLICE_END_LOCAL);
    assert_true(g.ca.closed && g.cb.closed);
    assert_int_equal(g.ca.close_err, LP2P_ERR_RESET);
    rig_teardown(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_transfer_both_ways),
        cmocka_unit_test(test_backpressure_bound),
        cmocka_unit_test(test_half_close_each_way),
        cmocka_unit_test(test_clean_end_waits_for_pending),
        cmocka_unit_test(test_reset_propagates),
        cmocka_unit_test(test_owner_close_and_observer_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
