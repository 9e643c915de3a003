/* holepunch client: connects to a Kaspa server over libp2p (directly, or through a relay and
 * then on the hole-punched direct connection) or over plain TCP, handshakes, and keeps the
 * session alive, reconnecting with backoff. Test modes end after Ready, after N pings, or
 * after a timed burst. */
#include "cli.h"
#include "cmds.h"
#include "kaspa_opts.h"
#include "kaspa_stream.h"

#include "kaspa/kaspa_tcp.h"
#include "lp2p/err.h"
#include "util/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS       1000
#define BACKOFF_MAX_MS       30000
#define DIRECT_TIMEOUT_MS    30000
#define FINISH_GRACE_MS      200 /* lets our last bytes (gRPC end) leave before the host closes */
#define BURST_CHUNK          (64 * 1024)
#define BURST_UNUSED_PAYLOAD 4   /* KaspadMessage field number no kaspa version uses */
#define MAX_STREAMS          256 /* the host allows 512 streams per connection */
#define BURST_PER_TURN       4   /* --streams: burst messages per loop turn (see burst_fill) */

static const char *const k_help =
    "usage: holepunch client --peer ID --remote MA [--remote MA ...] [options]\n"
    "       holepunch client --kaspa-connect HOST:PORT [options]\n\n"
    "Connects to a Kaspa server (`holepunch server`) and runs a Kaspa P2P session (we are the\n"
    "gRPC client). Addresses are tried in order; relay circuit addresses\n"
    "(<relay>/p2p/<relay-id>/p2p-circuit) work too, and an address without /p2p/<peer> gets\n"
    "it appended. Through a relay, the server hole-punches (DCUtR) and, with\n"
    "--require-direct, Kaspa runs only on the direct connection. A relay that has no\n"
    "reservation for the server (NO_RESERVATION) is retried: the server may not be there yet.\n"
    "The session is kept until interrupted and re-established with backoff (1 s doubling to\n"
    "30 s) when it drops.\n\n"
    "Options:\n"
    "  --peer ID             server peer ID (or LIBP2P_REMOTE_PEER_ID)\n"
    "  --remote MA           server address (repeatable; or LIBP2P_REMOTE_MULTIADDRS, comma or\n"
    "                        semicolon separated; LIBP2P_REMOTE_MULTIADDR also works)\n"
    "  --listen MA           listen too (needed to be hole-punched: punch dials come from the\n"
    "                        listen port), e.g. /ip4/0.0.0.0/tcp/0\n"
    "  --require-direct      run Kaspa only on a direct connection (default)\n"
    "  --no-require-direct   also run Kaspa over the relay (limited: 2 min, 128 KiB by default);\n"
    "                        moved to the direct connection once the punch succeeds\n"
    "  --direct-timeout SEC  wait this long for the direct connection (default 30), then\n"
    "                        drop the relayed connection and retry (a new punch)\n"
    "  --kaspa-connect HP    plain TCP to HOST:PORT instead of libp2p (any Kaspa node)\n"
    "  --kaspa-protocol ID   stream protocol (default /kaspad/transport/1.0.0; the PoC fork\n"
    "                        speaks /kaspa/p2p/bridge/1.0)\n"
    "  --exit-after-ready    exit 0 once the handshake completed (Ready both ways)\n"
    "  --pings N             after Ready send N pings, one at a time; exit 0 when all answered\n"
    "  --streams N           open N Kaspa sessions at once on the one connection (1..256),\n"
    "                        each with its own random node id; with --burst the first runs\n"
    "                        the burst, the others their --pings; logs kaspa_stream_result\n"
    "                        per session and kaspa_streams {opened, ready, pings_answered,\n"
    "                        failed}; exit 0 only if every one reached its goal (libp2p only)\n"
    "  --burst BYTES         after Ready send BYTES of Kaspa messages (K/M/G suffixes) and\n"
    "                        report MB/s (libp2p or --kaspa-connect)\n\n";

typedef enum client_state {
    ST_IDLE = 0,
    ST_DIALING,
    ST_WAIT_DIRECT,
    ST_SESSION,
    ST_BACKOFF,
    ST_DONE,
} client_state;

/* One timed burst: BURST_CHUNK messages while the transport has room, then a Ping; the
 * Pong (after every burst byte on the same ordered stream) stops the clock. */
typedef struct burst_run {
    long long sent;
    uint64_t start_ns; /* 0 until Ready */
    int done, wait_pong;
} burst_run;

struct client_app;

/* --streams: one of N concurrent Kaspa sessions on the same connection, each with its own
 * hub (so its own random node id: the server's duplicate key is (node id, address) and all
 * N share the connection's synthetic address). */
typedef struct kslot {
    struct client_app *a;
    int idx;
    kaspa_hub *hub;
    kaspa_stream *ks;
    char node_hex[2 * KASPA_NODE_ID_LEN + 1];
    int bursting; /* this slot runs --burst instead of --pings */
    burst_run br;
    int ready, pings_sent, pings_ok;
    int ok;      /* reached its goal */
    int settled; /* closed (ok or failed) */
    char reason[160];
} kslot;

