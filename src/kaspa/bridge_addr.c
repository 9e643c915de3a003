/* Loopback address per remote peer (include/kaspa/bridge.h has the derivation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "kaspa/bridge.h"
#include "lp2p/err.h"

static const char LOOPBACK_DOMAIN[] = "kaspa-bridge-loopback/1";

int kaspa_loopback_candidate(const lp2p_peer_id *peer, uint32_t salt, kaspa_loopback *out)
{
    if (!peer || !out || peer->len == 0 || peer->len > LP2P_PEER_ID_MAX)
        return LP2P_ERR_INVAL;
    uint8_t pre[sizeof LOOPBACK_DOMAIN - 1 + 4];
    memcpy(pre, LOOPBACK_DOMAIN, sizeof LOOPBACK_DOMAIN - 1);
    uint8_t *s = pre + sizeof LOOPBACK_DOMAIN - 1;
    s[0] = (uint8_t)(salt >> 24);
    s[1] = (uint8_t)(salt >> 16);
    s[2] = (uint8_t)(salt >> 8);
    s[3] = (uint8_t)salt;
    uint8_t d[LP2P_SHA256_LEN];
    if (lp2p_sha256_2(pre, sizeof pre, peer->bytes, peer->len, d) != 0)
        return LP2P_ERR_NOMEM;
    for (int i = 0; i < 3; i++)
        if (d[i] == 0 || d[i] == 255)
            return LP2P_ERR_INVAL;
    out->ip[0] = 127;
    out->ip[1] = d[0];
    out->ip[2] = d[1];
    out->ip[3] = d[2];
    return 0;
}

int kaspa_loopback_derive(const lp2p_peer_id *peer, uint32_t *salt, kaspa_loopback *out)
{
    for (; *salt < KASPA_LOOPBACK_MAX_SALT; (*salt)++) {
        int rc = kaspa_loopback_candidate(peer, *salt, out);
        if (rc != LP2P_ERR_INVAL)
            return rc;
        if (!peer || peer->len == 0 || peer->len > LP2P_PEER_ID_MAX)
            return LP2P_ERR_INVAL;
    }
    return LP2P_ERR_LIMIT;
}

static int peer_cmp(const lp2p_peer_id *a, const lp2p_peer_id *b)
{
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->bytes, b->bytes, a->len);
}

static const lp2p_peer_id *sort_base;

static int index_cmp(const void *x, const void *y)
{
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    int c = peer_cmp(&sort_base[i], &sort_base[j]);
    return c ? c : (i < j ? -1 : i > j);
}

int kaspa_loopback_assign(const lp2p_peer_id *peers, size_t n, kaspa_loopback *out)
{
    if (n == 0)
        return 0;
    if (!peers || !out)
        return LP2P_ERR_INVAL;
    size_t *order = malloc(n * sizeof *order);
    if (!order)
        return LP2P_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sort_base = peers;
    qsort(order, n, sizeof *order, index_cmp);
    sort_base = NULL;
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        size_t i = order[k];
        if (k > 0 && peer_cmp(&peers[order[k - 1]], &peers[i]) == 0) {
            out[i] = out[order[k - 1]];
            continue;
        }
        uint32_t salt = 0;
        for (;;) {
            rc = kaspa_loopback_derive(&peers[i], &salt, &out[i]);
            if (rc != 0)
                break;
            int taken = 0;
            for (size_t e = 0; e < k && !taken; e++)
                taken = memcmp(out[order[e]].ip, out[i].ip, 4) == 0;
            if (!taken)
                break;
            salt++;
        }
    }
    free(order);
    return rc;
}

char *kaspa_loopback_str(const kaspa_loopback *a, char *out)
{
    snprintf(out, KASPA_LOOPBACK_STR_MAX, "%u.%u.%u.%u", a->ip[0], a->ip[1], a->ip[2], a->ip[3]);
    return out;
}
