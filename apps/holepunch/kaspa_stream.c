/* Kaspa sessions over libp2p streams: on_data -> kaspa_session_recv, session out ->
 * lp2p_stream_write (gated by the stream's pending bytes), next_deadline -> one uv timer.
 * See kaspa_stream.h. */
#include "kaspa_stream.h"

#include "lp2p/err.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kaspa_stream {
    uv_loop_t *loop;
    lp2p_stream *s; /* NULL once its on_close ran */
    uv_timer_t timer;
    kaspa_session *session;
    kaspa_session_config cfg;
    kaspa_stream_callbacks cb;
    void *user;
    char peer[LP2P_PEER_ID_STR_MAX];
    char remote[256];
    char synth[64];
    char reason[160];
    char proto[64];
    int relayed;
    int fin_sent;    /* our half-close is queued */
    int stream_err;  /* from on_close */
    int closing;     /* timer close started */
    int in_writable; /* re-entrancy guard for cb.on_writable */
    int lingering;   /* timer is the linger timer, not a session deadline */
};

typedef struct serve_ctx {
    uv_loop_t *loop;
    kaspa_session_config base;
    kaspa_stream_callbacks cb;
    void *user;
} serve_ctx;

static void ks_step(kaspa_stream *ks);

static void free_on_close(uv_handle_t *h)
{
    free(h->data);
}

/* ---- teardown ----------------------------------------------------------------------------- */
static void on_timer_closed(uv_handle_t *h)
{
    kaspa_stream *ks = h->data;
    kaspa_session_stats st;
    kaspa_session_get_stats(ks->session, &st);
    lp2p_log(LP2P_INFO, "kaspa_session_closed", LF_S("peer", ks->peer), LF_S("addr", ks->remote),
             LF_B("relayed", ks->relayed), LF_U("bytes_in", st.bytes_in),
             LF_U("bytes_out", st.bytes_out), LF_U("messages_in", st.msgs_in),
             LF_U("messages_out", st.msgs_out),
             LF_S("reason", ks->reason[0]    ? ks->reason
                            : ks->stream_err ? lp2p_strerror(ks->stream_err)
                                             : "closed"));
    if (ks->cb.on_closed)
        ks->cb.on_closed(ks->user, ks, ks->stream_err);
    kaspa_session_del(ks->session);
    free(ks);
}

/* The lp2p stream is gone (both sides closed, reset, or the connection dropped). */
static void ks_on_close(lp2p_stream *s, int err, void *ud)
{
    kaspa_stream *ks = ud;
    (void)s;
    ks->s = NULL;
    ks->stream_err = err;
    if (err == LP2P_ERR_NA)
        snprintf(ks->reason, sizeof ks->reason, "the peer does not serve %s", ks->proto);
    if (!kaspa_session_is_done(ks->session)) {
        if (!ks->reason[0])
            snprintf(ks->reason, sizeof ks->reason, "stream closed: %s",
                     err ? lp2p_strerror(err) : "EOF");
        kaspa_session_transport_closed(ks->session, uv_now(ks->loop));
    }
    if (!ks->closing) {
        ks->closing = 1;
        uv_timer_stop(&ks->timer);
        uv_close((uv_handle_t *)&ks->timer, on_timer_closed);
    }
}

/* ---- I/O ---------------------------------------------------------------------------------- */
static void on_timer(uv_timer_t *t)
{
    kaspa_stream *ks = t->data;
    if (ks->lingering) {
        /* Our last bytes did not drain, or the peer did not close its side after our FIN. */
        if (ks->s)
            lp2p_stream_reset(ks->s);
        return;
    }
    kaspa_session_tick(ks->session, uv_now(ks->loop));
    ks_step(ks);
}

/* Moves session output into the stream while the stream is below its high-water mark. */
static void move_out(kaspa_stream *ks)
{
    lp2p_buf *o = kaspa_session_out(ks->session);
    while (ks->s && !ks->fin_sent && lp2p_buf_size(o) > 0 &&
           lp2p_stream_pending(ks->s) < KASPA_STREAM_HIGH_WATER) {
        size_t n = lp2p_buf_size(o);
        if (n > 256 * 1024)
            n = 256 * 1024;
        if (lp2p_stream_write(ks->s, lp2p_buf_head(o), n) < 0) {
            lp2p_stream_reset(ks->s);
            return;
        }
        lp2p_buf_consume(o, n);
    }
}

int kaspa_stream_can_send(const kaspa_stream *ks)
{
    return ks->s && !ks->fin_sent && kaspa_session_is_ready(ks->session) &&
           lp2p_stream_pending(ks->s) < KASPA_STREAM_HIGH_WATER &&
           lp2p_buf_size(kaspa_session_out(ks->session)) < 256 * 1024 &&
           kaspa_session_send_queue(ks->session) < 1024 * 1024;
}

