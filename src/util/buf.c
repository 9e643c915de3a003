#include "util/buf.h"
#include "util/uvarint.h"
#include "lp2p/err.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void lp2p_buf_init(lp2p_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void lp2p_buf_free(lp2p_buf *b)
{
    free(b->data);
    lp2p_buf_init(b);
}

void lp2p_buf_free_secure(lp2p_buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->cap);
    lp2p_buf_free(b);
}

void lp2p_buf_compact(lp2p_buf *b)
{
    if (b->off == 0)
        return;
    memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
}

int lp2p_buf_reserve(lp2p_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    /* Reclaim consumed space before growing (most buffers are queues), but only when the
     * live bytes are no more than the consumed prefix: moving a large tail on every
     * append would cost more than the memory it saves. */
    if (b->off > 0 && b->len - b->off <= b->off && b->cap - (b->len - b->off) >= n) {
        lp2p_buf_compact(b);
        return 0;
    }
    size_t need = b->len - b->off + n;
    if (need < n)
        return LP2P_ERR_NOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return LP2P_ERR_NOMEM;
        cap *= 2;
    }
    lp2p_buf_compact(b);
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return LP2P_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int lp2p_buf_append(lp2p_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = lp2p_buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int lp2p_buf_append_byte(lp2p_buf *b, uint8_t c)
{
    return lp2p_buf_append(b, &c, 1);
}

int lp2p_buf_append_uvarint(lp2p_buf *b, uint64_t v)
{
    uint8_t tmp[LP2P_UVARINT_MAX];
    size_t n = lp2p_uvarint_encode(v, tmp);
    return lp2p_buf_append(b, tmp, n);
}

void lp2p_buf_consume(lp2p_buf *b, size_t n)
{
    if (n >= b->len - b->off) {
        b->off = b->len = 0;
        return;
    }
    b->off += n;
}

void lp2p_buf_clear(lp2p_buf *b)
{
    b->off = b->len = 0;
}
