/* holepunch relay: a public Circuit Relay v2 server (hop side), with identify
 * and ping from the host and an optional Prometheus endpoint. The relay only
 * coordinates: circuits are limited (2 min, 128 KiB per direction by default)
 * so traffic moves to the punched connection. */
#include "cli.h"
#include "cmds.h"
#include "metrics_daemon.h"
#include "lp2p/relay_server.h"

#include "lp2p/err.h"
#include "lp2p/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_help =
    "usage: holepunch relay --listen MULTIADDR [--listen ...] [options]\n\n"
    "Serves /libp2p/circuit/relay/0.2.0/hop (Circuit Relay v2): peers reserve "
    "a slot, others\n"
    "reach them through /p2p-circuit. Circuits are cut at the data or duration "
    "limit.\n"
    "Defaults follow go-/rust-libp2p. DUR is e.g. 90s, 2m, 1h (bare number: "
    "seconds);\n"
    "SIZE is bytes with optional K/M/G; RATE is BURST/DUR (a token back every "
    "DUR).\n\n"
    "Options:\n"
    "  --listen MA                   e.g. /ip4/0.0.0.0/tcp/4001 (repeatable)\n"
    "  --announce MA                 public address handed out in reservations (repeatable;\n"
    "                                default: the listen addresses)\n"
    "  --max-reservations N          active reservations in all (default 128)\n"
    "  --reservation-ttl DUR         how long a reservation lasts (default 1h)\n"
    "  --max-reservations-per-peer N (default 4)\n"
    "  --max-reservations-per-ip N   (default 8)\n"
    "  --max-circuits N              circuits in all (default 1024)\n"
    "  --max-circuits-per-peer N     (default 16)\n"
    "  --max-circuits-per-pair N     one source's share of a peer's circuits (default 4;\n"
    "                                0: off)\n"
    "  --circuit-idle DUR            a full peer's circuit idle this long is cut for a new one\n"
    "                                (default 10s; 0: never)\n"
    "  --circuit-duration DUR        a circuit is cut after this long (default 2m; 0: never)\n"
    "  --circuit-data SIZE           ... or after this many bytes per direction (default\n"
    "                                128K; 0: no limit)\n"
    "  --connect-timeout DUR         wait for the target's answer to STOP CONNECT (default 30s)\n"
    "  --stream-timeout DUR          wait for a hop stream's request (default 1m)\n"
    "  --reserve-rate-peer RATE      reservations per peer (default 30/2m)\n"
    "  --reserve-rate-ip RATE        reservations per IP address (default 60/1m)\n"
    "  --connect-rate-peer RATE      circuits per peer (default 30/2m)\n"
    "  --connect-rate-ip RATE        circuits per IP address (default 60/1m)\n"
    "  --max-connections N           libp2p connections in all, reservations and dialers\n"
    "                                (default 256)\n"
    "  --max-connections-per-ip N    inbound connections from one IP address (default 32;\n"
    "                                0: no cap)\n"
    "  --max-connections-per-subnet N  inbound from one /24 or /56 (default 128; 0: no cap);\n"
    "                                past --max-connections, half-open and idle connections\n"
    "                                without a reservation or circuit are evicted first\n"
    "  --metrics-listen HOST:PORT    Prometheus text at http://HOST:PORT/metrics, e.g.\n"
    "                                127.0.0.1:9100; health at /healthz\n\n";

static const char *const k_examples =
    "  holepunch relay --listen /ip4/0.0.0.0/tcp/4001 --announce /ip4/203.0.113.5/tcp/4001\n"
    "  holepunch relay --listen=/ip4/0.0.0.0/tcp/4001 --listen=/ip6/::/tcp/4001 \\\n"
    "      --max-reservations=1024 --circuit-data=1M --metrics-listen=127.0.0.1:9100\n";

typedef struct relay_app {
    uv_loop_t *loop;
    lp2p_host *host;
    lp2p_relay_server *svc;
    daemon_metrics *metrics;
} relay_app;

/* --max-connections and --stream-timeout: 0 would mean "none at all", never what is meant. */
static int positive(const char *v)
{
    return strtod(v, NULL) > 0 ? 0 : -1;
}

/* ---- command
 * -------------------------------------------------------------------------------
 */

static void on_stop(void *ud)
{
    relay_app *a = ud;
    daemon_metrics_stop(a->metrics);
    a->metrics = NULL;
    lp2p_relay_server_close(a->svc);
    a->svc = NULL;
    lp2p_host_close(a->host);
    a->host = NULL;
    cli_signals_close();
}

