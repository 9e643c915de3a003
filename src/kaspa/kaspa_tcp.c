/* Kaspa sessions over TCP sockets on libuv: read -> kaspa_session_recv, out -> uv_write,
 * next_deadline -> one uv timer per connection. See kaspa_tcp.h. */
#include "kaspa/kaspa_tcp.h" /* src/kaspa/kaspa_tcp.h */
#include "lp2p/err.h"
#include "util/list.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_BUF            (64 * 1024)
#define KASPA_TCP_LINGER_MS 2000 /* wait for the peer's FIN after ours */

struct kaspa_tcp_server {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    kaspa_session_config cfg;
    kaspa_tcp_callbacks cb;
    void *user;
    lp2p_list conns;
    int closing;
    int port;
};

struct kaspa_tcp_conn {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    kaspa_session_config cfg;
    kaspa_tcp_callbacks cb;
    void *user;
    kaspa_tcp_server *server; /* NULL for outbound */
    lp2p_list link;
    kaspa_session *session;
    char peer[64];
    int connected;
    int closing;     /* uv_close started */
    int handles;     /* open uv handles */
    int writes;      /* writes in flight */
    size_t wbytes;   /* their bytes */
    int in_writable; /* re-entrancy guard for cb.on_writable */
    int shutting;    /* shutdown requested */
    int err;         /* first error, for on_conn_closed */
    uint8_t rbuf[READ_BUF];
};

typedef struct wreq {
    uv_write_t req;
    kaspa_tcp_conn *c;
    size_t n;
    uint8_t data[];
} wreq;

static void conn_step(kaspa_tcp_conn *c);

static int to_sockaddr(const char *hostport, struct sockaddr_storage *ss, kaspa_addr *ka)
{
    kaspa_addr a;
    if (kaspa_addr_parse(hostport, &a) != 0)
        return LP2P_ERR_INVAL;
    memset(ss, 0, sizeof(*ss));
    if (kaspa_addr_is_ipv4(&a)) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a.port);
        memcpy(&sin->sin_addr, a.ip + 12, 4);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(a.port);
        memcpy(&sin6->sin6_addr, a.ip, 16);
    }
    if (ka)
        *ka = a;
    return 0;
}

static void from_sockaddr(const struct sockaddr_storage *ss, kaspa_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        kaspa_addr_ipv4(a, (const uint8_t *)&sin->sin_addr, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        memcpy(a->ip, &sin6->sin6_addr, 16);
        a->port = ntohs(sin6->sin6_port);
    }
}

/* ---- connection teardown ------------------------------------------------------------------ */
static void on_handle_closed(uv_handle_t *h)
{
    kaspa_tcp_conn *c = h->data;
    if (--c->handles > 0)
        return;
    kaspa_tcp_server *srv = c->server;
    if (srv)
        lp2p_list_remove(&c->link);
    lp2p_log(LP2P_INFO, "kaspa_tcp_closed", LF_S("peer", c->peer),
             LF_S("err", c->err ? lp2p_err_name(c->err) : "OK"));
    if (c->cb.on_conn_closed)
        c->cb.on_conn_closed(c->user, c, c->err);
    kaspa_session_del(c->session);
    free(c);
    if (srv && srv->closing && lp2p_list_empty(&srv->conns) && srv->tcp.data == NULL)
        free(srv);
}

static void conn_destroy(kaspa_tcp_conn *c, int err)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (!c->err)
        c->err = err;
    if (c->session && !kaspa_session_is_done(c->session))
        kaspa_session_transport_closed(c->session, uv_now(c->loop));
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_timer(uv_timer_t *t);

/* Room again (a write completed, a WINDOW_UPDATE arrived): let a bulk sender refill. Only
 * from the loop's callbacks, never from the owner's own flush, so the owner is not
 * re-entered in the middle of its send loop. */
