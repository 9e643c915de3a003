/* Kaspa sessions in memory: client and server in one process with a fake clock; scripted
 * raw gRPC peers for the misbehaviour cases. Covers the handshake, every Reject reason,
 * timeouts, ping flow, gzip on/off, HTTP/2 keepalive, 1000 ping rounds, a 64 MiB burst. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "crypto/random.h"
#include "kaspa/grpc.h"
#include "kaspa/msg.h"
#include "kaspa/session.h"
#include "kaspa/kaspa_p2p.pb-c.h" /* the fields of kaspa_msg */
#include "lp2p/err.h"
#include "util/log.h"
#include "util/buf.h"

#include "test_trace.h"

/* ---- endpoints: a session or a raw gRPC peer ------------------------------------------------ */
typedef struct rec {
    int handshake, ready, pings, closed, closed_err, msgs;
    int kinds[64];
    uint32_t peer_version;
    char network[64], ua[300], reject_sent[300], reject_recv[300], closed_reason[300];
    uint64_t last_rtt;
    int has_adv;
    char adv[64];
    /* burst check */
    uint64_t burst_seen, burst_bad, burst_bytes;
} rec;

static void on_event(void *u, kaspa_session *s, const kaspa_event *ev)
{
    rec *r = u;
    switch (ev->type) {
    case KASPA_EV_HANDSHAKE:
        r->handshake++;
        r->peer_version = ev->u.handshake.version;
        snprintf(r->network, sizeof r->network, "%s", ev->u.handshake.network);
        snprintf(r->ua, sizeof r->ua, "%s", ev->u.handshake.user_agent);
        r->has_adv = ev->u.handshake.has_advertised;
        if (r->has_adv)
            kaspa_addr_format(&ev->u.handshake.advertised, r->adv, sizeof r->adv);
        break;
    case KASPA_EV_READY:
        r->ready++;
        break;
    case KASPA_EV_PING:
        r->pings++;
        r->last_rtt = ev->u.ping.rtt_ms;
        break;
    case KASPA_EV_MESSAGE:
        r->msgs++;
        r->kinds[ev->u.message.kind < 0 ? 0 : ev->u.message.kind % 64]++;
        if (ev->u.message.kind == KASPA_MSG_UNKNOWN &&
            kaspa_msg_unknown_tag(ev->u.message.msg) == 2) {
            /* burst message: block (2) with bytes i, i+1, ... */
            /* protobuf-c keeps a length-delimited unknown field with its length prefix */
            const ProtobufCMessageUnknownField *f = &ev->u.message.msg->base.unknown_fields[0];
            size_t off = 0, vlen = 0;
            for (int sh = 0; off < f->len; sh += 7) {
                vlen |= (size_t)(f->data[off] & 0x7f) << sh;
                if (!(f->data[off++] & 0x80))
                    break;
            }
            const uint8_t *d = f->data + off;
            size_t dl = f->len - off;
            int ok = dl == vlen && dl > 8;
            uint64_t idx = 0;
            if (ok)
                memcpy(&idx, d + dl - 8, 8);
            if (!ok || idx != r->burst_seen)
                r->burst_bad++;
            for (size_t i = 0; ok && i + 8 < dl; i++)
                if (d[i] != (uint8_t)(i * 31 + idx)) {
                    r->burst_bad++;
                    break;
                }
            r->burst_bytes += dl;
            r->burst_seen++;
        }
        break;
    case KASPA_EV_REJECT:
        snprintf(ev->u.reject.sent ? r->reject_sent : r->reject_recv, 300, "%s",
                 ev->u.reject.reason);
        break;
    case KASPA_EV_CLOSED:
        r->closed++;
        r->closed_err = ev->u.closed.err;
        snprintf(r->closed_reason, sizeof r->closed_reason, "%s",
                 ev->u.closed.reason ? ev->u.closed.reason : "");
        break;
    }
}

/* Raw gRPC peer: records every decoded message. */
typedef struct raw {
    kaspa_grpc *g;
    int opened, closed, close_err;
    int n;
    int kinds[256];
    uint64_t nonces[256];
    char reject[300];
    int64_t version_ts; /* the peer's Version.timestamp */
} raw;

static void raw_open(void *u)
{
    ((raw *)u)->opened = 1;
}

static int raw_msg(void *u, const uint8_t *p, size_t n)
{
    raw *r = u;
    kaspa_msg *m = kaspa_msg_decode(p, n);
    assert_non_null(m);
    if (r->n < 256) {
        r->kinds[r->n] = kaspa_msg_kind(m);
        if (m->payload_case == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING)
            r->nonces[r->n] = m->ping->nonce;
        if (m->payload_case == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION)
            r->version_ts = m->version->timestamp;
        if (m->payload_case == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REJECT)
            snprintf(r->reject, sizeof r->reject, "%s", m->reject->reason);
        r->n++;
    }
    kaspa_msg_free(m);
    return 0;
}

static void raw_close(void *u, int err, int st, const char *msg)
{
    raw *r = u;
    r->closed = 1;
    r->close_err = err;
}

static int raw_has(const raw *r, int kind)
{
    for (int i = 0; i < r->n; i++)
        if (r->kinds[i] == kind)
            return 1;
    return 0;
}

typedef struct ep {
    kaspa_session *s;
    raw *r;
} ep;

static lp2p_buf *ep_out(ep e)
{
    return e.s ? kaspa_session_out(e.s) : kaspa_grpc_out(e.r->g);
}

static void ep_recv(ep e, const uint8_t *p, size_t n, uint64_t now)
{
    if (e.s)
        kaspa_session_recv(e.s, p, n, now);
    else
        kaspa_grpc_recv(e.r->g, p, n, now);
}

/* Moves bytes both ways until neither side has anything to say. */
static void pump(ep a, ep b, uint64_t now)
{
    for (int i = 0; i < 1000000; i++) {
        lp2p_buf *ao = ep_out(a), *bo = ep_out(b);
        size_t an = lp2p_buf_size(ao), bn = lp2p_buf_size(bo);
        if (!an && !bn)
            return;
        if (an) {
            uint8_t *tmp = malloc(an);
            memcpy(tmp, lp2p_buf_head(ao), an);
            lp2p_buf_consume(ao, an);
            ep_recv(b, tmp, an, now);
            free(tmp);
        }
        if (bn) {
            uint8_t *tmp = malloc(bn);
            memcpy(tmp, lp2p_buf_head(bo), bn);
            lp2p_buf_consume(bo, bn);
            ep_recv(a, tmp, bn, now);
            free(tmp);
        }
    }
    fail_msg("pump did not settle");
}

static void drop_out(ep e)
{
    lp2p_buf *o = ep_out(e);
    lp2p_buf_consume(o, lp2p_buf_size(o));
}

/* ---- fixtures ------------------------------------------------------------------------------- */
typedef struct pair {
    kaspa_hub *hc, *hs;
    kaspa_session *c, *s;
    rec rc, rs;
} pair;

static kaspa_addr addr_of(const char *t)
{
    kaspa_addr a;
    assert_int_equal(kaspa_addr_parse(t, &a), 0);
    return a;
}

static void cfg_init(kaspa_session_config *c, kaspa_hub *h, kaspa_h2_profile prof, const char *peer)
{
    kaspa_session_config_default(c, h, prof);
    c->rng = LP2P_RNG_OPENSSL;
    c->peer_addr = addr_of(peer);
}

static void pair_new(pair *p, kaspa_session_config *cc, kaspa_session_config *sc, uint64_t now)
{
    kaspa_session_callbacks cb = {on_event};
    assert_int_equal(kaspa_session_new(&p->s, sc, KASPA_SERVER, &cb, &p->rs, now), 0);
    assert_int_equal(kaspa_session_new(&p->c, cc, KASPA_CLIENT, &cb, &p->rc, now), 0);
}

