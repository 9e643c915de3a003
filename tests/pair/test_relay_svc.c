/* The relay server (lp2p/relay_server.h, through its public API) on real hosts in one libuv loop
 * over 127.0.0.1: R runs the service; T (target) and S (source) speak hop and stop by hand with the
 * message codec, so every status on the wire is checked as a client reads it. Covered: RESERVE
 * (expire, addrs, voucher, limit), the 60 s hop timeout (shortened), the 4 KiB cap, CONNECT → stop
 * CONNECT → splice with FIN both ways and byte counts, the data and duration limits, a target that
 * refuses or never answers, NO_RESERVATION, and PERMISSION_DENIED over a relayed connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <stdio.h>
#include <uv.h>

#include "lp2p/err.h"
#include "lp2p/host.h"
#include "lp2p/identity.h"
#include "lp2p/relay_server.h"
#include "net/wall_clock.h"
#include "proto/relay_msg.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/uvarint.h"
#include "wire/lpm.h"
#include "wire/multiaddr.h"

#define MAX_PS 16

/* One stream driven by the test: the first message is decoded, what follows is raw bytes. */
typedef struct pstream {
    struct world *w;
    lp2p_stream *s;
    lp2p_relay_kind kind;
    lp2p_lpm lpm;
    int got_msg;
    lp2p_relay_msg msg;
    lp2p_buf data; /* bytes after the message */
    int echo;      /* stop side: echo raw bytes, close on EOF */
    int answer;    /* stop side: status to answer CONNECT with; 0 = never answer */
    int eof, closed, err;
    uint64_t closed_at;
} pstream;

typedef struct world {
    uv_loop_t loop;
    lp2p_keypair *kp_r, *kp_t, *kp_s, *kp_r0;
    lp2p_host *r, *t, *s, *r0;
    lp2p_relay_server *svc, *svc0;
    lp2p_conn *t_conn, *s_conn;
    char raddr[256], r0addr[256];
    pstream ps[MAX_PS];
    size_t nps;
    int stop_answer, stop_echo;
} world;

static world *W; /* for the stop handler's ud-less callbacks */

/* ---- pstream callbacks --------------------------------------------------------------------- */

static void ps_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    pstream *x = ud;
    if (!x->got_msg) {
        size_t used = 0;
        lp2p_view m;
        int rc = lp2p_lpm_read(&x->lpm, p, n, &used, &m);
        if (rc <= 0)
            return;
        assert_int_equal(lp2p_relay_msg_decode(x->kind, m.ptr, m.len, &x->msg), 0);
        x->got_msg = 1;
        p += used;
        n -= used;
        if (x->kind == LP2P_RELAY_STOP && x->msg.type == LP2P_RELAY_CONNECT && x->answer) {
            lp2p_buf out;
            lp2p_buf_init(&out);
            assert_int_equal(lp2p_relay_msg_encode_status(LP2P_RELAY_STOP, x->answer, &out), 0);
            lp2p_stream_write(s, lp2p_buf_head(&out), lp2p_buf_size(&out));
            lp2p_buf_free(&out);
            if (x->answer != LP2P_RELAY_STATUS_OK)
                lp2p_stream_close(s);
        }
    }
    lp2p_buf_append(&x->data, p, n);
    if (x->echo && n)
        lp2p_stream_write(s, p, n);
}

static void ps_eof(lp2p_stream *s, void *ud)
{
    pstream *x = ud;
    x->eof = 1;
    if (x->echo)
        lp2p_stream_close(s);
}

static void ps_close(lp2p_stream *s, int err, void *ud)
{
    pstream *x = ud;
    x->closed = 1;
    x->err = err;
    x->closed_at = uv_now(&x->w->loop);
    x->s = NULL;
}

static const lp2p_stream_callbacks k_ps = {
    .on_data = ps_data, .on_eof = ps_eof, .on_close = ps_close};

