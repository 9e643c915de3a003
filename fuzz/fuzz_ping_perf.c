/* The ping and perf services' sans-IO cores (proto/ping.c, proto/perf.c), both roles, fed what
 * a hostile peer controls: arbitrary bytes in arbitrary splits, EOF at any point, partial
 * writes on our side, clock jumps. The first byte picks the core; the rest is a sequence of
 * (op, length) events with the payload bytes following. Invariants: no crash or leak, a
 * responder echoes exactly what it got in whole blocks, perf never writes past what it may
 * (the server past the request or its cap, the client past its upload), counters never
 * exceed what was fed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "proto/perf.h"
#include "proto/ping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_ping(int role, const uint8_t *d, size_t n)
{
    lp2p_ping p;
    lp2p_ping_init(&p, role ? LP2P_PING_RESPONDER : LP2P_PING_DIALER, 1000);
    uint64_t now = 0, fed = 0;
    static const uint8_t payload[LP2P_PING_SIZE] = {1, 2, 3};
    for (size_t i = 0; i + 1 < n;) {
        uint8_t op = d[i] % 4, len = d[i + 1];
        i += 2;
        size_t take = len < n - i ? len : n - i;
        switch (op) {
        case 0:
            lp2p_ping_recv(&p, d + i, take, now);
            fed += take;
            i += take;
            break;
        case 1:
            lp2p_ping_send(&p, payload, now);
            break;
        case 2:
            now += (uint64_t)len * 20;
            lp2p_ping_tick(&p, now);
            break;
        default:
            lp2p_ping_eof(&p);
            break;
        }
        /* what we write drains as the transport would take it */
        size_t out = lp2p_buf_size(&p.out);
        lp2p_buf_consume(&p.out, out > len ? len : out);
        if (role && p.count * LP2P_PING_SIZE > fed)
            abort(); /* echoed more blocks than were received */
    }
    lp2p_ping_free(&p);
}

static void fuzz_perf(int server, const uint8_t *d, size_t n)
{
    lp2p_perf_client c;
    lp2p_perf_server s;
    uint64_t now = 0, fed = 0;
    if (server)
        lp2p_perf_server_init(&s, 1u << 20, 1 + (n ? d[0] : 0) * 16, now);
    else
        lp2p_perf_client_init(&c, n ? d[0] * 100u : 0, n > 1 ? d[1] * 100u : 0, 0, now);
    for (size_t i = 0; i + 1 < n;) {
        uint8_t op = d[i] % 3, len = d[i + 1];
        i += 2;
        size_t take = len < n - i ? len : n - i;
        now += len;
        lp2p_view chunk = {0};
        lp2p_perf_action a =
            server ? lp2p_perf_server_next(&s, &chunk) : lp2p_perf_client_next(&c, &chunk);
        if (a == LP2P_PERF_WRITE && chunk.len > LP2P_PERF_CHUNK_MAX)
            abort();
        switch (op) {
        case 0: /* peer bytes */
            if (server)
                lp2p_perf_server_recv(&s, d + i, take, now);
            else
                lp2p_perf_client_recv(&c, d + i, take, now);
            fed += take;
            i += take;
            break;
        case 1: /* our side makes progress: a partial write, or the half-close */
            if (a == LP2P_PERF_WRITE) {
                size_t w = chunk.len < len ? chunk.len : len;
                if (server)
                    lp2p_perf_server_sent(&s, w, now);
                else
                    lp2p_perf_client_sent(&c, w, now);
            } else if (a == LP2P_PERF_CLOSE_WRITE) {
                if (server)
                    lp2p_perf_server_write_closed(&s, now);
                else
                    lp2p_perf_client_write_closed(&c, now);
            }
            break;
        default:
            if (server)
                lp2p_perf_server_eof(&s, now);
            else
                lp2p_perf_client_eof(&c, now);
            break;
        }
        if (server && (s.sent > s.to_send || s.sent > s.max_send || s.received > fed))
            abort();
        if (!server &&
            (c.uploaded > c.upload_bytes || c.downloaded > fed || c.downloaded > c.download_bytes))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0:
    case 1:
        fuzz_ping(data[0] % 2, data + 1, size - 1);
        break;
    default:
        fuzz_perf(data[0] % 2, data + 1, size - 1);
        break;
    }
    return 0;
}
