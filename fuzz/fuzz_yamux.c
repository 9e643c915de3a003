/* Yamux: (1) the 12-byte header codec re-encodes whatever it accepts; (2) a whole session
 * fed fuzz bytes in fuzz-sized pieces, with an app that writes, closes, resets and consumes
 * from inside its callbacks. Checks: no crash/leak (ASan), a fatal error sticks, the
 * receive window is never overrun by what the core delivers, output stays bounded;
 * (3) when byte 0 has bits 0x30 set: a client and a server core driven by fuzz-chosen
 * actions must never see an error from each other and deliver every byte intact. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "proto/yamux.h"
#include "util/log.h"

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

/* A receive budget that grants all, the refill alone, a cut, or nothing, in turn, and
 * refuses every third SYN: the core's budget paths run on every input. */
static unsigned g_budget_turn;
static uint32_t on_window(void *u, lp2p_yamux_stream *s, uint32_t want, uint32_t grow)
{
    switch (g_budget_turn++ % 4) {
    case 0:
        return want;
    case 1:
        return want - grow;
    case 2:
        return want / 3;
    default:
        return 0;
    }
}
static int on_admit(void *u)
{
    return g_budget_turn++ % 3 != 0;
}

static const lp2p_yamux_callbacks CBS = {on_stream, on_data,   on_other, on_other,  on_other,
                                         on_closed, on_goaway, on_rtt,   on_window, on_admit};

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

/* ---- (3) two correct cores driven by fuzz-chosen actions: whatever the interleaving,
 * neither may ever see a protocol or flow-control error, and every byte arrives intact. */

#define PAIR_MAX 16

typedef struct pstream {
    lp2p_yamux_stream *s;
    uint64_t tx, rx;
} pstream;

typedef struct pside {
    lp2p_yamux *y;
    pstream *st[PAIR_MAX];
    int n;
} pside;

/* Stream payload is a ramp with a prime period, offset by the stream ID: a lost,
 * duplicated or misrouted frame (frames are <= 1000 bytes, not a multiple of 251) shows.
 * Compared with memcmp to keep the per-byte cost out of coverage instrumentation. */
#define PAT_PERIOD 251u
static uint8_t pat_tbl[2 * PAT_PERIOD];

static const uint8_t *pat(uint32_t id, uint64_t off)
{
    return pat_tbl + (id * 7u + off) % PAT_PERIOD;
}

static void p_track(pside *d, lp2p_yamux_stream *s)
{
    pstream *ps = calloc(1, sizeof(*ps));
    if (!ps)
        abort();
    ps->s = s;
    lp2p_yamux_stream_set_user(s, ps);
    if (d->n < PAIR_MAX)
        d->st[d->n++] = ps;
    else
        lp2p_yamux_stream_reset(s); /* keep the table small; closed callback frees ps */
}

static void p_on_stream(void *u, lp2p_yamux_stream *s)
{
    p_track(u, s);
}

static void p_on_data(void *u, lp2p_yamux_stream *s, const uint8_t *p, size_t n)
{
    pstream *ps = lp2p_yamux_stream_user(s);
    uint32_t id = lp2p_yamux_stream_id(s);
    while (n) {
        size_t k = n < PAT_PERIOD ? n : PAT_PERIOD;
        if (memcmp(p, pat(id, ps->rx), k) != 0)
            abort(); /* corrupted, reordered or duplicated payload */
        p += k;
        n -= k;
        ps->rx += k;
    }
}

static void p_on_closed(void *u, lp2p_yamux_stream *s)
{
    pside *d = u;
    pstream *ps = lp2p_yamux_stream_user(s);
    for (int i = 0; i < d->n; i++)
        if (d->st[i] == ps) {
            d->st[i] = d->st[--d->n];
            break;
        }
    free(ps);
}

static const lp2p_yamux_callbacks PCBS = {
    .on_stream = p_on_stream, .on_data = p_on_data, .on_stream_closed = p_on_closed};

