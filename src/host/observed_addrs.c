/* Observed-address table (observed_addrs.h). */
#include "host/observed_addrs.h"

#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

void lp2p_obs_key_from_sockaddr(const struct sockaddr_storage *ss, uint8_t key[LP2P_OBS_KEY_LEN])
{
    memset(key, 0, LP2P_OBS_KEY_LEN);
    if (ss->ss_family == AF_INET) {
        memcpy(key, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        key[15] = 6; /* keeps a /64 apart from an IPv4 address with the same leading bytes */
        memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 8);
    }
}

static void drop(lp2p_obs_table *t, size_t i)
{
    lp2p_multiaddr_free(&t->e[i].ma);
    memmove(&t->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof(t->e[0]));
    t->n--;
}

static void expire(lp2p_obs_table *t, uint64_t now)
{
    for (size_t i = t->n; i-- > 0;)
        if (now > t->e[i].last_ms && now - t->e[i].last_ms > LP2P_OBS_TTL_MS)
            drop(t, i);
}

/* 1 when a ranks before b: more observers, then seen more recently, then seen first. */
static int better(const lp2p_obs_entry *a, const lp2p_obs_entry *b)
{
    if (a->nobservers != b->nobservers)
        return a->nobservers > b->nobservers;
    if (a->last_ms != b->last_ms)
        return a->last_ms > b->last_ms;
    return a->first_ms < b->first_ms;
}

static lp2p_obs_entry *find(const lp2p_obs_table *t, const lp2p_multiaddr *ma)
{
    for (size_t i = 0; i < t->n; i++)
        if (lp2p_multiaddr_equal(&t->e[i].ma, ma))
            return (lp2p_obs_entry *)&t->e[i];
    return NULL;
}

int lp2p_obs_add(lp2p_obs_table *t, const uint8_t *b, size_t len,
                 const uint8_t key[LP2P_OBS_KEY_LEN], uint64_t now)
{
    lp2p_multiaddr ma = {0};
    int rc = lp2p_multiaddr_from_bytes(&ma, b, len, NULL, 0);
    if (rc < 0)
        return rc;
    lp2p_multiaddr_strip_p2p(&ma);
    expire(t, now);
    lp2p_obs_entry *e = find(t, &ma);
    if (e) {
        lp2p_multiaddr_free(&ma);
        e->last_ms = now;
        for (size_t i = 0; i < e->nobservers; i++)
            if (memcmp(e->observers[i], key, LP2P_OBS_KEY_LEN) == 0)
                return 0;
        if (e->nobservers == LP2P_OBS_MAX_OBSERVERS)
            return 0; /* saturated: as confirmed as it gets */
        memcpy(e->observers[e->nobservers++], key, LP2P_OBS_KEY_LEN);
        return 1;
    }
    if (t->n == LP2P_OBS_MAX_ADDRS) {
        size_t worst = 0;
        for (size_t i = 1; i < t->n; i++)
            if (better(&t->e[worst], &t->e[i]))
                worst = i;
        drop(t, worst);
    }
    e = &t->e[t->n++];
    memset(e, 0, sizeof(*e));
    e->ma = ma;
    memcpy(e->observers[0], key, LP2P_OBS_KEY_LEN);
    e->nobservers = 1;
    e->first_ms = e->last_ms = now;
    return 2;
}

size_t lp2p_obs_candidates(lp2p_obs_table *t, uint64_t now, const uint8_t **out, size_t *lens,
                           size_t max)
{
    expire(t, now);
    /* insertion sort of at most LP2P_OBS_MAX_ADDRS entries, in place */
    for (size_t i = 1; i < t->n; i++) {
        lp2p_obs_entry x = t->e[i];
        size_t j = i;
        for (; j > 0 && better(&x, &t->e[j - 1]); j--)
            t->e[j] = t->e[j - 1];
        t->e[j] = x;
    }
    size_t n = 0;
    for (; n < t->n && n < max; n++) {
        out[n] = t->e[n].ma.bytes;
        lens[n] = t->e[n].ma.len;
    }
    return n;
}

unsigned lp2p_obs_observers(const lp2p_obs_table *t, const lp2p_multiaddr *ma)
{
    const lp2p_obs_entry *e = find(t, ma);
    return e ? e->nobservers : 0;
}

void lp2p_obs_free(lp2p_obs_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        lp2p_multiaddr_free(&t->e[i].ma);
    t->n = 0;
}