typedef struct client_app {
    uv_loop_t loop;
    lp2p_host *host;
    lp2p_keypair *kp;
    kaspa_hub *hub;
    kaspa_session_config p2p_cfg, tcp_cfg;
    /* target */
    lp2p_peer_id peer;
    char peer_str[LP2P_PEER_ID_STR_MAX];
    char *addrs[CLI_MAX_ADDRS];
    size_t naddrs, addr_idx;
    const char *kaspa_connect;
    const char *proto; /* --kaspa-protocol */
    /* behaviour */
    int require_direct;
    uint64_t direct_timeout_ms;
    int exit_after_ready;
    long pings;
    long long burst;
    /* state */
    client_state st;
    uv_timer_t retry_timer, direct_timer, check_timer, finish_timer, burst_timer;
    uint64_t backoff_ms;
    uint64_t wait_direct_since;
    kaspa_stream *ks;
    kaspa_tcp_conn *tc;
    int exit_code;
    int pings_sent, pings_ok;
    burst_run br;
    uint8_t *burst_msg;
    size_t burst_msg_len;
    char last_reason[160]; /* of the current session: a Reject or why it closed */
    int upgrading;         /* closing a relayed session to reopen it on the direct connection */
    /* --streams N */
    int nstreams;
    kslot *slots;
    int slots_open, slots_settled;
} client_app;

static void start_attempt(client_app *a);
static void dial_next(client_app *a);
static void open_session(client_app *a, lp2p_conn *conn);
static lp2p_conn *direct_conn(client_app *a);

static int test_mode(const client_app *a)
{
    return a->exit_after_ready || a->pings > 0 || a->burst > 0 || a->nstreams > 0;
}

/* ---- ending ------------------------------------------------------------------------------- */
static void close_handles(client_app *a)
{
    uv_close((uv_handle_t *)&a->retry_timer, NULL);
    uv_close((uv_handle_t *)&a->direct_timer, NULL);
    uv_close((uv_handle_t *)&a->check_timer, NULL);
    uv_close((uv_handle_t *)&a->finish_timer, NULL);
    uv_close((uv_handle_t *)&a->burst_timer, NULL);
    if (a->host)
        lp2p_host_close(a->host);
    a->host = NULL;
    cli_signals_close();
}

static void on_finish_timer(uv_timer_t *t)
{
    close_handles(t->data);
}

static void finish(client_app *a, int code)
{
    if (a->st == ST_DONE)
        return;
    a->st = ST_DONE;
    a->exit_code = code;
    uv_timer_stop(&a->retry_timer);
    uv_timer_stop(&a->direct_timer);
    uv_timer_stop(&a->check_timer);
    uv_timer_stop(&a->burst_timer);
    if (a->ks)
        kaspa_stream_close(a->ks, NULL);
    if (a->tc)
        kaspa_tcp_conn_close(a->tc, NULL);
    for (int i = 0; i < a->slots_open; i++)
        if (a->slots[i].ks)
            kaspa_stream_close(a->slots[i].ks, NULL);
    uv_timer_start(&a->finish_timer, on_finish_timer, FINISH_GRACE_MS, 0);
}

static void on_stop(void *ud)
{
    client_app *a = ud;
    finish(a, test_mode(a) ? 130 : 0);
}

/* ---- retry -------------------------------------------------------------------------------- */
static void on_retry_timer(uv_timer_t *t)
{
    start_attempt(t->data);
}

static void schedule_retry(client_app *a, const char *reason)
{
    if (a->st == ST_DONE)
        return;
    a->st = ST_BACKOFF;
    lp2p_log(LP2P_INFO, "kaspa_reconnect", LF_U("in_ms", a->backoff_ms), LF_S("reason", reason));
    uv_timer_start(&a->retry_timer, on_retry_timer, a->backoff_ms, 0);
    a->backoff_ms *= 2;
    if (a->backoff_ms > BACKOFF_MAX_MS)
        a->backoff_ms = BACKOFF_MAX_MS;
}

/* ---- Kaspa session events (libp2p stream or TCP) ------------------------------------------- */
static int send_ping(client_app *a)
{
    if (a->ks)
        return kaspa_stream_ping(a->ks);
    if (a->tc)
        return kaspa_tcp_conn_ping(a->tc);
    return LP2P_ERR_STATE;
}

static void burst_fill(client_app *a, burst_run *br, kaspa_stream *ks, kaspa_tcp_conn *tc);
static int burst_pong(client_app *a, burst_run *br, const char *label);

/* After Ready (and after the burst): the next thing a test mode wants, or finish. */
static void next_goal(client_app *a)
{
    if (a->burst > 0 && !a->br.done) {
        burst_fill(a, &a->br, a->ks, a->tc);
        return;
    }
    if (a->pings_sent < a->pings) {
        if (a->pings_sent > a->pings_ok)
            return; /* one at a time */
        if (send_ping(a) == 0)
            a->pings_sent++;
        /* else: the session's own Ping is outstanding; its Pong brings us back here */
        return;
    }
    if (test_mode(a) && a->pings_ok >= a->pings) {
        if (a->pings > 0)
            lp2p_log(LP2P_INFO, "kaspa_pings_done", LF_S("peer", a->peer_str),
                     LF_I("sent", a->pings_sent), LF_I("answered", a->pings_ok));
        finish(a, 0);
    }
}

