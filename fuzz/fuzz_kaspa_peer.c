/* The Kaspa peer driver (kaspa/peer.c: session + HTTP/2 + gRPC over a byte transport) as a
 * hostile remote drives it: the first input byte picks our role (server, as `--kaspa-listen`
 * accepts, or client) and the chunk size; the rest arrives over an in-memory transport (what
 * a TCP socket hands the driver) in chunks, with loop turns between, then the remote resets.
 * Invariants: no crash, no leak, the driver reports on_closed exactly once and releases the
 * transport and its timer (the loop has nothing left). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "crypto/random.h"
#include "kaspa/peer.h"
#include "kaspa/session.h"
#include "lp2p/err.h"
#include "net/mem_transport.h"
#include "util/buf.h"
#include "util/log.h"

#include "fuzz_remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int g_closed;
static void on_event(void *user, kaspa_peer *p, const kaspa_event *ev)
{
    (void)user;
    (void)p;
    (void)ev;
}
static void on_closed(void *user, kaspa_peer *p, int err)
{
    (void)user;
    (void)p;
    (void)err;
    if (g_closed++)
        abort(); /* exactly once */
}
static const kaspa_peer_callbacks k_cb = {.on_event = on_event, .on_closed = on_closed};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kaspa_hub *hub;
    static const lp2p_rng rng = LP2P_RNG_OPENSSL;
    if (!hub) {
        fuzz_quiet_logs();
        if (kaspa_hub_new(&hub, NULL, &rng) < 0)
            abort();
    }
    if (size < 1)
        return 0;
    uv_loop_t loop;
    uv_loop_init(&loop);
    lp2p_transport *ours;
    if (lp2p_mem_transport_pair(&loop, &fuzz_remote, &ours) < 0)
        abort();
    lp2p_transport_bind(fuzz_remote, &fuzz_remote_events, &fuzz_remote);
    kaspa_session_config cfg;
    kaspa_session_config_default(&cfg, hub, KASPA_H2_PROFILE_TCP);
    cfg.rng = LP2P_RNG_OPENSSL;
    cfg.ping_interval_ms = 0;
    kaspa_addr_parse("192.0.2.7:16111", &cfg.peer_addr);
    kaspa_peer_names names = {.label = "fuzz", .addr = "/memory/fuzz"};
    g_closed = 0;
    kaspa_peer *p = NULL;
    int role = data[0] & 1 ? KASPA_CLIENT : KASPA_SERVER;
    if (kaspa_peer_start(&loop, ours, &cfg, role, &names, &k_cb, NULL, &p) < 0)
        abort();
    size_t chunk = 1 + (data[0] >> 1) * 64;
    fuzz_remote_feed(&loop, data + 1, size - 1, chunk);
    if (fuzz_remote)
        lp2p_transport_close(fuzz_remote, 1);
    for (int i = 0; i < 1000 && uv_loop_alive(&loop); i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    if (!g_closed || uv_loop_close(&loop) != 0)
        abort(); /* the driver never ended, or left a handle open */
    return 0;
}
