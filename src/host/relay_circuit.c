/* Circuit Relay v2 hop service: see lp2p_relay_server.h. One `circ` per inbound hop stream; a
 * CONNECT adds the stop stream to the target and, once the target answers OK, the circ splices.
 *
 *   hop stream in ─► WAIT_MSG ─RESERVE/refusal─► REPLIED (reply written, write side closed)
 *                        │
 *                        └─CONNECT accepted─► WAIT_STOP ─stop STATUS OK─► LIVE (splice)
 *                                                  └─refused/failed/timeout─► DONE
 *
 * Lifetime: a circ is freed when both of its streams have closed (their on_close came) and
 * no callback of it is on the stack (`busy`): resetting one stream may close the other
 * synchronously, so every entry point holds a reference while it works. */
#include "host/relay_server_internal.h"
#include "lp2p/err.h"
#include "net/wall_clock.h"
#include "util/log.h"
#include "wire/multiaddr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- circ lifetime --------------------------------------------------------------------- */

void relay_circ_finish(circ *c)
{
    lp2p_relay_server *r = c->svc;
    if (c->in_core)
        lp2p_relay_circuit_close(r->core, c->id);
    if (c->was_live) {
        r->st.circuits_active--;
        lp2p_log(LP2P_INFO, "circuit_closed", LF_S("src", c->src), LF_S("dst", c->dst),
                 LF_U("bytes_src_to_dst", c->bytes[SRC]), LF_U("bytes_dst_to_src", c->bytes[DST]),
                 LF_S("reason", c->reason ? c->reason : "closed"));
    }
    lp2p_list_remove(&c->link);
    lp2p_lpm_free(&c->lpm[SRC]);
    lp2p_lpm_free(&c->lpm[DST]);
    lp2p_buf_free(&c->early);
    free(c);
}

void relay_circ_ref(circ *c)
{
    c->busy++;
}

void relay_circ_unref(circ *c)
{
    if (--c->busy == 0 && !c->s[SRC] && !c->s[DST])
        relay_circ_finish(c);
}

/* Resets both streams (on limits, errors, a side that went away uncleanly). The caller
 * holds a reference, so the circ outlives the synchronous on_close callbacks. */
void relay_circ_abort(circ *c, const char *reason)
{
    if (c->aborting)
        return;
    c->aborting = 1;
    if (!c->reason)
        c->reason = reason;
    if (c->s[DST])
        lp2p_stream_reset(c->s[DST]);
    if (c->s[SRC])
        lp2p_stream_reset(c->s[SRC]);
}

int relay_write_buf(lp2p_stream *s, lp2p_buf *b)
{
    int rc = s ? lp2p_stream_write(s, lp2p_buf_head(b), lp2p_buf_size(b)) : LP2P_ERR_CLOSED;
    lp2p_buf_clear(b);
    return rc;
}

/* After the last reply on the hop stream (a refusal, a reservation, CONNECTION_FAILED): the
 * client should close; one that does not is reset after the stream timeout. */

void relay_circ_linger(circ *c, enum circ_state st)
{
    c->state = st;
    c->deadline_ms = uv_now(c->svc->loop) + c->svc->cfg.stream_timeout_ms;
    relay_server_rearm(c->svc);
}

/* ---- the splice -------------------------------------------------------------------------- */

/* Forwards bytes read from side `from` to the other side, through the core's accounting. */
static void forward(circ *c, int from, const uint8_t *p, size_t n)
{
    lp2p_relay_server *r = c->svc;
    lp2p_stream *to = c->s[!from];
    if (n == 0)
        return;
    if (!to) {
        relay_circ_abort(c, "peer stream gone");
        return;
    }
    size_t allowed = 0;
    int rc = lp2p_relay_circuit_data(r->core, c->id, from, n, &allowed);
    if (rc == LP2P_ERR_NOT_FOUND) {
        relay_circ_abort(c, "circuit gone");
        return;
    }
    if (allowed > 0 && lp2p_stream_write(to, p, allowed) < 0) {
        relay_circ_abort(c, "write failed");
        return;
    }
    c->bytes[from] += allowed;
    r->st.bytes_relayed[from] += allowed;
    if (rc == LP2P_ERR_LIMIT) {
        lp2p_log(LP2P_INFO, "circuit_limit", LF_S("src", c->src), LF_S("dst", c->dst),
                 LF_S("reason", "data"),
                 LF_S("direction", from == SRC ? "src_to_dst" : "dst_to_src"),
                 LF_U("bytes", c->bytes[from]), LF_U("limit", r->cfg.limits.circuit_data));
        r->st.circuits_limited_total[0]++;
        relay_circ_abort(c, "data limit");
        return;
    }
    /* Backpressure: while the destination holds a high-water mark of output, the source's
     * window is not granted back; the destination's on_writable resumes it. */
    size_t pend = lp2p_stream_pending(to);
    if (pend >= LP2P_STREAM_HIGH_WATER && !c->paused[from] && c->s[from]) {
        c->paused[from] = 1;
        lp2p_stream_pause_read(c->s[from], 1);
    }
    /* What the source had in flight when paused still arrives; bound it anyway. */
    if (pend > r->cfg.max_buffered) {
        lp2p_log(LP2P_WARN, "circuit_overflow", LF_S("src", c->src), LF_S("dst", c->dst),
                 LF_U("pending", lp2p_stream_pending(c->s[!from])));
        relay_circ_abort(c, "receiver too slow");
    }
}