static void on_kaspa_event(client_app *a, const kaspa_event *ev)
{
    if (a->st == ST_DONE)
        return;
    switch (ev->type) {
    case KASPA_EV_REJECT:
        snprintf(a->last_reason, sizeof a->last_reason, "reject %s: %s",
                 ev->u.reject.sent ? "sent" : "received",
                 ev->u.reject.reason ? ev->u.reject.reason : "");
        break;
    case KASPA_EV_CLOSED:
        if (!a->last_reason[0] && ev->u.closed.reason)
            snprintf(a->last_reason, sizeof a->last_reason, "%s", ev->u.closed.reason);
        break;
    case KASPA_EV_READY:
        a->backoff_ms = BACKOFF_MIN_MS;
        if (a->burst > 0)
            a->br.start_ns = uv_hrtime();
        next_goal(a);
        break;
    case KASPA_EV_PING:
        if (!burst_pong(a, &a->br, a->peer_str) && a->pings_sent > a->pings_ok)
            a->pings_ok++;
        next_goal(a);
        break;
    default:
        break;
    }
}

static void session_ended(client_app *a, const char *why)
{
    if (a->last_reason[0])
        why = a->last_reason;
    if (a->st == ST_DONE)
        return;
    if (test_mode(a)) {
        lp2p_log(LP2P_ERROR, "kaspa_session_failed", LF_S("peer", a->peer_str),
                 LF_S("reason", why));
        finish(a, 1);
        return;
    }
    schedule_retry(a, why);
}

/* ---- burst over a libp2p stream or TCP ----------------------------------------------------- */
static int burst_prepare(client_app *a)
{
    /* KaspadMessage { field 4 (bytes) = BURST_CHUNK pseudo-random bytes }: an unused payload
     * number, which our server counts and ignores; random so gzip cannot shrink it. */
    uint8_t hdr[8];
    size_t h = 0;
    hdr[h++] = (BURST_UNUSED_PAYLOAD << 3) | 2;
    for (uint32_t v = BURST_CHUNK;; v >>= 7) {
        hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f)
            break;
    }
    a->burst_msg_len = h + BURST_CHUNK;
    a->burst_msg = malloc(a->burst_msg_len);
    if (!a->burst_msg)
        return -1;
    memcpy(a->burst_msg, hdr, h);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = h; i < a->burst_msg_len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        a->burst_msg[i] = (uint8_t)x;
    }
    return 0;
}

static void on_burst_timer(uv_timer_t *t);

/* Sends while the transport has room (kaspa_stream_can_send / kaspa_tcp_conn_can_send: a
 * bounded amount in the socket or stream, the session's output and its HTTP/2 queue), so at
 * most ~2 MiB of the burst is ever buffered; the transport's on_writable calls back here. */
static void burst_fill(client_app *a, burst_run *br, kaspa_stream *ks, kaspa_tcp_conn *tc)
{
    if ((!ks && !tc) || !br->start_ns || br->done || br->wait_pong || a->st == ST_DONE)
        return;
    kaspa_session *s = ks ? kaspa_stream_session(ks) : kaspa_tcp_conn_session(tc);
    int budget = a->nstreams > 0 ? BURST_PER_TURN : INT_MAX;
    while (br->sent < a->burst && (ks ? kaspa_stream_can_send(ks) : kaspa_tcp_conn_can_send(tc))) {
        if (budget-- == 0) {
            /* Other sessions share this loop: compressing and framing a whole high-water
             * mark of burst in one turn would hold their Pings back for that long. The
             * rest goes next turn (after the loop has polled I/O). */
            uv_timer_start(&a->burst_timer, on_burst_timer, 0, 0);
            return;
        }
        if (kaspa_session_send_raw(s, a->burst_msg, a->burst_msg_len) != 0)
            break;
        br->sent += (long long)a->burst_msg_len;
        if (ks)
            kaspa_stream_flush(ks);
        else
            kaspa_tcp_conn_flush(tc);
    }
    if (br->sent >= a->burst) {
        /* The Pong comes after the server has read every burst byte (one ordered stream). */
        if ((ks ? kaspa_stream_ping(ks) : kaspa_tcp_conn_ping(tc)) == 0)
            br->wait_pong = 1;
    }
}

static void on_burst_timer(uv_timer_t *t)
{
    client_app *a = t->data;
    if (a->nstreams > 0) {
        kslot *k = &a->slots[0];
        if (k->bursting && k->ks)
            burst_fill(a, &k->br, k->ks, NULL);
    } else {
        burst_fill(a, &a->br, a->ks, a->tc);
    }
}

/* A Pong: 1 if it ended the burst (then logged kaspa_burst {bytes, seconds, mb_per_s}). */
static int burst_pong(client_app *a, burst_run *br, const char *label)
{
    (void)a;
    if (!br->wait_pong)
        return 0;
    double secs = (double)(uv_hrtime() - br->start_ns) / 1e9;
    double mbps = secs > 0 ? (double)br->sent / 1e6 / secs : 0;
    br->wait_pong = 0;
    br->done = 1;
    lp2p_log(LP2P_INFO, "kaspa_burst", LF_S("peer", label), LF_U("bytes", br->sent),
             LF_F("seconds", secs), LF_F("mb_per_s", mbps));
    printf("burst: %lld bytes in %.3f s = %.1f MB/s\n", br->sent, secs, mbps);
    fflush(stdout);
    return 1;
}

