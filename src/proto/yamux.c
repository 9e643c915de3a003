/* Yamux session and streams, sans-IO. See proto/yamux.h for the API contract and
 * proto/yamux_frame.h for the header codec and its wire diagram. */
#include "proto/yamux.h"

#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "util/list.h"

/* Stream hash: it starts at MIN_BUCKETS inline (an idle connection holds one or two streams,
 * and 1,024 buckets were 8 KiB of every connection) and doubles while there are more live
 * streams than buckets, up to ~1 entry per bucket at the default 1000 streams. */
#define MIN_BUCKETS 8u
#define MAX_BUCKETS 1024u

struct lp2p_yamux_stream {
    lp2p_yamux *y;
    lp2p_yamux_stream *hnext; /* hash chain (only while not finished) */
    lp2p_list link;           /* y->live, then y->zombies once finished */
    void *user;
    uint32_t id;
    uint32_t send_window; /* bytes the peer still accepts from us */
    uint32_t recv_window; /* our current window size (auto-tuned) */
    uint32_t recv_avail;  /* bytes the peer may still send before our next update */
    uint32_t unconsumed;  /* delivered by on_data, not yet reported consumed */
    uint64_t epoch_start; /* time of our previous window update (auto-tuning) */
    unsigned outbound : 1;
    unsigned need_ack : 1; /* inbound: our ACK not yet sent */
    unsigned acked : 1;    /* outbound: the peer's ACK (or RST) arrived */
    unsigned local_fin : 1;
    unsigned remote_fin : 1;
    unsigned reset : 1;
    unsigned finished : 1;
    unsigned want_writable : 1; /* a write was short: tell the app when the window reopens */
};

struct lp2p_yamux {
    lp2p_yamux_config cfg;
    lp2p_yamux_callbacks cb;
    void *user;
    lp2p_buf out;
    lp2p_yamux_stream **buckets; /* small_buckets, or a heap table once grown */
    uint32_t nbuckets;
    lp2p_yamux_stream *small_buckets[MIN_BUCKETS];
    lp2p_list live;
    lp2p_list zombies; /* finished, waiting for on_stream_closed at the outermost return */
    int depth;         /* nesting of public calls (callbacks re-enter) */
    int dead;          /* 0 or the fatal error */
    int started;
    uint64_t now;

    uint32_t next_id;        /* our next outbound stream ID */
    uint32_t max_inbound_id; /* highest ID the peer opened (0 = none) */
    int local_goaway, remote_goaway;

    /* receive state: a header being assembled, or the payload of a Data frame */
    uint8_t hdr[LP2P_YAMUX_HDR_LEN];
    size_t hdr_len;
    int in_payload;
    uint32_t rx_left;
    uint16_t rx_flags;
    lp2p_yamux_stream *rx_stream; /* NULL: payload is dropped */

    uint32_t n_live, n_inbound, n_outbound, pending_accept, ack_backlog;
    uint64_t refused_burst; /* refusals since an inbound stream last finished */
    uint64_t refused_total, bytes_in, bytes_out;
    uint64_t unknown_frames; /* frames without SYN for a stream never opened (dropped) */

    int ping_out;
    uint32_t ping_value;
    uint64_t ping_sent, ping_deadline, next_keepalive, rtt;
};

void lp2p_yamux_config_default(lp2p_yamux_config *c, int is_client)
{
    memset(c, 0, sizeof(*c));
    c->is_client = is_client;
    c->initial_window = LP2P_YAMUX_INITIAL_WINDOW;
    c->max_window = 16u * 1024u * 1024u; /* go-libp2p's MaxStreamWindowSize */
    c->max_streams = 1000;               /* go-yamux MaxIncomingStreams */
    c->accept_backlog = 256;             /* go-yamux AcceptBacklog */
    c->max_ack_backlog = 256;            /* spec SHOULD, rust MAX_ACK_BACKLOG */
    c->keepalive_ms = 30000;             /* go-yamux KeepAliveInterval */
    c->ping_timeout_ms = 10000;          /* go-yamux ConnectionWriteTimeout */
    c->max_frame = LP2P_YAMUX_DEFAULT_MAX_FRAME;
}

