/* Hole-punch coordinator: DCUtR (libp2p-wire.md A9) on relayed connections, then the TCP
 * simultaneous open from our listen port, then the move to the direct connection.
 *
 *   B (accepted the relayed conn)                 A (dialed us through the relay)
 *   open /libp2p/dcutr, CONNECT{observed} ──────►
 *                          ◄────── CONNECT{A's addrs}          RTT measured by B
 *   SYNC ───────────────────────────────────────►
 *   wait RTT/2, dial A's addrs                   dial B's addrs on SYNC
 *   ═════ TCP simultaneous open: A = Noise initiator and Yamux client, whoever's SYN won ═════
 *
 * Roles come from DCUtR: a punch dial carries its role, and a connection accepted by our
 * listener from an address we are punching towards takes the punch's role too (on one host
 * the SYNs can cross as a normal connect+accept rather than a simultaneous open).
 * After success new streams use the direct connection (lp2p_host_find_conn prefers it) and
 * the relayed one is closed after a grace period. */
#include "host/host_internal.h"
#include "lp2p/err.h"
#include "net/tcp.h"
#include "proto/dcutr.h"
#include "util/log.h"
#include "wire/multiaddr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RELAY_GRACE_MS  3000
#define MAX_PUNCH_ADDRS 8
/* After our own dials failed, the peer's SYN may still arrive at our listener (its dial
 * started later, or ours was refused before it bound its port): keep the targets claimable
 * this long before giving up. */
#define CLAIM_WINDOW_MS 3000

struct lp2p_punch {
    lp2p_list link;
    lp2p_host *h;
    lp2p_conn *relayed; /* NULL once it is gone */
    lp2p_peer_id peer;
    char peer_str[LP2P_PEER_ID_STR_MAX];
    lp2p_dcutr core;
    lp2p_stream *s;
    uv_timer_t timer;
    int role_b;
    int initiator;       /* our Noise/Yamux role on the punched connection */
    int dials_out;       /* punch dials not finished */
    int awaiting_accept; /* dials whose 4-tuple our listener already holds */
    uint64_t accept_deadline;
    int done;
    int closing;
    int timer_closed;
    int logged_attempt;
    int lingering;
    uint64_t t_relayed; /* when the relayed connection was ready */
    struct sockaddr_storage targets[MAX_PUNCH_ADDRS];
    size_t ntargets;
};

static void punch_arm(lp2p_punch *p);
static void punch_next_attempt(lp2p_punch *p);
static void punch_on_timer(uv_timer_t *t);

/* ---- our candidate addresses ------------------------------------------------------------- */

void lp2p__holepunch_observed(lp2p_host *h, lp2p_conn *c, const uint8_t *obs, size_t len)
{
    /* Never a /p2p-circuit observation, and only from direct connections: those are the
     * NAT mappings of our listen port (we dial from it). */
    if (c->relayed || !lp2p_dcutr_addr_usable(obs, len))
        return;
    for (size_t i = 0; i < h->nobserved; i++)
        if (h->observed[i].len == len && memcmp(h->observed[i].bytes, obs, len) == 0)
            return;
    if (h->nobserved == HOST_MAX_OBSERVED) {
        lp2p_multiaddr_free(&h->observed[0]);
        memmove(&h->observed[0], &h->observed[1], (HOST_MAX_OBSERVED - 1) * sizeof(h->observed[0]));
        h->nobserved--;
    }
    lp2p_multiaddr ma = {0};
    if (lp2p_multiaddr_from_bytes(&ma, obs, len, NULL, 0) == 0) {
        lp2p_multiaddr_strip_p2p(&ma);
        h->observed[h->nobserved++] = ma;
        char t[LP2P_MULTIADDR_STR_MAX];
        lp2p_multiaddr_to_string(&ma, t, sizeof(t));
        lp2p_log(LP2P_INFO, "observed_addr", LF_S("addr", t), LF_S("by", c->peer_str));
    }
}

