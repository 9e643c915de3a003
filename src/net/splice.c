/* Splice of two byte transports (contract in splice.h). */
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "lp2p/err.h"
#include "net/splice.h"

#define DRAIN_POLL_MS 5

typedef struct splice_side {
    lp2p_splice *sp;
    lp2p_transport *t;
    int idx;       /* 0 = a, 1 = b; data read here flows in direction idx */
    int eof;       /* this side sent EOF: direction idx is over */
    int closed;    /* on_closed seen: t is gone */
    int close_req; /* 0 none, 1 close asked, 2 reset asked: never asks twice for the same */
    int suspect;   /* a write into it failed: its on_closed says why the splice ended */
    int paused;    /* we paused its reads (the other side is congested) */
    int observing; /* cfg.observe still wants direction idx */
    lp2p_buf out;  /* scratch for writes INTO this side (moved by the transport) */
} splice_side;

struct lp2p_splice {
    splice_side side[2];
    lp2p_splice_config cfg;
    lp2p_splice_result res;
    uv_timer_t *drain; /* both directions over: waits for the pending bytes to leave */
    uint64_t drain_deadline, drained_at;
    int ending;    /* res.end/err fixed */
    int write_err; /* a write failed with this (both sides were reset) */
};

static void set_end(lp2p_splice *s, lp2p_splice_end end, int err)
{
    if (s->ending)
        return;
    s->ending = 1;
    s->res.end = end;
    s->res.err = err;
}

