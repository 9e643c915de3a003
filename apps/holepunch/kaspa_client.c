/* holepunch client: the long-lived Kaspa client. Connects to a Kaspa server over libp2p
 * (directly, or through a relay and then on the hole-punched direct connection) or over plain
 * TCP, runs one Kaspa peer (kaspa/peer.h) on it, and keeps the session alive, reconnecting
 * with backoff. Test modes end after Ready or after N pings; load modes (many sessions, timed
 * bursts) are bench/kaspa_load.c. */
#include "cli.h"
#include "cmds.h"
#include "kaspa_opts.h"
#include "metrics_daemon.h"
#include "resolve.h"

#include "kaspa/peer.h"
#include "lp2p/err.h"
#include "lp2p/holepunch.h"
#include "lp2p/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS    1000
#define BACKOFF_MAX_MS    30000
#define DIRECT_TIMEOUT_MS 30000
#define FINISH_GRACE_MS   200
/* NO_RESERVATION this long means a wrong ID or a server that is not running, not a server
 * about to come: said once, then retried this slowly. */
#define NO_RESERVATION_AFTER_MS 120000
#define NO_RESERVATION_RETRY_MS                                                                    \
    60000 /* lets our last bytes (gRPC end) leave before the host closes */

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
    "  --direct-timeout DUR  wait this long for the direct connection (default 30s; a bare\n"
    "                        number is seconds), then drop the relayed connection and retry\n"
    "                        (a new punch)\n"
    "  --kaspa-connect HOST:PORT  plain TCP instead of libp2p (any Kaspa node), e.g.\n"
    "                        127.0.0.1:16111\n"
    "  --kaspa-protocol ID   stream protocol (default /kaspad/transport/1.0.0; the PoC fork\n"
    "                        speaks /kaspa/p2p/bridge/1.0)\n"
    "  --no-reservation-after DUR  the relay answering NO_RESERVATION this long means a wrong\n"
    "                        --peer or a server that is not running: say so once and retry\n"
    "                        every minute (default 2m)\n"
    "  --exit-after-ready    exit 0 once the handshake completed (Ready both ways)\n"
    "  --pings N             after Ready send N pings, one at a time; exit 0 when all answered\n"
    "                        (many sessions at once and timed bursts: the kaspa_load "
    "bench)\n" DAEMON_METRICS_HELP "\n" KASPA_OPTS_HELP;

static const char *const k_examples =
    "  holepunch client --peer 12D3KooWServer... --listen /ip4/0.0.0.0/tcp/0 \\\n"
    "      --remote /ip4/192.0.2.1/tcp/4001/p2p/12D3KooWRelay.../p2p-circuit\n"
    "  holepunch client --kaspa-connect=127.0.0.1:16111 --exit-after-ready\n"
    "  holepunch client --network=kaspa-testnet-10 --pings=3 --peer 12D3KooWServer... \\\n"
    "      --remote /ip4/198.51.100.7/tcp/4001\n";

static int check_proto(const char *v)
{
    return v[0] == '/' ? 0 : -1;
}

static int check_direct_timeout(const char *v)
{
    int64_t ms = cli_parse_duration_ms(v);
    return ms < 1000 || ms > 3600000 ? -1 : 0;
}

typedef enum client_state {
    ST_IDLE = 0,
    ST_DIALING,
    ST_WAIT_DIRECT,
    ST_SESSION,
    ST_BACKOFF,
    ST_DONE,
} client_state;

typedef struct client_app {
    uv_loop_t loop;
    lp2p_host *host;
    lp2p_keypair *kp;
    kaspa_hub *hub;
    daemon_metrics *metrics;
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
    /* state */
    client_state st;
    uv_timer_t retry_timer, direct_timer, finish_timer;
    uint64_t backoff_ms;
    uint64_t no_reservation_after_ms; /* --no-reservation-after */
    uint64_t no_reservation_since;    /* first NO_RESERVATION of the current run, or 0 */
    int no_reservation_said;          /* the long-lasting line was logged: retry slowly */
    uint64_t wait_direct_since;
    kaspa_peer *sp; /* the session's peer (libp2p stream or TCP), NULL between sessions */
    int exit_code;
    int pings_sent, pings_ok;
    int upgrading; /* closing a relayed session to reopen it on the direct connection */
} client_app;

static void start_attempt(client_app *a);
static void dial_next(client_app *a);
static void open_session(client_app *a, lp2p_conn *conn);
static lp2p_conn *direct_conn(client_app *a);

