/* A Kaspa P2P session over any byte pipe: gRPC/HTTP/2 underneath, rusty-kaspa's handshake
 * and flows on top. Sans-IO: the caller feeds bytes and the time, drains `out`, and calls
 * tick at next_deadline. Wire facts: ../shared/reference/kaspa-p2p-wire.md sections 4-5.
 *
 *   both sides, at stream open:   Version ->            (peer's Version: reply Verack)
 *   within 4 s:                   <- Version, <- Verack
 *   checks, in rusty-kaspa order: duplicate (node id, IP) in hub -> Reject DUPLICATE_CONNECTION
 *                                 own node id                    -> Reject LOOPBACK_CONNECTION
 *                                 network name differs           -> Reject "Network mismatch ..."
 *                                 peer protocol version too low  -> Reject "P2P protocol version
 * ..." then:                         Ready ->, <- Ready within 8 s (nothing else before it) flows:
 * RequestAddresses -> once; answer RequestAddresses (empty Addresses) and Ping (Pong, same nonce);
 * our Ping every 120 s, Pong with the same nonce due within 120 s. any failure: Reject{reason} ->
 * then close. A received Reject closes. */
#ifndef KASPA_SESSION_H
#define KASPA_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "kaspa/grpc.h"
#include "kaspa/msg.h"
#include "lp2p/identity.h"
#include "lp2p/rng.h"
#include "lp2p/trace.h"

#define KASPA_NODE_ID_LEN 16
/* 10 = rusty-kaspa v2.x (Toccata). v1.0.x nodes accept >= 7, v1.1.x >= 9, v2.x >= 10 (and,
 * after Toccata activates, only >= 10): a version >= the remote's own is always accepted, and
 * the node then runs its own version's flows; ping/address/handshake messages have the same
 * layout in all of them. So 10 works with every current mainnet node. */
#define KASPA_PROTOCOL_VERSION_DEFAULT          10
#define KASPA_MIN_PEER_PROTOCOL_VERSION_DEFAULT 7 /* Crescendo (v1.0); older nodes are gone */
#define KASPA_NETWORK_DEFAULT                   "kaspa-mainnet"
#define KASPA_MAX_UNREAD_DEFAULT                (4u << 20)
#define KASPA_USER_AGENT_MAX                    256
#define KASPA_REJECT_DUPLICATE                  "DUPLICATE_CONNECTION"
#define KASPA_REJECT_LOOPBACK                   "LOOPBACK_CONNECTION"

/* ---- addresses ------------------------------------------------------------------------------
 * IPv4 is stored v4-mapped (::ffff:a.b.c.d) and goes on the wire as 4 bytes, as Go's net.IP. */
typedef struct kaspa_addr {
    uint8_t ip[16];
    uint16_t port;
} kaspa_addr;

void kaspa_addr_ipv4(kaspa_addr *a, const uint8_t ip4[4], uint16_t port);
int kaspa_addr_is_ipv4(const kaspa_addr *a);
/* "1.2.3.4:16111" or "[fd12::1]:16111". out >= 64 bytes. */
int kaspa_addr_format(const kaspa_addr *a, char *out, size_t n);
/* Parses "HOST:PORT" with a numeric IPv4 or bracketed IPv6 host. */
int kaspa_addr_parse(const char *s, kaspa_addr *a);

/* Synthetic address for a libp2p peer (which has no TCP address the way kaspad sees one):
 *   h = SHA-256(peer ID multihash bytes)
 *   ip   = fd h[0] h[1] ... h[14]            (16 bytes, inside fd00::/8, unique-local)
 *   port = 1 + ((h[15] << 8 | h[16]) mod 65535)   (never 0)
 * Deterministic, so a reconnecting peer gets the same (node id, address) key and the hub's
 * duplicate check works as for TCP peers. */
int kaspa_synthetic_addr(const lp2p_peer_id *peer, uint8_t ip[16], uint16_t *port);
/* Same, as text "[fdxx:...]:port". */
int kaspa_synthetic_addr_string(const lp2p_peer_id *peer, char *out, size_t n);

/* ---- hub: our node id and the connected (node id, IP) pairs -----------------------------------
 * One per process (rusty-kaspa's Hub). Not thread-safe; lives on the loop thread. Outlives
 * every session that uses it. */
typedef struct kaspa_hub kaspa_hub;