static pstream *ps_new(world *w, lp2p_relay_kind kind)
{
    assert_true(w->nps < MAX_PS);
    pstream *x = &w->ps[w->nps++];
    memset(x, 0, sizeof(*x));
    x->w = w;
    x->kind = kind;
    lp2p_lpm_init(&x->lpm, LP2P_RELAY_MSG_MAX);
    lp2p_buf_init(&x->data);
    return x;
}

/* The target's stop handler (replaces the host's own): answers as the world says. */
static void stop_open(lp2p_stream *s, void *ud)
{
    pstream *x = ps_new(W, LP2P_RELAY_STOP);
    x->s = s;
    x->answer = W->stop_answer;
    x->echo = W->stop_echo;
    lp2p_stream_set_callbacks(s, &k_ps, x);
}
static const lp2p_stream_callbacks k_stop_handler = {.on_open = stop_open};

/* ---- loop helpers -------------------------------------------------------------------------- */

static void on_deadline(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs the loop until *flag is set or ms pass; returns *flag. */
static int run_until(world *w, const int *flag, uint64_t ms)
{
    int expired = 0;
    uv_timer_t t;
    uv_timer_init(&w->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, ms, 0);
    while (!*flag && !expired)
        uv_run(&w->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&w->loop, UV_RUN_NOWAIT);
    return *flag;
}

typedef struct dial_wait {
    lp2p_conn *c;
    int done, err;
} dial_wait;

static void dial_cb(lp2p_conn *c, int err, void *ud)
{
    dial_wait *d = ud;
    d->c = c;
    d->err = err;
    d->done = 1;
}

static lp2p_conn *dial(world *w, lp2p_host *h, const char *addr)
{
    dial_wait d = {0};
    assert_int_equal(lp2p_host_dial(h, addr, dial_cb, &d), 0);
    assert_true(run_until(w, &d.done, 5000));
    assert_int_equal(d.err, 0);
    return d.c;
}

static lp2p_host *new_host_cb(world *w, lp2p_keypair **kp, int relay)
{
    assert_int_equal(lp2p_keypair_generate(kp), 0);
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &w->loop, *kp);
    if (relay)
        hc.max_stream_window = 1u << 20; /* as cmd_relay */
    lp2p_host *h;
    assert_int_equal(lp2p_host_new(&hc, &h), 0);
    return h;
}

static lp2p_host *new_host(world *w, lp2p_keypair **kp)
{
    return new_host_cb(w, kp, 0);
}

static void first_addr(lp2p_host *h, char *out, size_t n)
{
    const char *const *la;
    assert_true(lp2p_host_listen_addrs(h, &la) >= 1);
    snprintf(out, n, "%s", la[0]);
}

static world *make_world(const lp2p_relay_server_config *cfg)
{
    world *w = calloc(1, sizeof(*w));
    W = w;
    uv_loop_init(&w->loop);
    w->r = new_host_cb(w, &w->kp_r, 1);
    assert_int_equal(lp2p_host_listen(w->r, "/ip4/127.0.0.1/tcp/0"), 0);
    assert_int_equal(lp2p_relay_server_new(w->r, w->kp_r, cfg, &w->svc), 0);
    first_addr(w->r, w->raddr, sizeof(w->raddr));
    w->t = new_host(w, &w->kp_t);
    w->s = new_host(w, &w->kp_s);
    lp2p_host_handle(w->t, LP2P_RELAY_STOP_PROTO, &k_stop_handler, NULL);
    w->t_conn = dial(w, w->t, w->raddr);
    w->s_conn = dial(w, w->s, w->raddr);
    return w;
}

