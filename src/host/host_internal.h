/* Private structures of the host (src/host/). Not a public API. */
#ifndef LP2P_HOST_INTERNAL_H
#define LP2P_HOST_INTERNAL_H

#include "lp2p/host.h"
#include "net/tcp_transport.h"
#include "net/transport.h"
#include "proto/mss.h"
#include "host/observed_addrs.h"
#include "host/relay_quota.h"
#include "proto/identify.h"
#include "proto/noise.h"
#include "proto/yamux.h"
#include "util/buf.h"
#include "util/list.h"
#include "wire/multiaddr.h"

#include <sys/socket.h>

#define HOST_MAX_HANDLERS  32
#define HOST_MAX_LISTENERS 8
/* Sending is pulled (lp2p__conn_flush): a stream's writer queues bytes in the stream and
 * asks one question, "can I send?" = lp2p_stream_pending() below STREAM_HIGH_WATER (told
 * again by on_writable once it falls below STREAM_LOW_WATER); the connection takes the
 * queued bytes, one STREAM_QUANTUM per ready stream in turn, only while its transport holds
 * less than the transport's own high-water mark. Above STREAM_HIGH_WATER a stream also stops
 * granting the peer window. Reading stops while the transport holds more than
 * CONN_READ_PAUSE beyond its high-water mark (what pulled sending can never reach: only
 * control frames a peer provokes without reading, e.g. PING replies). */
#define STREAM_HIGH_WATER          LP2P_STREAM_HIGH_WATER
#define STREAM_LOW_WATER           (256u << 10)
#define STREAM_QUANTUM             (256u << 10)
#define CONN_READ_PAUSE            (2u << 20)
#define HOST_PUNCH_DIAL_TIMEOUT_MS 5000
#define HOST_MAX_OBSERVERS         16

/* A subscriber of connection events (events.c). Services of the host subscribe with the
 * internal hooks too; `order` sorts them (lower first; the app's subscribers are 0, services
 * that open streams on a new connection come after it, so stream IDs stay as they were). */
typedef struct host_observer {
    lp2p_host_callbacks cb;
    /* An inbound TCP connection was accepted (before the upgrade); from = peer's address. */
    void (*on_accepted)(lp2p_conn *c, const struct sockaddr *from, void *ud);
    /* The host is closing: release what the service holds. */
    void (*on_host_close)(lp2p_host *h, void *ud);
    /* Connection pressure (conn_trim.c): 1 when the service holds state on c that trimming
     * must not throw away (a relay reservation). */
    int (*keeps)(const lp2p_conn *c, void *ud);
    void *ud;
    int order;
    int id;
    int live;
} host_observer;

/* Per-connection state of a service: conn->slots[HOST_SLOT_*], owned by that service (it
 * frees it in its on_disconnected). */
enum host_slot { HOST_SLOT_IDENTIFY, HOST_SLOT_HOLEPUNCH, HOST_SLOT_RELAY_SERVER, HOST_NSLOTS };

typedef struct host_handler {
    char *proto;
    const char *mss_list[1];
    lp2p_stream_callbacks cb;
    void *ud;
} host_handler;

typedef struct host_listener {
    lp2p_tcp_listener *tcp;
    char *text; /* multiaddr with /p2p/<id> */
    lp2p_host *host;
} host_listener;

