/* holepunch bridge: a sidecar beside a stock kaspad. Kaspa P2P bytes are spliced unchanged
 * between the local kaspad and remote peers over hole-punched libp2p connections; the
 * service itself is the library's kaspa_bridge (include/kaspa/bridge.h), this file only
 * parses flags, runs the host and prints the kaspad flags to use. */
#include "cli.h"
#include "cmds.h"
#include "kaspa_opts.h"
#include "metrics_daemon.h"

#include "kaspa/bridge.h"
#include "lp2p/err.h"
#include "lp2p/log.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_help =
    "usage: holepunch bridge [--kaspad HOST:PORT] [--network NAME] [--listen MA ...]\n"
    "                        [--relay MA ...] [--peer PEERID[,ADDR...] ...] [options]\n\n"
    "Runs beside an unmodified kaspad and carries its P2P traffic (raw HTTP/2 gRPC, bytes\n"
    "unchanged) to other bridges over libp2p connections that are hole-punched through NAT\n"
    "(Circuit Relay v2 + DCUtR).\n\n"
    "  Inbound: each /kaspad/transport/1.0.0 (or the PoC's /kaspa/p2p/bridge/1.0) stream from a\n"
    "  remote peer becomes a TCP connection to --kaspad, made FROM that peer's own loopback\n"
    "  address 127.a.b.c (derived from its peer ID), so kaspad sees one IP per remote peer and a\n"
    "  ban on one does not cut off the others.\n"
    "  Outbound: for each --peer the bridge listens on the peer's loopback address and\n"
    "  --peer-port; point kaspad there with the printed --connect=127.a.b.c:PORT (or\n"
    "  --addpeer=). Each connection kaspad makes becomes a stream to that peer over the direct\n"
    "  connection, which the bridge keeps up (dial through the relay, punch, redial with\n"
    "  backoff). Without a direct connection (and without --relayed-fallback) kaspad's\n"
    "  connection is closed at once, with a bridge_session_refused log line.\n\n"
    "Options:\n"
    "  --kaspad HOST:PORT    the local kaspad's P2P address, IPv4 (a name is resolved at\n"
    "                        start, e.g. localhost:16111; default 127.0.0.1 and the\n"
    "                        --network's port: kaspa-mainnet 16111, kaspa-testnet-10 16211,\n"
    "                        kaspa-testnet-12 16311, other testnets 16411, kaspa-simnet 16511,\n"
    "                        kaspa-devnet 16611); on this machine, since connections to it\n"
    "                        come from 127.a.b.c\n" KASPA_NETWORK_HELP
    "  --listen MA           libp2p listen address, e.g. /ip4/0.0.0.0/tcp/4001 (repeatable)\n"
    "  --relay MA            keep a reservation on this relay (/ip4|dns4/…/tcp/…/p2p/<relay>\n"
    "                        or /dnsaddr/NAME/p2p/<relay>; repeatable): remote bridges\n"
    "                        reach us through it and DCUtR punches the direct connection\n"
    "  --reserve-backoff-max DUR  longest wait between RESERVE attempts after a failure\n"
    "                        (backoff from 1 s with jitter; default 20s)\n"
    "  --peer PEERID[,ADDR...]  a remote bridge and its addresses, tried in order: a relay\n"
    "                        circuit /ip4/R/tcp/P/p2p/RELAY/p2p-circuit and/or a direct\n"
    "                        /ip4/A/tcp/P (repeatable, up to 64 peers, 8 addresses each)\n"
    "  --peer-port PORT      port of the per-peer loopback listeners (default: kaspad's port\n"
    "                        + 2, e.g. 16113; it must differ from kaspad's own, which a kaspad\n"
    "                        listening on 0.0.0.0 holds on every local address)\n"
    "  --relayed-fallback    serve a peer that could not be punched over the relay circuit\n"
    "                        (off: public relays cut circuits after 2 min / 128 KiB)\n"
    "  --max-sessions N      bridged sessions in all (default 128)\n"
    "  --max-sessions-per-peer N   per remote peer (default 8)\n"
    "  --max-inbound-peers N peers not given with --peer that may have sessions at once\n"
    "                        (default 64; each gets a loopback address of its own too)\n"
    "  --punch-wait DUR      relayed but not punched this long: redial (default "
    "20s)\n" DAEMON_METRICS_HELP "\n"
    "Log events: bridge_listen, bridge_peer_dial, bridge_peer_direct, bridge_punch_timeout,\n"
    "bridge_session_open, bridge_session_closed (bytes each way, duration, reason),\n"
    "bridge_session_refused, bridge_peer_version (each side's Kaspa Version, read passively).\n\n";

/* This machine's kaspad on 16111, a peer behind another NAT, a public relay. */
static const char *const k_examples =
    "  holepunch bridge --listen /ip4/0.0.0.0/tcp/4001 \\\n"
    "      --relay /ip4/198.51.100.1/tcp/4001/p2p/12D3KooWRelay... \\\n"
    "      --peer 12D3KooWPeerB...,/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWRelay.../p2p-circuit\n"
    "  # prints: kaspad --connect=127.23.13.233:16113   (then start kaspad with that flag)\n";

