/* Kaspa handshake and flows as rusty-kaspa runs them (protocol/p2p/src/handshake.rs,
 * protocol/flows/src/flow_context.rs, v7 ping.rs/address.rs), sans-IO on kaspa_grpc.
 * Wire facts: ../shared/reference/kaspa-p2p-wire.md sections 3-5; the sequence diagram is in
 * include/kaspa/session.h. */
#include "kaspa/session.h"
#include "kaspa/hub.h"            /* src/kaspa/hub.h */
#include "kaspa/kaspa_p2p.pb-c.h" /* the fields of kaspa_msg */
#include "lp2p/err.h"
#include "util/buf.h"
#include "util/trace.h"
#include "util/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    S_WAIT_OPEN,  /* stream not open yet */
    S_HANDSHAKE,  /* Version sent, waiting for peer Version and Verack */
    S_WAIT_READY, /* checks passed, Ready sent, waiting for peer Ready */
    S_READY,      /* flows running */
    S_CLOSED,
};

struct kaspa_session {
    kaspa_session_config cfg;
    kaspa_role role;
    kaspa_session_callbacks cb;
    void *user;
    kaspa_grpc *grpc;
    int state;
    char peer_label[128];
    char peer_addr_str[64];
    char network[64];
    char user_agent[KASPA_USER_AGENT_MAX + 1];
    kaspa_addr advertise;
    int has_advertise;
    uint64_t start_ms;
    uint64_t now;
    /* handshake */
    int got_version, got_verack, got_ready, registered;
    uint8_t peer_id[KASPA_NODE_ID_LEN];
    uint32_t peer_version;
    char peer_network[64];
    char peer_ua[KASPA_USER_AGENT_MAX + 1];
    kaspa_addr peer_adv; /* Version.address */
    int peer_has_adv;
    uint64_t hs_deadline;
    uint64_t ready_deadline;
    /* ping flow */
    uint64_t next_ping;
    uint64_t pong_deadline; /* UINT64_MAX: no Ping outstanding */
    uint64_t ping_nonce;
    uint64_t ping_sent_at;
    kaspa_session_stats st;
    int closed_fired;
};

void kaspa_session_config_default(kaspa_session_config *c, kaspa_hub *hub, kaspa_h2_profile profile)
{
    memset(c, 0, sizeof(*c));
    c->hub = hub;
    kaspa_grpc_config_default(&c->grpc, profile);
    c->network = KASPA_NETWORK_DEFAULT;
    c->protocol_version = KASPA_PROTOCOL_VERSION_DEFAULT;
    c->min_peer_protocol_version = KASPA_MIN_PEER_PROTOCOL_VERSION_DEFAULT;
    c->max_unread = KASPA_MAX_UNREAD_DEFAULT;
    c->user_agent = "/kaspa-holepunch:" LP2P_VERSION "/";
    c->handshake_timeout_ms = 4000;
    c->ready_timeout_ms = 8000;
    c->ping_interval_ms = 120000;
    c->ping_timeout_ms = 120000;
    c->request_addresses = 1;
}

static void emit(kaspa_session *s, const kaspa_event *ev)
{
    if (s->cb.on_event)
        s->cb.on_event(s->user, s, ev);
}

static uint64_t rand64(const kaspa_session *s)
{
    uint64_t v = 0;
    /* A nonce only pairs a Pong with our one outstanding Ping: if the caller's source fails,
     * a fixed one still works. */
    if (lp2p_rng_fill(&s->cfg.rng, &v, sizeof v) != 0)
        v = 0x9e3779b97f4a7c15ull;
    return v;
}

static void unregister(kaspa_session *s)
{
    if (s->registered) {
        kaspa_hub_remove_(s->cfg.hub, s->peer_id, &s->cfg.peer_addr);
        s->registered = 0;
    }
}

static void fire_closed(kaspa_session *s, int err, const char *reason)
{
    if (s->closed_fired)
        return;
    s->closed_fired = 1;
    s->state = S_CLOSED;
    unregister(s);
    lp2p_emit(&s->cfg.trace, err ? LP2P_INFO : LP2P_DEBUG, "kaspa_closed",
              LF_S("peer", s->peer_label), LF_S("reason", reason ? reason : ""),
              LF_S("err", err ? lp2p_err_name(err) : "OK"));
    kaspa_event ev = {.type = KASPA_EV_CLOSED};
    ev.u.closed.err = err;
    ev.u.closed.reason = reason;
    emit(s, &ev);
}