static void free_world(world *w)
{
    /* Before the hosts: the server unsubscribes, the hosts' last disconnections reach no one. */
    lp2p_relay_server_close(w->svc0);
    lp2p_relay_server_close(w->svc);
    w->svc0 = w->svc = NULL;
    lp2p_host *hs[] = {w->r, w->t, w->s, w->r0};
    for (size_t i = 0; i < 4; i++)
        if (hs[i])
            lp2p_host_close(hs[i]);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    for (size_t i = 0; i < w->nps; i++) {
        if (w->ps[i].got_msg)
            lp2p_relay_msg_free(&w->ps[i].msg);
        lp2p_lpm_free(&w->ps[i].lpm);
        lp2p_buf_free(&w->ps[i].data);
    }
    lp2p_keypair *ks[] = {w->kp_r, w->kp_t, w->kp_s, w->kp_r0};
    for (size_t i = 0; i < 4; i++)
        if (ks[i])
            lp2p_keypair_del(ks[i]);
    free(w);
    W = NULL;
}

static lp2p_relay_server_config test_config(void)
{
    lp2p_relay_server_config c;
    lp2p_relay_server_config_default(&c);
    c.limits.circuit_data = 64 << 10;
    return c;
}

/* Opens a hop stream on conn and sends msg (already framed) ; returns the client stream. */
static pstream *hop_send(world *w, lp2p_conn *conn, const lp2p_buf *framed)
{
    pstream *x = ps_new(w, LP2P_RELAY_HOP);
    assert_int_equal(lp2p_conn_open_stream(conn, LP2P_RELAY_HOP_PROTO, &k_ps, x, &x->s), 0);
    if (framed && lp2p_buf_size(framed))
        lp2p_stream_write(x->s, lp2p_buf_head(framed), lp2p_buf_size(framed));
    return x;
}

static pstream *hop_reserve(world *w, lp2p_conn *conn)
{
    lp2p_buf b;
    lp2p_buf_init(&b);
    lp2p_relay_msg m = {.kind = LP2P_RELAY_HOP, .type = LP2P_RELAY_RESERVE};
    assert_int_equal(lp2p_relay_msg_encode(&m, &b), 0);
    pstream *x = hop_send(w, conn, &b);
    lp2p_buf_free(&b);
    assert_true(run_until(w, &x->got_msg, 5000));
    return x;
}

static pstream *hop_connect(world *w, lp2p_conn *conn, const lp2p_peer_id *target)
{
    lp2p_buf b;
    lp2p_buf_init(&b);
    lp2p_relay_msg m = {.kind = LP2P_RELAY_HOP,
                        .type = LP2P_RELAY_CONNECT,
                        .has_peer = 1,
                        .peer_id = lp2p_view_make(target->bytes, target->len)};
    assert_int_equal(lp2p_relay_msg_encode(&m, &b), 0);
    pstream *x = hop_send(w, conn, &b);
    lp2p_buf_free(&b);
    assert_true(run_until(w, &x->got_msg, 5000));
    return x;
}

static void assert_status(const pstream *x, int status)
{
    assert_true(x->got_msg);
    assert_int_equal(x->msg.type, LP2P_RELAY_STATUS);
    assert_int_equal(x->msg.status, status);
}

/* ---- tests --------------------------------------------------------------------------------- */

/* A relay listening on 0.0.0.0 with no --announce: the reservation carries the host's
 * interface addresses with the relay's port (rust-libp2p rejects a reservation without
 * addresses: NoAddressesInReservation), never 0.0.0.0. */