#define MAX_PEER_ARGS KASPA_BRIDGE_MAX_PEERS

typedef struct bridge_app {
    lp2p_host *host;
    kaspa_bridge *bridge;
    daemon_metrics *metrics;
} bridge_app;

static void on_stop(void *ud)
{
    bridge_app *a = ud;
    daemon_metrics_stop(a->metrics);
    a->metrics = NULL;
    kaspa_bridge_close(a->bridge);
    if (a->host)
        lp2p_host_close(a->host);
    a->host = NULL;
    cli_signals_close();
}

/* "1.2.3.4:16111". IPv4 only: the bridge connects to kaspad from the peers' addresses in
 * 127.0.0.0/8, which an IPv6 socket cannot bind. */
static int parse_hostport(const char *s, struct sockaddr_storage *out)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || strlen(colon + 1) == 0)
        return -1;
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof host)
        return -1;
    memcpy(host, s, hl);
    host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return -1;
    memset(out, 0, sizeof *out);
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0 ? 0 : -1;
}

int cmd_bridge(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    const char *kaspad = NULL, *network;
    /* The network flags of server/client (kaspa_opts.c), so --testnet --netsuffix=10 works
     * here too; the other Kaspa options do not apply to a byte splicer. */
    kaspa_opts ko;
    kaspa_opts_init(&ko);
    cli_flag netflags[KASPA_OPTS_NNETFLAGS + 1] = {0};
    memcpy(netflags, ko.flags, sizeof(cli_flag) * KASPA_OPTS_NNETFLAGS);
    const char *peer_args[MAX_PEER_ARGS];
    size_t npeer_args = 0;
    uint32_t peer_port = 0, max_sessions = 0, max_per_peer = 0, max_inbound_peers = 0;
    uint64_t punch_wait_ms = 0;
    int relayed_fallback = 0;
    const char *metrics_listen = NULL;
    const cli_flag flags[] = {
        {"--kaspad", CLI_STR, &kaspad, NULL, 0, NULL, "HOST:PORT, e.g. 127.0.0.1:16111"},
        {"--peer", CLI_LIST, peer_args, &npeer_args, MAX_PEER_ARGS, NULL, "PEERID[,ADDR...]"},
        {"--peer-port", CLI_U32, &peer_port, NULL, 0, NULL, "a TCP port"},
        {"--relayed-fallback", CLI_BOOL, &relayed_fallback, NULL, 0, NULL, NULL},
        {"--max-sessions", CLI_U32, &max_sessions, NULL, 0, NULL, "a count"},
        {"--max-sessions-per-peer", CLI_U32, &max_per_peer, NULL, 0, NULL, "a count"},
        {"--max-inbound-peers", CLI_U32, &max_inbound_peers, NULL, 0, NULL, "a count"},
        {"--punch-wait", CLI_DUR_MS, &punch_wait_ms, NULL, 0, NULL, "a duration like 20s"},
        DAEMON_METRICS_FLAG(metrics_listen),
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    c.examples = k_examples;
    c.extra = netflags;
    int pr = cli_parse_flags(&c, argc, argv, "bridge", k_help, flags);
    if (pr > 0) {
        cli_common_free(&c);
        return 0;
    }
    if (pr < 0 || kaspa_opts_finish(&ko, "bridge") < 0)
        goto usage;
    network = ko.network;
    uint16_t net_port = kaspa_network_p2p_port(network);
    if (!net_port) {
        fprintf(stderr,
                "holepunch bridge: unknown --network '%s' (kaspa-mainnet, "
                "kaspa-testnet-10, kaspa-testnet-12, kaspa-simnet, kaspa-devnet)\n",
                network);
        goto usage;
    }
    if (c.nlisten == 0 && c.nrelay == 0 && npeer_args == 0) {
        fprintf(stderr, "holepunch bridge: give --listen and/or --relay (to be reachable) and/or "
                        "--peer (to reach others)\n");
        goto usage;
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    bridge_app app = {0};
    int exit_code = 0;
    char *owned[MAX_PEER_ARGS] = {0};
    kaspa_bridge_peer *peers = calloc(npeer_args ? npeer_args : 1, sizeof *peers);
    lp2p_keypair *kp = NULL;
    kaspa_bridge_config bc;
    kaspa_bridge_config_default(&bc, &loop, NULL);
    if (!peers) {
        exit_code = 1;
        goto out;
    }
    if (kaspad) {
        char kaspad_ip[96];
        if (cli_resolve_hostport("bridge", "--kaspad", kaspad, "127.0.0.1", AF_INET, 0, kaspad_ip,
                                 sizeof(kaspad_ip)) < 0) {
            exit_code = 2;
            goto out;
        }
        if (strcmp(kaspad_ip, kaspad) != 0)
            lp2p_log(LP2P_INFO, "kaspa_resolved", LF_S("name", kaspad), LF_S("addr", kaspad_ip));
        if (parse_hostport(kaspad_ip, &bc.kaspad) != 0) {
            fprintf(stderr,
                    "holepunch bridge: --kaspad wants IPv4:PORT (e.g. 127.0.0.1:16111; the "
                    "bridge connects from 127.a.b.c addresses), got '%s'\n",
                    kaspad);
            exit_code = 2;
            goto out;
        }
    } else {
        uv_ip4_addr("127.0.0.1", net_port, (struct sockaddr_in *)&bc.kaspad);
    }
    uint16_t kaspad_port = ntohs(((struct sockaddr_in *)&bc.kaspad)->sin_port);
    bc.peer_port = peer_port ? (uint16_t)peer_port : (uint16_t)(kaspad_port + 2);
    if (peer_port > 65535 || bc.peer_port == 0) {
        fprintf(stderr, "holepunch bridge: --peer-port wants 1..65535\n");
        exit_code = 2;
        goto out;
    }
    for (size_t i = 0; i < npeer_args; i++) {
        const char *parts[1 + KASPA_BRIDGE_MAX_PEER_ADDRS];
        size_t np = cli_split_list(peer_args[i], parts, 1 + KASPA_BRIDGE_MAX_PEER_ADDRS, &owned[i]);
        if (np == 0 || lp2p_peer_id_parse(parts[0], &peers[i].id) != 0) {
            fprintf(stderr, "holepunch bridge: --peer wants PEERID[,ADDR...], got '%s'\n",
                    peer_args[i]);
            exit_code = 2;
            goto out;
        }
        for (size_t k = 1; k < np; k++)
            peers[i].addrs[peers[i].naddrs++] = parts[k];
        if (peers[i].naddrs == 0)
            fprintf(stderr,
                    "holepunch bridge: peer %s has no address: the bridge will only "
                    "serve its inbound streams\n",
                    parts[0]);
    }
    if (!(kp = cli_load_key(&c, 1))) {
        exit_code = 1;
        goto out;
    }
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &loop, kp);
    hc.agent = "kaspa-holepunch-bridge/" LP2P_VERSION;
    if ((exit_code = cli_host_new(&c, &hc, "bridge", &app.host)) != 0 ||
        (c.nlisten > 0 && (exit_code = cli_listen_or_fail(app.host, &c, "bridge")) != 0))
        goto out;
    if (cli_reserve_all(app.host, &c, "bridge") < 0) {
        exit_code = 2;
        goto out;
    }
    bc.host = app.host;
    bc.peers = peers;
    bc.npeers = npeer_args;
    bc.relayed_fallback = relayed_fallback;
    if (max_sessions)
        bc.max_sessions = max_sessions;
    if (max_per_peer)
        bc.max_sessions_per_peer = max_per_peer;
    if (max_inbound_peers)
        bc.max_inbound_peers = max_inbound_peers;
    if (punch_wait_ms)
        bc.punch_wait_ms = punch_wait_ms;
    int rc = kaspa_bridge_new(&bc, &app.bridge);
    if (rc < 0) {
        fprintf(stderr, "holepunch bridge: %s\n",
                rc == LP2P_ERR_EXISTS ? "a --peer is listed twice" : lp2p_strerror(rc));
        exit_code = 1;
        goto out;
    }
    if (daemon_metrics_start(&loop, "bridge", metrics_listen, &app.metrics) < 0) {
        exit_code = 1;
        goto out;
    }
    daemon_metrics_watch_host(app.metrics, app.host);
    daemon_metrics_listener_up(app.metrics); /* the bridge's loopback listeners */
    char id[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_host_peer_id(app.host), id, sizeof id);
    char kaddr[INET_ADDRSTRLEN] = "?";
    uv_ip4_name((const struct sockaddr_in *)&bc.kaspad, kaddr, sizeof kaddr);
    printf("bridge %s: kaspad at %s:%u, network %s\n", id, kaddr, kaspad_port, network);
    for (size_t i = 0; i < npeer_args; i++) {
        char ep[64], pid[LP2P_PEER_ID_STR_MAX];
        kaspa_bridge_peer_endpoint(app.bridge, i, ep, sizeof ep);
        lp2p_peer_id_to_string(&peers[i].id, pid, sizeof pid);
        printf("kaspad flag for peer %s: --connect=%s (or --addpeer=%s)\n", pid, ep, ep);
    }
    fflush(stdout);
    cli_on_signal(&loop, on_stop, &app);
    uv_run(&loop, UV_RUN_DEFAULT);
out:
    daemon_metrics_stop(app.metrics);
    kaspa_bridge_close(app.bridge);
    cli_host_shutdown(&loop, app.host);
    uv_loop_close(&loop);
    kaspa_bridge_free(app.bridge);
    for (size_t i = 0; i < MAX_PEER_ARGS; i++)
        free(owned[i]);
    free(peers);
    if (kp)
        lp2p_keypair_del(kp);
    cli_common_free(&c);
    return exit_code;
usage:
    cli_common_free(&c);
    return 2;
}