static int pack_msg(void *m, uint8_t *dst, size_t len)
{
    return protowire__kaspad_message__pack(m, dst) == len ? 0 : LP2P_ERR_FATAL;
}

/* The protobuf is packed straight into the gRPC send queue (or the deflate input). */
static int send_msg(kaspa_session *s, const kaspa_msg *m)
{
    size_t n = protowire__kaspad_message__get_packed_size(m);
    int rc = kaspa_grpc_send_packed(s->grpc, n, pack_msg, (void *)(uintptr_t)m);
    if (rc == 0)
        s->st.msgs_out++;
    return rc;
}

/* On any failure: Reject{reason}, then close (rusty-kaspa's try_sending_reject_message). */
static void fail(kaspa_session *s, int err, const char *reason)
{
    if (s->state == S_CLOSED)
        return;
    char r[KASPA_REJECT_REASON_MAX + 1];
    snprintf(r, sizeof r, "%s", reason);
    lp2p_emit(&s->cfg.trace, LP2P_WARN, "kaspa_reject", LF_S("peer", s->peer_label),
              LF_S("reason", r), LF_S("direction", "sent"));
    Protowire__RejectMessage rj = PROTOWIRE__REJECT_MESSAGE__INIT;
    rj.reason = r;
    kaspa_msg m = PROTOWIRE__KASPAD_MESSAGE__INIT;
    m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REJECT;
    m.reject = &rj;
    if (s->state != S_WAIT_OPEN || s->role == KASPA_CLIENT)
        send_msg(s, &m);
    s->state = S_CLOSED; /* a callback below must not start a second Reject */
    kaspa_event ev = {.type = KASPA_EV_REJECT};
    ev.u.reject.sent = 1;
    ev.u.reject.reason = r;
    emit(s, &ev);
    kaspa_grpc_close(s->grpc, 0, NULL);
    fire_closed(s, err, r);
}

static int send_version(kaspa_session *s)
{
    Protowire__VersionMessage v = PROTOWIRE__VERSION_MESSAGE__INIT;
    Protowire__NetAddress na = PROTOWIRE__NET_ADDRESS__INIT;
    v.protocolversion = s->cfg.protocol_version;
    v.services = 0;
    /* milliseconds, as kaspad; only a time offset */
    v.timestamp = s->cfg.wall_ms ? (int64_t)s->cfg.wall_ms() : 0;
    v.id.data = (uint8_t *)(uintptr_t)kaspa_hub_node_id(s->cfg.hub);
    v.id.len = KASPA_NODE_ID_LEN;
    v.useragent = s->user_agent;
    v.disablerelaytx = 0;
    v.network = s->network;
    if (s->has_advertise) {
        int v4 = kaspa_addr_is_ipv4(&s->advertise);
        na.ip.data = s->advertise.ip + (v4 ? 12 : 0);
        na.ip.len = v4 ? 4 : 16;
        na.port = s->advertise.port;
        v.address = &na;
    }
    kaspa_msg m = PROTOWIRE__KASPAD_MESSAGE__INIT;
    m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION;
    m.version = &v;
    return send_msg(s, &m);
}

static int send_empty(kaspa_session *s, int kind)
{
    Protowire__VerackMessage va = PROTOWIRE__VERACK_MESSAGE__INIT;
    Protowire__ReadyMessage rd = PROTOWIRE__READY_MESSAGE__INIT;
    Protowire__RequestAddressesMessage ra = PROTOWIRE__REQUEST_ADDRESSES_MESSAGE__INIT;
    Protowire__AddressesMessage ad = PROTOWIRE__ADDRESSES_MESSAGE__INIT;
    kaspa_msg m = PROTOWIRE__KASPAD_MESSAGE__INIT;
    m.payload_case = kind;
    switch (kind) {
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK:
        m.verack = &va;
        break;
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY:
        m.ready = &rd;
        break;
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES:
        m.requestaddresses = &ra; /* includeAllSubnetworks=false, no subnetwork */
        break;
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES:
        m.addresses = &ad; /* we share no addresses: an empty list is valid */
        break;
    default:
        return LP2P_ERR_INVAL;
    }
    return send_msg(s, &m);
}

