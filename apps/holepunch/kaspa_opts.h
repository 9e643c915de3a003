/* Kaspa options shared by `holepunch server` and `holepunch client`: network name, protocol
 * version, ping interval, node id, gzip, message limit. Parsed next to the common flags (cli.h). */
#ifndef HOLEPUNCH_KASPA_OPTS_H
#define HOLEPUNCH_KASPA_OPTS_H

#include "lp2p/random.h"
#include "kaspa/session.h"

typedef struct kaspa_opts {
    const char *network;       /* --network, default kaspa-mainnet */
    uint32_t protocol_version; /* --protocol-version, default 10 */
    uint64_t ping_interval_ms; /* --ping-interval SECONDS (0 = never), default 120 */
    int has_node_id;           /* --node-id HEX32 (tests: duplicate detection) */
    uint8_t node_id[KASPA_NODE_ID_LEN];
    int gzip;                  /* --no-gzip clears */
    uint64_t max_message_size; /* --max-message-size BYTES, default 16 MiB */
} kaspa_opts;

extern const char *const KASPA_OPTS_HELP;

void kaspa_opts_init(kaspa_opts *o);
/* 0 not ours, N>0 consumed N args, -1 error already printed. */
int kaspa_opts_parse(kaspa_opts *o, int argc, char **argv, int i);
/* The hub (with --node-id if given). Prints why on failure. */
kaspa_hub *kaspa_opts_hub(const kaspa_opts *o);
/* Session defaults for profile, with the options applied. */
void kaspa_opts_config(const kaspa_opts *o, kaspa_session_config *c, kaspa_hub *hub,
                       kaspa_h2_profile profile);

#endif
