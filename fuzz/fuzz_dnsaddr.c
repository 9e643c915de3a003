/* One dnsaddr TXT record (src/host/dnsaddr_record.c), as a hostile zone would serve it.
 * Byte 0 picks whether a /p2p/ID is asked for (odd: yes, the ID below). Invariants: DIAL and
 * RECURSE fill *out with an address of the promised shape that prints and, when an ID was
 * asked for, ends in it; the other verdicts leave *out empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/dnsaddr_record.h"
#include "lp2p/err.h"
#include "wire/multiaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    lp2p_peer_id want;
    int ask = data[0] & 1;
    if (ask && lp2p_peer_id_parse("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq", &want))
        abort();
    lp2p_multiaddr out = {0};
    dnsaddr_rec r = lp2p_dnsaddr_record(data + 1, size - 1, ask ? &want : NULL, &out);
    if (r != DNSADDR_REC_DIAL && r != DNSADDR_REC_RECURSE) {
        if (out.bytes || out.len)
            abort();
        return 0;
    }
    char text[LP2P_MULTIADDR_STR_MAX];
    if (lp2p_multiaddr_to_string(&out, text, sizeof(text)) != 0)
        abort();
    lp2p_peer_id got;
    if (ask && (lp2p_multiaddr_peer_id(&out, &got) != 0 || !lp2p_peer_id_equal(&got, &want)))
        abort();
    if (r == DNSADDR_REC_DIAL) {
        char host[LP2P_MULTIADDR_DNSMAX + 1];
        uint16_t port;
        int family;
        if (lp2p_multiaddr_host_port(&out, host, sizeof(host), &port, &family) != 0)
            abort();
    } else if (strncmp(text, "/dnsaddr/", 9) != 0) {
        abort();
    }
    lp2p_multiaddr_free(&out);
    return 0;
}