static void test_reserve_unspecified_listen_has_addresses(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    world *w = make_world(&cfg);
    w->r0 = new_host_cb(w, &w->kp_r0, 1);
    assert_int_equal(lp2p_host_listen(w->r0, "/ip4/0.0.0.0/tcp/0"), 0);
    assert_int_equal(lp2p_relay_server_new(w->r0, w->kp_r0, &cfg, &w->svc0), 0);
    first_addr(w->r0, w->r0addr, sizeof(w->r0addr));
    unsigned port = 0;
    assert_int_equal(sscanf(w->r0addr, "/ip4/0.0.0.0/tcp/%u/", &port), 1);
    char dial_to[256];
    snprintf(dial_to, sizeof dial_to, "/ip4/127.0.0.1/tcp/%u/p2p/%s", port,
             strstr(w->r0addr, "/p2p/") + 5);
    lp2p_conn *c = dial(w, w->t, dial_to);
    pstream *x = hop_reserve(w, c);
    assert_status(x, LP2P_RELAY_STATUS_OK);
    assert_true(x->msg.n_rsv_addrs >= 1);
    char tail[128];
    snprintf(tail, sizeof tail, "/tcp/%u/p2p/%s", port, strstr(w->r0addr, "/p2p/") + 5);
    for (size_t i = 0; i < x->msg.n_rsv_addrs; i++) {
        lp2p_multiaddr ma = {0};
        char t[LP2P_MULTIADDR_STR_MAX];
        assert_int_equal(lp2p_multiaddr_from_bytes(&ma, x->msg.rsv_addrs[i].ptr,
                                                   x->msg.rsv_addrs[i].len, NULL, 0),
                         0);
        assert_int_equal(lp2p_multiaddr_to_string(&ma, t, sizeof t), 0);
        lp2p_multiaddr_free(&ma);
        assert_null(strstr(t, "/0.0.0.0/"));
        assert_non_null(strstr(t, tail));
    }
    free_world(w);
}

static void test_reserve(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    world *w = make_world(&cfg);
    uint64_t unix_now = lp2p_wall_ms() / 1000;
    pstream *x = hop_reserve(w, w->t_conn);
    assert_status(x, LP2P_RELAY_STATUS_OK);
    assert_true(x->msg.has_reservation);
    assert_in_range(x->msg.rsv_expire, unix_now + 3600 - 2, unix_now + 3600 + 2);
    /* The one address is R's listen address with /p2p/<R>. */
    assert_int_equal(x->msg.n_rsv_addrs, 1);
    lp2p_multiaddr want = {0};
    assert_int_equal(lp2p_multiaddr_parse(&want, w->raddr, NULL, 0), 0);
    assert_int_equal(x->msg.rsv_addrs[0].len, want.len);
    assert_memory_equal(x->msg.rsv_addrs[0].ptr, want.bytes, want.len);
    lp2p_multiaddr_free(&want);
    /* The voucher is R's, for T, expiring with the reservation. */
    assert_true(x->msg.has_voucher);
    lp2p_peer_id who;
    uint64_t exp = 0;
    assert_int_equal(lp2p_voucher_open(x->msg.voucher.ptr, x->msg.voucher.len,
                                       lp2p_keypair_peer_id(w->kp_r), &who, &exp),
                     0);
    assert_true(lp2p_peer_id_equal(&who, lp2p_keypair_peer_id(w->kp_t)));
    assert_int_equal(exp, x->msg.rsv_expire);
    assert_true(x->msg.has_limit);
    assert_int_equal(x->msg.limit_duration_s, 120);
    assert_int_equal(x->msg.limit_data, 64 << 10);
    /* The relay closes its side after the reply. */
    assert_true(run_until(w, &x->eof, 2000));
    lp2p_relay_server_stats st;
    lp2p_relay_server_stats_get(w->svc, &st);
    assert_int_equal(st.reservations_active, 1);
    assert_int_equal(st.reservations_granted_total, 1);
    free_world(w);
}

static void test_hop_timeout(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    cfg.stream_timeout_ms = 300;
    world *w = make_world(&cfg);
    uint64_t t0 = uv_now(&w->loop);
    pstream *x = hop_send(w, w->s_conn, NULL); /* opens, never asks */
    assert_true(run_until(w, &x->closed, 3000));
    assert_int_equal(x->err, LP2P_ERR_RESET);
    assert_false(x->got_msg);
    assert_in_range(x->closed_at - t0, 250, 2000);
    free_world(w);
}

