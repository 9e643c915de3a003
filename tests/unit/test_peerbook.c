/* Peer book: limits (peers, addresses per peer, relay quota), LRU eviction, TTL with a fake
 * clock, dial backoff and candidate order, relay slot transitions (a failed dial gives the
 * slot back), source merging, refusal of bad multiaddr bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "host/peerbook.h"
#include "lp2p/err.h"
#include "wire/multiaddr.h"

/* Peer IDs shaped like Ed25519 ones: identity multihash of a PublicKey protobuf. */
static lp2p_peer_id pid(uint8_t n)
{
    uint8_t mh[2 + 36] = {0x00, 36, 0x08, 0x01, 0x12, 0x20};
    memset(mh + 6, n, 32);
    lp2p_peer_id id;
    assert_int_equal(lp2p_peer_id_from_bytes(mh, sizeof(mh), &id), 0);
    return id;
}

/* Parsed multiaddrs live until the test's teardown frees them all. */
static lp2p_multiaddr g_ma[64];
static size_t g_nma;

static const lp2p_multiaddr *ma(const char *text)
{
    assert_true(g_nma < 64);
    lp2p_multiaddr *m = &g_ma[g_nma++];
    assert_int_equal(lp2p_multiaddr_parse(m, text, NULL, 0), 0);
    return m;
}

/* text + /p2p/<id> */
static const lp2p_multiaddr *ma_p2p(const char *text, const lp2p_peer_id *id)
{
    lp2p_multiaddr *m = (lp2p_multiaddr *)ma(text);
    assert_int_equal(lp2p_multiaddr_append_p2p(m, id), 0);
    return m;
}

/* <relay text>/p2p/<relay>/p2p-circuit */
static const lp2p_multiaddr *circuit(const char *text, const lp2p_peer_id *relay)
{
    lp2p_multiaddr *m = (lp2p_multiaddr *)ma_p2p(text, relay);
    assert_int_equal(lp2p_multiaddr_append_circuit(m), 0);
    return m;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < g_nma; i++)
        lp2p_multiaddr_free(&g_ma[i]);
    g_nma = 0;
    return 0;
}

static lp2p_peerbook *book(size_t peers, size_t addrs, size_t relays, uint64_t ttl)
{
    lp2p_peerbook_config c;
    lp2p_peerbook_config_default(&c);
    c.max_peers = peers;
    c.max_addrs_per_peer = addrs;
    c.max_relay_addrs = relays;
    c.addr_ttl_ms = ttl;
    lp2p_peerbook *pb = NULL;
    assert_int_equal(lp2p_peerbook_new(&c, &pb), 0);
    assert_non_null(pb);
    return pb;
}

static int add(lp2p_peerbook *pb, const lp2p_peer_id *p, const lp2p_multiaddr *m, unsigned src,
               uint64_t now)
{
    return lp2p_peerbook_add_addr(pb, p, m->bytes, m->len, src, now);
}

static const unsigned LISTEN = LP2P_PB_SRC_IDENTIFY_LISTEN;

/* ---- limits and eviction ------------------------------------------------------------------ */

static void test_config_checked(void **state)
{
    (void)state;
    lp2p_peerbook_config c;
    lp2p_peerbook *pb = (lp2p_peerbook *)1;
    lp2p_peerbook_config_default(&c);
    assert_int_equal(c.max_peers, 1024);
    assert_int_equal(c.max_addrs_per_peer, 16);
    assert_int_equal(c.max_relay_addrs, 4);
    c.max_relay_addrs = 0;
    assert_int_equal(lp2p_peerbook_new(&c, &pb), LP2P_ERR_INVAL);
    assert_null(pb);
    lp2p_peerbook_config_default(&c);
    c.dial_backoff_max_ms = c.dial_backoff_ms - 1;
    assert_int_equal(lp2p_peerbook_new(&c, &pb), LP2P_ERR_INVAL);
    assert_int_equal(lp2p_peerbook_new(NULL, &pb), 0);
    lp2p_peerbook_del(pb);
}

