/* Noise in-process: full XX handshakes per second (both sides, with Ed25519 identity
 * signatures and checks), the same the way a host runs them (each side's static key and its
 * signature made once, noise_static.h; the peer's verified signature remembered by the
 * crypto layer, crypto/pubkey.h: three DHs and one key generation per side), and transport encrypt
 * / decrypt throughput at full 65519-byte frames. No I/O: this is the CPU ceiling of the secure
 * channel.
 *
 *   bench_noise [seconds-per-measurement]      (default 2)
 * Prints one human line per measurement and a final JSON line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/random.h"
#include "lp2p/identity.h"
#include "proto/noise.h"
#include "proto/noise_static.h"
#include "util/log.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const MUX[] = {"/yamux/1.0.0"};

/* ist/rst: each side's long-lived static key in a host; NULL = a fresh one per session. */
static void handshake_with(lp2p_keypair *ik, lp2p_keypair *rk, const lp2p_noise_static *ist,
                           const lp2p_noise_static *rst, lp2p_noise **ini, lp2p_noise **rsp)
{
    lp2p_noise_config ic = {.rng = LP2P_RNG_OPENSSL,
                            .identity = ik,
                            .initiator = 1,
                            .muxers = MUX,
                            .nmuxers = 1,
                            .shared_static = ist};
    lp2p_noise_config rc = {
        .rng = LP2P_RNG_OPENSSL, .identity = rk, .muxers = MUX, .nmuxers = 1, .shared_static = rst};
    size_t used;
    if (lp2p_noise_new(&ic, ini) || lp2p_noise_new(&rc, rsp) || lp2p_noise_start(*ini))
        abort();
    lp2p_buf *io = lp2p_noise_out(*ini), *ro = lp2p_noise_out(*rsp);
    if (lp2p_noise_recv_handshake(*rsp, lp2p_buf_head(io), lp2p_buf_size(io), &used) != 0)
        abort();
    lp2p_buf_clear(io);
    if (lp2p_noise_recv_handshake(*ini, lp2p_buf_head(ro), lp2p_buf_size(ro), &used) != 1)
        abort();
    lp2p_buf_clear(ro);
    if (lp2p_noise_recv_handshake(*rsp, lp2p_buf_head(io), lp2p_buf_size(io), &used) != 1)
        abort();
    lp2p_buf_clear(io);
}

static void handshake(lp2p_keypair *ik, lp2p_keypair *rk, lp2p_noise **ini, lp2p_noise **rsp)
{
    handshake_with(ik, rk, NULL, NULL, ini, rsp);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    if (secs <= 0)
        secs = 2.0;
    lp2p_log_set_level(LP2P_ERROR);
    lp2p_keypair *ik, *rk;
    if (lp2p_keypair_generate(&ik) || lp2p_keypair_generate(&rk))
        return 1;

    /* Handshakes: both ends, so one count = one connection's security setup. */
    long hs = 0;
    double t0 = now_s(), t;
    do {
        lp2p_noise *a, *b;
        handshake(ik, rk, &a, &b);
        lp2p_noise_del(a);
        lp2p_noise_del(b);
        hs++;
    } while ((t = now_s()) - t0 < secs);
    double hs_rate = hs / (t - t0);
    printf("handshakes/s (both sides, one core): %.0f\n", hs_rate);

    /* The host's path: static keys signed once, verified signatures remembered. */
    lp2p_noise_static ist = {0}, rst = {0};
    if (lp2p_noise_static_init(&ist, ik, &LP2P_RNG_OPENSSL) ||
        lp2p_noise_static_init(&rst, rk, &LP2P_RNG_OPENSSL))
        return 1;
    long hs2 = 0;
    t0 = now_s();
    do {
        lp2p_noise *a, *b;
        handshake_with(ik, rk, &ist, &rst, &a, &b);
        lp2p_noise_del(a);
        lp2p_noise_del(b);
        hs2++;
    } while ((t = now_s()) - t0 < secs);
    double host_rate = hs2 / (t - t0);
    printf("handshakes/s, host path (static keys once, signatures remembered): %.0f\n", host_rate);
    lp2p_noise_static_wipe(&ist);
    lp2p_noise_static_wipe(&rst);

    lp2p_noise *a, *b;
    handshake(ik, rk, &a, &b);
    size_t chunk = 1u << 20; /* 1 MiB writes -> 16 full frames + 1 short one */
    uint8_t *data = malloc(chunk);
    if (!data || lp2p_random_bytes(data, chunk))
        return 1;
    lp2p_buf wire, pt;
    lp2p_buf_init(&wire);
    lp2p_buf_init(&pt);

    /* Encrypt only. */
    double bytes = 0;
    t0 = now_s();
    do {
        lp2p_buf_clear(&wire);
        if (lp2p_noise_encrypt(a, data, chunk, &wire))
            abort();
        bytes += (double)chunk;
    } while ((t = now_s()) - t0 < secs);
    double enc = bytes / (t - t0) / 1e6;
    printf("encrypt MB/s: %.0f (%.2f Gbit/s)\n", enc, enc * 8 / 1000);

    /* Decrypt only: pre-encrypt a batch with a fresh pair, replay decryption in order. */
    lp2p_noise_del(a);
    lp2p_noise_del(b);
    handshake(ik, rk, &a, &b);
    int batch = 256; /* 256 MiB of wire */
    lp2p_buf_clear(&wire);
    for (int i = 0; i < batch; i++)
        if (lp2p_noise_encrypt(a, data, chunk, &wire))
            abort();
    size_t per = lp2p_buf_size(&wire) / (size_t)batch;
    bytes = 0;
    t0 = now_s();
    int i = 0;
    for (; i < batch; i++) {
        lp2p_buf_clear(&pt);
        if (lp2p_noise_decrypt(b, lp2p_buf_head(&wire) + (size_t)i * per, per, &pt))
            abort();
        bytes += (double)chunk;
        if ((t = now_s()) - t0 >= secs)
            break;
    }
    t = now_s();
    double dec = bytes / (t - t0) / 1e6;
    printf("decrypt MB/s: %.0f (%.2f Gbit/s)\n", dec, dec * 8 / 1000);
    printf("{\"bench\":\"noise\",\"handshakes_per_s\":%.0f,\"host_path_handshakes_per_s\":%.0f,"
           "\"encrypt_MBps\":%.0f,\"decrypt_MBps\":%.0f}\n",
           hs_rate, host_rate, enc, dec);

    lp2p_buf_free(&wire);
    lp2p_buf_free(&pt);
    free(data);
    lp2p_noise_del(a);
    lp2p_noise_del(b);
    lp2p_keypair_del(ik);
    lp2p_keypair_del(rk);
    return 0;
}
