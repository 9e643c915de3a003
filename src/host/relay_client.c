/* Circuit Relay v2, client side (libp2p-wire.md A8), on top of the host:
 *
 *   dial through:  <relay>/p2p/R/p2p-circuit/p2p/T
 *     [connect to R] → hop stream: CONNECT{peer T} → STATUS OK → the stream is a byte pipe
 *     that carries a full libp2p connection to T (multistream → Noise → Yamux, we initiate)
 *   accept through: stop stream from R: CONNECT{peer C} → STATUS OK → same, T responds
 *   reserve:       hop stream: RESERVE → STATUS OK {reservation, limit}; refreshed at 3/4 of
 *                  the TTL, and again (with backoff) after the relay connection drops.
 *
 * A relayed connection is an ordinary lp2p_conn whose transport is that stream
 * (lp2p_stream_transport_new): the upgrade pipeline, streams and services are the same as
 * over TCP. */
#include "host/host_internal.h"
#include "lp2p/err.h"
#include "lp2p/stream_transport.h"
#include "proto/relay_stop.h"
#include "util/log.h"
#include "wire/lpm.h"
#include "wire/multiaddr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Turns stream s into the transport of a new relayed connection and feeds it the bytes that
 * arrived after the relay's last message. */
static lp2p_conn *relayed_conn(lp2p_host *h, lp2p_stream *s, int initiator, const char *addr,
                               const lp2p_peer_id *expected, uint32_t limit_s, uint64_t limit_data,
                               const uint8_t *rest, size_t nrest)
{
    lp2p_transport *t;
    if (lp2p_stream_transport_new(s, addr, &t) < 0)
        return NULL;
    lp2p_conn *c = lp2p__conn_new(h, t, initiator, addr, expected);
    if (!c) {
        lp2p_transport_close(t, 1); /* resets s */
        return NULL;
    }
    c->relayed = 1;
    c->relay_limit_duration_s = limit_s;
    c->relay_limit_data = limit_data;
    c->relay_t0 = lp2p__now(h);
    lp2p__conn_start(c);
    if (nrest && c->stage != CONN_CLOSED)
        lp2p__conn_on_bytes(c, rest, nrest);
    return c;
}

/* go's relay cuts a circuit at its data limit per direction (FIN) and at its duration
 * (RST); rust's counts both directions together. Either way we see the carrying stream end
 * as if the peer closed. The bytes counted are the connection's raw bytes (handshakes
 * included), as the relay counts them; a second of slack covers the relay's clock starting
 * a little before ours. */
const char *lp2p__relay_limit_reason(const lp2p_conn *c)
{
    if (!c->relayed)
        return NULL;
    uint64_t d = c->relay_limit_data;
    if (d && (c->bytes_in >= d || c->bytes_out >= d || c->bytes_in + c->bytes_out >= d))
        return "relay limit reached: data";
    uint64_t lim_ms = (uint64_t)c->relay_limit_duration_s * 1000;
    if (lim_ms && lp2p__now(c->host) + 1000 >= c->relay_t0 + lim_ms)
        return "relay limit reached: duration";
    return NULL;
}

/* "<addr of the relay connection>/p2p/R/p2p-circuit" */
static void circuit_addr(lp2p_conn *relay_conn, char *out, size_t outlen)
{
    char base[LP2P_MULTIADDR_STR_MAX];
    snprintf(base, sizeof(base), "%s", relay_conn->remote_addr);
    char *p2p = strstr(base, "/p2p/");
    if (p2p)
        *p2p = 0;
    int n = snprintf(out, outlen, "%s/p2p/%s/p2p-circuit", base, relay_conn->peer_str);
    if (n < 0 || (size_t)n >= outlen)
        out[0] = 0; /* cannot happen with real addresses; never log half an address */
}

/* ---- dialing through a relay -------------------------------------------------------------- */

typedef struct circuit_dial {
    lp2p_host *h;
    lp2p_peer_id relay, target;
    char addr[LP2P_MULTIADDR_STR_MAX];
    lp2p_dial_cb cb;
    void *ud;
    lp2p_lpm lpm;
} circuit_dial;

static void cd_free(circuit_dial *d)
{
    lp2p_lpm_free(&d->lpm);
    free(d);
}

