/* The Kaspa peer driver (kaspa/peer.h) over an in-memory transport pair, both ends in one
 * libuv loop: handshake in both roles, pings, bulk sends under backpressure (the driver
 * never lets the transport's queue grow past its high-water mark by more than one move of
 * session output), one 1 MiB message, the peer half-closing and resetting, a Reject, and the
 * session's end logged exactly once per peer. Then the same driver over TCP on 127.0.0.1.
 *
 * The in-memory transport here (rather than net/mem_transport.c) records the most bytes it
 * ever held and how often it said on_writable; it delivers at most MEM_RATE bytes per end
 * per 1 ms tick, so a sender that ignores backpressure piles bytes up in it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaspa/msg.h"
#include "crypto/random.h"
#include "kaspa/peer.h"
#include "lp2p/err.h"
#include "net/transport.h"
#include "util/buf.h"
#include "util/log.h"

/* ---- an in-memory transport pair ---------------------------------------------------------- */
#define MEM_RATE       (64 * 1024)
#define MEM_HIGH_WATER (256 * 1024)

typedef struct mem_end {
    lp2p_transport t;
    struct mem_end *peer;
    lp2p_buf out;   /* written, not yet delivered to the peer */
    int armed;      /* reached high-water: on_writable below a quarter of it */
    int paused;     /* pause_read */
    int shut;       /* shutdown (FIN after out) */
    int fin_sent;   /* the peer got its on_eof */
    int close_req;  /* 1 close, 2 reset */
    int closed;     /* on_closed delivered */
    int peer_reset; /* the peer reset: report on_closed(LP2P_ERR_RESET) */
    size_t max_pending;
    int writable_calls;
} mem_end;

typedef struct mem_pair {
    uv_timer_t pump;
    size_t rate; /* bytes per end per tick: MEM_RATE unless a test sets it */
    mem_end e[2];
} mem_pair;

static int mem_write(lp2p_transport *t, lp2p_buf *b)
{
    mem_end *e = (mem_end *)t;
    if (e->shut || e->close_req || e->closed)
        return LP2P_ERR_STATE;
    lp2p_buf_append(&e->out, lp2p_buf_head(b), lp2p_buf_size(b));
    lp2p_buf_consume(b, lp2p_buf_size(b));
    if (lp2p_buf_size(&e->out) >= t->high_water)
        e->armed = 1;
    if (lp2p_buf_size(&e->out) > e->max_pending)
        e->max_pending = lp2p_buf_size(&e->out);
    return 0;
}
static size_t mem_pending(const lp2p_transport *t)
{
    return lp2p_buf_size(&((const mem_end *)t)->out);
}
static void mem_pause(lp2p_transport *t, int paused)
{
    ((mem_end *)t)->paused = paused;
}
static int mem_shutdown(lp2p_transport *t)
{
    ((mem_end *)t)->shut = 1;
    return 0;
}
static void mem_close(lp2p_transport *t, int reset)
{
    mem_end *e = (mem_end *)t;
    if (!e->close_req)
        e->close_req = reset ? 2 : 1;
}
static const char *mem_remote(const lp2p_transport *t)
{
    return "/memory/peer";
}
static int mem_sockaddr(const lp2p_transport *t, struct sockaddr_storage *out)
{
    return LP2P_ERR_NOT_FOUND;
}
static const lp2p_transport_vtable k_mem_vt = {
    .write = mem_write,
    .pending = mem_pending,
    .pause_read = mem_pause,
    .shutdown = mem_shutdown,
    .close = mem_close,
    .remote_addr = mem_remote,
    .peer_sockaddr = mem_sockaddr,
};

static void end_closed(mem_end *e, int err)
{
    if (e->closed)
        return;
    e->closed = 1;
    e->t.ev->on_closed(e->t.ud, err, err ? "memory peer reset" : NULL);
}