/* Observed addresses first; without any, our listen addresses (loopback demo, public host). */
static size_t own_candidates(lp2p_host *h, const uint8_t **out, size_t *lens, lp2p_multiaddr *tmp,
                             size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nobserved && n < max; i++) {
        out[n] = h->observed[i].bytes;
        lens[n++] = h->observed[i].len;
    }
    if (n > 0)
        return n;
    for (size_t i = 0; i < h->nlisteners && n < max; i++) {
        if (lp2p_multiaddr_parse(&tmp[n], h->listeners[i]->text, NULL, 0) < 0)
            continue;
        lp2p_multiaddr_strip_p2p(&tmp[n]);
        out[n] = tmp[n].bytes;
        lens[n] = tmp[n].len;
        n++;
    }
    return n;
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

/* Freed once it is closed, its timer is closed and no punch dial still points at it. */
static void punch_maybe_free(lp2p_punch *p)
{
    if (!p->closing || !p->timer_closed || p->dials_out > 0)
        return;
    lp2p_host *h = p->h;
    lp2p_dcutr_free(&p->core);
    free(p);
    if (--h->open_handles == 0 && h->closing)
        lp2p__host_free(h);
}

static void punch_timer_closed(uv_handle_t *hd)
{
    lp2p_punch *p = hd->data;
    p->timer_closed = 1;
    punch_maybe_free(p);
}

static void punch_end(lp2p_punch *p)
{
    if (p->closing)
        return;
    p->closing = 1;
    if (p->s) {
        lp2p_stream *s = p->s;
        p->s = NULL;
        lp2p_stream_detach(s, 0);
    }
    if (p->relayed)
        p->relayed->punch = NULL;
    lp2p_list_remove(&p->link);
    uv_close((uv_handle_t *)&p->timer, punch_timer_closed);
}

/* One `dcutr_attempt` per attempt: at our dial, or at success when the peer's SYN reached
 * our listener before our own dial was due. */
static void log_attempt(lp2p_punch *p, int attempt, uint64_t rtt_ms, size_t naddrs, int swapped)
{
    if (p->logged_attempt == attempt)
        return;
    p->logged_attempt = attempt;
    lp2p_log(LP2P_INFO, "dcutr_attempt", LF_S("peer", p->peer_str), LF_I("attempt", attempt),
             LF_U("rtt_ms", rtt_ms), LF_S("role", p->role_b ? "B" : "A"), LF_I("addrs", naddrs),
             LF_B("swapped", swapped));
}

static void punch_success(lp2p_punch *p, lp2p_conn *direct)
{
    log_attempt(p, p->core.attempt ? p->core.attempt : 1, p->core.rtt_ms, p->core.npeer, 0);
    if (p->done)
        return;
    p->done = 1;
    lp2p_dcutr_succeeded(&p->core);
    uint64_t now = lp2p__now(p->h);
    lp2p_log(LP2P_INFO, "direct_connected", LF_S("peer", p->peer_str),
             LF_S("addr", direct->remote_addr), LF_I("attempt", p->core.attempt),
             LF_U("ms_since_relayed", now - p->t_relayed),
             LF_S("role", p->initiator ? "initiator" : "responder"));
    lp2p_conn *r = p->relayed;
    punch_end(p);
    if (r && r->stage == CONN_READY) {
        /* Streams still open on the relayed connection get a grace period to finish. */
        r->close_at_ms = now + RELAY_GRACE_MS;
        lp2p__conn_arm_timer(r);
    }
}

static void punch_give_up(lp2p_punch *p)
{
    lp2p_log(LP2P_WARN, "holepunch_gave_up", LF_S("peer", p->peer_str),
             LF_S("reason", "no direct connection; the relayed connection stays up"));
    punch_end(p);
}

