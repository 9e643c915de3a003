/* The relay's hop server as a service of a real host (host/relay_server.c, the circuits and
 * their splice, the hop core under them), driven through the in-memory transport by two real
 * hosts on one loop: T holds a reservation (a valid RESERVE) and answers the relay's STOP
 * CONNECT with input bytes; A opens hop streams whose bytes come from the input (the first
 * one optionally after a valid CONNECT to T, so a circuit can go live and the rest of its
 * bytes are relayed both ways).
 *
 * Input: byte 0 = flags: bit 0 A's first stream starts with CONNECT(T); bit 1 T's answer
 * starts with STATUS OK; bit 2 the streams end with a reset (else a close); bits 3-5 A opens
 * 1..8 hop streams; byte 1 = where A's bytes end and T's begin (in 1/255ths of the rest).
 * Invariants: no crash, no leak, every handle closed once the hosts are. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fuzz_quiet.h"
#include "host/host_internal.h"
#include "lp2p/host.h"
#include "lp2p/identity.h"
#include "lp2p/relay_server.h"
#include "net/mem_transport.h"
#include "proto/relay_msg.h"
#include "util/buf.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_A 8

typedef struct fz {
    uv_loop_t loop;
    lp2p_host *r, *a, *t;
    lp2p_conn *ca, *ct; /* A's and T's connections to the relay */
    int ca_up, ct_up;
    lp2p_relay_server *rs;
    const uint8_t *t_bytes;
    size_t t_len;
    int t_ok_first, end_reset;
    int reserved; /* T's RESERVE was answered */
} fz;

static fz g;

static void run(int turns)
{
    for (int i = 0; i < turns; i++)
        uv_run(&g.loop, UV_RUN_NOWAIT);
}

static void on_dial(lp2p_conn *c, int err, void *ud)
{
    *(int *)ud = err == 0 ? 1 : -1;
}

/* host -> relay over a fresh in-memory pair; the dial completes on the loop */
static lp2p_conn *connect_to_relay(lp2p_host *h, int *up)
{
    lp2p_transport *x, *y;
    if (lp2p_mem_transport_pair(&g.loop, &x, &y) < 0)
        abort();
    lp2p_conn *c = lp2p__conn_new(h, x, 1, NULL, lp2p_host_peer_id(g.r));
    if (!c)
        abort();
    c->dial_cb = on_dial;
    c->dial_ud = up;
    lp2p__conn_start(c);
    lp2p__host_inbound(g.r, y);
    return c;
}

/* ---- T: the reservation holder, whose STOP answer is input ---- */

static void t_hop_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    g.reserved = 1; /* any answer (a STATUS) */
}

static void t_stop_open(lp2p_stream *s, void *ud)
{
    lp2p_buf b;
    lp2p_buf_init(&b);
    if (g.t_ok_first)
        lp2p_relay_msg_encode_status(LP2P_RELAY_STOP, LP2P_RELAY_STATUS_OK, &b);
    lp2p_buf_append(&b, g.t_bytes, g.t_len);
    lp2p_stream_write(s, lp2p_buf_head(&b), lp2p_buf_size(&b));
    lp2p_buf_free(&b);
    if (g.end_reset)
        lp2p_stream_reset(s);
    else
        lp2p_stream_close(s);
}

static void ignore_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
}

static const lp2p_stream_callbacks k_t_hop = {.on_data = t_hop_data};
static const lp2p_stream_callbacks k_t_stop = {.on_open = t_stop_open, .on_data = ignore_data};
/* A's streams: the slot is cleared when the stream is gone (it is freed after on_close). */
static lp2p_stream *g_as[MAX_A];
static void a_closed(lp2p_stream *s, int err, void *ud)
{
    *(lp2p_stream **)ud = NULL;
}
static const lp2p_stream_callbacks k_a_hop = {.on_data = ignore_data, .on_close = a_closed};