static void cd_fail(circuit_dial *d, int err, const char *why)
{
    lp2p_log(LP2P_WARN, "relay_dial_failed", LF_S("addr", d->addr), LF_S("reason", why),
             LF_B("relayed", 1));
    d->cb(NULL, err, d->ud);
}

static void cd_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    circuit_dial *d = ud;
    size_t used = 0;
    lp2p_view msg;
    int rc = lp2p_lpm_read(&d->lpm, p, n, &used, &msg);
    if (rc == 0)
        return;
    if (rc < 0) {
        cd_fail(d, rc, "malformed answer from the relay");
        lp2p_stream_reset(s);
        return;
    }
    int status = 0;
    uint32_t dur = 0;
    uint64_t data = 0;
    rc =
        lp2p_relay_client_on_connect_reply(msg.ptr, msg.len, &status, &dur, &data, &LP2P_TRACE_LOG);
    if (rc < 0) {
        char why[96];
        snprintf(why, sizeof(why), "relay refused: %s",
                 status ? lp2p_relay_status_name(status) : "malformed STATUS");
        cd_fail(d, status == 204 ? LP2P_ERR_NOT_FOUND : LP2P_ERR_REFUSED, why);
        lp2p_stream_reset(s);
        return;
    }
    lp2p_log(LP2P_INFO, "relay_circuit", LF_S("addr", d->addr), LF_S("direction", "outbound"),
             LF_U("limit_duration_s", dur), LF_U("limit_data", data));
    lp2p_conn *c = relayed_conn(d->h, s, 1, d->addr, &d->target, dur, data, p + used, n - used);
    lp2p_dial_cb cb = d->cb;
    void *cud = d->ud;
    cd_free(d);
    if (!c) {
        lp2p_stream_reset(s);
        cb(NULL, LP2P_ERR_NOMEM, cud);
        return;
    }
    if (c->stage != CONN_CLOSED) {
        c->dial_cb = cb;
        c->dial_ud = cud;
    }
}

static void cd_on_close(lp2p_stream *s, int err, void *ud)
{
    circuit_dial *d = ud;
    cd_fail(d, err ? err : LP2P_ERR_CLOSED, "hop stream closed before the relay answered");
    cd_free(d);
}

static const lp2p_stream_callbacks k_hop_dial = {.on_data = cd_on_data, .on_close = cd_on_close};

static void cd_with_relay(lp2p_conn *rc, int err, void *ud)
{
    circuit_dial *d = ud;
    if (err < 0 || !rc) {
        cd_fail(d, err < 0 ? err : LP2P_ERR_IO, "could not connect to the relay");
        cd_free(d);
        return;
    }
    lp2p_stream *s;
    int r = lp2p_conn_open_stream(rc, LP2P_RELAY_HOP_PROTO, &k_hop_dial, d, &s);
    if (r < 0) {
        cd_fail(d, r, "could not open a hop stream");
        cd_free(d);
        return;
    }
    lp2p_buf out;
    lp2p_buf_init(&out);
    lp2p_relay_client_connect(&d->target, &out);
    lp2p_stream_write(s, lp2p_buf_head(&out), lp2p_buf_size(&out));
    lp2p_buf_free(&out);
}

int lp2p__relay_dial(lp2p_host *h, const lp2p_multiaddr *ma, const char *text, lp2p_dial_cb cb,
                     void *ud)
{
    lp2p_multiaddr relay_addr = {0};
    circuit_dial *d = calloc(1, sizeof(*d));
    if (!d)
        return LP2P_ERR_NOMEM;
    int rc = lp2p_multiaddr_split_circuit(ma, &relay_addr, &d->relay, &d->target);
    if (rc < 0 || d->target.len == 0) {
        lp2p_multiaddr_free(&relay_addr);
        free(d);
        lp2p_log(LP2P_ERROR, "dial_failed", LF_S("addr", text),
                 LF_S("reason", "a relay address must be <relay>/p2p/R/p2p-circuit/p2p/TARGET"));
        return LP2P_ERR_INVAL;
    }
    d->h = h;
    d->cb = cb;
    d->ud = ud;
    snprintf(d->addr, sizeof(d->addr), "%s", text);
    lp2p_lpm_init(&d->lpm, LP2P_RELAY_MSG_MAX);
    lp2p_conn *existing = lp2p_host_find_conn(h, &d->relay);
    if (existing && !existing->relayed) {
        lp2p_multiaddr_free(&relay_addr);
        cd_with_relay(existing, 0, d);
        return 0;
    }
    if (relay_addr.len == 0) {
        cd_free(d);
        lp2p_log(LP2P_ERROR, "dial_failed", LF_S("addr", text),
                 LF_S("reason", "not connected to the relay and no address to reach it"));
        return LP2P_ERR_INVAL;
    }
    char rtext[LP2P_MULTIADDR_STR_MAX];
    lp2p_multiaddr_append_p2p(&relay_addr, &d->relay);
    lp2p_multiaddr_to_string(&relay_addr, rtext, sizeof(rtext));
    lp2p_multiaddr_free(&relay_addr);
    rc = lp2p_host_dial(h, rtext, cd_with_relay, d);
    if (rc < 0)
        cd_free(d);
    return rc;
}

