/* TCP as a byte transport (net/tcp_transport.h). One uv_tcp_t per transport; every event
 * comes from a libuv callback, never from inside the owner's call. */
#include "net/tcp_transport.h"

#include "lp2p/err.h"
#include "net/tcp.h"
#include "wire/multiaddr.h"

#include <stdlib.h>
#include <string.h>

#define READ_BUF          (256u << 10)
#define SPARE_MAX_CAP     (8u << 20)
#define SPARE_BUFS        4
#define TCP_GIVE_BACK_MIN (64u << 10) /* a bulk batch: its buffer is worth giving back warm */

typedef struct tcp_transport {
    lp2p_transport base;
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    int connecting, closing, paused, eof, shut, above_high;
    int close_err;
    const char *close_why; /* static text (uv_strerror) */
    struct sockaddr_storage peer;
    int has_peer;
    /* /ip6/<45 chars>/tcp/65535 at most; not LP2P_MULTIADDR_STR_MAX (1 KiB per connection) */
    char remote[80];
} tcp_transport;

typedef struct tcp_wreq {
    uv_write_t req;
    lp2p_buf data;
    tcp_transport *t;
} tcp_wreq;

/* At most this many connections are accepted per loop turn: libuv's accept loop runs until
 * the backlog is empty, and a flood that reconnects as fast as it is refused kept it from ever
 * emptying, so no accepted connection's handshake was read (issue 9). */
#define ACCEPTS_PER_TURN 32

struct lp2p_tcp_listener {
    uv_tcp_t tcp;
    uv_check_t turn; /* after each poll: the accept budget comes back */
    int nhandles;    /* tcp and turn: freed when both are closed */
    unsigned accepted;
    int deferred; /* a connection waits in libuv (not watching the socket) until the next turn */
    struct sockaddr_storage bound;
    lp2p_tcp_accept_cb cb;
    void *ud;
    void (*done)(void *ud);
    void *done_ud;
};

/* One read buffer per thread: libuv calls read_cb right after alloc_cb, and the owner copies
 * what it keeps, so every socket of a loop can share it. */
static _Thread_local uint8_t t_readbuf[READ_BUF];
static _Thread_local int t_readbuf_busy;

/* Written buffers kept for the next writes of any socket of the thread: a fresh
 * multi-megabyte buffer per flush costs page faults that showed up as ~5% of a bulk
 * transfer's profile. Freed when the thread's last TCP transport is gone. */
static _Thread_local lp2p_buf t_spare[SPARE_BUFS];
static _Thread_local size_t t_nspare;
static _Thread_local size_t t_live; /* TCP transports of this thread */

static void spare_put(lp2p_buf *b)
{
    if (b->cap == 0)
        return; /* nothing to keep */
    if (t_nspare < SPARE_BUFS && b->cap <= SPARE_MAX_CAP) {
        lp2p_buf_clear(b);
        t_spare[t_nspare++] = *b;
        lp2p_buf_init(b);
        return;
    }
    lp2p_buf_free(b);
}

static void spare_take(lp2p_buf *b)
{
    if (t_nspare)
        *b = t_spare[--t_nspare];
    else
        lp2p_buf_init(b);
}

static void transport_gone(void)
{
    if (--t_live > 0)
        return;
    while (t_nspare)
        lp2p_buf_free(&t_spare[--t_nspare]);
}

static const lp2p_transport_vtable k_tcp_vt;

static tcp_transport *tt(lp2p_transport *t)
{
    return (tcp_transport *)t;
}
static const tcp_transport *ctt(const lp2p_transport *t)
{
    return (const tcp_transport *)t;
}

static tcp_transport *tcp_transport_alloc(void)
{
    tcp_transport *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->base.vt = &k_tcp_vt;
    t->base.high_water = LP2P_TCP_HIGH_WATER;
    t->base.low_water = LP2P_TCP_HIGH_WATER / 2;
    t_live++;
    t->tcp.data = t;
    t->connect_req.data = t;
    t->shutdown_req.data = t;
    return t;
}

static void set_peer(tcp_transport *t, const struct sockaddr *sa)
{
    size_t len =
        sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    memcpy(&t->peer, sa, len);
    t->has_peer = 1;
    lp2p_multiaddr ma = {0};
    if (lp2p_multiaddr_from_sockaddr(&ma, sa) == 0) {
        lp2p_multiaddr_to_string(&ma, t->remote, sizeof(t->remote));
        lp2p_multiaddr_free(&ma);
    }
}

/* ---- closing --------------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *hd)
{
    tcp_transport *t = hd->data;
    const lp2p_transport_events *ev = t->base.ev;
    if (ev && ev->on_closed)
        ev->on_closed(t->base.ud, t->close_err, t->close_why);
    free(t);
    transport_gone();
}

static void tcp_close(lp2p_transport *bt, int reset)
{
    tcp_transport *t = tt(bt);
    if (t->closing)
        return;
    t->closing = 1;
    /* Linger 0 (net/tcp.c): the kernel sends RST either way, so `reset` changes nothing
     * here; queued writes are cancelled by uv_close. */
    uv_close((uv_handle_t *)&t->tcp, on_handle_closed);
}