/* One tick: each end hands up to MEM_RATE bytes to its peer, then FIN, close, reset. */
static void pump_end(mem_end *e, size_t rate)
{
    mem_end *p = e->peer;
    if (e->closed)
        return;
    if (e->peer_reset) {
        end_closed(e, LP2P_ERR_RESET);
        return;
    }
    if (e->close_req == 2) {
        if (!p->closed)
            p->peer_reset = 1;
        end_closed(e, 0);
        return;
    }
    size_t n = lp2p_buf_size(&e->out);
    if (n > rate)
        n = rate;
    if (n && !p->paused && !p->closed) {
        uint8_t *tmp = malloc(n);
        memcpy(tmp, lp2p_buf_head(&e->out), n);
        lp2p_buf_consume(&e->out, n);
        p->t.ev->on_data(p->t.ud, tmp, n);
        free(tmp);
        if (e->closed)
            return;
    }
    if (e->armed && lp2p_buf_size(&e->out) < e->t.low_water) {
        e->armed = 0;
        e->writable_calls++;
        e->t.ev->on_writable(e->t.ud);
    }
    if ((e->shut || e->close_req == 1) && lp2p_buf_size(&e->out) == 0 && !e->fin_sent) {
        e->fin_sent = 1;
        if (!p->closed)
            p->t.ev->on_eof(p->t.ud);
    }
    /* A clean close is over once both sides have sent their FIN (a stream's both halves). */
    if (e->close_req == 1 && e->fin_sent && (p->fin_sent || p->closed))
        end_closed(e, 0);
}

static void on_pump(uv_timer_t *t)
{
    mem_pair *m = t->data;
    pump_end(&m->e[0], m->rate);
    pump_end(&m->e[1], m->rate);
}

static void mem_pair_init(mem_pair *m, uv_loop_t *loop)
{
    size_t rate = m->rate ? m->rate : MEM_RATE;
    memset(m, 0, sizeof(*m));
    m->rate = rate;
    for (int i = 0; i < 2; i++) {
        m->e[i].t.vt = &k_mem_vt;
        m->e[i].t.high_water = MEM_HIGH_WATER;
        m->e[i].t.low_water = MEM_HIGH_WATER / 4;
        m->e[i].peer = &m->e[1 - i];
        lp2p_buf_init(&m->e[i].out);
    }
    uv_timer_init(loop, &m->pump);
    m->pump.data = m;
    uv_timer_start(&m->pump, on_pump, 1, 1);
}

static void mem_pair_free(mem_pair *m)
{
    uv_timer_stop(&m->pump);
    uv_close((uv_handle_t *)&m->pump, NULL);
    for (int i = 0; i < 2; i++)
        lp2p_buf_free(&m->e[i].out);
}

/* ---- one side's record of its peer's events ----------------------------------------------- */
typedef struct side {
    kaspa_peer *p;
    int handshake, ready, pings, closed_ev, on_closed, err;
    int pings_wanted;
    char reject_recv[300], reason[200];
    int msgs; /* messages of the unknown kind we send in bulk */
    uint64_t msg_bytes;
    /* bulk sender */
    long long bulk_total, bulk_sent;
    uint8_t *bulk_msg;
    size_t bulk_len;
    int writable;
    /* the one answer: what the driver held when the writer asked, and when it stopped */
    size_t max_held;      /* most kaspa_peer_pending() seen after a send */
    int stops, bad_stops; /* times can_send said 0 mid-burst; of them, below the mark */
} side;

static void bulk_fill(side *s)
{
    while (s->bulk_sent < s->bulk_total && kaspa_peer_can_send(s->p)) {
        assert_int_equal(kaspa_session_send_raw(kaspa_peer_session(s->p), s->bulk_msg, s->bulk_len),
                         0);
        s->bulk_sent += (long long)s->bulk_len;
        kaspa_peer_flush(s->p);
        if (kaspa_peer_pending(s->p) > s->max_held)
            s->max_held = kaspa_peer_pending(s->p);
    }
    if (s->bulk_sent < s->bulk_total) {
        s->stops++;
        s->bad_stops += kaspa_peer_pending(s->p) < KASPA_PEER_HIGH_WATER;
    }
}

