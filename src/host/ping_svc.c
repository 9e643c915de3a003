/* Ping responder (/ipfs/ping/1.0.0, libp2p-wire.md A7): echo every 32-byte block until the
 * dialer closes. At most 2 ping streams per connection are served, as the spec suggests. */
#include "host/host_internal.h"
#include "lp2p/err.h"

#include <string.h>

#define PING_PROTO       "/ipfs/ping/1.0.0"
#define PING_MAX_STREAMS 2

static int ping_streams_on(lp2p_conn *c)
{
    int n = 0;
    lp2p_list *pos;
    for (pos = c->streams.next; pos != &c->streams; pos = pos->next) {
        lp2p_stream *s = lp2p_container_of(pos, lp2p_stream, link);
        if (!s->outbound && s->proto && s->stage == STREAM_OPEN &&
            strcmp(s->proto, PING_PROTO) == 0)
            n++;
    }
    return n;
}

static void ping_on_open(lp2p_stream *s, void *ud)
{
    if (ping_streams_on(lp2p_stream_conn(s)) > PING_MAX_STREAMS)
        lp2p_stream_reset(s);
}

static void ping_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    lp2p_stream_write(s, p, n);
}

static void ping_on_eof(lp2p_stream *s, void *ud)
{
    lp2p_stream_close(s);
}

static const lp2p_stream_callbacks k_ping = {
    .on_open = ping_on_open,
    .on_data = ping_on_data,
    .on_eof = ping_on_eof,
};

void lp2p__ping_register(lp2p_host *h)
{
    lp2p_host_handle(h, PING_PROTO, &k_ping, NULL);
}
