/* A connection and its upgrade pipeline (libp2p connections spec, libp2p-wire.md A3–A5):
 *
 *   dialer (initiator)                              listener (responder)
 *   /multistream/1.0.0\n /noise\n  + Noise msg1  ->         (lazy: one write, 0-RTT)
 *                      <- /multistream/1.0.0\n /noise\n + Noise msg2 (muxers ext)
 *   Noise msg3 (muxers ext)                      ->
 *   ==== Yamux frames inside Noise transport frames, both ways ====
 *
 * When the Noise extensions agree on /yamux/1.0.0 there is no second multistream round;
 * otherwise /yamux/1.0.0 is negotiated by multistream inside the encrypted channel.
 * Roles come from `initiator`, not from who dialed the socket (DCUtR sets them apart).
 * The pipeline runs over any byte transport (net/transport.h): TCP, a relay circuit's
 * stream, or memory in tests; nothing here knows which. */
#include "host/host_internal.h"
#include "crypto/random.h"
#include "lp2p/err.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YAMUX_PROTO "/yamux/1.0.0"
#define NOISE_PROTO "/noise"

static const char *const k_muxers[] = {YAMUX_PROTO};
/* multistream keeps pointers to the proposal list: these must outlive the negotiation. */
static const char *const k_noise_list[] = {NOISE_PROTO};

uint64_t lp2p__now(const lp2p_host *h)
{
    return uv_now(h->loop);
}

static void conn_on_plain(lp2p_conn *c);

/* ---- yamux callbacks ------------------------------------------------------------------ */

static void y_on_stream(void *user, lp2p_yamux_stream *ys)
{
    lp2p_conn *c = user;
    if (!lp2p__stream_inbound(c, ys))
        lp2p_yamux_stream_reset(ys);
}

static void y_on_data(void *user, lp2p_yamux_stream *ys, const uint8_t *p, size_t n)
{
    lp2p_stream *s = lp2p_yamux_stream_user(ys);
    if (s)
        lp2p__stream_on_data(s, p, n);
    else
        lp2p_yamux_stream_consumed(ys, n);
}

static void y_on_fin(void *user, lp2p_yamux_stream *ys)
{
    lp2p_stream *s = lp2p_yamux_stream_user(ys);
    if (s)
        lp2p__stream_on_fin(s);
}

static void y_on_reset(void *user, lp2p_yamux_stream *ys)
{
    lp2p_stream *s = lp2p_yamux_stream_user(ys);
    if (s)
        s->reset_seen = 1; /* on_stream_closed follows and reports it */
}

static void y_on_writable(void *user, lp2p_yamux_stream *ys)
{
    lp2p_stream *s = lp2p_yamux_stream_user(ys);
    if (s)
        lp2p__stream_schedule(s);
}

static void y_on_closed(void *user, lp2p_yamux_stream *ys)
{
    lp2p_stream *s = lp2p_yamux_stream_user(ys);
    if (s) {
        lp2p_yamux_stream_set_user(ys, NULL);
        lp2p__stream_on_closed(s, s->reset_seen ? LP2P_ERR_RESET : 0);
    }
}

static void y_on_goaway(void *user, uint32_t code)
{
    lp2p_conn *c = user;
    lp2p_log(LP2P_INFO, "goaway", LF_S("peer", c->peer_str), LF_U("code", code));
    c->remote_goaway = 1;
}

static const lp2p_yamux_callbacks k_ycb = {
    .on_stream = y_on_stream,
    .on_data = y_on_data,
    .on_fin = y_on_fin,
    .on_reset = y_on_reset,
    .on_writable = y_on_writable,
    .on_stream_closed = y_on_closed,
    .on_goaway = y_on_goaway,
    .on_window = lp2p__mem_window,
    .on_admit = lp2p__mem_admit,
};

/* ---- lifecycle -------------------------------------------------------------------------- */

