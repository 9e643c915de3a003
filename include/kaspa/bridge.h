/* `holepunch bridge`: a sidecar beside a stock kaspad that splices Kaspa P2P bytes between the
 * local kaspad and remote peers over hole-punched libp2p connections (issue 10).
 *
 * One loopback address per remote peer. kaspad keys peers by (node id, IP) and
 * ConnectionManager::ban(ip) disconnects every peer with that IP, so bridged peers must not
 * all come from 127.0.0.1: each remote peer gets its own address in 127.0.0.0/8, derived from
 * its peer ID. The bridge connects to the local kaspad FROM that address for the peer's
 * inbound streams, and listens ON it for kaspad's outbound connections to that peer. This is
 * the sidecar's counterpart of the proof of concept's synthetic fd00::/8 address.
 *
 *   candidate(peer, salt) = SHA-256("kaspa-bridge-loopback/1" || salt (4 bytes, BE) ||
 *                                   peer ID multihash bytes)
 *   address               = 127.d[0].d[1].d[2]   accepted when each of d[0..2] is in 1..254
 *
 * so never 127.0.0.1, nothing in 127.0.x.x (127.0.0.53 resolvers, 127.0.1.1 hostnames), and
 * no ".0"/".255" octet. A rejected candidate tries the next salt. */
#ifndef KASPA_BRIDGE_H
#define KASPA_BRIDGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "lp2p/host.h"
#include "lp2p/identity.h"

typedef struct kaspa_loopback {
    uint8_t ip[4]; /* 127, a, b, c */
} kaspa_loopback;

#define KASPA_LOOPBACK_STR_MAX 16 /* "127.254.254.254" + NUL */
/* Salts tried per peer before giving up (each candidate is rejected with probability about
 * 1.2 %, so this is never reached in practice; it bounds the loop). */
#define KASPA_LOOPBACK_MAX_SALT 4096

/* The address of peer for one salt, or LP2P_ERR_INVAL when that candidate is not an
 * acceptable form (then try salt + 1). */
int kaspa_loopback_candidate(const lp2p_peer_id *peer, uint32_t salt, kaspa_loopback *out);
/* The first acceptable candidate with salt >= *salt (updated to the salt used). */
int kaspa_loopback_derive(const lp2p_peer_id *peer, uint32_t *salt, kaspa_loopback *out);

/* Addresses for a set of configured peers, all distinct: peers are taken in sorted order of
 * their multihash bytes (shorter first, then memcmp), and each takes its first candidate not
 * yet taken by an earlier one. The result depends only on the set, not on the order given,
 * so it is stable across restarts; a peer's address changes only if a new peer that sorts
 * before it collides with it (about one chance in 16 million per pair). The same peer ID
 * listed twice gets the same address. out[i] is for peers[i]. Returns 0, LP2P_ERR_INVAL,
 * LP2P_ERR_NOMEM, or LP2P_ERR_LIMIT when a peer runs out of salts. */
int kaspa_loopback_assign(const lp2p_peer_id *peers, size_t n, kaspa_loopback *out);

/* "127.a.b.c" into out (>= KASPA_LOOPBACK_STR_MAX bytes). Returns out. */
char *kaspa_loopback_str(const kaspa_loopback *a, char *out);