static void pair_default(pair *p, kaspa_h2_profile prof, uint64_t now)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(kaspa_hub_new(&p->hc, NULL, &LP2P_RNG_OPENSSL), 0);
    assert_int_equal(kaspa_hub_new(&p->hs, NULL, &LP2P_RNG_OPENSSL), 0);
    kaspa_session_config cc, sc;
    cfg_init(&cc, p->hc, prof, "127.0.0.1:16111");
    cfg_init(&sc, p->hs, prof, "127.0.0.1:40000");
    pair_new(p, &cc, &sc, now);
}

static void pair_free(pair *p)
{
    kaspa_session_del(p->c);
    kaspa_session_del(p->s);
    kaspa_hub_del(p->hc);
    kaspa_hub_del(p->hs);
}

#define EPS(x) ((ep){.s = (x)})
#define EPR(x) ((ep){.r = (x)})

static void raw_new(raw *r, int is_server, int gzip, uint64_t now)
{
    memset(r, 0, sizeof(*r));
    kaspa_grpc_config gc;
    kaspa_grpc_config_default(&gc, KASPA_H2_PROFILE_TCP);
    gc.gzip = gzip;
    kaspa_grpc_callbacks cb = {raw_open, raw_msg, raw_close};
    assert_int_equal(kaspa_grpc_new(&r->g, &gc, is_server, &cb, r, now), 0);
}

static void raw_send(raw *r, const kaspa_msg *m)
{
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(kaspa_msg_encode(m, &b), 0);
    assert_int_equal(kaspa_grpc_send(r->g, lp2p_buf_head(&b), lp2p_buf_size(&b)), 0);
    lp2p_buf_free(&b);
}

static const uint8_t RAW_ID[16] = {0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void raw_send_version(raw *r, uint32_t pv, const char *net, const uint8_t *id)
{
    Protowire__VersionMessage v = PROTOWIRE__VERSION_MESSAGE__INIT;
    v.protocolversion = pv;
    v.timestamp = 1764082501123;
    v.id.data = (uint8_t *)(uintptr_t)(id ? id : RAW_ID);
    v.id.len = 16;
    v.useragent = "/raw:0.1/";
    v.network = (char *)(uintptr_t)net;
    kaspa_msg m = PROTOWIRE__KASPAD_MESSAGE__INIT;
    m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION;
    m.version = &v;
    raw_send(r, &m);
}

static void raw_send_kind(raw *r, int kind, uint64_t nonce)
{
    Protowire__VerackMessage va = PROTOWIRE__VERACK_MESSAGE__INIT;
    Protowire__ReadyMessage rd = PROTOWIRE__READY_MESSAGE__INIT;
    Protowire__PingMessage pi = PROTOWIRE__PING_MESSAGE__INIT;
    Protowire__PongMessage po = PROTOWIRE__PONG_MESSAGE__INIT;
    kaspa_msg m = PROTOWIRE__KASPAD_MESSAGE__INIT;
    m.payload_case = kind;
    m.verack = &va; /* union: set the right member below */
    if (kind == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY)
        m.ready = &rd;
    if (kind == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING) {
        pi.nonce = nonce;
        m.ping = &pi;
    }
    if (kind == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PONG) {
        po.nonce = nonce;
        m.pong = &po;
    }
    raw_send(r, &m);
}

/* Raw client vs. a server session. */
typedef struct rawpair {
    kaspa_hub *hs;
    kaspa_session *s;
    rec rs;
    raw r;
} rawpair;

static void rawpair_new(rawpair *p, uint64_t now)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(kaspa_hub_new(&p->hs, NULL, &LP2P_RNG_OPENSSL), 0);
    kaspa_session_config sc;
    cfg_init(&sc, p->hs, KASPA_H2_PROFILE_TCP, "127.0.0.1:40001");
    kaspa_session_callbacks cb = {on_event};
    assert_int_equal(kaspa_session_new(&p->s, &sc, KASPA_SERVER, &cb, &p->rs, now), 0);
    raw_new(&p->r, 0, 1, now);
}

static void rawpair_free(rawpair *p)
{
    kaspa_session_del(p->s);
    kaspa_grpc_del(p->r.g);
    kaspa_hub_del(p->hs);
}

/* ---- tests ---------------------------------------------------------------------------------- */
static void test_handshake_and_address_exchange(void **state)
{
    pair p;
    pair_default(&p, KASPA_H2_PROFILE_TCP, 1000);
    pump(EPS(p.c), EPS(p.s), 1010);
    assert_true(kaspa_session_is_ready(p.c));
    assert_true(kaspa_session_is_ready(p.s));
    assert_int_equal(p.rc.handshake, 1);
    assert_int_equal(p.rs.handshake, 1);
    assert_int_equal(p.rc.ready, 1);
    assert_int_equal(p.rs.ready, 1);
    assert_int_equal(p.rc.peer_version, KASPA_PROTOCOL_VERSION_DEFAULT);
    assert_string_equal(p.rs.network, "kaspa-mainnet");
    assert_string_equal(p.rs.ua, "/kaspa-holepunch:" LP2P_VERSION "/");
    /* each side asked for addresses once and got an (empty) Addresses */
    assert_int_equal(p.rc.kinds[PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES], 1);
    assert_int_equal(p.rc.kinds[PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES], 1);
    assert_int_equal(p.rs.kinds[PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES], 1);
    assert_int_equal(kaspa_hub_count(p.hc), 1);
    assert_int_equal(kaspa_hub_count(p.hs), 1);
    assert_memory_equal(kaspa_session_peer_node_id(p.s), kaspa_hub_node_id(p.hc), 16);
    kaspa_session_stats st;
    kaspa_session_get_stats(p.c, &st);
    /* Version, Verack, Ready, RequestAddresses, Addresses each way */
    assert_int_equal(st.msgs_out, 5);
    assert_int_equal(st.msgs_in, 5);
    assert_true(st.bytes_out > 24 && st.bytes_in > 0);
    /* next deadline: our first Ping, 120 s after Ready */
    assert_int_equal(kaspa_session_next_deadline(p.c), 1010 + 120000);
    /* clean close by the client: the server sees the stream end, both finish */
    kaspa_session_close(p.c, NULL, 2000);
    pump(EPS(p.c), EPS(p.s), 2000);
    assert_int_equal(p.rs.closed, 1);
    assert_int_equal(p.rc.closed, 1);
    assert_true(kaspa_session_is_done(p.c));
    assert_true(kaspa_session_is_done(p.s));
    assert_int_equal(kaspa_hub_count(p.hs), 0);
    assert_int_equal(kaspa_hub_count(p.hc), 0);
    pair_free(&p);
}

/* Every gzip combination completes the handshake and the flows. */
static void run_gzip_case(int client_gzip, int server_gzip)
{
    kaspa_hub *hc, *hs;
    kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config cc, sc;
    cfg_init(&cc, hc, KASPA_H2_PROFILE_TCP, "127.0.0.1:16111");
    cfg_init(&sc, hs, KASPA_H2_PROFILE_TCP, "127.0.0.1:40000");
    cc.grpc.gzip = client_gzip;
    sc.grpc.gzip = server_gzip;
    pair p;
    memset(&p, 0, sizeof p);
    p.hc = hc;
    p.hs = hs;
    pair_new(&p, &cc, &sc, 0);
    pump(EPS(p.c), EPS(p.s), 5);
    assert_true(kaspa_session_is_ready(p.c));
    assert_true(kaspa_session_is_ready(p.s));
    kaspa_session_stats sts, stc;
    kaspa_session_get_stats(p.s, &sts);
    kaspa_session_get_stats(p.c, &stc);
    assert_int_equal(sts.msgs_in, 5);
    assert_int_equal(stc.msgs_in, 5);
    pair_free(&p);
}

