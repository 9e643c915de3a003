/* gRPC over HTTP/2 (one bidirectional stream) on nghttp2, sans-IO.
 *
 * Wire facts: ../shared/reference/kaspa-p2p-wire.md sections 1 and 6; gRPC's
 * PROTOCOL-HTTP2.md for header and trailer rules. See include/kaspa/grpc.h for the flow.
 *
 * nghttp2 does all HTTP/2 framing, HPACK, flow control and SETTINGS; we feed it bytes with
 * mem_recv and pull frames with mem_send into `out`. nghttp2 forbids mem_send from inside its
 * callbacks, so sends made from callbacks only queue and resume the data source; the flush
 * happens when the outermost public call returns. */
#include "kaspa/grpc.h"
#include "kaspa/grpc_frame.h" /* src/kaspa/grpc_frame.h */
#include "lp2p/err.h"

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* nghttp2 1.61 renamed the ssize_t APIs (mem_recv2/mem_send2, nghttp2_ssize, data provider 2);
 * Debian 12 ships 1.52. Use the new names when available. */
#if NGHTTP2_VERSION_NUM >= 0x013d00
#define H2_MEM_RECV nghttp2_session_mem_recv2
#define H2_MEM_SEND nghttp2_session_mem_send2
typedef nghttp2_ssize h2_ssize;
typedef nghttp2_data_provider2 h2_data_provider;
#define H2_SUBMIT_REQUEST  nghttp2_submit_request2
#define H2_SUBMIT_RESPONSE nghttp2_submit_response2
#define H2_SET_READ_LENGTH nghttp2_session_callbacks_set_data_source_read_length_callback2
#else
#define H2_MEM_RECV        nghttp2_session_mem_recv
#define H2_MEM_SEND        nghttp2_session_mem_send
typedef ssize_t h2_ssize;
typedef nghttp2_data_provider h2_data_provider;
#define H2_SUBMIT_REQUEST  nghttp2_submit_request
#define H2_SUBMIT_RESPONSE nghttp2_submit_response
#define H2_SET_READ_LENGTH nghttp2_session_callbacks_set_data_source_read_length_callback
#endif

#define MIB (1u << 20)
/* After our end of the stream, how long we wait for the peer's end before GOAWAY. Closing
 * the connection right after END_STREAM makes some peers (grpc-js, which inflates
 * asynchronously) drop the last messages. */
#define KASPA_GRPC_CLOSE_GRACE_MS 2000

enum { ST_IDLE, ST_OPEN, ST_CLOSING, ST_EOF_SENT, ST_DONE };

struct kaspa_grpc {
    kaspa_grpc_config cfg;
    int is_server;
    kaspa_grpc_callbacks cb;
    void *user;
    nghttp2_session *h2;
    lp2p_buf out;
    lp2p_buf sendq;  /* framed messages not yet given to nghttp2 */
    lp2p_buf packed; /* a message packed for deflate (kaspa_grpc_send_packed with gzip) */
    void *deflate;
    kaspa_grpc_deframer df;
    int32_t stream_id; /* our one stream, 0 = none yet */
    int state;
    int opened;        /* on_open fired */
    int closed_cb;     /* on_close fired */
    int data_deferred; /* data source returned DEFERRED */
    int data_held;     /* kaspa_grpc_hold_data: the transport cannot take more DATA now */
    int send_gzip;     /* we compress outgoing messages */
    int failed;        /* stop delivering messages */
    int depth;         /* nesting of public calls (flush only at depth 0) */
    int close_status;
    int stream_closed;       /* our stream is fully closed (both ends or reset) */
    uint64_t close_deadline; /* after our end: wait this long for the peer's end */
    uint64_t bytes_out;
    char close_msg[256];
    int has_close_msg;
    /* headers of the current block */
    int hdr_status;
    int hdr_grpc_status;
    char hdr_grpc_message[256];
    char hdr_path[64];
    char hdr_method[16];
    char hdr_ctype[64];
    char hdr_enc[32];
    char hdr_accept[128];
    /* time */
    uint64_t now;
    uint64_t open_deadline;
    uint64_t next_ping;
    uint64_t ping_deadline; /* UINT64_MAX when no PING outstanding */
};