/* ---- libp2p stream callbacks --------------------------------------------------------------- */
static void ks_on_event(void *user, kaspa_stream *ks, const kaspa_event *ev)
{
    (void)ks;
    on_kaspa_event(user, ev);
}

static void ks_on_writable(void *user, kaspa_stream *ks)
{
    client_app *a = user;
    (void)ks;
    if (a->burst > 0 && !a->br.done && a->br.start_ns)
        burst_fill(a, &a->br, a->ks, NULL);
}

static void ks_on_closed(void *user, kaspa_stream *ks, int err)
{
    client_app *a = user;
    a->ks = NULL;
    /* The stream's own account (a Reject, "the peer does not serve ...") is the most exact. */
    if (a->upgrading && a->st == ST_SESSION) {
        lp2p_conn *d = direct_conn(a);
        a->upgrading = 0;
        if (d) {
            a->pings_sent = a->pings_ok; /* a Ping in flight died with the old session */
            a->last_reason[0] = 0;
            open_session(a, d);
            return;
        }
    }
    if (kaspa_stream_reason(ks)[0])
        snprintf(a->last_reason, sizeof a->last_reason, "%s", kaspa_stream_reason(ks));
    session_ended(a, err ? lp2p_strerror(err) : "Kaspa session ended");
}

static const kaspa_stream_callbacks k_ks_cb = {
    .on_event = ks_on_event,
    .on_writable = ks_on_writable,
    .on_closed = ks_on_closed,
};

/* ---- --streams N: N concurrent sessions on one connection ---------------------------------- */
static void streams_done(client_app *a)
{
    int ready = 0, failed = 0;
    long pings = 0;
    for (int i = 0; i < a->slots_open; i++) {
        ready += a->slots[i].ready;
        failed += !a->slots[i].ok;
        pings += a->slots[i].pings_ok;
    }
    failed += a->nstreams - a->slots_open; /* never opened */
    lp2p_log(failed ? LP2P_ERROR : LP2P_INFO, "kaspa_streams", LF_S("peer", a->peer_str),
             LF_I("opened", a->slots_open), LF_I("ready", ready), LF_I("pings_answered", pings),
             LF_I("failed", failed));
    printf("streams: %d opened, %d ready, %ld pings answered, %d failed\n", a->slots_open, ready,
           pings, failed);
    fflush(stdout);
    finish(a, failed ? 1 : 0);
}

/* The slot's next step after Ready or a Pong: its burst, or its next Ping (one at a time);
 * when its goal is reached, a clean end of its session. */
static void slot_next(kslot *k)
{
    client_app *a = k->a;
    if (k->ok || !k->ks || !k->ready || a->st == ST_DONE)
        return;
    if (k->bursting) {
        burst_fill(a, &k->br, k->ks, NULL);
        if (!k->br.done)
            return;
    } else if (k->pings_ok < a->pings) {
        if (k->pings_sent == k->pings_ok && kaspa_stream_ping(k->ks) == 0)
            k->pings_sent++;
        return;
    }
    k->ok = 1;
    kaspa_stream_close(k->ks, NULL);
}

static void slot_on_event(void *user, kaspa_stream *ks, const kaspa_event *ev)
{
    kslot *k = user;
    (void)ks;
    switch (ev->type) {
    case KASPA_EV_READY:
        k->ready = 1;
        if (k->bursting)
            k->br.start_ns = uv_hrtime();
        slot_next(k);
        break;
    case KASPA_EV_PING:
        if (!(k->bursting && burst_pong(k->a, &k->br, k->a->peer_str)) &&
            k->pings_sent > k->pings_ok)
            k->pings_ok++;
        slot_next(k);
        break;
    default:
        break;
    }
}

static void slot_on_writable(void *user, kaspa_stream *ks)
{
    kslot *k = user;
    if (k->bursting && k->br.start_ns && !k->br.done)
        burst_fill(k->a, &k->br, ks, NULL);
}

static void slot_on_closed(void *user, kaspa_stream *ks, int err)
{
    kslot *k = user;
    client_app *a = k->a;
    k->ks = NULL;
    k->settled = 1;
    if (!k->ok)
        snprintf(k->reason, sizeof k->reason, "%s",
                 kaspa_stream_reason(ks)[0] ? kaspa_stream_reason(ks)
                 : err                      ? lp2p_strerror(err)
                                            : "ended before its goal");
    lp2p_log(k->ok ? LP2P_INFO : LP2P_WARN, "kaspa_stream_result", LF_S("peer", a->peer_str),
             LF_I("index", k->idx), LF_S("node_id", k->node_hex), LF_B("ready", k->ready),
             LF_I("pings_answered", k->pings_ok), LF_U("burst_bytes", k->br.sent),
             LF_B("ok", k->ok), LF_S("reason", k->ok ? "" : k->reason));
    if (++a->slots_settled == a->slots_open && a->slots_open > 0)
        streams_done(a);
}

