/* Kaspa over libp2p (kaspa/peer_libp2p.c on host/stream_transport.c: a Kaspa session on a
 * /kaspad/transport/1.0.0 stream) as a hostile libp2p peer drives it. Two real hosts on one
 * loop, joined by the in-memory transport: K runs Kaspa over libp2p, R is the remote whose
 * stream bytes are the input. Byte 0: bit 0 picks K's role (server: R opens the stream, as to
 * a `server`; client: K opens it to R, whose handler answers with the input), bit 1 ends R's
 * side with a reset (else a close), bits 2-7 the chunk size (written with loop turns
 * between). Invariants: no crash, no leak, every peer reports on_closed once and every handle
 * is closed once the hosts are. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fuzz_quiet.h"
#include "crypto/random.h"
#include "host/host_internal.h"
#include "kaspa/peer.h"
#include "kaspa/session.h"
#include "lp2p/host.h"
#include "lp2p/identity.h"
#include "net/mem_transport.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t g_loop;
static lp2p_stream *g_rs; /* R's end of the Kaspa stream, NULL once gone */
static int g_peers, g_closed, g_dial;

static void run(int turns)
{
    for (int i = 0; i < turns; i++)
        uv_run(&g_loop, UV_RUN_NOWAIT);
}

static void on_ev(void *u, kaspa_peer *p, const kaspa_event *ev)
{
}
static void on_closed(void *u, kaspa_peer *p, int err)
{
    if (++g_closed > g_peers)
        abort(); /* on_closed twice for one peer */
}
static const kaspa_peer_callbacks k_cb = {.on_event = on_ev, .on_closed = on_closed};

static void r_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
}
static void r_close(lp2p_stream *s, int err, void *ud)
{
    g_rs = NULL;
}
static void r_open(lp2p_stream *s, void *ud)
{
    g_rs = s; /* K's stream to R: R answers with the input */
}
static const lp2p_stream_callbacks k_r = {.on_data = r_data, .on_close = r_close};
static const lp2p_stream_callbacks k_r_serve = {
    .on_open = r_open, .on_data = r_data, .on_close = r_close};

static void on_dial(lp2p_conn *c, int err, void *ud)
{
    g_dial = err == 0 ? 1 : -1;
}

static lp2p_host *new_host(lp2p_keypair *kp)
{
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &g_loop, kp);
    hc.holepunch = 0;
    lp2p_host *h;
    if (lp2p_host_new(&hc, &h) < 0)
        abort();
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lp2p_keypair *kk, *kr;
    if (!kk) {
        fuzz_quiet_logs();
        if (lp2p_keypair_generate(&kk) < 0 || lp2p_keypair_generate(&kr) < 0)
            abort();
    }
    if (size < 1)
        return 0;
    int k_client = data[0] & 1, reset = (data[0] >> 1) & 1;
    size_t chunk = 1 + (size_t)(data[0] >> 2) * 64;
    g_rs = NULL;
    g_peers = g_closed = g_dial = 0;
    uv_loop_init(&g_loop);
    lp2p_host *hk = new_host(kk), *hr = new_host(kr);
    kaspa_hub *hub;
    if (kaspa_hub_new(&hub, NULL, &LP2P_RNG_OPENSSL) < 0)
        abort();
    kaspa_session_config sc;
    kaspa_session_config_default(&sc, hub, KASPA_H2_PROFILE_LIBP2P);
    sc.rng = LP2P_RNG_OPENSSL;
    sc.ping_interval_ms = 0;
    sc.handshake_timeout_ms = sc.ready_timeout_ms = 1000;
    if (!k_client && kaspa_peer_serve_libp2p(hk, &g_loop, &sc, &k_cb, NULL) < 0)
        abort();
    if (k_client && lp2p_host_handle(hr, KASPA_PEER_PROTO, &k_r_serve, NULL) < 0)
        abort();

    /* R dials K over memory */
    lp2p_transport *x, *y;
    if (lp2p_mem_transport_pair(&g_loop, &x, &y) < 0)
        abort();
    lp2p_conn *cr = lp2p__conn_new(hr, x, 1, NULL, lp2p_host_peer_id(hk));
    if (!cr)
        abort();
    cr->dial_cb = on_dial;
    lp2p__conn_start(cr);
    lp2p_conn *ck = lp2p__host_inbound(hk, y);
    for (int i = 0; i < 200 && g_dial == 0; i++)
        run(1);
    if (g_dial == 1 && ck) {
        if (k_client) {
            kaspa_peer *p;
            g_peers++;
            if (kaspa_peer_open_libp2p(ck, NULL, &g_loop, &sc, &k_cb, NULL, &p) < 0)
                g_peers--;
            for (int i = 0; i < 50 && !g_rs; i++)
                run(1);
        } else {
            g_peers++; /* K's server peer starts when the stream arrives */
            if (lp2p_conn_open_stream(cr, KASPA_PEER_PROTO, &k_r, NULL, &g_rs) < 0) {
                g_rs = NULL;
                g_peers--;
            }
        }
        for (size_t off = 1; off < size && g_rs; off += chunk) {
            size_t n = size - off < chunk ? size - off : chunk;
            lp2p_stream_write(g_rs, data + off, n);
            run(2);
        }
        run(5);
        if (g_rs) {
            if (reset)
                lp2p_stream_reset(g_rs);
            else
                lp2p_stream_close(g_rs);
        }
        run(20);
    }
    lp2p_host_close(hr);
    lp2p_host_close(hk);
    for (int i = 0; i < 2000 && uv_loop_alive(&g_loop); i++)
        uv_run(&g_loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&g_loop) != 0)
        abort(); /* a handle was left open */
    if (g_closed > g_peers)
        abort();
    kaspa_hub_del(hub);
    return 0;
}
