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
 * the relayed one is closed after a grace period (the punch's own timer).
 *
 * The coordinator reports, it does not log: every attempt and the outcome go out as
 * lp2p_holepunch_event (lp2p/holepunch.h) through the host's observer list, and the host's
 * subscriber in holepunch_log.c writes the log lines. Per punch, after success:
 *
 *   done ── no crossing connection mid-handshake, no SYN left to claim ──► DIRECT (reported)
 *     reported ── grace period over ──► relayed connection closed, punch freed
 *
 * Retry policy, all here: B's DCUtR core retries up to 3 attempts; when they are spent B may
 * start fresh exchanges (holepunch_repunch, holepunch_repunch_delay_ms); the whole punch
 * gives up after holepunch_timeout_ms without a direct connection. Per-connection state
 * (the punch, "DCUtR already ran here") lives in conn->slots[HOST_SLOT_HOLEPUNCH]. */
#include "host/host_internal.h"
#include "lp2p/err.h"
#include "lp2p/holepunch.h"
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
#define SETTLE_POLL_MS  100

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
    int done;     /* a direct connection came up: no more attempts */
    int reported; /* DIRECT fired: the relayed connection is in its grace period */
    uint64_t grace_until;
    uint64_t give_up_at;     /* lp2p_host_config.holepunch_timeout_ms, or UINT64_MAX */
    uint32_t repunches_left; /* B: fresh DCUtR exchanges still allowed after one gives up */
    uint64_t repunch_at;     /* B: when the next one starts; 0 = none pending */
    int attempt_base;        /* attempts of the exchanges before this one (for events) */
    int closing;
    int timer_closed;
    int logged_attempt;
    int lingering;
    uint64_t t_relayed; /* when the relayed connection was ready */
    struct sockaddr_storage targets[MAX_PUNCH_ADDRS];
    size_t ntargets;
    unsigned claimed; /* bit i: our listener already took a connection from targets[i] */
};

/* Per relayed connection (conn->slots[HOST_SLOT_HOLEPUNCH]). */
typedef struct hp_conn {
    lp2p_punch *punch; /* the punch running (or in its grace period) on it */
    int tried;         /* a DCUtR exchange ran on it: never a second one, except ... */
    int skipped;       /* ... when it ended because the peer did not speak DCUtR then */
    int proto_retries; /* exchanges started since because identify(/push) listed it */
} hp_conn;

/* go-libp2p registers /libp2p/dcutr only once it believes it has a public address, and says
 * so with identify/push; a peer that answered `na` may speak it later. Bounded: a peer that
 * flaps its protocol list gets this many fresh exchanges per relayed connection. */
#define HP_MAX_PROTO_RETRIES 2

static hp_conn *hp_state(lp2p_conn *c, int create)
{
    hp_conn *x = c->slots[HOST_SLOT_HOLEPUNCH];
    if (!x && create && (x = calloc(1, sizeof(*x))) != NULL)
        c->slots[HOST_SLOT_HOLEPUNCH] = x;
    return x;
}

static lp2p_punch *conn_punch(lp2p_conn *c)
{
    hp_conn *x = hp_state(c, 0);
    return x ? x->punch : NULL;
}

static void punch_arm(lp2p_punch *p);
static void punch_next_attempt(lp2p_punch *p);
static void punch_on_timer(uv_timer_t *t);

/* ---- our candidate addresses ------------------------------------------------------------- */

