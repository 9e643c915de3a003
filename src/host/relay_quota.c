/* Relay quota: see relay_quota.h. Slots are few (the quota), so lookups are linear. */
#include "host/relay_quota.h"
#include "lp2p/err.h"

#include <stdlib.h>

enum { SLOT_FREE = 0, SLOT_PENDING, SLOT_CONFIRMED };

typedef struct quota_slot {
    int state;
    lp2p_peer_id relay;
} quota_slot;

struct lp2p_relay_quota {
    size_t n;
    quota_slot slots[];
};

int lp2p_relay_quota_new(size_t max_relays, lp2p_relay_quota **out)
{
    *out = NULL;
    if (max_relays == 0 || max_relays > 1024)
        return LP2P_ERR_INVAL;
    lp2p_relay_quota *q = calloc(1, sizeof(*q) + max_relays * sizeof(q->slots[0]));
    if (!q)
        return LP2P_ERR_NOMEM;
    q->n = max_relays;
    *out = q;
    return 0;
}

void lp2p_relay_quota_del(lp2p_relay_quota *q)
{
    free(q);
}

/* The relay's peer ID from …/p2p/<relay>; INVAL for circuits and addresses without /p2p. */
static int relay_id(const lp2p_multiaddr *ma, lp2p_peer_id *id)
{
    if (!ma || !ma->len || lp2p_multiaddr_is_circuit(ma))
        return LP2P_ERR_INVAL;
    return lp2p_multiaddr_peer_id(ma, id) == 0 ? 0 : LP2P_ERR_INVAL;
}

static quota_slot *slot_of(const lp2p_relay_quota *q, const lp2p_multiaddr *relay_addr, int *rc)
{
    lp2p_peer_id id;
    *rc = relay_id(relay_addr, &id);
    if (*rc < 0)
        return NULL;
    for (size_t i = 0; i < q->n; i++) {
        const quota_slot *s = &q->slots[i];
        if (s->state != SLOT_FREE && lp2p_peer_id_equal(&s->relay, &id))
            return (quota_slot *)s;
    }
    *rc = LP2P_ERR_NOT_FOUND;
    return NULL;
}

int lp2p_relay_quota_reserve(lp2p_relay_quota *q, const lp2p_multiaddr *relay_addr)
{
    int rc;
    if (slot_of(q, relay_addr, &rc))
        return LP2P_ERR_EXISTS;
    if (rc != LP2P_ERR_NOT_FOUND)
        return rc;
    for (size_t i = 0; i < q->n; i++) {
        quota_slot *s = &q->slots[i];
        if (s->state == SLOT_FREE) {
            relay_id(relay_addr, &s->relay);
            s->state = SLOT_PENDING;
            return 0;
        }
    }
    return LP2P_ERR_LIMIT;
}

int lp2p_relay_quota_confirm(lp2p_relay_quota *q, const lp2p_multiaddr *relay_addr)
{
    int rc;
    quota_slot *s = slot_of(q, relay_addr, &rc);
    if (!s)
        return rc;
    if (s->state != SLOT_PENDING)
        return LP2P_ERR_STATE;
    s->state = SLOT_CONFIRMED;
    return 0;
}

int lp2p_relay_quota_release(lp2p_relay_quota *q, const lp2p_multiaddr *relay_addr)
{
    int rc;
    quota_slot *s = slot_of(q, relay_addr, &rc);
    if (!s)
        return rc;
    s->state = SLOT_FREE;
    return 0;
}

static size_t count_in(const lp2p_relay_quota *q, int state)
{
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++)
        n += q->slots[i].state == state;
    return n;
}

size_t lp2p_relay_quota_npending(const lp2p_relay_quota *q)
{
    return count_in(q, SLOT_PENDING);
}

size_t lp2p_relay_quota_nconfirmed(const lp2p_relay_quota *q)
{
    return count_in(q, SLOT_CONFIRMED);
}

int lp2p_relay_quota_is_pending(const lp2p_relay_quota *q, const lp2p_multiaddr *relay_addr)
{
    int rc;
    const quota_slot *s = slot_of(q, relay_addr, &rc);
    return s && s->state == SLOT_PENDING;
}

int lp2p_relay_quota_is_confirmed(const lp2p_relay_quota *q, const lp2p_multiaddr *relay_addr)
{
    int rc;
    const quota_slot *s = slot_of(q, relay_addr, &rc);
    return s && s->state == SLOT_CONFIRMED;
}