/* The wire flag byte tells: raw peers observe what the session sends. */
static void test_gzip_negotiation_on_the_wire(void **state)
{
    for (int cg = 0; cg <= 1; cg++) {
        /* raw client (gzip cg) -> server session (gzip 1): server gzips only if offered */
        rawpair p;
        memset(&p, 0, sizeof p);
        kaspa_hub_new(&p.hs, NULL, &LP2P_RNG_OPENSSL);
        kaspa_session_config sc;
        cfg_init(&sc, p.hs, KASPA_H2_PROFILE_TCP, "127.0.0.1:40001");
        kaspa_session_callbacks cb = {on_event};
        assert_int_equal(kaspa_session_new(&p.s, &sc, KASPA_SERVER, &cb, &p.rs, 0), 0);
        raw_new(&p.r, 0, cg, 0);
        raw_send_version(&p.r, 10, "kaspa-mainnet", NULL);
        raw_send_kind(&p.r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK, 0);
        pump(EPS(p.s), EPR(&p.r), 1);
        uint64_t gz = 99, n = kaspa_grpc_msgs_in(p.r.g, &gz);
        assert_true(n >= 3); /* Version, Verack, Ready */
        assert_int_equal(gz, cg ? n : 0);
        assert_int_equal(p.rs.handshake, 1);
        rawpair_free(&p);
    }
    for (int sg = 0; sg <= 1; sg++) {
        /* client session -> raw server: a Kaspa client gzips every message when configured */
        kaspa_hub *hc;
        kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
        kaspa_session_config cc;
        cfg_init(&cc, hc, KASPA_H2_PROFILE_TCP, "127.0.0.1:16111");
        cc.grpc.gzip = sg;
        rec rc = {0};
        kaspa_session *c;
        kaspa_session_callbacks cb = {on_event};
        assert_int_equal(kaspa_session_new(&c, &cc, KASPA_CLIENT, &cb, &rc, 0), 0);
        raw r;
        raw_new(&r, 1, 1, 0);
        pump(EPS(c), EPR(&r), 1);
        assert_true(r.opened);
        assert_int_equal(r.n, 1); /* the client's Version, sent once response HEADERS came */
        assert_int_equal(r.kinds[0], PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION);
        uint64_t gz = 99;
        assert_int_equal(kaspa_grpc_msgs_in(r.g, &gz), 1);
        assert_int_equal(gz, sg ? 1 : 0);
        kaspa_session_del(c);
        kaspa_grpc_del(r.g);
        kaspa_hub_del(hc);
    }
    run_gzip_case(0, 0);
    run_gzip_case(0, 1);
    run_gzip_case(1, 0);
    run_gzip_case(1, 1);
}

static void test_reject_duplicate(void **state)
{
    pair p;
    pair_default(&p, KASPA_H2_PROFILE_TCP, 0);
    pump(EPS(p.c), EPS(p.s), 1);
    assert_true(kaspa_session_is_ready(p.s));
    /* a second client with the same node id from the same IP (other port) */
    kaspa_hub *h2;
    kaspa_hub_new(&h2, kaspa_hub_node_id(p.hc), &LP2P_RNG_OPENSSL);
    kaspa_session_config cc, sc;
    cfg_init(&cc, h2, KASPA_H2_PROFILE_TCP, "127.0.0.1:16111");
    cfg_init(&sc, p.hs, KASPA_H2_PROFILE_TCP, "127.0.0.1:40002");
    pair q;
    memset(&q, 0, sizeof q);
    pair_new(&q, &cc, &sc, 2);
    pump(EPS(q.c), EPS(q.s), 3);
    assert_string_equal(q.rs.reject_sent, KASPA_REJECT_DUPLICATE);
    assert_string_equal(q.rc.reject_recv, KASPA_REJECT_DUPLICATE);
    assert_int_equal(q.rs.closed_err, LP2P_ERR_EXISTS);
    assert_int_equal(q.rc.closed_err, LP2P_ERR_REFUSED);
    assert_int_equal(q.rs.ready, 0);
    assert_true(kaspa_session_is_done(q.s));
    assert_true(kaspa_session_is_done(q.c));
    /* the first connection is untouched; from another IP the same id is fine */
    assert_true(kaspa_session_is_ready(p.s));
    assert_int_equal(kaspa_hub_count(p.hs), 1);
    kaspa_session_del(q.c);
    kaspa_session_del(q.s);
    cfg_init(&sc, p.hs, KASPA_H2_PROFILE_TCP, "127.0.0.2:40002");
    memset(&q, 0, sizeof q);
    pair_new(&q, &cc, &sc, 4);
    pump(EPS(q.c), EPS(q.s), 5);
    assert_true(kaspa_session_is_ready(q.s));
    assert_int_equal(kaspa_hub_count(p.hs), 2);
    kaspa_session_del(q.c);
    kaspa_session_del(q.s);
    assert_int_equal(kaspa_hub_count(p.hs), 1);
    kaspa_hub_del(h2);
    pair_free(&p);
}