struct lp2p_host {
    lp2p_host_config cfg;
    uv_loop_t *loop;
    char id_str[LP2P_PEER_ID_STR_MAX];
    host_handler handlers[HOST_MAX_HANDLERS];
    size_t nhandlers;
    host_listener *listeners[HOST_MAX_LISTENERS];
    size_t nlisteners;
    const char *listen_texts[HOST_MAX_LISTENERS];
    lp2p_list conns;
    size_t nconns;
    lp2p_list writable;            /* streams owed an on_writable from an app call */
    lp2p_list gc;                  /* closed streams, freed before the loop sleeps */
    lp2p_list reservations;        /* relays we keep a reservation on */
    lp2p_relay_quota *relay_quota; /* relays we may reserve on at once (reservation.c) */
    lp2p_list punches;             /* hole punches in progress */
    host_observer observers[HOST_MAX_OBSERVERS]; /* sorted by order */
    size_t nobservers;
    int next_observer_id;
    int dispatching;         /* nesting depth of event dispatches (events.c) */
    lp2p_obs_table observed; /* our NAT mappings, as peers saw them (observed_addrs.h) */
    lp2p_list dirty;         /* connections with output to flush before the loop sleeps */
    lp2p_list staged;        /* connections that wrote a full batch: pulled again after I/O */
    uint64_t mem_used;       /* memory budget (mem_budget.c): charged by all connections */
    lp2p_list mem_starved;   /* connections with window grants withheld by the budget */
    uint64_t mem_refused;    /* streams the budget refused (counted for lp2p_host_memory) */
    uint64_t mem_cut;        /* window grants the budget cut or withheld */
    /* Kept across Noise handshakes, made on the first one (proto/noise_static.h): our
     * static key with its signature. */
    lp2p_noise_static noise_static;
    lp2p_x25519_key spare_e; /* next handshake's ephemeral key, made after a flush (host.c) */
    unsigned noise_sessions; /* handshakes started (saturating): spare_e only from the second */
    /* Our signed peer record as last sealed, and the addresses it covers (each a u16 length
     * and the bytes): identify sends it again while they are unchanged (identify_svc.c). */
    lp2p_buf spr, spr_addrs;
    uv_prepare_t flush_hook;
    uv_check_t close_hook; /* delivers on_close right after I/O callbacks */
    int closing;
    int open_handles; /* freed when it drops to 0 after close */
};

enum conn_stage {
    CONN_DIALING,
    CONN_MSS_SECURITY, /* multistream for /noise */
    CONN_NOISE,        /* Noise XX handshake */
    CONN_MSS_MUXER,    /* multistream for /yamux/1.0.0 inside Noise (no early muxer) */
    CONN_READY,
    CONN_CLOSED,
};

struct lp2p_conn {
    lp2p_host *host;
    lp2p_list link;
    lp2p_list dirty_link;
    int dirty;
    lp2p_transport *t; /* NULL once it reported on_closed */
    uv_timer_t timer;
    int open_handles; /* the timer and the transport */
    int outbound;     /* we dialed the socket */
    int initiator; /* Noise initiator and Yamux client (DCUtR may set this apart from outbound) */
    int punched;   /* made by a hole punch: its dial, or a SYN of the peer's its listener took */
    int relayed;
    int staging_full; /* on host->staged: wrote a full batch, pulled again after the I/O */
    int sync_batches; /* full batches the transport took at once since the last flush */
    lp2p_list staged_link;
    int read_paused; /* transport reading stopped until on_writable (CONN_READ_PAUSE) */
    enum conn_stage stage;
    lp2p_mss mss;
    int mss_live;
    lp2p_noise *noise;
    lp2p_yamux *yamux;
    lp2p_buf plain; /* decrypted bytes not yet handed on */
    lp2p_buf wire;  /* ciphertext (or handshake bytes) to write to the transport */
    int has_expected;
    lp2p_peer_id expected;
    lp2p_peer_id peer;
    char peer_str[LP2P_PEER_ID_STR_MAX];
    uint64_t deadline_handshake;
    lp2p_dial_cb dial_cb;
    void *dial_ud;
    lp2p_list streams;
    size_t nstreams;
    lp2p_list sendq; /* streams with bytes (or a FIN) to send and window for them: pulled */
    uint64_t bytes_in, bytes_out;
    int close_reason;
    uint64_t ready_ms;
    uint64_t created_ms;
    void *slots[HOST_NSLOTS]; /* services' per-connection state (enum host_slot) */
    int reported_connected;
    int remote_goaway;            /* peer sent GoAway: no new streams, never handed out again */
    struct sockaddr_storage from; /* inbound TCP: the peer's socket address (per-IP cap) */
    int has_from;
    /* Our end is a listen port: accepted by a listener, or dialed from it with port reuse.
     * Only then is the address the peer saw us at a mapping of that port (observed_addrs.h). */
    int on_listen_port;
    /* Relayed: the Limit the relay sent in STATUS/CONNECT (0 = none) and when the circuit
     * started, to tell the relay's cut from the peer's close (relay_client.c). */
    uint64_t relay_limit_data;
    uint32_t relay_limit_duration_s;
    uint64_t relay_t0;
    /* A duplicate being retired: GoAway sent, never handed out again, closed once its
     * streams are done or at drain_deadline (lp2p__conn_retire). */
    int draining;
    uint64_t drain_deadline, drain_quiet_since;
    /* Memory budget (mem_budget.c): what this connection's streams are charged, and its
     * place on host->mem_starved while some stream's window grant is withheld. */
    uint64_t mem_used;
    lp2p_list mem_link;
    int mem_listed;
    int mem_logged; /* memory_budget_reached logged once per connection */
    /* Multiaddr text of the other end, allocated to its length with the connection (a
     * fixed LP2P_MULTIADDR_STR_MAX array was a tenth of an idle connection). Keep last. */
    char remote_addr[];
};