int cmd_relay(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    lp2p_relay_server_config rc_cfg;
    lp2p_relay_server_config_default(&rc_cfg);
    const char *announce[CLI_MAX_ADDRS];
    size_t nannounce = 0;
    const char *metrics_listen = NULL;
    uint32_t max_conns = 0; /* 0: the host's default */
    uint32_t max_conns_per_ip = 32;
    uint32_t max_conns_per_subnet = 128;
    lp2p_relay_config *L = &rc_cfg.limits;
    const cli_flag flags[] = {
        {"--announce", CLI_LIST, announce, &nannounce, CLI_MAX_ADDRS, NULL, "a multiaddr"},
        DAEMON_METRICS_FLAG(metrics_listen),
        {"--max-connections", CLI_U32, &max_conns, NULL, 0, positive, "a whole number > 0"},
        {"--max-connections-per-ip", CLI_U32, &max_conns_per_ip, NULL, 0, NULL, NULL},
        {"--max-connections-per-subnet", CLI_U32, &max_conns_per_subnet, NULL, 0, NULL, NULL},
        {"--stream-timeout", CLI_DUR_MS, &rc_cfg.stream_timeout_ms, NULL, 0, positive,
         "a duration > 0 such as 500ms, 90s, 2m"},
        {"--max-reservations", CLI_U32, &L->max_reservations, NULL, 0, NULL, NULL},
        {"--reservation-ttl", CLI_DUR_MS, &L->reservation_ttl_ms, NULL, 0, NULL, NULL},
        {"--max-reservations-per-peer", CLI_U32, &L->max_reservations_per_peer, NULL, 0, NULL,
         NULL},
        {"--max-reservations-per-ip", CLI_U32, &L->max_reservations_per_ip, NULL, 0, NULL, NULL},
        {"--max-circuits", CLI_U32, &L->max_circuits, NULL, 0, NULL, NULL},
        {"--max-circuits-per-peer", CLI_U32, &L->max_circuits_per_peer, NULL, 0, NULL, NULL},
        {"--max-circuits-per-pair", CLI_U32, &L->max_circuits_per_pair, NULL, 0, NULL, NULL},
        {"--circuit-idle", CLI_DUR_MS, &L->circuit_idle_ms, NULL, 0, NULL, NULL},
        {"--circuit-duration", CLI_DUR_MS, &L->circuit_duration_ms, NULL, 0, NULL, NULL},
        {"--circuit-data", CLI_SIZE, &L->circuit_data, NULL, 0, NULL, NULL},
        {"--connect-timeout", CLI_DUR_MS, &L->connect_timeout_ms, NULL, 0, NULL, NULL},
        {"--reserve-rate-peer", CLI_RATE, &L->reserve_burst_peer, &L->reserve_interval_peer_ms, 0,
         NULL, NULL},
        {"--reserve-rate-ip", CLI_RATE, &L->reserve_burst_ip, &L->reserve_interval_ip_ms, 0, NULL,
         NULL},
        {"--connect-rate-peer", CLI_RATE, &L->connect_burst_peer, &L->connect_interval_peer_ms, 0,
         NULL, NULL},
        {"--connect-rate-ip", CLI_RATE, &L->connect_burst_ip, &L->connect_interval_ip_ms, 0, NULL,
         NULL},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    c.examples = k_examples;
    int pr = cli_parse_flags(&c, argc, argv, "relay", k_help, flags);
    if (pr > 0) {
        cli_common_free(&c);
        return 0;
    }
    if (pr < 0)
        goto usage;
    if (c.nrelay > 0 && getenv("LIBP2P_RELAY_MULTIADDRS") == NULL) {
        fprintf(stderr, "holepunch relay: --relay is for peers that reserve on a relay; "
                        "a relay does not reserve elsewhere\n");
        goto usage;
    }
    if (c.nlisten == 0) {
        fprintf(stderr, "holepunch relay: give at least one --listen MULTIADDR "
                        "(or set LIBP2P_LISTEN_MULTIADDRS)\n");
        goto usage;
    }
    rc_cfg.announce = announce;
    rc_cfg.nannounce = nannounce;

    lp2p_keypair *kp = cli_load_key(&c, 1);
    if (!kp) {
        cli_common_free(&c);
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    relay_app app = {.loop = &loop};
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &loop, kp);
    if (max_conns)
        hc.max_conns = max_conns;
    hc.max_conns_per_ip = max_conns_per_ip;
    hc.max_conns_per_subnet = max_conns_per_subnet;
    /* A paused circuit side can still deliver one window: keep that below max_buffered. */
    hc.max_stream_window = 1u << 20;
    int rc, exit_code = cli_host_new(&c, &hc, "relay", &app.host);
    if (exit_code)
        goto done;
    exit_code = cli_listen_or_fail(app.host, &c, "relay");
    if (exit_code) {
        /* explained */
    } else if ((rc = lp2p_relay_server_new(app.host, kp, &rc_cfg, &app.svc)) < 0) {
        fprintf(stderr, "holepunch relay: %s\n", lp2p_strerror(rc));
        exit_code = 1;
    } else if (daemon_metrics_start(&loop, "relay", metrics_listen, &app.metrics) < 0) {
        exit_code = 1;
    } else {
        daemon_metrics_watch_host(app.metrics, app.host);
        daemon_metrics_watch_relay(app.metrics, app.svc);
    }
    if (exit_code) {
        lp2p_relay_server_close(app.svc);
        app.svc = NULL;
        lp2p_host_close(app.host);
        app.host = NULL;
    } else {
        lp2p_log(LP2P_INFO, "relay_started",
                 LF_U("max_reservations", rc_cfg.limits.max_reservations),
                 LF_U("reservation_ttl_s", rc_cfg.limits.reservation_ttl_ms / 1000),
                 LF_U("circuit_duration_s", rc_cfg.limits.circuit_duration_ms / 1000),
                 LF_U("circuit_data", rc_cfg.limits.circuit_data));
        cli_on_signal(&loop, on_stop, &app);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
done:
    cli_host_shutdown(&loop, app.host);
    uv_loop_close(&loop);
    lp2p_keypair_del(kp);
    cli_common_free(&c);
    return exit_code;
usage:
    cli_common_free(&c);
    return 2;
}
