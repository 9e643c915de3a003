/* multistream-select line reader. Byte 0: bit 0 picks the role (0 listener, 1 dialer),
 * bits 1-7 the read size; the rest is what the peer sent. Invariants: consumed <= len,
 * "need more" consumes everything, the outbound buffer stays bounded, a finished
 * negotiation has a selected protocol, errors are sticky. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "proto/mss.h"

static int supports(void *user, const char *proto)
{
    (void)user;
    return strcmp(proto, "/noise") == 0 || strcmp(proto, "/yamux/1.0.0") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const protos[] = {"/yamux/2.0.0", "/yamux/1.0.0"};
    static const char *const one[] = {"/noise"};
    static const char *const ls[] = {"/noise", "/yamux/1.0.0"};
    if (size < 1)
        return 0;
    int dialer = data[0] & 1;
    size_t chunk = (size_t)(data[0] >> 1) + 1;
    data++, size--;

    lp2p_mss m;
    if (dialer) {
        if (lp2p_mss_init_dialer(&m, (size & 1) ? one : protos, (size & 1) ? 1 : 2, size & 1))
            abort();
    } else {
        if (lp2p_mss_init_listener(&m, supports, NULL))
            abort();
        lp2p_mss_set_ls(&m, ls, 2);
    }
    size_t pos = 0;
    int rc = 0;
    while (pos < size) {
        size_t len = size - pos < chunk ? size - pos : chunk, used;
        rc = lp2p_mss_recv(&m, data + pos, len, &used);
        if (used > len)
            abort();
        if (rc == 0 && used != len)
            abort();
        if (rc == 1 && !lp2p_mss_selected(&m))
            abort();
        /* outbound: at most one header plus one answer per accepted line */
        if (lp2p_buf_size(&m.out) > 64 + 64 * (LP2P_MSS_MAX_PROPOSALS + 2) + 2 * 1024)
            abort();
        lp2p_buf_consume(&m.out, lp2p_buf_size(&m.out));
        if (rc != 0)
            break;
        pos += len;
    }
    if (rc < 0) {
        size_t used;
        if (lp2p_mss_recv(&m, (const uint8_t *)"\x03na\n", 4, &used) != rc || used != 0)
            abort();
    }
    lp2p_mss_free(&m);
    return 0;
}