enum stream_stage { STREAM_NEGOTIATING, STREAM_OPEN };

struct lp2p_stream {
    lp2p_conn *conn;
    lp2p_list link;
    lp2p_yamux_stream *ys;
    enum stream_stage stage;
    int outbound;
    lp2p_mss mss;
    int mss_live;
    char *proto;
    const char *mss_list[1];
    lp2p_stream_callbacks cb;
    void *ud;
    lp2p_buf pending; /* our bytes not yet taken by the connection (stream.c: the queue) */
    lp2p_buf more;    /* the queue's tail, a buffer moved in while pending had bytes */
    size_t debt;      /* peer bytes delivered but not yet granted back as window */
    int want_fin, fin_sent, above_high, closed, reset_seen;
    int read_paused; /* lp2p_stream_pause_read: peer bytes go to debt */
    int close_err;   /* delivered with on_close */
    int close_notified;
    int writable_queued;
    lp2p_list wlink;      /* on host->writable */
    uint64_t mem_charged; /* this stream's share of conn->mem_used (mem_budget.c) */
    int mem_withheld;     /* a window grant was cut by the budget: asked again later */
    int scheduled;
    lp2p_list slink; /* on conn->sendq */
};

/* conn.c */
/* A connection over transport t, which it owns from now on (NULL: a dial that failed at
 * once; the caller fails the connection). remote_addr: text for logs (NULL: the
 * transport's own); expected: the peer ID Noise must see, or NULL. */
lp2p_conn *lp2p__conn_new(lp2p_host *h, lp2p_transport *t, int outbound, const char *remote_addr,
                          const lp2p_peer_id *expected);
void lp2p__conn_start(lp2p_conn *c); /* transport connected: begin the upgrade */
void lp2p__conn_on_bytes(lp2p_conn *c, const uint8_t *p, size_t n);
void lp2p__conn_mark_dirty(lp2p_conn *c);
/* Pulls the ready streams (conn->sendq) while the transport has room, seals the muxer's
 * control frames, and writes the ciphertext to the transport. */
void lp2p__conn_flush(lp2p_conn *c);
/* The same pull into the ciphertext only, stopping where the transport has no room (from a
 * stream's write: the transport is written at the next flush). */
void lp2p__conn_pull(lp2p_conn *c);
/* 1 when a stream that has nothing queued may seal a write straight into the ciphertext, as
 * the pull would at once: the connection is ready, no other stream waits (their turn and
 * their SYNs' order stay), no full batch is staged and the transport has room, if need be
 * after handing it a full batch that it takes at once (within the loop turn's budget). */