static void conn_writable(kaspa_tcp_conn *c)
{
    if (!c->cb.on_writable || c->in_writable || !kaspa_tcp_conn_can_send(c))
        return;
    c->in_writable = 1;
    c->cb.on_writable(c->user, c);
    c->in_writable = 0;
    conn_step(c);
}

/* Our FIN is out. Keep reading until the peer's FIN (or a short linger) so that closing
 * with unread bytes does not turn into a RST that makes the peer drop our last messages
 * (a Reject, the final Pong, the trailers). */
static void on_shutdown(uv_shutdown_t *req, int status)
{
    kaspa_tcp_conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        conn_destroy(c, 0);
        return;
    }
    uv_timer_start(&c->timer, on_timer, KASPA_TCP_LINGER_MS, 0);
}

/* ---- I/O ---------------------------------------------------------------------------------- */
static void on_write(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    kaspa_tcp_conn *c = w->c;
    c->wbytes -= w->n;
    free(w);
    c->writes--;
    if (status < 0) {
        conn_destroy(c, LP2P_ERR_IO);
        return;
    }
    if (!c->closing)
        conn_step(c);
    conn_writable(c);
}

static void flush_out(kaspa_tcp_conn *c)
{
    lp2p_buf *o = kaspa_session_out(c->session);
    size_t n = lp2p_buf_size(o);
    if (n == 0 || c->closing)
        return;
    wreq *w = malloc(sizeof(*w) + n);
    if (!w) {
        conn_destroy(c, LP2P_ERR_NOMEM);
        return;
    }
    memcpy(w->data, lp2p_buf_head(o), n);
    lp2p_buf_consume(o, n);
    w->c = c;
    w->n = n;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        free(w);
        conn_destroy(c, LP2P_ERR_IO);
        return;
    }
    c->writes++;
    c->wbytes += n;
}

static void on_timer(uv_timer_t *t)
{
    kaspa_tcp_conn *c = t->data;
    if (c->shutting) {
        conn_destroy(c, 0); /* the peer did not close its side in time */
        return;
    }
    if (!c->connected) {
        lp2p_log(LP2P_WARN, "kaspa_tcp_connect_failed", LF_S("peer", c->peer),
                 LF_S("reason", "timeout"));
        conn_destroy(c, LP2P_ERR_TIMEOUT);
        return;
    }
    kaspa_session_tick(c->session, uv_now(c->loop));
    conn_step(c);
}

/* After anything happened: write what the session produced, re-arm the timer, and close the
 * socket once the session is over and everything is written. */
static void conn_step(kaspa_tcp_conn *c)
{
    if (c->closing || !c->session)
        return;
    flush_out(c);
    if (c->closing)
        return;
    if (kaspa_session_is_done(c->session)) {
        uv_timer_stop(&c->timer);
        if (c->writes == 0 && !c->shutting) {
            c->shutting = 1;
            c->shutdown_req.data = c;
            if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
                conn_destroy(c, 0);
        }
        return;
    }
    uint64_t d = kaspa_session_next_deadline(c->session), now = uv_now(c->loop);
    if (d == UINT64_MAX)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, d > now ? d - now : 0, 0);
}