static void test_peer_limit_evicts_lru(void **state)
{
    (void)state;
    lp2p_peerbook *pb = book(3, 4, 1, 0);
    lp2p_peer_id p[5];
    for (int i = 0; i < 5; i++)
        p[i] = pid((uint8_t)(i + 1));
    const lp2p_multiaddr *a = ma("/ip4/8.8.8.8/tcp/4001");
    assert_int_equal(add(pb, &p[0], a, LISTEN, 1), 1);
    assert_int_equal(add(pb, &p[1], a, LISTEN, 2), 1);
    assert_int_equal(add(pb, &p[2], a, LISTEN, 3), 1);
    /* p0 seen again: now p1 is the least recently used */
    assert_int_equal(add(pb, &p[0], a, LISTEN, 4), 0);
    assert_int_equal(add(pb, &p[3], a, LISTEN, 5), 1);
    assert_int_equal(lp2p_peerbook_npeers(pb), 3);
    assert_false(lp2p_peerbook_has_peer(pb, &p[1]));
    assert_true(lp2p_peerbook_has_peer(pb, &p[0]));
    assert_true(lp2p_peerbook_has_peer(pb, &p[2]));
    assert_true(lp2p_peerbook_has_peer(pb, &p[3]));
    /* a dial result touches too: p2 dialed, so p0 goes next */
    assert_int_equal(lp2p_peerbook_dial_result(pb, &p[2], a, 0, 6), 0);
    assert_int_equal(add(pb, &p[4], a, LISTEN, 7), 1);
    assert_false(lp2p_peerbook_has_peer(pb, &p[0]));
    assert_true(lp2p_peerbook_has_peer(pb, &p[2]));
    assert_int_equal(lp2p_peerbook_npeers(pb), 3);
    lp2p_peerbook_del(pb);
}

static void test_addr_limit_evicts_oldest_seen(void **state)
{
    (void)state;
    lp2p_peerbook *pb = book(4, 3, 1, 0);
    lp2p_peer_id p = pid(1);
    const lp2p_multiaddr *a1 = ma("/ip4/8.8.8.1/tcp/1"), *a2 = ma("/ip4/8.8.8.2/tcp/1"),
                         *a3 = ma("/ip4/8.8.8.3/tcp/1"), *a4 = ma("/ip4/8.8.8.4/tcp/1");
    lp2p_peerbook_addr_info info;
    assert_int_equal(add(pb, &p, a1, LISTEN, 10), 1);
    assert_int_equal(add(pb, &p, a2, LISTEN, 20), 1);
    assert_int_equal(add(pb, &p, a3, LISTEN, 30), 1);
    assert_int_equal(add(pb, &p, a1, LISTEN, 40), 0); /* a1 refreshed: a2 is the oldest */
    assert_int_equal(add(pb, &p, a4, LISTEN, 50), 1);
    assert_int_equal(lp2p_peerbook_naddrs(pb, &p), 3);
    assert_int_equal(lp2p_peerbook_addr_info_get(pb, &p, a2, &info), LP2P_ERR_NOT_FOUND);
    assert_int_equal(lp2p_peerbook_addr_info_get(pb, &p, a1, &info), 0);
    assert_int_equal(info.last_seen_ms, 40);
    assert_int_equal(lp2p_peerbook_addr_info_get(pb, &p, a3, &info), 0);
    assert_int_equal(lp2p_peerbook_addr_info_get(pb, &p, a4, &info), 0);
    lp2p_peerbook_del(pb);
}

static void test_user_addresses_pinned(void **state)
{
    (void)state;
    lp2p_peerbook *pb = book(2, 2, 1, 1000);
    lp2p_peer_id p1 = pid(1), p2 = pid(2), p3 = pid(3);
    const lp2p_multiaddr *a1 = ma("/ip4/8.8.8.1/tcp/1"), *a2 = ma("/ip4/8.8.8.2/tcp/1"),
                         *a3 = ma("/ip4/8.8.8.3/tcp/1");
    assert_int_equal(add(pb, &p1, a1, LP2P_PB_SRC_USER, 0), 1);
    assert_int_equal(add(pb, &p2, a1, LISTEN, 1), 1);
    /* peers full: p2 (not pinned) goes although p1 is older */
    assert_int_equal(add(pb, &p3, a1, LP2P_PB_SRC_USER, 2), 1);
    assert_true(lp2p_peerbook_has_peer(pb, &p1));
    assert_false(lp2p_peerbook_has_peer(pb, &p2));
    /* only pinned peers left: a new peer is refused and nothing changes */
    assert_int_equal(add(pb, &p2, a1, LISTEN, 3), LP2P_ERR_LIMIT);
    assert_int_equal(lp2p_peerbook_npeers(pb), 2);
    assert_true(lp2p_peerbook_has_peer(pb, &p1));
    assert_true(lp2p_peerbook_has_peer(pb, &p3));
    /* addresses: an identify address is evicted before a pinned one, never the pinned one */
    assert_int_equal(add(pb, &p1, a2, LISTEN, 4), 1);
    assert_int_equal(add(pb, &p1, a3, LP2P_PB_SRC_USER, 5), 1);
    assert_int_equal(lp2p_peerbook_naddrs(pb, &p1), 2);
    lp2p_peerbook_addr_info info;
    assert_int_equal(lp2p_peerbook_addr_info_get(pb, &p1, a2, &info), LP2P_ERR_NOT_FOUND);
    assert_int_equal(add(pb, &p1, a2, LISTEN, 6), LP2P_ERR_LIMIT);
    assert_int_equal(lp2p_peerbook_naddrs(pb, &p1), 2);
    /* pinned addresses never expire */
    assert_int_equal(lp2p_peerbook_expire(pb, 1000000), 0);
    assert_int_equal(lp2p_peerbook_npeers(pb), 2);
    assert_int_equal(lp2p_peerbook_next_deadline(pb), UINT64_MAX);
    lp2p_peerbook_del(pb);
}