static void holepunch_observed(lp2p_host *h, lp2p_conn *c, const uint8_t *obs, size_t len)
{
    /* Never a /p2p-circuit observation, and only from direct connections on our listen port:
     * only those are NAT mappings of the port we punch from (go checks the same). */
    if (c->relayed || !lp2p_dcutr_addr_usable(obs, len))
        return;
    lp2p_multiaddr ma = {0};
    char t[LP2P_MULTIADDR_STR_MAX] = "";
    if (lp2p_multiaddr_from_bytes(&ma, obs, len, NULL, 0) < 0)
        return;
    lp2p_multiaddr_strip_p2p(&ma);
    lp2p_multiaddr_to_string(&ma, t, sizeof(t));
    struct sockaddr_storage from;
    if (!c->on_listen_port || !c->t || lp2p_transport_peer_sockaddr(c->t, &from) < 0) {
        lp2p_log(LP2P_DEBUG, "observed_addr_ignored", LF_S("addr", t), LF_S("by", c->peer_str),
                 LF_S("reason", "connection from an ephemeral port, not our listen port"));
        lp2p_multiaddr_free(&ma);
        return;
    }
    uint8_t key[LP2P_OBS_KEY_LEN];
    lp2p_obs_key_from_sockaddr(&from, key);
    int rc = lp2p_obs_add(&h->observed, ma.bytes, ma.len, key, lp2p__now(h));
    if (rc > 0)
        lp2p_log(LP2P_INFO, "observed_addr", LF_S("addr", t), LF_S("by", c->peer_str),
                 LF_U("observers", lp2p_obs_observers(&h->observed, &ma)));
    lp2p_multiaddr_free(&ma);
}

/* Observed addresses first, best confirmed and most recent first; without any, our
 * concrete listen addresses (loopback demo, public host). */
static size_t own_candidates(lp2p_host *h, const uint8_t **out, size_t *lens, lp2p_multiaddr *tmp,
                             size_t max)
{
    size_t n = lp2p_obs_candidates(&h->observed, lp2p__now(h), out, lens, max);
    if (n > 0)
        return n;
    /* concrete ones: a peer cannot dial 0.0.0.0 (rust refuses to, go filters it) */
    n = lp2p__host_advertised_addrs(h, tmp, max);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[i].bytes;
        lens[i] = tmp[i].len;
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
    if (p->relayed && conn_punch(p->relayed) == p)
        hp_state(p->relayed, 0)->punch = NULL;
    lp2p_list_remove(&p->link);
    uv_close((uv_handle_t *)&p->timer, punch_timer_closed);
}

/* An event about this punch, with the fields every outcome carries. */
static lp2p_holepunch_event punch_event(const lp2p_punch *p, lp2p_holepunch_outcome what,
                                        int attempt)
{
    lp2p_holepunch_event ev = {
        .outcome = what,
        .peer = &p->peer,
        .peer_str = p->peer_str,
        .attempt = attempt ? p->attempt_base + attempt : 0,
        .role_b = p->role_b,
        .relayed = p->relayed,
        .initiator = p->initiator,
    };
    return ev;
}

static void punch_emit(lp2p_punch *p, lp2p_holepunch_outcome what, int attempt, const char *why)
{
    lp2p_holepunch_event ev = punch_event(p, what, attempt);
    ev.reason = why;
    lp2p__host_emit_holepunch(p->h, &ev);
}

/* One ATTEMPT per attempt: at our dial, or at success when the peer's SYN reached our
 * listener before our own dial was due. */
static void emit_attempt(lp2p_punch *p, int attempt, uint64_t rtt_ms, size_t naddrs, int swapped)
{
    if (p->logged_attempt == attempt)
        return;
    p->logged_attempt = attempt;
    lp2p_holepunch_event ev = punch_event(p, LP2P_HOLEPUNCH_ATTEMPT, attempt);
    ev.rtt_ms = rtt_ms;
    ev.naddrs = naddrs;
    ev.swapped = swapped;
    lp2p__host_emit_holepunch(p->h, &ev);
}

static int punch_core_init(lp2p_punch *p);

/* B's re-punch policy (lp2p_host_config.holepunch_repunch): an exchange whose attempts are
 * spent is followed, after holepunch_repunch_delay_ms, by a fresh one on the same relayed
 * connection (new candidates: an observed address may have come meanwhile). Returns 1 when
 * one is scheduled. Never after the overall timeout. */
static int punch_schedule_repunch(lp2p_punch *p)
{
    uint64_t now = lp2p__now(p->h);
    if (!p->role_b || p->repunches_left == 0 || p->done || !p->relayed ||
        p->relayed->stage != CONN_READY || p->h->closing || now >= p->give_up_at)
        return 0;
    int spent = p->core.attempt;
    lp2p_dcutr_free(&p->core);
    if (punch_core_init(p) < 0)
        return 0; /* out of memory: the core is still safe to free */
    p->repunches_left--;
    p->attempt_base += spent;
    p->logged_attempt = 0;
    p->ntargets = 0;
    p->claimed = 0;
    p->awaiting_accept = 0;
    p->lingering = 0;
    p->repunch_at = now + p->h->cfg.holepunch_repunch_delay_ms;
    if (p->repunch_at == 0)
        p->repunch_at = 1;
    punch_arm(p);
    return 1;
}