static void test_oversize_message(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    world *w = make_world(&cfg);
    lp2p_buf b;
    lp2p_buf_init(&b);
    lp2p_buf_append_uvarint(&b, LP2P_RELAY_MSG_MAX + 1); /* announces 4097 bytes */
    lp2p_buf_append(&b, "0123456789", 10);
    pstream *x = hop_send(w, w->s_conn, &b);
    lp2p_buf_free(&b);
    assert_true(run_until(w, &x->got_msg, 3000));
    assert_status(x, LP2P_RELAY_STATUS_MALFORMED_MESSAGE);
    free_world(w);
}

static void test_circuit_echo_fin(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    world *w = make_world(&cfg);
    w->stop_answer = LP2P_RELAY_STATUS_OK;
    w->stop_echo = 1;
    pstream *rsv = hop_reserve(w, w->t_conn);
    assert_status(rsv, LP2P_RELAY_STATUS_OK);
    pstream *x = hop_connect(w, w->s_conn, lp2p_keypair_peer_id(w->kp_t));
    assert_status(x, LP2P_RELAY_STATUS_OK);
    assert_true(x->msg.has_limit);
    assert_int_equal(x->msg.limit_data, 64 << 10);
    /* T got stop CONNECT naming S, with the limit. */
    pstream *stop = &w->ps[w->nps - 1];
    assert_int_equal(stop->kind, LP2P_RELAY_STOP);
    assert_int_equal(stop->msg.type, LP2P_RELAY_CONNECT);
    assert_true(stop->msg.has_peer);
    const lp2p_peer_id *sid = lp2p_keypair_peer_id(w->kp_s);
    assert_int_equal(stop->msg.peer_id.len, sid->len);
    assert_memory_equal(stop->msg.peer_id.ptr, sid->bytes, sid->len);
    assert_int_equal(stop->msg.limit_data, 64 << 10);

    /* 40000 bytes through, half-close: T sees EOF, echoes everything, closes; S sees EOF. */
    uint8_t pattern[40000];
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 7 + 3);
    lp2p_stream_write(x->s, pattern, sizeof(pattern));
    lp2p_stream_close(x->s);
    assert_true(run_until(w, &x->closed, 5000));
    assert_int_equal(x->err, 0);
    assert_true(x->eof);
    assert_true(stop->eof);
    assert_int_equal(lp2p_buf_size(&stop->data), sizeof(pattern));
    assert_int_equal(lp2p_buf_size(&x->data), sizeof(pattern));
    assert_memory_equal(lp2p_buf_head(&x->data), pattern, sizeof(pattern));
    assert_true(run_until(w, &stop->closed, 2000));
    assert_int_equal(stop->err, 0);
    lp2p_relay_server_stats st;
    lp2p_relay_server_stats_get(w->svc, &st);
    assert_int_equal(st.circuits_total, 1);
    assert_int_equal(st.circuits_active, 0);
    assert_int_equal(st.bytes_relayed[0], sizeof(pattern));
    assert_int_equal(st.bytes_relayed[1], sizeof(pattern));
    free_world(w);
}

static void test_data_limit(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    world *w = make_world(&cfg);
    w->stop_answer = LP2P_RELAY_STATUS_OK;
    w->stop_echo = 1;
    assert_status(hop_reserve(w, w->t_conn), LP2P_RELAY_STATUS_OK);
    pstream *x = hop_connect(w, w->s_conn, lp2p_keypair_peer_id(w->kp_t));
    assert_status(x, LP2P_RELAY_STATUS_OK);
    pstream *stop = &w->ps[w->nps - 1];
    static uint8_t big[100000];
    lp2p_stream_write(x->s, big, sizeof(big));
    assert_true(run_until(w, &x->closed, 5000));
    assert_int_equal(x->err, LP2P_ERR_RESET);
    assert_true(run_until(w, &stop->closed, 2000));
    assert_int_equal(stop->err, LP2P_ERR_RESET);
    assert_true(lp2p_buf_size(&stop->data) <= (64 << 10));
    assert_true(lp2p_buf_size(&x->data) <= (64 << 10));
    lp2p_relay_server_stats st;
    lp2p_relay_server_stats_get(w->svc, &st);
    assert_int_equal(st.circuits_limited_total[0], 1);
    assert_int_equal(st.bytes_relayed[0], 64 << 10);
    assert_int_equal(st.circuits_active, 0);
    free_world(w);
}

