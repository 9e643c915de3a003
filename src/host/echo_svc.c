/* Echo server (/echo/1.0.0): every byte back until EOF, then close. The host's backpressure
 * stops granting the peer window while our echo output is queued, so a peer that never reads
 * cannot make us buffer more than the high-water mark. */
#include "host/host_internal.h"

static void echo_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    if (lp2p_stream_write(s, p, n) < 0)
        lp2p_stream_reset(s);
}

static void echo_on_eof(lp2p_stream *s, void *ud)
{
    lp2p_stream_close(s);
}

static const lp2p_stream_callbacks k_echo = {.on_data = echo_on_data, .on_eof = echo_on_eof};

int lp2p_host_serve_echo(lp2p_host *h)
{
    return lp2p_host_handle(h, LP2P_ECHO_PROTO, &k_echo, NULL);
}