static void punch_give_up(lp2p_punch *p, const char *why)
{
    if (punch_schedule_repunch(p))
        return;
    punch_emit(p, LP2P_HOLEPUNCH_GAVE_UP, p->core.attempt, why);
    punch_end(p);
}

#define GAVE_UP_WHY "no direct connection; the relayed connection stays up"

/* A connection to peer whose TCP is up but whose handshake is not done: once ready it goes
 * through duplicate resolution and may replace the direct connection we have. (A dial still
 * waiting for its SYN-ACK after another connection finished a whole handshake is a punch
 * dial the NAT dropped: not waited for.) */
static int upgrading_to(const lp2p_host *h, const lp2p_peer_id *peer)
{
    const lp2p_list *pos;
    for (pos = h->conns.next; pos != &h->conns; pos = pos->next) {
        const lp2p_conn *c = lp2p_container_of(pos, lp2p_conn, link);
        if (c->stage > CONN_DIALING && c->stage < CONN_READY && c->has_expected &&
            lp2p_peer_id_equal(&c->expected, peer))
            return 1;
    }
    return 0;
}

/* After success: once no crossing connection of this punch is still being accepted or
 * upgraded, duplicate resolution is over and the survivor is the host's direct connection
 * to the peer. Then DIRECT, and the relayed connection's grace period starts. */
static void punch_settle(lp2p_punch *p)
{
    if (!p->done || p->reported || p->closing || p->awaiting_accept > 0 ||
        upgrading_to(p->h, &p->peer))
        return;
    lp2p_conn *direct = lp2p_host_find_conn(p->h, &p->peer);
    if (!direct || direct->relayed) {
        punch_give_up(p, "the direct connection closed at once; the relayed connection stays up");
        return;
    }
    p->reported = 1;
    uint64_t now = lp2p__now(p->h);
    lp2p_holepunch_event ev = punch_event(p, LP2P_HOLEPUNCH_DIRECT, p->core.attempt);
    ev.direct = direct;
    ev.relayed_to_direct_ms = now - p->t_relayed;
    lp2p__host_emit_holepunch(p->h, &ev);
    if (p->closing)
        return;
    if (!p->relayed || p->relayed->stage != CONN_READY) {
        punch_end(p);
        return;
    }
    /* Streams still open on the relayed connection get a grace period to finish. */
    p->grace_until = now + RELAY_GRACE_MS;
    punch_arm(p);
}

static void punch_success(lp2p_punch *p, lp2p_conn *direct)
{
    emit_attempt(p, p->core.attempt ? p->core.attempt : 1, p->core.rtt_ms, p->core.npeer, 0);
    if (!p->done) {
        p->done = 1;
        lp2p_dcutr_succeeded(&p->core);
        /* A SYN our listener holds is accepted on the next loop turn: wait that long, not
         * the whole claim window, before naming the survivor. */
        uint64_t soon = lp2p__now(p->h) + SETTLE_POLL_MS;
        if (p->awaiting_accept && p->accept_deadline > soon)
            p->accept_deadline = soon;
        if (p->s) {
            lp2p_stream *s = p->s;
            p->s = NULL;
            lp2p_stream_detach(s, 0);
        }
    }
    punch_settle(p);
    if (!p->reported && !p->closing)
        punch_arm(p);
}

