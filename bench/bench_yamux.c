/* In-memory Yamux throughput: a client core streams N MiB to a server core in the same
 * process (no sockets, no crypto), the server consumes at once. Measures the cost of
 * framing, window updates and callbacks alone, against a plain memcpy of the same bytes
 * as the baseline. Usage: bench_yamux [MiB] [streams] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/yamux.h"

static uint64_t received;

static void on_stream(void *u, lp2p_yamux_stream *s)
{
    lp2p_yamux_stream_accept(s);
}

static void on_data(void *u, lp2p_yamux_stream *s, const uint8_t *p, size_t n)
{
    received += n;
    lp2p_yamux_stream_consumed(s, n);
}

static double secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void xfer(lp2p_yamux *a, lp2p_yamux *b, uint64_t now)
{
    lp2p_buf *o = lp2p_yamux_out(a);
    size_t n = lp2p_buf_size(o);
    if (!n)
        return;
    if (lp2p_yamux_recv(b, lp2p_buf_head(o), n, now) < 0) {
        fprintf(stderr, "recv failed\n");
        exit(1);
    }
    lp2p_buf_consume(o, n);
}

int main(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 1024;
    int nstreams = argc > 2 ? atoi(argv[2]) : 1;
    if (nstreams < 1 || nstreams > 256)
        nstreams = 1;
    uint64_t total = mib << 20;
    lp2p_yamux_config cc, sc;
    lp2p_yamux_config_default(&cc, 1);
    lp2p_yamux_config_default(&sc, 0);
    lp2p_yamux_callbacks cb = {0};
    cb.on_stream = on_stream;
    cb.on_data = on_data;
    lp2p_yamux *c, *s;
    if (lp2p_yamux_new(&cc, &cb, NULL, &c) || lp2p_yamux_new(&sc, &cb, NULL, &s))
        return 1;
    uint64_t now = 0;
    lp2p_yamux_tick(c, now);
    lp2p_yamux_tick(s, now);
    xfer(c, s, now);
    xfer(s, c, now);
    now = 10; /* RTT ~10 ms for the server, so windows auto-tune */
    xfer(c, s, now);
    lp2p_yamux_stream *st[256];
    for (int i = 0; i < nstreams; i++)
        if (lp2p_yamux_open(c, &st[i]))
            return 1;
    static uint8_t chunk[1 << 20];
    memset(chunk, 0xa5, sizeof(chunk));
    uint64_t sent = 0;
    double t0 = secs();
    while (received < total) {
        for (int i = 0; i < nstreams && sent < total; i++) {
            size_t want = total - sent < sizeof(chunk) ? (size_t)(total - sent) : sizeof(chunk);
            long n = lp2p_yamux_stream_write(st[i], chunk, want);
            if (n < 0)
                return 1;
            sent += (uint64_t)n;
        }
        now++;
        xfer(c, s, now);
        xfer(s, c, now);
    }
    double dt = secs() - t0;

    /* baseline: the same bytes copied once through a 1 MiB buffer */
    static uint8_t sink[1 << 20];
    double b0 = secs();
    for (uint64_t off = 0; off < total; off += sizeof(chunk)) {
        memcpy(sink, chunk, sizeof(chunk));
        __asm__ volatile("" : : "r"(sink) : "memory");
    }
    double bt = secs() - b0;
    printf("yamux in-memory: %llu MiB over %d stream(s): %.0f MiB/s (memcpy baseline %.0f "
           "MiB/s), send window left on stream 1: %u\n",
           (unsigned long long)mib, nstreams, (double)mib / dt, (double)mib / bt,
           lp2p_yamux_stream_send_window(st[0]));
    lp2p_yamux_del(c);
    lp2p_yamux_del(s);
    return 0;
}
