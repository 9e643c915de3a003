/* holepunch server: a Kaspa P2P endpoint reachable over libp2p (listen addresses, relay
 * reservations, DCUtR hole punching in the host) and over plain TCP (--kaspa-listen). Every
 * inbound /kaspad/transport/1.0.0 stream and every TCP connection runs a gRPC-server Kaspa
 * session (kaspa/peer.h); one kaspa_hub per process detects duplicates across both
 * transports. */
#include "cli.h"
#include "cmds.h"
#include "kaspa_opts.h"
#include "metrics_daemon.h"

#include "kaspa/peer.h"
#include "lp2p/err.h"
#include "lp2p/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_help =
    "usage: holepunch server [--listen MA ...] [--relay MA ...] [--kaspa-listen HOST:PORT]\n"
    "                        [options]\n\n"
    "Serves Kaspa P2P (rusty-kaspa's gRPC MessageStream) on libp2p streams\n"
    "/kaspad/transport/1.0.0 (and the PoC's /kaspa/p2p/bridge/1.0), reachable through relay\n"
    "reservations; peers that dial through a relay are hole-punched (DCUtR) and Kaspa runs on\n"
    "the direct connection. --kaspa-listen also serves plain TCP, as a stock kaspad on 16111.\n"
    "Inbound libp2p peers get a synthetic fd00::/8 address (from their peer ID) as their\n"
    "Kaspa address, logged in kaspa_stream_open and used for duplicate detection.\n\n"
    "Options:\n"
    "  --listen MA           libp2p listen address, e.g. /ip4/0.0.0.0/tcp/4001 (repeatable;\n"
    "                        or LIBP2P_LISTEN_MULTIADDRS)\n"
    "  --relay MA            keep a reservation on this relay (/ip4/…/tcp/…/p2p/<relay>,\n"
    "                        /dns4/NAME/tcp/…/p2p/<relay> or /dnsaddr/NAME/p2p/<relay>;\n"
    "                        repeatable, or LIBP2P_RELAY_MULTIADDRS)\n"
    "  --reserve-backoff-max DUR  longest wait between RESERVE attempts after a failure\n"
    "                        (backoff from 1 s with jitter; default 20s)\n"
    "  --kaspa-listen HOST:PORT  also serve Kaspa over plain TCP, e.g. 0.0.0.0:16111 (port 0:\n"
    "                        any; the kaspa_listen event shows the bound address; a host\n"
    "                        name is resolved at start)\n"
    "  --kaspa-max-connections N  plain-TCP Kaspa peers at once (default 128; 0: no cap)\n"
    "  --kaspa-max-connections-per-ip N  ... from one address (default 8; 0: no "
    "cap)\n" DAEMON_METRICS_HELP "\n" KASPA_OPTS_HELP;

static const char *const k_examples =
    "  holepunch server --listen /ip4/0.0.0.0/tcp/4001 \\\n"
    "      --relay /ip4/192.0.2.1/tcp/4001/p2p/12D3KooWRelay...\n"
    "  holepunch server --network=kaspa-testnet-10 --kaspa-listen=0.0.0.0:16211 \\\n"
    "      --listen /ip4/0.0.0.0/tcp/4001\n"
    "  holepunch server --testnet --netsuffix=10 --config=/etc/kaspa-holepunch/server.conf\n";

typedef struct server_app {
    uv_loop_t *loop;
    lp2p_host *host;
    kaspa_peer_listener *tcp;
    daemon_metrics *metrics;
} server_app;

static void on_stop(void *ud)
{
    server_app *a = ud;
    daemon_metrics_stop(a->metrics);
    a->metrics = NULL;
    if (a->tcp)
        kaspa_peer_listener_close(a->tcp);
    a->tcp = NULL;
    if (a->host)
        lp2p_host_close(a->host);
    a->host = NULL;
    cli_signals_close();
}