void kaspa_grpc_config_default(kaspa_grpc_config *c, kaspa_h2_profile profile)
{
    memset(c, 0, sizeof(*c));
    c->profile = profile;
    c->max_message_size = KASPA_GRPC_MAX_MESSAGE_DEFAULT;
    c->gzip = 1;
    c->gzip_level = 1;
    c->keepalive_ms = profile == KASPA_H2_PROFILE_LIBP2P ? 30000 : 0;
    c->keepalive_timeout_ms = 10000;
    c->open_timeout_ms = 10000; /* tonic Endpoint.timeout(10 s) */
    c->max_send_queue = 256u * MIB;
    c->authority = "kaspa";
    c->user_agent = "kaspa-holepunch-grpc/" LP2P_VERSION;
}

static void fire_close(kaspa_grpc *g, int err, int status, const char *msg)
{
    if (g->closed_cb)
        return;
    g->closed_cb = 1;
    g->failed = 1;
    if (g->cb.on_close)
        g->cb.on_close(g->user, err, status, msg);
}

static void copy_hdr(char *dst, size_t cap, const uint8_t *v, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

static void reset_hdrs(kaspa_grpc *g)
{
    g->hdr_status = -1;
    g->hdr_grpc_status = -1;
    g->hdr_grpc_message[0] = g->hdr_path[0] = g->hdr_method[0] = 0;
    g->hdr_ctype[0] = g->hdr_enc[0] = g->hdr_accept[0] = 0;
}

static int list_has(const char *list, const char *tok)
{
    size_t tl = strlen(tok);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == tl && strncasecmp(p, tok, tl) == 0)
            return 1;
        p = e;
    }
    return 0;
}

static int ctype_ok(const char *ct)
{
    /* "application/grpc" optionally followed by "+proto" or ";params" */
    size_t n = strlen("application/grpc");
    return strncasecmp(ct, "application/grpc", n) == 0 &&
           (ct[n] == 0 || ct[n] == '+' || ct[n] == ';');
}

static int enc_ok(const char *enc)
{
    return enc[0] == 0 || strcasecmp(enc, "identity") == 0 || strcasecmp(enc, "gzip") == 0;
}

#define H2_FRAME_HD 9 /* an HTTP/2 frame header: length 24, type 8, flags 8, stream 32 */