static void on_ev(void *u, kaspa_peer *p, const kaspa_event *ev)
{
    side *s = u;
    s->p = p;
    switch (ev->type) {
    case KASPA_EV_HANDSHAKE:
        s->handshake++;
        break;
    case KASPA_EV_READY:
        s->ready++;
        if (s->pings_wanted > 0)
            kaspa_peer_ping(p);
        if (s->bulk_total)
            bulk_fill(s);
        break;
    case KASPA_EV_PING:
        if (++s->pings < s->pings_wanted)
            kaspa_peer_ping(p);
        break;
    case KASPA_EV_MESSAGE:
        if (ev->u.message.kind == KASPA_MSG_UNKNOWN) { /* ours, not the flows' */
            s->msgs++;
            s->msg_bytes += ev->u.message.wire_len;
        }
        break;
    case KASPA_EV_REJECT:
        if (!ev->u.reject.sent)
            snprintf(s->reject_recv, sizeof s->reject_recv, "%s", ev->u.reject.reason);
        break;
    case KASPA_EV_CLOSED:
        s->closed_ev++;
        break;
    default:
        break;
    }
}

static void on_writable(void *u, kaspa_peer *p)
{
    side *s = u;
    s->writable++;
    bulk_fill(s);
}

static void on_closed(void *u, kaspa_peer *p, int err)
{
    side *s = u;
    s->on_closed++;
    s->err = err;
    snprintf(s->reason, sizeof s->reason, "%s", kaspa_peer_reason(p));
    s->p = NULL;
}

static const kaspa_peer_callbacks CB = {
    .on_event = on_ev, .on_writable = on_writable, .on_closed = on_closed};

static void guard_cb(uv_timer_t *t)
{
}

/* Runs the loop until *a >= want_a and *b >= want_b, or 10 s pass. */
static int run_until2(uv_loop_t *loop, const int *a, int want_a, const int *b, int want_b)
{
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, guard_cb, 20, 20);
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + 10000;
    while ((*a < want_a || *b < want_b) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&guard);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *a >= want_a && *b >= want_b;
}
static int run_until(uv_loop_t *loop, const int *v, int want)
{
    static const int one = 1;
    return run_until2(loop, v, want, &one, 1);
}

/* ---- fixture: hubs, configs, log capture ---------------------------------------------------- */
typedef struct fixture {
    uv_loop_t loop;
    kaspa_hub *hc, *hs;
    kaspa_session_config cc, sc;
    mem_pair m;
    side c, s;
    FILE *log;
} fixture;

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof(*f));
    uv_loop_init(&f->loop);
    assert_int_equal(kaspa_hub_new(&f->hc, NULL, &LP2P_RNG_OPENSSL), 0);
    assert_int_equal(kaspa_hub_new(&f->hs, NULL, &LP2P_RNG_OPENSSL), 0);
    kaspa_session_config_default(&f->cc, f->hc, KASPA_H2_PROFILE_TCP);
    kaspa_session_config_default(&f->sc, f->hs, KASPA_H2_PROFILE_TCP);
    f->cc.rng = f->sc.rng = LP2P_RNG_OPENSSL;
    f->cc.ping_interval_ms = f->sc.ping_interval_ms = 0;
    assert_int_equal(kaspa_addr_parse("192.0.2.1:16111", &f->cc.peer_addr), 0);
    assert_int_equal(kaspa_addr_parse("192.0.2.2:40000", &f->sc.peer_addr), 0);
    f->log = tmpfile();
    lp2p_log_set_format(LP2P_LOG_JSON);
    lp2p_log_set_output(f->log);
}

/* Starts the client on end 0 and the server on end 1. */
static void fixture_start(fixture *f)
{
    mem_pair_init(&f->m, &f->loop);
    kaspa_peer_names cn = {.label = "server", .addr = "/memory/server"};
    kaspa_peer_names sn = {.label = "client", .addr = "/memory/client"};
    assert_int_equal(
        kaspa_peer_start(&f->loop, &f->m.e[0].t, &f->cc, KASPA_CLIENT, &cn, &CB, &f->c, &f->c.p),
        0);
    assert_int_equal(
        kaspa_peer_start(&f->loop, &f->m.e[1].t, &f->sc, KASPA_SERVER, &sn, &CB, &f->s, &f->s.p),
        0);
}

/* Lines of the captured log that contain needle. */
static int log_count(fixture *f, const char *needle)
{
    char line[2048];
    int n = 0;
    fflush(f->log);
    rewind(f->log);
    while (fgets(line, sizeof line, f->log))
        n += strstr(line, needle) != NULL;
    fseek(f->log, 0, SEEK_END);
    return n;
}