/* ---- small helpers ------------------------------------------------------------------ */

static void enter(lp2p_yamux *y)
{
    y->depth++;
}

/* Frees finished streams, each after its on_stream_closed. Runs only at depth 0, so no
 * caller up the stack can still hold a pointer the host did not get from a callback. */
static void reap(lp2p_yamux *y)
{
    y->depth++;
    while (!lp2p_list_empty(&y->zombies)) {
        lp2p_yamux_stream *s = lp2p_container_of(y->zombies.next, lp2p_yamux_stream, link);
        lp2p_list_remove(&s->link);
        if (y->rx_stream == s)
            y->rx_stream = NULL;
        if (y->cb.on_stream_closed)
            y->cb.on_stream_closed(y->user, s);
        free(s);
    }
    y->depth--;
}

static int leave(lp2p_yamux *y, int rc)
{
    if (--y->depth == 0)
        reap(y);
    return rc;
}

static int fatal(lp2p_yamux *y, int err, const char *reason, uint32_t id);

static int emit(lp2p_yamux *y, uint8_t type, uint16_t flags, uint32_t id, uint32_t length,
                const uint8_t *payload, size_t plen)
{
    lp2p_yamux_hdr h = {LP2P_YAMUX_VERSION, type, flags, id, length};
    uint8_t raw[LP2P_YAMUX_HDR_LEN];
    lp2p_yamux_hdr_encode(&h, raw);
    if (lp2p_buf_reserve(&y->out, sizeof(raw) + plen) != 0)
        return LP2P_ERR_NOMEM;
    lp2p_buf_append(&y->out, raw, sizeof(raw));
    lp2p_buf_append(&y->out, payload, plen);
    return 0;
}

static int is_peer_id(const lp2p_yamux *y, uint32_t id)
{
    /* client = odd IDs, so the client's peer uses even ones */
    return (id & 1u) == (y->cfg.is_client ? 0u : 1u);
}

static lp2p_yamux_stream **bucket(lp2p_yamux *y, uint32_t id)
{
    return &y->buckets[(id >> 1) & (y->nbuckets - 1)];
}

/* Doubles the table when the next stream would exceed one per bucket; on allocation failure
 * the chains just get longer. */
static void maybe_grow(lp2p_yamux *y)
{
    if (y->n_live < y->nbuckets || y->nbuckets >= MAX_BUCKETS)
        return;
    uint32_t n = y->nbuckets * 2;
    lp2p_yamux_stream **t = calloc(n, sizeof(*t));
    if (!t)
        return;
    for (uint32_t i = 0; i < y->nbuckets; i++)
        for (lp2p_yamux_stream *s = y->buckets[i], *next; s; s = next) {
            next = s->hnext;
            lp2p_yamux_stream **b = &t[(s->id >> 1) & (n - 1)];
            s->hnext = *b;
            *b = s;
        }
    if (y->buckets != y->small_buckets)
        free(y->buckets);
    y->buckets = t;
    y->nbuckets = n;
}

static lp2p_yamux_stream *lookup(lp2p_yamux *y, uint32_t id)
{
    for (lp2p_yamux_stream *s = *bucket(y, id); s; s = s->hnext)
        if (s->id == id)
            return s;
    return NULL;
}

static void unhash(lp2p_yamux_stream *s)
{
    for (lp2p_yamux_stream **pp = bucket(s->y, s->id); *pp; pp = &(*pp)->hnext)
        if (*pp == s) {
            *pp = s->hnext;
            return;
        }
}

static lp2p_yamux_stream *stream_new(lp2p_yamux *y, uint32_t id, int outbound)
{
    lp2p_yamux_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->y = y;
    s->id = id;
    s->outbound = outbound ? 1 : 0;
    s->send_window = LP2P_YAMUX_INITIAL_WINDOW;
    s->recv_window = y->cfg.initial_window;
    s->recv_avail = LP2P_YAMUX_INITIAL_WINDOW; /* what the peer assumes until we announce */
    s->epoch_start = y->now;
    maybe_grow(y);
    lp2p_yamux_stream **b = bucket(y, id);
    s->hnext = *b;
    *b = s;
    lp2p_list_insert_tail(&y->live, &s->link);
    y->n_live++;
    if (outbound) {
        y->n_outbound++;
        y->ack_backlog++;
    } else {
        y->n_inbound++;
        y->pending_accept++;
        s->need_ack = 1;
    }
    return s;
}

