/* The host: listeners, dialing, protocol handlers, one connection per peer, and the
 * before-sleep hook that flushes every connection's output in one write (redis'
 * handleClientsWithPendingWrites pattern) and frees closed streams. */
#include "host/host_internal.h"
#include "crypto/random.h"
#include "lp2p/err.h"
#include "net/tcp.h"
#include "net/tcp_transport.h"
#include "util/log.h"
#include "wire/multiaddr.h"

#include <stdlib.h>
#include <string.h>

void lp2p_host_config_default(lp2p_host_config *c, uv_loop_t *loop, const lp2p_keypair *id)
{
    memset(c, 0, sizeof(*c));
    c->loop = loop;
    c->identity = id;
    c->agent = "kaspa-holepunch/" LP2P_VERSION;
    c->dial_timeout_ms = 10000;
    c->handshake_timeout_ms = 10000;
    c->max_conns = 256;
    c->conn_grace_ms = 2000;
    c->max_streams_per_conn = 512;
    c->max_stream_window = 16u << 20;
    c->holepunch = 1;
    c->holepunch_repunch_delay_ms = 10000;
}

/* The last handle of a closed host is gone: release what outlived the connections. */
void lp2p__host_free(lp2p_host *h)
{
    lp2p_relay_quota_del(h->relay_quota);
    lp2p_noise_static_wipe(&h->noise_static);
    lp2p_x25519_wipe(&h->spare_e);
    lp2p_buf_free(&h->spr);
    lp2p_buf_free(&h->spr_addrs);
    free(h);
}

static void host_handle_closed(uv_handle_t *hd)
{
    lp2p_host *h = hd->data;
    if (--h->open_handles == 0 && h->closing)
        lp2p__host_free(h);
}

static void listener_closed(void *ud)
{
    host_listener *l = ud;
    lp2p_host *h = l->host;
    free(l->text);
    free(l);
    if (--h->open_handles == 0 && h->closing)
        lp2p__host_free(h);
}

static void gc_streams(lp2p_host *h)
{
    while (!lp2p_list_empty(&h->gc)) {
        lp2p_list *e = h->gc.next;
        lp2p_list_remove(e);
        lp2p__stream_free(lp2p_container_of(e, lp2p_stream, link));
    }
}

/* Runs once per loop iteration before the loop polls: writers told they may go on write,
 * then every connection with output pulls its streams and writes, in as few transport
 * writes as its high-water mark allows. Pulling can tell more writers they may go on (their
 * queues drained below the low mark): they are served in the same iteration, round after
 * round, until nothing is left or every transport is full (each round moves at least a
 * writer's low-to-high span, so it ends; the cap only guards against a writer that
 * re-queues itself without sending). What is left waits for the next I/O's hook. */
#define FLUSH_ROUNDS 64

static void on_before_sleep(uv_prepare_t *p)
{
    lp2p_host *h = p->data;
    for (int round = 0; round < FLUSH_ROUNDS; round++) {
        lp2p__stream_deliver_writable(h);
        lp2p__mem_retry(h); /* window grants the budget withheld, where there is room again */
        if (lp2p_list_empty(&h->dirty))
            break;
        while (!lp2p_list_empty(&h->dirty)) {
            lp2p_list *e = h->dirty.next;
            lp2p_conn *c = lp2p_container_of(e, lp2p_conn, dirty_link);
            lp2p_list_remove(e);
            c->dirty = 0;
            lp2p__conn_flush(c);
        }
        if (lp2p_list_empty(&h->writable))
            break;
    }
    gc_streams(h);
    /* Once the host has made a second connection (it will likely make more: a listener, a
     * redialer; a one-shot client never pays for a key it would not use), keep the next
     * one's ephemeral key ready: made here, after this turn's writes went out, it overlaps
     * with the peer's half of a handshake instead of adding to it (a key generation is a
     * sixth of one side's crypto). */
    if (h->noise_sessions >= 2 && !h->spare_e.pkey && !h->closing)
        (void)lp2p_x25519_keygen(&h->spare_e, &LP2P_RNG_OPENSSL);
}

/* Runs right after the loop's I/O callbacks, before handles closed during them are freed:
 * streams closed by those callbacks get their on_close while their connection still
 * exists. */