static void fixture_free(fixture *f)
{
    if (f->m.pump.data)
        mem_pair_free(&f->m);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    kaspa_hub_del(f->hc);
    kaspa_hub_del(f->hs);
    lp2p_log_set_output(stderr);
    fclose(f->log);
    free(f->c.bulk_msg);
}

/* How many bulk_msg the sender's bulk_fill sends (it stops at or past bulk_total). */
static int bulk_messages(const side *c)
{
    return (int)((c->bulk_total + (long long)c->bulk_len - 1) / (long long)c->bulk_len);
}

/* KaspadMessage { field 4 (bytes) = n pseudo-random bytes }: a payload number no Kaspa
 * version uses, which the server counts (KASPA_EV_MESSAGE) and ignores. */
static uint8_t *unknown_msg(size_t n, size_t *len)
{
    uint8_t *m = malloc(n + 8);
    size_t h = 0;
    m[h++] = (4 << 3) | 2;
    for (uint32_t v = (uint32_t)n;; v >>= 7) {
        m[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f)
            break;
    }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        m[h + i] = (uint8_t)x;
    }
    *len = h + n;
    return m;
}

/* ---- tests ---------------------------------------------------------------------------------- */
static void test_handshake_both_roles_pings_and_one_end_log(void **state)
{
    fixture f;
    fixture_init(&f);
    f.c.pings_wanted = 3;
    f.s.pings_wanted = 2;
    fixture_start(&f);
    assert_true(run_until2(&f.loop, &f.c.pings, 3, &f.s.pings, 2));
    assert_int_equal(f.c.handshake, 1);
    assert_int_equal(f.s.handshake, 1);
    assert_int_equal(f.c.ready, 1);
    assert_int_equal(f.s.ready, 1);
    assert_int_equal(kaspa_hub_count(f.hs), 1);
    assert_string_equal(kaspa_peer_label(f.s.p), "client");
    assert_string_equal(kaspa_peer_key_addr(f.s.p), "192.0.2.2:40000");
    assert_int_equal(log_count(&f, "\"kaspa_session_closed\""), 0);

    kaspa_peer_close(f.c.p, NULL);
    assert_true(run_until2(&f.loop, &f.c.on_closed, 1, &f.s.on_closed, 1));
    assert_int_equal(f.c.err, 0);
    assert_int_equal(f.s.err, 0);
    assert_int_equal(f.c.closed_ev, 1);
    assert_int_equal(f.s.closed_ev, 1);
    assert_string_equal(f.c.reason, "closed by us");
    assert_int_equal(kaspa_hub_count(f.hs), 0);
    assert_int_equal(kaspa_hub_count(f.hc), 0);
    /* One line per peer, from the driver, with the counters. */
    assert_int_equal(log_count(&f, "\"kaspa_session_closed\""), 2);
    assert_int_equal(log_count(&f, "\"kaspa_session_closed\",\"peer\":\"server\""), 1);
    assert_int_equal(log_count(&f, "\"messages_out\":0"), 0);
    fixture_free(&f);
}

static void test_bulk_sends_respect_backpressure(void **state)
{
    fixture f;
    fixture_init(&f);
    /* The libp2p profile's windows (8 MiB stream, 16 MiB connection) are far above the
     * transport's high-water mark: only the driver's gate keeps the queue short. */
    kaspa_grpc_config_default(&f.cc.grpc, KASPA_H2_PROFILE_LIBP2P);
    kaspa_grpc_config_default(&f.sc.grpc, KASPA_H2_PROFILE_LIBP2P);
    f.cc.grpc.gzip = 0; /* random bytes: gzip would only cost time */
    f.c.bulk_total = 16ll << 20;
    f.c.bulk_msg = unknown_msg(64 * 1024, &f.c.bulk_len);
    fixture_start(&f);
    int want = bulk_messages(&f.c);
    assert_true(run_until(&f.loop, &f.s.msgs, want));
    assert_int_equal(f.s.msg_bytes, (uint64_t)want * f.c.bulk_len);
    /* The writer waited for the driver: on_writable came, and the transport never held more
     * than its high-water mark plus one move of session output: what the driver lets a
     * sender queue (KASPA_PEER_HIGH_WATER and one more message), released at once when the
     * transport drains. A driver that ignored the transport would fill the 8 MiB stream
     * window into it. */
    assert_true(f.c.writable > 0);
    assert_true(f.m.e[0].writable_calls > 0);
    assert_true(f.m.e[0].max_pending < MEM_HIGH_WATER + KASPA_PEER_HIGH_WATER + 128 * 1024);

    /* One message far larger than a frame and a window: 1 MiB in one piece. */
    size_t big_len;
    uint8_t *big = unknown_msg(1 << 20, &big_len);
    assert_int_equal(kaspa_session_send_raw(kaspa_peer_session(f.c.p), big, big_len), 0);
    kaspa_peer_flush(f.c.p);
    free(big);
    assert_true(run_until(&f.loop, &f.s.msgs, want + 1));
    assert_int_equal(f.s.msg_bytes, (uint64_t)want * f.c.bulk_len + big_len);

    kaspa_peer_close(f.c.p, NULL);
    assert_true(run_until2(&f.loop, &f.c.on_closed, 1, &f.s.on_closed, 1));
    fixture_free(&f);
}