static void test_reject_loopback(void **state)
{
    kaspa_hub *h;
    kaspa_hub_new(&h, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config cc, sc;
    cfg_init(&cc, h, KASPA_H2_PROFILE_TCP, "127.0.0.1:16111");
    cfg_init(&sc, h, KASPA_H2_PROFILE_TCP, "127.0.0.1:40000");
    pair p;
    memset(&p, 0, sizeof p);
    pair_new(&p, &cc, &sc, 0);
    pump(EPS(p.c), EPS(p.s), 1);
    /* both see their own id; each sends LOOPBACK_CONNECTION */
    assert_string_equal(p.rs.reject_sent, KASPA_REJECT_LOOPBACK);
    assert_string_equal(p.rc.reject_sent, KASPA_REJECT_LOOPBACK);
    assert_int_equal(p.rs.ready + p.rc.ready, 0);
    assert_int_equal(kaspa_hub_count(h), 0);
    assert_true(kaspa_session_is_done(p.s));
    assert_true(kaspa_session_is_done(p.c));
    kaspa_session_del(p.c);
    kaspa_session_del(p.s);
    kaspa_hub_del(h);
}

static void test_reject_network_and_version(void **state)
{
    kaspa_hub *hc, *hs;
    kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config cc, sc;
    cfg_init(&cc, hc, KASPA_H2_PROFILE_TCP, "127.0.0.1:16111");
    cfg_init(&sc, hs, KASPA_H2_PROFILE_TCP, "127.0.0.1:40000");
    cc.network = "kaspa-testnet-10";
    pair p;
    memset(&p, 0, sizeof p);
    pair_new(&p, &cc, &sc, 0);
    pump(EPS(p.c), EPS(p.s), 1);
    assert_string_equal(p.rs.reject_sent,
                        "Network mismatch - local: kaspa-mainnet, remote: kaspa-testnet-10");
    assert_string_equal(p.rc.reject_sent,
                        "Network mismatch - local: kaspa-testnet-10, remote: kaspa-mainnet");
    assert_int_equal(p.rs.closed_err, LP2P_ERR_UNSUPPORTED);
    kaspa_session_del(p.c);
    kaspa_session_del(p.s);

    /* protocol version 6 (v0.16-era) against our minimum 7 */
    cc.network = "kaspa-mainnet";
    cc.protocol_version = 6;
    memset(&p, 0, sizeof p);
    pair_new(&p, &cc, &sc, 10);
    pump(EPS(p.c), EPS(p.s), 11);
    assert_string_equal(p.rs.reject_sent, "P2P protocol version mismatch - local: 10, remote: 6");
    assert_string_equal(p.rc.reject_recv, "P2P protocol version mismatch - local: 10, remote: 6");
    assert_int_equal(p.rc.ready, 0);
    kaspa_session_del(p.c);
    kaspa_session_del(p.s);

    /* higher versions are accepted (we run our own flows) */
    cc.protocol_version = 11;
    memset(&p, 0, sizeof p);
    pair_new(&p, &cc, &sc, 20);
    pump(EPS(p.c), EPS(p.s), 21);
    assert_true(kaspa_session_is_ready(p.s));
    assert_int_equal(p.rs.peer_version, 11);
    kaspa_session_del(p.c);
    kaspa_session_del(p.s);
    kaspa_hub_del(hc);
    kaspa_hub_del(hs);
}

static void test_duplicate_checked_before_loopback(void **state)
{
    /* rusty-kaspa's order: the duplicate check runs first. A peer that uses our own id from
     * an address already registered gets DUPLICATE_CONNECTION, not LOOPBACK_CONNECTION. */
    rawpair p;
    rawpair_new(&p, 0);
    /* register (our own id, 127.0.0.1) via a first raw connection that pretends to be us */
    raw_send_version(&p.r, 10, "kaspa-mainnet", kaspa_hub_node_id(p.hs));
    raw_send_kind(&p.r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK, 0);
    pump(EPS(p.s), EPR(&p.r), 1);
    assert_string_equal(p.r.reject, KASPA_REJECT_LOOPBACK);
    rawpair_free(&p);
    rawpair_new(&p, 0);
    raw_send_version(&p.r, 10, "kaspa-mainnet", NULL);
    raw_send_kind(&p.r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK, 0);
    pump(EPS(p.s), EPR(&p.r), 1);
    assert_int_equal(kaspa_hub_count(p.hs), 1);
    /* second raw connection, same id and IP, also wrong network: duplicate wins */
    kaspa_session_config sc;
    cfg_init(&sc, p.hs, KASPA_H2_PROFILE_TCP, "127.0.0.1:40009");
    rec rs2 = {0};
    kaspa_session *s2;
    kaspa_session_callbacks cb = {on_event};
    assert_int_equal(kaspa_session_new(&s2, &sc, KASPA_SERVER, &cb, &rs2, 2), 0);
    raw r2;
    raw_new(&r2, 0, 1, 2);
    raw_send_version(&r2, 3, "kaspa-devnet", NULL);
    raw_send_kind(&r2, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK, 0);
    pump(EPS(s2), EPR(&r2), 3);
    assert_string_equal(r2.reject, KASPA_REJECT_DUPLICATE);
    kaspa_session_del(s2);
    kaspa_grpc_del(r2.g);
    rawpair_free(&p);
}

static void test_verack_version_ready_timeouts(void **state)
{
    /* peer sends Version but never Verack */
    rawpair p;
    rawpair_new(&p, 1000);
    raw_send_version(&p.r, 10, "kaspa-mainnet", NULL);
    pump(EPS(p.s), EPR(&p.r), 1000);
    assert_true(raw_has(&p.r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK));
    assert_int_equal(kaspa_session_next_deadline(p.s), 5000);
    kaspa_session_tick(p.s, 4999);
    assert_int_equal(p.rs.closed, 0);
    kaspa_session_tick(p.s, 5000);
    pump(EPS(p.s), EPR(&p.r), 5000);
    assert_string_equal(p.r.reject, "handshake timeout: no Verack within 4000 ms");
    assert_int_equal(p.rs.closed_err, LP2P_ERR_TIMEOUT);
    assert_true(kaspa_session_is_done(p.s));
    rawpair_free(&p);

    /* peer opens the stream but sends nothing */
    rawpair_new(&p, 0);
    pump(EPS(p.s), EPR(&p.r), 0);
    kaspa_session_tick(p.s, 4000);
    pump(EPS(p.s), EPR(&p.r), 4000);
    assert_string_equal(p.r.reject, "handshake timeout: no Version within 4000 ms");
    rawpair_free(&p);

    /* peer sends Version and Verack but never Ready: 8 s after our Ready */
    rawpair_new(&p, 0);
    raw_send_version(&p.r, 10, "kaspa-mainnet", NULL);
    raw_send_kind(&p.r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK, 0);
    pump(EPS(p.s), EPR(&p.r), 100);
    assert_true(raw_has(&p.r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY));
    assert_int_equal(p.rs.handshake, 1);
    assert_int_equal(kaspa_session_next_deadline(p.s), 8100);
    kaspa_session_tick(p.s, 8099);
    assert_int_equal(p.rs.closed, 0);
    kaspa_session_tick(p.s, 8100);
    pump(EPS(p.s), EPR(&p.r), 8100);
    assert_string_equal(p.r.reject, "handshake timeout: no Ready within 8000 ms");
    assert_int_equal(kaspa_hub_count(p.hs), 0); /* unregistered on failure */
    rawpair_free(&p);

    /* client: the server never answers (no response HEADERS) within 10 s */
    kaspa_hub *hc;
    kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config cc;
    cfg_init(&cc, hc, KASPA_H2_PROFILE_TCP, "127.0.0.1:16111");
    rec rc = {0};
    kaspa_session *c;
    kaspa_session_callbacks cb = {on_event};
    assert_int_equal(kaspa_session_new(&c, &cc, KASPA_CLIENT, &cb, &rc, 0), 0);
    assert_int_equal(kaspa_session_next_deadline(c), 10000);
    kaspa_session_tick(c, 10000);
    assert_int_equal(rc.closed, 1);
    assert_int_equal(rc.closed_err, LP2P_ERR_TIMEOUT);
    assert_true(kaspa_session_is_done(c));
    kaspa_session_del(c);
    kaspa_hub_del(hc);
}

static void raw_handshake(rawpair *p, uint64_t now)
{
    raw_send_version(&p->r, 10, "kaspa-mainnet", NULL);
    raw_send_kind(&p->r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK, 0);
    raw_send_kind(&p->r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY, 0);
    pump(EPS(p->s), EPR(&p->r), now);
    assert_true(kaspa_session_is_ready(p->s));
}

static void test_ping_nonce_mismatch_and_timeout(void **state)
{
    rawpair p;
    rawpair_new(&p, 0);
    raw_handshake(&p, 10);
    /* the session pings by itself 120 s after Ready */
    assert_int_equal(kaspa_session_next_deadline(p.s), 10 + 120000);
    kaspa_session_tick(p.s, 120010);
    pump(EPS(p.s), EPR(&p.r), 120010);
    int last = p.r.n - 1;
    assert_int_equal(p.r.kinds[last], PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING);
    uint64_t nonce = p.r.nonces[last];
    /* right nonce: rtt reported */
    raw_send_kind(&p.r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PONG, nonce);
    pump(EPS(p.s), EPR(&p.r), 120050);
    assert_int_equal(p.rs.pings, 1);
    assert_int_equal(p.rs.last_rtt, 40);
    assert_int_equal(kaspa_session_next_deadline(p.s), 120050 + 120000);
    /* next ping, wrong nonce */
    kaspa_session_tick(p.s, 240050);
    pump(EPS(p.s), EPR(&p.r), 240050);
    last = p.r.n - 1;
    assert_int_equal(p.r.kinds[last], PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING);
    raw_send_kind(&p.r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PONG, p.r.nonces[last] + 1);
    pump(EPS(p.s), EPR(&p.r), 240060);
    assert_string_equal(p.r.reject, "ping nonce mismatch");
    assert_string_equal(p.rs.reject_sent, "ping nonce mismatch");
    assert_true(kaspa_session_is_done(p.s));
    rawpair_free(&p);

    /* no Pong at all: 120 s later */
    rawpair_new(&p, 0);
    raw_handshake(&p, 0);
    assert_int_equal(kaspa_session_ping(p.s, 5), 0);
    assert_int_equal(kaspa_session_ping(p.s, 6), LP2P_ERR_STATE); /* one at a time */
    pump(EPS(p.s), EPR(&p.r), 6);
    assert_int_equal(kaspa_session_next_deadline(p.s), 120005);
    kaspa_session_tick(p.s, 120005);
    pump(EPS(p.s), EPR(&p.r), 120005);
    assert_string_equal(p.r.reject, "ping timeout");
    rawpair_free(&p);

    /* unsolicited Pong */
    rawpair_new(&p, 0);
    raw_handshake(&p, 0);
    raw_send_kind(&p.r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PONG, 7);
    pump(EPS(p.s), EPR(&p.r), 1);
    assert_string_equal(p.r.reject, "unexpected Pong");
    rawpair_free(&p);
}

static uint64_t fake_wall_ms(void)
{
    return 1764082501999ull;
}

/* What the session needs from outside comes from its driver: a trace record for every
 * kaspa_* line, the hub's node id and the Ping nonces from the caller's randomness, and
 * Version.timestamp from the caller's clock. */
static void test_driver_hooks(void **state)
{
    const int PING = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING;
    const int PONG = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PONG;
    uint64_t seed = 99;
    lp2p_rng rng = test_rng(&seed);
    kaspa_hub *h2, *none = NULL;
    rawpair p;
    memset(&p, 0, sizeof p);
    assert_int_equal(kaspa_hub_new(&p.hs, NULL, &rng), 0);
    seed = 99;
    assert_int_equal(kaspa_hub_new(&h2, NULL, &rng), 0);
    assert_memory_equal(kaspa_hub_node_id(p.hs), kaspa_hub_node_id(h2), KASPA_NODE_ID_LEN);
    assert_int_equal(kaspa_hub_node_id(p.hs)[6] >> 4, 4); /* still a UUID v4 */
    assert_int_equal(kaspa_hub_new(&none, NULL, NULL), LP2P_ERR_STATE);
    assert_null(none);
    kaspa_hub_del(h2);

    trec_log log;
    uint64_t nseed = 5, expect_seed = 5;
    kaspa_session_config sc;
    cfg_init(&sc, p.hs, KASPA_H2_PROFILE_TCP, "127.0.0.1:40001");
    sc.peer_label = "raw-peer";
    sc.trace = trec_trace(&log);
    sc.rng = test_rng(&nseed);
    sc.wall_ms = fake_wall_ms;
    kaspa_session_callbacks cb = {on_event};
    kaspa_session_config norng = sc;
    norng.rng = (lp2p_rng){0};
    assert_int_equal(kaspa_session_new(&p.s, &norng, KASPA_SERVER, &cb, &p.rs, 0), LP2P_ERR_STATE);
    assert_int_equal(kaspa_session_new(&p.s, &sc, KASPA_SERVER, &cb, &p.rs, 0), 0);
    raw_new(&p.r, 0, 1, 0);
    raw_handshake(&p, 10);
    assert_int_equal(p.r.version_ts, 1764082501999);
    const trec *r = trec_find(&log, "kaspa_handshake");
    assert_int_equal(r->level, LP2P_INFO);
    assert_string_equal(trec_str(r, "peer"), "raw-peer");
    assert_int_equal(trec_u(r, "version"), 10);
    assert_string_equal(trec_str(r, "network"), "kaspa-mainnet");
    assert_string_equal(trec_str(r, "user_agent"), "/raw:0.1/");
    assert_int_equal(trec_u(r, "relayed"), 0);
    assert_string_equal(trec_str(trec_find(&log, "kaspa_ready"), "peer"), "raw-peer");

    /* our Ping's nonce is the rng's next 8 bytes; the Pong's RTT is reported */
    uint64_t want = 0;
    test_rng_fill(&expect_seed, &want, sizeof want);
    assert_int_equal(kaspa_session_ping(p.s, 20), 0);
    pump(EPS(p.s), EPR(&p.r), 20);
    int last = p.r.n - 1;
    assert_int_equal(p.r.kinds[last], PING);
    assert_int_equal(p.r.nonces[last], want);
    raw_send_kind(&p.r, PONG, want);
    pump(EPS(p.s), EPR(&p.r), 55);
    assert_int_equal(trec_u(trec_find(&log, "kaspa_ping"), "rtt_ms"), 35);

    /* a wrong Pong: the Reject we send and the end of the session are both reported */
    test_rng_fill(&expect_seed, &want, sizeof want);
    assert_int_equal(kaspa_session_ping(p.s, 60), 0);
    pump(EPS(p.s), EPR(&p.r), 60);
    assert_int_equal(p.r.nonces[p.r.n - 1], want);
    raw_send_kind(&p.r, PONG, want + 1);
    pump(EPS(p.s), EPR(&p.r), 70);
    r = trec_find(&log, "kaspa_reject");
    assert_int_equal(r->level, LP2P_WARN);
    assert_string_equal(trec_str(r, "reason"), "ping nonce mismatch");
    assert_string_equal(trec_str(r, "direction"), "sent");
    r = trec_find(&log, "kaspa_closed");
    assert_int_equal(r->level, LP2P_INFO);
    assert_string_equal(trec_str(r, "reason"), "ping nonce mismatch");
    assert_string_equal(trec_str(r, "err"), "PROTO");
    rawpair_free(&p);
}

static void test_answers_ping_and_request_addresses(void **state)
{
    rawpair p;
    rawpair_new(&p, 0);
    raw_handshake(&p, 1);
    int before = p.r.n;
    raw_send_kind(&p.r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING, 0x1122334455667788ull);
    Protowire__RequestAddressesMessage ra = PROTOWIRE__REQUEST_ADDRESSES_MESSAGE__INIT;
    kaspa_msg m = PROTOWIRE__KASPAD_MESSAGE__INIT;
    m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES;
    m.requestaddresses = &ra;
    raw_send(&p.r, &m);
    pump(EPS(p.s), EPR(&p.r), 2);
    assert_int_equal(p.r.n, before + 2);
    assert_int_equal(p.r.kinds[before], PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PONG);
    assert_int_equal(p.r.kinds[before + 1], PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES);
    assert_true(kaspa_session_is_ready(p.s));
    rawpair_free(&p);
}

static void test_message_before_ready_and_repeats_rejected(void **state)
{
    rawpair p;
    rawpair_new(&p, 0);
    raw_send_version(&p.r, 10, "kaspa-mainnet", NULL);
    raw_send_kind(&p.r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK, 0);
    raw_send_kind(&p.r, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING, 1);
    pump(EPS(p.s), EPR(&p.r), 1);
    assert_string_equal(p.r.reject, "no route for message type ping before Ready");
    rawpair_free(&p);

    rawpair_new(&p, 0);
    raw_handshake(&p, 0);
    raw_send_version(&p.r, 10, "kaspa-mainnet", NULL);
    pump(EPS(p.s), EPR(&p.r), 1);
    assert_string_equal(p.r.reject, "unexpected version after handshake");
    rawpair_free(&p);

    rawpair_new(&p, 0);
    raw_send_version(&p.r, 10, "kaspa-mainnet", NULL);
    raw_send_version(&p.r, 10, "kaspa-mainnet", NULL);
    pump(EPS(p.s), EPR(&p.r), 1);
    assert_string_equal(p.r.reject, "unexpected second Version");
    rawpair_free(&p);

    /* a bad node id length */
    rawpair_new(&p, 0);
    Protowire__VersionMessage v = PROTOWIRE__VERSION_MESSAGE__INIT;
    v.protocolversion = 10;
    v.id.data = (uint8_t *)"short";
    v.id.len = 5;
    v.network = "kaspa-mainnet";
    kaspa_msg m = PROTOWIRE__KASPAD_MESSAGE__INIT;
    m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION;
    m.version = &v;
    raw_send(&p.r, &m);
    pump(EPS(p.s), EPR(&p.r), 1);
    assert_string_equal(p.r.reject, "invalid node id length in Version");
    rawpair_free(&p);
}

static void test_unknown_payload_ignored_empty_rejected(void **state)
{
    rawpair p;
    rawpair_new(&p, 0);
    raw_handshake(&p, 0);
    /* invRelayBlock (14) and invTransactions (15) from a real node: ignored */
    uint8_t inv[36] = {0x72, 0x22, 0x0a, 0x20};
    assert_int_equal(kaspa_grpc_send(p.r.g, inv, sizeof inv), 0);
    const uint8_t invtx[] = {0x7a, 0x00};
    assert_int_equal(kaspa_grpc_send(p.r.g, invtx, sizeof invtx), 0);
    pump(EPS(p.s), EPR(&p.r), 1);
    kaspa_session_stats st;
    kaspa_session_get_stats(p.s, &st);
    assert_int_equal(st.msgs_ignored, 2);
    assert_true(kaspa_session_is_ready(p.s));
    assert_int_equal(p.rs.kinds[0], 2); /* KASPA_MSG_UNKNOWN counted in slot 0 */
    /* garbage protobuf: rejected */
    const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(kaspa_grpc_send(p.r.g, junk, sizeof junk), 0);
    pump(EPS(p.s), EPR(&p.r), 2);
    assert_string_equal(p.r.reject, "malformed KaspadMessage");
    rawpair_free(&p);

    rawpair_new(&p, 0);
    raw_handshake(&p, 0);
    const uint8_t empty[] = {0xb0, 0x06, 0x01}; /* request_id only */
    assert_int_equal(kaspa_grpc_send(p.r.g, empty, sizeof empty), 0);
    pump(EPS(p.s), EPR(&p.r), 1);
    assert_string_equal(p.r.reject, "message without payload");
    rawpair_free(&p);
}

static void test_received_reject_closes(void **state)
{
    pair p;
    pair_default(&p, KASPA_H2_PROFILE_TCP, 0);
    pump(EPS(p.c), EPS(p.s), 1);
    kaspa_session_close(p.s, "going away", 2);
    pump(EPS(p.c), EPS(p.s), 2);
    assert_string_equal(p.rc.reject_recv, "going away");
    assert_int_equal(p.rc.closed_err, LP2P_ERR_REFUSED);
    assert_true(kaspa_session_is_done(p.c));
    assert_true(kaspa_session_is_done(p.s));
    /* late sends fail cleanly */
    assert_int_equal(kaspa_session_ping(p.c, 3), LP2P_ERR_STATE);
    pair_free(&p);
}

static void test_1000_ping_rounds_both_ways(void **state)
{
    pair p;
    pair_default(&p, KASPA_H2_PROFILE_TCP, 0);
    uint64_t now = 1;
    pump(EPS(p.c), EPS(p.s), now);
    for (int i = 0; i < 1000; i++) {
        kaspa_session *who = (i & 1) ? p.s : p.c;
        assert_int_equal(kaspa_session_ping(who, now), 0);
        now += 3;
        pump(EPS(p.c), EPS(p.s), now);
    }
    assert_int_equal(p.rc.pings, 500);
    assert_int_equal(p.rs.pings, 500);
    assert_int_equal(p.rc.last_rtt, 3);
    assert_true(kaspa_session_is_ready(p.c) && kaspa_session_is_ready(p.s));
    kaspa_session_stats st;
    kaspa_session_get_stats(p.c, &st);
    assert_int_equal(st.msgs_out, 5 + 500 + 500); /* handshake + pings + pongs */
    pair_free(&p);
}

/* 64 MiB of 64 KiB "block" messages (payload 2, unknown to us), incompressible, in order. */
static void burst(kaspa_h2_profile prof, int gzip)
{
    kaspa_hub *hc, *hs;
    kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config cc, sc;
    cfg_init(&cc, hc, prof, "127.0.0.1:16111");
    cfg_init(&sc, hs, prof, "127.0.0.1:40000");
    cc.grpc.gzip = sc.grpc.gzip = gzip;
    pair p;
    memset(&p, 0, sizeof p);
    p.hc = hc;
    p.hs = hs;
    pair_new(&p, &cc, &sc, 0);
    pump(EPS(p.c), EPS(p.s), 1);
    const size_t body = 64 * 1024 - 16, count = 1024;
    uint8_t *m = malloc(body + 16);
    for (uint64_t i = 0; i < count; i++) {
        /* field 2 (block), wire type 2, length = body: 12 <varint> */
        size_t n = 0;
        m[n++] = 0x12;
        size_t l = body;
        while (l >= 0x80) {
            m[n++] = (uint8_t)(l | 0x80);
            l >>= 7;
        }
        m[n++] = (uint8_t)l;
        for (size_t j = 0; j + 8 < body; j++)
            m[n + j] = (uint8_t)(j * 31 + i); /* checked by the receiver */
        memcpy(m + n + body - 8, &i, 8);
        int rc = kaspa_session_send_raw(p.c, m, n + body);
        assert_int_equal(rc, 0);
    }
    free(m);
    pump(EPS(p.c), EPS(p.s), 2);
    assert_int_equal(p.rs.burst_seen, count);
    assert_int_equal(p.rs.burst_bad, 0);
    assert_int_equal(p.rs.burst_bytes, count * body);
    assert_int_equal(kaspa_session_send_queue(p.c), 0);
    assert_true(kaspa_session_is_ready(p.s) && kaspa_session_is_ready(p.c));
    /* still healthy afterwards */
    kaspa_session_ping(p.s, 3);
    pump(EPS(p.c), EPS(p.s), 4);
    assert_int_equal(p.rs.pings, 1);
    pair_free(&p);
}

static void test_burst_64mib_tcp_gzip(void **state)
{
    burst(KASPA_H2_PROFILE_TCP, 1);
}

static void test_burst_64mib_libp2p_identity(void **state)
{
    burst(KASPA_H2_PROFILE_LIBP2P, 0);
}

/* HTTP/2 frame header: length u24, type u8, flags u8, stream id u32. Returns the largest DATA
 * payload in a run of frames (skips the client preface if present). */
static size_t largest_data_frame(const uint8_t *p, size_t n)
{
    size_t best = 0, i = 0;
    if (n >= 24 && memcmp(p, "PRI * HTTP/2.0", 14) == 0)
        i = 24;
    while (i + 9 <= n) {
        size_t len = (size_t)p[i] << 16 | (size_t)p[i + 1] << 8 | p[i + 2];
        if (p[i + 3] == 0 && len > best)
            best = len;
        i += 9 + len;
    }
    return best;
}

static void test_frame_sizes_per_profile(void **state)
{
    /* gzip of zeros is tiny, so measure with identity: client gzip off */
    for (int prof = 0; prof <= 1; prof++) {
        kaspa_hub *hc, *hs;
        kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
        kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
        kaspa_session_config cc, sc;
        cfg_init(&cc, hc, (kaspa_h2_profile)prof, "127.0.0.1:16111");
        cfg_init(&sc, hs, (kaspa_h2_profile)prof, "127.0.0.1:40000");
        cc.grpc.gzip = 0;
        pair p;
        memset(&p, 0, sizeof p);
        p.hc = hc;
        p.hs = hs;
        pair_new(&p, &cc, &sc, 0);
        pump(EPS(p.c), EPS(p.s), 1);
        uint8_t *m = calloc(1, 512 * 1024);
        m[0] = 0x7a;
        m[1] = 0xfc;
        m[2] = 0xff;
        m[3] = 0x1f;
        assert_int_equal(kaspa_session_send_raw(p.c, m, 512 * 1024), 0);
        lp2p_buf *o = kaspa_session_out(p.c);
        size_t big = largest_data_frame(lp2p_buf_head(o), lp2p_buf_size(o));
        if (prof == KASPA_H2_PROFILE_TCP)
            assert_int_equal(big, 16384); /* hyper's default SETTINGS_MAX_FRAME_SIZE */
        else
            assert_true(big > 16384 && big <= (1u << 20)); /* the fork's 1 MiB frames */
        pump(EPS(p.c), EPS(p.s), 2);
        kaspa_session_stats st;
        kaspa_session_get_stats(p.s, &st);
        assert_int_equal(st.msgs_ignored, 1);
        free(m);
        pair_free(&p);
    }
}

static void test_send_queue_limit(void **state)
{
    kaspa_hub *hc, *hs;
    kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config cc, sc;
    cfg_init(&cc, hc, KASPA_H2_PROFILE_TCP, "127.0.0.1:16111");
    cfg_init(&sc, hs, KASPA_H2_PROFILE_TCP, "127.0.0.1:40000");
    cc.grpc.max_send_queue = 4u << 20;
    cc.grpc.gzip = 0;
    pair p;
    memset(&p, 0, sizeof p);
    p.hc = hc;
    p.hs = hs;
    pair_new(&p, &cc, &sc, 0);
    pump(EPS(p.c), EPS(p.s), 1);
    uint8_t *m = calloc(1, 1 << 20);
    m[0] = 0x7a; /* field 15, length-delimited */
    m[1] = 0xfc;
    m[2] = 0xff;
    m[3] = 0x3f; /* 1048572 = (1 << 20) - 4 */
    int rc = 0, sent = 0;
    while ((rc = kaspa_session_send_raw(p.c, m, 1 << 20)) == 0)
        sent++;
    assert_int_equal(rc, LP2P_ERR_LIMIT);
    /* at most queue limit + what fits in the peer's windows got accepted */
    assert_true(sent >= 4 && sent <= 8);
    pump(EPS(p.c), EPS(p.s), 2);
    assert_int_equal(kaspa_session_send_raw(p.c, m, 1 << 20), 0); /* drained: room again */
    pump(EPS(p.c), EPS(p.s), 3);
    kaspa_session_stats st;
    kaspa_session_get_stats(p.s, &st);
    assert_int_equal(st.msgs_ignored, (uint64_t)sent + 1);
    free(m);
    pair_free(&p);
}

static void test_message_size_limit(void **state)
{
    kaspa_hub *hc, *hs;
    kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config cc, sc;
    cfg_init(&cc, hc, KASPA_H2_PROFILE_TCP, "127.0.0.1:16111");
    cfg_init(&sc, hs, KASPA_H2_PROFILE_TCP, "127.0.0.1:40000");
    sc.grpc.max_message_size = 1000;
    pair p;
    memset(&p, 0, sizeof p);
    p.hc = hc;
    p.hs = hs;
    pair_new(&p, &cc, &sc, 0);
    pump(EPS(p.c), EPS(p.s), 1);
    assert_true(kaspa_session_is_ready(p.s));
    uint8_t m[2000] = {0x7a, 0xcd, 0x0f}; /* field 15, length 1997 */
    assert_int_equal(kaspa_session_send_raw(p.c, m, sizeof m), 0);
    pump(EPS(p.c), EPS(p.s), 2);
    assert_int_equal(p.rs.closed, 1);
    assert_int_equal(p.rs.closed_err, LP2P_ERR_TOO_LARGE);
    assert_int_equal(p.rc.closed, 1);
    assert_true(kaspa_session_is_done(p.s));
    pair_free(&p);
}

static void test_http2_keepalive_ping(void **state)
{
    pair p;
    pair_default(&p, KASPA_H2_PROFILE_LIBP2P, 0);
    pump(EPS(p.c), EPS(p.s), 0);
    assert_true(kaspa_session_is_ready(p.c));
    /* 30 s of silence: HTTP/2 PING (answered by nghttp2 on the other side) */
    assert_int_equal(kaspa_session_next_deadline(p.c), 30000);
    kaspa_session_tick(p.c, 30000);
    assert_true(lp2p_buf_size(kaspa_session_out(p.c)) >= 17); /* 9-byte header + 8 */
    assert_int_equal(kaspa_session_next_deadline(p.c), 40000);
    pump(EPS(p.c), EPS(p.s), 30010);
    assert_int_equal(kaspa_session_next_deadline(p.c), 60010); /* ACK came back */
    /* the server stops answering: 10 s after the next PING the client gives up */
    kaspa_session_tick(p.s, 60010);
    drop_out(EPS(p.s));
    kaspa_session_tick(p.c, 60010);
    drop_out(EPS(p.c));
    kaspa_session_tick(p.c, 70010);
    assert_int_equal(p.rc.closed, 1);
    assert_int_equal(p.rc.closed_err, LP2P_ERR_TIMEOUT);
    pair_free(&p);
}

/* A second gRPC call on the same connection is refused (one long-lived stream). Uses a
 * bare nghttp2 client so that two requests can be made. */
static uint32_t closed_code[8];
static int on_h2_stream_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
    if (sid > 0 && sid < 8)
        closed_code[sid] = code + 1; /* +1: 0 means "not closed" */
    return 0;
}