static int send_nonce(kaspa_session *s, int kind, uint64_t nonce)
{
    Protowire__PingMessage pi = PROTOWIRE__PING_MESSAGE__INIT;
    Protowire__PongMessage po = PROTOWIRE__PONG_MESSAGE__INIT;
    kaspa_msg m = PROTOWIRE__KASPAD_MESSAGE__INIT;
    m.payload_case = kind;
    if (kind == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING) {
        pi.nonce = nonce;
        m.ping = &pi;
    } else {
        po.nonce = nonce;
        m.pong = &po;
    }
    return send_msg(s, &m);
}

static void after_version_verack(kaspa_session *s, const kaspa_event *hs_ev);

/* Before a reply the peer provoked: 1 if it may be queued. A peer that sends Pings (or
 * RequestAddresses) and never reads the answers would grow our queues with every request
 * (20M Pings held 219 MB): past max_unread bytes already waiting for it, it is not reading,
 * and it goes. */
static int reply_room(kaspa_session *s)
{
    size_t q = kaspa_grpc_unsent(s->grpc);
    if (!s->cfg.max_unread || q <= s->cfg.max_unread)
        return 1;
    char why[128];
    snprintf(why, sizeof why, "peer does not read our replies: %zu bytes queued (limit %zu)", q,
             s->cfg.max_unread);
    /* No Reject: it would queue behind what the peer does not read. The queue is dropped
     * and the peer sent away with RST_STREAM and GOAWAY at once. */
    lp2p_emit(&s->cfg.trace, LP2P_WARN, "kaspa_reject", LF_S("peer", s->peer_label),
              LF_S("reason", why), LF_S("direction", "none"));
    s->state = S_CLOSED;
    kaspa_grpc_abort(s->grpc);
    fire_closed(s, LP2P_ERR_FLOOD, why);
    return 0;
}

static void start_handshake(kaspa_session *s)
{
    if (s->state != S_WAIT_OPEN)
        return;
    s->state = S_HANDSHAKE;
    s->hs_deadline = s->now + s->cfg.handshake_timeout_ms;
    int rc = send_version(s);
    if (rc)
        fail(s, rc, "cannot send Version");
}

static void enter_ready(kaspa_session *s)
{
    s->state = S_READY;
    s->ready_deadline = UINT64_MAX;
    uint64_t since = s->now - s->start_ms;
    lp2p_emit(&s->cfg.trace, LP2P_INFO, "kaspa_ready", LF_S("peer", s->peer_label),
              LF_U("ms_since_start", since));
    kaspa_event ev = {.type = KASPA_EV_READY};
    ev.u.ready.ms_since_start = since;
    emit(s, &ev);
    if (s->state != S_READY)
        return;
    if (s->cfg.request_addresses)
        send_empty(s, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES);
    s->next_ping = s->cfg.ping_interval_ms ? s->now + s->cfg.ping_interval_ms : UINT64_MAX;
}

