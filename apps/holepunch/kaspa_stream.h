/* A Kaspa session over a libp2p stream (/kaspad/transport/1.0.0): what `holepunch server`
 * serves and `holepunch client` opens. Bytes go both ways between the lp2p_stream and the
 * sans-IO kaspa_session; one uv timer per stream drives the session's deadlines.
 *
 * The libp2p dialer is the gRPC client (KASPA_CLIENT); the side that accepts the stream is
 * the gRPC server (KASPA_SERVER). Both use kaspa_session_config_libp2p: the LIBP2P HTTP/2
 * profile and the peer's synthetic fd00::/8 address as duplicate key.
 *
 * Backpressure: session output moves into the stream only while the stream has less than
 * KASPA_STREAM_HIGH_WATER bytes pending; the rest waits in the session (bounded by HTTP/2
 * flow control) until the stream's on_writable.
 *
 * Lifetime: every kaspa_stream is owned by this module. on_closed fires exactly once, after
 * the lp2p stream is gone and the timer closed; the kaspa_stream (and its session) is freed
 * when that callback returns. Logs `kaspa_stream_open` and `kaspa_session_closed {peer,
 * addr, relayed, bytes_in, bytes_out, messages_in, messages_out, reason}`. */
#ifndef HOLEPUNCH_KASPA_STREAM_H
#define HOLEPUNCH_KASPA_STREAM_H

#include <uv.h>

#include "kaspa/session.h"
#include "lp2p/host.h"

#define KASPA_STREAM_PROTO        "/kaspad/transport/1.0.0"
#define KASPA_STREAM_PROTO_BRIDGE "/kaspa/p2p/bridge/1.0" /* the public PoC's id */
#define KASPA_STREAM_HIGH_WATER   (1024 * 1024)
#define KASPA_STREAM_LINGER_MS    2000  /* after our FIN, wait this long for the peer's */
#define KASPA_STREAM_DRAIN_MS     10000 /* after the session ended, for our last bytes */

typedef struct kaspa_stream kaspa_stream;

typedef struct kaspa_stream_callbacks {
    /* Session events. May use kaspa_stream_session() send functions (then call
     * kaspa_stream_flush) or kaspa_stream_close; must not free anything. */
    void (*on_event)(void *user, kaspa_stream *ks, const kaspa_event *ev);
    /* Optional: the stream can take more (see kaspa_stream_can_send). */
    void (*on_writable)(void *user, kaspa_stream *ks);
    /* Once; ks is freed when this returns. err 0 = clean end. */
    void (*on_closed)(void *user, kaspa_stream *ks, int err);
} kaspa_stream_callbacks;

/* Serves both protocol ids on host: each inbound stream becomes a KASPA_SERVER session with
 * base (copied per stream; peer address/label/relayed filled from the connection). base and
 * its hub must outlive the host; cb/user are kept. */
int kaspa_stream_serve(lp2p_host *host, uv_loop_t *loop, const kaspa_session_config *base,
                       const kaspa_stream_callbacks *cb, void *user);

/* Opens proto (NULL: /kaspad/transport/1.0.0) on conn and runs a KASPA_CLIENT session. */
int kaspa_stream_open(lp2p_conn *conn, const char *proto, uv_loop_t *loop,
                      const kaspa_session_config *base, const kaspa_stream_callbacks *cb,
                      void *user, kaspa_stream **out);

kaspa_session *kaspa_stream_session(kaspa_stream *ks);
/* After using kaspa_session_* outside an on_event callback: moves output, re-arms timer. */
void kaspa_stream_flush(kaspa_stream *ks);
/* 1 when the session is ready and both the stream and the session's HTTP/2 queue have room. */
int kaspa_stream_can_send(const kaspa_stream *ks);
/* kaspa_session_ping + flush. */
int kaspa_stream_ping(kaspa_stream *ks);
/* Ends the session (Reject{reason} first if reason), flushes, half-closes, then closes. */
void kaspa_stream_close(kaspa_stream *ks, const char *reason);

/* Why the session ended (a Reject, the stream's error, ...); "" while it runs. */
const char *kaspa_stream_reason(const kaspa_stream *ks);
const char *kaspa_stream_peer(const kaspa_stream *ks);        /* base58 peer ID */
const char *kaspa_stream_remote_addr(const kaspa_stream *ks); /* connection multiaddr */
const char *kaspa_stream_synthetic_addr(const kaspa_stream *ks);
int kaspa_stream_relayed(const kaspa_stream *ks);
void *kaspa_stream_user(const kaspa_stream *ks);

#endif