/* After anything happened: move output, re-arm the deadline, half-close when the session is
 * over and its last bytes are in the stream, and tell the owner it may send more. */
static void ks_step(kaspa_stream *ks)
{
    if (!ks->s || ks->closing)
        return;
    move_out(ks);
    if (!ks->s)
        return;
    if (kaspa_session_is_done(ks->session)) {
        if (!ks->lingering) {
            /* Bound the end: a peer that stops reading cannot keep the stream forever. */
            ks->lingering = 1;
            uv_timer_start(&ks->timer, on_timer, KASPA_STREAM_DRAIN_MS, 0);
        }
        if (!ks->fin_sent && lp2p_buf_size(kaspa_session_out(ks->session)) == 0) {
            ks->fin_sent = 1;
            lp2p_stream_close(ks->s);
            uv_timer_start(&ks->timer, on_timer, KASPA_STREAM_LINGER_MS, 0);
        }
        return;
    }
    uint64_t d = kaspa_session_next_deadline(ks->session), now = uv_now(ks->loop);
    if (d == UINT64_MAX)
        uv_timer_stop(&ks->timer);
    else
        uv_timer_start(&ks->timer, on_timer, d > now ? d - now : 0, 0);
    if (ks->cb.on_writable && !ks->in_writable && kaspa_stream_can_send(ks)) {
        ks->in_writable = 1;
        ks->cb.on_writable(ks->user, ks);
        ks->in_writable = 0;
        move_out(ks);
    }
}

static void ks_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    kaspa_stream *ks = ud;
    (void)s;
    if (ks->fin_sent)
        return; /* after our end: discard until the peer's FIN */
    uv_update_time(ks->loop);
    int rc = kaspa_session_recv(ks->session, p, n, uv_now(ks->loop));
    if (rc < 0) {
        snprintf(ks->reason, sizeof ks->reason, "receive failed: %s", lp2p_strerror(rc));
        lp2p_log(LP2P_WARN, "kaspa_stream_error", LF_S("peer", ks->peer),
                 LF_S("reason", ks->reason));
        kaspa_session_transport_closed(ks->session, uv_now(ks->loop));
    }
    ks_step(ks);
}

static void ks_on_eof(lp2p_stream *s, void *ud)
{
    kaspa_stream *ks = ud;
    (void)s;
    if (!kaspa_session_is_done(ks->session)) {
        if (!ks->reason[0])
            snprintf(ks->reason, sizeof ks->reason, "peer closed the stream");
        kaspa_session_transport_closed(ks->session, uv_now(ks->loop));
    }
    ks_step(ks);
}

static void ks_on_writable(lp2p_stream *s, void *ud)
{
    (void)s;
    ks_step(ud);
}

static const lp2p_stream_callbacks k_stream_cb = {
    .on_data = ks_on_data,
    .on_eof = ks_on_eof,
    .on_writable = ks_on_writable,
    .on_close = ks_on_close,
};

static void on_session_event(void *u, kaspa_session *s, const kaspa_event *ev)
{
    kaspa_stream *ks = u;
    (void)s;
    if (ev->type == KASPA_EV_REJECT && ev->u.reject.reason)
        snprintf(ks->reason, sizeof ks->reason, "reject %s: %s",
                 ev->u.reject.sent ? "sent" : "received", ev->u.reject.reason);
    else if (ev->type == KASPA_EV_CLOSED && !ks->reason[0])
        snprintf(ks->reason, sizeof ks->reason, "%s",
                 ev->u.closed.reason ? ev->u.closed.reason
                 : ev->u.closed.err  ? lp2p_strerror(ev->u.closed.err)
                                     : "closed");
    if (ks->cb.on_event)
        ks->cb.on_event(ks->user, ks, ev);
}

/* ---- setup -------------------------------------------------------------------------------- */
static kaspa_stream *ks_new(uv_loop_t *loop, lp2p_stream *s, lp2p_conn *conn,
                            const kaspa_session_config *base, const kaspa_stream_callbacks *cb,
                            void *user)
{
    kaspa_stream *ks = calloc(1, sizeof(*ks));
    if (!ks)
        return NULL;
    ks->loop = loop;
    ks->s = s;
    ks->cfg = *base;
    if (cb)
        ks->cb = *cb;
    ks->user = user;
    ks->relayed = lp2p_conn_is_relayed(conn);
    snprintf(ks->remote, sizeof ks->remote, "%s", lp2p_conn_remote_addr(conn));
    if (kaspa_session_config_libp2p(&ks->cfg, lp2p_conn_peer(conn), ks->relayed, ks->peer,
                                    sizeof ks->peer) != 0) {
        free(ks);
        return NULL;
    }
    /* The libp2p profile resets grpc settings; keep the caller's gzip choice. */
    ks->cfg.grpc.gzip = base->grpc.gzip;
    kaspa_addr_format(&ks->cfg.peer_addr, ks->synth, sizeof ks->synth);
    uv_timer_init(loop, &ks->timer);
    ks->timer.data = ks;
    return ks;
}