static void test_ttl_expiry(void **state)
{
    (void)state;
    lp2p_peerbook *pb = book(8, 8, 1, 1000);
    lp2p_peer_id p = pid(1), q = pid(2);
    const lp2p_multiaddr *a1 = ma("/ip4/8.8.8.1/tcp/1"), *a2 = ma("/ip4/8.8.8.2/tcp/1");
    const lp2p_multiaddr *out[4];
    assert_int_equal(add(pb, &p, a1, LISTEN, 0), 1);
    assert_int_equal(add(pb, &p, a2, LISTEN, 500), 1);
    assert_int_equal(add(pb, &q, a1, LISTEN, 600), 1);
    assert_int_equal(lp2p_peerbook_next_deadline(pb), 1000);
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 999, out, 4), 2);
    /* at the TTL a1 is no candidate any more, even before expire runs */
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 1000, out, 4), 1);
    assert_true(lp2p_multiaddr_equal(out[0], a2));
    assert_int_equal(lp2p_peerbook_expire(pb, 999), 0);
    assert_int_equal(lp2p_peerbook_expire(pb, 1000), 1);
    assert_int_equal(lp2p_peerbook_naddrs(pb, &p), 1);
    assert_int_equal(lp2p_peerbook_next_deadline(pb), 1500);
    /* seen again: the TTL restarts */
    assert_int_equal(add(pb, &p, a2, LISTEN, 1400), 0);
    assert_int_equal(lp2p_peerbook_expire(pb, 1600), 1); /* q's a1 */
    assert_false(lp2p_peerbook_has_peer(pb, &q));        /* a peer left empty is removed */
    assert_int_equal(lp2p_peerbook_naddrs(pb, &p), 1);
    assert_int_equal(lp2p_peerbook_expire(pb, 2400), 1);
    assert_int_equal(lp2p_peerbook_npeers(pb), 0);
    assert_int_equal(lp2p_peerbook_next_deadline(pb), UINT64_MAX);
    lp2p_peerbook_del(pb);
}

/* ---- addresses: flags, merging, bad input --------------------------------------------------- */