/* Both directions done or reset: unhash now (later frames for the ID are dropped as
 * "recently closed"), free at the outermost return. */
static void finish(lp2p_yamux_stream *s)
{
    lp2p_yamux *y = s->y;
    if (s->finished)
        return;
    s->finished = 1;
    unhash(s);
    y->n_live--;
    if (s->outbound) {
        y->n_outbound--;
        if (!s->acked)
            y->ack_backlog--;
        s->acked = 1;
    } else {
        y->n_inbound--;
        y->refused_burst = 0; /* the peer lets streams end: not a flood */
        if (s->need_ack)
            y->pending_accept--;
        s->need_ack = 0;
    }
    lp2p_list_remove(&s->link);
    lp2p_list_insert_tail(&y->zombies, &s->link);
}

/* Flags our next frame on s must carry: ACK on the first frame of an inbound stream. */
static uint16_t take_flags(lp2p_yamux_stream *s)
{
    if (!s->need_ack)
        return 0;
    s->need_ack = 0;
    s->y->pending_accept--;
    return LP2P_YAMUX_ACK;
}

/* Sends a WindowUpdate when due: it carries flags (ACK/FIN), or at least half of the
 * window is free again. Auto-tuning as go-yamux stream.go: an update due less than 4 RTT
 * after the previous one means the window limits throughput, so it doubles (up to
 * max_window). Invariant: recv_avail + unconsumed <= recv_window. */
static int send_window_update(lp2p_yamux_stream *s, uint16_t extra)
{
    lp2p_yamux *y = s->y;
    uint16_t flags = (uint16_t)(take_flags(s) | extra);
    uint32_t delta = 0;
    if (!s->remote_fin && !s->reset) {
        uint64_t used = (uint64_t)s->recv_avail + s->unconsumed;
        delta = used < s->recv_window ? (uint32_t)(s->recv_window - used) : 0;
        if (!flags && delta < s->recv_window / 2)
            return 0;
        uint32_t grow = 0;
        if (!flags && y->rtt > 0 && y->now - s->epoch_start < 4 * y->rtt &&
            s->recv_window < y->cfg.max_window) {
            uint64_t grown = (uint64_t)s->recv_window * 2;
            if (grown > y->cfg.max_window)
                grown = y->cfg.max_window;
            grow = (uint32_t)grown - s->recv_window;
        }
        if (y->cb.on_window && delta + grow > 0) {
            /* The budget may cut the grant: then no growth, and a cut refill is withheld
             * whole unless it is worth a frame (the window shrinks meanwhile). */
            uint32_t ok = y->cb.on_window(y->user, s, delta + grow, grow);
            if (ok < delta + grow) {
                grow = 0;
                if (ok < delta && ok < LP2P_YAMUX_MIN_GRANT)
                    ok = 0;
                if (ok < delta)
                    delta = ok;
                if (!flags && delta == 0)
                    return 0;
            }
        }
        delta += grow;
        s->recv_window += grow;
        if (!flags || delta)
            s->epoch_start = y->now;
        s->recv_avail += delta;
    } else if (!flags) {
        return 0;
    }
    int rc = emit(y, LP2P_YAMUX_WINDOW, flags, s->id, delta, NULL, 0);
    return rc ? fatal(y, rc, "out of memory", s->id) : 0;
}

static int fatal(lp2p_yamux *y, int err, const char *reason, uint32_t id)
{
    if (y->dead)
        return y->dead;
    y->dead = err;
    lp2p_emit(&y->cfg.trace, LP2P_WARN, "yamux_fatal", LF_S("reason", reason), LF_U("stream", id),
              LF_S("error", lp2p_err_name(err)));
    /* Tell the peer why (spec GoAway codes); a dead peer (timeout) gets nothing. */
    if (err == LP2P_ERR_PROTO || err == LP2P_ERR_FLOW_CONTROL || err == LP2P_ERR_FLOOD)
        emit(y, LP2P_YAMUX_GOAWAY, 0, 0, LP2P_YAMUX_GOAWAY_PROTOCOL, NULL, 0);
    else if (err == LP2P_ERR_NOMEM)
        emit(y, LP2P_YAMUX_GOAWAY, 0, 0, LP2P_YAMUX_GOAWAY_INTERNAL, NULL, 0);
    return err;
}