static const kaspa_stream_callbacks k_slot_cb = {
    .on_event = slot_on_event,
    .on_writable = slot_on_writable,
    .on_closed = slot_on_closed,
};

/* All N streams are opened in one loop turn, before any handshake completes: the server
 * (and the connection's Yamux windows) must serve every one while the others, and one
 * bulk burst, are busy. */
static void open_streams(client_app *a, lp2p_conn *conn)
{
    a->slots_open = 0;
    for (int i = 0; i < a->nstreams; i++) {
        kslot *k = &a->slots[i];
        kaspa_session_config cfg = a->p2p_cfg;
        cfg.hub = k->hub;
        k->bursting = a->burst > 0 && i == 0;
        int rc = kaspa_stream_open(conn, a->proto, &a->loop, &cfg, &k_slot_cb, k, &k->ks);
        if (rc != 0) {
            k->ks = NULL;
            lp2p_log(LP2P_WARN, "kaspa_stream_error", LF_S("peer", a->peer_str), LF_I("index", i),
                     LF_S("reason", lp2p_strerror(rc)));
            break;
        }
        a->slots_open++;
    }
    lp2p_log(LP2P_INFO, "kaspa_streams_opened", LF_S("peer", a->peer_str),
             LF_I("count", a->slots_open), LF_I("wanted", a->nstreams));
    if (a->slots_open == 0)
        streams_done(a);
}

static void open_session(client_app *a, lp2p_conn *conn)
{
    uv_timer_stop(&a->direct_timer);
    uv_timer_stop(&a->check_timer);
    a->st = ST_SESSION;
    lp2p_log(LP2P_INFO, "kaspa_connection", LF_S("peer", a->peer_str),
             LF_S("addr", lp2p_conn_remote_addr(conn)),
             LF_B("relayed", lp2p_conn_is_relayed(conn)));
    if (a->nstreams > 0) {
        open_streams(a, conn);
        return;
    }
    int rc = kaspa_stream_open(conn, a->proto, &a->loop, &a->p2p_cfg, &k_ks_cb, a, &a->ks);
    if (rc != 0) {
        a->ks = NULL;
        lp2p_log(LP2P_WARN, "kaspa_stream_error", LF_S("peer", a->peer_str),
                 LF_S("reason", lp2p_strerror(rc)));
        schedule_retry(a, "cannot open the Kaspa stream");
    }
}

/* ---- waiting for the hole punch ----------------------------------------------------------- */
static lp2p_conn *direct_conn(client_app *a)
{
    lp2p_conn *c = a->host ? lp2p_host_find_conn(a->host, &a->peer) : NULL;
    return c && !lp2p_conn_is_relayed(c) ? c : NULL;
}

static void on_check_timer(uv_timer_t *t)
{
    client_app *a = t->data;
    lp2p_conn *c = direct_conn(a);
    if (!c)
        return;
    if (a->st == ST_WAIT_DIRECT) {
        open_session(a, c);
        return;
    }
    /* --no-require-direct: a session that started on the relay moves to the punched
     * connection (the relayed one closes after its grace period anyway). Its end is awaited
     * first, so the server has forgotten it and the new one is no duplicate. A burst in
     * flight stays where it is. */
    if (a->st == ST_SESSION && a->ks && kaspa_stream_relayed(a->ks) && !a->upgrading &&
        !(a->br.start_ns && !a->br.done)) {
        a->upgrading = 1;
        lp2p_log(LP2P_INFO, "kaspa_upgrade_direct", LF_S("peer", a->peer_str),
                 LF_S("addr", lp2p_conn_remote_addr(c)));
        kaspa_stream_close(a->ks, NULL);
    }
}

static void on_direct_timer(uv_timer_t *t)
{
    client_app *a = t->data;
    if (a->st != ST_WAIT_DIRECT)
        return;
    lp2p_log(LP2P_ERROR, "kaspa_direct_timeout", LF_S("peer", a->peer_str),
             LF_U("waited_ms", a->direct_timeout_ms),
             LF_S("reason", "no direct connection: the hole punch did not succeed (both sides "
                            "behind symmetric NATs?); --no-require-direct runs Kaspa over the "
                            "relay"));
    /* A fresh relayed connection next time starts a fresh DCUtR exchange. */
    lp2p_conn *c = a->host ? lp2p_host_find_conn(a->host, &a->peer) : NULL;
    if (c && lp2p_conn_is_relayed(c))
        lp2p_conn_close(c, 0);
    schedule_retry(a, "no direct connection in time");
}

static void on_host_connected(lp2p_conn *c, void *ud)
{
    client_app *a = ud;
    int relayed_session = a->st == ST_SESSION && a->ks && kaspa_stream_relayed(a->ks);
    if ((a->st != ST_WAIT_DIRECT && !relayed_session) || lp2p_conn_is_relayed(c) ||
        !lp2p_peer_id_equal(lp2p_conn_peer(c), &a->peer))
        return;
    /* Next loop turn: the host may still be settling which of several punched connections
     * it keeps; find_conn then names the survivor. */
    uv_timer_start(&a->check_timer, on_check_timer, 0, 0);
}