static void on_after_io(uv_check_t *ck)
{
    lp2p__conn_resume_staged(ck->data);
    lp2p__stream_deliver_writable(ck->data);
    gc_streams(ck->data);
}

static void flush_hook_closed(uv_handle_t *hd)
{
    lp2p_host *h = hd->data;
    gc_streams(h);
    lp2p_obs_free(&h->observed);

    host_handle_closed(hd);
}

int lp2p_host_new(const lp2p_host_config *cfg, lp2p_host **out)
{
    if (!cfg->loop || !cfg->identity)
        return LP2P_ERR_INVAL;
    lp2p_host *h = calloc(1, sizeof(*h));
    if (!h)
        return LP2P_ERR_NOMEM;
    h->cfg = *cfg;
    h->loop = cfg->loop;
    lp2p_list_init(&h->conns);
    lp2p_list_init(&h->dirty);
    lp2p_list_init(&h->staged);
    lp2p_list_init(&h->mem_starved);
    if (!h->cfg.max_conn_memory)
        h->cfg.max_conn_memory = HOST_MEM_CONN_DEFAULT;
    if (!h->cfg.max_memory)
        h->cfg.max_memory = lp2p__mem_default_limit();
    lp2p_list_init(&h->gc);
    lp2p_list_init(&h->writable);
    lp2p_list_init(&h->reservations);
    lp2p_list_init(&h->punches);
    if (lp2p_relay_quota_new(LP2P_RELAY_QUOTA_DEFAULT, &h->relay_quota) < 0) {
        free(h);
        return LP2P_ERR_NOMEM;
    }
    lp2p_peer_id_to_string(lp2p_keypair_peer_id(cfg->identity), h->id_str, sizeof(h->id_str));
    uv_prepare_init(h->loop, &h->flush_hook);
    h->flush_hook.data = h;
    uv_prepare_start(&h->flush_hook, on_before_sleep);
    uv_check_init(h->loop, &h->close_hook);
    h->close_hook.data = h;
    uv_check_start(&h->close_hook, on_after_io);
    h->open_handles = 2; /* flush_hook, close_hook */
    /* The app's callbacks are the first subscriber; the services subscribe as they start. */
    lp2p_host_subscribe(h, &cfg->cb, cfg->ud);
    lp2p__identify_register(h);
    lp2p__ping_register(h);
    lp2p__relay_register(h);
    lp2p__holepunch_register(h);
    lp2p__reservations_register(h);
    *out = h;
    return 0;
}

const lp2p_peer_id *lp2p_host_peer_id(const lp2p_host *h)
{
    return lp2p_keypair_peer_id(h->cfg.identity);
}

int lp2p_host_handle(lp2p_host *h, const char *proto, const lp2p_stream_callbacks *cb, void *ud)
{
    for (size_t i = 0; i < h->nhandlers; i++) {
        if (strcmp(h->handlers[i].proto, proto) == 0) {
            h->handlers[i].cb = *cb;
            h->handlers[i].ud = ud;
            return 0;
        }
    }
    if (h->nhandlers == HOST_MAX_HANDLERS)
        return LP2P_ERR_LIMIT;
    host_handler *hd = &h->handlers[h->nhandlers];
    hd->proto = strdup(proto);
    if (!hd->proto)
        return LP2P_ERR_NOMEM;
    hd->cb = *cb;
    hd->ud = ud;
    h->nhandlers++;
    return 0;
}

const host_handler *lp2p__host_find_handler(const lp2p_host *h, const char *proto)
{
    for (size_t i = 0; i < h->nhandlers; i++)
        if (strcmp(h->handlers[i].proto, proto) == 0)
            return &h->handlers[i];
    return NULL;
}

size_t lp2p__host_protocols(const lp2p_host *h, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nhandlers && n < max; i++)
        out[n++] = h->handlers[i].proto;
    return n;
}

lp2p_conn *lp2p__host_find_conn(const lp2p_host *h, const lp2p_peer_id *peer, lp2p_conn *except)
{
    lp2p_list *pos;
    for (pos = h->conns.next; pos != &h->conns; pos = pos->next) {
        lp2p_conn *c = lp2p_container_of(pos, lp2p_conn, link);
        if (c != except && c->stage == CONN_READY && !c->remote_goaway && !c->draining &&
            lp2p_peer_id_equal(&c->peer, peer))
            return c;
    }
    return NULL;
}