/* The timer is closed and the transport has reported on_closed: free. */
static void conn_release(lp2p_conn *c)
{
    if (--c->open_handles > 0)
        return;
    lp2p_host *h = c->host;
    lp2p__mem_conn_gone(c);
    if (c->mss_live)
        lp2p_mss_free(&c->mss);
    if (c->noise)
        lp2p_noise_del(c->noise);
    if (c->yamux)
        lp2p_yamux_del(c->yamux);
    lp2p_buf_free(&c->plain);
    lp2p_buf_free(&c->wire);
    free(c);
    if (--h->open_handles == 0 && h->closing)
        lp2p__host_free(h);
}

static void conn_timer_closed(uv_handle_t *hd)
{
    conn_release(hd->data);
}

/* ---- transport events ------------------------------------------------------------------- */

static void t_on_connected(void *ud)
{
    lp2p_conn *c = ud;
    if (c->stage == CONN_DIALING)
        lp2p__conn_start(c);
}

static void t_on_data(void *ud, const uint8_t *p, size_t n)
{
    lp2p_conn *c = ud;
    if (c->stage != CONN_CLOSED)
        lp2p__conn_on_bytes(c, p, n);
}

static void t_on_eof(void *ud)
{
    lp2p__conn_fail(ud, LP2P_ERR_CLOSED, "remote closed the connection");
}

static void t_on_writable(void *ud)
{
    lp2p_conn *c = ud;
    if (c->read_paused && c->t) {
        c->read_paused = 0;
        lp2p_transport_pause_read(c->t, 0);
    }
    lp2p__conn_mark_dirty(c); /* room again: the streams are pulled before the loop sleeps */
}

static void t_on_closed(void *ud, int err, const char *why)
{
    lp2p_conn *c = ud;
    c->t = NULL;
    if (c->stage != CONN_CLOSED)
        lp2p__conn_fail(c, err ? err : LP2P_ERR_CLOSED, why);
    conn_release(c);
}

static const lp2p_transport_events k_conn_events = {
    .on_connected = t_on_connected,
    .on_data = t_on_data,
    .on_eof = t_on_eof,
    .on_writable = t_on_writable,
    .on_closed = t_on_closed,
};

