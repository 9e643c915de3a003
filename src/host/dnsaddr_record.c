/* Judging one dnsaddr TXT record: see dnsaddr_record.h. */
#include "host/dnsaddr_record.h"

#include <string.h>

#define PREFIX "dnsaddr="

dnsaddr_rec lp2p_dnsaddr_record(const uint8_t *txt, size_t n, const lp2p_peer_id *want,
                                lp2p_multiaddr *out)
{
    const size_t pl = sizeof(PREFIX) - 1;
    if (n < pl || memcmp(txt, PREFIX, pl) != 0)
        return DNSADDR_REC_IGNORED;
    if (n - pl >= DNSADDR_RECORD_MAX || memchr(txt + pl, '\0', n - pl))
        return DNSADDR_REC_UNUSABLE;
    char text[DNSADDR_RECORD_MAX];
    memcpy(text, txt + pl, n - pl);
    text[n - pl] = '\0';
    lp2p_multiaddr ma = {0};
    if (lp2p_multiaddr_parse(&ma, text, NULL, 0) != 0)
        return DNSADDR_REC_UNUSABLE;
    lp2p_peer_id id;
    int has_id = lp2p_multiaddr_peer_id(&ma, &id) == 0;
    if (want && (!has_id || !lp2p_peer_id_equal(&id, want))) {
        lp2p_multiaddr_free(&ma);
        return DNSADDR_REC_OTHER_PEER;
    }
    /* The shapes we follow: a TCP address (ip or dns name) or another dnsaddr, each with at
     * most a /p2p/ID after it. Circuits are not followed: a relay behind a relay. */
    lp2p_ma_iter it;
    lp2p_ma_component first, c;
    lp2p_ma_iter_init(&it, &ma);
    lp2p_ma_iter_next(&it, &first);
    if (first.code == LP2P_MA_DNSADDR) {
        int rc = lp2p_ma_iter_next(&it, &c);
        if (rc == 1 && c.code == LP2P_MA_P2P)
            rc = lp2p_ma_iter_next(&it, &c);
        if (rc == 0) {
            *out = ma;
            return DNSADDR_REC_RECURSE;
        }
    } else {
        char host[LP2P_MULTIADDR_DNSMAX + 1];
        uint16_t port;
        int family;
        if (lp2p_multiaddr_host_port(&ma, host, sizeof(host), &port, &family) == 0) {
            *out = ma;
            return DNSADDR_REC_DIAL;
        }
    }
    lp2p_multiaddr_free(&ma);
    return DNSADDR_REC_UNUSABLE;
}