static void punch_attempt_failed(lp2p_punch *p, const char *why)
{
    lp2p_conn *direct = lp2p_host_find_conn(p->h, &p->peer);
    if (direct && !direct->relayed) {
        punch_success(p, direct); /* a direct connection came another way */
        return;
    }
    punch_emit(p, LP2P_HOLEPUNCH_FAILED, p->core.attempt, why);
    if (p->closing)
        return;
    if (p->s) {
        lp2p_stream *s = p->s;
        p->s = NULL;
        lp2p_stream_detach(s, 1);
    }
    if (p->role_b) {
        p->ntargets = 0;
        p->claimed = 0;
        if (lp2p_dcutr_attempt_failed(&p->core) == 1 && p->relayed)
            punch_next_attempt(p);
        else
            punch_give_up(p, GAVE_UP_WHY);
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
    punch_give_up(p, GAVE_UP_WHY);
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
    if (p->done)
        punch_success(p, NULL); /* a crossing connection lost duplicate resolution */
    else if (p->dials_out == 0)
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
    emit_attempt(p, ev->attempt, ev->rtt_ms, ev->naddrs, ev->try_swapped);
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
        /* Our listener holds that connection: claimed when libuv hands it over (unless it
         * already did). */
        if (rc == LP2P_ERR_EXISTS && !(p->claimed & (1u << i)))
            waiting++;
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
static void hp_on_accepted(lp2p_conn *c, const struct sockaddr *from, void *ud)
{
    lp2p_host *h = c->host;
    lp2p_list *pos;
    for (pos = h->punches.next; pos != &h->punches; pos = pos->next) {
        lp2p_punch *p = lp2p_container_of(pos, lp2p_punch, link);
        for (size_t i = 0; i < p->ntargets; i++) {
            const struct sockaddr *t = (const struct sockaddr *)&p->targets[i];
            int same = lp2p_sockaddr_equal(t, from);
            /* Also after success, until DIRECT: the crossing SYN still belongs to the punch
             * (same role), so duplicate resolution keeps one connection on both sides. */
            if (same && !p->reported && !p->closing) {
                c->initiator = p->initiator;
                c->punched = 1;
                c->has_expected = 1;
                c->expected = p->peer;
                c->dial_cb = punch_dialed;
                c->dial_ud = p;
                p->dials_out++;
                p->claimed |= 1u << i;
                if (p->awaiting_accept > 0)
                    p->awaiting_accept--;
                return;
            }
        }
    }
}

/* Any direct connection to a peer we are punching with ends the punch successfully, however
 * it came (our dial, a claimed SYN, or the peer dialing our listener from another port). */
static void punch_direct_ready(lp2p_conn *c)
{
    lp2p_list *pos;
    for (pos = c->host->punches.next; pos != &c->host->punches; pos = pos->next) {
        lp2p_punch *p = lp2p_container_of(pos, lp2p_punch, link);
        if (!p->reported && !p->closing && lp2p_peer_id_equal(&p->peer, &c->peer)) {
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
        hp_conn *x = p->relayed ? hp_state(p->relayed, 0) : NULL;
        if (x)
            x->skipped = 1;
        punch_emit(p, LP2P_HOLEPUNCH_SKIPPED, 0, "peer does not speak /libp2p/dcutr");
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
    uint64_t now = lp2p__now(p->h);
    if (p->reported) {
        if (now < p->grace_until) {
            punch_arm(p);
            return;
        }
        lp2p_conn *r = p->relayed;
        punch_end(p);
        if (r && r->stage == CONN_READY) {
            lp2p_log(LP2P_INFO, "relayed_closed", LF_S("peer", r->peer_str),
                     LF_S("reason", "direct connection established; grace period over"));
            lp2p_conn_close(r, 0);
        }
        return;
    }
    if (p->done) {
        if (p->awaiting_accept && now >= p->accept_deadline)
            p->awaiting_accept = 0; /* the crossing connection never came */
        punch_settle(p);
        if (!p->closing && !p->reported)
            punch_arm(p);
        return;
    }
    if (now >= p->give_up_at) {
        p->repunches_left = 0; /* the overall timeout is final */
        punch_give_up(p, "no direct connection in time; the relayed connection stays up");
        return;
    }
    if (p->repunch_at) {
        if (now < p->repunch_at) {
            punch_arm(p);
            return;
        }
        p->repunch_at = 0;
        punch_next_attempt(p);
        return;
    }
    if (p->awaiting_accept && lp2p__now(p->h) >= p->accept_deadline) {
        p->awaiting_accept = 0;
        if (p->dials_out == 0 && !p->done) {
            if (p->lingering)
                punch_give_up(p, GAVE_UP_WHY);
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
    uint64_t now = lp2p__now(p->h);
    /* Done but not reported: look again shortly (a crossing connection may stall). */
    uint64_t dl = p->reported ? p->grace_until
                  : p->done   ? now + SETTLE_POLL_MS
                              : lp2p_dcutr_next_deadline(&p->core);
    if (p->repunch_at && !p->done)
        dl = p->repunch_at;
    if (!p->done && p->give_up_at < dl)
        dl = p->give_up_at;
    if (!p->reported && p->awaiting_accept && p->accept_deadline < dl)
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
        punch_emit(p, LP2P_HOLEPUNCH_FAILED, p->core.attempt + 1, why);
        if (!p->closing)
            punch_give_up(p, GAVE_UP_WHY);
        return;
    }
    punch_events(p);
}

/* A DCUtR core in our role, offering our current candidates. */
static int punch_core_init(lp2p_punch *p)
{
    const uint8_t *own[MAX_PUNCH_ADDRS];
    size_t lens[MAX_PUNCH_ADDRS];
    lp2p_multiaddr tmp[MAX_PUNCH_ADDRS];
    memset(tmp, 0, sizeof(tmp));
    size_t n = own_candidates(p->h, own, lens, tmp, MAX_PUNCH_ADDRS);
    int rc = lp2p_dcutr_init(&p->core, p->role_b ? LP2P_DCUTR_B : LP2P_DCUTR_A, own, lens, n, 0,
                             lp2p__now(p->h), &LP2P_TRACE_LOG);
    for (size_t i = 0; i < MAX_PUNCH_ADDRS; i++)
        lp2p_multiaddr_free(&tmp[i]);
    return rc;
}

static lp2p_punch *punch_new(lp2p_conn *relayed, int role_b)
{
    lp2p_host *h = relayed->host;
    lp2p_punch *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->h = h;
    p->role_b = role_b;
    if (punch_core_init(p) < 0) {
        lp2p_dcutr_free(&p->core);
        free(p);
        return NULL;
    }
    p->relayed = relayed;
    p->peer = relayed->peer;
    snprintf(p->peer_str, sizeof(p->peer_str), "%s", relayed->peer_str);
    p->initiator = !role_b;
    p->t_relayed = relayed->ready_ms;
    p->give_up_at =
        h->cfg.holepunch_timeout_ms ? p->t_relayed + h->cfg.holepunch_timeout_ms : UINT64_MAX;
    p->repunches_left = role_b ? h->cfg.holepunch_repunch : 0;
    hp_conn *x = hp_state(relayed, 1);
    if (!x) {
        lp2p_dcutr_free(&p->core);
        free(p);
        return NULL;
    }
    uv_timer_init(h->loop, &p->timer);
    p->timer.data = p;
    h->open_handles++;
    lp2p_list_insert_tail(&h->punches, &p->link);
    x->punch = p;
    x->tried = 1;
    return p;
}

/* B only: a relayed connection the peer dialed, no punch on it yet, and not already direct. */
static int may_start_punch(lp2p_conn *c)
{
    const hp_conn *x = hp_state(c, 0);
    if (!c->relayed || c->outbound || (x && (x->punch || x->tried)) || c->host->closing ||
        !c->host->cfg.holepunch)
        return 0;
    return lp2p_host_find_conn(c->host, &c->peer) == c;
}

/* The exchange on c ended because the peer lacked DCUtR, and identify now lists it. */
static int may_retry_punch(lp2p_conn *c)
{
    hp_conn *x = hp_state(c, 0);
    if (!x || x->punch || !x->tried || !x->skipped || x->proto_retries >= HP_MAX_PROTO_RETRIES)
        return 0;
    x->tried = 0;
    int ok = may_start_punch(c);
    x->tried = 1;
    return ok;
}

static void emit_skipped(lp2p_conn *c, const char *why)
{
    lp2p_holepunch_event ev = {
        .outcome = LP2P_HOLEPUNCH_SKIPPED,
        .peer = &c->peer,
        .peer_str = c->peer_str,
        .role_b = 1,
        .relayed = c,
        .reason = why,
    };
    lp2p__host_emit_holepunch(c->host, &ev);
}

static void hp_on_connected(lp2p_conn *c, void *ud)
{
    /* Any direct connection to a peer we punch towards ends that punch well. */
    if (!c->relayed) {
        punch_direct_ready(c);
        return;
    }
    /* B: the peer reached us through a relay. Start at once rather than after identify:
     * that saves a relayed round trip (a peer without /libp2p/dcutr answers NA: skipped). */
    if (!may_start_punch(c))
        return;
    lp2p_punch *p = punch_new(c, 1);
    if (p)
        punch_next_attempt(p);
}

/* B, fallback: the peer identified itself and advertises DCUtR, but no punch ran yet. Also
 * where our own candidates come from: the address a direct peer saw us at. */
static void hp_on_identify(lp2p_conn *c, const lp2p_identify_result *r, void *ud)
{
    lp2p_multiaddr obs = {0};
    if (r->observed && lp2p_multiaddr_parse(&obs, r->observed, NULL, 0) == 0)
        holepunch_observed(c->host, c, obs.bytes, obs.len);
    lp2p_multiaddr_free(&obs);
    int speaks = 0;
    for (size_t i = 0; i < r->nprotocols; i++)
        if (strcmp(r->protocols[i], LP2P_DCUTR_PROTO) == 0)
            speaks = 1;
    if (speaks && may_retry_punch(c)) {
        hp_conn *x = hp_state(c, 0);
        x->skipped = 0;
        x->proto_retries++;
        lp2p_log(LP2P_INFO, "dcutr_retry", LF_S("peer", c->peer_str),
                 LF_S("reason", "identify lists /libp2p/dcutr"), LF_U("retry", x->proto_retries));
        lp2p_punch *p = punch_new(c, 1);
        if (p)
            punch_next_attempt(p);
        return;
    }
    if (!may_start_punch(c))
        return;
    if (!speaks) {
        hp_conn *x = hp_state(c, 1);
        if (x)
            x->tried = x->skipped = 1; /* until identify lists it (may_retry_punch) */
        emit_skipped(c, "peer does not advertise /libp2p/dcutr");
        return;
    }
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
    lp2p_punch *old = conn_punch(c);
    if (old && !old->done) {
        /* B opens a new stream only when it considers the last attempt over (possibly while
         * we still wait for a late SYN of it): the new attempt replaces ours. */
        if (!old->lingering)
            punch_emit(old, LP2P_HOLEPUNCH_FAILED, old->core.attempt, "dcutr stream closed early");
        punch_end(old);
    }
    if (!c->relayed || !c->outbound || conn_punch(c) || c->stage != CONN_READY) {
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

static void hp_on_disconnected(lp2p_conn *c, int reason, void *ud)
{
    hp_conn *x = hp_state(c, 0);
    if (!x)
        return;
    c->slots[HOST_SLOT_HOLEPUNCH] = NULL;
    lp2p_punch *p = x->punch;
    free(x);
    if (p) {
        p->relayed = NULL;
        /* Dials in flight may still bring the direct connection; a punch that reported it
         * only waited to close this one. */
        if (p->reported || (!p->done && p->dials_out == 0))
            punch_end(p);
    }
}

static void hp_on_host_close(lp2p_host *h, void *ud)
{
    while (!lp2p_list_empty(&h->punches)) {
        lp2p_punch *p = lp2p_container_of(h->punches.next, lp2p_punch, link);
        punch_end(p);
    }
}

void lp2p__holepunch_register(lp2p_host *h)
{
    /* The log lines of hole punching come from a subscriber before the app's. */
    host_observer log = {.cb = {.on_holepunch = lp2p__holepunch_log}, .order = -10};
    lp2p__host_observe(h, &log);
    if (!h->cfg.holepunch)
        return;
    lp2p_host_handle(h, LP2P_DCUTR_PROTO, &k_dcutr_handler, NULL);
    host_observer o = {.cb = {.on_connected = hp_on_connected,
                              .on_disconnected = hp_on_disconnected,
                              .on_identify = hp_on_identify},
                       .on_accepted = hp_on_accepted,
                       .on_host_close = hp_on_host_close,
                       .order = 10};
    lp2p__host_observe(h, &o);
}
