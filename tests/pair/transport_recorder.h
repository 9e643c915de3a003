/* A recorder that owns one byte transport in a test: every event it gets, the bytes it
 * read, and knobs to echo or to stop reading. Used with the loop of test_host_util.h. */
#ifndef TEST_TRANSPORT_RECORDER_H
#define TEST_TRANSPORT_RECORDER_H

#include "net/transport.h"
#include "util/buf.h"

typedef struct recorder {
    lp2p_transport *t;
    int connected, eof, writable, closed;
    int close_err;
    char close_why[128];
    lp2p_buf got;
    size_t pending_at_writable;
} recorder;

static void rec_on_connected(void *ud)
{
    ((recorder *)ud)->connected++;
}
static void rec_on_data(void *ud, const uint8_t *p, size_t n)
{
    lp2p_buf_append(&((recorder *)ud)->got, p, n);
}
static void rec_on_eof(void *ud)
{
    ((recorder *)ud)->eof++;
}
static void rec_on_writable(void *ud)
{
    recorder *r = ud;
    r->writable++;
    r->pending_at_writable = lp2p_transport_pending(r->t);
}
static void rec_on_closed(void *ud, int err, const char *why)
{
    recorder *r = ud;
    r->closed++;
    r->close_err = err;
    snprintf(r->close_why, sizeof(r->close_why), "%s", why ? why : "");
    r->t = NULL;
}

static const lp2p_transport_events k_rec_events = {
    .on_connected = rec_on_connected,
    .on_data = rec_on_data,
    .on_eof = rec_on_eof,
    .on_writable = rec_on_writable,
    .on_closed = rec_on_closed,
};

static inline void rec_bind(recorder *r, lp2p_transport *t)
{
    memset(r, 0, sizeof(*r));
    lp2p_buf_init(&r->got);
    r->t = t;
    lp2p_transport_bind(t, &k_rec_events, r);
}

static inline void rec_free(recorder *r)
{
    lp2p_buf_free(&r->got);
}

/* Writes n bytes of a counting pattern (starting at *seq) and checks the move contract. */
static inline void rec_write_pattern(recorder *r, size_t n, uint32_t *seq)
{
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(lp2p_buf_reserve(&b, n), 0);
    for (size_t i = 0; i < n; i++)
        b.data[b.len++] = (uint8_t)((*seq)++ * 7u);
    assert_int_equal(lp2p_transport_write(r->t, &b), 0);
    assert_int_equal(lp2p_buf_size(&b), 0); /* taken whole, never short */
    lp2p_buf_free(&b);
}

/* The got bytes are the counting pattern from 0, in order. */
static inline int rec_got_pattern(const recorder *r)
{
    const uint8_t *p = lp2p_buf_head(&r->got);
    for (size_t i = 0; i < lp2p_buf_size(&r->got); i++)
        if (p[i] != (uint8_t)((uint32_t)i * 7u))
            return 0;
    return 1;
}

#endif