/* ---- data source: our framed messages ------------------------------------------------------ */
static h2_ssize read_cb(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *ud)
{
    kaspa_grpc *g = ud;
    size_t have = lp2p_buf_size(&g->sendq);
    if (have > 0 && g->data_held) {
        /* Pulled, not pushed: the messages wait here, in the one queue, until the transport
         * can take more; then they leave as one frame as large as window and peer allow. */
        g->data_deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (have > 0) {
        /* NO_COPY: nghttp2 does not copy the payload into its frame buffer; send_data_cb
         * writes the frame straight from sendq into out once the frame is due. */
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
        return (h2_ssize)(have < len ? have : len);
    }
    if (g->state != ST_CLOSING) {
        g->data_deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (g->is_server) {
        /* gRPC ends a response with trailers, not with END_STREAM on DATA. */
        char st[12];
        snprintf(st, sizeof st, "%d", g->close_status);
        nghttp2_nv nv[2] = {
            {(uint8_t *)"grpc-status", (uint8_t *)st, 11, strlen(st), NGHTTP2_NV_FLAG_NONE},
            {(uint8_t *)"grpc-message", (uint8_t *)g->close_msg, 12, strlen(g->close_msg),
             NGHTTP2_NV_FLAG_NONE},
        };
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(s, sid, nv, g->has_close_msg ? 2 : 1) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    g->state = ST_EOF_SENT;
    g->close_deadline = g->now + KASPA_GRPC_CLOSE_GRACE_MS;
    return 0;
}

/* A DATA frame read_cb sized: its 9-byte header, then the payload from the head of sendq,
 * in out where mem_send's own frames go, in order (mem_send has handed back the frames
 * before this one). No padding: we never ask nghttp2 for it.
 *
 *   sendq:  [headroom 9][payload: length bytes][rest]     out: empty
 *   after:  out = [frame header][payload]  (same storage)  sendq = [rest] (copied) */
static int send_data_cb(nghttp2_session *s, nghttp2_frame *frame, const uint8_t *framehd,
                        size_t length, nghttp2_data_source *src, void *ud)
{
    kaspa_grpc *g = ud;
    if (frame->data.padlen || length > lp2p_buf_size(&g->sendq))
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    size_t rest = lp2p_buf_size(&g->sendq) - length;
    if (lp2p_buf_size(&g->out) == 0 && rest < length && g->sendq.off >= H2_FRAME_HD) {
        /* Nothing waits before the frame and it is most of the queue (the usual case while
         * the transport keeps up): the header goes into the headroom queue_headroom left (or
         * that the last frame consumed), the queue's storage becomes the output, and only
         * the smaller rest is copied, into the output's old storage, as the new queue. */
        lp2p_buf q = g->out;
        lp2p_buf_clear(&q);
        int rc = rest ? lp2p_buf_reserve(&q, H2_FRAME_HD + rest) : 0;
        if (rc == 0 && rest) { /* the new queue keeps headroom for its own next frame */
            q.off = q.len = H2_FRAME_HD;
            rc = lp2p_buf_append(&q, lp2p_buf_head(&g->sendq) + length, rest);
        }
        if (rc != 0) {
            g->out = q; /* the append may have moved its storage */
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        g->sendq.len -= rest;
        g->sendq.off -= H2_FRAME_HD;
        memcpy(g->sendq.data + g->sendq.off, framehd, H2_FRAME_HD);
        g->out = g->sendq;
        g->sendq = q;
    } else if (lp2p_buf_append(&g->out, framehd, H2_FRAME_HD) != 0 ||
               lp2p_buf_append(&g->out, lp2p_buf_head(&g->sendq), length) != 0) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    } else {
        lp2p_buf_consume(&g->sendq, length);
    }
    if (lp2p_buf_size(&g->sendq) == 0 && g->sendq.cap > 4 * MIB)
        lp2p_buf_free(&g->sendq);
    lp2p_buf_free(&g->packed);
    g->bytes_out += 9 + length;
    return 0;
}

/* Let DATA frames be as large as the peer allows (1 MiB in the libp2p profile), not 16 KiB. */
static h2_ssize read_length_cb(nghttp2_session *s, uint8_t type, int32_t sid, int32_t swin,
                               int32_t cwin, uint32_t max_frame, void *ud)
{
    int32_t w = swin < cwin ? swin : cwin;
    if (w > (int32_t)max_frame)
        w = (int32_t)max_frame;
    return w < 1 ? 1 : w;
}

/* ---- receiving ------------------------------------------------------------------------------ */
static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    kaspa_grpc *g = ud;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (g->is_server && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        if (g->stream_id != 0) {
            /* One long-lived stream per connection: refuse any other. */
            nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id,
                                      NGHTTP2_REFUSED_STREAM);
            return 0; /* its headers and data are ignored: they are not on our stream */
        }
        g->stream_id = f->hd.stream_id;
    }
    reset_hdrs(g);
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    kaspa_grpc *g = ud;
    if (f->hd.stream_id != g->stream_id)
        return 0;
#define IS(lit) (nl == sizeof(lit) - 1 && memcmp(name, lit, nl) == 0)
    if (IS(":path"))
        copy_hdr(g->hdr_path, sizeof g->hdr_path, value, vl);
    else if (IS(":method"))
        copy_hdr(g->hdr_method, sizeof g->hdr_method, value, vl);
    else if (IS(":status")) {
        char tmp[8];
        copy_hdr(tmp, sizeof tmp, value, vl);
        g->hdr_status = atoi(tmp);
    } else if (IS("content-type"))
        copy_hdr(g->hdr_ctype, sizeof g->hdr_ctype, value, vl);
    else if (IS("grpc-encoding"))
        copy_hdr(g->hdr_enc, sizeof g->hdr_enc, value, vl);
    else if (IS("grpc-accept-encoding"))
        copy_hdr(g->hdr_accept, sizeof g->hdr_accept, value, vl);
    else if (IS("grpc-status")) {
        char tmp[8];
        copy_hdr(tmp, sizeof tmp, value, vl);
        g->hdr_grpc_status = atoi(tmp);
    } else if (IS("grpc-message"))
        copy_hdr(g->hdr_grpc_message, sizeof g->hdr_grpc_message, value, vl);
#undef IS
    return 0;
}

static h2_data_provider provider(kaspa_grpc *g)
{
    h2_data_provider p;
    memset(&p, 0, sizeof p);
    p.read_callback = read_cb;
    return p;
}

/* Server: reply to a request that cannot be served with a trailers-only response. */
static void refuse(kaspa_grpc *g, nghttp2_session *s, int32_t sid, int grpc_status, const char *why)
{
    char st[12];
    snprintf(st, sizeof st, "%d", grpc_status);
    nghttp2_nv nv[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-status", (uint8_t *)st, 11, strlen(st), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-message", (uint8_t *)why, 12, strlen(why), NGHTTP2_NV_FLAG_NONE},
    };
    H2_SUBMIT_RESPONSE(s, sid, nv, 4, NULL);
    g->state = ST_EOF_SENT;
    g->close_deadline = g->now + KASPA_GRPC_CLOSE_GRACE_MS;
    fire_close(g, LP2P_ERR_UNSUPPORTED, grpc_status, why);
}

