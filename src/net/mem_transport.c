/* An in-memory transport pair (net/mem_transport.h). Each end runs a uv_idle handle while it
 * has something to do (bytes or events owed); all events come from that callback. */
#include "net/mem_transport.h"

#include "lp2p/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mem_end {
    lp2p_transport base;
    uv_idle_t idle;
    int idle_on;
    struct mem_end *peer; /* NULL once the other end is freed */
    lp2p_buf out;         /* written on this end, not yet delivered to the peer */
    size_t chunk;
    uint8_t *scratch; /* one chunk, delivered from here so the owner may write meanwhile */
    int paused;       /* this end's owner does not read */
    int shut;         /* FIN after `out` */
    int eof_sent;
    int closing;    /* owner closed: on_closed owed */
    int reset_in;   /* the peer reset: on_closed(RESET) owed */
    int owner_gone; /* on_closed delivered */
    int above_high;
    int freeing;
    char name[24];
} mem_end;

static const lp2p_transport_vtable k_mem_vt;

static mem_end *me(lp2p_transport *t)
{
    return (mem_end *)t;
}

static void mem_tick(uv_idle_t *idle);

static void kick(mem_end *e)
{
    if (e && !e->idle_on && !e->freeing) {
        e->idle_on = 1;
        uv_idle_start(&e->idle, mem_tick);
    }
}

/* The peer's owner takes bytes now. */
static int peer_reads(const mem_end *p)
{
    return p && !p->owner_gone && !p->closing && !p->reset_in && !p->paused;
}
static int peer_alive(const mem_end *p)
{
    return p && !p->owner_gone && !p->closing && !p->reset_in;
}

static void on_idle_closed(uv_handle_t *hd)
{
    mem_end *e = hd->data;
    lp2p_buf_free(&e->out);
    free(e->scratch);
    free(e);
}

static void mem_free(mem_end *e)
{
    e->freeing = 1;
    mem_end *p = e->peer;
    if (p) {
        p->peer = NULL;
        kick(p); /* its undelivered bytes have nowhere to go now */
    }
    e->peer = NULL;
    uv_idle_stop(&e->idle);
    uv_close((uv_handle_t *)&e->idle, on_idle_closed);
}

static void owner_closed(mem_end *e, int err, const char *why)
{
    e->owner_gone = 1;
    if (e->base.ev && e->base.ev->on_closed)
        e->base.ev->on_closed(e->base.ud, err, why);
}

static void mem_tick(uv_idle_t *idle)
{
    mem_end *e = idle->data;
    if (!e->owner_gone && e->closing)
        owner_closed(e, 0, NULL);
    if (!e->owner_gone && e->reset_in)
        owner_closed(e, LP2P_ERR_RESET, "reset by the peer");
    mem_end *p = e->peer;
    if (!peer_alive(p))
        lp2p_buf_clear(&e->out); /* nobody will read these */
    size_t n = lp2p_buf_size(&e->out);
    if (n > 0 && peer_reads(p)) {
        if (n > e->chunk)
            n = e->chunk;
        memcpy(e->scratch, lp2p_buf_head(&e->out), n);
        lp2p_buf_consume(&e->out, n);
        if (p->base.ev && p->base.ev->on_data)
            p->base.ev->on_data(p->base.ud, e->scratch, n);
        if (e->above_high && lp2p_buf_size(&e->out) < e->base.low_water) {
            e->above_high = 0;
            if (!e->owner_gone && !e->closing && e->base.ev && e->base.ev->on_writable)
                e->base.ev->on_writable(e->base.ud);
        }
        p = e->peer;
    }
    if (lp2p_buf_size(&e->out) == 0 && e->shut && !e->eof_sent && peer_alive(p)) {
        e->eof_sent = 1;
        if (p->base.ev && p->base.ev->on_eof)
            p->base.ev->on_eof(p->base.ud);
        p = e->peer;
    }
    int out_left = lp2p_buf_size(&e->out) > 0;
    int eof_owed = e->shut && !e->eof_sent && peer_alive(p);
    if (e->owner_gone && !out_left && !eof_owed) {
        mem_free(e);
        return;
    }
    int busy = (out_left && peer_reads(p)) || (!out_left && eof_owed) ||
               (!e->owner_gone && (e->closing || e->reset_in));
    if (!busy) {
        e->idle_on = 0;
        uv_idle_stop(&e->idle);
    }
}