lp2p_conn *lp2p_host_find_conn(const lp2p_host *h, const lp2p_peer_id *peer)
{
    lp2p_conn *best = NULL;
    lp2p_list *pos;
    for (pos = h->conns.next; pos != &h->conns; pos = pos->next) {
        lp2p_conn *c = lp2p_container_of(pos, lp2p_conn, link);
        if (c->stage == CONN_READY && !c->remote_goaway && !c->draining &&
            lp2p_peer_id_equal(&c->peer, peer) && (!best || (best->relayed && !c->relayed)))
            best = c;
    }
    return best;
}

/* A live punched connection to c's peer, other than c. */
static lp2p_conn *find_punched(const lp2p_host *h, const lp2p_conn *c)
{
    lp2p_list *pos;
    for (pos = h->conns.next; pos != &h->conns; pos = pos->next) {
        lp2p_conn *o = lp2p_container_of(pos, lp2p_conn, link);
        if (o != c && o->punched && o->stage == CONN_READY && !o->remote_goaway && !o->draining &&
            lp2p_peer_id_equal(&o->peer, &c->peer))
            return o;
    }
    return NULL;
}

/* Two punched connections to one peer: a hole punch's SYNs crossed. Both sides must keep
 * the same one without talking about it, and who dialed does not say which: the TCP
 * simultaneous open is outbound on both sides, while a connection beside it from a crossing
 * SYN is outbound on one side and accepted on the other, so the peer-ID rule below (for
 * opposite directions) and "keep the older" (for equal ones) pick different survivors on the
 * two sides, and each retires the other's. The Noise handshake hash is the same at both ends
 * of one connection whatever its direction and roles, and differs between connections: keep
 * the one whose hash is smaller. 1: keep c (retire old). */
static int keep_new_punched(const lp2p_conn *old, const lp2p_conn *c)
{
    const uint8_t *ho = old->noise ? lp2p_noise_handshake_hash(old->noise) : NULL;
    const uint8_t *hc = c->noise ? lp2p_noise_handshake_hash(c->noise) : NULL;
    if (!ho || !hc)
        return 0; /* not reached (both finished Noise); keep the one in use */
    return memcmp(hc, ho, LP2P_NOISE_HASH_LEN) < 0;
}

/* Two connections to one peer: keep one, hand the dropped one's pending dial to it, and
 * close the other gracefully (it drains first). why says which rule chose. */
static void drop_duplicate(lp2p_conn *keep, lp2p_conn *drop, const char *why)
{
    lp2p_log(LP2P_INFO, "duplicate_connection", LF_S("peer", drop->peer_str),
             LF_S("kept", keep->remote_addr), LF_S("closed", drop->remote_addr), LF_S("why", why));
    if (drop->dial_cb) {
        lp2p_dial_cb cb = drop->dial_cb;
        drop->dial_cb = NULL;
        cb(keep, 0, drop->dial_ud);
    }
    lp2p__conn_retire(drop, "duplicate connection");
}

void lp2p__host_conn_ready(lp2p_host *h, lp2p_conn *c)
{
    static const char k_crossed[] = "punched twice (crossing SYNs)";
    lp2p_conn *old = c->punched ? find_punched(h, c) : NULL;
    if (old && keep_new_punched(old, c)) {
        drop_duplicate(c, old, k_crossed);
    } else if (old) {
        drop_duplicate(old, c, k_crossed);
        return;
    }
    old = lp2p__host_find_conn(h, &c->peer, c);
    /* Both sides dialed at once: each holds one outbound and one inbound connection. Both
     * must keep the same one, so keep the one dialed by the peer with the smaller ID. */
    if (old && old->relayed == c->relayed && !(old->punched && c->punched) &&
        old->outbound != c->outbound) {
        const lp2p_peer_id *me = lp2p_host_peer_id(h);
        size_t n = me->len < c->peer.len ? me->len : c->peer.len;
        int cmp = memcmp(me->bytes, c->peer.bytes, n);
        if (cmp == 0)
            cmp = (int)me->len - (int)c->peer.len;
        int keep_new = cmp < 0 ? c->outbound : !c->outbound;
        if (keep_new) {
            drop_duplicate(c, old, "both dialed at once");
            old = NULL;
        }
    }
    /* One connection per peer, except that a direct connection may join a relayed one: that
     * is the hole punch's upgrade, and the relayed one closes after a grace period. */
    if (old && !(old->relayed && !c->relayed)) {
        drop_duplicate(old, c, "one connection per peer");
        return;
    }
    c->reported_connected = 1;
    lp2p_log(LP2P_INFO, "connected", LF_S("peer", c->peer_str), LF_S("addr", c->remote_addr),
             LF_S("direction", c->outbound ? "outbound" : "inbound"), LF_B("relayed", c->relayed));
    lp2p__host_emit_connected(h, c);
}