static void go_live(circ *c, const uint8_t *rest, size_t nrest)
{
    lp2p_relay_server *r = c->svc;
    c->state = C_LIVE;
    c->was_live = 1;
    r->st.circuits_active++;
    r->st.circuits_total++;
    lp2p_log(LP2P_INFO, "circuit_open", LF_S("src", c->src), LF_S("dst", c->dst),
             LF_U("circuit", c->id));
    if (lp2p_buf_size(&c->early)) {
        lp2p_buf early = c->early;
        lp2p_buf_init(&c->early);
        forward(c, SRC, lp2p_buf_head(&early), lp2p_buf_size(&early));
        lp2p_buf_free(&early);
    }
    if (!c->aborting && nrest)
        forward(c, DST, rest, nrest);
    if (!c->aborting && c->eof[SRC] && c->s[DST])
        lp2p_stream_close(c->s[DST]);
    if (!c->aborting && c->eof[DST] && c->s[SRC])
        lp2p_stream_close(c->s[SRC]);
}

/* ---- stop side ----------------------------------------------------------------------------- */

/* The core dropped the circuit and wrote CONNECTION_FAILED for the source into out (or
 * failed to: have_reply 0): the source hears it and closes, the target is reset. */
static void circuit_failed(circ *c, const char *why, lp2p_buf *out, int have_reply)
{
    lp2p_relay_server *r = c->svc;
    c->in_core = 0;
    relay_circ_linger(c, C_DONE);
    lp2p_log(LP2P_INFO, "circuit_failed", LF_S("src", c->src), LF_S("dst", c->dst),
             LF_S("reason", why));
    r->st.circuits_refused_total[relay_refusal_index(LP2P_RELAY_STATUS_CONNECTION_FAILED)]++;
    if (have_reply && relay_write_buf(c->s[SRC], out) == 0)
        lp2p_stream_close(c->s[SRC]);
    else if (c->s[SRC])
        lp2p_stream_reset(c->s[SRC]);
    lp2p_buf_free(out);
    if (c->s[DST])
        lp2p_stream_reset(c->s[DST]);
}

/* The stop stream could not be opened or went away before answering. */
static void stop_failed(circ *c, const char *why)
{
    lp2p_buf out;
    lp2p_buf_init(&out);
    int rc = lp2p_relay_on_stop_failed(c->svc->core, c->id, &out);
    circuit_failed(c, why, &out, rc == 0);
}

static void stop_bytes(circ *c, const uint8_t *p, size_t n)
{
    lp2p_relay_server *r = c->svc;
    size_t used = 0;
    lp2p_view msg;
    int rc = lp2p_lpm_read(&c->lpm[DST], p, n, &used, &msg);
    if (rc == 0)
        return;
    if (rc < 0) {
        stop_failed(c, rc == LP2P_ERR_TOO_LARGE ? "stop reply over 4 KiB" : "bad stop framing");
        return;
    }
    lp2p_buf out;
    lp2p_buf_init(&out);
    rc = lp2p_relay_on_stop_reply(r->core, c->id, msg.ptr, msg.len, relay_server_now(r), &out);
    if (rc == 0) {
        if (relay_write_buf(c->s[SRC], &out) < 0) {
            lp2p_buf_free(&out);
            relay_circ_abort(c, "source gone");
            return;
        }
        lp2p_buf_free(&out);
        go_live(c, p + used, n - used);
        relay_server_rearm(r);
        return;
    }
    /* Refused or undecodable: the core dropped the circuit and wrote CONNECTION_FAILED. */
    circuit_failed(c, rc == LP2P_ERR_REFUSED ? "target refused" : "bad stop reply", &out,
                   lp2p_buf_size(&out) > 0);
}

