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
 * been delivered: a gzip bomb costs at most the limit, and only while it is being refused.
 *
 * gzip is libdeflate's one-shot codec: a gRPC message is one whole buffer, compressed as one
 * gzip member, so no streaming state is needed, and the (de)compressors are the thread's,
 * shared by every stream. */
#include "kaspa/grpc_frame.h" /* src/kaspa/grpc_frame.h */
#include "lp2p/err.h"
#include "util/thread_exit.h"

#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>

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

/* ---- the thread's libdeflate objects ------------------------------------------------------
 * One decompressor and one compressor per level (0..9, as zlib's levels), made on first use
 * and freed when the thread exits (the main thread's live until the process ends). */
#define LEVELS 10
static _Thread_local struct libdeflate_decompressor *t_dz;
static _Thread_local struct libdeflate_compressor *t_cz[LEVELS];

static void free_thread_codecs(void)
{
    libdeflate_free_decompressor(t_dz);
    t_dz = NULL;
    for (int i = 0; i < LEVELS; i++) {
        libdeflate_free_compressor(t_cz[i]);
        t_cz[i] = NULL;
    }
}

static struct libdeflate_decompressor *decompressor(void)
{
    if (!t_dz && (t_dz = libdeflate_alloc_decompressor()))
        (void)lp2p_thread_at_exit(free_thread_codecs);
    return t_dz;
}

static struct libdeflate_compressor *compressor(int level)
{
    if (level > LEVELS - 1)
        level = LEVELS - 1;
    if (!t_cz[level] && (t_cz[level] = libdeflate_alloc_compressor(level)))
        (void)lp2p_thread_at_exit(free_thread_codecs);
    return t_cz[level];
}

/* A deflate stream cannot expand more than 1032:1 (a 258-byte match in two 1-bit codes). */
#define MAX_RATIO 1032u

/* One try into d->inflated with room for cap bytes. */
static enum libdeflate_result inflate_into(kaspa_grpc_deframer *d,
                                           struct libdeflate_decompressor *z, const uint8_t *in,
                                           size_t len, size_t cap, int *rc)
{
    lp2p_buf_clear(&d->inflated);
    if ((*rc = lp2p_buf_reserve(&d->inflated, cap ? cap : 1)))
        return LIBDEFLATE_BAD_DATA;
    size_t used = 0, out = 0;
    enum libdeflate_result r =
        libdeflate_gzip_decompress_ex(z, in, len, d->inflated.data, cap, &used, &out);
    if (r == LIBDEFLATE_SUCCESS && used != len)
        r = LIBDEFLATE_BAD_DATA; /* bytes after the member: not one gzip member */
    if (r == LIBDEFLATE_SUCCESS)
        d->inflated.len = out;
    return r;
}

/* gzip member -> d->inflated, never more than d->max bytes (nor room for more than
 * d->max + 1). The member's trailer states its size (ISIZE, mod 2^32); when that is within
 * the limit and possible for the input's length, the output buffer is exactly that big and
 * one pass decodes it. Otherwise (a bomb says so, a corrupt trailer lies), decoding runs
 * into a buffer of min(limit + 1, 1032 x input) and stops when it is full: more output than
 * the limit is TOO_LARGE, anything else wrong is DECODE. */
static int gunzip(kaspa_grpc_deframer *d, const uint8_t *in, size_t len)
{
    struct libdeflate_decompressor *z = decompressor();
    if (!z)
        return LP2P_ERR_NOMEM;
    if (len < 18) /* 10-byte header + 8-byte trailer */
        return LP2P_ERR_DECODE;
    uint64_t isize = (uint64_t)in[len - 4] | (uint64_t)in[len - 3] << 8 |
                     (uint64_t)in[len - 2] << 16 | (uint64_t)in[len - 1] << 24;
    uint64_t most = (uint64_t)len * MAX_RATIO + 1024;
    int rc = 0;
    if (isize <= d->max && isize <= most) {
        if (inflate_into(d, z, in, len, (size_t)isize, &rc) == LIBDEFLATE_SUCCESS)
            return 0;
        if (rc)
            return rc;
    }
    uint64_t cap = d->max + 1 < most ? d->max + 1 : most;
    enum libdeflate_result r = inflate_into(d, z, in, len, (size_t)cap, &rc);
    if (rc)
        return rc;
    if (r == LIBDEFLATE_SUCCESS)
        return lp2p_buf_size(&d->inflated) > d->max ? LP2P_ERR_TOO_LARGE : 0;
    if (r == LIBDEFLATE_INSUFFICIENT_SPACE && cap == d->max + 1)
        return LP2P_ERR_TOO_LARGE; /* it decodes past the limit */
    return LP2P_ERR_DECODE;
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
    if (zs)
        *zs = NULL; /* the compressor is the thread's (see above): nothing per stream */
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
    (void)zsp;
    struct libdeflate_compressor *z = compressor(gzip_level);
    if (!z)
        return LP2P_ERR_NOMEM;
    size_t bound = libdeflate_gzip_compress_bound(z, len);
    int rc = lp2p_buf_reserve(out, HDR + bound);
    if (rc)
        return rc;
    size_t start = out->len;
    size_t clen = libdeflate_gzip_compress(z, msg, len, out->data + start + HDR, bound);
    if (clen == 0)
        return LP2P_ERR_FATAL; /* cannot happen with the bound's room */
    if (clen > UINT32_MAX)
        return LP2P_ERR_TOO_LARGE;
    uint8_t *h = out->data + start;
    h[0] = 1;
    h[1] = (uint8_t)(clen >> 24);
    h[2] = (uint8_t)(clen >> 16);
    h[3] = (uint8_t)(clen >> 8);
    h[4] = (uint8_t)clen;
    out->len = start + HDR + clen;
    return 0;
}
