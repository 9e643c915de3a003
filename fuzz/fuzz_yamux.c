/* Yamux: (1) the 12-byte header codec re-encodes whatever it accepts; (2) a whole session
 * fed fuzz bytes in fuzz-sized pieces, with an app that writes, closes, resets and consumes
 * from inside its callbacks. Checks: no crash/leak (ASan), a fatal error sticks, the
 * receive window is never overrun by what the core delivers, output stays bounded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "proto/yamux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz {
    lp2p_yamux *y;
    const uint8_t *ctl; /* app decisions come from these bytes, cyclically */
    size_t nctl, ictl;
    int nstreams;
} fz;

static uint8_t pick(fz *f)
{
    if (!f->nctl)
        return 0;
    return f->ctl[f->ictl++ % f->nctl];
}

/* The app reacts with one of a few actions; all are legal inside callbacks. */
static void act(fz *f, lp2p_yamux_stream *s)
{
    static const uint8_t junk[300] = {1, 2, 3};
    switch (pick(f) & 7) {
    case 0:
        lp2p_yamux_stream_write(s, junk, pick(f) + 1u);
        break;
    case 1:
        lp2p_yamux_stream_close(s);
        break;
    case 2:
        lp2p_yamux_stream_reset(s);
        break;
    case 3:
        lp2p_yamux_stream_accept(s);
        break;
    default:
        lp2p_yamux_stream_consumed(s, (size_t)pick(f) * 512u);
        break;
    }
}

static void on_stream(void *u, lp2p_yamux_stream *s)
{
    fz *f = u;
    f->nstreams++;
    act(f, s);
}

static void on_data(void *u, lp2p_yamux_stream *s, const uint8_t *p, size_t n)
{
    fz *f = u;
    if (lp2p_yamux_stream_unconsumed(s) > lp2p_yamux_stream_recv_window(s))
        abort();
    act(f, s);
}

static void on_other(void *u, lp2p_yamux_stream *s)
{
    act(u, s);
}

static void on_closed(void *u, lp2p_yamux_stream *s)
{
    fz *f = u;
    f->nstreams--;
}

static void on_goaway(void *u, uint32_t code)
{
    fz *f = u;
    lp2p_yamux_stream *s;
    if ((pick(f) & 1) && lp2p_yamux_open(f->y, &s) == 0) /* must be refused */
        abort();
}

static void on_rtt(void *u, uint64_t rtt)
{
}

static const lp2p_yamux_callbacks CBS = {on_stream, on_data,   on_other,  on_other,
                                         on_other,  on_closed, on_goaway, on_rtt};

static void fuzz_header(const uint8_t *data, size_t size)
{
    if (size < LP2P_YAMUX_HDR_LEN)
        return;
    lp2p_yamux_hdr h;
    if (lp2p_yamux_hdr_decode(data, &h) != 0)
        return;
    uint8_t out[LP2P_YAMUX_HDR_LEN];
    lp2p_yamux_hdr_encode(&h, out);
    if (memcmp(out, data, LP2P_YAMUX_HDR_LEN) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_header(data, size);
    if (size < 4)
        return 0;
    /* byte 0: role and small limits so that limit paths are reachable */
    lp2p_yamux_config c;
    lp2p_yamux_config_default(&c, data[0] & 1);
    if (data[0] & 2) {
        c.max_streams = 4;
        c.accept_backlog = 2;
        c.max_ack_backlog = 2;
    }
    if (data[0] & 4)
        c.max_frame = 100;
    c.keepalive_ms = 1000;
    c.ping_timeout_ms = 3000;
    fz f = {0};
    f.ctl = data + 1;
    f.nctl = 3;
    if (lp2p_yamux_new(&c, &CBS, &f, &f.y) != 0)
        abort();
    const uint8_t *p = data + 4, *end = data + size;
    uint64_t now = 0;
    int dead = 0;
    while (p < end) {
        /* piece length from the stream itself: splits headers and payloads anywhere */
        size_t n = (size_t)(*p++ % 64) + 1;
        if (n > (size_t)(end - p))
            n = (size_t)(end - p);
        now += n;
        int rc = lp2p_yamux_recv(f.y, p, n, now);
        p += n;
        if (rc > 0)
            abort();
        if (dead && rc != dead)
            abort(); /* a fatal error sticks */
        if (rc < 0)
            dead = rc;
        if (!dead && (now & 7) == 0) {
            lp2p_yamux_stream *s;
            if (lp2p_yamux_open(f.y, &s) == 0 && ++f.nstreams)
                lp2p_yamux_stream_write(s, data, (size_t)(end - p) % 512);
        }
        if (!dead) {
            rc = lp2p_yamux_tick(f.y, now);
            if (rc < 0)
                dead = rc;
        }
        lp2p_buf *o = lp2p_yamux_out(f.y);
        /* bounded: control replies plus at most one 256 KiB window per stream we wrote */
        if (lp2p_buf_size(o) > (size_t)64 << 20)
            abort();
        if (data[0] & 8)
            lp2p_buf_consume(o, lp2p_buf_size(o));
    }
    lp2p_yamux_del(f.y);
    if (f.nstreams != 0)
        abort(); /* every stream got on_stream_closed exactly once */
    return 0;
}
