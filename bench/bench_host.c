/* The host API over real loopback TCP, against a peer that serves /perf/1.0.0 (normally
 * `holepunch listen` in another process, so each side has a core and an event loop):
 *
 *   bench_host handshakes ADDR [SECONDS [COUNT]]
 *                                          dial -> ready -> close, one at a time (TCP connect,
 *                                          multistream, Noise XX, Yamux); default 2 s; stops
 *                                          early after COUNT connections (for callgrind:
 *                                          a fixed amount of work, see bench/profile.sh)
 *   bench_host rtt ADDR [N]                a new connection + a 1-byte perf round trip
 *                                          (the libp2p perf "latency" run); default 20
 *   bench_host throughput ADDR [BYTES]     one perf stream up (BYTES, none back), then one
 *                                          down (BYTES), same connection; default 256 MiB
 *   bench_host hold ADDR [N]               N hosts, each with its own identity, one
 *                                          connection each; prints {"event":"held"} once all
 *                                          are up and keeps them until SIGTERM/SIGINT or
 *                                          60 s (for the listener's memory per connection)
 *
 * ADDR ends in /p2p/<id>. Each mode prints one JSON line. Throughput is timed from the
 * stream open to the server's EOF, so the last byte has been through the other side;
 * 1 MB = 10^6 bytes.
 *
 * Handshakes rotate over HS_HOSTS identities: the listener keeps one connection per peer,
 * and a fresh dial from the identity whose previous connection it has not yet seen close
 * would be refused as a duplicate. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lp2p/err.h"
#include "lp2p/host.h"
#include "lp2p/identity.h"
#include "proto/perf.h"
#include "util/log.h"

#define HS_HOSTS   8
#define MAX_HOSTS  1024
#define WRITE_HIGH (1u << 20) /* as `holepunch perf`: refill when less is pending */

typedef enum mode { M_HANDSHAKES, M_RTT, M_THROUGHPUT, M_HOLD } mode;

typedef struct bench {
    mode mode;
    uv_loop_t loop;
    const char *addr;
    size_t nhosts;
    lp2p_host *hosts[MAX_HOSTS];
    lp2p_keypair *keys[MAX_HOSTS];
    size_t next_host;
    uv_timer_t next; /* schedules the next dial outside the host's callbacks */
    uv_timer_t limit;
    uv_signal_t sigterm, sigint;
    int handles_open;
    /* progress */
    long done;
    long target;
    double secs;
    uint64_t t0;
    uint64_t t_iter;
    double *samples;
    int failed;
    int finished;
    /* perf stream */
    lp2p_conn *conn;
    lp2p_stream *s;
    lp2p_perf_client core;
    int phase; /* throughput: 0 upload, 1 download */
    double up_MBps, down_MBps;
} bench;