static void test_sources_and_relay_flag_kept(void **state)
{
    (void)state;
    lp2p_peerbook *pb = book(8, 8, 1, 0);
    lp2p_peer_id p = pid(1), r = pid(9);
    lp2p_peerbook_addr_info info;
    const lp2p_multiaddr *pub = ma("/ip4/8.8.8.8/tcp/4001");
    const lp2p_multiaddr *pub_p2p = ma_p2p("/ip4/8.8.8.8/tcp/4001", &p);
    const lp2p_multiaddr *priv = ma("/ip4/192.168.1.2/tcp/4001");
    const lp2p_multiaddr *circ = circuit("/ip4/1.1.1.1/tcp/4001", &r);
    const lp2p_multiaddr *circ_p2p = ma_p2p("/ip4/1.1.1.1/tcp/4001", &r);
    assert_int_equal(lp2p_multiaddr_append_circuit((lp2p_multiaddr *)circ_p2p), 0);
    assert_int_equal(lp2p_multiaddr_append_p2p((lp2p_multiaddr *)circ_p2p, &p), 0);

    assert_int_equal(add(pb, &p, pub, LISTEN, 1), 1);
    /* the same address with /p2p/<peer> is the same entry; sources combine */
    assert_int_equal(add(pb, &p, pub_p2p, LP2P_PB_SRC_DCUTR, 2), 0);
    assert_int_equal(add(pb, &p, priv, LP2P_PB_SRC_USER, 3), 1);
    assert_int_equal(add(pb, &p, circ_p2p, LP2P_PB_SRC_RELAY_RESERVATION, 4), 1);
    assert_int_equal(add(pb, &p, circ, LISTEN, 5), 0);
    assert_int_equal(lp2p_peerbook_naddrs(pb, &p), 3);

    assert_int_equal(lp2p_peerbook_addr_info_get(pb, &p, pub, &info), 0);
    assert_int_equal(info.sources, LISTEN | LP2P_PB_SRC_DCUTR);
    assert_false(info.relayed);
    assert_true(info.is_public);
    assert_int_equal(info.last_seen_ms, 2);
    assert_int_equal(info.last_dial, LP2P_PB_DIAL_NONE);
    assert_int_equal(lp2p_peerbook_addr_info_get(pb, &p, priv, &info), 0);
    assert_int_equal(info.sources, LP2P_PB_SRC_USER);
    assert_false(info.relayed);
    assert_false(info.is_public);
    assert_int_equal(lp2p_peerbook_addr_info_get(pb, &p, circ_p2p, &info), 0);
    assert_int_equal(info.sources, LP2P_PB_SRC_RELAY_RESERVATION | LISTEN);
    assert_true(info.relayed);
    assert_false(info.is_public);
    /* the stored form is canonical: no trailing /p2p/<peer> */
    const lp2p_multiaddr *out[4];
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 10, out, 4), 3);
    assert_true(lp2p_multiaddr_equal(out[2], circ));
    assert_true(lp2p_multiaddr_equal(out[0], pub));
    lp2p_peerbook_del(pb);
}

static void test_bad_input_refused(void **state)
{
    (void)state;
    lp2p_peerbook *pb = book(8, 8, 1, 0);
    lp2p_peer_id p = pid(1), other = pid(2), r = pid(9);
    const uint8_t garbage[] = {0xff, 0xff, 0xff};
    const uint8_t truncated[] = {0x04, 0x01, 0x02}; /* ip4, 2 of 4 B */
    const uint8_t udp[] = {0x04, 0x01, 0x02, 0x03, 0x04, 0x91, 0x02, 0x00, 0x01}; /* /udp/1 */
    const uint8_t ok[] = {0x04, 0x08, 0x08, 0x08, 0x08, 0x06, 0x0f, 0xa1};        /* tcp 4001 */
    assert_int_equal(lp2p_peerbook_add_addr(pb, &p, garbage, sizeof(garbage), LISTEN, 0),
                     LP2P_ERR_DECODE);
    assert_int_equal(lp2p_peerbook_add_addr(pb, &p, truncated, sizeof(truncated), LISTEN, 0),
                     LP2P_ERR_DECODE);
    assert_int_equal(lp2p_peerbook_add_addr(pb, &p, udp, sizeof(udp), LISTEN, 0),
                     LP2P_ERR_UNSUPPORTED);
    assert_int_equal(lp2p_peerbook_add_addr(pb, &p, ok, 0, LISTEN, 0), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_peerbook_add_addr(pb, &p, NULL, 0, LISTEN, 0), LP2P_ERR_DECODE);
    /* bad sources */
    assert_int_equal(lp2p_peerbook_add_addr(pb, &p, ok, sizeof(ok), 0, 0), LP2P_ERR_INVAL);
    assert_int_equal(lp2p_peerbook_add_addr(pb, &p, ok, sizeof(ok), 1u << 20, 0), LP2P_ERR_INVAL);
    /* another peer's address, or no transport part at all */
    assert_int_equal(add(pb, &p, ma_p2p("/ip4/8.8.8.8/tcp/1", &other), LISTEN, 0), LP2P_ERR_INVAL);
    char text[LP2P_PEER_ID_STR_MAX + 8] = "/p2p/";
    assert_int_equal(lp2p_peer_id_to_string(&p, text + 5, sizeof(text) - 5), 0);
    assert_int_equal(add(pb, &p, ma(text), LISTEN, 0), LP2P_ERR_INVAL);
    /* a relayed observation is never a punch candidate */
    assert_int_equal(
        add(pb, &p, circuit("/ip4/1.1.1.1/tcp/1", &r), LP2P_PB_SRC_IDENTIFY_OBSERVED, 0),
        LP2P_ERR_UNSUPPORTED);
    assert_int_equal(lp2p_peerbook_npeers(pb), 0);
    /* the good bytes do go in */
    assert_int_equal(lp2p_peerbook_add_addr(pb, &p, ok, sizeof(ok), LISTEN, 0), 1);
    lp2p_peerbook_addr_info info;
    assert_int_equal(lp2p_peerbook_addr_info_get(pb, &p, ma("/ip4/8.8.8.8/tcp/4001"), &info), 0);
    /* remove paths */
    assert_int_equal(lp2p_peerbook_remove_addr(pb, &p, ma("/ip4/8.8.8.9/tcp/4001")),
                     LP2P_ERR_NOT_FOUND);
    assert_int_equal(lp2p_peerbook_remove_addr(pb, &p, ma("/ip4/8.8.8.8/tcp/4001")), 0);
    assert_false(lp2p_peerbook_has_peer(pb, &p));
    assert_int_equal(lp2p_peerbook_remove_peer(pb, &p), LP2P_ERR_NOT_FOUND);
    lp2p_peerbook_del(pb);
}

