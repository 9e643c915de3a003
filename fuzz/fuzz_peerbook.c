/* Peer book: random operation sequences against small limits, checked after every step.
 * Invariants: the limits hold (peers, addresses per peer, pending + confirmed <= quota); the
 * relay slots follow a shadow model of the state machine exactly; candidates are stored
 * addresses in class order (public, private, relayed), never expired, never backing off;
 * expire leaves nothing due at `now`. Raw input bytes are also fed to add_addr as multiaddrs,
 * which must either be refused or stored. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host/peerbook.h"
#include "lp2p/err.h"
#include "wire/multiaddr.h"

#define NPEERS  6
#define NADDRS  8
#define NRELAYS 4

enum { FREE = 0, PENDING, CONFIRMED };

static const char *const k_addrs[NADDRS] = {
    "/ip4/8.8.8.8/tcp/1",     "/ip4/8.8.4.4/tcp/2", "/ip4/10.0.0.1/tcp/3",
    "/ip4/127.0.0.1/tcp/4",   "/ip6/::1/tcp/5",     "/dns4/example.com/tcp/6",
    "/ip4/192.168.0.1/tcp/7", "/ip4/1.1.1.1/tcp/8",
};

static lp2p_peer_id pid(uint8_t n)
{
    uint8_t mh[2 + 36] = {0x00, 36, 0x08, 0x01, 0x12, 0x20};
    memset(mh + 6, n + 1, 32);
    lp2p_peer_id id;
    if (lp2p_peer_id_from_bytes(mh, sizeof(mh), &id) != 0)
        abort();
    return id;
}

static int klass(const lp2p_peerbook_addr_info *i)
{
    return i->relayed ? 2 : i->is_public ? 0 : 1;
}

static void check(lp2p_peerbook *pb, const lp2p_peerbook_config *c, const lp2p_peer_id *peers,
                  const lp2p_multiaddr *relay_ma, const int *model, uint64_t now)
{
    if (lp2p_peerbook_npeers(pb) > c->max_peers)
        abort();
    size_t np = 0, nc = 0, seen = 0;
    for (int r = 0; r < NRELAYS; r++) {
        int pend = lp2p_peerbook_relay_is_pending(pb, &relay_ma[r]);
        int conf = lp2p_peerbook_relay_is_confirmed(pb, &relay_ma[r]);
        if (pend != (model[r] == PENDING) || conf != (model[r] == CONFIRMED))
            abort();
        np += pend;
        nc += conf;
    }
    if (np != lp2p_peerbook_relay_npending(pb) || nc != lp2p_peerbook_relay_nconfirmed(pb) ||
        np + nc > c->max_relay_addrs)
        abort();
    const lp2p_multiaddr *conf[NRELAYS + 1];
    if (lp2p_peerbook_relay_confirmed(pb, conf, NRELAYS + 1) != nc)
        abort();
    for (int p = 0; p < NPEERS; p++) {
        size_t n = lp2p_peerbook_naddrs(pb, &peers[p]);
        if (n > c->max_addrs_per_peer)
            abort();
        if ((n > 0) != lp2p_peerbook_has_peer(pb, &peers[p]))
            abort();
        seen += n > 0;
        const lp2p_multiaddr *out[32];
        size_t k = lp2p_peerbook_candidates(pb, &peers[p], now, out, 32);
        if (k > n)
            abort();
        int last = 0;
        for (size_t i = 0; i < k; i++) {
            lp2p_peerbook_addr_info info;
            if (lp2p_peerbook_addr_info_get(pb, &peers[p], out[i], &info) != 0)
                abort();
            if (klass(&info) < last)
                abort();
            last = klass(&info);
            if (c->addr_ttl_ms && !(info.sources & LP2P_PB_SRC_USER) &&
                now - info.last_seen_ms >= c->addr_ttl_ms)
                abort();
            if (info.last_dial == LP2P_PB_DIAL_FAILED &&
                now - info.last_dial_ms < c->dial_backoff_ms)
                abort();
        }
    }
    if (seen != lp2p_peerbook_npeers(pb))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp2p_peerbook_config c;
    lp2p_peerbook_config_default(&c);
    c.max_peers = 4;
    c.max_addrs_per_peer = 3;
    c.max_relay_addrs = 2;
    c.addr_ttl_ms = 1000;
    c.dial_backoff_ms = 10;
    c.dial_backoff_max_ms = 80;
    c.relay_pending_timeout_ms = 300;
    lp2p_peerbook *pb;
    if (lp2p_peerbook_new(&c, &pb) != 0)
        abort();

    lp2p_peer_id peers[NPEERS];
    lp2p_multiaddr addrs[NADDRS], relay_ma[NRELAYS];
    uint64_t pend_since[NRELAYS] = {0};
    int model[NRELAYS] = {0};
    for (int i = 0; i < NPEERS; i++)
        peers[i] = pid((uint8_t)i);
    for (int i = 0; i < NADDRS; i++)
        if (lp2p_multiaddr_parse(&addrs[i], k_addrs[i], NULL, 0) != 0)
            abort();
    /* relays are peers NPEERS-NRELAYS .. NPEERS-1, each at addrs[r] */
    for (int r = 0; r < NRELAYS; r++) {
        if (lp2p_multiaddr_copy(&relay_ma[r], &addrs[r]) != 0 ||
            lp2p_multiaddr_append_p2p(&relay_ma[r], &peers[NPEERS - NRELAYS + r]) != 0)
            abort();
    }

    uint64_t now = 1;
    size_t i = 0;
    while (i + 2 <= size) {
        uint8_t op = data[i], arg = data[i + 1];
        i += 2;
        const lp2p_peer_id *p = &peers[arg % NPEERS];
        const lp2p_multiaddr *a = &addrs[(arg >> 3) % NADDRS];
        int r = (arg >> 3) % NRELAYS;
        const lp2p_peer_id *rp = &peers[NPEERS - NRELAYS + r];
        unsigned src = (unsigned)(op >> 4) % LP2P_PB_SRC_ALL + 1;
        int rc;
        switch (op % 10) {
        case 0:
            now += arg;
            break;
        case 1: /* add a known address, maybe as a circuit through a relay */
            if (op & 0x80) {
                lp2p_multiaddr circ;
                if (lp2p_multiaddr_copy(&circ, &relay_ma[r]) != 0 ||
                    lp2p_multiaddr_append_circuit(&circ) != 0)
                    abort();
                rc = lp2p_peerbook_add_ma(pb, p, &circ, src, now);
                lp2p_multiaddr_free(&circ);
                if (rc < 0 && rc != LP2P_ERR_LIMIT && rc != LP2P_ERR_UNSUPPORTED)
                    abort();
            } else {
                rc = lp2p_peerbook_add_ma(pb, p, a, src, now);
                if (rc < 0 && rc != LP2P_ERR_LIMIT)
                    abort();
                if (rc >= 0 && lp2p_peerbook_naddrs(pb, p) == 0)
                    abort();
            }
            break;
        case 2: { /* raw bytes as a multiaddr */
            size_t n = arg % 40;
            if (n > size - i)
                n = size - i;
            rc = lp2p_peerbook_add_addr(pb, p, data + i, n, src, now);
            i += n;
            if (rc > 1)
                abort();
            break;
        }
        case 3:
            rc = lp2p_peerbook_dial_result(pb, p, a, (op & 0x10) ? 0 : LP2P_ERR_IO, now);
            if (rc == 1) { /* p is a relay, a its reserved address, its slot was pending */
                int pi = arg % NPEERS, rr = pi - (NPEERS - NRELAYS);
                if (rr < 0 || model[rr] != PENDING || !lp2p_multiaddr_equal(a, &addrs[rr]))
                    abort();
                model[rr] = FREE;
            } else if (rc > 1) {
                abort();
            }
            break;
        case 4: /* dial of a relay */
            rc =
                lp2p_peerbook_dial_result(pb, rp, &relay_ma[r], (op & 0x10) ? 0 : LP2P_ERR_IO, now);
            if (!(op & 0x10) && model[r] == PENDING) {
                if (rc != 1)
                    abort();
                model[r] = FREE;
            } else if (rc == 1) {
                abort();
            }
            break;
        case 5: {
            int used = 0;
            for (int k = 0; k < NRELAYS; k++)
                used += model[k] != FREE;
            rc = lp2p_peerbook_relay_reserve_pending(pb, &relay_ma[r], now);
            int want = model[r] != FREE                    ? LP2P_ERR_EXISTS
                       : (size_t)used >= c.max_relay_addrs ? LP2P_ERR_LIMIT
                                                           : 0;
            if (rc != want)
                abort();
            if (rc == 0) {
                model[r] = PENDING;
                pend_since[r] = now;
            }
            break;
        }
        case 6:
            rc = lp2p_peerbook_relay_confirm(pb, &relay_ma[r], now);
            if (rc != (model[r] == FREE      ? LP2P_ERR_NOT_FOUND
                       : model[r] == PENDING ? 0
                                             : LP2P_ERR_STATE))
                abort();
            if (rc == 0)
                model[r] = CONFIRMED;
            break;
        case 7:
            rc = lp2p_peerbook_relay_release(pb, &relay_ma[r]);
            if (rc != (model[r] == FREE ? LP2P_ERR_NOT_FOUND : 0))
                abort();
            model[r] = FREE;
            break;
        case 8: {
            lp2p_peerbook_expire(pb, now);
            for (int k = 0; k < NRELAYS; k++)
                if (model[k] == PENDING && now - pend_since[k] >= c.relay_pending_timeout_ms)
                    model[k] = FREE;
            if (lp2p_peerbook_next_deadline(pb) <= now)
                abort();
            break;
        }
        case 9:
            if (op & 0x10)
                lp2p_peerbook_remove_peer(pb, p);
            else
                lp2p_peerbook_remove_addr(pb, p, a);
            break;
        }
        check(pb, &c, peers, relay_ma, model, now);
    }

    for (int k = 0; k < NADDRS; k++)
        lp2p_multiaddr_free(&addrs[k]);
    for (int k = 0; k < NRELAYS; k++)
        lp2p_multiaddr_free(&relay_ma[k]);
    lp2p_peerbook_del(pb);
    return 0;
}