int lp2p__conn_make_room(lp2p_conn *c);
/* The loop's check hook: connections that wrote a full batch this iteration go on. */
void lp2p__conn_resume_staged(lp2p_host *h);
void lp2p__conn_arm_timer(lp2p_conn *c);
/* Sends up to n bytes of a stream's queued payload as Yamux Data frames sealed by Noise
 * straight from p into the connection's ciphertext (behind the muxer's queued control
 * frames), so the payload is not copied into the muxer's output first. Returns the bytes
 * taken (0: the peer's window is shut) or a negative lp2p_err. */
long lp2p__conn_send_stream(lp2p_conn *c, lp2p_yamux_stream *ys, const uint8_t *p, size_t n);
void lp2p__conn_fail(lp2p_conn *c, int err, const char *why);
/* Duplicate resolution's loser: not handed out again (find_conn), its streams (and any
 * the peer opens before its own resolution) finish; once it has had none for a moment, or
 * after HOST_DRAIN_MS, GoAway(normal) and close. */
#define HOST_DRAIN_MS 5000
void lp2p__conn_retire(lp2p_conn *c, const char *why);
uint64_t lp2p__now(const lp2p_host *h);
/* conn_trim.c: the inbound connection `in` just made the host exceed max_conns, or its
 * subnet exceed max_conns_per_subnet: 0 when room was made for it, else LP2P_ERR_LIMIT and
 * why. */
int lp2p__host_make_room(lp2p_host *h, lp2p_conn *in, const char **why);

/* stream.c */
lp2p_stream *lp2p__stream_inbound(lp2p_conn *c, lp2p_yamux_stream *ys);
void lp2p__stream_on_data(lp2p_stream *s, const uint8_t *p, size_t n);
void lp2p__stream_on_fin(lp2p_stream *s);
void lp2p__stream_on_closed(lp2p_stream *s, int err);
/* s has bytes or a FIN to send (again): onto the connection's pull queue; pulled at once when
 * it is the only stream waiting and the transport has room (stream.c). */
void lp2p__stream_schedule(lp2p_stream *s);
/* The connection pulls s (taken off its queue): one quantum of s's bytes sealed into the
 * connection's ciphertext, the FIN after the last, s back at the queue's tail while it has
 * more and the window is open. */
void lp2p__stream_emit(lp2p_stream *s);
/* lp2p_stream_write of a whole buffer, moved instead of copied when nothing is queued (a
 * stream transport's write): *b is left empty, possibly with another buffer's capacity. */
int lp2p__stream_write_buf(lp2p_stream *s, lp2p_buf *b);
void lp2p__stream_free(lp2p_stream *s);
void lp2p__stream_notify_closed(lp2p_stream *s);
void lp2p__stream_deliver_writable(lp2p_host *h);

/* mem_budget.c: the memory budget of lp2p_host_config (max_conn_memory, max_memory). */
#define HOST_MEM_CONN_DEFAULT (32ull << 20)
#define HOST_MEM_FLOOR        (1ull << 20) /* every connection may hold this much */
uint64_t lp2p__mem_default_limit(void);
/* Re-reads s's charge (receive window held + queued output) into its connection's and the
 * host's totals; after a drop, withheld grants of the connection are asked again. */
void lp2p__mem_sync(lp2p_stream *s);
void lp2p__mem_release(lp2p_stream *s); /* s is closing: its charge goes */
/* Yamux on_admit (user = the connection): 1 when c may take one more inbound stream (its
 * implicit 256 KiB window), else 0 and a `stream_refused` line says which budget. */
int lp2p__mem_admit(void *user);
/* Yamux on_window (user = the connection): how much of a grant the budget allows. */
uint32_t lp2p__mem_window(void *user, lp2p_yamux_stream *ys, uint32_t want, uint32_t grow);
/* Before the loop sleeps: withheld grants of connections that have room again. */
void lp2p__mem_retry(lp2p_host *h);
void lp2p__mem_conn_gone(lp2p_conn *c);

