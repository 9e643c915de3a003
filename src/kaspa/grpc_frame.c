/* gRPC length-prefixed message framing with gzip (grpc/doc/PROTOCOL-HTTP2.md
 * "Length-Prefixed-Message").
 *
 *   +--------+--------------------------+------------------------+
 *   | flag u8| length u32 (big endian)  | message (length bytes) |
 *   +--------+--------------------------+------------------------+
 *
 * Sizes are checked against the limit before anything is buffered; the payload buffer grows
 * only as bytes actually arrive, so a forged 1 GiB length costs nothing up front. Inflation
 * stops one byte past the limit, and the buffers of a large message are released once it has
 * been delivered: a gzip bomb costs at most the limit, and only while it is being refused. */
#include "kaspa/grpc_frame.h" /* src/kaspa/grpc_frame.h */
#include "lp2p/err.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define HDR 5

void kaspa_grpc_deframer_init(kaspa_grpc_deframer *d, uint64_t max)
{
    memset(d, 0, sizeof(*d));
    d->max = max;
    lp2p_buf_init(&d->acc);
    lp2p_buf_init(&d->inflated);
}

void kaspa_grpc_deframer_free(kaspa_grpc_deframer *d)
{
    if (d->zs) {
        inflateEnd((z_stream *)d->zs);
        free(d->zs);
    }
    lp2p_buf_free(&d->acc);
    lp2p_buf_free(&d->inflated);
    memset(d, 0, sizeof(*d));
}

