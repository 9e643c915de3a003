/* A libp2p stream as a byte transport (lp2p/stream_transport.h, net/transport.h).
 *
 * Backpressure is the stream's own: congested while its pending output is at or above
 * LP2P_STREAM_HIGH_WATER, which is exactly when the stream arms its on_writable (decisions:
 * "Congestion and writable signals must be the same test"). A stream paused with
 * lp2p_stream_pause_read still delivers what the peer sent within its window, so while the
 * owner has reading paused those bytes wait here (at most one window) and are delivered
 * from the loop once reading resumes. A write moves the owner's buffer into the stream when
 * the stream has nothing queued (a Kaspa peer's HTTP/2 output), and copies it otherwise. */
#include "lp2p/stream_transport.h"

#include "host/host_internal.h"
#include "lp2p/err.h"
#include "net/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct stream_transport {
    lp2p_transport base;
    lp2p_stream *s;   /* NULL once the stream is detached or gone */
    uv_timer_t defer; /* events owed after an owner's call: held bytes, on_closed */
    int paused, closing, eof_seen, eof_owed;
    lp2p_buf held; /* peer bytes received while paused */
    char remote[LP2P_MULTIADDR_STR_MAX];
} stream_transport;

static stream_transport *st(lp2p_transport *t)
{
    return (stream_transport *)t;
}

static void on_defer_closed(uv_handle_t *hd)
{
    stream_transport *t = hd->data;
    lp2p_buf_free(&t->held);
    free(t);
}

/* Last event; the owner lets go of t, and t frees itself. */
static void deliver_closed(stream_transport *t, int err, const char *why)
{
    uv_timer_stop(&t->defer);
    if (t->base.ev && t->base.ev->on_closed)
        t->base.ev->on_closed(t->base.ud, err, why);
    uv_close((uv_handle_t *)&t->defer, on_defer_closed);
}

static void on_defer(uv_timer_t *tm)
{
    stream_transport *t = tm->data;
    if (t->closing) {
        deliver_closed(t, 0, NULL);
        return;
    }
    const lp2p_transport_events *ev = t->base.ev;
    if (!t->paused && lp2p_buf_size(&t->held)) {
        lp2p_buf b = t->held; /* the owner may pause again from on_data: take it whole */
        lp2p_buf_init(&t->held);
        if (ev && ev->on_data)
            ev->on_data(t->base.ud, lp2p_buf_head(&b), lp2p_buf_size(&b));
        lp2p_buf_free(&b);
    }
    if (!t->closing && !t->paused && t->eof_owed) {
        t->eof_owed = 0;
        if (ev && ev->on_eof)
            ev->on_eof(t->base.ud);
    }
    if (t->closing)
        deliver_closed(t, 0, NULL);
}

/* ---- the stream's callbacks ------------------------------------------------------------ */

static void s_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    stream_transport *t = ud;
    if (t->paused || lp2p_buf_size(&t->held)) {
        /* Bounded by the window the paused stream stops granting. */
        if (lp2p_buf_append(&t->held, p, n) < 0)
            lp2p_stream_reset(s);
        return;
    }
    if (t->base.ev && t->base.ev->on_data)
        t->base.ev->on_data(t->base.ud, p, n);
}

static void s_on_eof(lp2p_stream *s, void *ud)
{
    stream_transport *t = ud;
    t->eof_seen = 1;
    if (t->paused || lp2p_buf_size(&t->held)) {
        t->eof_owed = 1;
        return;
    }
    if (t->base.ev && t->base.ev->on_eof)
        t->base.ev->on_eof(t->base.ud);
}

static void s_on_writable(lp2p_stream *s, void *ud)
{
    stream_transport *t = ud;
    if (t->base.ev && t->base.ev->on_writable)
        t->base.ev->on_writable(t->base.ud);
}

static void s_on_close(lp2p_stream *s, int err, void *ud)
{
    stream_transport *t = ud;
    t->s = NULL;
    deliver_closed(t, err ? err : LP2P_ERR_CLOSED,
                   err == LP2P_ERR_RESET ? "carrying stream reset" : "carrying stream closed");
}

static const lp2p_stream_callbacks k_carrying = {
    .on_data = s_on_data,
    .on_eof = s_on_eof,
    .on_writable = s_on_writable,
    .on_close = s_on_close,
};

/* ---- the transport --------------------------------------------------------------------- */

static int stt_write(lp2p_transport *bt, lp2p_buf *b)
{
    stream_transport *t = st(bt);
    if (!t->s || t->closing)
        return LP2P_ERR_STATE;
    return lp2p__stream_write_buf(t->s, b);
}

static size_t stt_pending(const lp2p_transport *bt)
{
    const stream_transport *t = (const stream_transport *)bt;
    return t->s ? lp2p_stream_pending(t->s) : 0;
}

static void stt_pause_read(lp2p_transport *bt, int paused)
{
    stream_transport *t = st(bt);
    t->paused = paused != 0;
    if (!t->s || t->closing)
        return;
    lp2p_stream_pause_read(t->s, t->paused);
    if (!t->paused && (lp2p_buf_size(&t->held) || t->eof_owed))
        uv_timer_start(&t->defer, on_defer, 0, 0);
}

static int stt_shutdown(lp2p_transport *bt)
{
    stream_transport *t = st(bt);
    if (!t->s || t->closing)
        return LP2P_ERR_STATE;
    return lp2p_stream_close(t->s);
}

static void stt_close(lp2p_transport *bt, int reset)
{
    stream_transport *t = st(bt);
    if (t->closing)
        return;
    t->closing = 1;
    if (t->s) {
        lp2p_stream *s = t->s;
        t->s = NULL;
        lp2p_stream_detach(s, reset);
    }
    uv_timer_start(&t->defer, on_defer, 0, 0);
}

static const char *stt_remote_addr(const lp2p_transport *bt)
{
    return ((const stream_transport *)bt)->remote;
}

static int stt_peer_sockaddr(const lp2p_transport *bt, struct sockaddr_storage *out)
{
    return LP2P_ERR_NOT_FOUND;
}

static const lp2p_transport_vtable k_stream_vt = {
    .write = stt_write,
    .pending = stt_pending,
    .pause_read = stt_pause_read,
    .shutdown = stt_shutdown,
    .close = stt_close,
    .remote_addr = stt_remote_addr,
    .peer_sockaddr = stt_peer_sockaddr,
};

int lp2p_stream_transport_new(lp2p_stream *s, const char *remote_addr, lp2p_transport **out)
{
    stream_transport *t = calloc(1, sizeof(*t));
    if (!t)
        return LP2P_ERR_NOMEM;
    t->base.vt = &k_stream_vt;
    t->base.high_water = LP2P_STREAM_HIGH_WATER;
    t->base.low_water = STREAM_LOW_WATER;
    t->s = s;
    lp2p_buf_init(&t->held);
    snprintf(t->remote, sizeof(t->remote), "%s",
             remote_addr ? remote_addr : lp2p_conn_remote_addr(lp2p_stream_conn(s)));
    uv_timer_init(s->conn->host->loop, &t->defer);
    t->defer.data = t;
    lp2p_stream_set_callbacks(s, &k_carrying, t);
    *out = &t->base;
    return 0;
}
