/* The observed-address table: distinct observers counted (by IP), repeats refresh recency
 * only, candidates best first (observers, then recency), expiry after LP2P_OBS_TTL_MS without
 * a confirmation, bounded with the weakest forgotten first. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "host/observed_addrs.h"

static lp2p_multiaddr mas[256];
static size_t nmas;

static const lp2p_multiaddr *ma(const char *text)
{
    assert_true(nmas < 256);
    assert_int_equal(lp2p_multiaddr_parse(&mas[nmas], text, NULL, 0), 0);
    return &mas[nmas++];
}

static const uint8_t *key(unsigned ip)
{
    static uint8_t k[LP2P_OBS_KEY_LEN];
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(ip);
    lp2p_obs_key_from_sockaddr(&ss, k);
    return k;
}

static int add(lp2p_obs_table *t, const char *text, unsigned ip, uint64_t now)
{
    const lp2p_multiaddr *m = ma(text);
    return lp2p_obs_add(t, m->bytes, m->len, key(ip), now);
}

static char *first(lp2p_obs_table *t, uint64_t now, size_t *n)
{
    static char text[LP2P_MULTIADDR_STR_MAX];
    const uint8_t *out[LP2P_OBS_MAX_ADDRS];
    size_t lens[LP2P_OBS_MAX_ADDRS];
    *n = lp2p_obs_candidates(t, now, out, lens, LP2P_OBS_MAX_ADDRS);
    text[0] = 0;
    if (*n) {
        lp2p_multiaddr m = {0};
        assert_int_equal(lp2p_multiaddr_from_bytes(&m, out[0], lens[0], NULL, 0), 0);
        lp2p_multiaddr_to_string(&m, text, sizeof text);
        lp2p_multiaddr_free(&m);
    }
    return text;
}

static int teardown(void **state)
{
    for (size_t i = 0; i < nmas; i++)
        lp2p_multiaddr_free(&mas[i]);
    nmas = 0;
    return 0;
}

static void test_confirmations_then_recency(void **state)
{
    lp2p_obs_table t = {0};
    size_t n;
    assert_int_equal(add(&t, "/ip4/198.51.100.1/tcp/4001", 1, 1000), 2);
    assert_int_equal(add(&t, "/ip4/198.51.100.2/tcp/4001", 2, 2000), 2);
    /* the newer one first while both have one observer (the old code offered the oldest) */
    assert_string_equal(first(&t, 3000, &n), "/ip4/198.51.100.2/tcp/4001");
    assert_int_equal(n, 2);
    /* a second observer of the first one puts it ahead; the same observer again does not */
    assert_int_equal(add(&t, "/ip4/198.51.100.1/tcp/4001", 3, 4000), 1);
    assert_int_equal(add(&t, "/ip4/198.51.100.2/tcp/4001", 2, 5000), 0);
    assert_string_equal(first(&t, 6000, &n), "/ip4/198.51.100.1/tcp/4001");
    assert_int_equal(lp2p_obs_observers(&t, ma("/ip4/198.51.100.1/tcp/4001")), 2);
    assert_int_equal(lp2p_obs_observers(&t, ma("/ip4/198.51.100.2/tcp/4001")), 1);
    /* /p2p is not part of the address */
    assert_int_equal(
        add(&t,
            "/ip4/198.51.100.2/tcp/4001/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
            4, 7000),
        1);
    assert_int_equal(lp2p_obs_observers(&t, ma("/ip4/198.51.100.2/tcp/4001")), 2);
    lp2p_obs_free(&t);
}

static void test_expiry(void **state)
{
    lp2p_obs_table t = {0};
    size_t n;
    add(&t, "/ip4/198.51.100.1/tcp/4001", 1, 0);
    add(&t, "/ip4/198.51.100.1/tcp/4001", 2, 0);
    add(&t, "/ip4/198.51.100.2/tcp/4001", 3, 10 * 60 * 1000);
    first(&t, LP2P_OBS_TTL_MS, &n);
    assert_int_equal(n, 2);
    /* no confirmation for longer than the TTL: gone, however many observers it had */
    assert_string_equal(first(&t, LP2P_OBS_TTL_MS + 1, &n), "/ip4/198.51.100.2/tcp/4001");
    assert_int_equal(n, 1);
    /* a repeat keeps an address alive */
    add(&t, "/ip4/198.51.100.2/tcp/4001", 3, LP2P_OBS_TTL_MS + 5 * 60 * 1000);
    first(&t, 2ull * LP2P_OBS_TTL_MS, &n);
    assert_int_equal(n, 1);
    first(&t, 3ull * LP2P_OBS_TTL_MS, &n);
    assert_int_equal(n, 0);
    lp2p_obs_free(&t);
}

static void test_bounded_weakest_forgotten(void **state)
{
    lp2p_obs_table t = {0};
    size_t n;
    add(&t, "/ip4/198.51.100.1/tcp/4001", 1, 0);
    add(&t, "/ip4/198.51.100.1/tcp/4001", 2, 0);
    /* one observer spraying addresses cannot push out the confirmed one */
    char text[64];
    for (unsigned i = 0; i < 3 * LP2P_OBS_MAX_ADDRS; i++) {
        snprintf(text, sizeof text, "/ip4/203.0.113.%u/tcp/%u", i % 250, 1000 + i);
        add(&t, text, 9, 1 + i);
    }
    assert_int_equal(t.n, LP2P_OBS_MAX_ADDRS);
    assert_string_equal(first(&t, 1000, &n), "/ip4/198.51.100.1/tcp/4001");
    assert_int_equal(n, LP2P_OBS_MAX_ADDRS);
    /* distinct observers saturate at LP2P_OBS_MAX_OBSERVERS */
    for (unsigned i = 0; i < 2 * LP2P_OBS_MAX_OBSERVERS; i++)
        add(&t, "/ip4/198.51.100.1/tcp/4001", 100 + i, 2000);
    assert_int_equal(lp2p_obs_observers(&t, ma("/ip4/198.51.100.1/tcp/4001")),
                     LP2P_OBS_MAX_OBSERVERS);
    lp2p_obs_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_confirmations_then_recency, teardown),
        cmocka_unit_test_teardown(test_expiry, teardown),
        cmocka_unit_test_teardown(test_bounded_weakest_forgotten, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