static void punch_attempt_failed(lp2p_punch *p, const char *why)
{
    lp2p_conn *direct = lp2p_host_find_conn(p->h, &p->peer);
    if (direct && !direct->relayed) {
        punch_success(p, direct); /* a direct connection came another way */
        return;
    }
    lp2p_log(LP2P_WARN, "dcutr_failed", LF_S("peer", p->peer_str), LF_I("attempt", p->core.attempt),
             LF_S("reason", why));
    if (p->s) {
        lp2p_stream *s = p->s;
        p->s = NULL;
        lp2p_stream_detach(s, 1);
    }
    if (p->role_b) {
        p->ntargets = 0;
        if (lp2p_dcutr_attempt_failed(&p->core) == 1 && p->relayed)
            punch_next_attempt(p);
        else
            punch_give_up(p);
        return;
    }
    lp2p_dcutr_attempt_failed(&p->core);
    if (p->ntargets) {
        /* A has one attempt: B's SYN may still arrive late at our listener; keep the targets
         * claimable for a moment before giving up. */
        p->lingering = 1;
        p->awaiting_accept = 1;
        p->accept_deadline = lp2p__now(p->h) + CLAIM_WINDOW_MS;
        punch_arm(p);
        return;
    }
    punch_give_up(p);
}

/* ---- dialing --------------------------------------------------------------------------------- */

static void punch_dialed(lp2p_conn *c, int err, void *ud)
{
    lp2p_punch *p = ud;
    p->dials_out--;
    if (p->closing) {
        punch_maybe_free(p);
        return;
    }
    if (err == 0 && c) {
        punch_success(p, c);
        return;
    }
    if (p->dials_out == 0 && !p->done)
        punch_attempt_failed(p, "direct dials failed (NAT did not let the punch through)");
}

/* The peer's candidates as socket addresses. Filled as soon as its CONNECT arrives, so a
 * SYN from it that reaches our listener before we dial is claimed with the right role. */
static void fill_targets(lp2p_punch *p, const uint8_t *const *addrs, const size_t *lens, size_t n)
{
    p->ntargets = 0;
    for (size_t i = 0; i < n && p->ntargets < MAX_PUNCH_ADDRS; i++) {
        lp2p_multiaddr ma = {0};
        socklen_t sl;
        if (lp2p_multiaddr_from_bytes(&ma, addrs[i], lens[i], NULL, 0) < 0)
            continue;
        int rc = lp2p_multiaddr_to_sockaddr(&ma, &p->targets[p->ntargets], &sl);
        lp2p_multiaddr_free(&ma);
        if (rc == 0)
            p->ntargets++;
    }
}

/* Starts the simultaneous-open dials to every candidate of the DIAL event. */
static void punch_dial(lp2p_punch *p, const lp2p_dcutr_event *ev)
{
    p->initiator = ev->noise_initiator;
    if (ev->try_swapped)
        p->initiator = !p->initiator;
    log_attempt(p, ev->attempt, ev->rtt_ms, ev->naddrs, ev->try_swapped);
    lp2p_conn *direct = lp2p_host_find_conn(p->h, &p->peer);
    if (direct && !direct->relayed) {
        punch_success(p, direct); /* the peer's SYN won and our listener took it */
        return;
    }
    fill_targets(p, ev->addrs, ev->addr_lens, ev->naddrs);
    /* Register all targets before dialing: a SYN from the peer may be accepted by our
     * listener before our own connect() returns. */
    size_t n = p->ntargets;
    int waiting = 0;
    for (size_t i = 0; i < n && !p->done; i++) {
        p->dials_out++;
        int rc =
            lp2p__host_dial_punch(p->h, &p->targets[i], &p->peer, p->initiator, punch_dialed, p);
        if (rc == 0)
            continue;
        p->dials_out--;
        if (rc == LP2P_ERR_EXISTS)
            waiting++; /* our listener holds that connection: claimed when libuv hands it over */
    }
    if (p->done)
        return;
    if (waiting) {
        p->awaiting_accept += waiting;
        p->accept_deadline = lp2p__now(p->h) + CLAIM_WINDOW_MS;
        punch_arm(p);
    } else if (p->dials_out == 0) {
        punch_attempt_failed(p, "no dialable TCP address from the peer");
    }
}