/* ---- dial candidates ------------------------------------------------------------------------ */

static void test_candidate_order_and_backoff(void **state)
{
    (void)state;
    lp2p_peerbook *pb = book(8, 8, 1, 0);
    lp2p_peer_id p = pid(1), r = pid(9);
    const lp2p_multiaddr *circ = circuit("/ip4/1.1.1.1/tcp/4001", &r);
    const lp2p_multiaddr *priv = ma("/ip4/10.0.0.2/tcp/4001");
    const lp2p_multiaddr *lo = ma("/ip4/127.0.0.1/tcp/4001");
    const lp2p_multiaddr *pub1 = ma("/ip4/8.8.8.8/tcp/4001");
    const lp2p_multiaddr *pub2 = ma("/ip6/2001:4860::8888/tcp/4001");
    const lp2p_multiaddr *out[8];
    /* added worst first, so the order comes from the ranking, not from insertion */
    assert_int_equal(add(pb, &p, circ, LISTEN, 10), 1);
    assert_int_equal(add(pb, &p, priv, LISTEN, 11), 1);
    assert_int_equal(add(pb, &p, lo, LISTEN, 12), 1);
    assert_int_equal(add(pb, &p, pub1, LISTEN, 13), 1);
    assert_int_equal(add(pb, &p, pub2, LISTEN, 14), 1);
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 100, out, 8), 5);
    assert_true(lp2p_multiaddr_equal(out[0], pub2)); /* public, seen last */
    assert_true(lp2p_multiaddr_equal(out[1], pub1));
    assert_true(lp2p_multiaddr_equal(out[2], lo)); /* private, seen last */
    assert_true(lp2p_multiaddr_equal(out[3], priv));
    assert_true(lp2p_multiaddr_equal(out[4], circ)); /* relayed last */
    /* truncation keeps the best */
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 100, out, 2), 2);
    assert_true(lp2p_multiaddr_equal(out[0], pub2));
    assert_true(lp2p_multiaddr_equal(out[1], pub1));
    /* a successful dial ranks first within its class */
    assert_int_equal(lp2p_peerbook_dial_result(pb, &p, pub1, 0, 100), 0);
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 100, out, 8), 5);
    assert_true(lp2p_multiaddr_equal(out[0], pub1));
    assert_true(lp2p_multiaddr_equal(out[1], pub2));

    /* failed dial: skipped for 5 s, then 10 s after a second failure; success resets */
    assert_int_equal(lp2p_peerbook_dial_result(pb, &p, pub1, LP2P_ERR_IO, 1000), 0);
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 5999, out, 8), 4);
    assert_true(lp2p_multiaddr_equal(out[0], pub2));
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 6000, out, 8), 5);
    assert_true(lp2p_multiaddr_equal(out[1], pub1)); /* last dial failed: not first any more */
    assert_int_equal(lp2p_peerbook_dial_result(pb, &p, pub1, LP2P_ERR_TIMEOUT, 6000), 0);
    lp2p_peerbook_addr_info info;
    assert_int_equal(lp2p_peerbook_addr_info_get(pb, &p, pub1, &info), 0);
    assert_int_equal(info.fails, 2);
    assert_int_equal(info.last_dial, LP2P_PB_DIAL_FAILED);
    assert_int_equal(info.last_dial_ms, 6000);
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 15999, out, 8), 4);
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 16000, out, 8), 5);
    assert_int_equal(lp2p_peerbook_dial_result(pb, &p, pub1, 0, 16000), 0);
    assert_int_equal(lp2p_peerbook_addr_info_get(pb, &p, pub1, &info), 0);
    assert_int_equal(info.fails, 0);
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 16000, out, 8), 5);
    assert_true(lp2p_multiaddr_equal(out[0], pub1));
    /* the backoff is capped */
    for (int i = 0; i < 20; i++)
        assert_int_equal(lp2p_peerbook_dial_result(pb, &p, priv, LP2P_ERR_IO, 20000), 0);
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 20000 + 5 * 60 * 1000 - 1, out, 8), 4);
    assert_int_equal(lp2p_peerbook_candidates(pb, &p, 20000 + 5 * 60 * 1000, out, 8), 5);
    /* unknown peer / address */
    lp2p_peer_id q = pid(2);
    assert_int_equal(lp2p_peerbook_candidates(pb, &q, 0, out, 8), 0);
    assert_int_equal(lp2p_peerbook_dial_result(pb, &q, pub1, LP2P_ERR_IO, 0), LP2P_ERR_NOT_FOUND);
    lp2p_peerbook_del(pb);
}