/* A node id written as 32 hex digits (--node-id): 0, or -1 when s is not exactly that. */
int kaspa_node_id_parse(const char *s, uint8_t out[KASPA_NODE_ID_LEN]);
/* node_id NULL: 16 bytes from rng (a UUID v4, as kaspad); LP2P_ERR_STATE without an rng. */
int kaspa_hub_new(kaspa_hub **out, const uint8_t node_id[KASPA_NODE_ID_LEN], const lp2p_rng *rng);
void kaspa_hub_del(kaspa_hub *h);
const uint8_t *kaspa_hub_node_id(const kaspa_hub *h);
size_t kaspa_hub_count(const kaspa_hub *h);
/* Like rusty-kaspa's PeerKey: the node id and the IP (not the port). */
int kaspa_hub_contains(const kaspa_hub *h, const uint8_t id[KASPA_NODE_ID_LEN],
                       const kaspa_addr *addr);

/* ---- session ------------------------------------------------------------------------------------
 */
typedef enum kaspa_role { KASPA_CLIENT = 0, KASPA_SERVER = 1 } kaspa_role;

typedef struct kaspa_session_config {
    kaspa_hub *hub;                     /* required */
    kaspa_grpc_config grpc;             /* profile, gzip, limits, HTTP/2 keepalive */
    const char *network;                /* "kaspa-mainnet" */
    uint32_t protocol_version;          /* what we advertise (see above) */
    uint32_t min_peer_protocol_version; /* lower -> Reject "P2P protocol version mismatch" */
    const char *user_agent;             /* default "/kaspa-holepunch:<version>/" */
    const kaspa_addr *advertise;        /* Version.address; NULL = omitted (private node) */
    kaspa_addr peer_addr;               /* TCP remote or synthetic address; duplicate key */
    const char *peer_label;             /* for logs: libp2p peer ID or "ip:port" (copied) */
    int relayed;                        /* for logs */
    uint64_t handshake_timeout_ms;      /* peer Version and Verack, 4000 */
    uint64_t ready_timeout_ms;          /* peer Ready after ours, 8000 */
    uint64_t ping_interval_ms;          /* our Ping, 120000; 0 = never */
    uint64_t ping_timeout_ms;           /* Pong due, 120000 */
    int request_addresses;              /* send RequestAddresses once after Ready (1, as kaspad) */
    /* Replies the peer provokes (Pong, Addresses) are queued only while it reads: with more
     * than this many bytes already waiting for it (HTTP/2 send queue + output the transport
     * has not taken) the session ends, "peer does not read our replies" (default 4 MiB). */
    size_t max_unread;
    /* From the driver (all zero after _config_default; kaspa_session_new refuses a config
     * without rng with LP2P_ERR_STATE): */
    lp2p_trace trace;          /* kaspa_handshake/ready/ping/reject/closed records; zero = silent */
    lp2p_rng rng;              /* required: our Ping nonces (LP2P_RNG_OPENSSL) */
    uint64_t (*wall_ms)(void); /* Version.timestamp (ms since the epoch); NULL = 0 */
} kaspa_session_config;

void kaspa_session_config_default(kaspa_session_config *c, kaspa_hub *hub,
                                  kaspa_h2_profile profile);
/* For a Kaspa stream over libp2p (/kaspad/transport/1.0.0): LIBP2P HTTP/2 profile (grpc
 * settings reset to its defaults), peer_addr = kaspa_synthetic_addr(peer), relayed flag, and
 * the base58 peer ID written into label (>= LP2P_PEER_ID_STR_MAX) as the log label. label
 * must outlive kaspa_session_new (which copies it). */
int kaspa_session_config_libp2p(kaspa_session_config *c, const lp2p_peer_id *peer, int relayed,
                                char *label, size_t label_len);

typedef struct kaspa_session kaspa_session;

typedef enum kaspa_event_type {
    KASPA_EV_HANDSHAKE = 1, /* Version/Verack done, checks passed, our Ready sent */
    KASPA_EV_READY,         /* peer's Ready received: flows running */
    KASPA_EV_PING,          /* our Ping got its Pong */
    KASPA_EV_MESSAGE,       /* any message after Ready (incl. ignored kinds), after handling */
    KASPA_EV_REJECT,        /* a Reject was sent (sent=1) or received (sent=0) */
    KASPA_EV_CLOSED,        /* the session is over (fires once); drain out, then close */
} kaspa_event_type;

