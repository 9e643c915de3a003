/* gRPC message gzip in memory (src/kaspa/grpc_frame.c), the codec Kaspa peers use on every
 * message: compress (frame_append at level 1, Kaspa's default) and then decompress
 * (deframe) N messages of SIZE bytes, for two payloads: "random" (what `kaspa_load --burst`
 * sends: xorshift bytes, incompressible) and "mixed" (protobuf-like: 32-byte hashes among
 * small varint fields and repeated structure, compresses about 2:1). Baseline: memcpy of
 * the same bytes.
 *
 *   bench_gzip [N] [SIZE]          defaults 2000 messages of 65536 bytes
 * Prints one JSON line per payload: MB/s of message bytes through compress + decompress,
 * and the compressed size. Deterministic work for a fixed N, so callgrind counts compare. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kaspa/grpc_frame.h"
#include "lp2p/err.h"

static double secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t seen;
static int count(void *u, const uint8_t *m, size_t n)
{
    (void)u;
    (void)m;
    seen += n;
    return 0;
}

static void fill_random(uint8_t *p, size_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

/* Records of: tag, a 32-byte hash, tag + small varints, a repeated 12-byte script prefix. */
static void fill_mixed(uint8_t *p, size_t n)
{
    uint64_t x = 0x243f6a8885a308d3ull;
    size_t i = 0;
    while (i < n) {
        uint8_t rec[64];
        size_t k = 0;
        rec[k++] = 0x0a;
        rec[k++] = 32;
        for (int j = 0; j < 32; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            rec[k++] = (uint8_t)x;
        }
        rec[k++] = 0x10;
        rec[k++] = (uint8_t)(x & 0x7f);
        rec[k++] = 0x18;
        rec[k++] = 0x01;
        static const uint8_t script[12] = {0x22, 0x0a, 0x20, 0x76, 0xa9, 0x14,
                                           0x88, 0xac, 0x00, 0x00, 0x00, 0x01};
        memcpy(rec + k, script, sizeof script);
        k += sizeof script;
        for (size_t j = 0; j < k && i < n; j++)
            p[i++] = rec[j];
    }
}

static int run(const char *name, const uint8_t *msg, size_t size, long n)
{
    lp2p_buf out;
    lp2p_buf_init(&out);
    void *zs = NULL;
    kaspa_grpc_deframer d;
    kaspa_grpc_deframer_init(&d, 16u << 20);
    size_t wire = 0;
    seen = 0;
    double t0 = secs();
    for (long i = 0; i < n; i++) {
        lp2p_buf_clear(&out);
        if (kaspa_grpc_frame_append(&out, msg, size, 1, &zs) != 0)
            return 1;
        wire = lp2p_buf_size(&out);
        if (kaspa_grpc_deframe(&d, lp2p_buf_head(&out), wire, count, NULL) != 0)
            return 1;
    }
    double t = secs() - t0;
    if (seen != (size_t)n * size)
        return 1;
    /* the memcpy baseline over the same bytes */
    uint8_t *copy = malloc(size);
    double t1 = secs();
    for (long i = 0; i < n; i++) {
        memcpy(copy, msg, size);
        __asm__ volatile("" : : "r"(copy) : "memory");
    }
    double tc = secs() - t1;
    free(copy);
    printf("{\"bench\":\"gzip\",\"payload\":\"%s\",\"messages\":%ld,\"size\":%zu,"
           "\"compressed\":%zu,\"MBps\":%.1f,\"memcpy_MBps\":%.1f}\n",
           name, n, size, wire - 5, (double)n * (double)size / t / 1e6,
           (double)n * (double)size / (tc > 0 ? tc : 1e-9) / 1e6);
    kaspa_grpc_deflate_free(&zs);
    kaspa_grpc_deframer_free(&d);
    lp2p_buf_free(&out);
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000;
    size_t size = argc > 2 ? (size_t)atol(argv[2]) : 65536;
    if (n <= 0 || size == 0 || size > (8u << 20)) {
        fprintf(stderr, "usage: bench_gzip [N] [SIZE <= 8 MiB]\n");
        return 2;
    }
    uint8_t *msg = malloc(size);
    if (!msg)
        return 1;
    fill_random(msg, size);
    int rc = run("random", msg, size, n);
    fill_mixed(msg, size);
    rc |= run("mixed", msg, size, n);
    free(msg);
    return rc;
}