static const lp2p_stream_callbacks k_side_cb[2];

static void open_stop(circ *c, const lp2p_relay_result *res, lp2p_buf *stop_out)
{
    lp2p_relay_server *r = c->svc;
    lp2p_conn *tc = lp2p_host_find_conn(r->host, &res->target);
    if (!tc) {
        stop_failed(c, "no connection to the target");
        return;
    }
    lp2p_stream *s = NULL;
    int rc = lp2p_conn_open_stream(tc, LP2P_RELAY_STOP_PROTO, &k_side_cb[DST], c, &s);
    if (rc < 0) {
        stop_failed(c, lp2p_strerror(rc));
        return;
    }
    c->s[DST] = s;
    if (relay_write_buf(s, stop_out) < 0)
        stop_failed(c, "could not write stop CONNECT");
}

/* ---- hop side ------------------------------------------------------------------------------ */

static void fill_src(circ *c, lp2p_relay_src *src)
{
    memset(src, 0, sizeof(*src));
    lp2p_conn *conn = lp2p_stream_conn(c->s[SRC]);
    src->peer = *lp2p_conn_peer(conn);
    src->conn_id = (uint64_t)(uintptr_t)conn; /* unique while the connection lives */
    src->relayed = lp2p_conn_is_relayed(conn);
    lp2p_multiaddr ma = {0};
    const char *addr = lp2p_conn_remote_addr(conn);
    if (addr && lp2p_multiaddr_parse(&ma, addr, NULL, 0) == 0) {
        lp2p_ma_iter it;
        lp2p_ma_component comp;
        lp2p_ma_iter_init(&it, &ma);
        if (lp2p_ma_iter_next(&it, &comp) == 1 && ((comp.code == LP2P_MA_IP4 && comp.len == 4) ||
                                                   (comp.code == LP2P_MA_IP6 && comp.len == 16))) {
            memcpy(src->ip, comp.value, comp.len);
            src->ip_len = (uint8_t)comp.len;
            inet_ntop(comp.len == 4 ? AF_INET : AF_INET6, comp.value, c->ip, sizeof(c->ip));
        }
    }
    lp2p_multiaddr_free(&ma);
}

/* The target named in a hop CONNECT, for the log of a refusal (the core does not return it). */
static void connect_target(const lp2p_view *msg, char *out, size_t outlen)
{
    lp2p_relay_msg m;
    lp2p_peer_id id;
    if (lp2p_relay_msg_decode(LP2P_RELAY_HOP, msg->ptr, msg->len, &m) < 0)
        return;
    if (m.type == LP2P_RELAY_CONNECT && m.has_peer &&
        lp2p_peer_id_from_bytes(m.peer_id.ptr, m.peer_id.len, &id) == 0)
        lp2p_peer_id_to_string(&id, out, outlen);
    lp2p_relay_msg_free(&m);
}

static void hop_request(circ *c, const lp2p_view *msg, const uint8_t *rest, size_t nrest)
{
    lp2p_relay_server *r = c->svc;
    lp2p_relay_src src;
    fill_src(c, &src);
    lp2p_buf hop_out, stop_out;
    lp2p_buf_init(&hop_out);
    lp2p_buf_init(&stop_out);
    lp2p_relay_result res;
    uint64_t unix_s = lp2p_wall_ms() / 1000;
    int rc = lp2p_relay_on_hop(r->core, &src, msg->ptr, msg->len, relay_server_now(r), unix_s,
                               &hop_out, &stop_out, &res);
    c->deadline_ms = 0;
    if (rc < 0) {
        lp2p_log(LP2P_WARN, "hop_failed", LF_S("peer", c->src), LF_S("reason", lp2p_strerror(rc)));
        relay_circ_abort(c, "hop error");
        goto out;
    }
    if (res.action == LP2P_RELAY_REPLY_CLOSE) {
        if (res.type == LP2P_RELAY_RESERVE && res.status == LP2P_RELAY_STATUS_OK) {
            r->st.reservations_granted_total++;
            lp2p_log(LP2P_INFO, "reservation_granted", LF_S("peer", c->src), LF_S("ip", c->ip),
                     LF_U("expires", unix_s + r->cfg.limits.reservation_ttl_ms / 1000));
        } else if (res.type == LP2P_RELAY_RESERVE) {
            r->st.reservations_refused_total[relay_refusal_index(res.status)]++;
            lp2p_log(LP2P_INFO, "reservation_refused", LF_S("peer", c->src), LF_S("ip", c->ip),
                     LF_S("reason", lp2p_relay_status_name(res.status)));
        } else {
            r->st.circuits_refused_total[relay_refusal_index(res.status)]++;
            char dst[LP2P_PEER_ID_STR_MAX] = "";
            connect_target(msg, dst, sizeof(dst));
            lp2p_log(LP2P_INFO, "circuit_refused", LF_S("src", c->src), LF_S("dst", dst),
                     LF_S("reason", lp2p_relay_status_name(res.status)));
        }
        relay_circ_linger(c, C_REPLIED);
        if (relay_write_buf(c->s[SRC], &hop_out) == 0)
            lp2p_stream_close(c->s[SRC]);
        goto out;
    }
    /* STOP_CONNECT: the core holds a pending circuit until the target answers. */
    c->id = res.circuit_id;
    c->in_core = 1;
    c->state = C_WAIT_STOP;
    lp2p_peer_id_to_string(&res.target, c->dst, sizeof(c->dst));
    if (nrest)
        lp2p_buf_append(&c->early, rest, nrest);
    open_stop(c, &res, &stop_out);
out:
    lp2p_buf_free(&hop_out);
    lp2p_buf_free(&stop_out);
    relay_server_rearm(r);
}

