/* Identify service (libp2p-wire.md A6): answers /ipfs/id/1.0.0 with our key, listen
 * addresses (and a signed peer record of them), protocols, agent and the address we see the
 * peer at; on every new connection asks the peer the same and logs `identify`. The observed
 * address the peer reports is how we learn our NAT mapping. Push is accepted and merged. */
#include "host/host_internal.h"
#include "lp2p/err.h"
#include "net/wall_clock.h"
#include "util/log.h"
#include "wire/multiaddr.h"

#include <stdlib.h>
#include <string.h>

#define PROTOCOL_VERSION "ipfs/0.1.0"

/* What the peer told us, per connection (conn->slots[HOST_SLOT_IDENTIFY]). */
typedef struct id_peer {
    lp2p_identify_info info;
    int identified;
} id_peer;

static id_peer *peer_state(lp2p_conn *c)
{
    id_peer *p = c->slots[HOST_SLOT_IDENTIFY];
    if (!p && (p = calloc(1, sizeof(*p))) != NULL) {
        lp2p_identify_info_init(&p->info);
        c->slots[HOST_SLOT_IDENTIFY] = p;
    }
    return p;
}

int lp2p_conn_identified(const lp2p_conn *c)
{
    const id_peer *p = c->slots[HOST_SLOT_IDENTIFY];
    return p && p->identified;
}

typedef struct id_reader_ctx {
    lp2p_identify_reader r;
    int push;
} id_reader_ctx;

static void id_on_open(lp2p_stream *s, void *ud)
{
    lp2p_conn *c = lp2p_stream_conn(s);
    lp2p_host *h = c->host;
    lp2p_identify_info info;
    lp2p_identify_info_init(&info);
    size_t pklen;
    info.public_key = (uint8_t *)lp2p_keypair_pubkey(h->cfg.identity, &pklen);
    info.public_key_len = pklen;

    /* Concrete addresses only (0.0.0.0 expanded): in listenAddrs and the signed record. */
    lp2p_multiaddr mas[HOST_MAX_ADVERTISED];
    uint8_t *abytes[HOST_MAX_ADVERTISED];
    size_t alens[HOST_MAX_ADVERTISED];
    size_t na = lp2p__host_advertised_addrs(h, mas, HOST_MAX_ADVERTISED);
    for (size_t i = 0; i < na; i++) {
        abytes[i] = mas[i].bytes;
        alens[i] = mas[i].len;
    }
    info.listen_addrs = abytes;
    info.listen_addr_lens = alens;
    info.n_listen_addrs = na;

    const char *protos[HOST_MAX_HANDLERS];
    info.n_protocols = lp2p__host_protocols(h, protos, HOST_MAX_HANDLERS);
    info.protocols = (char **)protos;

    lp2p_multiaddr obs = {0};
    if (lp2p_multiaddr_parse(&obs, c->remote_addr, NULL, 0) == 0) {
        info.observed_addr = obs.bytes;
        info.observed_addr_len = obs.len;
    }
    info.protocol_version = (char *)PROTOCOL_VERSION;
    info.agent_version = (char *)h->cfg.agent;

    uint8_t *rec = NULL;
    size_t reclen = 0;
    if (lp2p_peer_record_seal(h->cfg.identity, lp2p_wall_ms(), (const uint8_t *const *)abytes,
                              alens, na, &rec, &reclen) == 0) {
        info.signed_peer_record = rec;
        info.signed_peer_record_len = reclen;
    }
    lp2p_buf out;
    lp2p_buf_init(&out);
    int rc = lp2p_identify_encode(&info, &out, NULL, NULL, &LP2P_TRACE_LOG);
    if (rc == 0)
        lp2p_stream_write(s, lp2p_buf_head(&out), lp2p_buf_size(&out));
    lp2p_stream_close(s);
    lp2p_buf_free(&out);
    free(rec);
    lp2p_multiaddr_free(&obs);
    for (size_t i = 0; i < na; i++)
        lp2p_multiaddr_free(&mas[i]);
}

static void id_on_data_ignore(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    (void)s;
    (void)p;
    (void)n;
}

static const lp2p_stream_callbacks k_id_server = {
    .on_open = id_on_open,
    .on_data = id_on_data_ignore,
};

/* ---- asking the peer ------------------------------------------------------------------- */

static char *ma_text(const uint8_t *b, size_t n)
{
    lp2p_multiaddr ma = {0};
    char buf[LP2P_MULTIADDR_STR_MAX];
    if (lp2p_multiaddr_from_bytes(&ma, b, n, NULL, 0) != 0)
        return NULL;
    int rc = lp2p_multiaddr_to_string(&ma, buf, sizeof(buf));
    lp2p_multiaddr_free(&ma);
    return rc == 0 ? strdup(buf) : NULL;
}

