/* A test-only in-memory lp2p_transport pair on a libuv loop (until src/net/mem_transport.c
 * from the transport branch is merged): what one end writes the other end reads, in chunks
 * of at most `chunk` bytes per loop turn; events come only from the loop (an idle handle),
 * never from inside a call. pending() of an end = bytes it wrote that the other end has not
 * read yet, so a paused reader congests its writer exactly as a socket would. */
#ifndef TESTS_BRIDGE_MEM_PAIR_H
#define TESTS_BRIDGE_MEM_PAIR_H

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lp2p/err.h"
#include "net/transport.h"

typedef struct mem_end {
    lp2p_transport t;
    struct mem_end *peer; /* NULL once the peer is gone */
    uv_idle_t pump;
    lp2p_buf inbox;   /* written by the peer, not yet delivered here */
    size_t chunk;     /* at most this many bytes per on_data */
    size_t max_inbox; /* peak of inbox (what a backpressure test bounds) */
    int paused;
    int peer_eof;      /* the peer shut down its write side */
    int eof_delivered; /* on_eof sent */
    int shut;          /* we shut down our write side */
    int writer_waits;  /* we were congested: on_writable owed once drained */
    int writable_due;  /* drained below a quarter of high water: deliver on_writable */
    int close_err;     /* on_closed with this, once closing */
    int closing;
    int closed_sent;
} mem_end;

static void mem_end_kick(mem_end *e);

static void mem_pump_closed(uv_handle_t *h)
{
    mem_end *e = h->data;
    lp2p_buf_free(&e->inbox);
    free(e);
}

static void mem_pump(uv_idle_t *h)
{
    mem_end *e = h->data;
    if (e->closing) {
        if (!e->closed_sent) {
            e->closed_sent = 1;
            uv_idle_stop(&e->pump);
            if (e->t.ev && e->t.ev->on_closed)
                e->t.ev->on_closed(e->t.ud, e->close_err);
            uv_close((uv_handle_t *)&e->pump, mem_pump_closed);
        }
        return;
    }
    if (!e->paused && lp2p_buf_size(&e->inbox) > 0) {
        size_t n = lp2p_buf_size(&e->inbox);
        if (n > e->chunk)
            n = e->chunk;
        uint8_t *tmp = malloc(n);
        memcpy(tmp, lp2p_buf_head(&e->inbox), n);
        lp2p_buf_consume(&e->inbox, n);
        mem_end *w = e->peer;
        if (w && w->writer_waits && lp2p_buf_size(&e->inbox) < w->t.high_water / 4) {
            w->writer_waits = 0;
            w->writable_due = 1;
            mem_end_kick(w);
        }
        e->t.ev->on_data(e->t.ud, tmp, n);
        free(tmp);
        return;
    }
    if (e->writable_due) {
        e->writable_due = 0;
        if (e->t.ev->on_writable)
            e->t.ev->on_writable(e->t.ud);
        return;
    }
    if (lp2p_buf_size(&e->inbox) == 0 && e->peer_eof && !e->eof_delivered) {
        e->eof_delivered = 1;
        e->t.ev->on_eof(e->t.ud);
        return;
    }
    uv_idle_stop(&e->pump);
}

static void mem_end_kick(mem_end *e)
{
    if (!e->closed_sent)
        uv_idle_start(&e->pump, mem_pump);
}

static int mem_write(lp2p_transport *t, lp2p_buf *b)
{
    mem_end *e = (mem_end *)t;
    if (e->shut || e->closing)
        return LP2P_ERR_CLOSED;
    if (e->peer) {
        if (lp2p_buf_append(&e->peer->inbox, lp2p_buf_head(b), lp2p_buf_size(b)) != 0)
            return LP2P_ERR_NOMEM;
        if (lp2p_buf_size(&e->peer->inbox) > e->peer->max_inbox)
            e->peer->max_inbox = lp2p_buf_size(&e->peer->inbox);
        if (lp2p_buf_size(&e->peer->inbox) >= t->high_water)
            e->writer_waits = 1;
        mem_end_kick(e->peer);
    }
    lp2p_buf_clear(b);
    return 0;
}

static size_t mem_pending(const lp2p_transport *t)
{
    const mem_end *e = (const mem_end *)t;
    return e->peer ? lp2p_buf_size(&e->peer->inbox) : 0;
}

static void mem_pause_read(lp2p_transport *t, int paused)
{
    mem_end *e = (mem_end *)t;
    e->paused = paused;
    if (!paused)
        mem_end_kick(e);
}

static int mem_shutdown(lp2p_transport *t)
{
    mem_end *e = (mem_end *)t;
    if (e->closing)
        return LP2P_ERR_CLOSED;
    e->shut = 1;
    if (e->peer) {
        e->peer->peer_eof = 1;
        mem_end_kick(e->peer);
    }
    return 0;
}

static void mem_close(lp2p_transport *t, int reset)
{
    mem_end *e = (mem_end *)t;
    if (e->closing)
        return;
    mem_end *p = e->peer;
    if (p) {
        p->peer = NULL;
        if (reset) {
            lp2p_buf_clear(&p->inbox);
            if (!p->closing) {
                p->closing = 1;
                p->close_err = LP2P_ERR_RESET;
            }
        } else {
            p->peer_eof = 1;
        }
        mem_end_kick(p);
    }
    e->peer = NULL;
    e->closing = 1;
    e->close_err = 0;
    mem_end_kick(e);
}

static const char *mem_remote_addr(const lp2p_transport *t)
{
    return "/memory";
}

static const lp2p_transport_vtable mem_vtable = {
    .write = mem_write,
    .pending = mem_pending,
    .pause_read = mem_pause_read,
    .shutdown = mem_shutdown,
    .close = mem_close,
    .remote_addr = mem_remote_addr,
};

static void mem_pair_new(uv_loop_t *loop, size_t high_water, size_t chunk, mem_end **a, mem_end **b)
{
    mem_end *e[2];
    for (int i = 0; i < 2; i++) {
        e[i] = calloc(1, sizeof *e[i]);
        e[i]->t.vt = &mem_vtable;
        e[i]->t.high_water = high_water;
        e[i]->chunk = chunk;
        lp2p_buf_init(&e[i]->inbox);
        uv_idle_init(loop, &e[i]->pump);
        e[i]->pump.data = e[i];
    }
    e[0]->peer = e[1];
    e[1]->peer = e[0];
    *a = e[0];
    *b = e[1];
}

#endif
