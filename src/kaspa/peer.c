/* The Kaspa peer driver: transport on_data -> kaspa_session_recv, session out ->
 * lp2p_transport_write (while the transport is below its high-water mark), next_deadline ->
 * one uv timer, and the end of the session logged here and nowhere else. See kaspa/peer.h;
 * the constructors are in peer_tcp.c and peer_libp2p.c. */
#include "kaspa/peer_internal.h" /* src/kaspa/peer_internal.h */
#include "lp2p/err.h"
#include "util/buf.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void step(kaspa_peer *p, int from_loop);

/* ---- the end ------------------------------------------------------------------------------ */
static void on_timer_closed(uv_handle_t *h)
{
    kaspa_peer *p = h->data;
    if (p->session) {
        kaspa_session_stats st;
        kaspa_session_get_stats(p->session, &st);
        lp2p_log(LP2P_INFO, "kaspa_session_closed", LF_S("peer", p->label), LF_S("addr", p->addr),
                 LF_B("relayed", p->cfg.relayed), LF_U("bytes_in", st.bytes_in),
                 LF_U("bytes_out", st.bytes_out), LF_U("messages_in", st.msgs_in),
                 LF_U("messages_out", st.msgs_out),
                 LF_S("reason", p->reason[0] ? p->reason
                                : p->err     ? lp2p_strerror(p->err)
                                             : "closed"));
    }
    if (p->on_gone)
        p->on_gone(p);
    if (p->cb.on_closed)
        p->cb.on_closed(p->user, p, p->err);
    kaspa_session_del(p->session);
    free(p);
}