static void h2_to_session(nghttp2_session *h, kaspa_session *srv)
{
    const uint8_t *d;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(h, &d)) > 0)
        kaspa_session_recv(srv, d, (size_t)n, 1);
}

static void test_version_address_field(void **state)
{
    /* a public node advertises its address (IPv4 goes on the wire as 4 bytes) */
    kaspa_hub *hc, *hs;
    kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config cc, sc;
    cfg_init(&cc, hc, KASPA_H2_PROFILE_TCP, "127.0.0.1:16111");
    cfg_init(&sc, hs, KASPA_H2_PROFILE_TCP, "127.0.0.1:40000");
    kaspa_addr pub = addr_of("198.51.100.7:16111"), pub6 = addr_of("[2001:db8::7]:16112");
    cc.advertise = &pub;
    sc.advertise = &pub6;
    pair p;
    memset(&p, 0, sizeof p);
    p.hc = hc;
    p.hs = hs;
    pair_new(&p, &cc, &sc, 0);
    pump(EPS(p.c), EPS(p.s), 1);
    assert_true(p.rs.has_adv);
    assert_string_equal(p.rs.adv, "198.51.100.7:16111");
    assert_true(p.rc.has_adv);
    assert_string_equal(p.rc.adv, "[2001:db8::7]:16112");
    pair_free(&p);

    /* private by default: no address */
    pair_default(&p, KASPA_H2_PROFILE_TCP, 0);
    pump(EPS(p.c), EPS(p.s), 1);
    assert_false(p.rs.has_adv);
    pair_free(&p);

    /* an IP of 5 bytes is a conversion error upstream: Reject and close */
    rawpair r;
    rawpair_new(&r, 0);
    Protowire__NetAddress na = PROTOWIRE__NET_ADDRESS__INIT;
    na.ip.data = (uint8_t *)"\x01\x02\x03\x04\x05";
    na.ip.len = 5;
    na.port = 1;
    Protowire__VersionMessage v = PROTOWIRE__VERSION_MESSAGE__INIT;
    v.protocolversion = 10;
    v.id.data = (uint8_t *)(uintptr_t)RAW_ID;
    v.id.len = 16;
    v.network = "kaspa-mainnet";
    v.address = &na;
    kaspa_msg m = PROTOWIRE__KASPAD_MESSAGE__INIT;
    m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION;
    m.version = &v;
    raw_send(&r.r, &m);
    pump(EPS(r.s), EPR(&r.r), 1);
    assert_string_equal(r.r.reject, "invalid address in Version");
    rawpair_free(&r);
}