static void test_duration_limit(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    cfg.limits.circuit_duration_ms = 400;
    world *w = make_world(&cfg);
    w->stop_answer = LP2P_RELAY_STATUS_OK;
    w->stop_echo = 1;
    assert_status(hop_reserve(w, w->t_conn), LP2P_RELAY_STATUS_OK);
    pstream *x = hop_connect(w, w->s_conn, lp2p_keypair_peer_id(w->kp_t));
    assert_status(x, LP2P_RELAY_STATUS_OK);
    uint64_t t0 = uv_now(&w->loop);
    lp2p_stream_write(x->s, "hello", 5);
    assert_true(run_until(w, &x->closed, 3000));
    assert_int_equal(x->err, LP2P_ERR_RESET);
    assert_in_range(x->closed_at - t0, 300, 2000);
    assert_int_equal(lp2p_buf_size(&x->data), 5); /* the echo came back before the cut */
    lp2p_relay_server_stats st;
    lp2p_relay_server_stats_get(w->svc, &st);
    assert_int_equal(st.circuits_limited_total[1], 1);
    free_world(w);
}

static void test_target_refuses(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    world *w = make_world(&cfg);
    w->stop_answer = LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED;
    assert_status(hop_reserve(w, w->t_conn), LP2P_RELAY_STATUS_OK);
    pstream *x = hop_connect(w, w->s_conn, lp2p_keypair_peer_id(w->kp_t));
    assert_status(x, LP2P_RELAY_STATUS_CONNECTION_FAILED);
    lp2p_relay_server_stats st;
    lp2p_relay_server_stats_get(w->svc, &st);
    assert_int_equal(st.circuits_total, 0);
    assert_int_equal(st.circuits_refused_total[3], 1); /* CONNECTION_FAILED */
    free_world(w);
}

static void test_target_silent(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    cfg.limits.connect_timeout_ms = 300;
    world *w = make_world(&cfg);
    w->stop_answer = 0; /* never answers stop CONNECT */
    assert_status(hop_reserve(w, w->t_conn), LP2P_RELAY_STATUS_OK);
    uint64_t t0 = uv_now(&w->loop);
    pstream *x = hop_connect(w, w->s_conn, lp2p_keypair_peer_id(w->kp_t));
    assert_status(x, LP2P_RELAY_STATUS_CONNECTION_FAILED);
    assert_in_range(uv_now(&w->loop) - t0, 250, 2000);
    pstream *stop = &w->ps[w->nps - 1];
    assert_int_equal(stop->kind, LP2P_RELAY_STOP);
    assert_true(run_until(w, &stop->closed, 2000));
    assert_int_equal(stop->err, LP2P_ERR_RESET);
    free_world(w);
}

static void test_no_reservation(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    world *w = make_world(&cfg);
    pstream *x = hop_connect(w, w->s_conn, lp2p_keypair_peer_id(w->kp_t));
    assert_status(x, LP2P_RELAY_STATUS_NO_RESERVATION);
    free_world(w);
}

/* A second RESERVE over the peer's rate limit: RESOURCE_LIMIT_EXCEEDED. */
static void test_reserve_rate_limit(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    cfg.limits.reserve_burst_peer = 1;
    world *w = make_world(&cfg);
    assert_status(hop_reserve(w, w->t_conn), LP2P_RELAY_STATUS_OK);
    assert_status(hop_reserve(w, w->t_conn), LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED);
    lp2p_relay_server_stats st;
    lp2p_relay_server_stats_get(w->svc, &st);
    assert_int_equal(st.reservations_refused_total[1], 1); /* RESOURCE_LIMIT_EXCEEDED */
    free_world(w);
}