static void server_request(kaspa_grpc *g, nghttp2_session *s, int32_t sid)
{
    if (strcmp(g->hdr_method, "POST") != 0 || strcmp(g->hdr_path, KASPA_GRPC_PATH) != 0) {
        refuse(g, s, sid, 12, "unknown method"); /* UNIMPLEMENTED */
        return;
    }
    if (!ctype_ok(g->hdr_ctype)) {
        refuse(g, s, sid, 3, "bad content-type"); /* INVALID_ARGUMENT */
        return;
    }
    if (!enc_ok(g->hdr_enc)) {
        refuse(g, s, sid, 12, "unsupported grpc-encoding"); /* as tonic */
        return;
    }
    /* tonic server: send_compressed(Gzip) applies only if the client accepts gzip. */
    g->send_gzip = g->cfg.gzip && list_has(g->hdr_accept, "gzip");
    nghttp2_nv nv[4];
    size_t n = 0;
#define NV(k, v)                                                                                   \
    nv[n++] = (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(uintptr_t)(v), strlen(k), strlen(v), 0}
    NV(":status", "200");
    NV("content-type", "application/grpc");
    if (g->send_gzip)
        NV("grpc-encoding", "gzip");
    NV("grpc-accept-encoding", "gzip,identity");
#undef NV
    h2_data_provider p = provider(g);
    if (H2_SUBMIT_RESPONSE(s, sid, nv, n, &p) != 0) {
        fire_close(g, LP2P_ERR_PROTO, -1, "submit response failed");
        return;
    }
    if (g->state == ST_IDLE)
        g->state = ST_OPEN;
    g->opened = 1;
    g->open_deadline = UINT64_MAX;
    if (g->cb.on_open)
        g->cb.on_open(g->user);
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    kaspa_grpc *g = ud;
    switch (f->hd.type) {
    case NGHTTP2_PING:
        if (f->hd.flags & NGHTTP2_FLAG_ACK)
            g->ping_deadline = UINT64_MAX;
        return 0;
    case NGHTTP2_GOAWAY:
        if (g->stream_id == 0 || (int32_t)f->goaway.last_stream_id < g->stream_id ||
            f->goaway.error_code != NGHTTP2_NO_ERROR)
            fire_close(g, f->goaway.error_code ? LP2P_ERR_RESET : LP2P_ERR_CLOSED, -1, "GOAWAY");
        return 0;
    case NGHTTP2_HEADERS:
        break;
    default:
        goto end_stream;
    }
    if (f->hd.stream_id != g->stream_id)
        return 0;
    if (g->is_server && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        server_request(g, s, f->hd.stream_id);
    } else if (!g->is_server && f->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        if (g->hdr_status != 200) {
            fire_close(g, LP2P_ERR_REFUSED, -1, "HTTP status not 200");
            return 0;
        }
        if (g->hdr_grpc_status >= 0) { /* trailers-only response */
            fire_close(g, g->hdr_grpc_status == 0 ? 0 : LP2P_ERR_REFUSED, g->hdr_grpc_status,
                       g->hdr_grpc_message);
            kaspa_grpc_close(g, 0, NULL);
            return 0;
        }
        if (!ctype_ok(g->hdr_ctype) || !enc_ok(g->hdr_enc)) {
            fire_close(g, LP2P_ERR_UNSUPPORTED, -1, "bad response headers");
            return 0;
        }
        g->opened = 1;
        g->open_deadline = UINT64_MAX;
        if (g->cb.on_open)
            g->cb.on_open(g->user);
    } else if (f->headers.cat == NGHTTP2_HCAT_HEADERS) {
        if (!g->is_server) { /* trailers */
            fire_close(g, g->hdr_grpc_status == 0 ? 0 : LP2P_ERR_REFUSED, g->hdr_grpc_status,
                       g->hdr_grpc_message[0] ? g->hdr_grpc_message : NULL);
            kaspa_grpc_close(g, 0, NULL); /* the call is over: end our side too */
            return 0;
        }
    }
end_stream:
    if (f->hd.stream_id == g->stream_id && g->stream_id != 0 &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        (f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS)) {
        fire_close(g, 0, -1, NULL); /* peer half-closed: the conversation is over */
        kaspa_grpc_close(g, 0, NULL);
    }
    return 0;
}