/* ---- dialing ------------------------------------------------------------------------------ */
static void on_dial(lp2p_conn *c, int err, void *ud)
{
    client_app *a = ud;
    if (a->st != ST_DIALING)
        return;
    const char *addr = a->addrs[a->addr_idx];
    if (err < 0) {
        if (err == LP2P_ERR_NOT_FOUND)
            lp2p_log(LP2P_WARN, "kaspa_server_not_there_yet", LF_S("peer", a->peer_str),
                     LF_S("addr", addr),
                     LF_S("reason", "the relay has no reservation for the server "
                                    "(NO_RESERVATION); retrying"));
        else
            lp2p_log(LP2P_WARN, "kaspa_dial_failed", LF_S("peer", a->peer_str), LF_S("addr", addr),
                     LF_S("reason", lp2p_strerror(err)));
        a->addr_idx++;
        dial_next(a);
        return;
    }
    if (!lp2p_conn_is_relayed(c) || !a->require_direct) {
        open_session(a, c);
        return;
    }
    lp2p_conn *d = direct_conn(a);
    if (d) {
        open_session(a, d);
        return;
    }
    a->st = ST_WAIT_DIRECT;
    a->wait_direct_since = uv_now(&a->loop);
    lp2p_log(LP2P_INFO, "kaspa_waiting_direct", LF_S("peer", a->peer_str),
             LF_S("relayed_addr", lp2p_conn_remote_addr(c)),
             LF_U("timeout_ms", a->direct_timeout_ms));
    uv_timer_start(&a->direct_timer, on_direct_timer, a->direct_timeout_ms, 0);
}

static void dial_next(client_app *a)
{
    while (a->addr_idx < a->naddrs) {
        const char *addr = a->addrs[a->addr_idx];
        lp2p_log(LP2P_INFO, "kaspa_dial", LF_S("peer", a->peer_str), LF_S("addr", addr));
        int rc = lp2p_host_dial(a->host, addr, on_dial, a);
        if (rc == 0)
            return;
        lp2p_log(LP2P_WARN, "kaspa_dial_failed", LF_S("peer", a->peer_str), LF_S("addr", addr),
                 LF_S("reason", lp2p_strerror(rc)));
        a->addr_idx++;
    }
    schedule_retry(a, "no address worked");
}

/* ---- plain TCP ---------------------------------------------------------------------------- */
static void tcp_on_event(void *user, kaspa_tcp_conn *c, const kaspa_event *ev)
{
    (void)c;
    on_kaspa_event(user, ev);
}

static void tcp_on_writable(void *user, kaspa_tcp_conn *c)
{
    client_app *a = user;
    if (a->burst > 0 && !a->br.done && a->br.start_ns)
        burst_fill(a, &a->br, NULL, c);
}

static void tcp_on_closed(void *user, kaspa_tcp_conn *c, int err)
{
    client_app *a = user;
    kaspa_session *s = kaspa_tcp_conn_session(c);
    a->tc = NULL;
    if (!s) {
        schedule_retry(a, err ? lp2p_strerror(err) : "connect failed");
        return;
    }
    kaspa_session_stats st;
    kaspa_session_get_stats(s, &st);
    lp2p_log(LP2P_INFO, "kaspa_session_closed", LF_S("peer", kaspa_tcp_conn_peer(c)),
             LF_S("addr", kaspa_tcp_conn_peer(c)), LF_B("relayed", 0),
             LF_U("bytes_in", st.bytes_in), LF_U("bytes_out", st.bytes_out),
             LF_U("messages_in", st.msgs_in), LF_U("messages_out", st.msgs_out),
             LF_S("reason", a->last_reason[0] ? a->last_reason
                            : err             ? lp2p_strerror(err)
                                              : "closed"));
    session_ended(a, err ? lp2p_strerror(err) : "Kaspa session ended");
}

static void start_attempt(client_app *a)
{
    if (a->st == ST_DONE)
        return;
    a->last_reason[0] = 0;
    if (a->kaspa_connect) {
        a->st = ST_SESSION;
        kaspa_tcp_callbacks tcb = {.on_event = tcp_on_event,
                                   .on_conn_closed = tcp_on_closed,
                                   .on_writable = tcp_on_writable};
        if (kaspa_tcp_connect(&a->loop, a->kaspa_connect, &a->tcp_cfg, &tcb, a, &a->tc) != 0) {
            a->tc = NULL;
            fprintf(stderr, "holepunch client: bad --kaspa-connect address %s\n", a->kaspa_connect);
            finish(a, 2);
        }
        return;
    }
    a->st = ST_DIALING;
    a->addr_idx = 0;
    dial_next(a);
}