static lp2p_host *new_host(lp2p_keypair *kp)
{
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &g.loop, kp);
    hc.holepunch = 0;
    hc.max_stream_window = 1u << 20;
    lp2p_host *h;
    if (lp2p_host_new(&hc, &h) < 0)
        abort();
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lp2p_keypair *kr, *ka, *kt;
    if (!kr) {
        fuzz_quiet_logs();
        if (lp2p_keypair_generate(&kr) < 0 || lp2p_keypair_generate(&ka) < 0 ||
            lp2p_keypair_generate(&kt) < 0)
            abort();
    }
    if (size < 2)
        return 0;
    memset(&g, 0, sizeof(g));
    uint8_t flags = data[0];
    size_t rest = size - 2, split = rest * data[1] / 255;
    const uint8_t *a_bytes = data + 2;
    g.t_bytes = data + 2 + split;
    g.t_len = rest - split;
    g.t_ok_first = (flags >> 1) & 1;
    g.end_reset = (flags >> 2) & 1;
    int na = 1 + ((flags >> 3) & 7);

    uv_loop_init(&g.loop);
    g.r = new_host(kr);
    g.a = new_host(ka);
    g.t = new_host(kt);
    lp2p_relay_server_config rc;
    lp2p_relay_server_config_default(&rc);
    rc.limits.max_reservations = 4;
    rc.limits.max_circuits = 4;
    rc.stream_timeout_ms = 1000;
    static const char *const announce[] = {"/ip4/198.51.100.1/tcp/4001"};
    rc.announce = announce;
    rc.nannounce = 1;
    if (lp2p_relay_server_new(g.r, kr, &rc, &g.rs) < 0)
        abort();
    if (lp2p_host_handle(g.t, LP2P_RELAY_STOP_PROTO, &k_t_stop, NULL) < 0)
        abort();
    g.ct = connect_to_relay(g.t, &g.ct_up);
    g.ca = connect_to_relay(g.a, &g.ca_up);
    for (int i = 0; i < 200 && (g.ct_up == 0 || g.ca_up == 0); i++)
        run(1);

    if (g.ct_up == 1) {
        lp2p_stream *s;
        lp2p_relay_msg m = {.kind = LP2P_RELAY_HOP, .type = LP2P_RELAY_RESERVE};
        lp2p_buf b;
        lp2p_buf_init(&b);
        lp2p_relay_msg_encode(&m, &b);
        if (lp2p_conn_open_stream(g.ct, LP2P_RELAY_HOP_PROTO, &k_t_hop, NULL, &s) == 0)
            lp2p_stream_write(s, lp2p_buf_head(&b), lp2p_buf_size(&b));
        lp2p_buf_free(&b);
        for (int i = 0; i < 100 && !g.reserved; i++)
            run(1);
    }
    if (g.ca_up == 1) {
        lp2p_stream **s = g_as;
        memset(g_as, 0, sizeof(g_as));
        for (int i = 0; i < na; i++)
            if (lp2p_conn_open_stream(g.ca, LP2P_RELAY_HOP_PROTO, &k_a_hop, &g_as[i], &s[i]) < 0)
                s[i] = NULL;
        if ((flags & 1) && s[0]) {
            const lp2p_peer_id *tid = lp2p_host_peer_id(g.t);
            lp2p_relay_msg m = {.kind = LP2P_RELAY_HOP, .type = LP2P_RELAY_CONNECT};
            m.has_peer = 1;
            m.peer_id = (lp2p_view){tid->bytes, tid->len};
            lp2p_buf b;
            lp2p_buf_init(&b);
            lp2p_relay_msg_encode(&m, &b);
            lp2p_stream_write(s[0], lp2p_buf_head(&b), lp2p_buf_size(&b));
            lp2p_buf_free(&b);
            run(20); /* the STOP CONNECT reaches T, its answer comes back */
        }
        /* A's bytes: stream i gets the i-th slice, written in two halves with turns between */
        size_t per = split / (size_t)na;
        for (int half = 0; half < 2; half++) {
            for (int i = 0; i < na; i++) {
                if (!s[i])
                    continue;
                size_t off = (size_t)i * per + (half ? per / 2 : 0);
                size_t n = half ? per - per / 2 : per / 2;
                if (i == na - 1 && half)
                    n += split - (size_t)na * per;
                if (n)
                    lp2p_stream_write(s[i], a_bytes + off, n);
            }
            run(10);
        }
        for (int i = 0; i < na; i++)
            if (s[i]) {
                if (g.end_reset)
                    lp2p_stream_reset(s[i]);
                else
                    lp2p_stream_close(s[i]);
            }
        run(30);
    }
    lp2p_relay_server_close(g.rs);
    lp2p_host_close(g.a);
    lp2p_host_close(g.t);
    lp2p_host_close(g.r);
    for (int i = 0; i < 2000 && uv_loop_alive(&g.loop); i++)
        uv_run(&g.loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&g.loop) != 0)
        abort(); /* a handle was left open */
    return 0;
}
