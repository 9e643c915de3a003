/* Kaspa options shared by `holepunch server` and `holepunch client`: network name, protocol
 * version, ping interval, node id, gzip, message limit. A flag table (flags.h) that the
 * command installs as cli_common.extra; the network names are shared with the bridge. */
#ifndef HOLEPUNCH_KASPA_OPTS_H
#define HOLEPUNCH_KASPA_OPTS_H

#include "flags.h"
#include "kaspa/session.h"
#include "lp2p/random.h"

#define KASPA_OPTS_NFLAGS 10
/* The first KASPA_OPTS_NNETFLAGS entries of kaspa_opts.flags are the network choice
 * (--network, --testnet, --devnet, --simnet, --netsuffix): the bridge takes only those. */
#define KASPA_OPTS_NNETFLAGS 5

typedef struct kaspa_opts {
    const char *network;         /* --network, default kaspa-mainnet */
    int testnet, devnet, simnet; /* rusty-kaspa's spelling: --testnet --netsuffix=10 */
    uint32_t netsuffix;
    const char *netsuffix_arg;
    char network_buf[32];
    uint32_t protocol_version; /* --protocol-version, default 10 */
    uint64_t ping_interval_ms; /* --ping-interval DUR (0 = never), default 2m */
    int has_node_id;           /* --node-id HEX32 (tests: duplicate detection) */
    const char *node_id_hex;
    uint8_t node_id[KASPA_NODE_ID_LEN];
    int no_gzip;               /* --no-gzip */
    int gzip;                  /* !no_gzip, set by kaspa_opts_finish */
    uint64_t max_message_size; /* --max-message-size SIZE, default 16 MiB */
    cli_flag flags[KASPA_OPTS_NFLAGS + 1];
} kaspa_opts;

#define KASPA_NETWORK_HELP                                                                         \
    "  --network NAME        kaspa-mainnet (default), kaspa-testnet-10 (or any\n"                  \
    "                        kaspa-testnet-N), kaspa-devnet or kaspa-simnet; a peer on another\n"  \
    "                        network is rejected with \"Network mismatch - ...\"\n"                \
    "  --testnet, --netsuffix N, --devnet, --simnet\n"                                             \
    "                        rusty-kaspa's spelling of the same: --testnet --netsuffix=10\n"

#define KASPA_OPTS_HELP                                                                            \
    "Kaspa options:\n" KASPA_NETWORK_HELP                                                          \
    "  --protocol-version N  P2P protocol version we advertise (default 10)\n"                     \
    "  --ping-interval DUR   our Ping this often after Ready (default 2m, 0 = never; a bare\n"     \
    "                        number is seconds)\n"                                                 \
    "  --node-id HEX         16-byte node id as 32 hex digits (default: random per process)\n"     \
    "  --no-gzip             do not gzip our gRPC messages\n"                                      \
    "  --max-message-size SIZE  largest Kaspa message accepted, after gzip inflation (K/M/G;\n"    \
    "                        default 16M, 1K..4G-1; rusty-kaspa allows 1G for IBD); a peer\n"      \
    "                        that sends more is closed with RESOURCE_EXHAUSTED\n\n"

/* Defaults, and o->flags ready to install as cli_common.extra. */
void kaspa_opts_init(kaspa_opts *o);
/* After parsing: resolves --testnet/--netsuffix into o->network and checks the names; -1
 * with the reason on stderr. */
int kaspa_opts_finish(kaspa_opts *o, const char *cmd);
/* The hub (with --node-id if given). Prints why on failure. */
kaspa_hub *kaspa_opts_hub(const kaspa_opts *o);
/* Session defaults for profile, with the options applied. */
void kaspa_opts_config(const kaspa_opts *o, kaspa_session_config *c, kaspa_hub *hub,
                       kaspa_h2_profile profile);

/* The P2P port rusty-kaspa uses for a network, or 0 for a name it does not know. */
uint16_t kaspa_network_p2p_port(const char *net);
/* For errors: the names --network takes. */
#define KASPA_NETWORK_WANT                                                                         \
    "kaspa-mainnet, kaspa-testnet-N (e.g. kaspa-testnet-10), kaspa-devnet or kaspa-simnet "        \
    "(or --testnet --netsuffix=10)"

#endif
