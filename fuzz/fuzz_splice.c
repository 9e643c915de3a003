/* Splice (net/splice.c) between two in-memory transports, driven from the two outer ends as
 * two hostile peers would: bytes in arbitrary chunks each way, reads paused and resumed,
 * half-closes, clean closes and resets at any point, the owner's close, loop turns between.
 *
 *   outer_a ═ mem ═ inner_a ─[splice]─ inner_b ═ mem ═ outer_b
 *
 * Invariants: what each outer end receives is a prefix of what the other wrote, in order;
 * the splice reports exactly one on_closed, with byte counts no larger than what was written;
 * everything is freed (ASan), and nothing is delivered after the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lp2p/err.h"
#include "net/mem_transport.h"
#include "net/splice.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outer {
    lp2p_transport *t;
    uint8_t sent[4096]; /* what this end wrote (a prefix is enough to check order) */
    size_t nsent;
    uint64_t total_sent;
    size_t nrecv; /* bytes received, checked against the other end's sent[] */
    struct outer *peer;
    int closed;
} outer;

static int g_splice_closed;
static lp2p_splice_result g_res;

static void o_data(void *ud, const uint8_t *p, size_t n)
{
    outer *o = ud;
    for (size_t i = 0; i < n; i++, o->nrecv++)
        if (o->nrecv < o->peer->nsent && p[i] != o->peer->sent[o->nrecv])
            abort(); /* reordered or changed */
    if (o->nrecv > o->peer->total_sent)
        abort(); /* more than was written */
}
static void o_eof(void *ud)
{
    (void)ud;
}
static void o_writable(void *ud)
{
    (void)ud;
}
static void o_closed(void *ud, int err, const char *why)
{
    (void)err;
    (void)why;
    outer *o = ud;
    o->closed = 1;
    o->t = NULL;
}
static const lp2p_transport_events k_outer = {
    .on_data = o_data, .on_eof = o_eof, .on_writable = o_writable, .on_closed = o_closed};

static void on_splice_closed(void *ud, const lp2p_splice_result *r)
{
    (void)ud;
    if (g_splice_closed++)
        abort(); /* exactly one on_closed */
    g_res = *r;
}

static void turn(uv_loop_t *loop, int n)
{
    for (int i = 0; i < n; i++)
        uv_run(loop, UV_RUN_NOWAIT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    lp2p_transport *ia, *ib;
    outer A = {0}, B = {0};
    A.peer = &B;
    B.peer = &A;
    if (lp2p_mem_transport_pair(&loop, &A.t, &ia) < 0 ||
        lp2p_mem_transport_pair(&loop, &B.t, &ib) < 0)
        abort();
    lp2p_mem_transport_set_chunk(A.t, 1 + (size ? data[0] : 0));
    lp2p_transport_bind(A.t, &k_outer, &A);
    lp2p_transport_bind(B.t, &k_outer, &B);
    g_splice_closed = 0;
    lp2p_splice_config cfg = {.on_closed = on_splice_closed, .loop = NULL};
    lp2p_splice *sp = NULL;
    if (lp2p_splice_new(ia, ib, &cfg, &sp) < 0)
        abort();
    for (size_t i = 1; i + 1 < size;) {
        uint8_t op = data[i] % 8, arg = data[i + 1];
        i += 2;
        outer *o = arg & 1 ? &B : &A;
        switch (op) {
        case 0:
        case 1: { /* write the next arg/2 input bytes */
            size_t n = arg / 2 < size - i ? arg / 2 : size - i;
            if (o->t && n) {
                lp2p_buf b;
                lp2p_buf_init(&b);
                lp2p_buf_append(&b, data + i, n);
                size_t keep = sizeof(o->sent) - o->nsent < n ? sizeof(o->sent) - o->nsent : n;
                memcpy(o->sent + o->nsent, data + i, keep);
                if (lp2p_transport_write(o->t, &b) == 0) {
                    o->nsent += keep;
                    o->total_sent += n;
                } else if (keep) {
                    o->nsent = sizeof(o->sent); /* unknown from here on: stop checking content */
                }
                lp2p_buf_free(&b);
            }
            i += n;
            break;
        }
        case 2:
            if (o->t)
                lp2p_transport_pause_read(o->t, arg & 2);
            break;
        case 3:
            if (o->t)
                lp2p_transport_shutdown(o->t);
            break;
        case 4:
            if (o->t && (arg & 0x1e) == 0x1e)
                lp2p_transport_close(o->t, arg & 0x20 ? 1 : 0);
            break;
        case 5:
            if (!g_splice_closed && (arg & 0x3e) == 0x3e)
                lp2p_splice_close(sp, arg & 0x40 ? 1 : 0);
            break;
        default:
            turn(&loop, 1 + arg % 4);
            break;
        }
    }
    /* the end: both peers reset, everything must wind down */
    if (A.t)
        lp2p_transport_close(A.t, 1);
    if (B.t)
        lp2p_transport_close(B.t, 1);
    for (int i = 0; i < 1000 && (!g_splice_closed || uv_loop_alive(&loop)); i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    if (!g_splice_closed)
        abort(); /* never reported its end */
    if (g_res.bytes[0] > A.total_sent || g_res.bytes[1] > B.total_sent)
        abort();
    uv_loop_close(&loop);
    return 0;
}
