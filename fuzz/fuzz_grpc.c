/* gRPC framing and the HTTP/2 server endpoint.
 * Byte 0 picks the target:
 *   even: the 5-byte message deframer with gzip (1 MiB limit), fed in two pieces split at
 *         byte 1; every delivered message is within the limit; never a crash or a leak.
 *   odd:  a Kaspa server session that already got a valid client preface and request
 *         HEADERS (made by our own client), then the rest as raw HTTP/2 bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/random.h"
#include "kaspa/grpc.h"
#include "kaspa/grpc_frame.h" /* src/kaspa/grpc_frame.h */
#include "kaspa/session.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_msg(void *u, const uint8_t *m, size_t n)
{
    if (n > (1u << 20))
        abort();
    return 0;
}

static void deframe(const uint8_t *d, size_t n)
{
    kaspa_grpc_deframer df;
    kaspa_grpc_deframer_init(&df, 1u << 20);
    size_t split = n ? d[0] % (n + 1) : 0;
    if (kaspa_grpc_deframe(&df, d, split, check_msg, NULL) == 0)
        kaspa_grpc_deframe(&df, d + split, n - split, check_msg, NULL);
    kaspa_grpc_deframer_free(&df);
}

static void server(const uint8_t *d, size_t n)
{
    static kaspa_hub *hs, *hc;
    if (!hs) {
        lp2p_log_set_level(LP2P_ERROR + 1);
        kaspa_hub_new(&hs, NULL, &LP2P_RNG_OPENSSL);
        kaspa_hub_new(&hc, NULL, &LP2P_RNG_OPENSSL);
    }
    kaspa_session_config sc, cc;
    kaspa_session_config_default(&sc, hs, KASPA_H2_PROFILE_TCP);
    sc.rng = LP2P_RNG_OPENSSL;
    kaspa_session_config_default(&cc, hc, KASPA_H2_PROFILE_TCP);
    cc.rng = LP2P_RNG_OPENSSL;
    sc.grpc.max_message_size = 1u << 20;
    kaspa_session *s, *c;
    if (kaspa_session_new(&s, &sc, KASPA_SERVER, NULL, NULL, 0) != 0)
        return;
    if (kaspa_session_new(&c, &cc, KASPA_CLIENT, NULL, NULL, 0) != 0) {
        kaspa_session_del(s);
        return;
    }
    lp2p_buf *co = kaspa_session_out(c);
    kaspa_session_recv(s, lp2p_buf_head(co), lp2p_buf_size(co), 1);
    uint64_t now = 2;
    /* feed in chunks sized by the input itself, ticking the clock between them */
    size_t i = 0;
    while (i < n) {
        size_t chunk = 1 + (d[i] % 64);
        i++;
        if (chunk > n - i)
            chunk = n - i;
        kaspa_session_recv(s, d + i, chunk, now);
        i += chunk;
        now += 500;
        kaspa_session_tick(s, now);
        lp2p_buf *so = kaspa_session_out(s);
        if (lp2p_buf_size(so) > (64u << 20))
            abort(); /* output must stay bounded */
        lp2p_buf_consume(so, lp2p_buf_size(so));
    }
    kaspa_session_del(c);
    kaspa_session_del(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        server(data + 1, size - 1);
    else
        deframe(data + 1, size - 1);
    return 0;
}