void lp2p__host_conn_gone(lp2p_host *h, lp2p_conn *c)
{
    /* Only a connection someone heard of has listeners to tell (and service state). */
    if (c->reported_connected)
        lp2p__host_emit_disconnected(h, c);
}

/* ---- listening ---------------------------------------------------------------------------- */

/* Live inbound connections from the address of `from` (the new one included). */
static uint32_t inbound_from_same_ip(const lp2p_host *h, const struct sockaddr_storage *from)
{
    uint32_t n = 0;
    lp2p_list *pos;
    for (pos = h->conns.next; pos != &h->conns; pos = pos->next) {
        const lp2p_conn *c = lp2p_container_of(pos, lp2p_conn, link);
        if (c->has_from &&
            lp2p_sockaddr_same_ip((const struct sockaddr *)&c->from, (const struct sockaddr *)from))
            n++;
    }
    return n;
}

lp2p_conn *lp2p__host_inbound(lp2p_host *h, lp2p_transport *t)
{
    if (h->closing) {
        lp2p_transport_close(t, 1);
        return NULL;
    }
    lp2p_conn *c = lp2p__conn_new(h, t, 0, NULL, NULL);
    if (!c) {
        lp2p_transport_close(t, 1);
        return NULL;
    }
    c->on_listen_port = 1;
    if (lp2p_transport_peer_sockaddr(t, &c->from) == 0) {
        c->has_from = 1;
        lp2p__host_emit_accepted(h, c, (struct sockaddr *)&c->from);
    }
    if (h->cfg.max_conns_per_ip && c->has_from &&
        inbound_from_same_ip(h, &c->from) > h->cfg.max_conns_per_ip) {
        /* One address must not fill the table and lock everyone else out. */
        lp2p__conn_fail(c, LP2P_ERR_LIMIT, "too many connections from this address");
        return NULL;
    }
    const char *why = NULL;
    if (lp2p__host_make_room(h, c, &why) < 0) {
        lp2p__conn_fail(c, LP2P_ERR_LIMIT, why);
        return NULL;
    }
    lp2p__conn_start(c);
    return c;
}

static void on_accept(void *ud, lp2p_transport *t)
{
    host_listener *l = ud;
    lp2p__host_inbound(l->host, t);
}