static int send_ping(lp2p_yamux *y)
{
    y->ping_value++;
    int rc = emit(y, LP2P_YAMUX_PING, LP2P_YAMUX_SYN, 0, y->ping_value, NULL, 0);
    if (rc)
        return fatal(y, rc, "out of memory", 0);
    y->ping_out = 1;
    y->ping_sent = y->now;
    y->ping_deadline = y->now + y->cfg.ping_timeout_ms;
    y->next_keepalive = y->now + y->cfg.keepalive_ms;
    return 0;
}

/* The first call that brings a time measures the RTT (as go-yamux does at session start):
 * until then windows cannot auto-tune. */
static int start(lp2p_yamux *y, uint64_t now_ms)
{
    if (now_ms > y->now)
        y->now = now_ms;
    if (y->started)
        return 0;
    y->started = 1;
    return send_ping(y);
}

/* ---- session ------------------------------------------------------------------------ */

int lp2p_yamux_new(const lp2p_yamux_config *cfg, const lp2p_yamux_callbacks *cb, void *user,
                   lp2p_yamux **out)
{
    if (!cfg || !out || cfg->initial_window < LP2P_YAMUX_INITIAL_WINDOW ||
        cfg->max_window < cfg->initial_window || cfg->max_window > LP2P_YAMUX_MAX_WINDOW_LIMIT ||
        cfg->max_streams == 0 || cfg->max_frame == 0 || cfg->ping_timeout_ms == 0)
        return LP2P_ERR_INVAL;
    lp2p_yamux *y = calloc(1, sizeof(*y));
    if (!y)
        return LP2P_ERR_NOMEM;
    y->cfg = *cfg;
    if (cb)
        y->cb = *cb;
    y->user = user;
    lp2p_buf_init(&y->out);
    y->buckets = y->small_buckets;
    y->nbuckets = MIN_BUCKETS;
    lp2p_list_init(&y->live);
    lp2p_list_init(&y->zombies);
    y->next_id = cfg->is_client ? 1 : 2;
    *out = y;
    return 0;
}

void lp2p_yamux_del(lp2p_yamux *y)
{
    if (!y)
        return;
    if (!y->dead)
        y->dead = LP2P_ERR_CLOSED;
    lp2p_list *pos, *tmp;
    lp2p_list_foreach_safe(pos, tmp, &y->live)
    {
        lp2p_yamux_stream *s = lp2p_container_of(pos, lp2p_yamux_stream, link);
        s->finished = 1;
        lp2p_list_remove(&s->link);
        lp2p_list_insert_tail(&y->zombies, &s->link);
    }
    y->depth = 0;
    reap(y);
    lp2p_buf_free(&y->out);
    if (y->buckets != y->small_buckets)
        free(y->buckets);
    free(y);
}

lp2p_buf *lp2p_yamux_out(lp2p_yamux *y)
{
    return &y->out;
}

int lp2p_yamux_error(const lp2p_yamux *y)
{
    return y->dead;
}

void lp2p_yamux_stats_get(const lp2p_yamux *y, lp2p_yamux_stats *st)
{
    st->streams_open = y->n_live;
    st->streams_inbound = y->n_inbound;
    st->pending_accept = y->pending_accept;
    st->ack_backlog = y->ack_backlog;
    st->bytes_in = y->bytes_in;
    st->bytes_out = y->bytes_out;
    st->streams_refused = y->refused_total;
    st->frames_unknown_stream = y->unknown_frames;
    st->rtt_ms = y->rtt;
}