/* ---- arguments ---------------------------------------------------------------------------- */
/* Ends each address in /p2p/<peer>; learns the peer from a plain address when no --peer. */
static int prepare_addrs(client_app *a, const char *const *in, size_t n, int have_peer)
{
    if (!have_peer) {
        for (size_t i = 0; i < n && !have_peer; i++) {
            const char *p = strstr(in[i], "/p2p-circuit");
            const char *last = NULL;
            for (const char *q = strstr(in[i], "/p2p/"); q; q = strstr(q + 1, "/p2p/"))
                last = q;
            if (last && (!p || last > p) && lp2p_peer_id_parse(last + 5, &a->peer) == 0)
                have_peer = 1;
        }
        if (!have_peer) {
            fprintf(stderr, "holepunch client: give the server's peer ID (--peer or "
                            "LIBP2P_REMOTE_PEER_ID)\n");
            return -1;
        }
    }
    lp2p_peer_id_to_string(&a->peer, a->peer_str, sizeof a->peer_str);
    char suffix[LP2P_PEER_ID_STR_MAX + 8];
    snprintf(suffix, sizeof suffix, "/p2p/%s", a->peer_str);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(in[i]), sl = strlen(suffix);
        while (len > 0 && in[i][len - 1] == '/')
            len--;
        int has = len >= sl && memcmp(in[i] + len - sl, suffix, sl) == 0;
        char *s = malloc(len + sl + 1);
        if (!s)
            return -1;
        memcpy(s, in[i], len);
        s[len] = 0;
        if (!has)
            strcat(s, suffix);
        a->addrs[a->naddrs++] = s;
    }
    return 0;
}

