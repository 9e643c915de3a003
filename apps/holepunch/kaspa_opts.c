#include "kaspa_opts.h"
#include "cli.h"
#include "lp2p/clock.h"
#include "lp2p/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* consensus/core/src/network.rs default_p2p_port. */
uint16_t kaspa_network_p2p_port(const char *net)
{
    if (strcmp(net, "kaspa-mainnet") == 0)
        return 16111;
    if (strcmp(net, "kaspa-testnet-10") == 0)
        return 16211;
    if (strcmp(net, "kaspa-testnet-12") == 0)
        return 16311;
    if (strncmp(net, "kaspa-testnet-", 14) == 0) {
        const char *n = net + 14;
        if (!*n || strspn(n, "0123456789") != strlen(n) || strlen(n) > 4)
            return 0;
        return 16411;
    }
    if (strcmp(net, "kaspa-simnet") == 0)
        return 16511;
    if (strcmp(net, "kaspa-devnet") == 0)
        return 16611;
    return 0;
}

static int check_network(const char *v)
{
    return kaspa_network_p2p_port(v) ? 0 : -1;
}

static int check_node_id(const char *v)
{
    uint8_t id[KASPA_NODE_ID_LEN];
    return kaspa_node_id_parse(v, id);
}

static int check_message_size(const char *v)
{
    long long sz = cli_parse_size(v);
    return sz < 1024 || sz > (long long)UINT32_MAX ? -1 : 0; /* the gRPC prefix is 32 bits */
}

static int check_ping_interval(const char *v)
{
    int64_t ms = cli_parse_duration_ms(v);
    return ms < 0 || ms > 86400000 ? -1 : 0;
}

void kaspa_opts_init(kaspa_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->network = KASPA_NETWORK_DEFAULT;
    o->protocol_version = KASPA_PROTOCOL_VERSION_DEFAULT;
    o->ping_interval_ms = 120000;
    o->gzip = 1;
    o->max_message_size = KASPA_GRPC_MAX_MESSAGE_DEFAULT;
    const cli_flag f[] = {
        {"--network", CLI_STR, &o->network, NULL, 0, check_network, KASPA_NETWORK_WANT},
        {"--testnet", CLI_BOOL, &o->testnet, NULL, 0, NULL, NULL},
        {"--devnet", CLI_BOOL, &o->devnet, NULL, 0, NULL, NULL},
        {"--simnet", CLI_BOOL, &o->simnet, NULL, 0, NULL, NULL},
        {"--netsuffix", CLI_STR, &o->netsuffix_arg, NULL, 0, NULL, "a testnet number, e.g. 10"},
        {"--protocol-version", CLI_U32, &o->protocol_version, NULL, 0, NULL, NULL},
        {"--ping-interval", CLI_DUR_MS, &o->ping_interval_ms, NULL, 0, check_ping_interval,
         "a duration up to 24h, e.g. 2m or 30s (0 = never)"},
        {"--node-id", CLI_STR, &o->node_id_hex, NULL, 0, check_node_id, "32 hex digits"},
        {"--no-gzip", CLI_BOOL, &o->no_gzip, NULL, 0, NULL, NULL},
        {"--max-message-size", CLI_SIZE, &o->max_message_size, NULL, 0, check_message_size,
         "1K..4G-1 bytes, e.g. 16M"},
    };
    _Static_assert(sizeof(f) / sizeof(f[0]) == KASPA_OPTS_NFLAGS, "KASPA_OPTS_NFLAGS");
    memcpy(o->flags, f, sizeof(f));
    /* o->flags[KASPA_OPTS_NFLAGS] stays zero: the table's end */
}

int kaspa_opts_finish(kaspa_opts *o, const char *cmd)
{
    int spelled = o->testnet + o->devnet + o->simnet;
    int named = strcmp(o->network, KASPA_NETWORK_DEFAULT) != 0;
    if (spelled > 1 || (spelled && named)) {
        fprintf(stderr,
                "holepunch %s: give one network: --network NAME, or --testnet --netsuffix=N, "
                "--devnet or --simnet\n",
                cmd);
        return -1;
    }
    if (o->netsuffix_arg && !o->testnet) {
        fprintf(stderr,
                "holepunch %s: --netsuffix goes with --testnet (--testnet --netsuffix=%s)\n", cmd,
                o->netsuffix_arg);
        return -1;
    }
    if (o->testnet) {
        if (!o->netsuffix_arg) {
            fprintf(stderr,
                    "holepunch %s: --testnet needs --netsuffix N (e.g. --testnet "
                    "--netsuffix=10 for kaspa-testnet-10)\n",
                    cmd);
            return -1;
        }
        snprintf(o->network_buf, sizeof o->network_buf, "kaspa-testnet-%s", o->netsuffix_arg);
        if (!kaspa_network_p2p_port(o->network_buf)) {
            fprintf(stderr,
                    "holepunch %s: bad value '%s' for --netsuffix: want a testnet number, "
                    "e.g. 10\n",
                    cmd, o->netsuffix_arg);
            return -1;
        }
        o->network = o->network_buf;
    } else if (o->devnet) {
        o->network = "kaspa-devnet";
    } else if (o->simnet) {
        o->network = "kaspa-simnet";
    }
    if (o->node_id_hex) {
        kaspa_node_id_parse(o->node_id_hex, o->node_id); /* checked while parsing */
        o->has_node_id = 1;
    }
    o->gzip = !o->no_gzip;
    return 0;
}

kaspa_hub *kaspa_opts_hub(const kaspa_opts *o)
{
    kaspa_hub *hub = NULL;
    if (kaspa_hub_new(&hub, o->has_node_id ? o->node_id : NULL, &LP2P_RNG_OPENSSL) != 0) {
        fprintf(stderr, "holepunch: cannot create the Kaspa hub\n");
        return NULL;
    }
    return hub;
}

void kaspa_opts_config(const kaspa_opts *o, kaspa_session_config *c, kaspa_hub *hub,
                       kaspa_h2_profile profile)
{
    kaspa_session_config_default(c, hub, profile);
    c->network = o->network;
    c->protocol_version = o->protocol_version;
    c->ping_interval_ms = o->ping_interval_ms;
    c->grpc.gzip = o->gzip;
    c->grpc.max_message_size = o->max_message_size;
    c->trace = LP2P_TRACE_LOG;
    c->rng = LP2P_RNG_OPENSSL;
    c->wall_ms = lp2p_wall_ms;
}