/* The socket failed under us: close it and report why with on_closed. */
static void tcp_fail(tcp_transport *t, int err, const char *why)
{
    if (t->closing)
        return;
    t->close_err = err;
    t->close_why = why;
    tcp_close(&t->base, 1);
}

/* ---- reading --------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    if (t_readbuf_busy) {
        buf->base = malloc(65536);
        buf->len = buf->base ? 65536 : 0;
        return;
    }
    t_readbuf_busy = 1;
    buf->base = (char *)t_readbuf;
    buf->len = sizeof(t_readbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    tcp_transport *t = st->data;
    const lp2p_transport_events *ev = t->base.ev;
    if (nread > 0 && !t->closing && ev && ev->on_data)
        ev->on_data(t->base.ud, (const uint8_t *)buf->base, (size_t)nread);
    if (buf->base == (char *)t_readbuf)
        t_readbuf_busy = 0;
    else
        free(buf->base);
    if (nread >= 0 || t->closing)
        return;
    if (nread == UV_EOF) {
        t->eof = 1;
        uv_read_stop(st);
        if (ev && ev->on_eof)
            ev->on_eof(t->base.ud);
        return;
    }
    tcp_fail(t, LP2P_ERR_IO, uv_strerror((int)nread));
}

static void start_reading(tcp_transport *t)
{
    if (t->closing || t->connecting || t->paused || t->eof)
        return;
    int rc = uv_read_start((uv_stream_t *)&t->tcp, on_alloc, on_read);
    if (rc < 0)
        tcp_fail(t, LP2P_ERR_IO, uv_strerror(rc));
}

static void tcp_pause_read(lp2p_transport *bt, int paused)
{
    tcp_transport *t = tt(bt);
    t->paused = paused != 0;
    if (t->closing || t->connecting || t->eof)
        return;
    if (t->paused)
        uv_read_stop((uv_stream_t *)&t->tcp);
    else
        start_reading(t);
}

/* ---- writing --------------------------------------------------------------------------- */

static size_t tcp_pending(const lp2p_transport *bt)
{
    return ctt(bt)->tcp.write_queue_size;
}

static void on_write_done(uv_write_t *req, int status)
{
    tcp_wreq *w = (tcp_wreq *)req;
    tcp_transport *t = w->t;
    spare_put(&w->data);
    free(w);
    if (t->closing)
        return;
    if (status < 0) {
        tcp_fail(t, LP2P_ERR_IO, uv_strerror(status));
        return;
    }
    if (t->above_high && t->tcp.write_queue_size < t->base.low_water) {
        t->above_high = 0;
        if (t->base.ev && t->base.ev->on_writable)
            t->base.ev->on_writable(t->base.ud);
    }
}

static int tcp_write(lp2p_transport *bt, lp2p_buf *b)
{
    tcp_transport *t = tt(bt);
    if (t->closing || t->shut)
        return LP2P_ERR_STATE;
    size_t n = lp2p_buf_size(b);
    if (n == 0)
        return 0;
    tcp_wreq *w = malloc(sizeof(*w));
    if (!w)
        return LP2P_ERR_NOMEM;
    w->t = t;
    w->data = *b; /* move the buffer into the request: no copy */
    lp2p_buf_init(b);
    uv_buf_t ub = uv_buf_init((char *)lp2p_buf_head(&w->data), (unsigned)n);
    int rc = uv_write(&w->req, (uv_stream_t *)&t->tcp, &ub, 1, on_write_done);
    if (rc < 0) {
        lp2p_buf_free(&w->data);
        free(w);
        return LP2P_ERR_IO;
    }
    if (t->tcp.write_queue_size != 0) {
        spare_take(b); /* a busy writer: a warm spare for its next batch */
    } else if (w->data.cap >= TCP_GIVE_BACK_MIN) {
        /* libuv wrote a bulk batch all at once (or failed, which on_write_done reports)
         * and is done with the bytes: the caller gets its own buffer back, still in cache,
         * for its next batch. (A uv_try_write first would write twice after an error:
         * SIGPIPE.) A small write leaves the caller no buffer at all: an idle connection
         * holds none (10,000 of them at a relay). */
        *b = w->data;
        lp2p_buf_clear(b);
        lp2p_buf_init(&w->data);
    }
    if (t->tcp.write_queue_size >= t->base.high_water)
        t->above_high = 1;
    return 0;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status; /* a failed FIN shows up as a read or write error */
}

static int tcp_shutdown(lp2p_transport *bt)
{
    tcp_transport *t = tt(bt);
    if (t->closing || t->shut)
        return LP2P_ERR_STATE;
    t->shut = 1;
    int rc = uv_shutdown(&t->shutdown_req, (uv_stream_t *)&t->tcp, on_shutdown);
    return rc < 0 ? LP2P_ERR_IO : 0;
}

static const char *tcp_remote_addr(const lp2p_transport *bt)
{
    return ctt(bt)->remote;
}