static int mem_write(lp2p_transport *t, lp2p_buf *b)
{
    mem_end *e = me(t);
    if (e->closing || e->shut || e->owner_gone || e->reset_in)
        return LP2P_ERR_STATE;
    if (!e->peer)
        return LP2P_ERR_CLOSED;
    size_t n = lp2p_buf_size(b);
    if (n == 0)
        return 0;
    if (lp2p_buf_size(&e->out) == 0) {
        lp2p_buf tmp = e->out; /* move: the caller gets our empty buffer back */
        e->out = *b;
        *b = tmp;
        lp2p_buf_clear(b);
    } else {
        int rc = lp2p_buf_append(&e->out, lp2p_buf_head(b), n);
        if (rc < 0)
            return rc;
        lp2p_buf_clear(b);
    }
    if (lp2p_buf_size(&e->out) >= e->base.high_water)
        e->above_high = 1;
    kick(e);
    return 0;
}

static size_t mem_pending(const lp2p_transport *t)
{
    return lp2p_buf_size(&((const mem_end *)t)->out);
}

static void mem_pause_read(lp2p_transport *t, int paused)
{
    mem_end *e = me(t);
    e->paused = paused != 0;
    if (!paused)
        kick(e->peer);
}

static int mem_shutdown(lp2p_transport *t)
{
    mem_end *e = me(t);
    if (e->closing || e->shut)
        return LP2P_ERR_STATE;
    e->shut = 1;
    kick(e);
    return 0;
}

static void mem_close(lp2p_transport *t, int reset)
{
    mem_end *e = me(t);
    if (e->closing || e->owner_gone)
        return;
    e->closing = 1;
    if (reset) {
        lp2p_buf_clear(&e->out);
        e->eof_sent = 1; /* no FIN after a reset */
        if (e->peer && !e->peer->owner_gone) {
            e->peer->reset_in = 1;
            kick(e->peer);
        }
    } else {
        e->shut = 1;
    }
    kick(e);
}

static const char *mem_remote_addr(const lp2p_transport *t)
{
    return ((const mem_end *)t)->name;
}

static int mem_peer_sockaddr(const lp2p_transport *t, struct sockaddr_storage *out)
{
    return LP2P_ERR_NOT_FOUND;
}

static const lp2p_transport_vtable k_mem_vt = {
    .write = mem_write,
    .pending = mem_pending,
    .pause_read = mem_pause_read,
    .shutdown = mem_shutdown,
    .close = mem_close,
    .remote_addr = mem_remote_addr,
    .peer_sockaddr = mem_peer_sockaddr,
};

static mem_end *mem_end_new(uv_loop_t *loop, const char *name)
{
    mem_end *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->chunk = LP2P_MEM_CHUNK_DEFAULT;
    e->scratch = malloc(e->chunk);
    if (!e->scratch) {
        free(e);
        return NULL;
    }
    e->base.vt = &k_mem_vt;
    e->base.high_water = 1u << 20;
    e->base.low_water = 256u << 10;
    lp2p_buf_init(&e->out);
    snprintf(e->name, sizeof(e->name), "%s", name);
    uv_idle_init(loop, &e->idle);
    e->idle.data = e;
    return e;
}

int lp2p_mem_transport_pair(uv_loop_t *loop, lp2p_transport **a, lp2p_transport **b)
{
    mem_end *x = mem_end_new(loop, "/memory/a");
    mem_end *y = x ? mem_end_new(loop, "/memory/b") : NULL;
    if (!y) {
        if (x) {
            x->owner_gone = 1;
            mem_free(x);
        }
        return LP2P_ERR_NOMEM;
    }
    x->peer = y;
    y->peer = x;
    *a = &x->base;
    *b = &y->base;
    return 0;
}

void lp2p_mem_transport_set_chunk(lp2p_transport *t, size_t chunk)
{
    mem_end *e = me(t);
    uint8_t *s = chunk ? realloc(e->scratch, chunk) : NULL;
    if (s) {
        e->scratch = s;
        e->chunk = chunk;
    }
}

int lp2p_mem_transport_read_paused(const lp2p_transport *t)
{
    return ((const mem_end *)t)->paused;
}