typedef struct kaspa_event {
    kaspa_event_type type;
    union {
        struct {
            uint32_t version;
            const char *network;
            const char *user_agent;
            const char *addr; /* the peer's address as we know it (peer_addr) */
            const uint8_t *node_id;
            int has_advertised;
            kaspa_addr advertised; /* Version.address, if any */
        } handshake;
        struct {
            uint64_t ms_since_start;
        } ready;
        struct {
            uint64_t rtt_ms;
            uint64_t nonce;
        } ping;
        struct {
            int kind; /* kaspa_msg_kind() */
            const kaspa_msg *msg;
            size_t wire_len; /* protobuf bytes */
        } message;
        struct {
            int sent;
            const char *reason;
        } reject;
        struct {
            int err; /* 0 = closed cleanly; lp2p_err otherwise */
            const char *reason;
        } closed;
    } u;
} kaspa_event;

/* Callbacks may send on s but never delete it. */
typedef struct kaspa_session_callbacks {
    void (*on_event)(void *user, kaspa_session *s, const kaspa_event *ev);
} kaspa_session_callbacks;

typedef struct kaspa_session_stats {
    uint64_t bytes_in, bytes_out; /* transport bytes */
    uint64_t msgs_in, msgs_out;   /* KaspadMessages */
    uint64_t msgs_ignored;        /* unknown payloads tolerated */
    uint64_t msgs_in_gzip;        /* received messages that were gzip'd on the wire */
    int sending_gzip;             /* we gzip our messages */
} kaspa_session_stats;

int kaspa_session_new(kaspa_session **out, const kaspa_session_config *cfg, kaspa_role role,
                      const kaspa_session_callbacks *cb, void *user, uint64_t now_ms);
void kaspa_session_del(kaspa_session *s);
/* Transport bytes in. Returns 0 or an lp2p_err; protocol failures are handled in-band
 * (Reject + close, KASPA_EV_CLOSED) and return 0. */
int kaspa_session_recv(kaspa_session *s, const uint8_t *in, size_t len, uint64_t now_ms);
/* Transport bytes out (owned by the session; drain with lp2p_buf_consume from util/buf.h,
 * or let the peer driver (kaspa/peer.h) do it). */
lp2p_buf *kaspa_session_out(kaspa_session *s);
uint64_t kaspa_session_next_deadline(const kaspa_session *s);
int kaspa_session_tick(kaspa_session *s, uint64_t now_ms);
/* 1 when the session is over and, once out is drained, the transport can be closed. */
int kaspa_session_is_done(const kaspa_session *s);
int kaspa_session_is_ready(const kaspa_session *s);
/* The transport hit EOF/error: fires KASPA_EV_CLOSED if not yet. */
void kaspa_session_transport_closed(kaspa_session *s, uint64_t now_ms);

/* Sends a message (after Ready; LP2P_ERR_STATE before). Flow messages (Ping etc.) sent this
 * way bypass the session's bookkeeping. LP2P_ERR_LIMIT: send queue full, drain and retry. */
int kaspa_session_send(kaspa_session *s, const kaspa_msg *m);
/* Sends an already encoded KaspadMessage (any payload number), after Ready. */
int kaspa_session_send_raw(kaspa_session *s, const uint8_t *pb, size_t n);
/* Sends our Ping now (LP2P_ERR_STATE if one is outstanding or not ready); KASPA_EV_PING
 * reports the round trip. */
int kaspa_session_ping(kaspa_session *s, uint64_t now_ms);
/* Sends Reject{reason} (if reason) and closes. */
int kaspa_session_close(kaspa_session *s, const char *reason, uint64_t now_ms);

void kaspa_session_get_stats(const kaspa_session *s, kaspa_session_stats *st);
const char *kaspa_session_peer_label(const kaspa_session *s);
/* Peer's node id after its Version (NULL before). */
const uint8_t *kaspa_session_peer_node_id(const kaspa_session *s);
/* Bytes waiting for HTTP/2 flow-control window. */
size_t kaspa_session_send_queue(const kaspa_session *s);
/* kaspa_grpc_hold_data for the session's stream: the driver holds DATA while the transport
 * is congested, so messages wait in one queue and leave in large frames when it drains. */
int kaspa_session_hold_data(kaspa_session *s, int hold);
/* Everything sent and not yet taken from kaspa_session_out: the send queue plus the output
 * (what a sender is charged with; see kaspa_peer_pending). */
size_t kaspa_session_unsent(const kaspa_session *s);

#endif