static void test_second_stream_refused(void **state)
{
    kaspa_hub *hs;
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config sc;
    cfg_init(&sc, hs, KASPA_H2_PROFILE_TCP, "127.0.0.1:40000");
    rec rs = {0};
    kaspa_session *srv;
    kaspa_session_callbacks cb = {on_event};
    assert_int_equal(kaspa_session_new(&srv, &sc, KASPA_SERVER, &cb, &rs, 0), 0);
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_h2_stream_close);
    nghttp2_session *h;
    assert_int_equal(nghttp2_session_client_new(&h, cbs, NULL), 0);
    nghttp2_session_callbacks_del(cbs);
    memset(closed_code, 0, sizeof closed_code);
    nghttp2_submit_settings(h, NGHTTP2_FLAG_NONE, NULL, 0);
#define NV(k, v) {(uint8_t *)(k), (uint8_t *)(v), sizeof(k) - 1, sizeof(v) - 1, 0}
    nghttp2_nv nv[] = {NV(":method", "POST"),
                       NV(":scheme", "http"),
                       NV(":path", "/protowire.P2P/MessageStream"),
                       NV(":authority", "x"),
                       NV("content-type", "application/grpc"),
                       NV("te", "trailers")};
#undef NV
    int32_t s1 = nghttp2_submit_headers(h, NGHTTP2_FLAG_NONE, -1, NULL, nv, 6, NULL);
    int32_t s2 = nghttp2_submit_headers(h, NGHTTP2_FLAG_NONE, -1, NULL, nv, 6, NULL);
    assert_int_equal(s1, 1);
    assert_int_equal(s2, 3);
    h2_to_session(h, srv);
    lp2p_buf *o = kaspa_session_out(srv);
    assert_true(nghttp2_session_mem_recv(h, lp2p_buf_head(o), lp2p_buf_size(o)) >= 0);
    lp2p_buf_consume(o, lp2p_buf_size(o));
    assert_int_equal(closed_code[3], NGHTTP2_REFUSED_STREAM + 1);
    assert_int_equal(closed_code[1], 0); /* the first call is alive */
    assert_int_equal(rs.closed, 0);
    nghttp2_session_del(h);
    kaspa_session_del(srv);
    kaspa_hub_del(hs);
}