static int on_msg(void *ud, const uint8_t *m, size_t n)
{
    kaspa_grpc *g = ud;
    return g->cb.on_message ? g->cb.on_message(g->user, m, n) : 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                         size_t len, void *ud)
{
    kaspa_grpc *g = ud;
    if (sid != g->stream_id || g->failed)
        return 0;
    int rc = kaspa_grpc_deframe(&g->df, data, len, on_msg, g);
    if (rc) {
        /* A peer whose message we cannot take gets the reason in trailers (the status tonic
         * uses for an over-limit message), then GOAWAY at once: no close grace for it. The
         * status is set before on_close, whose owner may close too (with status 0). */
        char why[128];
        if (rc == LP2P_ERR_TOO_LARGE)
            snprintf(why, sizeof why, "gRPC message larger than the limit of %llu bytes",
                     (unsigned long long)g->cfg.max_message_size);
        else
            snprintf(why, sizeof why, "%s", lp2p_strerror(rc));
        g->failed = 1;
        g->stream_closed = 1;
        kaspa_grpc_close(
            g, rc == LP2P_ERR_TOO_LARGE ? 8 /* RESOURCE_EXHAUSTED */ : 13 /* INTERNAL */, why);
        fire_close(g, rc, -1, why);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
    kaspa_grpc *g = ud;
    if (sid == g->stream_id) {
        fire_close(g, code == NGHTTP2_NO_ERROR ? 0 : LP2P_ERR_RESET, -1,
                   code == NGHTTP2_NO_ERROR ? NULL : "RST_STREAM");
        g->stream_closed = 1;
        if (g->state < ST_EOF_SENT)
            g->state = ST_EOF_SENT;
    }
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */
static int submit_settings(kaspa_grpc *g)
{
    nghttp2_settings_entry iv[4];
    size_t n = 0;
    uint32_t stream_win, conn_win;
    if (g->cfg.profile == KASPA_H2_PROFILE_LIBP2P) {
        stream_win = 8 * MIB;
        conn_win = 16 * MIB;
        iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_FRAME_SIZE, MIB};
        iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 64 * 1024};
    } else if (g->is_server) { /* hyper server defaults */
        stream_win = MIB;
        conn_win = MIB;
        iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16 * 1024};
    } else { /* hyper client defaults */
        stream_win = 2 * MIB;
        conn_win = 5 * MIB;
        iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
    }
    iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, stream_win};
    if (nghttp2_submit_settings(g->h2, NGHTTP2_FLAG_NONE, iv, n) != 0)
        return LP2P_ERR_NOMEM;
    if (nghttp2_session_set_local_window_size(g->h2, NGHTTP2_FLAG_NONE, 0, (int32_t)conn_win))
        return LP2P_ERR_NOMEM;
    return 0;
}

static int client_request(kaspa_grpc *g)
{
    nghttp2_nv nv[10];
    size_t n = 0;
#define NV(k, v)                                                                                   \
    nv[n++] = (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(uintptr_t)(v), strlen(k), strlen(v), 0}
    NV(":method", "POST");
    NV(":scheme", "http");
    NV(":path", KASPA_GRPC_PATH);
    NV(":authority", g->cfg.authority ? g->cfg.authority : "kaspa");
    NV("content-type", "application/grpc");
    NV("te", "trailers");
    if (g->cfg.gzip) {
        NV("grpc-encoding", "gzip");
        NV("grpc-accept-encoding", "gzip,identity");
    }
    NV("user-agent", g->cfg.user_agent ? g->cfg.user_agent : "kaspa-holepunch-grpc");
#undef NV
    h2_data_provider p = provider(g);
    int32_t sid = H2_SUBMIT_REQUEST(g->h2, NULL, nv, n, &p, NULL);
    if (sid < 0)
        return LP2P_ERR_NOMEM;
    g->stream_id = sid;
    g->send_gzip = g->cfg.gzip; /* a Kaspa client gzips every message */
    g->state = ST_OPEN;
    return 0;
}