static void hop_bytes(circ *c, const uint8_t *p, size_t n)
{
    size_t used = 0;
    lp2p_view msg;
    int rc = lp2p_lpm_read(&c->lpm[SRC], p, n, &used, &msg);
    if (rc == 0)
        return;
    if (rc < 0) {
        /* Over 4 KiB or a bad prefix: answer as go does for an unreadable message. */
        lp2p_log(LP2P_INFO, "hop_malformed", LF_S("peer", c->src), LF_S("ip", c->ip),
                 LF_S("reason", lp2p_strerror(rc)));
        c->svc->st
            .circuits_refused_total[relay_refusal_index(LP2P_RELAY_STATUS_MALFORMED_MESSAGE)]++;
        lp2p_buf out;
        lp2p_buf_init(&out);
        relay_circ_linger(c, C_REPLIED);
        if (lp2p_relay_msg_encode_status(LP2P_RELAY_HOP, LP2P_RELAY_STATUS_MALFORMED_MESSAGE,
                                         &out) == 0 &&
            relay_write_buf(c->s[SRC], &out) == 0)
            lp2p_stream_close(c->s[SRC]);
        lp2p_buf_free(&out);
        return;
    }
    hop_request(c, &msg, p + used, n - used);
}

/* ---- stream callbacks ---------------------------------------------------------------------- */

static void side_data(int side, lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    circ *c = ud;
    relay_circ_ref(c);
    switch (c->state) {
    case C_WAIT_MSG:
        if (side == SRC)
            hop_bytes(c, p, n);
        break;
    case C_WAIT_STOP:
        if (side == DST) {
            stop_bytes(c, p, n);
        } else if (lp2p_buf_size(&c->early) + n > EARLY_MAX) {
            relay_circ_abort(c, "source sent too much before the circuit was live");
        } else {
            lp2p_buf_append(&c->early, p, n);
        }
        break;
    case C_LIVE:
        forward(c, side, p, n);
        break;
    default:
        /* After the last reply nothing more may come on the hop stream (and a refused or
         * failed target has nothing to say either): reset rather than read on for free. */
        relay_circ_abort(c, "data after the last message");
        break;
    }
    relay_circ_unref(c);
}

static void side_eof(int side, lp2p_stream *s, void *ud)
{
    circ *c = ud;
    relay_circ_ref(c);
    c->eof[side] = 1;
    switch (c->state) {
    case C_LIVE:
        /* FIN propagation: the other side's write closes once its queued bytes are out. */
        if (c->s[!side])
            lp2p_stream_close(c->s[!side]);
        break;
    case C_WAIT_MSG:
        lp2p_stream_close(s); /* ended before asking anything */
        break;
    case C_WAIT_STOP:
        if (side == DST)
            stop_failed(c, "target closed the stop stream without answering");
        break; /* a source FIN is passed on when the circuit goes live */
    default:
        break;
    }
    relay_circ_unref(c);
}