static int tcp_peer_sockaddr(const lp2p_transport *bt, struct sockaddr_storage *out)
{
    const tcp_transport *t = ctt(bt);
    if (!t->has_peer)
        return LP2P_ERR_NOT_FOUND;
    *out = t->peer;
    return 0;
}

static const lp2p_transport_vtable k_tcp_vt = {
    .write = tcp_write,
    .pending = tcp_pending,
    .pause_read = tcp_pause_read,
    .shutdown = tcp_shutdown,
    .close = tcp_close,
    .remote_addr = tcp_remote_addr,
    .peer_sockaddr = tcp_peer_sockaddr,
};

/* ---- dialing --------------------------------------------------------------------------- */

static void on_connect(uv_connect_t *req, int status)
{
    tcp_transport *t = req->data;
    t->connecting = 0;
    if (t->closing)
        return; /* closed while connecting (UV_ECANCELED): on_closed follows */
    if (status < 0) {
        /* Reset while connecting: the peer's listener took the connection and reset it (a
         * refusal, e.g. a bridge with no session to offer), not an unreachable address. */
        tcp_fail(t, status == UV_ECONNRESET ? LP2P_ERR_RESET : LP2P_ERR_IO, uv_strerror(status));
        return;
    }
    lp2p_tcp_tune(&t->tcp);
    start_reading(t);
    if (!t->closing && t->base.ev && t->base.ev->on_connected)
        t->base.ev->on_connected(t->base.ud);
}

static void on_unowned_closed(uv_handle_t *hd)
{
    free(hd->data);
    transport_gone();
}

int lp2p_tcp_dial(uv_loop_t *loop, const struct sockaddr *local, const struct sockaddr *remote,
                  lp2p_transport **out)
{
    tcp_transport *t = tcp_transport_alloc();
    if (!t)
        return UV_ENOMEM;
    set_peer(t, remote);
    t->connecting = 1;
    int rc = lp2p_tcp_dial_socket(loop, &t->tcp, &t->connect_req, local, remote, on_connect);
    if (rc < 0) {
        if (t->tcp.loop)
            uv_close((uv_handle_t *)&t->tcp, on_unowned_closed);
        else
            on_unowned_closed((uv_handle_t *)&t->tcp);
        return rc;
    }
    *out = &t->base;
    return 0;
}

/* ---- listening ------------------------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status)
{
    lp2p_tcp_listener *l = server->data;
    if (status < 0)
        return;
    if (l->accepted >= ACCEPTS_PER_TURN) {
        l->deferred = 1; /* not accepted: libuv stops watching the socket until uv_accept */
        return;
    }
    l->accepted++;
    tcp_transport *t = tcp_transport_alloc();
    if (!t)
        return;
    uv_tcp_init(server->loop, &t->tcp);
    if (uv_accept(server, (uv_stream_t *)&t->tcp) != 0) {
        uv_close((uv_handle_t *)&t->tcp, on_unowned_closed);
        return;
    }
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&t->tcp, (struct sockaddr *)&ss, &len) == 0)
        set_peer(t, (struct sockaddr *)&ss);
    lp2p_tcp_tune(&t->tcp);
    l->cb(l->ud, &t->base);
    start_reading(t);
}

static void on_turn(uv_check_t *c)
{
    lp2p_tcp_listener *l = c->data;
    l->accepted = 0;
    if (l->deferred) {
        l->deferred = 0;
        on_connection((uv_stream_t *)&l->tcp, 0);
    }
}

static void on_listener_closed(uv_handle_t *hd)
{
    lp2p_tcp_listener *l = hd->data;
    if (--l->nhandles > 0)
        return;
    if (l->done)
        l->done(l->done_ud);
    free(l);
}

int lp2p_tcp_listener_new(uv_loop_t *loop, const struct sockaddr *addr, int backlog,
                          lp2p_tcp_accept_cb cb, void *ud, lp2p_tcp_listener **out)
{
    lp2p_tcp_listener *l = calloc(1, sizeof(*l));
    if (!l)
        return UV_ENOMEM;
    l->cb = cb;
    l->ud = ud;
    l->tcp.data = l;
    int rc = lp2p_tcp_listen(loop, &l->tcp, addr, backlog, on_connection, &l->bound);
    if (rc < 0) {
        if (l->tcp.loop) {
            l->nhandles = 1;
            uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        } else {
            free(l);
        }
        return rc;
    }
    l->nhandles = 2;
    uv_check_init(loop, &l->turn);
    l->turn.data = l;
    uv_check_start(&l->turn, on_turn);
    uv_unref((uv_handle_t *)&l->turn); /* the listener socket keeps the loop alive, not this */
    *out = l;
    return 0;
}

const struct sockaddr_storage *lp2p_tcp_listener_addr(const lp2p_tcp_listener *l)
{
    return &l->bound;
}

void lp2p_tcp_listener_close(lp2p_tcp_listener *l, void (*done)(void *ud), void *ud)
{
    l->done = done;
    l->done_ud = ud;
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
    uv_close((uv_handle_t *)&l->turn, on_listener_closed);
}