int kaspa_grpc_new(kaspa_grpc **out, const kaspa_grpc_config *cfg, int is_server,
                   const kaspa_grpc_callbacks *cb, void *user, uint64_t now_ms)
{
    kaspa_grpc *g = calloc(1, sizeof(*g));
    if (!g)
        return LP2P_ERR_NOMEM;
    g->cfg = *cfg;
    if (g->cfg.max_message_size == 0 || g->cfg.max_message_size > UINT32_MAX)
        g->cfg.max_message_size = KASPA_GRPC_MAX_MESSAGE_DEFAULT;
    g->is_server = is_server;
    if (cb)
        g->cb = *cb;
    g->user = user;
    g->now = now_ms;
    g->open_deadline = cfg->open_timeout_ms ? now_ms + cfg->open_timeout_ms : UINT64_MAX;
    g->close_deadline = UINT64_MAX;
    g->next_ping = cfg->keepalive_ms ? now_ms + cfg->keepalive_ms : UINT64_MAX;
    g->ping_deadline = UINT64_MAX;
    lp2p_buf_init(&g->out);
    lp2p_buf_init(&g->sendq);
    lp2p_buf_init(&g->packed);
    kaspa_grpc_deframer_init(&g->df, g->cfg.max_message_size);
    reset_hdrs(g);

    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cbs) != 0) {
        kaspa_grpc_del(g);
        return LP2P_ERR_NOMEM;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_send_data_callback(cbs, send_data_cb);
    H2_SET_READ_LENGTH(cbs, read_length_cb);
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cbs);
        kaspa_grpc_del(g);
        return LP2P_ERR_NOMEM;
    }
    /* Allow one concurrent stream from the peer; nghttp2 enforces it before SETTINGS ACK too. */
    nghttp2_option_set_max_reserved_remote_streams(opt, 0);
    int rc = is_server ? nghttp2_session_server_new2(&g->h2, cbs, g, opt)
                       : nghttp2_session_client_new2(&g->h2, cbs, g, opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    if (rc != 0) {
        g->h2 = NULL;
        kaspa_grpc_del(g);
        return LP2P_ERR_NOMEM;
    }
    if ((rc = submit_settings(g)) != 0 || (!is_server && (rc = client_request(g)) != 0)) {
        kaspa_grpc_del(g);
        return rc;
    }
    if ((rc = kaspa_grpc_flush(g)) != 0) {
        kaspa_grpc_del(g);
        return rc;
    }
    *out = g;
    return 0;
}

void kaspa_grpc_del(kaspa_grpc *g)
{
    if (!g)
        return;
    if (g->h2)
        nghttp2_session_del(g->h2);
    lp2p_buf_free(&g->out);
    lp2p_buf_free(&g->sendq);
    lp2p_buf_free(&g->packed);
    kaspa_grpc_deflate_free(&g->deflate);
    kaspa_grpc_deframer_free(&g->df);
    free(g);
}

int kaspa_grpc_flush(kaspa_grpc *g)
{
    if (g->depth > 0 || g->state == ST_DONE)
        return 0;
    for (;;) {
        const uint8_t *data;
        h2_ssize n = H2_MEM_SEND(g->h2, &data);
        if (n < 0) {
            fire_close(g, LP2P_ERR_PROTO, -1, nghttp2_strerror((int)n));
            g->state = ST_DONE;
            return LP2P_ERR_PROTO;
        }
        if (n == 0)
            break;
        int rc = lp2p_buf_append(&g->out, data, (size_t)n);
        if (rc)
            return rc;
        g->bytes_out += (uint64_t)n;
    }
    if (g->state == ST_EOF_SENT && (g->stream_closed || g->now >= g->close_deadline)) {
        /* Both ends of the stream are done (or the peer took too long): say goodbye at the
         * connection level. */
        nghttp2_session_terminate_session(g->h2, NGHTTP2_NO_ERROR);
        const uint8_t *data;
        h2_ssize n;
        while ((n = H2_MEM_SEND(g->h2, &data)) > 0) {
            if (lp2p_buf_append(&g->out, data, (size_t)n) != 0)
                break;
            g->bytes_out += (uint64_t)n;
        }
        g->state = ST_DONE;
    }
    return 0;
}