/* ---- the bridge service -------------------------------------------------------------------
 *
 *   remote peer ──libp2p stream /kaspad/transport/1.0.0──▶ bridge ──TCP from 127.a.b.c──▶ kaspad
 *   kaspad ──TCP to 127.a.b.c:peer_port──▶ bridge ──libp2p stream to that peer──▶ remote peer
 *
 * Inbound: each stream of KASPA_BRIDGE_PROTO (or the PoC's KASPA_BRIDGE_PROTO_POC) becomes a
 * TCP connection to the local kaspad made FROM the peer's loopback address, spliced byte for
 * byte. Outbound: for each configured peer the bridge listens on its loopback address and
 * peer_port; each connection kaspad makes there becomes a stream to that peer over the
 * direct (hole-punched) connection, or, with relayed_fallback, over the relay circuit;
 * with neither, the kaspad connection is closed at once (never held open silently). The
 * connection to each configured peer is kept up: dial its addresses in turn (a relay
 * circuit starts the punch), wait punch_wait_ms for the direct connection, redial with
 * backoff.
 *
 * Log events: bridge_session_open / bridge_session_closed (peer, loopback, direction,
 * relayed, bytes each way, duration, reason), bridge_session_refused, bridge_peer_version
 * (the passive tap: side local|remote, network, protocol_version, user_agent),
 * bridge_peer_direct / bridge_peer_dial / bridge_punch_timeout. */
#define KASPA_BRIDGE_PROTO          "/kaspad/transport/1.0.0"
#define KASPA_BRIDGE_PROTO_POC      "/kaspa/p2p/bridge/1.0"
#define KASPA_BRIDGE_MAX_PEER_ADDRS 8
#define KASPA_BRIDGE_MAX_PEERS      64 /* configured ones */

typedef struct kaspa_bridge_peer {
    lp2p_peer_id id;
    /* Multiaddrs, tried in order: a relay circuit (.../p2p/<relay>/p2p-circuit) and/or a direct
     * /ip4/.../tcp/...; "/p2p/<id>" is appended when missing. Copied by kaspa_bridge_new. */
    const char *addrs[KASPA_BRIDGE_MAX_PEER_ADDRS];
    size_t naddrs;
} kaspa_bridge_peer;

typedef struct kaspa_bridge_config {
    uv_loop_t *loop;
    lp2p_host *host;                /* borrowed; the bridge registers its stream handlers */
    struct sockaddr_storage kaspad; /* the local kaspad's P2P address */
    uint16_t peer_port;             /* port of the per-peer loopback listeners */
    const kaspa_bridge_peer *peers;
    size_t npeers;
    int relayed_fallback;           /* serve peers over the relay circuit when not punched */
    uint32_t max_sessions_per_peer; /* default 8 */
    uint32_t max_sessions;          /* default 128 */
    uint32_t max_inbound_peers;     /* peers not configured with sessions at once; default 64 */
    uint64_t punch_wait_ms;         /* relayed and not punched this long: redial; 20 s */
    uint64_t redial_min_ms, redial_max_ms; /* backoff between dials; 1 s .. 60 s */
} kaspa_bridge_config;

typedef struct kaspa_bridge kaspa_bridge;

void kaspa_bridge_config_default(kaspa_bridge_config *c, uv_loop_t *loop, lp2p_host *host);
/* Assigns the loopback addresses, listens on each (logging bridge_listen), registers the
 * stream handlers and starts keeping the peers connected. Returns 0, LP2P_ERR_INVAL,
 * LP2P_ERR_NOMEM, LP2P_ERR_EXISTS (a peer listed twice) or LP2P_ERR_IO when a listener
 * cannot bind (logged with the address). After an error other than INVAL *out is set too,
 * already closed: free it with kaspa_bridge_free once the loop has run. */
int kaspa_bridge_new(const kaspa_bridge_config *c, kaspa_bridge **out);
/* "127.a.b.c:PORT" kaspad should --connect/--addpeer to reach configured peer i. */
int kaspa_bridge_peer_endpoint(const kaspa_bridge *b, size_t i, char *out, size_t n);
/* Open bridged sessions. */
size_t kaspa_bridge_sessions(const kaspa_bridge *b);
/* Stops listening and dialing and resets every session; their last events come from the
 * loop. Call before closing the host. */
void kaspa_bridge_close(kaspa_bridge *b);
/* Frees b once the loop has run the closes (after the host's shutdown drained it). */
void kaspa_bridge_free(kaspa_bridge *b);

#endif
