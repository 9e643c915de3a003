#include "kaspa_opts.h"
#include "cli.h"
#include "lp2p/clock.h"
#include "lp2p/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const KASPA_OPTS_HELP =
    "Kaspa options:\n"
    "  --network NAME        kaspa-mainnet (default), kaspa-testnet-10, ...; a peer on another\n"
    "                        network is rejected with \"Network mismatch - ...\"\n"
    "  --protocol-version N  P2P protocol version we advertise (default 10)\n"
    "  --ping-interval SEC   our Ping every SEC seconds after Ready (default 120, 0 = never)\n"
    "  --node-id HEX         16-byte node id as 32 hex digits (default: random per process)\n"
    "  --no-gzip             do not gzip our gRPC messages\n"
    "  --max-message-size N  largest Kaspa message accepted, after gzip inflation (K/M/G\n"
    "                        suffixes; default 16M, 1K..4G-1; rusty-kaspa allows 1G for IBD);\n"
    "                        a peer that sends more is closed with RESOURCE_EXHAUSTED\n";

void kaspa_opts_init(kaspa_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->network = KASPA_NETWORK_DEFAULT;
    o->protocol_version = KASPA_PROTOCOL_VERSION_DEFAULT;
    o->ping_interval_ms = 120000;
    o->gzip = 1;
    o->max_message_size = KASPA_GRPC_MAX_MESSAGE_DEFAULT;
}

static int parse_u64(const char *flag, const char *s, unsigned long long max,
                     unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max) {
        fprintf(stderr, "holepunch: %s wants a number up to %llu, not '%s'\n", flag, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

int kaspa_opts_parse(kaspa_opts *o, int argc, char **argv, int i)
{
    const char *a = argv[i];
    if (strcmp(a, "--no-gzip") == 0) {
        o->gzip = 0;
        return 1;
    }
    int takes = strcmp(a, "--network") == 0 || strcmp(a, "--protocol-version") == 0 ||
                strcmp(a, "--ping-interval") == 0 || strcmp(a, "--node-id") == 0 ||
                strcmp(a, "--max-message-size") == 0;
    if (!takes)
        return 0;
    if (i + 1 >= argc) {
        fprintf(stderr, "holepunch: %s needs a value (see --help)\n", a);
        return -1;
    }
    const char *v = argv[i + 1];
    unsigned long long n;
    if (strcmp(a, "--network") == 0) {
        if (!*v) {
            fprintf(stderr, "holepunch: --network must not be empty\n");
            return -1;
        }
        o->network = v;
    } else if (strcmp(a, "--protocol-version") == 0) {
        if (parse_u64(a, v, UINT32_MAX, &n) < 0)
            return -1;
        o->protocol_version = (uint32_t)n;
    } else if (strcmp(a, "--max-message-size") == 0) {
        long long sz = cli_parse_size(v);
        if (sz < 1024 || sz > (long long)UINT32_MAX) { /* the gRPC length prefix is 32 bits */
            fprintf(stderr, "holepunch: --max-message-size wants 1K..4G-1 bytes, not '%s'\n", v);
            return -1;
        }
        o->max_message_size = (uint64_t)sz;
    } else if (strcmp(a, "--ping-interval") == 0) {
        if (parse_u64(a, v, 86400, &n) < 0)
            return -1;
        o->ping_interval_ms = n * 1000;
    } else {
        if (kaspa_node_id_parse(v, o->node_id) < 0) {
            fprintf(stderr, "holepunch: --node-id wants 32 hex digits\n");
            return -1;
        }
        o->has_node_id = 1;
    }
    return 2;
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