int kaspa_grpc_recv(kaspa_grpc *g, const uint8_t *in, size_t len, uint64_t now_ms)
{
    g->now = now_ms;
    if (g->state == ST_DONE)
        return 0; /* late bytes after we finished: ignore */
    g->depth++;
    h2_ssize n = H2_MEM_RECV(g->h2, in, len);
    g->depth--;
    if (n < 0) {
        fire_close(g, LP2P_ERR_PROTO, -1, nghttp2_strerror((int)n));
        kaspa_grpc_flush(g); /* nghttp2 may have queued a GOAWAY explaining why */
        g->state = ST_DONE;
        return LP2P_ERR_PROTO;
    }
    if (g->cfg.keepalive_ms && g->ping_deadline == UINT64_MAX)
        g->next_ping = now_ms + g->cfg.keepalive_ms; /* traffic proves liveness */
    return kaspa_grpc_flush(g);
}

static int may_queue(const kaspa_grpc *g, size_t len)
{
    if (g->state >= ST_CLOSING || g->closed_cb)
        return LP2P_ERR_STATE;
    if (len > g->cfg.max_message_size)
        return LP2P_ERR_TOO_LARGE;
    if (lp2p_buf_size(&g->sendq) + len + 5 > g->cfg.max_send_queue)
        return LP2P_ERR_LIMIT;
    return 0;
}

/* Before a message of len bytes is framed into an empty sendq: leave room for the DATA frame
 * header in front of it, so that send_data_cb can hand the queue on as the output without a
 * copy. The message's room is reserved with it (growing later would move the bytes to the
 * front); a gzipped message that outgrows the guess just loses the headroom, not a byte. */
static int queue_headroom(kaspa_grpc *g, size_t len)
{
    if (lp2p_buf_size(&g->sendq) != 0)
        return 0;
    lp2p_buf_clear(&g->sendq);
    int rc = lp2p_buf_reserve(&g->sendq, H2_FRAME_HD + 5 + len + len / 64 + 64);
    if (rc == 0)
        g->sendq.off = g->sendq.len = H2_FRAME_HD;
    return rc;
}

/* A message was framed into sendq: wake the deferred data source and pull the frames. */
static int queued(kaspa_grpc *g)
{
    if (g->data_deferred && g->stream_id && !g->data_held) {
        g->data_deferred = 0;
        nghttp2_session_resume_data(g->h2, g->stream_id);
    }
    return kaspa_grpc_flush(g);
}

int kaspa_grpc_send(kaspa_grpc *g, const uint8_t *msg, size_t len)
{
    int rc = may_queue(g, len);
    if (rc == 0)
        rc = queue_headroom(g, len);
    if (rc == 0)
        rc = kaspa_grpc_frame_append(&g->sendq, msg, len, g->send_gzip ? g->cfg.gzip_level : -1,
                                     &g->deflate);
    return rc ? rc : queued(g);
}

int kaspa_grpc_send_packed(kaspa_grpc *g, size_t len, kaspa_grpc_pack_fn pack, void *ctx)
{
    int rc = may_queue(g, len);
    if (rc == 0)
        rc = queue_headroom(g, len);
    if (rc)
        return rc;
    if (g->send_gzip) {
        /* deflate needs the whole message first: pack it aside, compress it into sendq. */
        lp2p_buf_clear(&g->packed);
        if ((rc = lp2p_buf_reserve(&g->packed, len)) == 0 &&
            (rc = pack(ctx, g->packed.data, len)) == 0)
            rc = kaspa_grpc_frame_append(&g->sendq, g->packed.data, len, g->cfg.gzip_level,
                                         &g->deflate);
        if (g->packed.cap > MIB)
            lp2p_buf_free(&g->packed);
        return rc ? rc : queued(g);
    }
    rc = kaspa_grpc_frame_append_packed(&g->sendq, len, pack, ctx);
    return rc ? rc : queued(g);
}

int kaspa_grpc_close(kaspa_grpc *g, int grpc_status, const char *grpc_message)
{
    if (g->state >= ST_CLOSING)
        return 0;
    g->close_status = grpc_status;
    g->has_close_msg = grpc_message != NULL;
    snprintf(g->close_msg, sizeof g->close_msg, "%s", grpc_message ? grpc_message : "");
    if (g->stream_id == 0 || (g->is_server && !g->opened)) {
        g->state = ST_EOF_SENT; /* no stream to end: just GOAWAY */
        g->stream_closed = 1;
    } else {
        g->state = ST_CLOSING;
        if (g->data_deferred) {
            g->data_deferred = 0;
            nghttp2_session_resume_data(g->h2, g->stream_id);
        }
    }
    return kaspa_grpc_flush(g);
}