/* The transport is gone (or never came): close the timer; on_closed follows from the loop. */
static void finish(kaspa_peer *p)
{
    if (p->closing)
        return;
    p->closing = 1;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

static void close_transport(kaspa_peer *p, int reset)
{
    if (!p->t || p->t_closed)
        return;
    p->t_closed = 1;
    uv_timer_stop(&p->timer);
    lp2p_transport_close(p->t, reset);
}

/* The first account of why the session ended wins (a Reject overrides it, see below). */
#define set_reason(p, ...)                                                                         \
    do {                                                                                           \
        if (!(p)->reason[0])                                                                       \
            snprintf((p)->reason, sizeof(p)->reason, __VA_ARGS__);                                 \
    } while (0)

/* ---- transport events --------------------------------------------------------------------- */
static void t_on_data(void *ud, const uint8_t *d, size_t n)
{
    kaspa_peer *p = ud;
    if (p->fin_sent)
        return; /* after our end: discard until the peer's */
    uv_update_time(p->loop);
    int rc = kaspa_session_recv(p->session, d, n, uv_now(p->loop));
    if (rc < 0) {
        set_reason(p, "receive failed: %s", lp2p_strerror(rc));
        lp2p_log(LP2P_WARN, "kaspa_peer_error", LF_S("peer", p->label), LF_S("reason", p->reason));
        kaspa_session_transport_closed(p->session, uv_now(p->loop));
    }
    step(p, 1);
}

static void t_on_eof(void *ud)
{
    kaspa_peer *p = ud;
    p->eof = 1;
    if (!kaspa_session_is_done(p->session)) {
        set_reason(p, "%s", "the peer closed its side");
        p->err = LP2P_ERR_CLOSED;
        kaspa_session_transport_closed(p->session, uv_now(p->loop));
    }
    step(p, 1);
}

static void t_on_writable(void *ud)
{
    step(ud, 1);
}

static void t_on_connected(void *ud)
{
    kaspa_peer *p = ud;
    if (p->on_connected)
        p->on_connected(p);
}

static void t_on_closed(void *ud, int err, const char *why)
{
    kaspa_peer *p = ud;
    p->t = NULL;
    snprintf(p->why, sizeof p->why, "%s", why ? why : "");
    if (err == LP2P_ERR_CLOSED && p->fin_sent)
        err = 0; /* a stream that ended after both FINs */
    if (!p->err)
        p->err = err;
    if (err == LP2P_ERR_NA && p->proto[0])
        set_reason(p, "the peer does not serve %s", p->proto);
    if (p->session && !kaspa_session_is_done(p->session)) {
        set_reason(p, "transport closed: %s", err ? lp2p_strerror(err) : "EOF");
        kaspa_session_transport_closed(p->session, uv_now(p->loop));
    }
    finish(p);
}

static const lp2p_transport_events k_transport_events = {
    .on_connected = t_on_connected,
    .on_data = t_on_data,
    .on_eof = t_on_eof,
    .on_writable = t_on_writable,
    .on_closed = t_on_closed,
};

/* ---- moving bytes and time ---------------------------------------------------------------- */
static void on_timer(uv_timer_t *t)
{
    kaspa_peer *p = t->data;
    if (p->lingering) {
        /* Our last bytes did not drain, or the peer did not end its side after our FIN. */
        close_transport(p, 1);
        return;
    }
    kaspa_session_tick(p->session, uv_now(p->loop));
    step(p, 1);
}

/* The session's DATA is pulled when the transport can take more, as the connection pulls its
 * streams: while the transport is at its high-water mark, messages wait in the session's
 * send queue (and count in kaspa_peer_pending); below it, they are framed and all of the
 * session's output is handed on (moved, not copied, where the transport can). */
static void move_out(kaspa_peer *p)
{
    if (p->fin_sent)
        return;
    int congested = lp2p_transport_congested(p->t);
    if (kaspa_session_hold_data(p->session, congested) < 0)
        return; /* the session failed; its closed event has been reported */
    lp2p_buf *o = kaspa_session_out(p->session);
    if (congested || lp2p_buf_size(o) == 0)
        return;
    int rc = lp2p_transport_write(p->t, o);
    if (rc < 0) {
        set_reason(p, "write failed: %s", lp2p_strerror(rc));
        p->err = rc;
        close_transport(p, 1);
        return;
    }
    kaspa_session_hold_data(p->session, lp2p_transport_congested(p->t));
}

size_t kaspa_peer_pending(const kaspa_peer *p)
{
    return p->session ? kaspa_session_unsent(p->session) : 0;
}

/* One answer, as lp2p_stream_pending gives a stream's writer: a congested transport is not
 * asked separately, because move_out then holds the session's DATA in its send queue, which
 * counts in kaspa_peer_pending; so does a closed HTTP/2 window. Memory per peer: this mark, one
 * message, and the transport's own mark. */
int kaspa_peer_can_send(const kaspa_peer *p)
{
    return p->t && !p->t_closed && !p->fin_sent && p->session &&
           kaspa_session_is_ready(p->session) && kaspa_peer_pending(p) < KASPA_PEER_HIGH_WATER;
}

/* After anything happened: move output, re-arm the deadline, half-close when the session is
 * over and its last bytes are handed on, close once both sides have ended, and (only from
 * the loop's callbacks, so the owner is never re-entered) tell the owner it may send more. */
static void step(kaspa_peer *p, int from_loop)
{
    if (!p->t || p->t_closed || !p->session)
        return;
    move_out(p);
    if (p->t_closed)
        return;
    if (kaspa_session_is_done(p->session)) {
        if (!p->lingering) {
            /* Bound the end: a peer that stops reading cannot keep us forever. */
            p->lingering = 1;
            uv_timer_start(&p->timer, on_timer, KASPA_PEER_DRAIN_MS, 0);
        }
        if (!p->fin_sent && lp2p_buf_size(kaspa_session_out(p->session)) == 0) {
            p->fin_sent = 1;
            if (lp2p_transport_shutdown(p->t) < 0) {
                close_transport(p, 0);
                return;
            }
            uv_timer_start(&p->timer, on_timer, KASPA_PEER_LINGER_MS, 0);
        }
        if (p->fin_sent && p->eof)
            close_transport(p, 0);
        return;
    }
    uint64_t d = kaspa_session_next_deadline(p->session), now = uv_now(p->loop);
    if (d == UINT64_MAX)
        uv_timer_stop(&p->timer);
    else
        uv_timer_start(&p->timer, on_timer, d > now ? d - now : 0, 0);
    if (from_loop && p->cb.on_writable && !p->in_writable && kaspa_peer_can_send(p)) {
        p->in_writable = 1;
        p->cb.on_writable(p->user, p);
        p->in_writable = 0;
        step(p, 0);
    }
}

static void on_session_event(void *u, kaspa_session *s, const kaspa_event *ev)
{
    kaspa_peer *p = u;
    (void)s;
    if (ev->type == KASPA_EV_REJECT && ev->u.reject.reason)
        snprintf(p->reason, sizeof p->reason, "reject %s: %s",
                 ev->u.reject.sent ? "sent" : "received", ev->u.reject.reason);
    else if (ev->type == KASPA_EV_CLOSED)
        set_reason(p, "%s",
                   ev->u.closed.reason ? ev->u.closed.reason
                   : ev->u.closed.err  ? lp2p_strerror(ev->u.closed.err)
                                       : "closed");
    if (p->cb.on_event)
        p->cb.on_event(p->user, p, ev);
}

/* ---- setup -------------------------------------------------------------------------------- */
kaspa_peer *kaspa_peer__new(uv_loop_t *loop, const kaspa_session_config *cfg, kaspa_role role,
                            const kaspa_peer_names *names, const kaspa_peer_callbacks *cb,
                            void *user)
{
    kaspa_peer *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->loop = loop;
    p->cfg = *cfg;
    p->role = role;
    if (cb)
        p->cb = *cb;
    p->user = user;
    lp2p_list_init(&p->link);
    snprintf(p->label, sizeof p->label, "%s", names && names->label ? names->label : "");
    snprintf(p->addr, sizeof p->addr, "%s", names && names->addr ? names->addr : p->label);
    snprintf(p->proto, sizeof p->proto, "%s", names && names->protocol ? names->protocol : "");
    kaspa_addr_format(&p->cfg.peer_addr, p->key_addr, sizeof p->key_addr);
    p->cfg.peer_label = p->label;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    return p;
}

void kaspa_peer__bind(kaspa_peer *p, lp2p_transport *t)
{
    p->t = t;
    lp2p_transport_bind(t, &k_transport_events, p);
}

int kaspa_peer__begin(kaspa_peer *p)
{
    kaspa_session_callbacks scb = {on_session_event};
    int rc = kaspa_session_new(&p->session, &p->cfg, p->role, &scb, p, uv_now(p->loop));
    if (rc) {
        p->session = NULL;
        return rc;
    }
    step(p, 0);
    return 0;
}

int kaspa_peer__attach(kaspa_peer *p, lp2p_transport *t)
{
    kaspa_peer__bind(p, t);
    return kaspa_peer__begin(p);
}

void kaspa_peer__fail(kaspa_peer *p, int err)
{
    if (!p->err)
        p->err = err;
    if (p->t)
        close_transport(p, 1); /* on_closed, then finish */
    else
        finish(p);
}

int kaspa_peer_start(uv_loop_t *loop, lp2p_transport *t, const kaspa_session_config *cfg,
                     kaspa_role role, const kaspa_peer_names *names, const kaspa_peer_callbacks *cb,
                     void *user, kaspa_peer **out)
{
    if (!cfg || !cfg->hub) {
        lp2p_transport_close(t, 1);
        return LP2P_ERR_INVAL;
    }
    kaspa_peer *p = kaspa_peer__new(loop, cfg, role, names, cb, user);
    if (!p) {
        lp2p_transport_close(t, 1);
        return LP2P_ERR_NOMEM;
    }
    int rc = kaspa_peer__attach(p, t);
    if (rc) {
        memset(&p->cb, 0, sizeof p->cb); /* reported by the return value only */
        kaspa_peer__fail(p, rc);
        return rc;
    }
    if (out)
        *out = p;
    return 0;
}

/* ---- operations --------------------------------------------------------------------------- */
kaspa_session *kaspa_peer_session(kaspa_peer *p)
{
    return p->session;
}

void kaspa_peer_flush(kaspa_peer *p)
{
    step(p, 0);
}

int kaspa_peer_ping(kaspa_peer *p)
{
    if (!p->session || !p->t || p->t_closed)
        return LP2P_ERR_STATE;
    int rc = kaspa_session_ping(p->session, uv_now(p->loop));
    step(p, 0);
    return rc;
}

void kaspa_peer_close(kaspa_peer *p, const char *reason)
{
    if (p->closing)
        return;
    if (!p->session) { /* a dial still connecting */
        kaspa_peer__fail(p, LP2P_ERR_CLOSED);
        return;
    }
    set_reason(p, "%s", reason ? reason : "closed by us");
    if (!kaspa_session_is_done(p->session))
        kaspa_session_close(p->session, reason, uv_now(p->loop));
    step(p, 0);
}

const char *kaspa_peer_reason(const kaspa_peer *p)
{
    return p->reason;
}
const char *kaspa_peer_label(const kaspa_peer *p)
{
    return p->label;
}
const char *kaspa_peer_addr(const kaspa_peer *p)
{
    return p->addr;
}
const char *kaspa_peer_key_addr(const kaspa_peer *p)
{
    return p->key_addr;
}
int kaspa_peer_relayed(const kaspa_peer *p)
{
    return p->cfg.relayed;
}
void *kaspa_peer_user(const kaspa_peer *p)
{
    return p->user;
}