uint64_t lp2p_yamux_next_deadline(const lp2p_yamux *y)
{
    if (y->dead)
        return UINT64_MAX;
    if (!y->started)
        return 0;
    if (y->ping_out)
        return y->ping_deadline;
    if (y->cfg.keepalive_ms)
        return y->next_keepalive;
    return UINT64_MAX;
}

int lp2p_yamux_tick(lp2p_yamux *y, uint64_t now_ms)
{
    if (y->dead)
        return y->dead;
    if (y->depth)
        return LP2P_ERR_STATE;
    enter(y);
    int rc = start(y, now_ms);
    if (!rc && y->ping_out && y->now >= y->ping_deadline)
        rc = fatal(y, LP2P_ERR_TIMEOUT, "ping timeout", 0);
    else if (!rc && !y->ping_out && y->cfg.keepalive_ms && y->now >= y->next_keepalive)
        rc = send_ping(y);
    return leave(y, rc);
}

int lp2p_yamux_ping(lp2p_yamux *y, uint64_t now_ms)
{
    if (y->dead)
        return y->dead;
    enter(y);
    int was_started = y->started;
    int rc = start(y, now_ms);
    if (!rc && was_started)
        rc = y->ping_out ? LP2P_ERR_AGAIN : send_ping(y);
    return leave(y, rc);
}

int lp2p_yamux_goaway(lp2p_yamux *y, uint32_t code)
{
    if (y->dead)
        return y->dead;
    if (y->local_goaway)
        return 0;
    y->local_goaway = 1;
    int rc = emit(y, LP2P_YAMUX_GOAWAY, 0, 0, code, NULL, 0);
    return rc ? fatal(y, rc, "out of memory", 0) : 0;
}

/* ---- receiving ---------------------------------------------------------------------- */

/* A peer SYN passed the ID checks: create the stream, or refuse it with RST when we sent
 * GoAway or a limit is reached. Refusing is not fatal, but a peer that keeps opening past
 * twice the limit without letting any stream end is flooding us. */
static int accept_inbound(lp2p_yamux *y, uint32_t id, lp2p_yamux_stream **out)
{
    *out = NULL;
    if (y->local_goaway || y->n_inbound >= y->cfg.max_streams ||
        y->pending_accept >= y->cfg.accept_backlog ||
        (y->cb.on_admit && !y->cb.on_admit(y->user))) {
        y->refused_total++;
        if (++y->refused_burst > y->cfg.max_streams)
            return fatal(y, LP2P_ERR_FLOOD, "stream flood", id);
        lp2p_emit(&y->cfg.trace, LP2P_DEBUG, "yamux_refuse_stream", LF_U("stream", id),
                  LF_U("inbound", y->n_inbound), LF_U("pending", y->pending_accept));
        int rc = emit(y, LP2P_YAMUX_WINDOW, LP2P_YAMUX_RST, id, 0, NULL, 0);
        return rc ? fatal(y, rc, "out of memory", id) : 0;
    }
    lp2p_yamux_stream *s = stream_new(y, id, 0);
    if (!s)
        return fatal(y, LP2P_ERR_NOMEM, "out of memory", id);
    *out = s;
    if (y->cb.on_stream)
        y->cb.on_stream(y->user, s);
    return 0;
}

/* FIN/RST take effect after the frame's payload. */
static void apply_close_flags(lp2p_yamux *y, lp2p_yamux_stream *s, uint16_t flags)
{
    if (!s || s->finished)
        return;
    if (flags & LP2P_YAMUX_RST) {
        s->reset = 1;
        if (y->cb.on_reset)
            y->cb.on_reset(y->user, s);
        finish(s);
        return;
    }
    if ((flags & LP2P_YAMUX_FIN) && !s->remote_fin) {
        s->remote_fin = 1;
        if (y->cb.on_fin)
            y->cb.on_fin(y->user, s);
        if (s->local_fin && !s->finished)
            finish(s);
    }
}