/* Both Version and Verack are in: run rusty-kaspa's checks in its order, then send Ready. */
static void after_version_verack(kaspa_session *s, const kaspa_event *hs_ev)
{
    char why[256];
    s->hs_deadline = UINT64_MAX;
    if (kaspa_hub_contains(s->cfg.hub, s->peer_id, &s->cfg.peer_addr)) {
        fail(s, LP2P_ERR_EXISTS, KASPA_REJECT_DUPLICATE);
        return;
    }
    if (memcmp(s->peer_id, kaspa_hub_node_id(s->cfg.hub), KASPA_NODE_ID_LEN) == 0) {
        fail(s, LP2P_ERR_REFUSED, KASPA_REJECT_LOOPBACK);
        return;
    }
    if (strcmp(s->peer_network, s->network) != 0) {
        snprintf(why, sizeof why, "Network mismatch - local: %s, remote: %s", s->network,
                 s->peer_network);
        fail(s, LP2P_ERR_UNSUPPORTED, why);
        return;
    }
    if (s->peer_version < s->cfg.min_peer_protocol_version) {
        snprintf(why, sizeof why, "P2P protocol version mismatch - local: %u, remote: %u",
                 s->cfg.protocol_version, s->peer_version);
        fail(s, LP2P_ERR_UNSUPPORTED, why);
        return;
    }
    if (kaspa_hub_add_(s->cfg.hub, s->peer_id, &s->cfg.peer_addr) == 0)
        s->registered = 1;
    s->state = S_WAIT_READY;
    s->ready_deadline = s->now + s->cfg.ready_timeout_ms;
    emit(s, hs_ev);
    if (s->state != S_WAIT_READY)
        return;
    int rc = send_empty(s, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY);
    if (rc) {
        fail(s, rc, "cannot send Ready");
        return;
    }
    if (s->got_ready) /* the peer was faster: its Ready is already here */
        enter_ready(s);
}

static void on_version(kaspa_session *s, const Protowire__VersionMessage *v)
{
    if (v->id.len != KASPA_NODE_ID_LEN) {
        fail(s, LP2P_ERR_DECODE, "invalid node id length in Version");
        return;
    }
    memcpy(s->peer_id, v->id.data, KASPA_NODE_ID_LEN);
    s->peer_version = v->protocolversion;
    s->got_version = 1;
    snprintf(s->peer_ua, sizeof s->peer_ua, "%s", v->useragent ? v->useragent : "");
    snprintf(s->peer_network, sizeof s->peer_network, "%s", v->network ? v->network : "");
    if (v->address) {
        const Protowire__NetAddress *na = v->address;
        if ((na->ip.len != 4 && na->ip.len != 16) || na->port > 65535) {
            fail(s, LP2P_ERR_DECODE, "invalid address in Version");
            return;
        }
        if (na->ip.len == 4) {
            kaspa_addr_ipv4(&s->peer_adv, na->ip.data, (uint16_t)na->port);
        } else {
            memcpy(s->peer_adv.ip, na->ip.data, 16);
            s->peer_adv.port = (uint16_t)na->port;
        }
        s->peer_has_adv = 1;
    }
    int rc = send_empty(s, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK);
    if (rc)
        fail(s, rc, "cannot send Verack");
}

/* Version and Verack are both in: log and report, then run the checks. */
static void version_verack_done(kaspa_session *s)
{
    kaspa_event ev = {.type = KASPA_EV_HANDSHAKE};
    ev.u.handshake.version = s->peer_version;
    ev.u.handshake.network = s->peer_network;
    ev.u.handshake.user_agent = s->peer_ua;
    ev.u.handshake.addr = s->peer_addr_str;
    ev.u.handshake.node_id = s->peer_id;
    ev.u.handshake.has_advertised = s->peer_has_adv;
    ev.u.handshake.advertised = s->peer_adv;
    lp2p_emit(&s->cfg.trace, LP2P_INFO, "kaspa_handshake", LF_S("peer", s->peer_label),
              LF_U("version", s->peer_version), LF_S("network", s->peer_network),
              LF_S("user_agent", s->peer_ua), LF_S("addr", s->peer_addr_str),
              LF_B("relayed", s->cfg.relayed));
    after_version_verack(s, &ev);
}