/* Request header rules: unknown path or grpc-encoding -> trailers-only grpc-status 12
 * (UNIMPLEMENTED, as tonic); no grpc-accept-encoding gzip -> identity replies. */
static char h2_grpc_status[8], h2_grpc_encoding[16];
static int on_h2_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                        const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    if (nl == 11 && memcmp(name, "grpc-status", 11) == 0)
        snprintf(h2_grpc_status, sizeof h2_grpc_status, "%.*s", (int)vl, value);
    if (nl == 13 && memcmp(name, "grpc-encoding", 13) == 0)
        snprintf(h2_grpc_encoding, sizeof h2_grpc_encoding, "%.*s", (int)vl, value);
    return 0;
}

static void request_with(const char *path, const char *enc, const char *accept,
                         const char *want_status, const char *want_enc)
{
    kaspa_hub *hs;
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config sc;
    cfg_init(&sc, hs, KASPA_H2_PROFILE_TCP, "127.0.0.1:40000");
    rec rs = {0};
    kaspa_session *srv;
    kaspa_session_callbacks cb = {on_event};
    assert_int_equal(kaspa_session_new(&srv, &sc, KASPA_SERVER, &cb, &rs, 0), 0);
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_h2_header);
    nghttp2_session *h;
    assert_int_equal(nghttp2_session_client_new(&h, cbs, NULL), 0);
    nghttp2_session_callbacks_del(cbs);
    h2_grpc_status[0] = h2_grpc_encoding[0] = 0;
    nghttp2_submit_settings(h, NGHTTP2_FLAG_NONE, NULL, 0);
    nghttp2_nv nv[8];
    size_t n = 0;
