/* lp2p_transport over a libuv TCP socket. See socket_transport.h. */
#include "kaspa/socket_transport.h" /* src/kaspa/socket_transport.h */
#include "lp2p/err.h"
#include "util/buf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_BUF (64 * 1024)

struct kaspa_sock {
    lp2p_transport t; /* first: the vtable's lp2p_transport * is a kaspa_sock * */
    uv_tcp_t tcp;
    uv_shutdown_t shutdown_req;
    size_t wbytes; /* handed to uv_write, not yet written */
    int armed;     /* reached high-water: on_writable when below a quarter of it */
    int started, paused, shut, closing;
    int err; /* for on_closed */
    char remote[96];
    uint8_t rbuf[READ_BUF];
};

typedef struct wreq {
    uv_write_t req;
    kaspa_sock *s;
    lp2p_buf b;
} wreq;

static void on_closed(uv_handle_t *h)
{
    kaspa_sock *s = h->data;
    if (s->started && s->t.ev && s->t.ev->on_closed)
        s->t.ev->on_closed(s->t.ud, s->err);
    free(s);
}

static void sock_close(lp2p_transport *t, int reset)
{
    kaspa_sock *s = (kaspa_sock *)t;
    /* reset is a plain close too: a socket closed with unread bytes sends RST by itself,
     * and one without sends the FIN the old Kaspa TCP code sent here. */
    (void)reset;
    if (s->closing)
        return;
    s->closing = 1;
    uv_close((uv_handle_t *)&s->tcp, on_closed);
}

static void fail(kaspa_sock *s, int err)
{
    if (!s->err)
        s->err = err;
    sock_close(&s->t, 1);
}

static void on_write(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    kaspa_sock *s = w->s;
    s->wbytes -= lp2p_buf_size(&w->b);
    lp2p_buf_free(&w->b);
    free(w);
    if (s->closing)
        return;
    if (status < 0) {
        fail(s, LP2P_ERR_IO);
        return;
    }
    if (s->armed && s->wbytes < s->t.high_water / 4) {
        s->armed = 0;
        if (s->t.ev->on_writable)
            s->t.ev->on_writable(s->t.ud);
    }
}

static int sock_write(lp2p_transport *t, lp2p_buf *b)
{
    kaspa_sock *s = (kaspa_sock *)t;
    size_t n = lp2p_buf_size(b);
    if (s->closing || s->shut)
        return LP2P_ERR_STATE;
    if (n == 0)
        return 0;
    wreq *w = malloc(sizeof(*w));
    if (!w)
        return LP2P_ERR_NOMEM;
    w->s = s;
    w->b = *b; /* moved: the caller's buffer starts over empty */
    lp2p_buf_init(b);
    uv_buf_t ub = uv_buf_init((char *)lp2p_buf_head(&w->b), (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)&s->tcp, &ub, 1, on_write) < 0) {
        *b = w->b;
        free(w);
        return LP2P_ERR_IO;
    }
    s->wbytes += n;
    if (s->wbytes >= t->high_water)
        s->armed = 1;
    return 0;
}

static size_t sock_pending(const lp2p_transport *t)
{
    return ((const kaspa_sock *)t)->wbytes;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    kaspa_sock *s = h->data;
    (void)hint;
    *buf = uv_buf_init((char *)s->rbuf, sizeof s->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    kaspa_sock *s = st->data;
    if (s->closing)
        return;
    if (n == UV_EOF) {
        uv_read_stop(st);
        if (s->t.ev->on_eof)
            s->t.ev->on_eof(s->t.ud);
        return;
    }
    if (n < 0) {
        fail(s, LP2P_ERR_IO);
        return;
    }
    if (n > 0 && s->t.ev->on_data)
        s->t.ev->on_data(s->t.ud, (const uint8_t *)buf->base, (size_t)n);
}

static void sock_pause_read(lp2p_transport *t, int paused)
{
    kaspa_sock *s = (kaspa_sock *)t;
    if (s->closing || s->paused == !!paused)
        return;
    s->paused = !!paused;
    if (paused)
        uv_read_stop((uv_stream_t *)&s->tcp);
    else
        uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status; /* a failed FIN shows up as a read or write error, or the linger ends it */
}

static int sock_shutdown(lp2p_transport *t)
{
    kaspa_sock *s = (kaspa_sock *)t;
    if (s->closing)
        return LP2P_ERR_STATE;
    if (s->shut)
        return 0;
    s->shut = 1;
    return uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->tcp, on_shutdown) < 0 ? LP2P_ERR_IO : 0;
}

static const char *sock_remote_addr(const lp2p_transport *t)
{
    return ((const kaspa_sock *)t)->remote;
}

static const lp2p_transport_vtable k_sock_vt = {
    .write = sock_write,
    .pending = sock_pending,
    .pause_read = sock_pause_read,
    .shutdown = sock_shutdown,
    .close = sock_close,
    .remote_addr = sock_remote_addr,
};

kaspa_sock *kaspa_sock_new(uv_loop_t *loop)
{
    kaspa_sock *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->t.vt = &k_sock_vt;
    s->t.high_water = KASPA_SOCK_HIGH_WATER;
    uv_tcp_init(loop, &s->tcp);
    s->tcp.data = s;
    return s;
}

uv_tcp_t *kaspa_sock_handle(kaspa_sock *s)
{
    return &s->tcp;
}

int kaspa_sock_peer(kaspa_sock *s, struct sockaddr_storage *ss)
{
    int len = sizeof(*ss);
    return uv_tcp_getpeername(&s->tcp, (struct sockaddr *)ss, &len) == 0 ? 0 : LP2P_ERR_IO;
}

lp2p_transport *kaspa_sock_start(kaspa_sock *s)
{
    struct sockaddr_storage ss = {0};
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (kaspa_sock_peer(s, &ss) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
            port = ntohs(in->sin_port);
        } else {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(s->remote, sizeof s->remote, "/%s/%s/tcp/%d", ss.ss_family == AF_INET6 ? "ip6" : "ip4",
             ip, port);
    uv_tcp_nodelay(&s->tcp, 1);
    uv_tcp_keepalive(&s->tcp, 1, 10); /* tonic: tcp_keepalive(10 s) */
    if (uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) < 0) {
        kaspa_sock_abort(s);
        return NULL;
    }
    s->started = 1;
    return &s->t;
}

void kaspa_sock_abort(kaspa_sock *s)
{
    s->started = 0; /* no events */
    sock_close(&s->t, 1);
}
