/* Streams: one Yamux stream plus its multistream negotiation and our output queue.
 *
 * Outbound streams negotiate lazily (0-RTT): header + proposal go out with the first data,
 * and the echoed protocol is checked before any reply reaches the application.
 * Sending is pulled, as quicly's on_send_emit: a write only queues the bytes in `pending`
 * (the stream's one queue) and puts the stream on its connection's send queue; the
 * connection takes one quantum from each ready stream in turn while its transport has room
 * (lp2p__conn_flush -> lp2p__stream_emit), sealing straight from `pending`. A stream whose
 * Yamux window is shut leaves the queue until the window reopens (on_writable). Peer bytes
 * are granted back as window only while `pending` is below the high-water mark, so a peer
 * cannot make us buffer without bound. */
#include "host/host_internal.h"
#include "lp2p/err.h"
#include "util/log.h"

#include <stdlib.h>
#include <string.h>

static void stream_settle(lp2p_stream *s);

/* The stream's queue is `pending` then `more`: a whole buffer written while `pending` still
 * has bytes becomes `more` (moved, not copied); only a third one is copied onto `more`. So a
 * writer that hands over a buffer each time the stream drains below its low mark (the Kaspa
 * driver's HTTP/2 output) is never copied, backlog or not. `more` is non-empty only while
 * `pending` is. */
static size_t queued(const lp2p_stream *s)
{
    return lp2p_buf_size(&s->pending) + lp2p_buf_size(&s->more);
}

static int queue_append(lp2p_stream *s, const void *p, size_t n)
{
    return lp2p_buf_append(lp2p_buf_size(&s->pending) ? &s->more : &s->pending, p, n);
}

static void queue_consume(lp2p_stream *s, size_t n)
{
    lp2p_buf_consume(&s->pending, n);
    if (lp2p_buf_size(&s->pending) == 0 && lp2p_buf_size(&s->more)) {
        lp2p_buf emptied = s->pending;
        s->pending = s->more;
        s->more = emptied;
        lp2p_buf_clear(&s->more);
    }
}

static lp2p_stream *stream_alloc(lp2p_conn *c, lp2p_yamux_stream *ys, int outbound)
{
    lp2p_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->conn = c;
    s->ys = ys;
    s->outbound = outbound;
    lp2p_buf_init(&s->pending);
    lp2p_buf_init(&s->more);
    lp2p_list_insert_tail(&c->streams, &s->link);
    c->nstreams++;
    lp2p_yamux_stream_set_user(ys, s);
    lp2p__mem_sync(s); /* the window the peer holds from the start */
    return s;
}

static int stream_supports(void *user, const char *proto)
{
    lp2p_stream *s = user;
    return lp2p__host_find_handler(s->conn->host, proto) != NULL;
}

lp2p_stream *lp2p__stream_inbound(lp2p_conn *c, lp2p_yamux_stream *ys)
{
    lp2p_stream *s = stream_alloc(c, ys, 0);
    if (!s)
        return NULL;
    lp2p_mss_init_listener(&s->mss, stream_supports, s);
    s->mss_live = 1;
    s->stage = STREAM_NEGOTIATING;
    return s;
}

int lp2p_conn_open_stream(lp2p_conn *c, const char *proto, const lp2p_stream_callbacks *cb,
                          void *ud, lp2p_stream **out)
{
    if (c->stage != CONN_READY)
        return LP2P_ERR_STATE;
    lp2p_yamux_stream *ys;
    int rc = lp2p_yamux_open(c->yamux, &ys);
    if (rc < 0)
        return rc;
    lp2p_stream *s = stream_alloc(c, ys, 1);
    if (!s) {
        lp2p_yamux_stream_reset(ys);
        return LP2P_ERR_NOMEM;
    }
    s->proto = strdup(proto);
    if (!s->proto) {
        lp2p_stream_reset(s);
        return LP2P_ERR_NOMEM;
    }
    s->cb = *cb;
    s->ud = ud;
    s->mss_list[0] = s->proto; /* multistream keeps the list: it lives in the stream */
    lp2p_mss_init_dialer(&s->mss, s->mss_list, 1, 1);
    s->mss_live = 1;
    s->stage = STREAM_NEGOTIATING;
    /* Header and proposal are the first bytes of the stream. */
    rc = lp2p_buf_append(&s->pending, lp2p_buf_head(&s->mss.out), lp2p_buf_size(&s->mss.out));
    lp2p_buf_clear(&s->mss.out);
    if (rc < 0) {
        lp2p_stream_reset(s);
        return rc;
    }
    lp2p__stream_schedule(s);
    *out = s;
    return 0;
}