/* An inbound TCP connection from an address we are punching towards: the crossing SYNs met
 * our listener. It belongs to the punch (role and outcome). */
int lp2p__holepunch_claim_inbound(lp2p_host *h, lp2p_conn *c, const struct sockaddr *from)
{
    lp2p_list *pos;
    for (pos = h->punches.next; pos != &h->punches; pos = pos->next) {
        lp2p_punch *p = lp2p_container_of(pos, lp2p_punch, link);
        for (size_t i = 0; i < p->ntargets; i++) {
            const struct sockaddr *t = (const struct sockaddr *)&p->targets[i];
            int same = lp2p_sockaddr_equal(t, from);
            if (same && !p->done && !p->closing) {
                c->initiator = p->initiator;
                c->has_expected = 1;
                c->expected = p->peer;
                c->dial_cb = punch_dialed;
                c->dial_ud = p;
                p->dials_out++;
                if (p->awaiting_accept > 0)
                    p->awaiting_accept--;
                return 1;
            }
        }
    }
    return 0;
}

/* Any direct connection to a peer we are punching with ends the punch successfully, however
 * it came (our dial, a claimed SYN, or the peer dialing our listener from another port). */
void lp2p__holepunch_conn_ready(lp2p_conn *c)
{
    if (c->relayed)
        return;
    lp2p_list *pos;
    for (pos = c->host->punches.next; pos != &c->host->punches; pos = pos->next) {
        lp2p_punch *p = lp2p_container_of(pos, lp2p_punch, link);
        if (!p->done && !p->closing && lp2p_peer_id_equal(&p->peer, &c->peer)) {
            punch_success(p, c);
            return;
        }
    }
}

/* ---- the dcutr stream --------------------------------------------------------------------------
 */

static void punch_flush_out(lp2p_punch *p)
{
    if (p->s && lp2p_buf_size(&p->core.out)) {
        lp2p_stream_write(p->s, lp2p_buf_head(&p->core.out), lp2p_buf_size(&p->core.out));
        lp2p_buf_clear(&p->core.out);
    }
}

static void punch_events(lp2p_punch *p)
{
    lp2p_dcutr_event ev;
    punch_flush_out(p);
    if (p->core.npeer && p->ntargets == 0)
        fill_targets(p, (const uint8_t *const *)p->core.peer, p->core.peer_lens, p->core.npeer);
    if (lp2p_dcutr_poll(&p->core, &ev))
        punch_dial(p, &ev);
    if (!p->closing)
        punch_arm(p);
}

static void ds_on_data(lp2p_stream *s, const uint8_t *d, size_t n, void *ud)
{
    lp2p_punch *p = ud;
    int rc = lp2p_dcutr_recv(&p->core, d, n, lp2p__now(p->h));
    if (rc < 0) {
        punch_attempt_failed(p, rc == LP2P_ERR_NA ? "peer offered no usable address"
                                                  : "malformed DCUtR message");
        return;
    }
    punch_events(p);
}

static void ds_on_close(lp2p_stream *s, int err, void *ud)
{
    lp2p_punch *p = ud;
    p->s = NULL;
    if (err == LP2P_ERR_NA && p->role_b) {
        lp2p_log(LP2P_INFO, "dcutr_skipped", LF_S("peer", p->peer_str),
                 LF_S("reason", "peer does not speak /libp2p/dcutr"));
        punch_end(p);
        return;
    }
    if (p->core.state == LP2P_DCUTR_WAIT_CONNECT || p->core.state == LP2P_DCUTR_WAIT_SYNC)
        punch_attempt_failed(p, "dcutr stream closed early");
}

static const lp2p_stream_callbacks k_dcutr = {.on_data = ds_on_data, .on_close = ds_on_close};