/* The reservation lives only as long as the connection it was made on. */
static void test_conn_close_ends_reservation(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    world *w = make_world(&cfg);
    assert_status(hop_reserve(w, w->t_conn), LP2P_RELAY_STATUS_OK);
    lp2p_relay_server_stats st;
    lp2p_relay_server_stats_get(w->svc, &st);
    assert_int_equal(st.reservations_active, 1);
    /* The server hears the host's connection events itself: T and S are connected. */
    assert_int_equal(st.connections_active, 2);
    assert_int_equal(st.connections_total, 2);
    lp2p_conn_close(w->t_conn, 0);
    for (int i = 0; i < 50 && st.reservations_active; i++) {
        int never = 0;
        run_until(w, &never, 20);
        lp2p_relay_server_stats_get(w->svc, &st);
    }
    assert_int_equal(st.reservations_active, 0);
    assert_int_equal(st.connections_active, 1);
    assert_int_equal(st.connections_total, 2);
    pstream *x = hop_connect(w, w->s_conn, lp2p_keypair_peer_id(w->kp_t));
    assert_status(x, LP2P_RELAY_STATUS_NO_RESERVATION);
    free_world(w);
}

/* After the reply the client should close: one that keeps the stream open is reset after the
 * stream timeout, and one that sends more is reset at once. */
static void test_linger_after_reply(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    cfg.stream_timeout_ms = 300;
    world *w = make_world(&cfg);
    uint64_t t0 = uv_now(&w->loop);
    pstream *x = hop_reserve(w, w->t_conn);
    assert_status(x, LP2P_RELAY_STATUS_OK);
    assert_true(run_until(w, &x->closed, 3000)); /* we never close our side */
    assert_int_equal(x->err, LP2P_ERR_RESET);
    assert_in_range(x->closed_at - t0, 250, 2000);

    pstream *y = hop_reserve(w, w->t_conn);
    assert_status(y, LP2P_RELAY_STATUS_OK);
    t0 = uv_now(&w->loop);
    lp2p_stream_write(y->s, "more", 4);
    assert_true(run_until(w, &y->closed, 3000));
    assert_int_equal(y->err, LP2P_ERR_RESET);
    assert_true(y->closed_at - t0 < 250);
    free_world(w);
}

/* Ten hop streams of one connection may wait for their request; the eleventh is reset at
 * once, and another connection is not affected. */
static void test_pending_hops_per_conn(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    world *w = make_world(&cfg);
    pstream *idle[10];
    for (int i = 0; i < 10; i++)
        idle[i] = hop_send(w, w->s_conn, NULL);
    int never = 0;
    run_until(w, &never, 200);
    pstream *extra = hop_send(w, w->s_conn, NULL);
    assert_true(run_until(w, &extra->closed, 2000));
    assert_int_equal(extra->err, LP2P_ERR_RESET);
    for (int i = 0; i < 10; i++)
        assert_false(idle[i]->closed);
    assert_status(hop_reserve(w, w->t_conn), LP2P_RELAY_STATUS_OK);
    free_world(w);
}

/* A target that stops reading: the relay pauses the source instead of queueing, so the bytes
 * wait at the source (and the circuit lives); when the target reads again all of them arrive
 * in order. */