static void stream_enqueue(lp2p_stream *s)
{
    if (s->scheduled || s->closed || !s->ys)
        return;
    if (queued(s) == 0 && !(s->want_fin && !s->fin_sent))
        return;
    s->scheduled = 1;
    lp2p_list_insert_tail(&s->conn->sendq, &s->slink);
    lp2p__conn_mark_dirty(s->conn);
}

/* A stream that is the only one waiting is pulled at once while the transport has room, so
 * the wire keeps the order of the calls: a new stream's SYN (queued in the muxer at open)
 * goes out with that stream's first bytes, before the next stream's SYN (a relay counts hop
 * streams still waiting for their request), as when every write was sealed at once. With
 * others waiting, s takes its turn behind them. */
void lp2p__stream_schedule(lp2p_stream *s)
{
    stream_enqueue(s);
    lp2p_conn *c = s->conn;
    if (s->scheduled && c->sendq.next == &s->slink && c->sendq.prev == &s->slink)
        lp2p__conn_pull(c);
}

void lp2p__stream_emit(lp2p_stream *s)
{
    lp2p_conn *c = s->conn;
    if (s->closed || !s->ys)
        return;
    size_t n = lp2p_buf_size(&s->pending);
    if (n > STREAM_QUANTUM)
        n = STREAM_QUANTUM;
    long w = 0;
    if (n > 0) {
        w = lp2p__conn_send_stream(c, s->ys, lp2p_buf_head(&s->pending), n);
        if (w < 0) {
            if (c->stage != CONN_CLOSED)
                lp2p_stream_reset(s);
            return;
        }
        queue_consume(s, (size_t)w);
    }
    if (queued(s) == 0 && s->want_fin && !s->fin_sent) {
        s->fin_sent = 1;
        lp2p_yamux_stream_close(s->ys); /* may finish s (the peer's FIN came first) */
        if (s->closed || !s->ys)
            return;
    }
    stream_settle(s);
    /* Short of the quantum: the window is shut and the muxer's on_writable brings s back. */
    if ((size_t)w == n)
        stream_enqueue(s);
}

/* After our queue shrank or reading resumed: grant the window held back, and tell a writer
 * that stopped at the high-water mark that it may go on. The notification always waits for
 * the host's next hook: the application is never re-entered from its own call (a sender
 * that refills from on_writable would otherwise send one chunk twice and skip the next). */
static void stream_settle(lp2p_stream *s)
{
    lp2p_conn *c = s->conn;
    size_t pend = queued(s);
    if (s->debt && pend < STREAM_HIGH_WATER && !s->read_paused) {
        lp2p_yamux_stream_consumed(s->ys, s->debt);
        s->debt = 0;
        lp2p__conn_mark_dirty(c);
    }
    lp2p__mem_sync(s); /* queued output and window changed: the budget's charge follows */
    if (s->above_high && pend < STREAM_LOW_WATER) {
        s->above_high = 0;
        if (s->cb.on_writable && s->stage == STREAM_OPEN && !s->writable_queued) {
            s->writable_queued = 1;
            lp2p_list_insert_tail(&c->host->writable, &s->wlink);
        }
    }
}

/* Streams whose writer asked to be told: delivered from the host's hooks. */
void lp2p__stream_deliver_writable(lp2p_host *h)
{
    while (!lp2p_list_empty(&h->writable)) {
        lp2p_list *e = h->writable.next;
        lp2p_list_remove(e);
        lp2p_stream *s = lp2p_container_of(e, lp2p_stream, wlink);
        s->writable_queued = 0;
        if (!s->closed && s->stage == STREAM_OPEN && s->cb.on_writable)
            s->cb.on_writable(s, s->ud);
    }
}

static int stream_queued(lp2p_stream *s)
{
    if (queued(s) >= STREAM_HIGH_WATER)
        s->above_high = 1;
    lp2p__mem_sync(s); /* queued output grew: the budget's charge follows */
    if (s->closed || !s->ys)
        return 0;
    lp2p__stream_schedule(s);
    return 0;
}

/* A write to a stream with nothing queued, while the connection would pull it at once, is
 * sealed straight from the caller's bytes, one quantum at a time while there is room: what
 * the queue then the pull would do, without copying the payload into the queue first (that
 * copy was 16% of a bulk sender's instructions). Returns the bytes sealed. A failure resets
 * s (or closed its connection), as it would have when the pull met it. */