/* ---- relay quota ---------------------------------------------------------------------------- */

static void test_relay_quota_enforced(void **state)
{
    (void)state;
    lp2p_peerbook *pb = book(8, 8, 2, 0);
    lp2p_peer_id r1 = pid(11), r2 = pid(12), r3 = pid(13);
    const lp2p_multiaddr *a1 = ma_p2p("/ip4/1.1.1.1/tcp/4001", &r1);
    const lp2p_multiaddr *a2 = ma_p2p("/ip4/1.1.1.2/tcp/4001", &r2);
    const lp2p_multiaddr *a3 = ma_p2p("/ip4/1.1.1.3/tcp/4001", &r3);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a1, 0), 0);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a2, 0), 0);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a3, 0), LP2P_ERR_LIMIT);
    assert_int_equal(lp2p_peerbook_relay_npending(pb), 2);
    /* confirmed slots count against the quota too */
    assert_int_equal(lp2p_peerbook_relay_confirm(pb, a1, 1), 0);
    assert_int_equal(lp2p_peerbook_relay_confirm(pb, a2, 2), 0);
    assert_int_equal(lp2p_peerbook_relay_npending(pb), 0);
    assert_int_equal(lp2p_peerbook_relay_nconfirmed(pb), 2);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a3, 3), LP2P_ERR_LIMIT);
    assert_false(lp2p_peerbook_relay_is_pending(pb, a3));
    /* a lost reservation gives its slot back */
    assert_int_equal(lp2p_peerbook_relay_release(pb, a1), 0);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a3, 4), 0);
    assert_true(lp2p_peerbook_relay_is_pending(pb, a3));
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a1, 5), LP2P_ERR_LIMIT);
    lp2p_peerbook_del(pb);
}

