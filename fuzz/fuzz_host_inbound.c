/* The host's inbound connection handling (src/host/conn.c and what it drives: multistream,
 * the Noise handshake, the per-connection timers, the connection trimmer) through the
 * in-memory transport: a remote peer sends arbitrary bytes, in chunks with loop turns between,
 * to a connection the host accepted, then resets, half-closes or leaves; the host is then
 * closed. The first input byte picks the chunk size and the ending. Invariants: no crash,
 * no leak, the host frees everything (the loop closes with nothing left). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "host/host_internal.h"
#include "lp2p/host.h"
#include "lp2p/identity.h"
#include "net/mem_transport.h"
#include "util/buf.h"
#include "util/log.h"

#include "fuzz_remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lp2p_keypair *kp;
    if (!kp) {
        fuzz_quiet_logs();
        if (lp2p_keypair_generate(&kp) < 0)
            abort();
    }
    if (size < 1)
        return 0;
    uv_loop_t loop;
    uv_loop_init(&loop);
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &loop, kp);
    hc.max_conns = 2; /* the trimmer runs too */
    lp2p_host *h;
    if (lp2p_host_new(&hc, &h) < 0)
        abort();
    lp2p_host_serve_echo(h);
    lp2p_transport *ours, *extra[2] = {0};
    if (lp2p_mem_transport_pair(&loop, &fuzz_remote, &ours) < 0)
        abort();
    lp2p_transport_bind(fuzz_remote, &fuzz_remote_events, &fuzz_remote);
    lp2p__host_inbound(h, ours);
    size_t chunk = 1 + (data[0] & 0x3f) * 8;
    fuzz_remote_feed(&loop, data + 1, size - 1, chunk);
    /* more connections than max_conns: the trimmer evicts the half-open ones */
    if (data[0] & 0x40)
        for (int k = 0; k < 2; k++) {
            lp2p_transport *x;
            if (lp2p_mem_transport_pair(&loop, &extra[k], &x) == 0) {
                lp2p_transport_bind(extra[k], &fuzz_remote_events, NULL);
                lp2p__host_inbound(h, x);
            }
        }
    uv_run(&loop, UV_RUN_NOWAIT);
    if (fuzz_remote) {
        if (data[0] & 0x80)
            lp2p_transport_shutdown(fuzz_remote);
        else
            lp2p_transport_close(fuzz_remote, 1);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    lp2p_host_close(h);
    for (int i = 0; i < 1000 && uv_loop_alive(&loop); i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&loop) != 0)
        abort(); /* a handle was left open */
    return 0;
}