static int on_header(lp2p_yamux *y)
{
    lp2p_yamux_hdr h;
    int rc = lp2p_yamux_hdr_decode(y->hdr, &h);
    if (rc)
        return fatal(y, rc, h.version ? "bad version" : "unknown frame type", h.stream_id);

    if (h.type == LP2P_YAMUX_PING) {
        if (h.flags & LP2P_YAMUX_SYN) {
            rc = emit(y, LP2P_YAMUX_PING, LP2P_YAMUX_ACK, 0, h.length, NULL, 0);
            return rc ? fatal(y, rc, "out of memory", 0) : 0;
        }
        if ((h.flags & LP2P_YAMUX_ACK) && y->ping_out && h.length == y->ping_value) {
            y->ping_out = 0;
            y->rtt = y->now > y->ping_sent ? y->now - y->ping_sent : 1;
            if (y->cb.on_rtt)
                y->cb.on_rtt(y->user, y->rtt);
        }
        return 0; /* a stale or unsolicited ACK is ignored, as go does */
    }
    if (h.type == LP2P_YAMUX_GOAWAY) {
        y->remote_goaway = 1;
        lp2p_emit(&y->cfg.trace, LP2P_INFO, "yamux_goaway_received", LF_U("code", h.length));
        if (y->cb.on_goaway)
            y->cb.on_goaway(y->user, h.length);
        return 0;
    }

    /* Data or WindowUpdate */
    if (h.stream_id == 0)
        return fatal(y, LP2P_ERR_PROTO, "stream frame on session id 0", 0);
    lp2p_yamux_stream *s = lookup(y, h.stream_id);
    if (h.flags & LP2P_YAMUX_SYN) {
        if (s)
            return fatal(y, LP2P_ERR_PROTO, "SYN reuses a live stream id", h.stream_id);
        if (!is_peer_id(y, h.stream_id))
            return fatal(y, LP2P_ERR_PROTO, "SYN with wrong stream id parity", h.stream_id);
        /* IDs below the highest seen are accepted too: go-yamux may send two SYNs out of
         * order when streams are opened concurrently. */
        if (h.stream_id > y->max_inbound_id)
            y->max_inbound_id = h.stream_id;
        rc = accept_inbound(y, h.stream_id, &s);
        if (rc)
            return rc;
    } else if (!s) {
        int never = is_peer_id(y, h.stream_id) ? h.stream_id > y->max_inbound_id
                                               : h.stream_id >= y->next_id;
        /* Never opened: go-yamux and rust-yamux drop it (rust-yamux sends FIN/RST without
         * SYN for a stream it never wrote on), so do we. Reading the frame is all it costs
         * (payload skipped below, at most max_window per frame); reported once. Recently
         * closed or refused: the peer may not know yet; drop quietly. */
        if (never && y->unknown_frames++ == 0)
            lp2p_emit(&y->cfg.trace, LP2P_INFO, "yamux_unknown_stream", LF_U("stream", h.stream_id),
                      LF_U("type", h.type), LF_U("flags", h.flags));
    }
    if (s && !s->finished && (h.flags & LP2P_YAMUX_ACK) && s->outbound && !s->acked) {
        s->acked = 1;
        y->ack_backlog--;
    }

    if (h.type == LP2P_YAMUX_WINDOW) {
        if (s && !s->finished && h.length) {
            uint64_t w = (uint64_t)s->send_window + h.length;
            if (w > UINT32_MAX)
                return fatal(y, LP2P_ERR_FLOW_CONTROL, "send window overflow", s->id);
            s->send_window = (uint32_t)w;
            if (s->want_writable && !s->local_fin) {
                s->want_writable = 0;
                if (y->cb.on_writable)
                    y->cb.on_writable(y->user, s);
            }
        }
        apply_close_flags(y, s, h.flags);
        return 0;
    }

    /* Data: only payload counts against the window. No window we ever grant exceeds
     * max_window, so a larger frame is a violation even on a stream we dropped (and we
     * refuse to skip gigabytes of it quietly). */
    if (h.length > y->cfg.max_window)
        return fatal(y, LP2P_ERR_FLOW_CONTROL, "data frame larger than any window", h.stream_id);
    if (s && !s->finished) {
        if (h.length > s->recv_avail)
            return fatal(y, LP2P_ERR_FLOW_CONTROL, "data beyond receive window", s->id);
        s->recv_avail -= h.length;
    }
    y->rx_stream = s;
    y->rx_flags = h.flags;
    y->rx_left = h.length;
    if (h.length == 0) {
        y->rx_stream = NULL;
        apply_close_flags(y, s, h.flags);
    } else {
        y->in_payload = 1;
    }
    return 0;
}