static void handle(kaspa_session *s, const kaspa_msg *m, size_t wire_len)
{
    int kind = kaspa_msg_kind(m);
    char why[160];
    s->st.msgs_in++;
    if (kind == KASPA_MSG_EMPTY) {
        fail(s, LP2P_ERR_PROTO, "message without payload");
        return;
    }
    if (kind == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REJECT) {
        char r[KASPA_REJECT_REASON_MAX + 1];
        snprintf(r, sizeof r, "%s", m->reject->reason ? m->reject->reason : "");
        lp2p_emit(&s->cfg.trace, LP2P_WARN, "kaspa_reject", LF_S("peer", s->peer_label),
                  LF_S("reason", r), LF_S("direction", "received"));
        s->state = S_CLOSED;
        kaspa_event ev = {.type = KASPA_EV_REJECT};
        ev.u.reject.sent = 0;
        ev.u.reject.reason = r;
        emit(s, &ev);
        kaspa_grpc_close(s->grpc, 0, NULL);
        fire_closed(s, LP2P_ERR_REFUSED, r);
        return;
    }
    if (s->state == S_HANDSHAKE || s->state == S_WAIT_READY) {
        switch (kind) {
        case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION:
            if (s->got_version) {
                fail(s, LP2P_ERR_PROTO, "unexpected second Version");
                return;
            }
            on_version(s, m->version);
            if (s->state == S_HANDSHAKE && s->got_verack)
                version_verack_done(s);
            return;
        case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK:
            if (s->got_verack) {
                fail(s, LP2P_ERR_PROTO, "unexpected second Verack");
                return;
            }
            s->got_verack = 1;
            if (s->state == S_HANDSHAKE && s->got_version)
                version_verack_done(s);
            return;
        case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY:
            if (s->got_ready) {
                fail(s, LP2P_ERR_PROTO, "unexpected second Ready");
                return;
            }
            s->got_ready = 1;
            if (s->state == S_WAIT_READY)
                enter_ready(s);
            return;
        default:
            /* rusty-kaspa has no route for it yet: NoRouteForMessageType -> disconnect */
            snprintf(why, sizeof why, "no route for message type %s before Ready",
                     kaspa_msg_kind_name(kind));
            fail(s, LP2P_ERR_PROTO, why);
            return;
        }
    }
    if (s->state != S_READY)
        return;
    switch (kind) {
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION:
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK:
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY:
        snprintf(why, sizeof why, "unexpected %s after handshake", kaspa_msg_kind_name(kind));
        fail(s, LP2P_ERR_PROTO, why);
        return;
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING:
        if (reply_room(s))
            send_nonce(s, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PONG, m->ping->nonce);
        break;
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PONG:
        if (s->pong_deadline == UINT64_MAX) {
            /* kaspad's ping flow would read it as the answer to its next Ping: a mismatch */
            fail(s, LP2P_ERR_PROTO, "unexpected Pong");
            return;
        }
        if (m->pong->nonce != s->ping_nonce) {
            fail(s, LP2P_ERR_PROTO, "ping nonce mismatch");
            return;
        } else {
            uint64_t rtt = s->now - s->ping_sent_at;
            s->pong_deadline = UINT64_MAX;
            if (s->cfg.ping_interval_ms)
                s->next_ping = s->now + s->cfg.ping_interval_ms;
            lp2p_emit(&s->cfg.trace, LP2P_INFO, "kaspa_ping", LF_S("peer", s->peer_label),
                      LF_U("rtt_ms", rtt));
            kaspa_event ev = {.type = KASPA_EV_PING};
            ev.u.ping.rtt_ms = rtt;
            ev.u.ping.nonce = s->ping_nonce;
            emit(s, &ev);
            if (s->state != S_READY)
                return;
        }
        break;
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES:
        if (reply_room(s))
            send_empty(s, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES);
        break;
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES:
        if (m->addresses->n_addresslist > KASPA_MAX_ADDRESSES) {
            fail(s, LP2P_ERR_PROTO, "address count exceeded");
            return;
        }
        break;
    default:
        s->st.msgs_ignored++; /* blocks, transactions, inv*: tolerated, not needed here */
        break;
    }
    kaspa_event ev = {.type = KASPA_EV_MESSAGE};
    ev.u.message.kind = kind;
    ev.u.message.msg = m;
    ev.u.message.wire_len = wire_len;
    emit(s, &ev);
}

/* ---- gRPC callbacks ------------------------------------------------------------------------- */
static void g_open(void *ud)
{
    start_handshake(ud);
}

static int g_message(void *ud, const uint8_t *p, size_t n)
{
    kaspa_session *s = ud;
    if (s->state == S_CLOSED)
        return 0;
    if (s->state == S_WAIT_OPEN) /* a server may get messages before its response HEADERS */
        start_handshake(s);
    kaspa_msg *m = kaspa_msg_decode(p, n);
    if (!m) {
        fail(s, LP2P_ERR_DECODE, "malformed KaspadMessage");
        return 0;
    }
    handle(s, m, n);
    kaspa_msg_free(m);
    return 0;
}