static double since_s(uint64_t t0)
{
    return (double)(uv_hrtime() - t0) / 1e9;
}

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static void finish(bench *b, int failed)
{
    if (b->finished)
        return;
    b->finished = 1;
    b->failed |= failed;
    uv_timer_stop(&b->next);
    uv_timer_stop(&b->limit);
    uv_close((uv_handle_t *)&b->next, NULL);
    uv_close((uv_handle_t *)&b->limit, NULL);
    if (b->mode == M_HOLD) {
        uv_close((uv_handle_t *)&b->sigterm, NULL);
        uv_close((uv_handle_t *)&b->sigint, NULL);
    }
    for (size_t i = 0; i < b->nhosts; i++) {
        if (b->hosts[i])
            lp2p_host_close(b->hosts[i]);
        b->hosts[i] = NULL;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- perf stream ---------------------------------------------------------------------- */

static void start_perf(bench *b, lp2p_conn *c, uint64_t up, uint64_t down);

static void pump(bench *b)
{
    lp2p_view chunk;
    for (;;) {
        switch (lp2p_perf_client_next(&b->core, &chunk)) {
        case LP2P_PERF_WRITE:
            if (lp2p_stream_pending(b->s) >= WRITE_HIGH)
                return; /* on_writable resumes */
            if (lp2p_stream_write(b->s, chunk.ptr, chunk.len) < 0) {
                finish(b, 1);
                return;
            }
            lp2p_perf_client_sent(&b->core, chunk.len, now_ms());
            break;
        case LP2P_PERF_CLOSE_WRITE:
            lp2p_stream_close(b->s);
            lp2p_perf_client_write_closed(&b->core, now_ms());
            break;
        default:
            return;
        }
    }
}

static void on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    bench *b = ud;
    if (lp2p_perf_client_recv(&b->core, p, n, now_ms()) < 0)
        finish(b, 1);
}

static void on_writable(lp2p_stream *s, void *ud)
{
    pump(ud);
}

static void on_eof(lp2p_stream *s, void *ud)
{
    bench *b = ud;
    double secs = since_s(b->t_iter);
    if (lp2p_perf_client_eof(&b->core, now_ms()) < 0) {
        fprintf(stderr, "bench_host: perf server sent fewer bytes than asked\n");
        finish(b, 1);
        return;
    }
    if (b->mode == M_RTT) {
        b->samples[b->done++] = secs * 1e3;
        b->s = NULL;                 /* its on_close (connection closed) is expected */
        lp2p_conn_close(b->conn, 0); /* on_disconnected schedules the next round */
        return;
    }
    /* throughput */
    if (b->phase == 0) {
        b->up_MBps = (double)b->core.uploaded / secs / 1e6;
        b->phase = 1;
        start_perf(b, b->conn, 0, (uint64_t)b->target);
        return;
    }
    b->down_MBps = (double)b->core.downloaded / secs / 1e6;
    finish(b, 0);
}

static void on_close(lp2p_stream *s, int err, void *ud)
{
    bench *b = ud;
    if (s == b->s)
        b->s = NULL;
    else
        return;
    if (err && !b->finished) {
        fprintf(stderr, "bench_host: perf stream closed: %s\n", lp2p_strerror(err));
        finish(b, 1);
    }
}

static const lp2p_stream_callbacks k_perf_cb = {
    .on_data = on_data, .on_eof = on_eof, .on_writable = on_writable, .on_close = on_close};

static void start_perf(bench *b, lp2p_conn *c, uint64_t up, uint64_t down)
{
    if (b->mode == M_THROUGHPUT)
        b->t_iter = uv_hrtime();
    lp2p_perf_client_init(&b->core, up, down, 0, now_ms());
    if (lp2p_conn_open_stream(c, LP2P_PERF_PROTO, &k_perf_cb, b, &b->s) < 0) {
        finish(b, 1);
        return;
    }
    pump(b);
}

/* ---- dialing --------------------------------------------------------------------------- */

static void dial_next(bench *b);

static void on_dial(lp2p_conn *c, int err, void *ud)
{
    bench *b = ud;
    if (b->finished)
        return;
    if (err < 0) {
        fprintf(stderr, "bench_host: dial failed: %s\n", lp2p_strerror(err));
        finish(b, 1);
        return;
    }
    b->conn = c;
    switch (b->mode) {
    case M_HANDSHAKES:
        b->done++;
        lp2p_conn_close(c, 0);
        break;
    case M_RTT:
        start_perf(b, c, 1, 1);
        break;
    case M_THROUGHPUT:
        start_perf(b, c, (uint64_t)b->target, 0);
        break;
    case M_HOLD:
        if (++b->done == b->target) {
            printf("{\"event\":\"held\",\"conns\":%ld,\"seconds\":%.3f}\n", b->done,
                   since_s(b->t0));
            fflush(stdout);
        }
        break;
    }
}

static void on_next(uv_timer_t *t)
{
    dial_next(t->data);
}

static void on_disconnected(lp2p_conn *c, int reason, void *ud)
{
    bench *b = ud;
    if (b->finished || c != b->conn)
        return;
    b->conn = NULL;
    if (b->mode == M_HANDSHAKES) {
        if (since_s(b->t0) < b->secs && (b->target <= 0 || b->done < b->target))
            uv_timer_start(&b->next, on_next, 0, 0);
        else
            finish(b, 0);
    } else if (b->mode == M_RTT) {
        if (b->done < b->target)
            uv_timer_start(&b->next, on_next, 0, 0);
        else
            finish(b, 0);
    } else if (b->mode == M_THROUGHPUT) {
        fprintf(stderr, "bench_host: connection lost\n");
        finish(b, 1);
    }
}

static void dial_next(bench *b)
{
    lp2p_host *h = b->hosts[b->next_host];
    b->next_host = (b->next_host + 1) % b->nhosts;
    b->t_iter = uv_hrtime();
    if (lp2p_host_dial(h, b->addr, on_dial, b) < 0) {
        fprintf(stderr, "bench_host: cannot dial %s\n", b->addr);
        finish(b, 1);
    }
}

static void on_limit(uv_timer_t *t)
{
    bench *b = t->data;
    if (b->mode != M_HOLD)
        fprintf(stderr, "bench_host: time limit reached\n");
    finish(b, b->mode != M_HOLD);
}

static void on_signal(uv_signal_t *sg, int signum)
{
    finish(sg->data, 0);
}

/* ---- main ------------------------------------------------------------------------------- */

static int make_hosts(bench *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lp2p_keypair_generate(&b->keys[i]) < 0)
            return -1;
        lp2p_host_config hc;
        lp2p_host_config_default(&hc, &b->loop, b->keys[i]);
        hc.agent = "bench_host";
        hc.cb.on_disconnected = on_disconnected;
        hc.ud = b;
        if (lp2p_host_new(&hc, &b->hosts[i]) < 0)
            return -1;
        b->nhosts = i + 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static bench b; /* large: host and key tables */
    if (argc < 3)
        goto usage;
    const char *m = argv[1];
    b.addr = argv[2];
    size_t nhosts = 1;
    if (strcmp(m, "handshakes") == 0) {
        b.mode = M_HANDSHAKES;
        b.secs = argc > 3 ? atof(argv[3]) : 2.0;
        b.target = argc > 4 ? atol(argv[4]) : 0;
        nhosts = HS_HOSTS;
        if (b.secs <= 0 || b.target < 0)
            goto usage;
    } else if (strcmp(m, "rtt") == 0) {
        b.mode = M_RTT;
        b.target = argc > 3 ? atol(argv[3]) : 20;
        nhosts = HS_HOSTS;
        if (b.target <= 0)
            goto usage;
    } else if (strcmp(m, "throughput") == 0) {
        b.mode = M_THROUGHPUT;
        b.target = argc > 3 ? atol(argv[3]) : (256l << 20);
        if (b.target <= 0)
            goto usage;
    } else if (strcmp(m, "hold") == 0) {
        b.mode = M_HOLD;
        b.target = argc > 3 ? atol(argv[3]) : 100;
        if (b.target <= 0 || b.target > MAX_HOSTS)
            goto usage;
        nhosts = (size_t)b.target;
    } else {
        goto usage;
    }
    signal(SIGPIPE, SIG_IGN);
    lp2p_log_set_level(LP2P_ERROR);
    uv_loop_init(&b.loop);
    if (b.mode == M_RTT && !(b.samples = calloc((size_t)b.target, sizeof(double))))
        return 1;
    if (make_hosts(&b, nhosts) < 0) {
        fprintf(stderr, "bench_host: cannot create hosts\n");
        return 1;
    }
    uv_timer_init(&b.loop, &b.next);
    uv_timer_init(&b.loop, &b.limit);
    b.next.data = b.limit.data = &b;
    uv_timer_start(&b.limit, on_limit,
                   b.mode == M_HANDSHAKES ? (uint64_t)(b.secs * 1000) + 30000 : 60000, 0);
    b.t0 = uv_hrtime();
    if (b.mode == M_HOLD) {
        uv_signal_init(&b.loop, &b.sigterm);
        uv_signal_init(&b.loop, &b.sigint);
        b.sigterm.data = b.sigint.data = &b;
        uv_signal_start(&b.sigterm, on_signal, SIGTERM);
        uv_signal_start(&b.sigint, on_signal, SIGINT);
        for (size_t i = 0; i < b.nhosts; i++)
            if (lp2p_host_dial(b.hosts[i], b.addr, on_dial, &b) < 0)
                finish(&b, 1);
    } else {
        dial_next(&b);
    }
    uv_run(&b.loop, UV_RUN_DEFAULT);
    double elapsed = since_s(b.t0);
    uv_run(&b.loop, UV_RUN_DEFAULT); /* drain the hosts' close callbacks */
    uv_loop_close(&b.loop);
    for (size_t i = 0; i < b.nhosts; i++)
        lp2p_keypair_del(b.keys[i]);
    if (b.failed)
        return 1;

    switch (b.mode) {
    case M_HANDSHAKES:
        printf("{\"event\":\"host_handshakes\",\"conns\":%ld,\"seconds\":%.4f,\"per_s\":%.0f}\n",
               b.done, elapsed, (double)b.done / elapsed);
        break;
    case M_RTT:
        qsort(b.samples, (size_t)b.done, sizeof(double), cmp_double);
        printf("{\"event\":\"host_conn_roundtrip\",\"runs\":%ld,\"median_ms\":%.3f,"
               "\"min_ms\":%.3f}\n",
               b.done, b.samples[b.done / 2], b.samples[0]);
        break;
    case M_THROUGHPUT:
        printf("{\"event\":\"host_throughput\",\"bytes\":%ld,\"upload_MBps\":%.1f,"
               "\"download_MBps\":%.1f}\n",
               b.target, b.up_MBps, b.down_MBps);
        break;
    case M_HOLD:
        break;
    }
    free(b.samples);
    return 0;
usage:
    fprintf(stderr, "usage: bench_host handshakes|rtt|throughput|hold ADDR [ARG]\n");
    return 2;
}
