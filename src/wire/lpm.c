/* Length-prefixed message reader and writer. See lpm.h for the framing. */
#include "wire/lpm.h"

#include <string.h>

#include "lp2p/err.h"
#include "util/uvarint.h"

void lp2p_lpm_init(lp2p_lpm *r, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->max = max;
    lp2p_buf_init(&r->acc);
}

void lp2p_lpm_free(lp2p_lpm *r)
{
    lp2p_buf_free(&r->acc);
    memset(r, 0, sizeof(*r));
}

int lp2p_lpm_pending(const lp2p_lpm *r)
{
    return !r->delivered && (r->plen > 0 || lp2p_buf_size(&r->acc) > 0);
}

static void reset(lp2p_lpm *r)
{
    r->plen = 0;
    r->have_len = 0;
    r->delivered = 0;
    r->body = 0;
    lp2p_buf_clear(&r->acc);
}

int lp2p_lpm_read(lp2p_lpm *r, const uint8_t *in, size_t len, size_t *consumed, lp2p_view *msg)
{
    size_t i = 0;
    *consumed = 0;
    msg->ptr = NULL;
    msg->len = 0;
    if (r->err)
        return r->err;
    if (r->delivered)
        reset(r); /* the previous message (held in acc) is no longer needed */

    /* Prefix: byte by byte, so that a prefix split across reads costs nothing extra and the
     * length is checked against max before a single body byte is kept. */
    while (!r->have_len) {
        if (i == len) {
            *consumed = i;
            return 0;
        }
        uint8_t b = in[i++];
        r->prefix[r->plen++] = b;
        if (b & 0x80) {
            if (r->plen >= LP2P_UVARINT_MAX) {
                *consumed = i;
                return r->err = LP2P_ERR_DECODE;
            }
            continue;
        }
        const uint8_t *p = r->prefix;
        uint64_t v;
        if (lp2p_uvarint_decode(&p, r->prefix + r->plen, &v) != 0) {
            *consumed = i;
            return r->err = LP2P_ERR_DECODE; /* not minimal */
        }
        if (v > r->max) {
            *consumed = i;
            return r->err = LP2P_ERR_TOO_LARGE;
        }
        r->body = (size_t)v;
        r->have_len = 1;
    }

    size_t have = lp2p_buf_size(&r->acc);
    size_t need = r->body - have;
    size_t avail = len - i;
    if (have == 0 && avail >= need) {
        /* Whole body in this input: hand it out without copying. */
        msg->ptr = in + i;
        msg->len = r->body;
        *consumed = i + need;
        reset(r);
        return 1;
    }
    size_t take = avail < need ? avail : need;
    if (take) {
        int rc = lp2p_buf_append(&r->acc, in + i, take);
        if (rc) {
            *consumed = i;
            return r->err = rc;
        }
    }
    *consumed = i + take;
    if (take < need)
        return 0;
    msg->ptr = lp2p_buf_head(&r->acc);
    msg->len = r->body;
    r->delivered = 1;
    return 1;
}

int lp2p_lpm_encode(lp2p_buf *out, const uint8_t *body, size_t len)
{
    int rc = lp2p_buf_append_uvarint(out, len);
    if (rc)
        return rc;
    return lp2p_buf_append(out, body, len);
}
