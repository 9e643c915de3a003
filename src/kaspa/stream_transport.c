/* lp2p_transport over an lp2p_stream. See stream_transport.h. */
#include "kaspa/stream_transport.h" /* src/kaspa/stream_transport.h */
#include "lp2p/err.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct stream_transport {
    lp2p_transport t; /* first: the vtable's lp2p_transport * is a stream_transport * */
    lp2p_stream *s;   /* NULL once its on_close ran */
    int fin;          /* our half-close is queued */
    char remote[256];
} stream_transport;

static void st_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    stream_transport *st = ud;
    (void)s;
    if (st->t.ev->on_data)
        st->t.ev->on_data(st->t.ud, p, n);
}

static void st_on_eof(lp2p_stream *s, void *ud)
{
    stream_transport *st = ud;
    (void)s;
    if (st->t.ev->on_eof)
        st->t.ev->on_eof(st->t.ud);
}

static void st_on_writable(lp2p_stream *s, void *ud)
{
    stream_transport *st = ud;
    (void)s;
    if (st->t.ev->on_writable)
        st->t.ev->on_writable(st->t.ud);
}

static void st_on_close(lp2p_stream *s, int err, void *ud)
{
    stream_transport *st = ud;
    (void)s;
    st->s = NULL;
    if (st->t.ev && st->t.ev->on_closed)
        st->t.ev->on_closed(st->t.ud, err);
    free(st);
}

static const lp2p_stream_callbacks k_stream_cb = {
    .on_data = st_on_data,
    .on_eof = st_on_eof,
    .on_writable = st_on_writable,
    .on_close = st_on_close,
};

static int st_write(lp2p_transport *t, lp2p_buf *b)
{
    stream_transport *st = (stream_transport *)t;
    if (!st->s || st->fin)
        return LP2P_ERR_STATE;
    int rc = lp2p_stream_write(st->s, lp2p_buf_head(b), lp2p_buf_size(b));
    if (rc == 0)
        lp2p_buf_consume(b, lp2p_buf_size(b));
    return rc;
}

static size_t st_pending(const lp2p_transport *t)
{
    const stream_transport *st = (const stream_transport *)t;
    return st->s ? lp2p_stream_pending(st->s) : 0;
}

static void st_pause_read(lp2p_transport *t, int paused)
{
    stream_transport *st = (stream_transport *)t;
    if (st->s)
        lp2p_stream_pause_read(st->s, paused);
}

static int st_shutdown(lp2p_transport *t)
{
    stream_transport *st = (stream_transport *)t;
    if (!st->s)
        return LP2P_ERR_STATE;
    if (st->fin)
        return 0;
    st->fin = 1;
    return lp2p_stream_close(st->s);
}

/* A stream is gone only when both sides ended (or it was reset): after close(0) the
 * on_close comes with the peer's FIN. */
static void st_close(lp2p_transport *t, int reset)
{
    stream_transport *st = (stream_transport *)t;
    if (!st->s)
        return;
    if (reset)
        lp2p_stream_reset(st->s);
    else
        st_shutdown(t);
}

static const char *st_remote_addr(const lp2p_transport *t)
{
    return ((const stream_transport *)t)->remote;
}

static const lp2p_transport_vtable k_st_vt = {
    .write = st_write,
    .pending = st_pending,
    .pause_read = st_pause_read,
    .shutdown = st_shutdown,
    .close = st_close,
    .remote_addr = st_remote_addr,
};

static stream_transport *st_new(lp2p_conn *c)
{
    stream_transport *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->t.vt = &k_st_vt;
    st->t.high_water = LP2P_STREAM_HIGH_WATER;
    snprintf(st->remote, sizeof st->remote, "%s", lp2p_conn_remote_addr(c));
    return st;
}

int kaspa_stream_transport_open(lp2p_conn *c, const char *proto, lp2p_transport **out)
{
    stream_transport *st = st_new(c);
    if (!st)
        return LP2P_ERR_NOMEM;
    int rc = lp2p_conn_open_stream(c, proto, &k_stream_cb, st, &st->s);
    if (rc) {
        free(st);
        return rc;
    }
    *out = &st->t;
    return 0;
}

lp2p_transport *kaspa_stream_transport_adopt(lp2p_stream *s)
{
    stream_transport *st = st_new(lp2p_stream_conn(s));
    if (!st)
        return NULL;
    st->s = s;
    lp2p_stream_set_callbacks(s, &k_stream_cb, st);
    return &st->t;
}

lp2p_stream *kaspa_stream_transport_stream(lp2p_transport *t)
{
    return ((stream_transport *)t)->s;
}