/* "Can I send?" has one answer, kaspa_peer_pending(p) < KASPA_PEER_HIGH_WATER, wherever the
 * backlog sits: in the transport (slow link, the libp2p profile's 8 MiB window) or behind
 * the HTTP/2 window (a link that takes 16 MiB a tick, the TCP profile's 1 MiB server
 * window). The writer stops only at the mark, never holds more than the mark and one
 * message in the driver, and the transport never more than its own mark plus that. */
static void one_answer(int window_bound)
{
    fixture f;
    fixture_init(&f);
    if (window_bound) {
        f.m.rate = 16u << 20;
    } else {
        kaspa_grpc_config_default(&f.cc.grpc, KASPA_H2_PROFILE_LIBP2P);
        kaspa_grpc_config_default(&f.sc.grpc, KASPA_H2_PROFILE_LIBP2P);
    }
    f.cc.grpc.gzip = 0;
    f.c.bulk_total = 24ll << 20;
    f.c.bulk_msg = unknown_msg(64 * 1024, &f.c.bulk_len);
    fixture_start(&f);
    int want = bulk_messages(&f.c);
    assert_true(run_until(&f.loop, &f.s.msgs, want));
    assert_int_equal(f.s.msg_bytes, (uint64_t)want * f.c.bulk_len);
    assert_true(f.c.stops > 0); /* the burst did wait */
    assert_true(f.c.writable > 0);
    assert_int_equal(f.c.bad_stops, 0);
    size_t one = f.c.bulk_len + 64; /* a message, its gRPC prefix and frame headers */
    assert_true(f.c.max_held < KASPA_PEER_HIGH_WATER + one);
    assert_true(f.m.e[0].max_pending < MEM_HIGH_WATER + KASPA_PEER_HIGH_WATER + one);
    kaspa_peer_close(f.c.p, NULL);
    assert_true(run_until2(&f.loop, &f.c.on_closed, 1, &f.s.on_closed, 1));
    fixture_free(&f);
}

static void test_one_answer_backlog_in_transport(void **state)
{
    one_answer(0);
}

static void test_one_answer_backlog_behind_window(void **state)
{
    one_answer(1);
}

static void test_peer_half_close_ends_the_session(void **state)
{
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    assert_true(run_until2(&f.loop, &f.c.ready, 1, &f.s.ready, 1));
    /* The server's side of the pipe sends FIN without a gRPC end (a killed process would). */
    lp2p_transport_shutdown(&f.m.e[1].t);
    assert_true(run_until(&f.loop, &f.c.on_closed, 1));
    assert_int_equal(f.c.closed_ev, 1);
    assert_int_equal(f.c.err, LP2P_ERR_CLOSED);
    assert_string_equal(f.c.reason, "the peer closed its side");
    assert_true(run_until(&f.loop, &f.s.on_closed, 1));
    assert_int_equal(log_count(&f, "\"kaspa_session_closed\""), 2);
    fixture_free(&f);
}