static void close_side(splice_side *d, int reset)
{
    int req = reset ? 2 : 1;
    if (d->closed || d->close_req >= req)
        return;
    d->close_req = req;
    lp2p_transport_close(d->t, reset);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void stop_drain(lp2p_splice *s)
{
    if (s->drain) {
        uv_timer_stop(s->drain);
        uv_close((uv_handle_t *)s->drain, free_handle);
        s->drain = NULL;
    }
}

static int drained(const lp2p_splice *s)
{
    for (int i = 0; i < 2; i++)
        if (!s->side[i].closed && lp2p_transport_pending(s->side[i].t) > 0)
            return 0;
    return 1;
}

static void on_drain_poll(uv_timer_t *t)
{
    lp2p_splice *s = t->data;
    uint64_t now = uv_now(t->loop);
    if (now < s->drain_deadline) {
        if (!drained(s))
            return;
        if (!s->drained_at)
            s->drained_at = now;
        if (now - s->drained_at < s->cfg.close_grace_ms)
            return; /* the peers got both FINs: let them close first */
    }
    stop_drain(s);
    close_side(&s->side[0], 0);
    close_side(&s->side[1], 0);
}

/* A transport's close may drop what it has not sent yet (TCP's is an RST with linger 0), so
 * a clean end waits until both have handed their bytes on, polled on the loop, then
 * cfg.close_grace_ms more (an RST that reaches a peer before it read our last bytes and FIN
 * makes it drop them and report a reset), at most cfg.drain_timeout_ms in all. */
static void drain_then_close(lp2p_splice *s)
{
    if ((drained(s) && !s->cfg.close_grace_ms) || !s->cfg.loop || s->drain) {
        if (!s->drain) {
            close_side(&s->side[0], 0);
            close_side(&s->side[1], 0);
        }
        return;
    }
    s->drain = malloc(sizeof *s->drain);
    if (!s->drain) {
        close_side(&s->side[0], 0);
        close_side(&s->side[1], 0);
        return;
    }
    uv_timer_init(s->cfg.loop, s->drain);
    s->drain->data = s;
    s->drain_deadline = uv_now(s->cfg.loop) + s->cfg.drain_timeout_ms;
    uv_timer_start(s->drain, on_drain_poll, DRAIN_POLL_MS, DRAIN_POLL_MS);
}

static void on_data(void *ud, const uint8_t *p, size_t n)
{
    splice_side *src = ud;
    lp2p_splice *s = src->sp;
    splice_side *dst = &s->side[!src->idx];
    if (dst->closed || s->ending)
        return;
    if (src->observing && s->cfg.observe && s->cfg.observe(s->cfg.ud, src->idx, p, n))
        src->observing = 0;
    int rc = lp2p_buf_append(&dst->out, p, n);
    if (rc == 0)
        rc = lp2p_transport_write(dst->t, &dst->out);
    lp2p_buf_clear(&dst->out);
    if (rc != 0) {
        /* Usually the destination is already going (reset, closed): its own on_closed,
         * when it comes, says why better than our write error does. */
        s->write_err = rc;
        dst->suspect = 1;
        close_side(src, 1);
        close_side(dst, 1);
        return;
    }
    s->res.bytes[src->idx] += n;
    if (!src->paused && lp2p_transport_congested(dst->t)) {
        src->paused = 1;
        lp2p_transport_pause_read(src->t, 1);
    }
}

static void on_writable(void *ud)
{
    splice_side *dst = ud;
    splice_side *src = &dst->sp->side[!dst->idx];
    if (src->paused && !src->closed) {
        src->paused = 0;
        lp2p_transport_pause_read(src->t, 0);
    }
}

static void on_eof(void *ud)
{
    splice_side *src = ud;
    lp2p_splice *s = src->sp;
    splice_side *dst = &s->side[!src->idx];
    src->eof = 1;
    if (dst->closed)
        return;
    if (lp2p_transport_shutdown(dst->t) != 0) {
        s->write_err = LP2P_ERR_CLOSED;
        close_side(src, 1);
        close_side(dst, 1);
        return;
    }
    if (dst->eof) {
        /* Both directions are over: close once the pending bytes have left. */
        set_end(s, LP2P_SPLICE_END_EOF, 0);
        drain_then_close(s);
    }
}

static void on_closed(void *ud, int err, const char *why)
{
    splice_side *side = ud;
    lp2p_splice *s = side->sp;
    splice_side *other = &s->side[!side->idx];
    side->closed = 1;
    lp2p_buf_free(&side->out);
    /* Only a transport that went away on its own (or failed a write) ends the splice
     * "because of" it; one we closed ourselves reports our own doing. */
    if (side->close_req == 0 || (side->suspect && err != 0)) {
        if (!s->ending && why)
            snprintf(s->res.why, sizeof s->res.why, "%s", why);
        set_end(s, side->idx == 0 ? LP2P_SPLICE_END_A : LP2P_SPLICE_END_B, err);
    }
    if (!other->closed) {
        close_side(other, err != 0 || s->write_err != 0);
        return;
    }
    set_end(s, LP2P_SPLICE_END_WRITE, s->write_err);
    stop_drain(s);
    lp2p_splice_result r = s->res;
    void (*cb)(void *, const lp2p_splice_result *) = s->cfg.on_closed;
    void *cud = s->cfg.ud;
    free(s);
    if (cb)
        cb(cud, &r);
}

static const lp2p_transport_events splice_events = {
    .on_data = on_data,
    .on_eof = on_eof,
    .on_writable = on_writable,
    .on_closed = on_closed,
};

int lp2p_splice_new(lp2p_transport *a, lp2p_transport *b, const lp2p_splice_config *cfg,
                    lp2p_splice **out)
{
    if (!a || !b || a == b || !cfg || !out)
        return LP2P_ERR_INVAL;
    lp2p_splice *s = calloc(1, sizeof *s);
    if (!s)
        return LP2P_ERR_NOMEM;
    s->cfg = *cfg;
    if (!s->cfg.drain_timeout_ms)
        s->cfg.drain_timeout_ms = 10000;
    lp2p_transport *t[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        s->side[i].sp = s;
        s->side[i].t = t[i];
        s->side[i].idx = i;
        s->side[i].observing = cfg->observe != NULL;
        lp2p_buf_init(&s->side[i].out);
        lp2p_transport_bind(t[i], &splice_events, &s->side[i]);
    }
    *out = s;
    return 0;
}

void lp2p_splice_close(lp2p_splice *s, int reset)
{
    set_end(s, LP2P_SPLICE_END_LOCAL, reset ? LP2P_ERR_RESET : 0);
    stop_drain(s);
    close_side(&s->side[0], reset);
    close_side(&s->side[1], reset);
}

uint64_t lp2p_splice_bytes(const lp2p_splice *s, int dir)
{
    return s->res.bytes[dir ? 1 : 0];
}