static void punch_on_timer(uv_timer_t *t)
{
    lp2p_punch *p = t->data;
    if (p->awaiting_accept && lp2p__now(p->h) >= p->accept_deadline) {
        p->awaiting_accept = 0;
        if (p->dials_out == 0 && !p->done) {
            if (p->lingering)
                punch_give_up(p);
            else
                punch_attempt_failed(p, "crossing connection never arrived");
            return;
        }
    }
    int rc = lp2p_dcutr_tick(&p->core, lp2p__now(p->h));
    if (rc < 0) {
        punch_attempt_failed(p, "peer did not answer in time");
        return;
    }
    punch_events(p);
}

static void punch_arm(lp2p_punch *p)
{
    uint64_t now = lp2p__now(p->h), dl = lp2p_dcutr_next_deadline(&p->core);
    if (p->awaiting_accept && p->accept_deadline < dl)
        dl = p->accept_deadline;
    if (dl == UINT64_MAX)
        uv_timer_stop(&p->timer);
    else
        uv_timer_start(&p->timer, punch_on_timer, dl > now ? dl - now : 0, 0);
}

static void punch_next_attempt(lp2p_punch *p)
{
    lp2p_conn *direct = lp2p_host_find_conn(p->h, &p->peer);
    if (direct && !direct->relayed) {
        punch_success(p, direct);
        return;
    }
    /* Failures before an attempt starts end the punch: retrying them could not help, and
     * going through punch_attempt_failed would retry without end. */
    const char *why = NULL;
    int rc = 0;
    if (!p->relayed || p->relayed->stage != CONN_READY)
        why = "relayed connection gone";
    else if ((rc = lp2p_conn_open_stream(p->relayed, LP2P_DCUTR_PROTO, &k_dcutr, p, &p->s)) < 0)
        why = "could not open a dcutr stream";
    else if ((rc = lp2p_dcutr_start_attempt(&p->core, lp2p__now(p->h))) < 0)
        why = rc == LP2P_ERR_NA ? "we have no address to offer (no observed address yet)"
                                : "cannot start another attempt";
    if (why) {
        if (rc < 0 && p->s) {
            lp2p_stream_detach(p->s, 1);
        }
        p->s = NULL;
        lp2p_log(LP2P_WARN, "dcutr_failed", LF_S("peer", p->peer_str),
                 LF_I("attempt", p->core.attempt + 1), LF_S("reason", why));
        punch_give_up(p);
        return;
    }
    punch_events(p);
}

static lp2p_punch *punch_new(lp2p_conn *relayed, int role_b)
{
    lp2p_host *h = relayed->host;
    lp2p_punch *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    const uint8_t *own[MAX_PUNCH_ADDRS];
    size_t lens[MAX_PUNCH_ADDRS];
    lp2p_multiaddr tmp[MAX_PUNCH_ADDRS];
    memset(tmp, 0, sizeof(tmp));
    size_t n = own_candidates(h, own, lens, tmp, MAX_PUNCH_ADDRS);
    int rc = lp2p_dcutr_init(&p->core, role_b ? LP2P_DCUTR_B : LP2P_DCUTR_A, own, lens, n, 0,
                             lp2p__now(h), &LP2P_TRACE_LOG);
    for (size_t i = 0; i < MAX_PUNCH_ADDRS; i++)
        lp2p_multiaddr_free(&tmp[i]);
    if (rc < 0) {
        free(p);
        return NULL;
    }
    p->h = h;
    p->relayed = relayed;
    p->peer = relayed->peer;
    snprintf(p->peer_str, sizeof(p->peer_str), "%s", relayed->peer_str);
    p->role_b = role_b;
    p->initiator = !role_b;
    p->t_relayed = relayed->ready_ms;
    uv_timer_init(h->loop, &p->timer);
    p->timer.data = p;
    h->open_handles++;
    lp2p_list_insert_tail(&h->punches, &p->link);
    relayed->punch = p;
    relayed->punch_tried = 1;
    return p;
}