/* events.c: dispatch of connection events to the observers */
int lp2p__host_observe(lp2p_host *h, const host_observer *o);
void lp2p__host_emit_connected(lp2p_host *h, lp2p_conn *c);
void lp2p__host_emit_disconnected(lp2p_host *h, lp2p_conn *c);
void lp2p__host_emit_identify(lp2p_host *h, lp2p_conn *c, const lp2p_identify_result *r);
void lp2p__host_emit_holepunch(lp2p_host *h, const lp2p_holepunch_event *ev);
void lp2p__host_emit_accepted(lp2p_host *h, lp2p_conn *c, const struct sockaddr *from);
void lp2p__host_emit_close(lp2p_host *h);

/* identify_svc.c */
void lp2p__identify_register(lp2p_host *h);

/* dns_dial.c: 1 when ma is a /dns* or /dnsaddr address (dial started, or failed with *rc), else 0.
 */
int lp2p__host_dial_dns(lp2p_host *h, const lp2p_multiaddr *ma, const char *text, lp2p_dial_cb cb,
                        void *ud, int *rc);
/* dnsaddr.c: /dnsaddr/NAME[/p2p/ID]; 0 when the TXT walk was started (cb follows). */
int lp2p__host_dial_dnsaddr(lp2p_host *h, const lp2p_multiaddr *ma, const char *text,
                            lp2p_dial_cb cb, void *ud);

/* relay_client.c, reservation.c */
void lp2p__relay_register(lp2p_host *h);
/* A relayed connection ending from the far side (EOF, carrying stream reset) at or past the
 * relay's Limit: "relay limit reached: data" / "...: duration"; else NULL. */
const char *lp2p__relay_limit_reason(const lp2p_conn *c);
struct lp2p_multiaddr;
int lp2p__relay_dial(lp2p_host *h, const struct lp2p_multiaddr *ma, const char *text,
                     lp2p_dial_cb cb, void *ud);
void lp2p__reservations_register(lp2p_host *h);

/* holepunch.c */
typedef struct lp2p_punch lp2p_punch;
void lp2p__holepunch_register(lp2p_host *h);
/* holepunch_log.c: the host's subscriber that turns hole-punch events into log lines. */
void lp2p__holepunch_log(const lp2p_holepunch_event *ev, void *ud);
int lp2p__host_dial_punch(lp2p_host *h, const struct sockaddr_storage *to, const lp2p_peer_id *peer,
                          int initiator, lp2p_dial_cb cb, void *ud);

/* host.c: a transport came up. Inbound: per-IP and total caps, hole-punch claims, then the
 * upgrade as responder. NULL when refused (the transport is closed). */
lp2p_conn *lp2p__host_inbound(lp2p_host *h, lp2p_transport *t);

/* ping_svc.c */
void lp2p__ping_register(lp2p_host *h);

/* host.c */
void lp2p__host_free(lp2p_host *h);
const host_handler *lp2p__host_find_handler(const lp2p_host *h, const char *proto);
lp2p_conn *lp2p__host_find_conn(const lp2p_host *h, const lp2p_peer_id *peer, lp2p_conn *except);
void lp2p__host_conn_ready(lp2p_host *h, lp2p_conn *c);
void lp2p__host_conn_gone(lp2p_host *h, lp2p_conn *c);
size_t lp2p__host_protocols(const lp2p_host *h, const char **out, size_t max);
/* advertise.c: the addresses we advertise (identify, peer record, reservations, DCUtR
 * fallback): listen addresses, each unspecified one (0.0.0.0, ::) replaced by the interface
 * addresses of its family with its port (loopback only when no other interface has one);
 * no /p2p, no duplicates, at most max. The caller frees each. */
#define HOST_MAX_ADVERTISED 16
size_t lp2p__host_advertised_addrs(const lp2p_host *h, struct lp2p_multiaddr *out, size_t max);
size_t lp2p__expand_listen_addrs(const struct sockaddr_storage *listen, size_t nlisten,
                                 const uv_interface_address_t *ifs, size_t nifs,
                                 struct lp2p_multiaddr *out, size_t max);

#endif