static void p_xfer(pside *a, pside *b, size_t max, uint64_t now)
{
    lp2p_buf *o = lp2p_yamux_out(a->y);
    size_t n = lp2p_buf_size(o) < max ? lp2p_buf_size(o) : max;
    if (!n)
        return;
    uint8_t *tmp = malloc(n);
    if (!tmp)
        abort();
    memcpy(tmp, lp2p_buf_head(o), n);
    lp2p_buf_consume(o, n);
    if (lp2p_yamux_recv(b->y, tmp, n, now) != 0)
        abort(); /* two correct peers never violate each other's rules */
    free(tmp);
}

static void fuzz_pair(const uint8_t *data, size_t size)
{
    lp2p_yamux_config cc, sc;
    lp2p_yamux_config_default(&cc, 1);
    lp2p_yamux_config_default(&sc, 0);
    cc.ping_timeout_ms = sc.ping_timeout_ms = UINT64_MAX / 4;
    cc.keepalive_ms = sc.keepalive_ms = 1000;
    sc.max_window = 1u << 20;
    cc.max_frame = 1000;
    for (unsigned i = 0; i < sizeof(pat_tbl); i++)
        pat_tbl[i] = (uint8_t)(i % PAT_PERIOD);
    pside side[2] = {{0}, {0}};
    if (lp2p_yamux_new(&cc, &PCBS, &side[0], &side[0].y) ||
        lp2p_yamux_new(&sc, &PCBS, &side[1], &side[1].y))
        abort();
    static uint8_t buf[10000];
    uint64_t now = 0;
    for (size_t i = 0; i + 2 < size; i += 3) {
        uint8_t op = data[i], arg = data[i + 1], arg2 = data[i + 2];
        pside *d = &side[op & 1], *o = &side[!(op & 1)];
        pstream *ps = d->n ? d->st[arg % d->n] : NULL;
        lp2p_yamux_stream *s;
        switch ((op >> 1) % 10) {
        case 0:
            if (lp2p_yamux_open(d->y, &s) == 0)
                p_track(d, s);
            break;
        case 1:
            if (ps) {
                size_t n = (size_t)arg2 * 37u;
                uint32_t id = lp2p_yamux_stream_id(ps->s);
                for (size_t k = 0; k < n; k += PAT_PERIOD) {
                    size_t m = n - k < PAT_PERIOD ? n - k : PAT_PERIOD;
                    memcpy(buf + k, pat(id, ps->tx + k), m);
                }
                long w = lp2p_yamux_stream_write(ps->s, buf, n);
                if (w > 0)
                    ps->tx += (uint64_t)w;
            }
            break;
        case 2:
            if (ps)
                lp2p_yamux_stream_close(ps->s);
            break;
        case 3:
            if (ps && arg2 < 32)
                lp2p_yamux_stream_reset(ps->s); /* ps may be freed now */
            break;
        case 4:
            if (ps)
                lp2p_yamux_stream_consumed(ps->s, (size_t)arg2 * 1024u);
            break;
        case 5:
        case 6:
            p_xfer(d, o, (size_t)arg * 64u + arg2 + 1u, now);
            break;
        case 7:
            now += arg;
            if (lp2p_yamux_tick(d->y, now) != 0)
                abort();
            break;
        case 8:
            if (ps)
                lp2p_yamux_stream_accept(ps->s);
            break;
        default:
            if (arg == 0 && arg2 == 0)
                lp2p_yamux_goaway(d->y, 0);
            else
                lp2p_yamux_ping(d->y, now);
            break;
        }
    }
    /* drain: everything queued must be accepted by the other side */
    p_xfer(&side[0], &side[1], SIZE_MAX, now);
    p_xfer(&side[1], &side[0], SIZE_MAX, now);
    if (lp2p_yamux_error(side[0].y) || lp2p_yamux_error(side[1].y))
        abort();
    lp2p_yamux_del(side[0].y);
    lp2p_yamux_del(side[1].y);
    if (side[0].n || side[1].n)
        abort(); /* del must close (and so free) every stream */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp2p_log_set_level(LP2P_ERROR); /* fatal-error lines would dominate the run time */
    fuzz_header(data, size);
    if (size < 4)
        return 0;
    if ((data[0] & 0x30) == 0x30) {
        fuzz_pair(data + 1, size - 1);
        return 0;
    }
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