int lp2p_yamux_recv(lp2p_yamux *y, const uint8_t *in, size_t len, uint64_t now_ms)
{
    if (y->dead)
        return y->dead;
    if (y->depth)
        return LP2P_ERR_STATE; /* from inside a callback: the parser is mid-frame */
    enter(y);
    int rc = start(y, now_ms);
    /* Anything from the peer proves it alive: our pong may be queued behind its data
     * (go-yamux extends its keepalive on every frame for the same reason). */
    if (len && y->ping_out)
        y->ping_deadline = y->now + y->cfg.ping_timeout_ms;
    while (len && !rc) {
        if (!y->in_payload) {
            size_t take = LP2P_YAMUX_HDR_LEN - y->hdr_len;
            if (take > len)
                take = len;
            memcpy(y->hdr + y->hdr_len, in, take);
            y->hdr_len += take;
            in += take;
            len -= take;
            if (y->hdr_len == LP2P_YAMUX_HDR_LEN) {
                y->hdr_len = 0;
                rc = on_header(y);
            }
            continue;
        }
        size_t n = len < y->rx_left ? len : y->rx_left;
        lp2p_yamux_stream *s = y->rx_stream;
        /* Data after the peer's FIN, or for a stream reset meanwhile, is dropped. */
        if (s && !s->finished && !s->remote_fin) {
            s->unconsumed += (uint32_t)n;
            y->bytes_in += n;
            if (y->cb.on_data)
                y->cb.on_data(y->user, s, in, n);
        }
        in += n;
        len -= n;
        y->rx_left -= (uint32_t)n;
        if (y->rx_left == 0) {
            y->in_payload = 0;
            y->rx_stream = NULL;
            apply_close_flags(y, s, y->rx_flags);
        }
        rc = y->dead;
    }
    if (!rc)
        rc = y->dead;
    return leave(y, rc);
}

/* ---- streams ------------------------------------------------------------------------ */

int lp2p_yamux_open(lp2p_yamux *y, lp2p_yamux_stream **out)
{
    if (y->dead)
        return y->dead;
    if (y->local_goaway || y->remote_goaway)
        return LP2P_ERR_CLOSED;
    if (y->ack_backlog >= y->cfg.max_ack_backlog || y->n_outbound >= y->cfg.max_streams)
        return LP2P_ERR_LIMIT;
    if (y->next_id > UINT32_MAX - 2)
        return LP2P_ERR_LIMIT; /* IDs exhausted: the host opens a new connection */
    enter(y);
    lp2p_yamux_stream *s = stream_new(y, y->next_id, 1);
    if (!s)
        return leave(y, LP2P_ERR_NOMEM);
    y->next_id += 2;
    s->recv_avail = y->cfg.initial_window;
    /* SYN rides on a WindowUpdate announcing the window beyond the spec's 256 KiB */
    int rc = emit(y, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN, s->id,
                  y->cfg.initial_window - LP2P_YAMUX_INITIAL_WINDOW, NULL, 0);
    if (rc) {
        finish(s);
        return leave(y, fatal(y, rc, "out of memory", s->id));
    }
    *out = s;
    return leave(y, 0);
}

int lp2p_yamux_stream_accept(lp2p_yamux_stream *s)
{
    lp2p_yamux *y = s->y;
    if (y->dead)
        return y->dead;
    if (s->finished)
        return s->reset ? LP2P_ERR_RESET : LP2P_ERR_CLOSED;
    if (!s->need_ack)
        return 0;
    enter(y);
    return leave(y, send_window_update(s, 0));
}