/* `side` drained below its low-water mark: the other side may be read again. */
static void side_writable(int side, lp2p_stream *s, void *ud)
{
    circ *c = ud;
    relay_circ_ref(c);
    if (c->paused[!side] && c->s[!side]) {
        c->paused[!side] = 0;
        lp2p_stream_pause_read(c->s[!side], 0);
    }
    relay_circ_unref(c);
}

static void side_close(int side, lp2p_stream *s, int err, void *ud)
{
    circ *c = ud;
    relay_circ_ref(c);
    c->s[side] = NULL;
    if (!c->aborting) {
        if (c->state == C_WAIT_STOP) {
            if (side == DST)
                stop_failed(c, err ? lp2p_strerror(err) : "stop stream closed");
            else
                relay_circ_abort(c, "source went away");
        } else if (c->state == C_LIVE && err) {
            /* A reset by the peer, or its whole connection went away. */
            if (err == LP2P_ERR_RESET)
                c->reason = side == SRC ? "source reset" : "target reset";
            else
                c->reason = side == SRC ? "source connection lost" : "target connection lost";
            relay_circ_abort(c, c->reason);
        } else if (c->state == C_LIVE && c->s[!side] && !(c->eof[SRC] && c->eof[DST])) {
            relay_circ_abort(c, "one side closed");
        }
    }
    relay_circ_unref(c);
}

static void src_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    side_data(SRC, s, p, n, ud);
}
static void dst_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    side_data(DST, s, p, n, ud);
}
static void src_eof(lp2p_stream *s, void *ud)
{
    side_eof(SRC, s, ud);
}
static void dst_eof(lp2p_stream *s, void *ud)
{
    side_eof(DST, s, ud);
}
static void src_writable(lp2p_stream *s, void *ud)
{
    side_writable(SRC, s, ud);
}
static void dst_writable(lp2p_stream *s, void *ud)
{
    side_writable(DST, s, ud);
}
static void src_close(lp2p_stream *s, int err, void *ud)
{
    side_close(SRC, s, err, ud);
}
static void dst_close(lp2p_stream *s, int err, void *ud)
{
    side_close(DST, s, err, ud);
}

static const lp2p_stream_callbacks k_side_cb[2] = {
    {.on_data = src_data, .on_eof = src_eof, .on_writable = src_writable, .on_close = src_close},
    {.on_data = dst_data, .on_eof = dst_eof, .on_writable = dst_writable, .on_close = dst_close},
};

/* Hop streams on conn that have not sent their request yet. */
static size_t pending_hops(lp2p_relay_server *r, const lp2p_conn *conn)
{
    size_t n = 0;
    lp2p_list *pos, *tmp;
    lp2p_list_foreach_safe(pos, tmp, &r->circs)
    {
        circ *c = lp2p_container_of(pos, circ, link);
        if (c->state == C_WAIT_MSG && c->s[SRC] && lp2p_stream_conn(c->s[SRC]) == conn)
            n++;
    }
    return n;
}

static void hop_open(lp2p_stream *s, void *ud)
{
    lp2p_relay_server *r = ud;
    if (r->closing) {
        lp2p_stream_reset(s);
        return;
    }
    lp2p_conn *conn = lp2p_stream_conn(s);
    if (pending_hops(r, conn) >= r->cfg.max_pending_hops_per_conn) {
        lp2p_log(LP2P_INFO, "hop_refused", LF_S("peer", lp2p_conn_peer_str(conn)),
                 LF_S("reason", "too many hop streams waiting for a request on one connection"));
        lp2p_stream_reset(s);
        return;
    }
    circ *c = calloc(1, sizeof(*c));
    if (!c) {
        lp2p_stream_reset(s);
        return;
    }
    c->svc = r;
    c->state = C_WAIT_MSG;
    c->s[SRC] = s;
    lp2p_lpm_init(&c->lpm[SRC], LP2P_RELAY_MSG_MAX);
    lp2p_lpm_init(&c->lpm[DST], LP2P_RELAY_MSG_MAX);
    lp2p_buf_init(&c->early);
    snprintf(c->src, sizeof(c->src), "%s", lp2p_conn_peer_str(lp2p_stream_conn(s)));
    lp2p_relay_src src_now;
    fill_src(c, &src_now); /* c->ip for every log line, also for a stream that never speaks */
    c->deadline_ms = relay_server_now(r) + r->cfg.stream_timeout_ms;
    lp2p_list_insert_tail(&r->circs, &c->link);
    lp2p_stream_set_callbacks(s, &k_side_cb[SRC], c);
    relay_server_rearm(r);
}

const lp2p_stream_callbacks lp2p__relay_hop_handler = {.on_open = hop_open};