/* ---- accepting through a relay (stop protocol) ------------------------------------------- */

typedef struct stop_ctx {
    lp2p_lpm lpm;
} stop_ctx;

static void stop_on_open(lp2p_stream *s, void *ud)
{
    stop_ctx *x = calloc(1, sizeof(*x));
    if (!x) {
        lp2p_stream_reset(s);
        return;
    }
    lp2p_lpm_init(&x->lpm, LP2P_RELAY_MSG_MAX);
    lp2p_stream_set_ud(s, x);
}

static void stop_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    stop_ctx *x = ud;
    lp2p_conn *rconn = lp2p_stream_conn(s);
    size_t used = 0;
    lp2p_view msg;
    int rc = lp2p_lpm_read(&x->lpm, p, n, &used, &msg);
    if (rc == 0)
        return;
    lp2p_buf reply;
    lp2p_buf_init(&reply);
    lp2p_peer_id src;
    uint32_t dur = 0;
    uint64_t data = 0;
    if (rc < 0 || rconn->relayed) {
        /* No circuits over circuits. */
        lp2p_relay_stop_reply(rc < 0 ? 400 : 202, &reply);
        lp2p_stream_write(s, lp2p_buf_head(&reply), lp2p_buf_size(&reply));
        lp2p_stream_close(s);
        lp2p_buf_free(&reply);
        return;
    }
    rc = lp2p_relay_stop_on_connect(msg.ptr, msg.len, &src, &dur, &data, &reply, &LP2P_TRACE_LOG);
    if (rc == 0)
        rc = lp2p_relay_stop_reply(100, &reply);
    lp2p_stream_write(s, lp2p_buf_head(&reply), lp2p_buf_size(&reply));
    lp2p_buf_free(&reply);
    if (rc < 0) {
        lp2p_log(LP2P_WARN, "relay_stop_refused", LF_S("relay", rconn->peer_str),
                 LF_S("reason", "malformed stop CONNECT"));
        lp2p_stream_close(s);
        return;
    }
    char addr[LP2P_MULTIADDR_STR_MAX], src_str[LP2P_PEER_ID_STR_MAX];
    circuit_addr(rconn, addr, sizeof(addr));
    lp2p_peer_id_to_string(&src, src_str, sizeof(src_str));
    size_t al = strlen(addr);
    snprintf(addr + al, sizeof(addr) - al, "/p2p/%s", src_str);
    lp2p_log(LP2P_INFO, "relay_circuit", LF_S("addr", addr), LF_S("direction", "inbound"),
             LF_U("limit_duration_s", dur), LF_U("limit_data", data));
    lp2p_lpm_free(&x->lpm);
    free(x);
    if (!relayed_conn(rconn->host, s, 0, addr, NULL, dur, data, p + used, n - used))
        lp2p_stream_reset(s);
}

static void stop_on_close(lp2p_stream *s, int err, void *ud)
{
    stop_ctx *x = ud;
    if (x) {
        lp2p_lpm_free(&x->lpm);
        free(x);
    }
}

static const lp2p_stream_callbacks k_stop = {
    .on_open = stop_on_open, .on_data = stop_on_data, .on_close = stop_on_close};

void lp2p__relay_register(lp2p_host *h)
{
    lp2p_host_handle(h, LP2P_RELAY_STOP_PROTO, &k_stop, NULL);
}