int lp2p_host_listen(lp2p_host *h, const char *text)
{
    char err[128] = "";
    lp2p_multiaddr ma = {0};
    int rc = lp2p_multiaddr_parse(&ma, text, err, sizeof(err));
    if (rc < 0) {
        lp2p_log(LP2P_ERROR, "listen_failed", LF_S("addr", text), LF_S("reason", err));
        return rc;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    rc = lp2p_multiaddr_to_sockaddr(&ma, &ss, &sl);
    lp2p_multiaddr_free(&ma);
    if (rc < 0) {
        lp2p_log(LP2P_ERROR, "listen_failed", LF_S("addr", text),
                 LF_S("reason", "only /ip4|ip6/…/tcp/PORT can be listened on"));
        return rc;
    }
    if (h->nlisteners == HOST_MAX_LISTENERS)
        return LP2P_ERR_LIMIT;
    host_listener *l = calloc(1, sizeof(*l));
    if (!l)
        return LP2P_ERR_NOMEM;
    l->host = h;
    rc = lp2p_tcp_listener_new(h->loop, (struct sockaddr *)&ss, 512, on_accept, l, &l->tcp);
    if (rc < 0) {
        char why[96];
        lp2p_log(
            LP2P_ERROR, "listen_failed", LF_S("addr", text),
            LF_S("reason", lp2p_tcp_listen_error(rc, (struct sockaddr *)&ss, why, sizeof why)));
        free(l);
        return LP2P_ERR_IO;
    }
    lp2p_multiaddr bound = {0};
    char buf[LP2P_MULTIADDR_STR_MAX];
    lp2p_multiaddr_from_sockaddr(&bound, (const struct sockaddr *)lp2p_tcp_listener_addr(l->tcp));
    lp2p_multiaddr_append_p2p(&bound, lp2p_host_peer_id(h));
    lp2p_multiaddr_to_string(&bound, buf, sizeof(buf));
    lp2p_multiaddr_free(&bound);
    l->text = strdup(buf);
    h->listeners[h->nlisteners] = l;
    h->listen_texts[h->nlisteners] = l->text;
    h->nlisteners++;
    h->open_handles++;
    lp2p_log(LP2P_INFO, "listening", LF_S("addr", l->text));
    return 0;
}

size_t lp2p_host_listen_addrs(const lp2p_host *h, const char *const **out)
{
    *out = h->listen_texts;
    return h->nlisteners;
}

/* ---- dialing ------------------------------------------------------------------------------ */

/* The listener whose family matches: dial sockets share its port (port reuse). */
static const struct sockaddr *reuse_addr(const lp2p_host *h, int family)
{
    for (size_t i = 0; i < h->nlisteners; i++) {
        const struct sockaddr_storage *ss = lp2p_tcp_listener_addr(h->listeners[i]->tcp);
        if (ss->ss_family == family)
            return (const struct sockaddr *)ss;
    }
    return NULL;
}

/* Starts one TCP dial from `local` (NULL: any port) and the upgrade in the given role.
 * 0: under way (cb reports). LP2P_ERR_EXISTS: `local` already has a connection to `to`
 * (the 4-tuple is taken; logged with inuse_why). LP2P_ERR_IO / NOMEM otherwise. */
static int dial_from(lp2p_host *h, const struct sockaddr_storage *to, const struct sockaddr *local,
                     const char *remote_text, const lp2p_peer_id *expected, int initiator,
                     int punched, uint64_t timeout_ms, lp2p_dial_cb cb, void *ud,
                     const char *inuse_why)
{
    lp2p_transport *t = NULL;
    int rc = lp2p_tcp_dial(h->loop, local, (const struct sockaddr *)to, &t);
    lp2p_conn *c = lp2p__conn_new(h, t, 1, remote_text, expected);
    if (!c) {
        if (t)
            lp2p_transport_close(t, 1);
        return LP2P_ERR_NOMEM;
    }
    c->initiator = initiator;
    c->punched = punched;
    c->on_listen_port = local != NULL; /* bound with port reuse, or the dial fails */
    c->deadline_handshake = lp2p__now(h) + timeout_ms;
    if (rc < 0) {
        if (local && (rc == UV_EADDRNOTAVAIL || rc == UV_EADDRINUSE)) {
            lp2p__conn_fail(c, LP2P_ERR_EXISTS, inuse_why);
            return LP2P_ERR_EXISTS;
        }
        lp2p__conn_fail(c, LP2P_ERR_IO, uv_strerror(rc));
        return LP2P_ERR_IO;
    }
    c->dial_cb = cb;
    c->dial_ud = ud;
    lp2p__conn_arm_timer(c); /* dial timeout; the transport reports on_connected */
    return 0;
}

int lp2p_host_dial(lp2p_host *h, const char *text, lp2p_dial_cb cb, void *ud)
{
    char err[128] = "";
    lp2p_multiaddr ma = {0};
    int rc = lp2p_multiaddr_parse(&ma, text, err, sizeof(err));
    if (rc < 0) {
        lp2p_log(LP2P_ERROR, "dial_failed", LF_S("addr", text), LF_S("reason", err));
        return rc;
    }
    if (lp2p_multiaddr_is_circuit(&ma)) {
        rc = lp2p__relay_dial(h, &ma, text, cb, ud);
        lp2p_multiaddr_free(&ma);
        return rc;
    }
    if (lp2p__host_dial_dns(h, &ma, text, cb, ud, &rc)) { /* dns_dial.c */
        lp2p_multiaddr_free(&ma);
        return rc;
    }
    lp2p_peer_id expected;
    int has_expected = lp2p_multiaddr_peer_id(&ma, &expected) == 0;
    if (has_expected) {
        lp2p_conn *existing = lp2p__host_find_conn(h, &expected, NULL);
        if (existing) {
            lp2p_multiaddr_free(&ma);
            cb(existing, 0, ud);
            return 0;
        }
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    rc = lp2p_multiaddr_to_sockaddr(&ma, &ss, &sl);
    if (rc < 0) {
        lp2p_multiaddr_free(&ma);
        lp2p_log(LP2P_ERROR, "dial_failed", LF_S("addr", text),
                 LF_S("reason", "not a /ip4|ip6/…/tcp/PORT address"));
        return rc;
    }
    char rtext[LP2P_MULTIADDR_STR_MAX];
    lp2p_multiaddr_strip_p2p(&ma);
    lp2p_multiaddr_to_string(&ma, rtext, sizeof(rtext));
    lp2p_multiaddr_free(&ma);
    const lp2p_peer_id *want = has_expected ? &expected : NULL;
    rc = dial_from(h, &ss, reuse_addr(h, ss.ss_family), rtext, want, 1, 0, h->cfg.dial_timeout_ms,
                   cb, ud, "listen port's 4-tuple in use; redialing from another port");
    if (rc == LP2P_ERR_EXISTS) {
        /* Our listen port already has a connection to that address (the peer dialed us, or
         * we dial it again without /p2p): dial from an ephemeral port, as go's reuseport
         * dialer does. */
        rc = dial_from(h, &ss, NULL, rtext, want, 1, 0, h->cfg.dial_timeout_ms, cb, ud, NULL);
    }
    return rc;
}

/* A hole-punch dial: from our listen port to `to`, with the role DCUtR gave us. */
int lp2p__host_dial_punch(lp2p_host *h, const struct sockaddr_storage *to, const lp2p_peer_id *peer,
                          int initiator, lp2p_dial_cb cb, void *ud)
{
    const struct sockaddr *local = reuse_addr(h, to->ss_family);
    if (!local)
        return LP2P_ERR_STATE; /* without the listen port there is no mapping to punch */
    char rtext[LP2P_MULTIADDR_STR_MAX] = "";
    lp2p_multiaddr ma = {0};
    if (lp2p_multiaddr_from_sockaddr(&ma, (const struct sockaddr *)to) == 0) {
        lp2p_multiaddr_to_string(&ma, rtext, sizeof(rtext));
        lp2p_multiaddr_free(&ma);
    }
    /* A taken 4-tuple means the peer's SYN already reached our listener: that connection,
     * claimed by the punch when accepted, is the punched one (LP2P_ERR_EXISTS). */
    return dial_from(h, to, local, rtext, peer, initiator, 1, HOST_PUNCH_DIAL_TIMEOUT_MS, cb, ud,
                     "peer's SYN arrived first; using that connection");
}

/* ---- shutdown ----------------------------------------------------------------------------- */

void lp2p_host_close(lp2p_host *h)
{
    if (h->closing)
        return;
    h->closing = 1;
    lp2p__host_emit_close(h);
    while (!lp2p_list_empty(&h->conns)) {
        lp2p_conn *c = lp2p_container_of(h->conns.next, lp2p_conn, link);
        lp2p_conn_close(c, 0);
    }
    for (size_t i = 0; i < h->nlisteners; i++)
        lp2p_tcp_listener_close(h->listeners[i]->tcp, listener_closed, h->listeners[i]);
    for (size_t i = 0; i < h->nhandlers; i++)
        free(h->handlers[i].proto);
    h->nhandlers = 0;
    /* Connections just closed above still exist: their streams' on_close runs now (they are
     * freed later, in the close callback: we may be inside one of their callbacks). */
    lp2p_list *pos;
    for (pos = h->gc.next; pos != &h->gc; pos = pos->next)
        lp2p__stream_notify_closed(lp2p_container_of(pos, lp2p_stream, link));
    uv_prepare_stop(&h->flush_hook);
    uv_check_stop(&h->close_hook);
    uv_close((uv_handle_t *)&h->close_hook, host_handle_closed);
    /* Closed streams are freed in the close callback: we may be inside one of their
     * callbacks right now. */
    uv_close((uv_handle_t *)&h->flush_hook, flush_hook_closed);
}