static void test_backpressure(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    cfg.limits.circuit_data = 0;
    world *w = make_world(&cfg);
    w->stop_answer = LP2P_RELAY_STATUS_OK;
    assert_status(hop_reserve(w, w->t_conn), LP2P_RELAY_STATUS_OK);
    pstream *x = hop_connect(w, w->s_conn, lp2p_keypair_peer_id(w->kp_t));
    assert_status(x, LP2P_RELAY_STATUS_OK);
    pstream *stop = &w->ps[w->nps - 1];
    assert_int_equal(stop->kind, LP2P_RELAY_STOP);
    lp2p_stream_pause_read(stop->s, 1);

    enum { TOTAL = 12 << 20 };
    uint8_t *big = malloc(TOTAL);
    for (size_t i = 0; i < TOTAL; i++)
        big[i] = (uint8_t)(i * 131 + (i >> 12));
    lp2p_stream_write(x->s, big, TOTAL);
    int never = 0;
    run_until(w, &never, 1500);
    assert_false(x->closed); /* not reset for buffering too much */
    /* Most of it waits at the source: the relay holds at most ~2 windows + a mark. */
    assert_true(lp2p_stream_pending(x->s) >= TOTAL - (5u << 20));
    assert_true(lp2p_buf_size(&stop->data) < (5u << 20));

    lp2p_stream_pause_read(stop->s, 0);
    for (int i = 0; i < 200 && lp2p_buf_size(&stop->data) < TOTAL; i++)
        run_until(w, &never, 50);
    assert_int_equal(lp2p_buf_size(&stop->data), TOTAL);
    assert_memory_equal(lp2p_buf_head(&stop->data), big, TOTAL);
    assert_false(x->closed);
    free(big);
    free_world(w);
}

/* S reaches R through another relay R0 (R reserves there), then asks R for a reservation
 * over that relayed connection: PERMISSION_DENIED (spec: relays SHOULD NOT). */
static void test_relayed_denied(void **state)
{
    lp2p_relay_server_config cfg = test_config();
    world *w = make_world(&cfg);
    w->r0 = new_host_cb(w, &w->kp_r0, 1);
    assert_int_equal(lp2p_host_listen(w->r0, "/ip4/127.0.0.1/tcp/0"), 0);
    assert_int_equal(lp2p_relay_server_new(w->r0, w->kp_r0, &cfg, &w->svc0), 0);
    first_addr(w->r0, w->r0addr, sizeof(w->r0addr));
    assert_int_equal(lp2p_host_reserve(w->r, w->r0addr), 0);
    lp2p_relay_server_stats st = {0};
    for (int i = 0; i < 50 && st.reservations_active == 0; i++) {
        int never = 0;
        run_until(w, &never, 100);
        lp2p_relay_server_stats_get(w->svc0, &st);
    }
    assert_int_equal(st.reservations_active, 1);
    char circ_addr[600];
    char rid[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_keypair_peer_id(w->kp_r), rid, sizeof(rid));
    snprintf(circ_addr, sizeof(circ_addr), "%s/p2p-circuit/p2p/%s", w->r0addr, rid);
    /* S already has a direct connection to R; a fresh host dials through R0 only. */
    lp2p_keypair *kp_c;
    lp2p_host *c = new_host(w, &kp_c);
    lp2p_conn *rc = dial(w, c, circ_addr);
    assert_true(lp2p_conn_is_relayed(rc));
    pstream *x = hop_reserve(w, rc);
    assert_status(x, LP2P_RELAY_STATUS_PERMISSION_DENIED);
    pstream *y = hop_connect(w, rc, lp2p_keypair_peer_id(w->kp_t));
    assert_status(y, LP2P_RELAY_STATUS_PERMISSION_DENIED);
    lp2p_host_close(c);
    uv_run(&w->loop, UV_RUN_NOWAIT);
    free_world(w);
    lp2p_keypair_del(kp_c);
}

int main(void)
{
    lp2p_log_set_level(LP2P_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_reserve_unspecified_listen_has_addresses),
        cmocka_unit_test(test_hop_timeout),
        cmocka_unit_test(test_oversize_message),
        cmocka_unit_test(test_circuit_echo_fin),
        cmocka_unit_test(test_data_limit),
        cmocka_unit_test(test_duration_limit),
        cmocka_unit_test(test_target_refuses),
        cmocka_unit_test(test_target_silent),
        cmocka_unit_test(test_no_reservation),
        cmocka_unit_test(test_relayed_denied),
        cmocka_unit_test(test_linger_after_reply),
        cmocka_unit_test(test_pending_hops_per_conn),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_reserve_rate_limit),
        cmocka_unit_test(test_conn_close_ends_reservation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
