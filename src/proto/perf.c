/* Perf: see perf.h. */
#include "proto/perf.h"

#include <string.h>

#include "lp2p/err.h"

/* Upload/download payload; content is irrelevant to the protocol. Never written, and not
 * const so it lives in .bss (zero pages) rather than as 256 KiB of .rodata in the binary. */
static uint8_t zeros[LP2P_PERF_CHUNK_MAX];

static size_t clamp_chunk(size_t chunk)
{
    return chunk == 0 || chunk > LP2P_PERF_CHUNK_MAX ? LP2P_PERF_CHUNK_MAX : chunk;
}

static lp2p_view zero_chunk(uint64_t left, size_t chunk)
{
    return lp2p_view_make(zeros, left < chunk ? (size_t)left : chunk);
}

/* ---- client ------------------------------------------------------------------------------ */

void lp2p_perf_client_init(lp2p_perf_client *c, uint64_t upload_bytes, uint64_t download_bytes,
                           size_t chunk, uint64_t now_ms)
{
    memset(c, 0, sizeof(*c));
    c->upload_bytes = upload_bytes;
    c->download_bytes = download_bytes;
    for (int i = 0; i < 8; i++)
        c->header[i] = (uint8_t)(download_bytes >> (56 - 8 * i));
    c->chunk = clamp_chunk(chunk);
    c->start_ms = now_ms;
}

lp2p_perf_action lp2p_perf_client_next(const lp2p_perf_client *c, lp2p_view *chunk)
{
    if (c->header_sent < sizeof(c->header)) {
        *chunk = lp2p_view_make(c->header + c->header_sent, sizeof(c->header) - c->header_sent);
        return LP2P_PERF_WRITE;
    }
    if (c->uploaded < c->upload_bytes) {
        *chunk = zero_chunk(c->upload_bytes - c->uploaded, c->chunk);
        return LP2P_PERF_WRITE;
    }
    if (!c->write_closed)
        return LP2P_PERF_CLOSE_WRITE;
    return c->eof ? LP2P_PERF_DONE : LP2P_PERF_READ;
}

int lp2p_perf_client_sent(lp2p_perf_client *c, size_t n, uint64_t now_ms)
{
    lp2p_view v;
    if (lp2p_perf_client_next(c, &v) != LP2P_PERF_WRITE || n > v.len)
        return LP2P_ERR_STATE;
    if (c->header_sent < sizeof(c->header))
        c->header_sent += n;
    else
        c->uploaded += n;
    return 0;
}

int lp2p_perf_client_write_closed(lp2p_perf_client *c, uint64_t now_ms)
{
    if (lp2p_perf_client_next(c, &(lp2p_view){0}) != LP2P_PERF_CLOSE_WRITE)
        return LP2P_ERR_STATE;
    c->write_closed = 1;
    c->upload_done_ms = now_ms;
    return 0;
}

int lp2p_perf_client_recv(lp2p_perf_client *c, const uint8_t *in, size_t len, uint64_t now_ms)
{
    if (len == 0)
        return 0;
    if (!c->write_closed || c->eof) {
        lp2p_emit(&c->trace, LP2P_WARN, "perf_rejected",
                  LF_S("reason", "server sent during upload"));
        return LP2P_ERR_DECODE;
    }
    if (len > c->download_bytes - c->downloaded) {
        lp2p_emit(&c->trace, LP2P_WARN, "perf_rejected",
                  LF_S("reason", "server sent more than requested"));
        return LP2P_ERR_DECODE;
    }
    c->downloaded += len;
    return 0;
}

int lp2p_perf_client_eof(lp2p_perf_client *c, uint64_t now_ms)
{
    c->eof = 1;
    c->end_ms = now_ms;
    if (!c->write_closed || c->downloaded != c->download_bytes) {
        lp2p_emit(&c->trace, LP2P_WARN, "perf_rejected", LF_S("reason", "server closed early"),
                  LF_U("downloaded", c->downloaded), LF_U("requested", c->download_bytes));
        return LP2P_ERR_DECODE;
    }
    return 0;
}

/* ---- server ------------------------------------------------------------------------------ */

void lp2p_perf_server_init(lp2p_perf_server *s, uint64_t max_send, size_t chunk, uint64_t now_ms)
{
    memset(s, 0, sizeof(*s));
    s->max_send = max_send;
    s->chunk = clamp_chunk(chunk);
    s->start_ms = now_ms;
}

int lp2p_perf_server_recv(lp2p_perf_server *s, const uint8_t *in, size_t len, uint64_t now_ms)
{
    if (s->eof)
        return len ? LP2P_ERR_STATE : 0;
    if (s->header_have < sizeof(s->header)) {
        size_t take = sizeof(s->header) - s->header_have;
        if (take > len)
            take = len;
        memcpy(s->header + s->header_have, in, take);
        s->header_have += take;
        in += take;
        len -= take;
        if (s->header_have == sizeof(s->header)) {
            uint64_t v = 0;
            for (int i = 0; i < 8; i++)
                v = (v << 8) | s->header[i];
            if (s->max_send && v > s->max_send) {
                lp2p_emit(&s->trace, LP2P_WARN, "perf_rejected",
                          LF_S("reason", "request above max_send"), LF_U("requested", v));
                return LP2P_ERR_LIMIT;
            }
            s->to_send = v;
        }
    }
    s->received += len;
    return 0;
}

int lp2p_perf_server_eof(lp2p_perf_server *s, uint64_t now_ms)
{
    if (s->header_have < sizeof(s->header)) {
        lp2p_emit(&s->trace, LP2P_WARN, "perf_rejected",
                  LF_S("reason", "stream ended inside the header"));
        return LP2P_ERR_DECODE;
    }
    s->eof = 1;
    s->eof_ms = now_ms;
    return 0;
}

lp2p_perf_action lp2p_perf_server_next(const lp2p_perf_server *s, lp2p_view *chunk)
{
    if (!s->eof)
        return LP2P_PERF_READ; /* "not concurrently": answer only after the upload ended */
    if (s->sent < s->to_send) {
        *chunk = zero_chunk(s->to_send - s->sent, s->chunk);
        return LP2P_PERF_WRITE;
    }
    return s->write_closed ? LP2P_PERF_DONE : LP2P_PERF_CLOSE_WRITE;
}

int lp2p_perf_server_sent(lp2p_perf_server *s, size_t n, uint64_t now_ms)
{
    lp2p_view v;
    if (lp2p_perf_server_next(s, &v) != LP2P_PERF_WRITE || n > v.len)
        return LP2P_ERR_STATE;
    s->sent += n;
    return 0;
}

int lp2p_perf_server_write_closed(lp2p_perf_server *s, uint64_t now_ms)
{
    if (lp2p_perf_server_next(s, &(lp2p_view){0}) != LP2P_PERF_CLOSE_WRITE)
        return LP2P_ERR_STATE;
    s->write_closed = 1;
    s->end_ms = now_ms;
    return 0;
}