static void report(lp2p_conn *c, const lp2p_identify_info *in)
{
    lp2p_host *h = c->host;
    char *observed = in->observed_addr ? ma_text(in->observed_addr, in->observed_addr_len) : NULL;
    /* protocols as a JSON array for the log */
    lp2p_buf js;
    lp2p_buf_init(&js);
    lp2p_buf_append_byte(&js, '[');
    for (size_t i = 0; i < in->n_protocols; i++) {
        if (i)
            lp2p_buf_append_byte(&js, ',');
        lp2p_buf_append_byte(&js, '"');
        for (const char *q = in->protocols[i]; *q; q++)
            if (*q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
                lp2p_buf_append_byte(&js, (uint8_t)*q);
        lp2p_buf_append_byte(&js, '"');
    }
    lp2p_buf_append(&js, "]", 2); /* with NUL */
    char **listen = calloc(in->n_listen_addrs + 1, sizeof(char *));
    size_t nl = 0;
    for (size_t i = 0; listen && i < in->n_listen_addrs; i++) {
        char *t = ma_text(in->listen_addrs[i], in->listen_addr_lens[i]);
        if (t)
            listen[nl++] = t;
    }
    lp2p_log(LP2P_INFO, "identify", LF_S("peer", c->peer_str),
             LF_S("agent", in->agent_version ? in->agent_version : ""),
             LF_J("protocols", (const char *)lp2p_buf_head(&js)),
             LF_S("observed", observed ? observed : ""), LF_B("relayed", c->relayed),
             LF_B("signed_record", in->record_verified));
    lp2p_identify_result r = {
        .agent = in->agent_version,
        .protocol_version = in->protocol_version,
        .protocols = (const char *const *)in->protocols,
        .nprotocols = in->n_protocols,
        .observed = observed,
        .listen_addrs = (const char *const *)listen,
        .nlisten = nl,
    };
    lp2p__host_emit_identify(h, c, &r);
    for (size_t i = 0; i < nl; i++)
        free(listen[i]);
    free(listen);
    free(observed);
    lp2p_buf_free(&js);
}

static void idr_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    id_reader_ctx *x = ud;
    int rc = lp2p_identify_reader_recv(&x->r, p, n, lp2p__now(lp2p_stream_conn(s)->host));
    if (rc < 0) {
        lp2p_log(LP2P_WARN, "identify_failed", LF_S("peer", lp2p_stream_conn(s)->peer_str),
                 LF_S("reason", lp2p_strerror(rc)));
        lp2p_stream_reset(s);
    }
}

static void idr_on_eof(lp2p_stream *s, void *ud)
{
    id_reader_ctx *x = ud;
    lp2p_conn *c = lp2p_stream_conn(s);
    lp2p_identify_info got;
    lp2p_identify_info_init(&got);
    int rc = lp2p_identify_reader_finish(&x->r, &c->peer, &got);
    if (rc < 0) {
        lp2p_log(LP2P_WARN, "identify_failed", LF_S("peer", c->peer_str),
                 LF_S("reason", lp2p_strerror(rc)));
        lp2p_identify_info_free(&got);
        lp2p_stream_reset(s);
        if (lp2p_err_is_fatal(rc))
            lp2p__conn_fail(c, rc, "identify: public key does not match the peer ID");
        return;
    }
    id_peer *ps = peer_state(c);
    if (!ps) {
        lp2p_identify_info_free(&got);
        lp2p_stream_reset(s);
        return;
    }
    if (x->push && ps->identified) {
        lp2p_identify_apply_push(&ps->info, &got);
        lp2p_identify_info_free(&got);
    } else {
        lp2p_identify_info_free(&ps->info);
        ps->info = got;
    }
    ps->identified = 1;
    lp2p_stream_close(s);
    report(c, &ps->info);
}

static void idr_on_close(lp2p_stream *s, int err, void *ud)
{
    id_reader_ctx *x = ud;
    lp2p_identify_reader_free(&x->r);
    free(x);
}

static const lp2p_stream_callbacks k_id_client = {
    .on_data = idr_on_data,
    .on_eof = idr_on_eof,
    .on_close = idr_on_close,
};

static void push_on_open(lp2p_stream *s, void *ud)
{
    id_reader_ctx *x = calloc(1, sizeof(*x));
    if (!x) {
        lp2p_stream_reset(s);
        return;
    }
    x->push = 1;
    lp2p_identify_reader_init(&x->r, lp2p__now(lp2p_stream_conn(s)->host), 0);
    x->r.trace = LP2P_TRACE_LOG;
    lp2p_stream_set_ud(s, x);
}

static const lp2p_stream_callbacks k_id_push = {
    .on_open = push_on_open,
    .on_data = idr_on_data,
    .on_eof = idr_on_eof,
    .on_close = idr_on_close,
};

/* Every new connection asks the peer who it is. */
static void id_on_connected(lp2p_conn *c, void *ud)
{
    id_reader_ctx *x = calloc(1, sizeof(*x));
    if (!x)
        return;
    lp2p_identify_reader_init(&x->r, lp2p__now(c->host), 0);
    x->r.trace = LP2P_TRACE_LOG;
    lp2p_stream *s;
    if (lp2p_conn_open_stream(c, LP2P_IDENTIFY_PROTO, &k_id_client, x, &s) < 0) {
        lp2p_identify_reader_free(&x->r);
        free(x);
        return;
    }
    /* We send nothing on an identify stream: close our side at once. */
    lp2p_stream_close(s);
}

static void id_on_disconnected(lp2p_conn *c, int reason, void *ud)
{
    id_peer *p = c->slots[HOST_SLOT_IDENTIFY];
    c->slots[HOST_SLOT_IDENTIFY] = NULL;
    if (p) {
        lp2p_identify_info_free(&p->info);
        free(p);
    }
}

void lp2p__identify_register(lp2p_host *h)
{
    lp2p_host_handle(h, LP2P_IDENTIFY_PROTO, &k_id_server, NULL);
    lp2p_host_handle(h, LP2P_IDENTIFY_PUSH_PROTO, &k_id_push, NULL);
    /* After the app and the hole punch: their streams are opened first, as they always were. */
    host_observer o = {.cb = {.on_connected = id_on_connected}, .order = 20};
    lp2p__host_observe(h, &o);
    /* What the peer told us is released last (disconnects run in reverse order): every
     * on_disconnected may still ask lp2p_conn_identified. */
    host_observer last = {.cb = {.on_disconnected = id_on_disconnected}, .order = -20};
    lp2p__host_observe(h, &last);
}
