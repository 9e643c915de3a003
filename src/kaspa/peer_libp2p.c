/* Kaspa peers over libp2p streams: the host's handler for /kaspad/transport/1.0.0 (and the
 * PoC's /kaspa/p2p/bridge/1.0) turns each inbound stream into a KASPA_SERVER peer, and
 * kaspa_peer_open_libp2p opens one as the KASPA_CLIENT. Both run the LIBP2P HTTP/2 profile
 * with the peer's synthetic fd00::/8 address as duplicate key. See kaspa/peer.h. */
#include "kaspa/peer_internal.h" /* src/kaspa/peer_internal.h */
#include "lp2p/err.h"
#include "lp2p/stream_transport.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct serve_ctx {
    uv_loop_t *loop;
    kaspa_session_config base;
    kaspa_peer_callbacks cb;
    void *user;
} serve_ctx;

/* A peer for conn, with the libp2p session settings, not yet attached; logs
 * kaspa_stream_open. */
static kaspa_peer *libp2p_peer(uv_loop_t *loop, lp2p_conn *conn, const char *proto, kaspa_role role,
                               const kaspa_session_config *base, const kaspa_peer_callbacks *cb,
                               void *user)
{
    kaspa_session_config cfg = *base;
    char label[LP2P_PEER_ID_STR_MAX];
    int relayed = lp2p_conn_is_relayed(conn);
    if (kaspa_session_config_libp2p(&cfg, lp2p_conn_peer(conn), relayed, label, sizeof label))
        return NULL;
    /* The libp2p profile resets grpc settings; keep the caller's gzip choice. */
    cfg.grpc.gzip = base->grpc.gzip;
    kaspa_peer_names names = {
        .label = label, .addr = lp2p_conn_remote_addr(conn), .protocol = proto};
    kaspa_peer *p = kaspa_peer__new(loop, &cfg, role, &names, cb, user);
    if (!p)
        return NULL;
    lp2p_log(LP2P_INFO, "kaspa_stream_open", LF_S("peer", p->label), LF_S("addr", p->addr),
             LF_B("relayed", relayed), LF_S("synthetic_addr", p->key_addr),
             LF_S("protocol", p->proto), LF_S("role", role == KASPA_CLIENT ? "client" : "server"));
    return p;
}

int kaspa_peer_start_libp2p(lp2p_stream *s, kaspa_role role, uv_loop_t *loop,
                            const kaspa_session_config *base, const kaspa_peer_callbacks *cb,
                            void *user, kaspa_peer **out)
{
    lp2p_transport *t = NULL;
    int rc = lp2p_stream_transport_new(s, NULL, &t);
    if (rc) {
        lp2p_stream_detach(s, 1);
        return rc;
    }
    kaspa_peer *p =
        libp2p_peer(loop, lp2p_stream_conn(s), lp2p_stream_protocol(s), role, base, cb, user);
    if (!p) {
        lp2p_transport_close(t, 1);
        return LP2P_ERR_NOMEM;
    }
    rc = kaspa_peer__attach(p, t);
    if (rc) {
        memset(&p->cb, 0, sizeof p->cb); /* reported by the return value */
        kaspa_peer__fail(p, rc);
        return rc;
    }
    if (out)
        *out = p;
    return 0;
}

static void serve_on_open(lp2p_stream *s, void *ud)
{
    serve_ctx *sc = ud;
    int rc = kaspa_peer_start_libp2p(s, KASPA_SERVER, sc->loop, &sc->base, &sc->cb, sc->user, NULL);
    if (rc)
        lp2p_log(LP2P_WARN, "kaspa_peer_error",
                 LF_S("peer", lp2p_conn_peer_str(lp2p_stream_conn(s))),
                 LF_S("reason", lp2p_strerror(rc)));
}

static const lp2p_stream_callbacks k_serve_handler = {.on_open = serve_on_open};

int kaspa_peer_serve_libp2p(lp2p_host *host, uv_loop_t *loop, const kaspa_session_config *base,
                            const kaspa_peer_callbacks *cb, void *user)
{
    /* One per process: the host keeps the pointer until it is closed. */
    static serve_ctx sc;
    sc.loop = loop;
    sc.base = *base;
    if (cb)
        sc.cb = *cb;
    sc.user = user;
    int rc = lp2p_host_handle(host, KASPA_PEER_PROTO, &k_serve_handler, &sc);
    if (rc == 0)
        rc = lp2p_host_handle(host, KASPA_PEER_PROTO_BRIDGE, &k_serve_handler, &sc);
    return rc;
}

int kaspa_peer_open_libp2p(lp2p_conn *conn, const char *proto, uv_loop_t *loop,
                           const kaspa_session_config *base, const kaspa_peer_callbacks *cb,
                           void *user, kaspa_peer **out)
{
    if (!proto)
        proto = KASPA_PEER_PROTO;
    /* Lazy multistream: the stream can take bytes at once; the transport takes over its
     * callbacks before the loop delivers anything. */
    static const lp2p_stream_callbacks none = {0};
    lp2p_stream *s;
    int rc = lp2p_conn_open_stream(conn, proto, &none, NULL, &s);
    return rc ? rc : kaspa_peer_start_libp2p(s, KASPA_CLIENT, loop, base, cb, user, out);
}