int cmd_server(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    kaspa_opts ko;
    kaspa_opts_init(&ko);
    const char *kaspa_listen = NULL;
    uint32_t kaspa_max[2] = {KASPA_LISTEN_MAX_CONNS, KASPA_LISTEN_MAX_PER_IP};
    const char *metrics_listen = NULL;
    const cli_flag flags[] = {
        DAEMON_METRICS_FLAG(metrics_listen),
        {"--kaspa-listen", CLI_STR, &kaspa_listen, NULL, 0, NULL, "HOST:PORT, e.g. 0.0.0.0:16111"},
        {"--kaspa-max-connections", CLI_U32, &kaspa_max[0], NULL, 0, NULL, NULL},
        {"--kaspa-max-connections-per-ip", CLI_U32, &kaspa_max[1], NULL, 0, NULL, NULL},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    c.extra = ko.flags;
    c.examples = k_examples;
    int pr = cli_parse_flags(&c, argc, argv, "server", k_help, flags);
    if (pr > 0) {
        cli_common_free(&c);
        return 0;
    }
    if (pr < 0 || kaspa_opts_finish(&ko, "server") < 0)
        goto usage;
    /* A name (localhost:16111, kaspa.lan:16111) is resolved once here: a listen address. */
    char kaspa_listen_ip[96];
    if (kaspa_listen) {
        if (cli_resolve_hostport("server", "--kaspa-listen", kaspa_listen, "0.0.0.0", AF_UNSPEC, 1,
                                 kaspa_listen_ip, sizeof(kaspa_listen_ip)) < 0)
            goto usage;
        if (strcmp(kaspa_listen_ip, kaspa_listen) != 0)
            lp2p_log(LP2P_INFO, "kaspa_resolved", LF_S("name", kaspa_listen),
                     LF_S("addr", kaspa_listen_ip));
        kaspa_listen = kaspa_listen_ip;
    }
    if (c.nlisten == 0 && c.nrelay == 0 && !kaspa_listen) {
        fprintf(stderr, "holepunch server: give --listen MULTIADDR and/or --relay MULTIADDR (or "
                        "LIBP2P_LISTEN_MULTIADDRS / LIBP2P_RELAY_MULTIADDRS), or "
                        "--kaspa-listen HOST:PORT\n");
        goto usage;
    }

    kaspa_hub *hub = kaspa_opts_hub(&ko);
    if (!hub) {
        cli_common_free(&c);
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    server_app app = {.loop = &loop};
    lp2p_keypair *kp = NULL;
    int exit_code = 0;

    kaspa_session_config tcp_cfg, p2p_cfg;
    kaspa_opts_config(&ko, &tcp_cfg, hub, KASPA_H2_PROFILE_TCP);
    kaspa_opts_config(&ko, &p2p_cfg, hub, KASPA_H2_PROFILE_LIBP2P);

    if (daemon_metrics_start(&loop, "server", metrics_listen, &app.metrics) < 0) {
        exit_code = 1;
        goto out;
    }
    daemon_metrics_watch_kaspa(app.metrics);
    if (kaspa_listen) {
        if (kaspa_peer_listen_tcp(&loop, kaspa_listen, &tcp_cfg, &DAEMON_METRICS_KASPA_CB,
                                  app.metrics, &app.tcp) != 0) {
            fprintf(stderr, "holepunch server: cannot serve Kaspa on %s\n", kaspa_listen);
            exit_code = 1;
            goto out;
        }
        kaspa_peer_listener_limit(app.tcp, kaspa_max[0], kaspa_max[1]);
        daemon_metrics_listener_up(app.metrics);
    }
    if (c.nlisten > 0 || c.nrelay > 0) {
        if (!(kp = cli_load_key(&c, 1))) {
            exit_code = 1;
            goto out;
        }
        lp2p_host_config hc;
        lp2p_host_config_default(&hc, &loop, kp);
        hc.agent = "kaspa-holepunch/" LP2P_VERSION;
        if ((exit_code = cli_host_new(&c, &hc, "server", &app.host)) != 0)
            goto out;
        kaspa_peer_serve_libp2p(app.host, &loop, &p2p_cfg, &DAEMON_METRICS_KASPA_CB, app.metrics);
        daemon_metrics_watch_host(app.metrics, app.host);
        if (c.nlisten > 0 && (exit_code = cli_listen_or_fail(app.host, &c, "server")) != 0)
            goto out;
        if (cli_reserve_all(app.host, &c, "server") < 0) {
            exit_code = 2;
            goto out;
        }
        char id[LP2P_PEER_ID_STR_MAX];
        lp2p_peer_id_to_string(lp2p_host_peer_id(app.host), id, sizeof id);
        lp2p_log(LP2P_INFO, "kaspa_server", LF_S("peer", id), LF_S("network", ko.network),
                 LF_S("protocol", KASPA_PEER_PROTO));
    }
    cli_on_signal(&loop, on_stop, &app);
    uv_run(&loop, UV_RUN_DEFAULT);
out:
    daemon_metrics_stop(app.metrics);
    if (app.tcp)
        kaspa_peer_listener_close(app.tcp);
    app.tcp = NULL;
    cli_host_shutdown(&loop, app.host);
    uv_loop_close(&loop);
    kaspa_hub_del(hub);
    if (kp)
        lp2p_keypair_del(kp);
    cli_common_free(&c);
    return exit_code;
usage:
    cli_common_free(&c);
    return 2;
}
