/* Relay quota: random operation sequences against a small quota, checked after every step
 * against a shadow model of the state machine (free → pending → confirmed → free). The
 * relay addresses include ones of the same relay under two addresses (one slot), circuits and
 * addresses without /p2p (refused), and raw input bytes parsed as a multiaddr (refused or
 * handled like any other). Invariants: pending + confirmed <= quota; every return code is
 * the model's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/relay_quota.h"
#include "lp2p/err.h"
#include "wire/multiaddr.h"

#define NRELAYS 4
#define QUOTA   2

enum { FREE = 0, PENDING, CONFIRMED };

static lp2p_peer_id pid(uint8_t n)
{
    uint8_t mh[2 + 36] = {0x00, 36, 0x08, 0x01, 0x12, 0x20};
    memset(mh + 6, n + 1, 32);
    lp2p_peer_id id;
    if (lp2p_peer_id_from_bytes(mh, sizeof(mh), &id) != 0)
        abort();
    return id;
}

static void check(const lp2p_relay_quota *q, const lp2p_multiaddr *relay_ma, const int *model)
{
    size_t np = 0, nc = 0;
    for (int r = 0; r < NRELAYS; r++) {
        int pend = lp2p_relay_quota_is_pending(q, &relay_ma[r]);
        int conf = lp2p_relay_quota_is_confirmed(q, &relay_ma[r]);
        if (pend != (model[r] == PENDING) || conf != (model[r] == CONFIRMED))
            abort();
        np += pend;
        nc += conf;
    }
    if (np != lp2p_relay_quota_npending(q) || nc != lp2p_relay_quota_nconfirmed(q) ||
        np + nc > QUOTA)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp2p_relay_quota *q;
    if (lp2p_relay_quota_new(QUOTA, &q) != 0)
        abort();
    /* relay_ma[r]: /ip4/10.0.0.r/tcp/4001/p2p/<relay r>; alias[r]: the same relay elsewhere. */
    lp2p_multiaddr relay_ma[NRELAYS], alias[NRELAYS], bare, circ;
    memset(relay_ma, 0, sizeof(relay_ma));
    memset(alias, 0, sizeof(alias));
    memset(&bare, 0, sizeof(bare));
    memset(&circ, 0, sizeof(circ));
    for (int r = 0; r < NRELAYS; r++) {
        char t[64];
        lp2p_peer_id id = pid((uint8_t)r);
        snprintf(t, sizeof(t), "/ip4/10.0.0.%d/tcp/4001", r + 1);
        if (lp2p_multiaddr_parse(&relay_ma[r], t, NULL, 0) != 0 ||
            lp2p_multiaddr_append_p2p(&relay_ma[r], &id) != 0)
            abort();
        snprintf(t, sizeof(t), "/dns4/relay%d.example/tcp/443", r + 1);
        if (lp2p_multiaddr_parse(&alias[r], t, NULL, 0) != 0 ||
            lp2p_multiaddr_append_p2p(&alias[r], &id) != 0)
            abort();
    }
    if (lp2p_multiaddr_parse(&bare, "/ip4/10.0.0.1/tcp/4001", NULL, 0) != 0 ||
        lp2p_multiaddr_copy(&circ, &relay_ma[0]) != 0 || lp2p_multiaddr_append_circuit(&circ) != 0)
        abort();
    int model[NRELAYS] = {0};

    size_t i = 0;
    while (i < size) {
        uint8_t op = data[i++];
        int r = (op >> 4) % NRELAYS;
        /* the alias names the same slot as the relay's own address */
        const lp2p_multiaddr *a = (op & 0x08) ? &alias[r] : &relay_ma[r];
        int rc;
        switch (op & 0x07) {
        case 0: {
            int used = 0;
            for (int k = 0; k < NRELAYS; k++)
                used += model[k] != FREE;
            rc = lp2p_relay_quota_reserve(q, a);
            int want = model[r] != FREE ? LP2P_ERR_EXISTS : used >= QUOTA ? LP2P_ERR_LIMIT : 0;
            if (rc != want)
                abort();
            if (rc == 0)
                model[r] = PENDING;
            break;
        }
        case 1:
            rc = lp2p_relay_quota_confirm(q, a);
            if (rc != (model[r] == FREE      ? LP2P_ERR_NOT_FOUND
                       : model[r] == PENDING ? 0
                                             : LP2P_ERR_STATE))
                abort();
            if (rc == 0)
                model[r] = CONFIRMED;
            break;
        case 2:
            rc = lp2p_relay_quota_release(q, a);
            if (rc != (model[r] == FREE ? LP2P_ERR_NOT_FOUND : 0))
                abort();
            model[r] = FREE;
            break;
        case 3:
            /* without /p2p or a circuit: refused, nothing changes */
            if (lp2p_relay_quota_reserve(q, (op & 0x08) ? &bare : &circ) != LP2P_ERR_INVAL ||
                lp2p_relay_quota_release(q, (op & 0x08) ? &bare : &circ) != LP2P_ERR_INVAL)
                abort();
            break;
        default: {
            /* raw bytes as a relay address: refused, or a relay outside the model */
            size_t n = (op & 0x07) + 1u;
            if (n > size - i)
                n = size - i;
            lp2p_multiaddr m = {0};
            if (lp2p_multiaddr_from_bytes(&m, data + i, n, NULL, 0) == 0) {
                rc = lp2p_relay_quota_reserve(q, &m);
                if (rc == 0 && lp2p_relay_quota_release(q, &m) != 0)
                    abort();
                lp2p_multiaddr_free(&m);
            }
            i += n;
            break;
        }
        }
        check(q, relay_ma, model);
    }

    for (int k = 0; k < NRELAYS; k++) {
        lp2p_multiaddr_free(&relay_ma[k]);
        lp2p_multiaddr_free(&alias[k]);
    }
    lp2p_multiaddr_free(&bare);
    lp2p_multiaddr_free(&circ);
    lp2p_relay_quota_del(q);
    return 0;
}