int kaspa_tcp_conn_can_send(const kaspa_tcp_conn *c)
{
    return c->session && !c->closing && !c->shutting && kaspa_session_is_ready(c->session) &&
           c->wbytes < KASPA_TCP_HIGH_WATER &&
           lp2p_buf_size(kaspa_session_out(c->session)) < 256 * 1024 &&
           kaspa_session_send_queue(c->session) < KASPA_TCP_HIGH_WATER;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    kaspa_tcp_conn *c = h->data;
    *buf = uv_buf_init((char *)c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    kaspa_tcp_conn *c = s->data;
    if (n < 0) {
        conn_destroy(c, n == UV_EOF ? (kaspa_session_is_done(c->session) ? 0 : LP2P_ERR_CLOSED)
                                    : LP2P_ERR_IO);
        return;
    }
    if (n > 0 && c->shutting)
        return; /* after our end: drain and discard until the peer's FIN */
    if (n > 0) {
        uv_update_time(c->loop);
        kaspa_session_recv(c->session, (const uint8_t *)buf->base, (size_t)n, uv_now(c->loop));
    }
    conn_step(c);
    conn_writable(c);
}

static void on_session_event(void *u, kaspa_session *s, const kaspa_event *ev)
{
    kaspa_tcp_conn *c = u;
    if (c->cb.on_event)
        c->cb.on_event(c->user, c, ev);
}

static int conn_start_session(kaspa_tcp_conn *c, kaspa_role role)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        from_sockaddr(&ss, &c->cfg.peer_addr);
        kaspa_addr_format(&c->cfg.peer_addr, c->peer, sizeof c->peer);
    }
    c->cfg.peer_label = c->peer;
    c->cfg.relayed = 0;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, 10); /* tonic: tcp_keepalive(10 s) */
    kaspa_session_callbacks scb = {on_session_event};
    int rc = kaspa_session_new(&c->session, &c->cfg, role, &scb, c, uv_now(c->loop));
    if (rc)
        return rc;
    c->connected = 1;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        return LP2P_ERR_IO;
    conn_step(c);
    return 0;
}

static kaspa_tcp_conn *conn_new(uv_loop_t *loop, const kaspa_session_config *cfg,
                                const kaspa_tcp_callbacks *cb, void *user)
{
    kaspa_tcp_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->loop = loop;
    c->cfg = *cfg;
    if (cb)
        c->cb = *cb;
    c->user = user;
    lp2p_list_init(&c->link);
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    return c;
}

/* ---- server ------------------------------------------------------------------------------- */
static void on_connection(uv_stream_t *ls, int status)
{
    kaspa_tcp_server *srv = ls->data;
    if (status < 0 || srv->closing)
        return;
    kaspa_tcp_conn *c = conn_new(srv->loop, &srv->cfg, &srv->cb, srv->user);
    if (!c)
        return;
    c->server = srv;
    lp2p_list_insert_tail(&srv->conns, &c->link);
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
        conn_destroy(c, LP2P_ERR_IO);
        return;
    }
    int rc = conn_start_session(c, KASPA_SERVER);
    lp2p_log(LP2P_INFO, "kaspa_tcp_accept", LF_S("peer", c->peer));
    if (rc)
        conn_destroy(c, rc);
}

static void on_server_closed(uv_handle_t *h)
{
    kaspa_tcp_server *srv = h->data;
    srv->tcp.data = NULL;
    if (lp2p_list_empty(&srv->conns))
        free(srv);
}

int kaspa_tcp_listen(uv_loop_t *loop, const char *hostport, const kaspa_session_config *cfg,
                     const kaspa_tcp_callbacks *cb, void *user, kaspa_tcp_server **out)
{
    struct sockaddr_storage ss;
    if (!cfg || !cfg->hub || to_sockaddr(hostport, &ss, NULL) != 0)
        return LP2P_ERR_INVAL;
    kaspa_tcp_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return LP2P_ERR_NOMEM;
    srv->loop = loop;
    srv->cfg = *cfg;
    if (cb)
        srv->cb = *cb;
    srv->user = user;
    lp2p_list_init(&srv->conns);
    uv_tcp_init(loop, &srv->tcp);
    srv->tcp.data = srv;
    int rc = uv_tcp_bind(&srv->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->tcp, 128, on_connection);
    if (rc < 0) {
        lp2p_log(LP2P_ERROR, "kaspa_tcp_listen_failed", LF_S("addr", hostport),
                 LF_S("reason", uv_strerror(rc)));
        srv->closing = 1;
        uv_close((uv_handle_t *)&srv->tcp, on_server_closed);
        return LP2P_ERR_IO;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    kaspa_addr ba;
    uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&bound, &len);
    from_sockaddr(&bound, &ba);
    srv->port = ba.port;
    char txt[64];
    kaspa_addr_format(&ba, txt, sizeof txt);
    lp2p_log(LP2P_INFO, "kaspa_listen", LF_S("addr", txt), LF_S("network", cfg->network));
    *out = srv;
    return 0;
}

