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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lp2p_transport *g_remote;

static void r_data(void *ud, const uint8_t *p, size_t n)
{
    (void)ud;
    (void)p;
    (void)n;
}
static void r_nop(void *ud)
{
    (void)ud;
}
static void r_closed(void *ud, int err, const char *why)
{
    (void)ud;
    (void)err;
    (void)why;
    g_remote = NULL;
}
static const lp2p_transport_events k_remote = {
    .on_data = r_data, .on_eof = r_nop, .on_writable = r_nop, .on_closed = r_closed};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lp2p_keypair *kp;
    if (!kp) {
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull)
            lp2p_log_set_output(devnull);
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
    if (lp2p_mem_transport_pair(&loop, &g_remote, &ours) < 0)
        abort();
    lp2p_transport_bind(g_remote, &k_remote, NULL);
    lp2p__host_inbound(h, ours);
    size_t chunk = 1 + (data[0] & 0x3f) * 8;
    for (size_t i = 1; i < size && g_remote; i += chunk) {
        size_t n = size - i < chunk ? size - i : chunk;
        lp2p_buf b;
        lp2p_buf_init(&b);
        lp2p_buf_append(&b, data + i, n);
        lp2p_transport_write(g_remote, &b);
        lp2p_buf_free(&b);
        uv_run(&loop, UV_RUN_NOWAIT);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    /* more connections than max_conns: the trimmer evicts the half-open ones */
    if (data[0] & 0x40)
        for (int k = 0; k < 2; k++) {
            lp2p_transport *x;
            if (lp2p_mem_transport_pair(&loop, &extra[k], &x) == 0) {
                lp2p_transport_bind(extra[k], &k_remote, NULL);
                lp2p__host_inbound(h, x);
            }
        }
    uv_run(&loop, UV_RUN_NOWAIT);
    if (g_remote) {
        if (data[0] & 0x80)
            lp2p_transport_shutdown(g_remote);
        else
            lp2p_transport_close(g_remote, 1);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    lp2p_host_close(h);
    for (int i = 0; i < 1000 && uv_loop_alive(&loop); i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&loop) != 0)
        abort(); /* a handle was left open */
    return 0;
}
