/* The hub: our node id and the connected (node id, IP) pairs behind rusty-kaspa's
 * duplicate-connection check, shared by every session of the process. See hub.h. */
#include "kaspa/hub.h" /* src/kaspa/hub.h */
#include "lp2p/err.h"
#include "util/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef struct hub_entry {
    uint8_t id[KASPA_NODE_ID_LEN];
    uint8_t ip[16];
} hub_entry;

struct kaspa_hub {
    uint8_t node_id[KASPA_NODE_ID_LEN];
    hub_entry *v;
    size_t n, cap;
};

int kaspa_hub_new(kaspa_hub **out, const uint8_t node_id[KASPA_NODE_ID_LEN], const lp2p_rng *rng)
{
    kaspa_hub *h = calloc(1, sizeof(*h));
    if (!h)
        return LP2P_ERR_NOMEM;
    if (node_id) {
        memcpy(h->node_id, node_id, KASPA_NODE_ID_LEN);
    } else {
        int rc = lp2p_rng_fill(rng, h->node_id, KASPA_NODE_ID_LEN);
        if (rc != 0) {
            free(h);
            return rc;
        }
        h->node_id[6] = (uint8_t)((h->node_id[6] & 0x0f) | 0x40); /* UUID v4 */
        h->node_id[8] = (uint8_t)((h->node_id[8] & 0x3f) | 0x80);
    }
    *out = h;
    return 0;
}

void kaspa_hub_del(kaspa_hub *h)
{
    if (!h)
        return;
    free(h->v);
    free(h);
}

const uint8_t *kaspa_hub_node_id(const kaspa_hub *h)
{
    return h->node_id;
}

size_t kaspa_hub_count(const kaspa_hub *h)
{
    return h->n;
}

static ssize_t hub_find(const kaspa_hub *h, const uint8_t *id, const uint8_t *ip)
{
    for (size_t i = 0; i < h->n; i++)
        if (memcmp(h->v[i].id, id, KASPA_NODE_ID_LEN) == 0 && memcmp(h->v[i].ip, ip, 16) == 0)
            return (ssize_t)i;
    return -1;
}

int kaspa_hub_contains(const kaspa_hub *h, const uint8_t id[KASPA_NODE_ID_LEN],
                       const kaspa_addr *addr)
{
    return hub_find(h, id, addr->ip) >= 0;
}

int kaspa_hub_add_(kaspa_hub *h, const uint8_t id[KASPA_NODE_ID_LEN], const kaspa_addr *addr)
{
    if (hub_find(h, id, addr->ip) >= 0)
        return LP2P_ERR_EXISTS;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        hub_entry *v = realloc(h->v, cap * sizeof(*v));
        if (!v)
            return LP2P_ERR_NOMEM;
        h->v = v;
        h->cap = cap;
    }
    memcpy(h->v[h->n].id, id, KASPA_NODE_ID_LEN);
    memcpy(h->v[h->n].ip, addr->ip, 16);
    h->n++;
    return 0;
}

void kaspa_hub_remove_(kaspa_hub *h, const uint8_t id[KASPA_NODE_ID_LEN], const kaspa_addr *addr)
{
    ssize_t i = hub_find(h, id, addr->ip);
    if (i >= 0)
        h->v[i] = h->v[--h->n];
}

int kaspa_node_id_parse(const char *s, uint8_t out[KASPA_NODE_ID_LEN])
{
    if (strlen(s) != 2 * KASPA_NODE_ID_LEN)
        return -1;
    for (size_t i = 0; i < KASPA_NODE_ID_LEN; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}