int kaspa_tcp_server_port(const kaspa_tcp_server *s)
{
    return s->port;
}

void kaspa_tcp_server_close(kaspa_tcp_server *srv)
{
    if (srv->closing)
        return;
    srv->closing = 1;
    lp2p_list *pos, *tmp;
    lp2p_list_foreach_safe(pos, tmp, &srv->conns)
    {
        kaspa_tcp_conn_close(lp2p_container_of(pos, kaspa_tcp_conn, link), NULL);
    }
    uv_close((uv_handle_t *)&srv->tcp, on_server_closed);
}

/* ---- client ------------------------------------------------------------------------------- */
static void on_connect(uv_connect_t *req, int status)
{
    kaspa_tcp_conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        lp2p_log(LP2P_WARN, "kaspa_tcp_connect_failed", LF_S("peer", c->peer),
                 LF_S("reason", uv_strerror(status)));
        conn_destroy(c, LP2P_ERR_IO);
        return;
    }
    uv_timer_stop(&c->timer);
    lp2p_log(LP2P_INFO, "kaspa_tcp_connected", LF_S("peer", c->peer));
    int rc = conn_start_session(c, KASPA_CLIENT);
    if (rc)
        conn_destroy(c, rc);
}

int kaspa_tcp_connect(uv_loop_t *loop, const char *hostport, const kaspa_session_config *cfg,
                      const kaspa_tcp_callbacks *cb, void *user, kaspa_tcp_conn **out)
{
    struct sockaddr_storage ss;
    kaspa_addr a;
    if (!cfg || !cfg->hub || to_sockaddr(hostport, &ss, &a) != 0)
        return LP2P_ERR_INVAL;
    kaspa_tcp_conn *c = conn_new(loop, cfg, cb, user);
    if (!c)
        return LP2P_ERR_NOMEM;
    c->cfg.peer_addr = a;
    kaspa_addr_format(&a, c->peer, sizeof c->peer);
    c->connect_req.data = c;
    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, (struct sockaddr *)&ss, on_connect);
    if (rc < 0) {
        c->err = LP2P_ERR_IO;
        c->closing = 1;
        c->cb.on_conn_closed = NULL; /* failing synchronously: report by return value */
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return LP2P_ERR_IO;
    }
    uv_timer_start(&c->timer, on_timer, KASPA_TCP_CONNECT_TIMEOUT_MS, 0);
    lp2p_log(LP2P_INFO, "kaspa_connect", LF_S("peer", c->peer), LF_S("network", cfg->network));
    if (out)
        *out = c;
    return 0;
}

void kaspa_tcp_conn_close(kaspa_tcp_conn *c, const char *reason)
{
    if (c->closing)
        return;
    if (!c->session) {
        conn_destroy(c, LP2P_ERR_CLOSED);
        return;
    }
    kaspa_session_close(c->session, reason, uv_now(c->loop));
    conn_step(c);
}

void kaspa_tcp_conn_flush(kaspa_tcp_conn *c)
{
    conn_step(c);
}

int kaspa_tcp_conn_ping(kaspa_tcp_conn *c)
{
    if (!c->session || c->closing)
        return LP2P_ERR_STATE;
    int rc = kaspa_session_ping(c->session, uv_now(c->loop));
    conn_step(c);
    return rc;
}

kaspa_session *kaspa_tcp_conn_session(kaspa_tcp_conn *c)
{
    return c->session;
}

const char *kaspa_tcp_conn_peer(const kaspa_tcp_conn *c)
{
    return c->peer;
}

void *kaspa_tcp_conn_user(const kaspa_tcp_conn *c)
{
    return c->user;
}