void kaspa_grpc_abort(kaspa_grpc *g)
{
    if (g->state == ST_DONE)
        return;
    g->failed = 1;
    g->stream_closed = 1;
    lp2p_buf_free(&g->sendq); /* what the peer would never have read */
    if (g->stream_id)
        nghttp2_submit_rst_stream(g->h2, NGHTTP2_FLAG_NONE, g->stream_id,
                                  NGHTTP2_ENHANCE_YOUR_CALM);
    nghttp2_session_terminate_session(g->h2, NGHTTP2_ENHANCE_YOUR_CALM);
    g->state = ST_EOF_SENT; /* flush sends the GOAWAY and ends at ST_DONE */
    kaspa_grpc_flush(g);
    g->state = ST_DONE;
}

lp2p_buf *kaspa_grpc_out(kaspa_grpc *g)
{
    return &g->out;
}

uint64_t kaspa_grpc_next_deadline(const kaspa_grpc *g)
{
    if (g->state == ST_DONE)
        return UINT64_MAX;
    uint64_t d = g->open_deadline;
    if (g->state == ST_EOF_SENT && g->close_deadline < d)
        d = g->close_deadline;
    if (!g->closed_cb) {
        if (g->next_ping < d)
            d = g->next_ping;
        if (g->ping_deadline < d)
            d = g->ping_deadline;
    }
    return d;
}

int kaspa_grpc_tick(kaspa_grpc *g, uint64_t now_ms)
{
    g->now = now_ms;
    if (g->state == ST_DONE)
        return 0;
    if (now_ms >= g->open_deadline && !g->opened) {
        g->open_deadline = UINT64_MAX;
        g->stream_closed = 1; /* an unresponsive peer: do not wait for its end */
        fire_close(g, LP2P_ERR_TIMEOUT, -1, "stream not opened in time");
        kaspa_grpc_close(g, 4 /* DEADLINE_EXCEEDED */, "timeout");
        kaspa_grpc_flush(g);
        return LP2P_ERR_TIMEOUT;
    }
    if (g->closed_cb)
        return kaspa_grpc_flush(g);
    if (now_ms >= g->ping_deadline) {
        g->ping_deadline = UINT64_MAX;
        g->stream_closed = 1; /* the peer is gone: do not wait for it */
        fire_close(g, LP2P_ERR_TIMEOUT, -1, "HTTP/2 PING timeout");
        if (g->state < ST_EOF_SENT)
            g->state = ST_EOF_SENT;
        kaspa_grpc_flush(g);
        return LP2P_ERR_TIMEOUT;
    }
    if (now_ms >= g->next_ping) {
        nghttp2_submit_ping(g->h2, NGHTTP2_FLAG_NONE, NULL);
        g->ping_deadline = now_ms + g->cfg.keepalive_timeout_ms;
        g->next_ping = now_ms + g->cfg.keepalive_ms;
    }
    return kaspa_grpc_flush(g);
}

int kaspa_grpc_is_done(const kaspa_grpc *g)
{
    return g->state == ST_DONE;
}

void kaspa_grpc_transport_closed(kaspa_grpc *g)
{
    fire_close(g, LP2P_ERR_CLOSED, -1, "transport closed");
    g->state = ST_DONE;
}

size_t kaspa_grpc_send_queue(const kaspa_grpc *g)
{
    return lp2p_buf_size(&g->sendq);
}

int kaspa_grpc_hold_data(kaspa_grpc *g, int hold)
{
    hold = hold != 0;
    if (g->data_held == hold)
        return 0;
    g->data_held = hold;
    if (hold || !g->data_deferred || !g->stream_id)
        return 0;
    g->data_deferred = 0;
    nghttp2_session_resume_data(g->h2, g->stream_id);
    return kaspa_grpc_flush(g);
}

size_t kaspa_grpc_unsent(const kaspa_grpc *g)
{
    return lp2p_buf_size(&g->sendq) + lp2p_buf_size(&g->out);
}

int kaspa_grpc_sending_gzip(const kaspa_grpc *g)
{
    return g->send_gzip;
}

uint64_t kaspa_grpc_bytes_out(const kaspa_grpc *g)
{
    return g->bytes_out;
}

size_t kaspa_grpc_recv_held(const kaspa_grpc *g)
{
    return kaspa_grpc_deframer_held(&g->df);
}

uint64_t kaspa_grpc_msgs_in(const kaspa_grpc *g, uint64_t *gzipped)
{
    if (gzipped)
        *gzipped = g->df.gzipped;
    return g->df.msgs;
}
