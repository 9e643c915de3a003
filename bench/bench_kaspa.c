/* In-memory Kaspa sessions (no sockets): handshakes per second (Version..Ready plus the
 * address exchange), Ping round trips per second, and message throughput with gzip on and
 * off for each HTTP/2 profile, against a plain memcpy of the same bytes as the baseline.
 * Usage: bench_kaspa [MiB] [handshakes] [pings]. Prints one JSON line per measurement. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/random.h"
#include "kaspa/session.h"
#include "util/log.h"
#include "util/buf.h"

static double secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t pongs, bytes_seen;

static void on_event(void *u, kaspa_session *s, const kaspa_event *ev)
{
    if (ev->type == KASPA_EV_PING)
        pongs++;
    else if (ev->type == KASPA_EV_MESSAGE)
        bytes_seen += ev->u.message.wire_len;
}

static void move(kaspa_session *from, kaspa_session *to, uint64_t now)
{
    lp2p_buf *o = kaspa_session_out(from);
    size_t n = lp2p_buf_size(o);
    if (!n)
        return;
    /* The receiver never writes into the sender's buffer, so it can read it in place. */
    if (kaspa_session_recv(to, lp2p_buf_head(o), n, now) < 0) {
        fprintf(stderr, "recv failed\n");
        exit(1);
    }
    lp2p_buf_consume(o, n);
}

static void pump(kaspa_session *a, kaspa_session *b, uint64_t now)
{
    while (lp2p_buf_size(kaspa_session_out(a)) || lp2p_buf_size(kaspa_session_out(b))) {
        move(a, b, now);
        move(b, a, now);
    }
}

static void make_pair(kaspa_hub *hc, kaspa_hub *hs, kaspa_h2_profile prof, int gzip,
                      kaspa_session **c, kaspa_session **s)
{
    kaspa_session_config cc, sc;
    kaspa_session_config_default(&cc, hc, prof);
    cc.rng = LP2P_RNG_OPENSSL;
    kaspa_session_config_default(&sc, hs, prof);
    sc.rng = LP2P_RNG_OPENSSL;
    kaspa_addr_parse("127.0.0.1:16111", &cc.peer_addr);
    kaspa_addr_parse("127.0.0.1:40000", &sc.peer_addr);
    cc.grpc.gzip = sc.grpc.gzip = gzip;
    kaspa_session_callbacks cb = {on_event};
    if (kaspa_session_new(s, &sc, KASPA_SERVER, &cb, NULL, 0) ||
        kaspa_session_new(c, &cc, KASPA_CLIENT, &cb, NULL, 0)) {
        fprintf(stderr, "session_new failed\n");
        exit(1);
    }
    pump(*c, *s, 1);
    if (!kaspa_session_is_ready(*c) || !kaspa_session_is_ready(*s)) {
        fprintf(stderr, "handshake failed\n");
        exit(1);
    }
}

static void throughput(kaspa_hub *hc, kaspa_hub *hs, kaspa_h2_profile prof, int gzip, uint64_t mib)
{
    kaspa_session *c, *s;
    make_pair(hc, hs, prof, gzip, &c, &s);
    const size_t body = 64 * 1024;
    uint8_t *m = malloc(body + 8);
    /* field 2 (block) of pseudo-random bytes: incompressible, like hashes and signatures */
    size_t n = 0;
    m[n++] = 0x12;
    size_t l = body;
    while (l >= 0x80) {
        m[n++] = (uint8_t)(l | 0x80);
        l >>= 7;
    }
    m[n++] = (uint8_t)l;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < body; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        m[n + i] = (uint8_t)x;
    }
    uint64_t count = (mib << 20) / body;
    bytes_seen = 0;
    double t0 = secs();
    for (uint64_t i = 0; i < count; i++) {
        if (kaspa_session_send_raw(c, m, n + body) != 0) {
            fprintf(stderr, "send failed\n");
            exit(1);
        }
        if ((i & 15) == 15)
            pump(c, s, 2);
    }
    pump(c, s, 2);
    double dt = secs() - t0;
    kaspa_session_stats st;
    kaspa_session_get_stats(c, &st);
    printf("{\"bench\":\"kaspa_throughput\",\"profile\":\"%s\",\"gzip\":%s,\"mib\":%llu,"
           "\"seconds\":%.3f,\"mib_per_s\":%.1f,\"wire_bytes\":%llu,\"delivered_bytes\":%llu}\n",
           prof == KASPA_H2_PROFILE_LIBP2P ? "libp2p" : "tcp", gzip ? "true" : "false",
           (unsigned long long)mib, dt, (double)(count * body) / (1 << 20) / dt,
           (unsigned long long)st.bytes_out, (unsigned long long)bytes_seen);
    free(m);
    kaspa_session_del(c);
    kaspa_session_del(s);
}

int main(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 256;
    int hs_count = argc > 2 ? atoi(argv[2]) : 2000;
    int ping_count = argc > 3 ? atoi(argv[3]) : 20000;
    lp2p_log_set_level(LP2P_ERROR);
    kaspa_hub *hc, *hs;
    kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
    kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);

    /* baseline: memcpy of the same volume in 64 KiB pieces */
    size_t chunk = 64 * 1024;
    uint8_t *a = calloc(1, chunk), *b = calloc(1, chunk);
    double t0 = secs();
    for (uint64_t i = 0; i < (mib << 20) / chunk; i++) {
        a[i % chunk] = (uint8_t)i;
        memcpy(b, a, chunk);
    }
    double dt = secs() - t0;
    printf("{\"bench\":\"memcpy_baseline\",\"mib\":%llu,\"seconds\":%.3f,\"mib_per_s\":%.1f,"
           "\"check\":%u}\n",
           (unsigned long long)mib, dt, (double)mib / dt, b[7]);
    free(a);
    free(b);

    t0 = secs();
    for (int i = 0; i < hs_count; i++) {
        kaspa_session *c, *s;
        make_pair(hc, hs, KASPA_H2_PROFILE_TCP, 1, &c, &s);
        kaspa_session_del(c);
        kaspa_session_del(s);
    }
    dt = secs() - t0;
    printf("{\"bench\":\"kaspa_handshakes\",\"count\":%d,\"seconds\":%.3f,\"per_s\":%.0f}\n",
           hs_count, dt, hs_count / dt);

    kaspa_session *c, *s;
    make_pair(hc, hs, KASPA_H2_PROFILE_TCP, 1, &c, &s);
    pongs = 0;
    t0 = secs();
    for (int i = 0; i < ping_count; i++) {
        kaspa_session_ping(c, 3);
        pump(c, s, 3);
    }
    dt = secs() - t0;
    printf("{\"bench\":\"kaspa_ping_rounds\",\"count\":%llu,\"seconds\":%.3f,\"per_s\":%.0f}\n",
           (unsigned long long)pongs, dt, pongs / dt);
    kaspa_session_del(c);
    kaspa_session_del(s);

    for (int prof = 0; prof <= 1; prof++)
        for (int gz = 0; gz <= 1; gz++)
            throughput(hc, hs, (kaspa_h2_profile)prof, gz, mib);
    kaspa_hub_del(hc);
    kaspa_hub_del(hs);
    return 0;
}