static void test_failed_dial_gives_slot_back(void **state)
{
    (void)state;
    lp2p_peerbook *pb = book(8, 8, 1, 0);
    lp2p_peer_id r1 = pid(11), r2 = pid(12);
    const lp2p_multiaddr *a1 = ma_p2p("/ip4/1.1.1.1/tcp/4001", &r1);
    const lp2p_multiaddr *a1_bare = ma("/ip4/1.1.1.1/tcp/4001");
    const lp2p_multiaddr *a1_other = ma("/ip4/1.1.1.9/tcp/4001");
    const lp2p_multiaddr *a2 = ma_p2p("/ip4/1.1.1.2/tcp/4001", &r2);
    assert_int_equal(add(pb, &r1, a1, LP2P_PB_SRC_USER, 0), 1);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a1, 0), 0);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a2, 0), LP2P_ERR_LIMIT);
    /* a dial failure on another address of the relay keeps the slot */
    assert_int_equal(lp2p_peerbook_dial_result(pb, &r1, a1_other, LP2P_ERR_IO, 1),
                     LP2P_ERR_NOT_FOUND);
    assert_true(lp2p_peerbook_relay_is_pending(pb, a1));
    /* the dial to the relay fails: the slot comes back and the failure is recorded */
    assert_int_equal(lp2p_peerbook_dial_result(pb, &r1, a1_bare, LP2P_ERR_REFUSED, 2), 1);
    assert_false(lp2p_peerbook_relay_is_pending(pb, a1));
    assert_int_equal(lp2p_peerbook_relay_npending(pb), 0);
    lp2p_peerbook_addr_info info;
    assert_int_equal(lp2p_peerbook_addr_info_get(pb, &r1, a1, &info), 0);
    assert_int_equal(info.last_dial, LP2P_PB_DIAL_FAILED);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a2, 3), 0);
    /* release after the automatic release is a double release */
    assert_int_equal(lp2p_peerbook_relay_release(pb, a1), LP2P_ERR_NOT_FOUND);

    /* the relay is not in the address book at all: the failed dial still frees its slot */
    assert_int_equal(lp2p_peerbook_relay_release(pb, a2), 0);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a2, 4), 0);
    assert_int_equal(lp2p_peerbook_dial_result(pb, &r2, a2, LP2P_ERR_TIMEOUT, 5), 1);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a1, 6), 0);

    /* a confirmed reservation survives a failed dial of the same address */
    assert_int_equal(lp2p_peerbook_relay_confirm(pb, a1, 7), 0);
    assert_int_equal(lp2p_peerbook_dial_result(pb, &r1, a1, LP2P_ERR_IO, 8), 0);
    assert_true(lp2p_peerbook_relay_is_confirmed(pb, a1));
    /* and a successful dial never releases anything */
    assert_int_equal(lp2p_peerbook_relay_release(pb, a1), 0);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a1, 9), 0);
    assert_int_equal(lp2p_peerbook_dial_result(pb, &r1, a1, 0, 10), 0);
    assert_true(lp2p_peerbook_relay_is_pending(pb, a1));
    lp2p_peerbook_del(pb);
}

static void test_relay_transitions_and_errors(void **state)
{
    (void)state;
    lp2p_peerbook *pb = book(8, 8, 3, 0);
    lp2p_peer_id r1 = pid(11), r2 = pid(12), r3 = pid(13);
    const lp2p_multiaddr *a1 = ma_p2p("/ip4/1.1.1.1/tcp/4001", &r1);
    const lp2p_multiaddr *a1b = ma_p2p("/dns4/relay.example/tcp/4001", &r1);
    const lp2p_multiaddr *a2 = ma_p2p("/ip4/1.1.1.2/tcp/4001", &r2);
    const lp2p_multiaddr *a3 = ma_p2p("/ip4/1.1.1.3/tcp/4001", &r3);
    const lp2p_multiaddr *out[4];
    /* confirm or release without a pending slot */
    assert_int_equal(lp2p_peerbook_relay_confirm(pb, a1, 0), LP2P_ERR_NOT_FOUND);
    assert_int_equal(lp2p_peerbook_relay_release(pb, a1), LP2P_ERR_NOT_FOUND);
    /* relay addresses must name the relay and not be circuits */
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, ma("/ip4/1.1.1.1/tcp/4001"), 0),
                     LP2P_ERR_INVAL);
    lp2p_multiaddr *circ = (lp2p_multiaddr *)ma_p2p("/ip4/1.1.1.1/tcp/4001", &r1);
    assert_int_equal(lp2p_multiaddr_append_circuit(circ), 0);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, circ, 0), LP2P_ERR_INVAL);
    assert_int_equal(lp2p_peerbook_relay_npending(pb), 0);

    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a1, 0), 0);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a1, 0), LP2P_ERR_EXISTS);
    /* one slot per relay, whichever of its addresses */
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a1b, 0), LP2P_ERR_EXISTS);
    assert_true(lp2p_peerbook_relay_is_pending(pb, a1b));
    assert_false(lp2p_peerbook_relay_is_confirmed(pb, a1));
    assert_int_equal(lp2p_peerbook_relay_confirmed(pb, out, 4), 0);

    assert_int_equal(lp2p_peerbook_relay_confirm(pb, a1, 1), 0);
    assert_int_equal(lp2p_peerbook_relay_confirm(pb, a1, 2), LP2P_ERR_STATE);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a1, 2), LP2P_ERR_EXISTS);
    assert_true(lp2p_peerbook_relay_is_confirmed(pb, a1));
    assert_false(lp2p_peerbook_relay_is_pending(pb, a1));

    /* confirmed list in confirmation order, with the address as reserved */
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a3, 3), 0);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a2, 3), 0);
    assert_int_equal(lp2p_peerbook_relay_confirm(pb, a2, 4), 0);
    assert_int_equal(lp2p_peerbook_relay_confirmed(pb, out, 4), 2);
    assert_true(lp2p_multiaddr_equal(out[0], a1));
    assert_true(lp2p_multiaddr_equal(out[1], a2));
    assert_int_equal(lp2p_peerbook_relay_confirmed(pb, out, 1), 1);
    assert_true(lp2p_multiaddr_equal(out[0], a1));
    assert_int_equal(lp2p_peerbook_relay_npending(pb), 1);
    assert_int_equal(lp2p_peerbook_relay_nconfirmed(pb), 2);

    /* release from either state, then it is gone: a second release fails */
    assert_int_equal(lp2p_peerbook_relay_release(pb, a1), 0);
    assert_int_equal(lp2p_peerbook_relay_release(pb, a1), LP2P_ERR_NOT_FOUND);
    assert_int_equal(lp2p_peerbook_relay_release(pb, a3), 0);
    assert_int_equal(lp2p_peerbook_relay_release(pb, a3), LP2P_ERR_NOT_FOUND);
    assert_int_equal(lp2p_peerbook_relay_confirm(pb, a3, 5), LP2P_ERR_NOT_FOUND);
    assert_int_equal(lp2p_peerbook_relay_confirmed(pb, out, 4), 1);
    assert_true(lp2p_multiaddr_equal(out[0], a2));
    assert_int_equal(lp2p_peerbook_relay_npending(pb) + lp2p_peerbook_relay_nconfirmed(pb), 1);
    lp2p_peerbook_del(pb);
}