#define NV(k, v)                                                                                   \
    nv[n++] = (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(uintptr_t)(v), strlen(k), strlen(v), 0}
    NV(":method", "POST");
    NV(":scheme", "http");
    NV(":path", path);
    NV(":authority", "x");
    NV("content-type", "application/grpc");
    NV("te", "trailers");
    if (enc)
        NV("grpc-encoding", enc);
    if (accept)
        NV("grpc-accept-encoding", accept);
#undef NV
    assert_int_equal(nghttp2_submit_headers(h, NGHTTP2_FLAG_NONE, -1, NULL, nv, n, NULL), 1);
    h2_to_session(h, srv);
    lp2p_buf *o = kaspa_session_out(srv);
    assert_true(nghttp2_session_mem_recv(h, lp2p_buf_head(o), lp2p_buf_size(o)) >= 0);
    lp2p_buf_consume(o, lp2p_buf_size(o));
    assert_string_equal(h2_grpc_status, want_status);
    assert_string_equal(h2_grpc_encoding, want_enc);
    if (want_status[0]) {
        assert_int_equal(rs.closed, 1); /* refused calls end the session */
        assert_int_equal(rs.handshake, 0);
    } else {
        assert_int_equal(rs.closed, 0);
    }
    nghttp2_session_del(h);
    kaspa_session_del(srv);
    kaspa_hub_del(hs);
}

static void test_request_header_rules(void **state)
{
    request_with("/protowire.RPC/MessageStream", NULL, NULL, "12", "");
    request_with("/protowire.P2P/MessageStream", "br", "gzip", "12", "");
    request_with("/protowire.P2P/MessageStream", "gzip", "gzip,identity", "", "gzip");
    request_with("/protowire.P2P/MessageStream", "identity", "identity", "", "");
    request_with("/protowire.P2P/MessageStream", NULL, NULL, "", "");
}

static void test_garbage_transport_bytes(void **state)
{
    pair p;
    pair_default(&p, KASPA_H2_PROFILE_TCP, 0);
    const char *junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_true(kaspa_session_recv(p.s, (const uint8_t *)junk, strlen(junk), 1) < 0);
    assert_int_equal(p.rs.closed, 1);
    assert_true(kaspa_session_is_done(p.s));
    pair_free(&p);
}

int main(void)
{
    lp2p_log_set_level(LP2P_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_address_exchange),
        cmocka_unit_test(test_gzip_negotiation_on_the_wire),
        cmocka_unit_test(test_reject_duplicate),
        cmocka_unit_test(test_reject_loopback),
        cmocka_unit_test(test_reject_network_and_version),
        cmocka_unit_test(test_duplicate_checked_before_loopback),
        cmocka_unit_test(test_verack_version_ready_timeouts),
        cmocka_unit_test(test_ping_nonce_mismatch_and_timeout),
        cmocka_unit_test(test_driver_hooks),
        cmocka_unit_test(test_answers_ping_and_request_addresses),
        cmocka_unit_test(test_message_before_ready_and_repeats_rejected),
        cmocka_unit_test(test_unknown_payload_ignored_empty_rejected),
        cmocka_unit_test(test_received_reject_closes),
        cmocka_unit_test(test_1000_ping_rounds_both_ways),
        cmocka_unit_test(test_burst_64mib_tcp_gzip),
        cmocka_unit_test(test_burst_64mib_libp2p_identity),
        cmocka_unit_test(test_frame_sizes_per_profile),
        cmocka_unit_test(test_send_queue_limit),
        cmocka_unit_test(test_message_size_limit),
        cmocka_unit_test(test_http2_keepalive_ping),
        cmocka_unit_test(test_version_address_field),
        cmocka_unit_test(test_second_stream_refused),
        cmocka_unit_test(test_request_header_rules),
        cmocka_unit_test(test_garbage_transport_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
