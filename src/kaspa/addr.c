/* Kaspa peer addresses and the synthetic fd00::/8 address for libp2p peers. */
#include "kaspa/session.h"
#include "crypto/hash.h"
#include "lp2p/err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t V4MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void kaspa_addr_ipv4(kaspa_addr *a, const uint8_t ip4[4], uint16_t port)
{
    memcpy(a->ip, V4MAPPED, 12);
    memcpy(a->ip + 12, ip4, 4);
    a->port = port;
}

int kaspa_addr_is_ipv4(const kaspa_addr *a)
{
    return memcmp(a->ip, V4MAPPED, 12) == 0;
}

int kaspa_addr_format(const kaspa_addr *a, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN];
    int w;
    if (kaspa_addr_is_ipv4(a)) {
        inet_ntop(AF_INET, a->ip + 12, ip, sizeof ip);
        w = snprintf(out, n, "%s:%u", ip, a->port);
    } else {
        inet_ntop(AF_INET6, a->ip, ip, sizeof ip);
        w = snprintf(out, n, "[%s]:%u", ip, a->port);
    }
    return (w < 0 || (size_t)w >= n) ? LP2P_ERR_INVAL : 0;
}

int kaspa_addr_parse(const char *s, kaspa_addr *a)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return LP2P_ERR_INVAL;
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof host)
        return LP2P_ERR_INVAL;
    memcpy(host, s, hl);
    host[hl] = 0;
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port > 65535)
        return LP2P_ERR_INVAL;
    memset(a, 0, sizeof(*a));
    a->port = (uint16_t)port;
    uint8_t v4[4];
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        host[hl - 1] = 0;
        return inet_pton(AF_INET6, host + 1, a->ip) == 1 ? 0 : LP2P_ERR_INVAL;
    }
    if (inet_pton(AF_INET, host, v4) != 1)
        return LP2P_ERR_INVAL;
    kaspa_addr_ipv4(a, v4, (uint16_t)port);
    return 0;
}

int kaspa_synthetic_addr(const lp2p_peer_id *peer, uint8_t ip[16], uint16_t *port)
{
    uint8_t h[LP2P_SHA256_LEN];
    if (!peer || peer->len == 0 || peer->len > LP2P_PEER_ID_MAX)
        return LP2P_ERR_INVAL;
    if (lp2p_sha256(peer->bytes, peer->len, h) != 0)
        return LP2P_ERR_CRYPTO;
    ip[0] = 0xfd;
    memcpy(ip + 1, h, 15);
    *port = (uint16_t)(1 + (((unsigned)h[15] << 8 | h[16]) % 65535u));
    return 0;
}

int kaspa_synthetic_addr_string(const lp2p_peer_id *peer, char *out, size_t n)
{
    kaspa_addr a;
    int rc = kaspa_synthetic_addr(peer, a.ip, &a.port);
    return rc ? rc : kaspa_addr_format(&a, out, n);
}

int kaspa_session_config_libp2p(kaspa_session_config *c, const lp2p_peer_id *peer, int relayed,
                                char *label, size_t label_len)
{
    int rc = kaspa_synthetic_addr(peer, c->peer_addr.ip, &c->peer_addr.port);
    if (rc)
        return rc;
    kaspa_grpc_config_default(&c->grpc, KASPA_H2_PROFILE_LIBP2P);
    c->relayed = relayed;
    if (label && label_len) {
        if (lp2p_peer_id_to_string(peer, label, label_len) != 0)
            snprintf(label, label_len, "unknown");
        c->peer_label = label;
    }
    return 0;
}