static void test_pending_slot_times_out(void **state)
{
    (void)state;
    lp2p_peerbook_config c;
    lp2p_peerbook_config_default(&c);
    c.max_relay_addrs = 1;
    c.relay_pending_timeout_ms = 100;
    lp2p_peerbook *pb = NULL;
    assert_int_equal(lp2p_peerbook_new(&c, &pb), 0);
    lp2p_peer_id r1 = pid(11), r2 = pid(12);
    const lp2p_multiaddr *a1 = ma_p2p("/ip4/1.1.1.1/tcp/4001", &r1);
    const lp2p_multiaddr *a2 = ma_p2p("/ip4/1.1.1.2/tcp/4001", &r2);
    assert_int_equal(lp2p_peerbook_next_deadline(pb), UINT64_MAX);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a1, 1000), 0);
    assert_int_equal(lp2p_peerbook_next_deadline(pb), 1100);
    assert_int_equal(lp2p_peerbook_expire(pb, 1099), 0);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a2, 1099), LP2P_ERR_LIMIT);
    assert_int_equal(lp2p_peerbook_expire(pb, 1100), 1);
    assert_int_equal(lp2p_peerbook_relay_reserve_pending(pb, a2, 1100), 0);
    /* confirmed slots do not time out */
    assert_int_equal(lp2p_peerbook_relay_confirm(pb, a2, 1150), 0);
    assert_int_equal(lp2p_peerbook_next_deadline(pb), UINT64_MAX);
    assert_int_equal(lp2p_peerbook_expire(pb, 1000000), 0);
    assert_true(lp2p_peerbook_relay_is_confirmed(pb, a2));
    lp2p_peerbook_del(pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_config_checked, teardown),
        cmocka_unit_test_teardown(test_peer_limit_evicts_lru, teardown),
        cmocka_unit_test_teardown(test_addr_limit_evicts_oldest_seen, teardown),
        cmocka_unit_test_teardown(test_user_addresses_pinned, teardown),
        cmocka_unit_test_teardown(test_ttl_expiry, teardown),
        cmocka_unit_test_teardown(test_sources_and_relay_flag_kept, teardown),
        cmocka_unit_test_teardown(test_bad_input_refused, teardown),
        cmocka_unit_test_teardown(test_candidate_order_and_backoff, teardown),
        cmocka_unit_test_teardown(test_relay_quota_enforced, teardown),
        cmocka_unit_test_teardown(test_failed_dial_gives_slot_back, teardown),
        cmocka_unit_test_teardown(test_relay_transitions_and_errors, teardown),
        cmocka_unit_test_teardown(test_pending_slot_times_out, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
