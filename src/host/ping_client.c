/* lp2p/ping.h: the ping dialer core (proto/ping.h) on one host stream, timed in
 * microseconds so that loopback RTTs below a millisecond show. */
#include "lp2p/ping.h"

#include "crypto/random.h"
#include "lp2p/err.h"
#include "lp2p/identity.h"
#include "proto/ping.h"
#include "util/log.h"

#include <stdlib.h>
#include <uv.h>

struct lp2p_pinger {
    lp2p_stream *s; /* NULL between streams: the peer ended an idle one, the next send reopens */
    lp2p_host *host;
    lp2p_peer_id peer; /* the next stream goes on whatever connection the host has to it */
    int rtts;          /* echoes seen: a peer ending the stream before the first one fails */
    lp2p_ping core;
    lp2p_pinger_callbacks cb;
    void *ud;
};

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000u;
}

static void pinger_free(lp2p_pinger *p)
{
    lp2p_ping_free(&p->core);
    free(p);
}

static void fail(lp2p_pinger *p, const char *reason)
{
    if (p->s)
        lp2p_stream_detach(p->s, 1);
    p->s = NULL;
    if (p->cb.on_fail)
        p->cb.on_fail(p, reason, p->ud);
    pinger_free(p);
}

static void on_data(lp2p_stream *s, const uint8_t *d, size_t n, void *ud)
{
    lp2p_pinger *p = ud;
    int rc = lp2p_ping_recv(&p->core, d, n, now_us());
    if (rc < 0)
        fail(p, "echo did not match");
    else if (rc > 0 && ++p->rtts && p->cb.on_rtt)
        p->cb.on_rtt(p, (double)p->core.last_rtt_ms / 1000.0, p->ud); /* counted in us */
}

static int open_stream(lp2p_pinger *p, lp2p_conn *c);

/* go-libp2p closes (FIN) and js-libp2p resets a ping stream idle for 10 s
 * (go p2p/protocol/ping/ping.go pingTimeout), so with an interval above that every later ping
 * needs a new stream. Between pings that is no failure: the stream is dropped and the next
 * lp2p_pinger_send opens one. A ping in flight is sent again on a new stream at once. */
static int idle_end(lp2p_pinger *p, const char *event)
{
    if (p->rtts == 0)
        return 0;
    char peer[128] = "";
    lp2p_peer_id_to_string(&p->peer, peer, sizeof(peer));
    lp2p_log(LP2P_INFO, event, LF_S("peer", peer), LF_B("in_flight", p->core.waiting));
    if (!p->core.waiting)
        return 1;
    lp2p_conn *c = lp2p_host_find_conn(p->host, &p->peer);
    return c && open_stream(p, c) == 0 && lp2p_pinger_send(p) == 0;
}

static void on_eof(lp2p_stream *s, void *ud)
{
    lp2p_pinger *p = ud;
    lp2p_stream_detach(s, 0);
    p->s = NULL;
    if (!idle_end(p, "ping_stream_ended"))
        fail(p, "stream closed early");
}

static void on_close(lp2p_stream *s, int err, void *ud)
{
    lp2p_pinger *p = ud;
    p->s = NULL;
    if (err == LP2P_ERR_RESET && idle_end(p, "ping_stream_replaced"))
        return;
    fail(p, err ? lp2p_strerror(err) : "stream closed early");
}

static const lp2p_stream_callbacks k_cb = {
    .on_data = on_data, .on_eof = on_eof, .on_close = on_close};

/* A fresh stream and dialer state on c (the echo of the old stream can no longer come). */
static int open_stream(lp2p_pinger *p, lp2p_conn *c)
{
    lp2p_ping_free(&p->core);
    lp2p_ping_init(&p->core, LP2P_PING_DIALER, (uint64_t)LP2P_PING_TIMEOUT_MS * 1000u);
    p->core.rng = LP2P_RNG_OPENSSL;
    p->core.trace = LP2P_TRACE_LOG;
    return lp2p_conn_open_stream(c, LP2P_PING_PROTO, &k_cb, p, &p->s);
}

int lp2p_pinger_open(lp2p_conn *c, const lp2p_pinger_callbacks *cb, void *ud, lp2p_pinger **out)
{
    lp2p_pinger *p = calloc(1, sizeof(*p));
    if (!p)
        return LP2P_ERR_NOMEM;
    p->cb = *cb;
    p->ud = ud;
    p->host = lp2p_conn_host(c);
    p->peer = *lp2p_conn_peer(c);
    lp2p_ping_init(&p->core, LP2P_PING_DIALER, (uint64_t)LP2P_PING_TIMEOUT_MS * 1000u);
    int rc = open_stream(p, c);
    if (rc < 0) {
        pinger_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int lp2p_pinger_send(lp2p_pinger *p)
{
    if (p->core.waiting)
        return LP2P_ERR_STATE;
    if (!p->s) { /* the peer ended the idle stream: a new one on its current connection */
        lp2p_conn *c = lp2p_host_find_conn(p->host, &p->peer);
        int orc = c ? open_stream(p, c) : LP2P_ERR_CLOSED;
        if (orc < 0)
            return orc;
    }
    int rc = lp2p_ping_send(&p->core, NULL, now_us());
    if (rc < 0)
        return rc;
    lp2p_stream_write(p->s, lp2p_buf_head(&p->core.out), lp2p_buf_size(&p->core.out));
    lp2p_buf_clear(&p->core.out);
    return 0;
}

int lp2p_pinger_waiting(const lp2p_pinger *p)
{
    return p->core.waiting;
}

void lp2p_pinger_close(lp2p_pinger *p)
{
    if (!p)
        return;
    if (p->s)
        lp2p_stream_detach(p->s, 0);
    pinger_free(p);
}