static void test_peer_reset_ends_the_session(void **state)
{
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    assert_true(run_until2(&f.loop, &f.c.ready, 1, &f.s.ready, 1));
    lp2p_transport_close(&f.m.e[1].t, 1);
    assert_true(run_until2(&f.loop, &f.c.on_closed, 1, &f.s.on_closed, 1));
    assert_int_equal(f.c.closed_ev, 1);
    assert_int_equal(f.c.err, LP2P_ERR_RESET);
    assert_non_null(strstr(f.c.reason, "stream reset"));
    assert_int_equal(kaspa_hub_count(f.hc), 0);
    assert_int_equal(kaspa_hub_count(f.hs), 0);
    assert_int_equal(log_count(&f, "\"kaspa_session_closed\""), 2);
    fixture_free(&f);
}

static void test_network_mismatch_is_rejected(void **state)
{
    fixture f;
    fixture_init(&f);
    f.sc.network = "kaspa-testnet-10";
    fixture_start(&f);
    assert_true(run_until2(&f.loop, &f.c.on_closed, 1, &f.s.on_closed, 1));
    /* Each side checks the other's Version and rejects it (rusty-kaspa does the same); the
     * Reject is the session's end reason on both. */
    assert_int_equal(f.c.ready, 0);
    assert_int_equal(f.s.ready, 0);
    assert_non_null(strstr(f.c.reason, "reject sent: Network mismatch - local: kaspa-mainnet"));
    assert_non_null(strstr(f.s.reason, "reject sent: Network mismatch - local: kaspa-testnet-10"));
    assert_int_equal(log_count(&f, "\"reason\":\"reject sent: Network mismatch"), 2);
    assert_int_equal(kaspa_hub_count(f.hs), 0);
    fixture_free(&f);
}

/* ---- the same driver over TCP on loopback --------------------------------------------------- */
static void test_tcp_loopback_bulk_and_refused_dial(void **state)
{
    fixture f;
    fixture_init(&f);
    f.cc.grpc.gzip = 0;
    f.c.bulk_total = 8ll << 20;
    f.c.bulk_msg = unknown_msg(64 * 1024, &f.c.bulk_len);
    kaspa_peer_listener *l;
    assert_int_equal(kaspa_peer_listen_tcp(&f.loop, "127.0.0.1:0", &f.sc, &CB, &f.s, &l), 0);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", kaspa_peer_listener_port(l));
    assert_int_equal(kaspa_peer_dial_tcp(&f.loop, target, &f.cc, &CB, &f.c, &f.c.p), 0);
    assert_null(kaspa_peer_session(f.c.p)); /* not connected yet */
    int want = bulk_messages(&f.c);
    assert_true(run_until(&f.loop, &f.s.msgs, want));
    assert_int_equal(f.s.msg_bytes, (uint64_t)want * f.c.bulk_len);
    assert_true(f.c.writable > 0);
    assert_string_equal(kaspa_peer_label(f.c.p), target);
    assert_int_equal(strncmp(kaspa_peer_label(f.s.p), "127.0.0.1:", 10), 0);

    /* The listener's close ends its peers with a clean gRPC end. */
    kaspa_peer_listener_close(l);
    assert_true(run_until2(&f.loop, &f.c.on_closed, 1, &f.s.on_closed, 1));
    assert_int_equal(log_count(&f, "\"kaspa_session_closed\""), 2);

    /* Nobody listens there now: on_closed with an error and no session, nothing logged. */
    side refused = {0};
    kaspa_peer *p;
    assert_int_equal(kaspa_peer_dial_tcp(&f.loop, target, &f.cc, &CB, &refused, &p), 0);
    assert_true(run_until(&f.loop, &refused.on_closed, 1));
    assert_int_equal(refused.err, LP2P_ERR_IO);
    assert_int_equal(log_count(&f, "\"kaspa_session_closed\""), 2);
    assert_int_equal(kaspa_peer_dial_tcp(&f.loop, "not-an-address", &f.cc, &CB, &refused, &p),
                     LP2P_ERR_INVAL);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_both_roles_pings_and_one_end_log),
        cmocka_unit_test(test_bulk_sends_respect_backpressure),
        cmocka_unit_test(test_one_answer_backlog_in_transport),
        cmocka_unit_test(test_one_answer_backlog_behind_window),
        cmocka_unit_test(test_peer_half_close_ends_the_session),
        cmocka_unit_test(test_peer_reset_ends_the_session),
        cmocka_unit_test(test_network_mismatch_is_rejected),
        cmocka_unit_test(test_tcp_loopback_bulk_and_refused_dial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