static int ks_start(kaspa_stream *ks, kaspa_role role)
{
    kaspa_session_callbacks scb = {on_session_event};
    snprintf(ks->proto, sizeof ks->proto, "%s", ks->s ? lp2p_stream_protocol(ks->s) : "");
    lp2p_log(LP2P_INFO, "kaspa_stream_open", LF_S("peer", ks->peer), LF_S("addr", ks->remote),
             LF_B("relayed", ks->relayed), LF_S("synthetic_addr", ks->synth),
             LF_S("protocol", ks->proto), LF_S("role", role == KASPA_CLIENT ? "client" : "server"));
    return kaspa_session_new(&ks->session, &ks->cfg, role, &scb, ks, uv_now(ks->loop));
}

static void serve_on_open(lp2p_stream *s, void *ud)
{
    serve_ctx *sc = ud;
    kaspa_stream *ks = ks_new(sc->loop, s, lp2p_stream_conn(s), &sc->base, &sc->cb, sc->user);
    if (!ks) {
        lp2p_stream_reset(s);
        return;
    }
    if (ks_start(ks, KASPA_SERVER) != 0) {
        lp2p_log(LP2P_WARN, "kaspa_stream_error", LF_S("peer", ks->peer),
                 LF_S("reason", "cannot start a session"));
        uv_close((uv_handle_t *)&ks->timer, free_on_close);
        lp2p_stream_detach(s, 1);
        return;
    }
    lp2p_stream_set_callbacks(s, &k_stream_cb, ks);
    ks_step(ks);
}

static const lp2p_stream_callbacks k_serve_handler = {.on_open = serve_on_open};

int kaspa_stream_serve(lp2p_host *host, uv_loop_t *loop, const kaspa_session_config *base,
                       const kaspa_stream_callbacks *cb, void *user)
{
    /* One per host, freed at exit (the host keeps the pointer until it is closed). */
    static serve_ctx sc;
    sc.loop = loop;
    sc.base = *base;
    if (cb)
        sc.cb = *cb;
    sc.user = user;
    int rc = lp2p_host_handle(host, KASPA_STREAM_PROTO, &k_serve_handler, &sc);
    if (rc == 0)
        rc = lp2p_host_handle(host, KASPA_STREAM_PROTO_BRIDGE, &k_serve_handler, &sc);
    return rc;
}

int kaspa_stream_open(lp2p_conn *conn, const char *proto, uv_loop_t *loop,
                      const kaspa_session_config *base, const kaspa_stream_callbacks *cb,
                      void *user, kaspa_stream **out)
{
    kaspa_stream *ks = ks_new(loop, NULL, conn, base, cb, user);
    if (!ks)
        return LP2P_ERR_NOMEM;
    int rc =
        lp2p_conn_open_stream(conn, proto ? proto : KASPA_STREAM_PROTO, &k_stream_cb, ks, &ks->s);
    if (rc == 0)
        rc = ks_start(ks, KASPA_CLIENT);
    if (rc != 0) {
        if (ks->s) {
            lp2p_stream_detach(ks->s, 1);
        }
        uv_close((uv_handle_t *)&ks->timer, free_on_close);
        return rc;
    }
    ks_step(ks);
    *out = ks;
    return 0;
}

/* ---- operations --------------------------------------------------------------------------- */
kaspa_session *kaspa_stream_session(kaspa_stream *ks)
{
    return ks->session;
}

void kaspa_stream_flush(kaspa_stream *ks)
{
    ks_step(ks);
}

int kaspa_stream_ping(kaspa_stream *ks)
{
    int rc = kaspa_session_ping(ks->session, uv_now(ks->loop));
    ks_step(ks);
    return rc;
}

void kaspa_stream_close(kaspa_stream *ks, const char *reason)
{
    if (!ks->reason[0])
        snprintf(ks->reason, sizeof ks->reason, "%s", reason ? reason : "closed by us");
    if (!kaspa_session_is_done(ks->session))
        kaspa_session_close(ks->session, reason, uv_now(ks->loop));
    ks_step(ks);
}

const char *kaspa_stream_reason(const kaspa_stream *ks)
{
    return ks->reason;
}
const char *kaspa_stream_peer(const kaspa_stream *ks)
{
    return ks->peer;
}
const char *kaspa_stream_remote_addr(const kaspa_stream *ks)
{
    return ks->remote;
}
const char *kaspa_stream_synthetic_addr(const kaspa_stream *ks)
{
    return ks->synth;
}
int kaspa_stream_relayed(const kaspa_stream *ks)
{
    return ks->relayed;
}
void *kaspa_stream_user(const kaspa_stream *ks)
{
    return ks->user;
}