int cmd_client(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    kaspa_opts ko;
    kaspa_opts_init(&ko);
    client_app *a = calloc(1, sizeof(*a));
    if (!a)
        return 1;
    a->require_direct = 1;
    a->direct_timeout_ms = DIRECT_TIMEOUT_MS;
    a->backoff_ms = BACKOFF_MIN_MS;
    const char *peer = NULL;
    const char *remote[CLI_MAX_ADDRS];
    size_t nremote = 0;
    char *env_remote = NULL;
    int exit_code = 2;
    for (int i = 1; i < argc;) {
        const char *o = argv[i];
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            fputs(k_help, stdout);
            fputs(KASPA_OPTS_HELP, stdout);
            fputs("\n", stdout);
            fputs(CLI_COMMON_HELP, stdout);
            exit_code = 0;
            goto out_args;
        }
        if (strcmp(o, "--require-direct") == 0 || strcmp(o, "--no-require-direct") == 0) {
            a->require_direct = o[2] == 'r';
            i++;
            continue;
        }
        if (strcmp(o, "--exit-after-ready") == 0) {
            a->exit_after_ready = 1;
            i++;
            continue;
        }
        int valued = strcmp(o, "--peer") == 0 || strcmp(o, "--remote") == 0 ||
                     strcmp(o, "--direct-timeout") == 0 || strcmp(o, "--kaspa-connect") == 0 ||
                     strcmp(o, "--pings") == 0 || strcmp(o, "--burst") == 0 ||
                     strcmp(o, "--kaspa-protocol") == 0 || strcmp(o, "--streams") == 0;
        if (valued) {
            if (i + 1 >= argc) {
                fprintf(stderr, "holepunch client: %s needs a value (see --help)\n", o);
                goto out_args;
            }
            const char *v = argv[i + 1];
            char *end;
            if (strcmp(o, "--peer") == 0) {
                peer = v;
            } else if (strcmp(o, "--remote") == 0) {
                if (nremote == CLI_MAX_ADDRS) {
                    fprintf(stderr, "holepunch client: at most %d --remote\n", CLI_MAX_ADDRS);
                    goto out_args;
                }
                remote[nremote++] = v;
            } else if (strcmp(o, "--kaspa-protocol") == 0) {
                if (v[0] != '/') {
                    fprintf(stderr, "holepunch client: --kaspa-protocol must start with /\n");
                    goto out_args;
                }
                a->proto = v;
            } else if (strcmp(o, "--kaspa-connect") == 0) {
                a->kaspa_connect = v;
            } else if (strcmp(o, "--direct-timeout") == 0) {
                errno = 0;
                unsigned long s = strtoul(v, &end, 10);
                if (errno || *end || end == v || s == 0 || s > 3600) {
                    fprintf(stderr, "holepunch client: --direct-timeout wants 1..3600 s\n");
                    goto out_args;
                }
                a->direct_timeout_ms = s * 1000;
            } else if (strcmp(o, "--streams") == 0) {
                errno = 0;
                long n = strtol(v, &end, 10);
                if (errno || *end || end == v || n < 1 || n > MAX_STREAMS) {
                    fprintf(stderr, "holepunch client: --streams wants 1..%d\n", MAX_STREAMS);
                    goto out_args;
                }
                a->nstreams = (int)n;
            } else if (strcmp(o, "--pings") == 0) {
                errno = 0;
                a->pings = strtol(v, &end, 10);
                if (errno || *end || end == v || a->pings < 0 || a->pings > 1000000) {
                    fprintf(stderr, "holepunch client: --pings wants a count\n");
                    goto out_args;
                }
            } else {
                a->burst = cli_parse_size(v);
                if (a->burst <= 0) {
                    fprintf(stderr, "holepunch client: --burst wants a byte count\n");
                    goto out_args;
                }
            }
            i += 2;
            continue;
        }
        int n = kaspa_opts_parse(&ko, argc, argv, i);
        if (n == 0)
            n = cli_parse_common(&c, argc, argv, i);
        if (n < 0)
            goto out_args;
        if (n == 0) {
            fprintf(stderr, "holepunch client: unknown option '%s' (see --help)\n", o);
            goto out_args;
        }
        i += n;
    }
    if (cli_common_finish(&c, "client") < 0)
        goto out_args;
    if (!a->kaspa_connect) {
        const char *e;
        if (!peer && (e = getenv("LIBP2P_REMOTE_PEER_ID")) && *e)
            peer = e;
        /* The PoC's client also reads the singular name. */
        if (nremote == 0 && (((e = getenv("LIBP2P_REMOTE_MULTIADDRS")) && *e) ||
                             ((e = getenv("LIBP2P_REMOTE_MULTIADDR")) && *e)))
            nremote = cli_split_list(e, remote, CLI_MAX_ADDRS, &env_remote);
        if (nremote == 0) {
            fprintf(stderr, "holepunch client: give --remote MULTIADDR (or "
                            "LIBP2P_REMOTE_MULTIADDRS), or --kaspa-connect HOST:PORT\n");
            goto out_args;
        }
        if (peer && lp2p_peer_id_parse(peer, &a->peer) != 0) {
            fprintf(stderr, "holepunch client: '%s' is not a peer ID\n", peer);
            goto out_args;
        }
        if (prepare_addrs(a, remote, nremote, peer != NULL) < 0)
            goto out_args;
    } else if (a->nstreams > 0) {
        fprintf(stderr, "holepunch client: --streams is for libp2p connections (one TCP "
                        "connection carries one session)\n");
        goto out_args;
    } else {
        snprintf(a->peer_str, sizeof a->peer_str, "%s", a->kaspa_connect);
    }
    if (a->nstreams > 1 && ko.has_node_id) {
        fprintf(stderr, "holepunch client: --node-id is for one session; --streams gives each "
                        "session its own random node id\n");
        goto out_args;
    }
    if (a->nstreams > 0) {
        a->slots = calloc((size_t)a->nstreams, sizeof(*a->slots));
        if (!a->slots) {
            exit_code = 1;
            goto out_args;
        }
        for (int i = 0; i < a->nstreams; i++) {
            kslot *k = &a->slots[i];
            k->a = a;
            k->idx = i;
            if (kaspa_hub_new(&k->hub, ko.has_node_id ? ko.node_id : NULL, &LP2P_RNG_OPENSSL) !=
                0) {
                fprintf(stderr, "holepunch: cannot create the Kaspa hub\n");
                exit_code = 1;
                goto out_args;
            }
            const uint8_t *id = kaspa_hub_node_id(k->hub);
            for (int j = 0; j < KASPA_NODE_ID_LEN; j++)
                snprintf(k->node_hex + 2 * j, 3, "%02x", id[j]);
        }
    }
    if (a->burst > 0 && burst_prepare(a) < 0) {
        exit_code = 1;
        goto out_args;
    }
    exit_code = 1;
    if (!(a->hub = kaspa_opts_hub(&ko)))
        goto out_args;
    uv_loop_init(&a->loop);
    uv_timer_init(&a->loop, &a->retry_timer);
    uv_timer_init(&a->loop, &a->direct_timer);
    uv_timer_init(&a->loop, &a->check_timer);
    uv_timer_init(&a->loop, &a->finish_timer);
    uv_timer_init(&a->loop, &a->burst_timer);
    a->retry_timer.data = a->direct_timer.data = a->check_timer.data = a->finish_timer.data = a;
    a->burst_timer.data = a;
    kaspa_opts_config(&ko, &a->tcp_cfg, a->hub, KASPA_H2_PROFILE_TCP);
    kaspa_opts_config(&ko, &a->p2p_cfg, a->hub, KASPA_H2_PROFILE_LIBP2P);
    if (!a->kaspa_connect) {
        /* An explicit --key is used (created if missing); otherwise a throwaway identity. */
        if (c.key_path != c.key_default) {
            a->kp = cli_load_key(&c, 1);
        } else if (lp2p_keypair_generate(&a->kp) < 0) {
            a->kp = NULL;
        }
        lp2p_host_config hc;
        if (!a->kp)
            goto out_loop;
        lp2p_host_config_default(&hc, &a->loop, a->kp);
        hc.agent = "kaspa-holepunch/" LP2P_VERSION;
        hc.cb.on_connected = on_host_connected;
        hc.ud = a;
        if (lp2p_host_new(&hc, &a->host) < 0)
            goto out_loop;
        cli_listen_all(a->host, &c);
    }
    cli_on_signal(&a->loop, on_stop, a);
    exit_code = 0;
    start_attempt(a);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    exit_code = a->exit_code;
out_loop:
    if (!uv_is_closing((uv_handle_t *)&a->retry_timer))
        close_handles(a);
    cli_host_shutdown(&a->loop, a->host);
    uv_loop_close(&a->loop);
    kaspa_hub_del(a->hub);
    if (a->kp)
        lp2p_keypair_del(a->kp);
out_args:
    for (int i = 0; a->slots && i < a->nstreams; i++)
        if (a->slots[i].hub)
            kaspa_hub_del(a->slots[i].hub);
    free(a->slots);
    for (size_t i = 0; i < a->naddrs; i++)
        free(a->addrs[i]);
    free(a->burst_msg);
    free(env_remote);
    free(a);
    cli_common_free(&c);
    return exit_code;
}