static void g_close(void *ud, int err, int grpc_status, const char *msg)
{
    kaspa_session *s = ud;
    char r[300];
    if (s->state == S_CLOSED)
        return;
    if (grpc_status > 0)
        snprintf(r, sizeof r, "grpc-status %d%s%s", grpc_status, msg ? ": " : "", msg ? msg : "");
    else
        snprintf(r, sizeof r, "%s", msg ? msg : "stream closed by peer");
    kaspa_grpc_close(s->grpc, 0, NULL);
    fire_closed(s, err ? err : LP2P_ERR_CLOSED, r);
}

/* ---- public API -------------------------------------------------------------------------------
 */
int kaspa_session_new(kaspa_session **out, const kaspa_session_config *cfg, kaspa_role role,
                      const kaspa_session_callbacks *cb, void *user, uint64_t now_ms)
{
    if (!cfg || !cfg->hub || !cfg->network)
        return LP2P_ERR_INVAL;
    if (!cfg->rng.fn)
        return LP2P_ERR_STATE; /* no randomness for our Ping nonces */
    kaspa_session *s = calloc(1, sizeof(*s));
    if (!s)
        return LP2P_ERR_NOMEM;
    s->cfg = *cfg;
    s->role = role;
    if (cb)
        s->cb = *cb;
    s->user = user;
    s->start_ms = s->now = now_ms;
    s->hs_deadline = s->ready_deadline = s->next_ping = s->pong_deadline = UINT64_MAX;
    snprintf(s->user_agent, sizeof s->user_agent, "%s",
             cfg->user_agent ? cfg->user_agent : "/kaspa-holepunch:" LP2P_VERSION "/");
    if (cfg->advertise) {
        s->advertise = *cfg->advertise;
        s->has_advertise = 1;
    }
    s->cfg.advertise = NULL;
    kaspa_addr_format(&cfg->peer_addr, s->peer_addr_str, sizeof s->peer_addr_str);
    snprintf(s->peer_label, sizeof s->peer_label, "%s",
             cfg->peer_label ? cfg->peer_label : s->peer_addr_str);
    s->cfg.peer_label = NULL;
    snprintf(s->network, sizeof s->network, "%s", cfg->network);
    s->cfg.network = s->network;
    s->cfg.user_agent = s->user_agent;
    kaspa_grpc_callbacks gcb = {g_open, g_message, g_close};
    int rc = kaspa_grpc_new(&s->grpc, &s->cfg.grpc, role == KASPA_SERVER, &gcb, s, now_ms);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void kaspa_session_del(kaspa_session *s)
{
    if (!s)
        return;
    unregister(s);
    kaspa_grpc_del(s->grpc);
    free(s);
}

int kaspa_session_recv(kaspa_session *s, const uint8_t *in, size_t len, uint64_t now_ms)
{
    s->now = now_ms;
    s->st.bytes_in += len;
    int rc = kaspa_grpc_recv(s->grpc, in, len, now_ms);
    if (rc && s->state != S_CLOSED)
        fire_closed(s, rc, lp2p_strerror(rc));
    return rc;
}

lp2p_buf *kaspa_session_out(kaspa_session *s)
{
    return kaspa_grpc_out(s->grpc);
}

uint64_t kaspa_session_next_deadline(const kaspa_session *s)
{
    uint64_t d = kaspa_grpc_next_deadline(s->grpc);
    if (s->state == S_CLOSED)
        return d;
    if (s->hs_deadline < d)
        d = s->hs_deadline;
    if (s->ready_deadline < d)
        d = s->ready_deadline;
    if (s->state == S_READY) {
        if (s->pong_deadline < d)
            d = s->pong_deadline;
        else if (s->pong_deadline == UINT64_MAX && s->next_ping < d)
            d = s->next_ping;
    }
    return d;
}

int kaspa_session_tick(kaspa_session *s, uint64_t now_ms)
{
    char why[128];
    s->now = now_ms;
    if (s->state == S_HANDSHAKE && now_ms >= s->hs_deadline) {
        snprintf(why, sizeof why, "handshake timeout: no %s within %llu ms",
                 !s->got_version ? "Version" : "Verack",
                 (unsigned long long)s->cfg.handshake_timeout_ms);
        fail(s, LP2P_ERR_TIMEOUT, why);
    } else if (s->state == S_WAIT_READY && now_ms >= s->ready_deadline) {
        snprintf(why, sizeof why, "handshake timeout: no Ready within %llu ms",
                 (unsigned long long)s->cfg.ready_timeout_ms);
        fail(s, LP2P_ERR_TIMEOUT, why);
    } else if (s->state == S_READY) {
        if (s->pong_deadline != UINT64_MAX && now_ms >= s->pong_deadline)
            fail(s, LP2P_ERR_TIMEOUT, "ping timeout");
        else if (s->pong_deadline == UINT64_MAX && now_ms >= s->next_ping)
            kaspa_session_ping(s, now_ms);
    }
    int rc = kaspa_grpc_tick(s->grpc, now_ms);
    if (rc && s->state != S_CLOSED)
        fire_closed(s, rc, lp2p_strerror(rc));
    return 0;
}

int kaspa_session_is_done(const kaspa_session *s)
{
    return kaspa_grpc_is_done(s->grpc);
}

int kaspa_session_is_ready(const kaspa_session *s)
{
    return s->state == S_READY;
}

void kaspa_session_transport_closed(kaspa_session *s, uint64_t now_ms)
{
    s->now = now_ms;
    kaspa_grpc_transport_closed(s->grpc);
    fire_closed(s, LP2P_ERR_CLOSED, "transport closed");
}

int kaspa_session_send(kaspa_session *s, const kaspa_msg *m)
{
    if (s->state != S_READY)
        return LP2P_ERR_STATE;
    return send_msg(s, m);
}

int kaspa_session_send_raw(kaspa_session *s, const uint8_t *pb, size_t n)
{
    if (s->state != S_READY)
        return LP2P_ERR_STATE;
    int rc = kaspa_grpc_send(s->grpc, pb, n);
    if (rc == 0)
        s->st.msgs_out++;
    return rc;
}

int kaspa_session_ping(kaspa_session *s, uint64_t now_ms)
{
    if (s->state != S_READY || s->pong_deadline != UINT64_MAX)
        return LP2P_ERR_STATE;
    s->now = now_ms;
    s->ping_nonce = rand64(s);
    s->ping_sent_at = now_ms;
    s->pong_deadline = now_ms + s->cfg.ping_timeout_ms;
    int rc = send_nonce(s, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING, s->ping_nonce);
    if (rc)
        s->pong_deadline = UINT64_MAX;
    return rc;
}

int kaspa_session_close(kaspa_session *s, const char *reason, uint64_t now_ms)
{
    s->now = now_ms;
    if (s->state == S_CLOSED)
        return 0;
    if (reason) {
        fail(s, 0, reason);
    } else {
        kaspa_grpc_close(s->grpc, 0, NULL);
        fire_closed(s, 0, "closed locally");
    }
    return kaspa_grpc_flush(s->grpc);
}

void kaspa_session_get_stats(const kaspa_session *s, kaspa_session_stats *st)
{
    *st = s->st;
    st->bytes_out = kaspa_grpc_bytes_out(s->grpc);
    kaspa_grpc_msgs_in(s->grpc, &st->msgs_in_gzip);
    st->sending_gzip = kaspa_grpc_sending_gzip(s->grpc);
}

const char *kaspa_session_peer_label(const kaspa_session *s)
{
    return s->peer_label;
}

const uint8_t *kaspa_session_peer_node_id(const kaspa_session *s)
{
    return s->got_version ? s->peer_id : NULL;
}

size_t kaspa_session_send_queue(const kaspa_session *s)
{
    return kaspa_grpc_send_queue(s->grpc);
}

size_t kaspa_session_unsent(const kaspa_session *s)
{
    return kaspa_grpc_unsent(s->grpc);
}

int kaspa_session_hold_data(kaspa_session *s, int hold)
{
    return kaspa_grpc_hold_data(s->grpc, hold);
}