long lp2p_yamux_stream_frame(lp2p_yamux_stream *s, size_t len, uint8_t hdr[LP2P_YAMUX_HDR_LEN])
{
    lp2p_yamux *y = s->y;
    if (y->dead)
        return y->dead;
    if (s->reset)
        return LP2P_ERR_RESET;
    if (s->local_fin || s->finished)
        return LP2P_ERR_CLOSED;
    enter(y);
    /* An inbound stream's ACK goes into out ahead of the Data frame: the caller seals out
     * before the frame. */
    if (s->need_ack) {
        int rc = send_window_update(s, 0);
        if (rc)
            return leave(y, rc);
    }
    size_t n = len < s->send_window ? len : s->send_window;
    if (n > y->cfg.max_frame)
        n = y->cfg.max_frame;
    if (n > 0) {
        lp2p_yamux_hdr h = {LP2P_YAMUX_VERSION, LP2P_YAMUX_DATA, 0, s->id, (uint32_t)n};
        lp2p_yamux_hdr_encode(&h, hdr);
        s->send_window -= (uint32_t)n;
        y->bytes_out += n;
    }
    if (n < len && s->send_window == 0)
        s->want_writable = 1;
    leave(y, 0);
    return (long)n;
}

long lp2p_yamux_stream_write(lp2p_yamux_stream *s, const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        uint8_t hdr[LP2P_YAMUX_HDR_LEN];
        long n = lp2p_yamux_stream_frame(s, len - off, hdr);
        if (n <= 0)
            return n < 0 ? n : (long)off;
        lp2p_yamux *y = s->y;
        if (lp2p_buf_reserve(&y->out, sizeof(hdr) + (size_t)n) != 0) {
            enter(y);
            return leave(y, fatal(y, LP2P_ERR_NOMEM, "out of memory", s->id));
        }
        lp2p_buf_append(&y->out, hdr, sizeof(hdr));
        lp2p_buf_append(&y->out, p + off, (size_t)n);
        off += (size_t)n;
    }
    return (long)off;
}

int lp2p_yamux_stream_close(lp2p_yamux_stream *s)
{
    lp2p_yamux *y = s->y;
    if (y->dead)
        return y->dead;
    if (s->reset)
        return LP2P_ERR_RESET;
    if (s->local_fin || s->finished)
        return 0;
    enter(y);
    s->local_fin = 1;
    s->want_writable = 0;
    int rc = send_window_update(s, LP2P_YAMUX_FIN);
    if (!rc && s->remote_fin)
        finish(s);
    return leave(y, rc);
}

int lp2p_yamux_stream_reset(lp2p_yamux_stream *s)
{
    lp2p_yamux *y = s->y;
    if (s->finished)
        return 0;
    enter(y);
    int rc = 0;
    if (!y->dead) {
        take_flags(s);
        rc = emit(y, LP2P_YAMUX_WINDOW, LP2P_YAMUX_RST, s->id, 0, NULL, 0);
        if (rc)
            rc = fatal(y, rc, "out of memory", s->id);
    }
    s->reset = 1;
    finish(s);
    return leave(y, rc);
}

void lp2p_yamux_stream_consumed(lp2p_yamux_stream *s, size_t n)
{
    lp2p_yamux *y = s->y;
    if (n > s->unconsumed)
        n = s->unconsumed;
    s->unconsumed -= (uint32_t)n;
    if (y->dead || s->finished)
        return;
    enter(y);
    leave(y, send_window_update(s, 0));
}

uint32_t lp2p_yamux_stream_id(const lp2p_yamux_stream *s)
{
    return s->id;
}

void lp2p_yamux_stream_set_user(lp2p_yamux_stream *s, void *user)
{
    s->user = user;
}

void *lp2p_yamux_stream_user(const lp2p_yamux_stream *s)
{
    return s->user;
}

int lp2p_yamux_stream_is_outbound(const lp2p_yamux_stream *s)
{
    return s->outbound;
}

uint32_t lp2p_yamux_stream_recv_window(const lp2p_yamux_stream *s)
{
    return s->recv_window;
}

uint32_t lp2p_yamux_stream_send_window(const lp2p_yamux_stream *s)
{
    return s->send_window;
}

uint32_t lp2p_yamux_stream_unconsumed(const lp2p_yamux_stream *s)
{
    return s->unconsumed;
}

uint32_t lp2p_yamux_stream_recv_credit(const lp2p_yamux_stream *s)
{
    return s->remote_fin || s->reset || s->finished ? 0 : s->recv_avail;
}