/* B: the peer reached us through a relay. Start at once rather than after identify: that
 * saves a relayed round trip (a peer without /libp2p/dcutr answers NA: dcutr_skipped). */
void lp2p__holepunch_relayed_ready(lp2p_conn *c)
{
    if (!c->relayed || c->outbound || c->punch || c->punch_tried || c->host->closing ||
        !c->host->cfg.holepunch)
        return;
    if (lp2p_host_find_conn(c->host, &c->peer) != c)
        return; /* already direct */
    lp2p_punch *p = punch_new(c, 1);
    if (p)
        punch_next_attempt(p);
}

/* B, fallback: the peer identified itself and advertises DCUtR, but no punch ran yet. */
void lp2p__holepunch_on_identify(lp2p_conn *c)
{
    if (!c->relayed || c->outbound || c->punch || c->punch_tried || c->host->closing ||
        !c->host->cfg.holepunch)
        return;
    int speaks = 0;
    for (size_t i = 0; i < c->remote_info.n_protocols; i++)
        if (strcmp(c->remote_info.protocols[i], LP2P_DCUTR_PROTO) == 0)
            speaks = 1;
    if (!speaks) {
        lp2p_log(LP2P_INFO, "dcutr_skipped", LF_S("peer", c->peer_str),
                 LF_S("reason", "peer does not advertise /libp2p/dcutr"));
        return;
    }
    if (lp2p_host_find_conn(c->host, &c->peer) != c)
        return; /* already direct */
    lp2p_punch *p = punch_new(c, 1);
    if (p)
        punch_next_attempt(p);
}

/* A: the dcutr stream arrives on a relayed connection we dialed. */
static void da_on_open(lp2p_stream *s, void *ud)
{
    lp2p_conn *c = lp2p_stream_conn(s);
    lp2p_conn *best = lp2p_host_find_conn(c->host, &c->peer);
    if (best && !best->relayed) {
        lp2p_stream_reset(s); /* already direct: nothing to punch */
        return;
    }
    if (c->punch && !c->punch->done) {
        /* B opens a new stream only when it considers the last attempt over (possibly while
         * we still wait for a late SYN of it): the new attempt replaces ours. */
        if (!c->punch->lingering)
            lp2p_log(LP2P_WARN, "dcutr_failed", LF_S("peer", c->punch->peer_str),
                     LF_I("attempt", c->punch->core.attempt),
                     LF_S("reason", "dcutr stream closed early"));
        punch_end(c->punch);
    }
    if (!c->relayed || !c->outbound || c->punch) {
        /* go rejects dcutr on a connection it sees as inbound; so do we. */
        lp2p_stream_reset(s);
        return;
    }
    lp2p_punch *p = punch_new(c, 0);
    if (!p) {
        lp2p_stream_reset(s);
        return;
    }
    p->s = s;
    lp2p_stream_set_callbacks(s, &k_dcutr, p);
    punch_arm(p);
}

static const lp2p_stream_callbacks k_dcutr_handler = {.on_open = da_on_open};

void lp2p__holepunch_register(lp2p_host *h)
{
    if (h->cfg.holepunch)
        lp2p_host_handle(h, LP2P_DCUTR_PROTO, &k_dcutr_handler, NULL);
}

void lp2p__holepunch_conn_gone(lp2p_conn *c)
{
    if (c->punch) {
        lp2p_punch *p = c->punch;
        p->relayed = NULL;
        c->punch = NULL;
        if (!p->done && p->dials_out == 0)
            punch_end(p);
    }
}

void lp2p__holepunch_close(lp2p_host *h)
{
    while (!lp2p_list_empty(&h->punches)) {
        lp2p_punch *p = lp2p_container_of(h->punches.next, lp2p_punch, link);
        punch_end(p);
    }
}