size_t kaspa_grpc_deframer_held(const kaspa_grpc_deframer *d)
{
    return d->acc.cap + d->inflated.cap;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* gzip member -> d->inflated, never more than d->max bytes. */
static int gunzip(kaspa_grpc_deframer *d, const uint8_t *in, size_t len)
{
    z_stream *zs = d->zs;
    if (!zs) {
        zs = calloc(1, sizeof(*zs));
        if (!zs)
            return LP2P_ERR_NOMEM;
        if (inflateInit2(zs, 16 + MAX_WBITS) != Z_OK) {
            free(zs);
            return LP2P_ERR_NOMEM;
        }
        d->zs = zs;
    } else if (inflateReset(zs) != Z_OK) {
        return LP2P_ERR_DECODE;
    }
    lp2p_buf_clear(&d->inflated);
    zs->next_in = (Bytef *)in;
    zs->avail_in = 0;
    size_t left = len;
    for (;;) {
        if (zs->avail_in == 0 && left > 0) {
            uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
            zs->avail_in = chunk;
            left -= chunk;
        }
        size_t have = lp2p_buf_size(&d->inflated);
        if (have >= d->max + 1)
            return LP2P_ERR_TOO_LARGE;
        size_t room = len * 2 + 256;
        if (room > 4u << 20)
            room = 4u << 20;
        if (room > d->max + 1 - have)
            room = d->max + 1 - have; /* one extra byte detects "over the limit" */
        int rc = lp2p_buf_reserve(&d->inflated, room);
        if (rc)
            return rc;
        zs->next_out = d->inflated.data + d->inflated.len;
        zs->avail_out = (uInt)room;
        int zr = inflate(zs, Z_NO_FLUSH);
        d->inflated.len += room - zs->avail_out;
        if (lp2p_buf_size(&d->inflated) > d->max)
            return LP2P_ERR_TOO_LARGE;
        if (zr == Z_STREAM_END)
            return (zs->avail_in == 0 && left == 0) ? 0 : LP2P_ERR_DECODE; /* trailing bytes */
        if (zr == Z_BUF_ERROR && zs->avail_in == 0 && left == 0)
            return LP2P_ERR_DECODE; /* truncated member */
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return LP2P_ERR_DECODE;
    }
}

/* Empties b, and frees it when it grew past what we keep between messages. */
static void release(lp2p_buf *b)
{
    lp2p_buf_clear(b);
    if (b->cap > KASPA_GRPC_KEEP_BYTES)
        lp2p_buf_free(b);
}

static int deliver(kaspa_grpc_deframer *d, uint8_t flag, const uint8_t *p, size_t n,
                   kaspa_grpc_msg_cb cb, void *user)
{
    d->msgs++;
    if (flag == 0)
        return cb(user, p, n);
    d->gzipped++;
    int rc = gunzip(d, p, n);
    if (rc == 0)
        rc = cb(user, lp2p_buf_head(&d->inflated), lp2p_buf_size(&d->inflated));
    release(&d->inflated);
    return rc;
}

static int check_header(const kaspa_grpc_deframer *d, const uint8_t *h)
{
    if (h[0] > 1)
        return LP2P_ERR_DECODE;
    if (be32(h + 1) > d->max)
        return LP2P_ERR_TOO_LARGE;
    return 0;
}

static int deframe(kaspa_grpc_deframer *d, const uint8_t *in, size_t len, kaspa_grpc_msg_cb cb,
                   void *user)
{
    int rc;
    while (len > 0) {
        size_t have = lp2p_buf_size(&d->acc);
        if (have == 0 && len >= HDR) {
            /* Fast path: whole frames straight from the input, no copy. */
            if ((rc = check_header(d, in)))
                return rc;
            size_t n = be32(in + 1);
            if (len - HDR >= n) {
                if ((rc = deliver(d, in[0], in + HDR, n, cb, user)))
                    return rc;
                in += HDR + n;
                len -= HDR + n;
                continue;
            }
        }
        if (have < HDR) {
            size_t take = HDR - have < len ? HDR - have : len;
            if ((rc = lp2p_buf_append(&d->acc, in, take)))
                return rc;
            in += take;
            len -= take;
            if (lp2p_buf_size(&d->acc) < HDR)
                return 0;
            if ((rc = check_header(d, lp2p_buf_head(&d->acc))))
                return rc;
            have = HDR;
        }
        const uint8_t *h = lp2p_buf_head(&d->acc);
        size_t need = HDR + be32(h + 1) - have;
        size_t take = need < len ? need : len;
        if ((rc = lp2p_buf_append(&d->acc, in, take)))
            return rc;
        in += take;
        len -= take;
        if (take == need) {
            h = lp2p_buf_head(&d->acc);
            rc = deliver(d, h[0], h + HDR, be32(h + 1), cb, user);
            release(&d->acc); /* do not pin a big message's buffer */
            if (rc)
                return rc;
        }
    }
    return 0;
}

int kaspa_grpc_deframe(kaspa_grpc_deframer *d, const uint8_t *in, size_t len, kaspa_grpc_msg_cb cb,
                       void *user)
{
    int rc = deframe(d, in, len, cb, user);
    if (rc) { /* unusable now: keep nothing for the rest of the connection */
        release(&d->acc);
        release(&d->inflated);
    }
    return rc;
}

void kaspa_grpc_deflate_free(void **zs)
{
    if (zs && *zs) {
        deflateEnd((z_stream *)*zs);
        free(*zs);
        *zs = NULL;
    }
}

int kaspa_grpc_frame_append_packed(lp2p_buf *out, size_t len, kaspa_grpc_pack_fn pack, void *ctx)
{
    if (len > UINT32_MAX)
        return LP2P_ERR_TOO_LARGE;
    int rc = lp2p_buf_reserve(out, HDR + len);
    if (rc)
        return rc;
    uint8_t *at = out->data + out->len;
    at[0] = 0;
    at[1] = (uint8_t)(len >> 24);
    at[2] = (uint8_t)(len >> 16);
    at[3] = (uint8_t)(len >> 8);
    at[4] = (uint8_t)len;
    if ((rc = pack(ctx, at + HDR, len)) != 0)
        return rc;
    out->len += HDR + len;
    return 0;
}

static int pack_copy(void *msg, uint8_t *dst, size_t len)
{
    if (len) /* an empty message may come as NULL */
        memcpy(dst, msg, len);
    return 0;
}

int kaspa_grpc_frame_append(lp2p_buf *out, const uint8_t *msg, size_t len, int gzip_level,
                            void **zsp)
{
    if (len > UINT32_MAX)
        return LP2P_ERR_TOO_LARGE;
    if (gzip_level < 0)
        return kaspa_grpc_frame_append_packed(out, len, pack_copy, (void *)(uintptr_t)msg);
    z_stream local, *zs = zsp ? *zsp : NULL;
    int owned = 0;
    if (!zs) {
        zs = zsp ? calloc(1, sizeof(*zs)) : &local;
        if (!zs)
            return LP2P_ERR_NOMEM;
        memset(zs, 0, sizeof(*zs));
        if (deflateInit2(zs, gzip_level > 9 ? 9 : gzip_level, Z_DEFLATED, 16 + MAX_WBITS, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            if (zsp)
                free(zs);
            return LP2P_ERR_NOMEM;
        }
        if (zsp)
            *zsp = zs;
        else
            owned = 1;
    } else if (deflateReset(zs) != Z_OK) {
        return LP2P_ERR_FATAL;
    }
    uLong bound = deflateBound(zs, (uLong)len) + 32; /* + gzip header/trailer slack */
    int rc = lp2p_buf_reserve(out, HDR + bound);
    if (rc)
        goto done;
    size_t start = out->len;
    zs->next_in = (Bytef *)msg;
    zs->avail_in = (uInt)len;
    zs->next_out = out->data + start + HDR;
    zs->avail_out = (uInt)bound;
    if (deflate(zs, Z_FINISH) != Z_STREAM_END) {
        rc = LP2P_ERR_FATAL;
        goto done;
    }
    size_t clen = bound - zs->avail_out;
    if (clen > UINT32_MAX) {
        rc = LP2P_ERR_TOO_LARGE;
        goto done;
    }
    uint8_t *h = out->data + start;
    h[0] = 1;
    h[1] = (uint8_t)(clen >> 24);
    h[2] = (uint8_t)(clen >> 16);
    h[3] = (uint8_t)(clen >> 8);
    h[4] = (uint8_t)clen;
    out->len = start + HDR + clen;
done:
    if (owned)
        deflateEnd(zs);
    return rc;
}