static size_t write_through(lp2p_stream *s, const uint8_t *p, size_t n)
{
    lp2p_conn *c = s->conn;
    size_t sent = 0;
    while (sent < n && queued(s) == 0 && !s->scheduled && s->ys && lp2p__conn_make_room(c)) {
        size_t want = n - sent < STREAM_QUANTUM ? n - sent : STREAM_QUANTUM;
        long w = lp2p__conn_send_stream(c, s->ys, p + sent, want);
        if (w < 0) {
            if (c->stage != CONN_CLOSED)
                lp2p_stream_reset(s);
            break;
        }
        sent += (size_t)w;
        lp2p__conn_mark_dirty(c); /* the ciphertext goes to the transport at the next flush */
        if ((size_t)w < want || s->closed)
            break; /* a shut window: the rest waits in the queue for on_writable */
    }
    return sent;
}

int lp2p_stream_write(lp2p_stream *s, const void *p, size_t n)
{
    if (s->closed || s->want_fin)
        return LP2P_ERR_STATE;
    size_t sent = write_through(s, p, n);
    /* Closed meanwhile: on_close reports it, as it does for bytes that were queued. */
    if (sent == n || s->closed)
        return 0;
    int rc = queue_append(s, (const uint8_t *)p + sent, n - sent);
    return rc < 0 ? rc : stream_queued(s);
}

int lp2p__stream_write_buf(lp2p_stream *s, lp2p_buf *b)
{
    if (s->closed || s->want_fin)
        return LP2P_ERR_STATE;
    /* The caller's buffer becomes the queue's tail (pending, or more behind it) and gets our
     * empty one back; copied only behind a tail that is already taken. */
    lp2p_buf *tail = lp2p_buf_size(&s->pending) == 0 ? &s->pending
                     : lp2p_buf_size(&s->more) == 0  ? &s->more
                                                     : NULL;
    if (!tail) {
        int rc = lp2p_buf_append(&s->more, lp2p_buf_head(b), lp2p_buf_size(b));
        lp2p_buf_clear(b);
        return rc < 0 ? rc : stream_queued(s);
    }
    lp2p_buf spare = *tail;
    *tail = *b;
    *b = spare;
    lp2p_buf_clear(b);
    return stream_queued(s);
}

size_t lp2p_stream_pending(const lp2p_stream *s)
{
    return queued(s);
}

int lp2p_stream_close(lp2p_stream *s)
{
    if (s->closed)
        return LP2P_ERR_STATE;
    s->want_fin = 1;
    lp2p__stream_schedule(s);
    return 0;
}

void lp2p_stream_reset(lp2p_stream *s)
{
    if (s->closed || !s->ys)
        return;
    /* What was written before the reset goes out ahead of the RST, as far as the window
     * allows, as when writes were sealed at once: a multistream "na" before the reset of a
     * refused stream, a last message before a reset. */
    if (s->scheduled) {
        s->scheduled = 0;
        lp2p_list_remove(&s->slink);
    }
    while (lp2p_buf_size(&s->pending) > 0 && s->conn->stage == CONN_READY) {
        size_t n = lp2p_buf_size(&s->pending);
        long w = lp2p__conn_send_stream(s->conn, s->ys, lp2p_buf_head(&s->pending),
                                        n > STREAM_QUANTUM ? STREAM_QUANTUM : n);
        if (w <= 0 || s->closed || !s->ys)
            break;
        queue_consume(s, (size_t)w);
    }
    if (s->closed || !s->ys)
        return;
    lp2p_yamux_stream *ys = s->ys;
    lp2p_yamux_stream_reset(ys);
    lp2p__conn_mark_dirty(s->conn);
}

const char *lp2p_stream_protocol(const lp2p_stream *s)
{
    return s->proto ? s->proto : "";
}
lp2p_conn *lp2p_stream_conn(const lp2p_stream *s)
{
    return s->conn;
}
void lp2p_stream_set_ud(lp2p_stream *s, void *ud)
{
    s->ud = ud;
}
void lp2p_stream_pause_read(lp2p_stream *s, int paused)
{
    s->read_paused = paused != 0;
    if (!paused && !s->closed && s->ys)
        stream_settle(s); /* grants the debt once our own output is below the mark */
}

void lp2p_stream_detach(lp2p_stream *s, int reset)
{
    static const lp2p_stream_callbacks none = {0};
    s->cb = none;
    s->ud = NULL;
    if (reset)
        lp2p_stream_reset(s);
    else
        lp2p_stream_close(s);
}

