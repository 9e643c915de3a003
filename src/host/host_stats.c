/* Read-only views for metrics: see lp2p/host_stats.h. */
#include "host/host_internal.h"
#include "lp2p/host_stats.h"

void lp2p_conn_payload_bytes(const lp2p_conn *c, uint64_t *in, uint64_t *out)
{
    lp2p_yamux_stats st = {0};
    if (c->yamux)
        lp2p_yamux_stats_get(c->yamux, &st);
    *in = st.bytes_in;
    *out = st.bytes_out;
}

void lp2p_host_payload_bytes(const lp2p_host *h, int relayed, uint64_t *in, uint64_t *out)
{
    *in = *out = 0;
    for (const lp2p_list *pos = h->conns.next; pos != &h->conns; pos = pos->next) {
        const lp2p_conn *c = lp2p_container_of(pos, lp2p_conn, link);
        if (!c->reported_connected || c->stage == CONN_CLOSED || !c->relayed != !relayed)
            continue;
        uint64_t i, o;
        lp2p_conn_payload_bytes(c, &i, &o);
        *in += i;
        *out += o;
    }
}
