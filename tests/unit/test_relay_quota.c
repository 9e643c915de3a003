/* Relay quota (what the peer book was cut to): the limit counts pending and confirmed slots,
 * the state machine's transitions and errors, one slot per relay whichever of its addresses,
 * refusal of addresses that name no relay. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "host/relay_quota.h"
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

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < g_nma; i++)
        lp2p_multiaddr_free(&g_ma[i]);
    g_nma = 0;
    return 0;
}

static lp2p_relay_quota *quota(size_t n)
{
    lp2p_relay_quota *q = NULL;
    assert_int_equal(lp2p_relay_quota_new(n, &q), 0);
    assert_non_null(q);
    return q;
}

static void test_size_checked(void **state)
{
    (void)state;
    lp2p_relay_quota *q = (lp2p_relay_quota *)1;
    assert_int_equal(lp2p_relay_quota_new(0, &q), LP2P_ERR_INVAL);
    assert_null(q);
}

static void test_relay_quota_enforced(void **state)
{
    (void)state;
    lp2p_relay_quota *q = quota(2);
    lp2p_peer_id r1 = pid(11), r2 = pid(12), r3 = pid(13);
    const lp2p_multiaddr *a1 = ma_p2p("/ip4/1.1.1.1/tcp/4001", &r1);
    const lp2p_multiaddr *a2 = ma_p2p("/ip4/1.1.1.2/tcp/4001", &r2);
    const lp2p_multiaddr *a3 = ma_p2p("/ip4/1.1.1.3/tcp/4001", &r3);
    assert_int_equal(lp2p_relay_quota_reserve(q, a1), 0);
    assert_int_equal(lp2p_relay_quota_reserve(q, a2), 0);
    assert_int_equal(lp2p_relay_quota_reserve(q, a3), LP2P_ERR_LIMIT);
    assert_int_equal(lp2p_relay_quota_npending(q), 2);
    /* confirmed slots count against the quota too */
    assert_int_equal(lp2p_relay_quota_confirm(q, a1), 0);
    assert_int_equal(lp2p_relay_quota_confirm(q, a2), 0);
    assert_int_equal(lp2p_relay_quota_npending(q), 0);
    assert_int_equal(lp2p_relay_quota_nconfirmed(q), 2);
    assert_int_equal(lp2p_relay_quota_reserve(q, a3), LP2P_ERR_LIMIT);
    assert_false(lp2p_relay_quota_is_pending(q, a3));
    /* a lost reservation gives its slot back */
    assert_int_equal(lp2p_relay_quota_release(q, a1), 0);
    assert_int_equal(lp2p_relay_quota_reserve(q, a3), 0);
    assert_true(lp2p_relay_quota_is_pending(q, a3));
    assert_int_equal(lp2p_relay_quota_reserve(q, a1), LP2P_ERR_LIMIT);
    lp2p_relay_quota_del(q);
}

static void test_relay_transitions_and_errors(void **state)
{
    (void)state;
    lp2p_relay_quota *q = quota(3);
    lp2p_peer_id r1 = pid(11), r2 = pid(12);
    const lp2p_multiaddr *a1 = ma_p2p("/ip4/1.1.1.1/tcp/4001", &r1);
    const lp2p_multiaddr *a1b = ma_p2p("/dns4/relay.example/tcp/4001", &r1);
    const lp2p_multiaddr *a2 = ma_p2p("/ip4/1.1.1.2/tcp/4001", &r2);
    /* confirm or release without a pending slot */
    assert_int_equal(lp2p_relay_quota_confirm(q, a1), LP2P_ERR_NOT_FOUND);
    assert_int_equal(lp2p_relay_quota_release(q, a1), LP2P_ERR_NOT_FOUND);
    /* relay addresses must name the relay and not be circuits */
    assert_int_equal(lp2p_relay_quota_reserve(q, ma("/ip4/1.1.1.1/tcp/4001")), LP2P_ERR_INVAL);
    lp2p_multiaddr *circ = (lp2p_multiaddr *)ma_p2p("/ip4/1.1.1.1/tcp/4001", &r1);
    assert_int_equal(lp2p_multiaddr_append_circuit(circ), 0);
    assert_int_equal(lp2p_relay_quota_reserve(q, circ), LP2P_ERR_INVAL);
    assert_int_equal(lp2p_relay_quota_npending(q), 0);

    assert_int_equal(lp2p_relay_quota_reserve(q, a1), 0);
    assert_int_equal(lp2p_relay_quota_reserve(q, a1), LP2P_ERR_EXISTS);
    /* one slot per relay, whichever of its addresses */
    assert_int_equal(lp2p_relay_quota_reserve(q, a1b), LP2P_ERR_EXISTS);
    assert_true(lp2p_relay_quota_is_pending(q, a1b));
    assert_false(lp2p_relay_quota_is_confirmed(q, a1));

    assert_int_equal(lp2p_relay_quota_confirm(q, a1), 0);
    assert_int_equal(lp2p_relay_quota_confirm(q, a1), LP2P_ERR_STATE);
    assert_int_equal(lp2p_relay_quota_reserve(q, a1), LP2P_ERR_EXISTS);
    assert_true(lp2p_relay_quota_is_confirmed(q, a1b));
    assert_false(lp2p_relay_quota_is_pending(q, a1));

    /* release from either state, then it is gone: a second release fails */
    assert_int_equal(lp2p_relay_quota_reserve(q, a2), 0);
    assert_int_equal(lp2p_relay_quota_release(q, a1b), 0);
    assert_int_equal(lp2p_relay_quota_release(q, a1), LP2P_ERR_NOT_FOUND);
    assert_int_equal(lp2p_relay_quota_release(q, a2), 0);
    assert_int_equal(lp2p_relay_quota_release(q, a2), LP2P_ERR_NOT_FOUND);
    assert_int_equal(lp2p_relay_quota_confirm(q, a2), LP2P_ERR_NOT_FOUND);
    assert_int_equal(lp2p_relay_quota_npending(q) + lp2p_relay_quota_nconfirmed(q), 0);
    lp2p_relay_quota_del(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_checked),
        cmocka_unit_test_teardown(test_relay_quota_enforced, teardown),
        cmocka_unit_test_teardown(test_relay_transitions_and_errors, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
