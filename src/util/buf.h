/* Owned byte buffers and borrowed views (picotls' ptls_buffer_t / ptls_iovec_t split).
 *
 *   lp2p_view: {ptr,len} borrowed; valid as long as whatever it points into.
 *   lp2p_buf : owned, growable; data[off..len) is the readable part, so consumers can
 *              advance `off` cheaply and the buffer compacts itself on the next append.
 *
 * Invariant: off <= len <= cap. Secrets are wiped with lp2p_buf_free_secure(). */
#ifndef LP2P_UTIL_BUF_H
#define LP2P_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct lp2p_view {
    const uint8_t *ptr;
    size_t len;
} lp2p_view;

typedef struct lp2p_buf {
    uint8_t *data;
    size_t off; /* first unread byte */
    size_t len; /* end of written bytes */
    size_t cap;
} lp2p_buf;

static inline lp2p_view lp2p_view_make(const void *p, size_t n)
{
    lp2p_view v = {(const uint8_t *)p, n};
    return v;
}

void lp2p_buf_init(lp2p_buf *b);
void lp2p_buf_free(lp2p_buf *b);
/* Zeroes the whole allocation before freeing (for key material). */
void lp2p_buf_free_secure(lp2p_buf *b);
/* Ensures room for n more bytes after len. Returns 0 or LP2P_ERR_NOMEM. */
int lp2p_buf_reserve(lp2p_buf *b, size_t n);
int lp2p_buf_append(lp2p_buf *b, const void *p, size_t n);
int lp2p_buf_append_byte(lp2p_buf *b, uint8_t c);
/* Appends a minimal uvarint. */
int lp2p_buf_append_uvarint(lp2p_buf *b, uint64_t v);
/* Readable bytes. */
static inline size_t lp2p_buf_size(const lp2p_buf *b)
{
    return b->len - b->off;
}
static inline uint8_t *lp2p_buf_head(const lp2p_buf *b)
{
    /* Never NULL+0 (UB): an unallocated buffer yields a valid pointer to nothing. */
    static uint8_t empty[1];
    return b->data ? b->data + b->off : empty;
}
/* Marks n readable bytes consumed; resets to empty when all are consumed. */
void lp2p_buf_consume(lp2p_buf *b, size_t n);
void lp2p_buf_clear(lp2p_buf *b);
/* Moves the readable bytes to the front (called by reserve when useful). */
void lp2p_buf_compact(lp2p_buf *b);

#endif