static int test_mode(const client_app *a)
{
    return a->exit_after_ready || a->pings > 0;
}

/* ---- ending ------------------------------------------------------------------------------- */
static void close_handles(client_app *a)
{
    uv_close((uv_handle_t *)&a->retry_timer, NULL);
    uv_close((uv_handle_t *)&a->direct_timer, NULL);
    uv_close((uv_handle_t *)&a->finish_timer, NULL);
    daemon_metrics_stop(a->metrics);
    a->metrics = NULL;
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
    if (a->sp)
        kaspa_peer_close(a->sp, NULL);
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
    uint64_t in_ms = a->no_reservation_said ? NO_RESERVATION_RETRY_MS : a->backoff_ms;
    lp2p_log(LP2P_INFO, "kaspa_reconnect", LF_U("in_ms", in_ms), LF_S("reason", reason));
    uv_timer_start(&a->retry_timer, on_retry_timer, in_ms, 0);
    a->backoff_ms *= 2;
    if (a->backoff_ms > BACKOFF_MAX_MS)
        a->backoff_ms = BACKOFF_MAX_MS;
}

/* ---- the Kaspa session -------------------------------------------------------------------- */
/* After Ready: the next thing a test mode wants, or finish. */
static void next_goal(client_app *a)
{
    if (a->pings_sent < a->pings) {
        if (a->pings_sent > a->pings_ok)
            return; /* one at a time */
        if (a->sp && kaspa_peer_ping(a->sp) == 0)
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

static void on_kaspa_event(void *user, kaspa_peer *p, const kaspa_event *ev)
{
    client_app *a = user;
    (void)p;
    daemon_metrics_kaspa_event(a->metrics, ev);
    if (a->st == ST_DONE)
        return;
    switch (ev->type) {
    case KASPA_EV_READY:
        a->backoff_ms = BACKOFF_MIN_MS;
        next_goal(a);
        break;
    case KASPA_EV_PING:
        if (a->pings_sent > a->pings_ok)
            a->pings_ok++;
        next_goal(a);
        break;
    default:
        break;
    }
}

static void session_ended(client_app *a, const char *why)
{
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

/* The peer is gone. Its own account (a Reject, "the peer does not serve ...") is the most
 * exact reason; a dial that never connected has none and is retried, unless the peer reset
 * it as it was made: that is the peer refusing, like a close right after the connect (which
 * of the two a refusal looks like depends on timing). */
static void on_kaspa_closed(void *user, kaspa_peer *p, int err)
{
    client_app *a = user;
    a->sp = NULL;
    daemon_metrics_kaspa_closed(a->metrics, p, err);
    if (!kaspa_peer_session(p)) {
        if (err == LP2P_ERR_RESET)
            session_ended(a, "the peer reset the connection as it was made");
        else
            schedule_retry(a, err ? lp2p_strerror(err) : "connect failed");
        return;
    }
    if (a->upgrading && a->st == ST_SESSION) {
        lp2p_conn *d = direct_conn(a);
        a->upgrading = 0;
        if (d) {
            a->pings_sent = a->pings_ok; /* a Ping in flight died with the old session */
            open_session(a, d);
            return;
        }
    }
    session_ended(a, kaspa_peer_reason(p)[0] ? kaspa_peer_reason(p)
                     : err                   ? lp2p_strerror(err)
                                             : "Kaspa session ended");
}

static const kaspa_peer_callbacks k_peer_cb = {
    .on_event = on_kaspa_event,
    .on_closed = on_kaspa_closed,
};

static void open_session(client_app *a, lp2p_conn *conn)
{
    uv_timer_stop(&a->direct_timer);
    a->st = ST_SESSION;
    lp2p_log(LP2P_INFO, "kaspa_connection", LF_S("peer", a->peer_str),
             LF_S("addr", lp2p_conn_remote_addr(conn)),
             LF_B("relayed", lp2p_conn_is_relayed(conn)));
    int rc = kaspa_peer_open_libp2p(conn, a->proto, &a->loop, &a->p2p_cfg, &k_peer_cb, a, &a->sp);
    if (rc != 0) {
        a->sp = NULL;
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

/* The host's hole-punch outcome. DIRECT comes after duplicate resolution and names the
 * connection the host kept, so a waiting attempt opens its session there at once. */
static void on_holepunch(const lp2p_holepunch_event *ev, void *ud)
{
    client_app *a = ud;
    if (ev->outcome != LP2P_HOLEPUNCH_DIRECT || !ev->direct ||
        !lp2p_peer_id_equal(ev->peer, &a->peer))
        return;
    if (a->st == ST_WAIT_DIRECT) {
        open_session(a, ev->direct);
        return;
    }
    /* --no-require-direct: a session that started on the relay moves to the punched
     * connection (the relayed one closes after its grace period anyway). Its end is awaited
     * first, so the server has forgotten it and the new one is no duplicate. */
    if (a->st == ST_SESSION && a->sp && kaspa_peer_relayed(a->sp) && !a->upgrading) {
        a->upgrading = 1;
        lp2p_log(LP2P_INFO, "kaspa_upgrade_direct", LF_S("peer", a->peer_str),
                 LF_S("addr", lp2p_conn_remote_addr(ev->direct)));
        kaspa_peer_close(a->sp, NULL);
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

/* ---- dialing ------------------------------------------------------------------------------ */
static void on_dial(lp2p_conn *c, int err, void *ud)
{
    client_app *a = ud;
    if (a->st != ST_DIALING)
        return;
    const char *addr = a->addrs[a->addr_idx];
    if (err < 0) {
        uint64_t now = uv_now(&a->loop);
        if (err == LP2P_ERR_NOT_FOUND && !a->no_reservation_since)
            a->no_reservation_since = now;
        if (err == LP2P_ERR_NOT_FOUND && !a->no_reservation_said &&
            now - a->no_reservation_since >= a->no_reservation_after_ms) {
            a->no_reservation_said = 1;
            lp2p_log(LP2P_ERROR, "kaspa_server_unknown", LF_S("peer", a->peer_str),
                     LF_S("addr", addr), LF_U("for_ms", now - a->no_reservation_since),
                     LF_S("reason", "no peer with this ID holds a reservation on this relay: "
                                    "check the ID and that the server runs"),
                     LF_U("retry_ms", NO_RESERVATION_RETRY_MS));
        } else if (err == LP2P_ERR_NOT_FOUND)
            lp2p_log(a->no_reservation_said ? LP2P_DEBUG : LP2P_WARN, "kaspa_server_not_there_yet",
                     LF_S("peer", a->peer_str), LF_S("addr", addr),
                     LF_S("reason", "the relay has no reservation for the server "
                                    "(NO_RESERVATION); retrying"));
        else
            lp2p_log(LP2P_WARN, "kaspa_dial_failed", LF_S("peer", a->peer_str), LF_S("addr", addr),
                     LF_S("reason", lp2p_strerror(err)));
        a->addr_idx++;
        dial_next(a);
        return;
    }
    a->no_reservation_since = 0; /* reached: a later NO_RESERVATION starts afresh */
    a->no_reservation_said = 0;
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

static void dial_kaspa_tcp(client_app *a, const char *numeric)
{
    if (kaspa_peer_dial_tcp(&a->loop, numeric, &a->tcp_cfg, &k_peer_cb, a, &a->sp) != 0) {
        a->sp = NULL;
        fprintf(stderr, "holepunch client: bad --kaspa-connect address %s\n", a->kaspa_connect);
        finish(a, 2);
    }
}

/* --kaspa-connect NAME:PORT, looked up again before every dial. */
static void on_kaspa_resolved(void *ud, const char *numeric, const char *err)
{
    client_app *a = ud;
    if (a->st == ST_DONE)
        return;
    if (!numeric) {
        lp2p_log(LP2P_WARN, "kaspa_resolve_failed", LF_S("addr", a->kaspa_connect),
                 LF_S("reason", err));
        schedule_retry(a, err);
        return;
    }
    lp2p_log(LP2P_INFO, "kaspa_resolved", LF_S("name", a->kaspa_connect), LF_S("addr", numeric));
    dial_kaspa_tcp(a, numeric);
}

static void start_attempt(client_app *a)
{
    if (a->st == ST_DONE)
        return;
    if (a->kaspa_connect) {
        a->st = ST_SESSION;
        kaspa_addr numeric;
        if (kaspa_addr_parse(a->kaspa_connect, &numeric) == 0) {
            dial_kaspa_tcp(a, a->kaspa_connect);
        } else if (hostport_resolve(&a->loop, a->kaspa_connect, on_kaspa_resolved, a) < 0) {
            fprintf(stderr, "holepunch client: bad --kaspa-connect address %s (want HOST:PORT)\n",
                    a->kaspa_connect);
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
    a->no_reservation_after_ms = NO_RESERVATION_AFTER_MS;
    a->backoff_ms = BACKOFF_MIN_MS;
    const char *peer = NULL;
    const char *remote[CLI_MAX_ADDRS];
    size_t nremote = 0;
    char *env_remote = NULL;
    int exit_code = 2;
    int no_require_direct = 0;
    long long pings = 0;
    const char *metrics_listen = NULL;
    const cli_flag flags[] = {
        DAEMON_METRICS_FLAG(metrics_listen),
        {"--peer", CLI_STR, &peer, NULL, 0, NULL, "a peer ID (12D3KooW...)"},
        {"--remote", CLI_LIST, remote, &nremote, CLI_MAX_ADDRS, NULL, "a multiaddr"},
        {"--require-direct", CLI_BOOL, &a->require_direct, NULL, 0, NULL, NULL},
        {"--no-require-direct", CLI_BOOL, &no_require_direct, NULL, 0, NULL, NULL},
        {"--direct-timeout", CLI_DUR_MS, &a->direct_timeout_ms, NULL, 0, check_direct_timeout,
         "a duration from 1s to 1h, e.g. 30s"},
        {"--kaspa-connect", CLI_STR, &a->kaspa_connect, NULL, 0, NULL,
         "HOST:PORT, e.g. 127.0.0.1:16111"},
        {"--kaspa-protocol", CLI_STR, &a->proto, NULL, 0, check_proto,
         "a protocol ID starting with /"},
        {"--exit-after-ready", CLI_BOOL, &a->exit_after_ready, NULL, 0, NULL, NULL},
        {"--pings", CLI_COUNT, &pings, NULL, 0, NULL, "a number of pings"},
        {"--no-reservation-after", CLI_DUR_MS, &a->no_reservation_after_ms, NULL, 0, NULL, NULL},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    c.groups = CLI_G_KEY | CLI_G_LOG | CLI_G_LISTEN;
    c.key_fresh = 1;
    c.extra = ko.flags;
    c.examples = k_examples;
    int pr = cli_parse_flags(&c, argc, argv, "client", k_help, flags);
    if (pr > 0) {
        exit_code = 0;
        goto out_args;
    }
    if (pr < 0 || kaspa_opts_finish(&ko, "client") < 0)
        goto out_args;
    if (a->kaspa_connect &&
        cli_check_hostport("client", "--kaspa-connect", a->kaspa_connect, "127.0.0.1") < 0)
        goto out_args;
    if (!a->kaspa_connect)
        cli_warn_no_listen(&c);
    if (no_require_direct)
        a->require_direct = 0;
    if (pings > 1000000) {
        fprintf(stderr, "holepunch client: bad value '%lld' for --pings: want at most 1000000\n",
                pings);
        goto out_args;
    }
    a->pings = (long)pings;
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
    } else {
        snprintf(a->peer_str, sizeof a->peer_str, "%s", a->kaspa_connect);
    }
    exit_code = 1;
    if (!(a->hub = kaspa_opts_hub(&ko)))
        goto out_args;
    uv_loop_init(&a->loop);
    uv_timer_init(&a->loop, &a->retry_timer);
    uv_timer_init(&a->loop, &a->direct_timer);
    uv_timer_init(&a->loop, &a->finish_timer);
    a->retry_timer.data = a->direct_timer.data = a->finish_timer.data = a;
    kaspa_opts_config(&ko, &a->tcp_cfg, a->hub, KASPA_H2_PROFILE_TCP);
    kaspa_opts_config(&ko, &a->p2p_cfg, a->hub, KASPA_H2_PROFILE_LIBP2P);
    if (!a->kaspa_connect) {
        lp2p_host_config hc;
        if (!(a->kp = cli_tool_key(&c)))
            goto out_loop;
        lp2p_host_config_default(&hc, &a->loop, a->kp);
        hc.agent = "kaspa-holepunch/" LP2P_VERSION;
        hc.cb.on_holepunch = on_holepunch;
        hc.ud = a;
        if (cli_host_new(&c, &hc, "client", &a->host) != 0)
            goto out_loop;
        cli_listen_all(a->host, &c);
    }
    if (daemon_metrics_start(&a->loop, "client", metrics_listen, &a->metrics) < 0)
        goto out_loop;
    daemon_metrics_watch_host(a->metrics, a->host);
    daemon_metrics_watch_kaspa(a->metrics);
    daemon_metrics_listener_up(a->metrics); /* a client serves no one: up once running */
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
    for (size_t i = 0; i < a->naddrs; i++)
        free(a->addrs[i]);
    free(env_remote);
    free(a);
    cli_common_free(&c);
    return exit_code;
}