lp2p_conn *lp2p__conn_new(lp2p_host *h, lp2p_transport *t, int outbound, const char *remote_addr,
                          const lp2p_peer_id *expected)
{
    const char *ra = remote_addr ? remote_addr : t ? lp2p_transport_remote_addr(t) : "";
    size_t ralen = strnlen(ra, LP2P_MULTIADDR_STR_MAX - 1);
    lp2p_conn *c = calloc(1, sizeof(*c) + ralen + 1);
    if (!c)
        return NULL;
    memcpy(c->remote_addr, ra, ralen); /* NUL from calloc */
    c->host = h;
    c->outbound = outbound;
    c->initiator = outbound;
    lp2p_list_init(&c->link);
    lp2p_list_init(&c->dirty_link);
    lp2p_list_init(&c->staged_link);
    lp2p_list_init(&c->streams);
    lp2p_list_init(&c->sendq);
    lp2p_buf_init(&c->plain);
    lp2p_buf_init(&c->wire);
    uv_timer_init(h->loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 1; /* the timer; one more for the transport below */
    h->open_handles++;
    lp2p_list_insert_tail(&h->conns, &c->link);
    h->nconns++;
    c->created_ms = lp2p__now(h);
    if (expected) {
        c->has_expected = 1;
        c->expected = *expected;
        lp2p_peer_id_to_string(expected, c->peer_str, sizeof(c->peer_str));
    }
    if (t) {
        c->t = t;
        c->open_handles++;
        lp2p_transport_bind(t, &k_conn_events, c);
    }
    return c;
}

void lp2p__conn_fail(lp2p_conn *c, int err, const char *why)
{
    if (c->stage == CONN_CLOSED)
        return;
    /* The relay cutting the circuit at its Limit is not the peer's doing: say so. */
    const char *limit = err == LP2P_ERR_CLOSED || err == LP2P_ERR_RESET || err == LP2P_ERR_IO
                            ? lp2p__relay_limit_reason(c)
                            : NULL;
    if (limit) {
        err = LP2P_ERR_LIMIT;
        why = limit;
    }
    int was_ready = c->stage == CONN_READY;
    enum conn_stage stage = c->stage;
    c->stage = CONN_CLOSED;
    c->close_reason = err;
    /* Unlink first: callbacks below may close the host, which walks the connection list. */
    lp2p_list_remove(&c->link);
    c->host->nconns--;
    if (c->dirty) {
        lp2p_list_remove(&c->dirty_link);
        c->dirty = 0;
    }
    if (c->staging_full) {
        lp2p_list_remove(&c->staged_link);
        c->staging_full = 0;
    }
    /* Streams first: their owners get on_close while the connection is still readable. */
    lp2p_list *pos, *tmp;
    lp2p_list_foreach_safe(pos, tmp, &c->streams)
    {
        lp2p_stream *s = lp2p_container_of(pos, lp2p_stream, link);
        if (s->ys)
            lp2p_yamux_stream_set_user(s->ys, NULL);
        lp2p__stream_on_closed(s, err ? err : LP2P_ERR_CLOSED);
    }
    if (c->dial_cb) {
        lp2p_dial_cb cb = c->dial_cb;
        c->dial_cb = NULL;
        cb(NULL, err ? err : LP2P_ERR_CLOSED, c->dial_ud);
    }
    if (was_ready || c->reported_connected) {
        lp2p_log(LP2P_INFO, "disconnected", LF_S("peer", c->peer_str), LF_S("addr", c->remote_addr),
                 LF_S("reason", why ? why : lp2p_strerror(err)), LF_B("relayed", c->relayed));
        lp2p__host_conn_gone(c->host, c);
    } else {
        lp2p_log(LP2P_WARN, "connection_failed", LF_S("addr", c->remote_addr),
                 LF_S("peer", c->has_expected ? c->peer_str : ""),
                 LF_S("stage", stage == CONN_DIALING        ? "dial"
                               : stage == CONN_MSS_SECURITY ? "multistream"
                               : stage == CONN_NOISE        ? "noise"
                                                            : "muxer"),
                 LF_S("reason", why ? why : lp2p_strerror(err)),
                 LF_S("error", lp2p_err_name(err ? err : LP2P_ERR_CLOSED)));
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_timer_closed);
    /* Always a reset, as before transports: TCP lingers 0 (RST), and a relay circuit's
     * stream is reset. The transport's on_closed releases the connection. */
    if (c->t)
        lp2p_transport_close(c->t, 1);
}

void lp2p_conn_close(lp2p_conn *c, int reason)
{
    if (c->yamux && c->stage == CONN_READY) {
        lp2p__conn_flush(c); /* what the streams queued goes ahead of the GoAway */
        if (c->stage != CONN_READY)
            return;
        lp2p_yamux_goaway(c->yamux, 0);
        lp2p__conn_flush(c);
    }
    lp2p__conn_fail(c, reason, reason ? lp2p_strerror(reason) : "closed locally");
}

/* ---- output ------------------------------------------------------------------------------ */

void lp2p__conn_mark_dirty(lp2p_conn *c)
{
    if (c->dirty || c->stage == CONN_CLOSED)
        return;
    c->dirty = 1;
    lp2p_list_insert_tail(&c->host->dirty, &c->dirty_link);
}

/* Full batches one loop turn may hand on while the socket takes each at once. */
#define CONN_SYNC_BATCHES 8
#define SEND_FRAMES       8 /* Data frames per seal: 8 × 64 KiB covers the stream's chunk */

long lp2p__conn_send_stream(lp2p_conn *c, lp2p_yamux_stream *ys, const uint8_t *p, size_t n)
{
    uint8_t hdr[SEND_FRAMES][LP2P_YAMUX_HDR_LEN];
    struct iovec iov[1 + 2 * SEND_FRAMES];
    size_t off = 0;
    int k = 1, frames = 0;
    while (off < n && frames < SEND_FRAMES) {
        long w = lp2p_yamux_stream_frame(ys, n - off, hdr[frames]);
        if (w < 0)
            return w;
        if (w == 0)
            break;
        iov[k++] = (struct iovec){hdr[frames], LP2P_YAMUX_HDR_LEN};
        iov[k++] = (struct iovec){(void *)(p + off), (size_t)w};
        off += (size_t)w;
        frames++;
    }
    /* The muxer's queued frames (an ACK the first frame() just emitted, window updates, a
     * SYN) go first, in the same Noise frame. */
    lp2p_buf *yo = lp2p_yamux_out(c->yamux);
    iov[0] = (struct iovec){lp2p_buf_head(yo), lp2p_buf_size(yo)};
    if (frames == 0 && iov[0].iov_len == 0)
        return 0;
    int rc = lp2p_noise_encrypt_gather(c->noise, iov, k, &c->wire);
    lp2p_buf_clear(yo);
    if (rc < 0) {
        lp2p__conn_fail(c, rc, "noise encrypt failed");
        return rc;
    }
    return (long)off;
}

/* Hands the ciphertext to the transport (which takes c->wire whole: TCP moves it into the
 * write request and gives a spare buffer back). 0, or a negative lp2p_err (c failed). */
static int conn_write(lp2p_conn *c)
{
    size_t n = lp2p_buf_size(&c->wire);
    if (n == 0 || !c->t)
        return 0;
    c->bytes_out += n;
    int rc = lp2p_transport_write(c->t, &c->wire);
    if (rc < 0) {
        /* STATE: the carrying stream or socket is already going (e.g. the relay connection
         * under a circuit closed first). */
        lp2p__conn_fail(c, rc,
                        rc == LP2P_ERR_STATE ? "transport closed" : "transport write failed");
        return rc;
    }
    return 0;
}

/* The batch in c->wire reached the transport's mark: hands it on. 1 when sealing may go on
 * at once: the transport took it all and gave the buffer back (TCP, when libuv wrote it
 * inside uv_write), so c->wire is the same buffer, still warm, and this loop turn's budget
 * of such batches lasts (one busy connection must not keep the loop from its reads and the
 * others). 0 when the rest waits: for on_writable (congested) or, after a full batch, for
 * the next turn (staged); also when c failed. */
static int conn_hand_on(lp2p_conn *c)
{
    if (lp2p_buf_size(&c->wire) == 0 || conn_write(c) < 0)
        return 0;
    if (!c->t || lp2p_transport_congested(c->t))
        return 0;
    /* Only for one sender: with many streams waiting (an echo hog's hundreds) going on at
     * once turned their output over faster than the memory budget assumes
     * (adversarial/test_echo_hog: 184-209 MB accepted from four connections against its
     * 159 MB bound, at the same RSS), and they share the turn anyway. */
    int lone = lp2p_list_empty(&c->sendq) || c->sendq.next->next == &c->sendq;
    if (lone && lp2p_transport_pending(c->t) == 0 && ++c->sync_batches < CONN_SYNC_BATCHES)
        return 1;
    /* One full batch per loop iteration otherwise: the next one goes after the loop's I/O,
     * when the write has completed and its buffer is back as the transport's spare (pulling
     * on at once put each batch in a fresh, cold buffer: page faults). */
    c->staging_full = 1;
    lp2p_list_insert_tail(&c->host->staged, &c->staged_link);
    return 0;
}

static int conn_full(const lp2p_conn *c)
{
    return lp2p_transport_pending(c->t) + lp2p_buf_size(&c->wire) >= c->t->high_water;
}

/* The pull. The one test of "can the connection take more?" is the transport's own
 * high-water mark, counting the ciphertext not yet handed on: streams are sealed one
 * quantum at a time while there is room; with none, the ciphertext goes to the transport,
 * and if the transport then is congested the rest waits for its on_writable (the same test
 * arms it: decisions, "Congestion and writable signals must be the same test"). So at most
 * one quantum beyond the mark is ever staged, in warm buffers, and the streams keep the
 * rest in their own queues. */
static void conn_pull(lp2p_conn *c, int may_write)
{
    while (!lp2p_list_empty(&c->sendq) && c->stage == CONN_READY && c->t && !c->staging_full) {
        if (conn_full(c)) {
            if (!may_write || !conn_hand_on(c))
                return;
            continue;
        }
        lp2p_stream *s = lp2p_container_of(c->sendq.next, lp2p_stream, slink);
        lp2p_list_remove(&s->slink);
        s->scheduled = 0;
        lp2p__stream_emit(s);
    }
}

int lp2p__conn_make_room(lp2p_conn *c)
{
    if (c->stage != CONN_READY || !c->t || c->staging_full || !lp2p_list_empty(&c->sendq))
        return 0;
    return !conn_full(c) || (conn_hand_on(c) && c->stage == CONN_READY && c->t);
}

void lp2p__conn_pull(lp2p_conn *c)
{
    if (c->stage == CONN_READY)
        conn_pull(c, 0);
}

void lp2p__conn_flush(lp2p_conn *c)
{
    if (c->stage == CONN_CLOSED || c->stage == CONN_DIALING)
        return;
    if (c->stage == CONN_READY) {
        conn_pull(c, 1);
        if (c->stage != CONN_READY)
            return;
        lp2p_buf *yo = lp2p_yamux_out(c->yamux);
        if (lp2p_buf_size(yo) > 0) {
            int rc = lp2p_noise_encrypt(c->noise, lp2p_buf_head(yo), lp2p_buf_size(yo), &c->wire);
            lp2p_buf_clear(yo);
            if (rc < 0) {
                lp2p__conn_fail(c, rc, "noise encrypt failed");
                return;
            }
        }
    }
    c->sync_batches = 0; /* the loop's I/O comes next: a fresh budget for the next turn */
    if (conn_write(c) < 0 || !c->t)
        return;
    if (lp2p_buf_size(&c->wire) == 0 && c->wire.cap && lp2p_list_empty(&c->sendq) &&
        !c->staging_full)
        lp2p_buf_free(&c->wire); /* nothing more to seal: hold no buffer (a burst keeps it) */
    if (!c->read_paused && lp2p_transport_pending(c->t) > c->t->high_water + CONN_READ_PAUSE) {
        /* Output we cannot hand on grows with what the peer sends and it does not read
         * (e.g. PING replies): stop reading until the transport drains (on_writable). */
        c->read_paused = 1;
        lp2p_transport_pause_read(c->t, 1);
        lp2p_log(LP2P_DEBUG, "read_paused", LF_S("peer", c->peer_str),
                 LF_U("pending", lp2p_transport_pending(c->t)), LF_B("relayed", c->relayed));
    }
}

void lp2p__conn_resume_staged(lp2p_host *h)
{
    while (!lp2p_list_empty(&h->staged)) {
        lp2p_conn *c = lp2p_container_of(h->staged.next, lp2p_conn, staged_link);
        lp2p_list_remove(&c->staged_link);
        c->staging_full = 0;
        lp2p__conn_mark_dirty(c); /* pulled again before the loop sleeps */
    }
}

/* ---- upgrade pipeline ------------------------------------------------------------------- */

static int mss_supports_noise(void *user, const char *proto)
{
    return strcmp(proto, NOISE_PROTO) == 0;
}
static int mss_supports_yamux(void *user, const char *proto)
{
    return strcmp(proto, YAMUX_PROTO) == 0;
}

static int conn_start_noise(lp2p_conn *c)
{
    lp2p_noise_config nc;
    memset(&nc, 0, sizeof(nc));
    nc.identity = c->host->cfg.identity;
    nc.initiator = c->initiator;
    nc.expected_remote = c->has_expected ? &c->expected : NULL;
    nc.muxers = k_muxers;
    nc.nmuxers = 1;
    nc.rng = LP2P_RNG_OPENSSL;
    nc.trace = LP2P_TRACE_LOG;
    lp2p_host *h = c->host;
    /* Made on first use; a failure only means this session signs its own key. */
    if (!h->noise_static.ready)
        (void)lp2p_noise_static_init(&h->noise_static, h->cfg.identity, &nc.rng);
    nc.shared_static = h->noise_static.ready ? &h->noise_static : NULL;
    nc.spare_ephemeral = &h->spare_e;
    if (h->noise_sessions < 2)
        h->noise_sessions++;
    int rc = lp2p_noise_new(&nc, &c->noise);
    if (rc < 0)
        return rc;
    if (c->initiator) {
        rc = lp2p_noise_start(c->noise);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void take_noise_out(lp2p_conn *c)
{
    lp2p_buf *o = lp2p_noise_out(c->noise);
    if (lp2p_buf_size(o)) {
        lp2p_buf_append(&c->wire, lp2p_buf_head(o), lp2p_buf_size(o));
        lp2p_buf_clear(o);
    }
}

static void take_mss_out(lp2p_conn *c, lp2p_buf *dst)
{
    if (lp2p_buf_size(&c->mss.out)) {
        lp2p_buf_append(dst, lp2p_buf_head(&c->mss.out), lp2p_buf_size(&c->mss.out));
        lp2p_buf_clear(&c->mss.out);
    }
}

static int conn_start_yamux(lp2p_conn *c)
{
    lp2p_yamux_config yc;
    lp2p_yamux_config_default(&yc, c->initiator);
    yc.trace = LP2P_TRACE_LOG;
    if (c->host->cfg.max_stream_window)
        yc.max_window = c->host->cfg.max_stream_window;
    if (c->host->cfg.max_streams_per_conn)
        yc.max_streams = c->host->cfg.max_streams_per_conn;
    return lp2p_yamux_new(&yc, &k_ycb, c, &c->yamux);
}

/* Plaintext for the muxer stage: encrypts what multistream produced. */
static int send_plain(lp2p_conn *c, lp2p_buf *plain)
{
    if (!lp2p_buf_size(plain))
        return 0;
    int rc = lp2p_noise_encrypt(c->noise, lp2p_buf_head(plain), lp2p_buf_size(plain), &c->wire);
    lp2p_buf_clear(plain);
    return rc;
}

static void conn_ready(lp2p_conn *c)
{
    c->stage = CONN_READY;
    c->ready_ms = lp2p__now(c->host);
    uv_timer_stop(&c->timer);
    lp2p__host_conn_ready(c->host, c);
    if (c->stage != CONN_READY)
        return;
    if (c->dial_cb) {
        lp2p_dial_cb cb = c->dial_cb;
        c->dial_cb = NULL;
        cb(c, 0, c->dial_ud);
    }
    if (c->stage == CONN_READY)
        lp2p__conn_arm_timer(c);
}

static int conn_after_noise(lp2p_conn *c)
{
    c->peer = *lp2p_noise_remote_peer(c->noise);
    /* A dial by peer ID has its string from lp2p__conn_new, and Noise refused any other
     * peer (base58 is quadratic: ~12k instructions per connection). */
    if (!c->has_expected || !lp2p_peer_id_equal(&c->expected, &c->peer))
        lp2p_peer_id_to_string(&c->peer, c->peer_str, sizeof(c->peer_str));
    const char *mux = lp2p_noise_muxer(c->noise);
    int rc;
    if (mux && strcmp(mux, YAMUX_PROTO) == 0) {
        if ((rc = conn_start_yamux(c)) < 0)
            return rc;
        conn_ready(c);
        return 0;
    }
    /* No early muxer negotiation: multistream inside the secure channel. */
    c->stage = CONN_MSS_MUXER;
    if (c->initiator) {
        lp2p_mss_init_dialer(&c->mss, k_muxers, 1, 0);
    } else {
        lp2p_mss_init_listener(&c->mss, mss_supports_yamux, c);
    }
    c->mss_live = 1;
    lp2p_buf tmp;
    lp2p_buf_init(&tmp);
    take_mss_out(c, &tmp);
    rc = send_plain(c, &tmp);
    lp2p_buf_free(&tmp);
    return rc;
}

/* Bytes from the socket, in whatever pieces TCP delivers them. */
void lp2p__conn_on_bytes(lp2p_conn *c, const uint8_t *p, size_t n)
{
    int rc = 0;
    const char *why = NULL;
    c->bytes_in += n;
    while (n > 0 && c->stage != CONN_CLOSED) {
        size_t used = 0;
        switch (c->stage) {
        case CONN_MSS_SECURITY:
            rc = lp2p_mss_recv(&c->mss, p, n, &used);
            take_mss_out(c, &c->wire);
            if (rc < 0) {
                why = "security negotiation failed";
                goto fail;
            }
            p += used;
            n -= used;
            if (rc == 1) {
                lp2p_mss_free(&c->mss);
                c->mss_live = 0;
                c->stage = CONN_NOISE;
                if (!c->noise && (rc = conn_start_noise(c)) < 0) {
                    why = "noise setup failed";
                    goto fail;
                }
            }
            break;
        case CONN_NOISE:
            rc = lp2p_noise_recv_handshake(c->noise, p, n, &used);
            take_noise_out(c);
            if (rc < 0) {
                why = rc == LP2P_ERR_PEER_ID_MISMATCH ? "remote key does not match dialed peer ID"
                                                      : "noise handshake failed";
                goto fail;
            }
            p += used;
            n -= used;
            if (rc == 1 && (rc = conn_after_noise(c)) < 0) {
                why = "muxer setup failed";
                goto fail;
            }
            break;
        case CONN_MSS_MUXER:
        case CONN_READY:
            rc = lp2p_noise_decrypt(c->noise, p, n, &c->plain);
            n = 0;
            if (rc < 0) {
                why = "noise decrypt failed (bad frame)";
                goto fail;
            }
            conn_on_plain(c);
            break;
        default:
            n = 0;
            break;
        }
    }
    lp2p__conn_mark_dirty(c);
    return;
fail:
    lp2p__conn_flush(c);
    lp2p__conn_fail(c, rc, why);
}

static void conn_on_plain(lp2p_conn *c)
{
    int rc;
    if (c->stage == CONN_MSS_MUXER) {
        size_t used = 0;
        rc = lp2p_mss_recv(&c->mss, lp2p_buf_head(&c->plain), lp2p_buf_size(&c->plain), &used);
        lp2p_buf tmp;
        lp2p_buf_init(&tmp);
        take_mss_out(c, &tmp);
        int rc2 = send_plain(c, &tmp);
        lp2p_buf_free(&tmp);
        if (rc < 0 || rc2 < 0) {
            lp2p__conn_fail(c, rc < 0 ? rc : rc2, "muxer negotiation failed");
            return;
        }
        lp2p_buf_consume(&c->plain, used);
        if (rc != 1)
            return;
        lp2p_mss_free(&c->mss);
        c->mss_live = 0;
        if ((rc = conn_start_yamux(c)) < 0) {
            lp2p__conn_fail(c, rc, "muxer setup failed");
            return;
        }
        conn_ready(c);
        if (c->stage != CONN_READY)
            return;
    }
    if (c->stage != CONN_READY || lp2p_buf_size(&c->plain) == 0)
        return;
    rc = lp2p_yamux_recv(c->yamux, lp2p_buf_head(&c->plain), lp2p_buf_size(&c->plain),
                         lp2p__now(c->host));
    if (c->stage == CONN_CLOSED)
        return;
    lp2p_buf_clear(&c->plain);
    if (rc < 0) {
        lp2p_yamux_goaway(c->yamux, 1);
        lp2p__conn_flush(c);
        lp2p__conn_fail(c, rc, lp2p_strerror(rc));
        return;
    }
    lp2p__conn_arm_timer(c);
}

/* ---- timers ------------------------------------------------------------------------------ */

/* A draining duplicate is checked on the connection's timer (every DRAIN_POLL_MS) rather
 * than from the stream-close path, which belongs to the stream layer. */
#define DRAIN_POLL_MS  50
#define DRAIN_QUIET_MS 200

static void on_timer(uv_timer_t *t)
{
    lp2p_conn *c = t->data;
    uint64_t now = lp2p__now(c->host);
    if (c->stage != CONN_READY) {
        if (now >= c->deadline_handshake)
            lp2p__conn_fail(c, LP2P_ERR_TIMEOUT,
                            c->stage == CONN_DIALING ? "dial timed out" : "handshake timed out");
        return;
    }
    if (c->draining) {
        /* Quiet for DRAIN_QUIET_MS (the peer, running the same rule, opens nothing more
         * here), or out of time: GoAway(normal), then close. */
        if (c->nstreams > 0)
            c->drain_quiet_since = 0;
        else if (!c->drain_quiet_since)
            c->drain_quiet_since = now;
        if ((c->drain_quiet_since && now - c->drain_quiet_since >= DRAIN_QUIET_MS) ||
            now >= c->drain_deadline) {
            lp2p__conn_flush(c);
            if (c->stage != CONN_READY)
                return;
            lp2p_yamux_goaway(c->yamux, 0);
            lp2p__conn_flush(c);
            lp2p__conn_fail(c, LP2P_ERR_EXISTS, "duplicate connection");
            return;
        }
    }
    int rc = lp2p_yamux_tick(c->yamux, now);
    if (rc < 0) {
        lp2p__conn_fail(c, rc,
                        rc == LP2P_ERR_TIMEOUT ? "keepalive ping timed out" : lp2p_strerror(rc));
        return;
    }
    lp2p__conn_mark_dirty(c);
    lp2p__conn_arm_timer(c);
}

void lp2p__conn_retire(lp2p_conn *c, const char *why)
{
    (void)why;
    if (c->stage != CONN_READY || !c->yamux || c->draining) {
        if (!c->draining)
            lp2p__conn_fail(c, LP2P_ERR_EXISTS, "duplicate connection");
        return;
    }
    c->draining = 1;
    c->drain_deadline = lp2p__now(c->host) + HOST_DRAIN_MS;
    /* No GoAway yet: a stream the peer opens before its own duplicate resolution ran (both
     * sides pick the same survivor) must still be accepted, not refused. */
    lp2p__conn_arm_timer(c);
}

void lp2p__conn_arm_timer(lp2p_conn *c)
{
    uint64_t now = lp2p__now(c->host);
    uint64_t dl =
        c->stage == CONN_READY ? lp2p_yamux_next_deadline(c->yamux) : c->deadline_handshake;
    if (c->draining && dl > now + DRAIN_POLL_MS)
        dl = now + DRAIN_POLL_MS;
    if (dl == UINT64_MAX) {
        uv_timer_stop(&c->timer);
        return;
    }
    uv_timer_start(&c->timer, on_timer, dl > now ? dl - now : 0, 0);
}

void lp2p__conn_start(lp2p_conn *c)
{
    c->stage = CONN_MSS_SECURITY;
    c->deadline_handshake = lp2p__now(c->host) + c->host->cfg.handshake_timeout_ms;
    lp2p__conn_arm_timer(c);
    int rc;
    if (c->initiator) {
        /* Lazy multistream (0-RTT): header, proposal and Noise msg1 leave in one write. */
        lp2p_mss_init_dialer(&c->mss, k_noise_list, 1, 1);
        c->mss_live = 1;
        take_mss_out(c, &c->wire);
        if ((rc = conn_start_noise(c)) < 0) {
            lp2p__conn_fail(c, rc, "noise setup failed");
            return;
        }
        take_noise_out(c);
    } else {
        lp2p_mss_init_listener(&c->mss, mss_supports_noise, c);
        c->mss_live = 1;
    }
    lp2p__conn_mark_dirty(c);
}

/* ---- accessors ---------------------------------------------------------------------------- */

const lp2p_peer_id *lp2p_conn_peer(const lp2p_conn *c)
{
    return &c->peer;
}
const char *lp2p_conn_peer_str(const lp2p_conn *c)
{
    return c->peer_str;
}
const char *lp2p_conn_remote_addr(const lp2p_conn *c)
{
    return c->remote_addr;
}
int lp2p_conn_is_relayed(const lp2p_conn *c)
{
    return c->relayed;
}
int lp2p_conn_is_outbound(const lp2p_conn *c)
{
    return c->outbound;
}
lp2p_host *lp2p_conn_host(const lp2p_conn *c)
{
    return c->host;
}