void lp2p_stream_set_callbacks(lp2p_stream *s, const lp2p_stream_callbacks *cb, void *ud)
{
    s->cb = *cb;
    s->ud = ud;
}

static void deliver(lp2p_stream *s, const uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    /* Hold the window back only when this delivery made our own output grow past the mark
     * (an echo whose far side does not read). A stream that is merely sending a lot while
     * it receives must keep granting, or two such streams wait on each other forever. */
    size_t before = queued(s);
    if (s->cb.on_data)
        s->cb.on_data(s, p, n, s->ud);
    if (s->closed || !s->ys)
        return;
    size_t after = queued(s);
    if (s->read_paused || (after > before && after >= STREAM_HIGH_WATER))
        s->debt += n; /* granted back when our own output drains / reading resumes */
    else
        lp2p_yamux_stream_consumed(s->ys, n);
}

void lp2p__stream_on_data(lp2p_stream *s, const uint8_t *p, size_t n)
{
    if (s->stage == STREAM_OPEN) {
        deliver(s, p, n);
        return;
    }
    size_t used = 0;
    int rc = lp2p_mss_recv(&s->mss, p, n, &used);
    if (lp2p_buf_size(&s->mss.out)) {
        /* Listener replies (header + echo or na) go ahead of anything else. */
        queue_append(s, lp2p_buf_head(&s->mss.out), lp2p_buf_size(&s->mss.out));
        lp2p_buf_clear(&s->mss.out);
        lp2p__stream_schedule(s);
    }
    if (s->closed || !s->ys)
        return;
    lp2p_yamux_stream_consumed(s->ys, used);
    if (rc < 0) {
        lp2p_log(LP2P_DEBUG, "stream_negotiation_failed", LF_S("peer", s->conn->peer_str),
                 LF_S("protocol", s->proto ? s->proto : ""), LF_S("reason", lp2p_strerror(rc)));
        lp2p_stream_reset(s);
        return;
    }
    if (rc == 0)
        return;
    s->stage = STREAM_OPEN;
    if (!s->outbound) {
        const char *sel = lp2p_mss_selected(&s->mss);
        const host_handler *hd = lp2p__host_find_handler(s->conn->host, sel);
        s->proto = strdup(sel);
        lp2p_mss_free(&s->mss);
        s->mss_live = 0;
        if (!hd || !s->proto) {
            lp2p_stream_reset(s);
            return;
        }
        s->cb = hd->cb;
        s->ud = hd->ud;
        if (s->cb.on_open)
            s->cb.on_open(s, s->ud);
        if (s->closed || !s->ys)
            return;
    } else {
        lp2p_mss_free(&s->mss);
        s->mss_live = 0;
    }
    deliver(s, p + used, n - used);
}

void lp2p__stream_on_fin(lp2p_stream *s)
{
    if (s->stage == STREAM_OPEN && s->cb.on_eof)
        s->cb.on_eof(s, s->ud);
}

void lp2p__stream_on_closed(lp2p_stream *s, int err)
{
    if (s->closed)
        return;
    lp2p__mem_release(s);
    s->closed = 1;
    s->ys = NULL;
    if (s->scheduled) {
        s->scheduled = 0;
        lp2p_list_remove(&s->slink);
    }
    lp2p_list_remove(&s->link);
    s->conn->nstreams--;
    /* A stream that never finished negotiating reports NA to an outbound owner. */
    if (s->stage == STREAM_NEGOTIATING && s->outbound && err == 0)
        err = LP2P_ERR_NA;
    /* on_close is delivered, and the stream freed, when the current event handler is done
     * (the host's check/prepare hooks): an application that writes, closes or resets a
     * stream must never find its own on_close has run (and freed its state) inside that
     * call. Until then the stream is `closed` and every operation on it is refused. */
    s->close_err = err;
    lp2p_list_insert_tail(&s->conn->host->gc, &s->link);
}

void lp2p__stream_notify_closed(lp2p_stream *s)
{
    if (s->close_notified)
        return;
    s->close_notified = 1;
    if ((s->stage == STREAM_OPEN || s->outbound) && s->cb.on_close)
        s->cb.on_close(s, s->close_err, s->ud);
}

void lp2p__stream_free(lp2p_stream *s)
{
    lp2p__stream_notify_closed(s);
    if (s->writable_queued)
        lp2p_list_remove(&s->wlink);
    if (s->mss_live)
        lp2p_mss_free(&s->mss);
    lp2p_buf_free(&s->pending);
    lp2p_buf_free(&s->more);
    free(s->proto);
    free(s);
}
