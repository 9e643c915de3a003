/* Loopback address per remote peer (include/kaspa/bridge.h): pinned vector (stable across
 * releases and restarts), valid forms only, spread over 127.0.0.0/8, collisions resolved
 * deterministically and independently of the order the peers are configured in. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kaspa/bridge.h"
#include "lp2p/err.h"

/* A synthetic peer ID: an identity-multihash-shaped byte string from a counter. */
static lp2p_peer_id synth_peer(uint32_t i)
{
    lp2p_peer_id p;
    memset(&p, 0, sizeof p);
    p.len = 38;
    p.bytes[0] = 0x00;
    p.bytes[1] = 36;
    p.bytes[2] = 0x08;
    p.bytes[3] = 0x01;
    for (int k = 0; k < 4; k++)
        p.bytes[4 + k] = (uint8_t)(i >> (8 * k));
    return p;
}

static int valid_form(const kaspa_loopback *a)
{
    if (a->ip[0] != 127)
        return 0;
    for (int i = 1; i < 4; i++)
        if (a->ip[i] == 0 || a->ip[i] == 255)
            return 0;
    return 1;
}

static void test_pinned_vector(void **state)
{
    lp2p_peer_id p;
    assert_int_equal(lp2p_peer_id_parse("12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN", &p),
                     0);
    kaspa_loopback a, b;
    uint32_t salt = 0;
    assert_int_equal(kaspa_loopback_derive(&p, &salt, &a), 0);
    char s[KASPA_LOOPBACK_STR_MAX];
    /* Pinned (cross-checked with Python's hashlib over the same bytes): a change here would
     * move every operator's peers to new addresses (kaspad's address book and ban list would
     * no longer match them). */
    assert_string_equal(kaspa_loopback_str(&a, s), "127.23.13.233");
    assert_int_equal(salt, 0);
    uint32_t salt2 = 0;
    assert_int_equal(kaspa_loopback_derive(&p, &salt2, &b), 0);
    assert_memory_equal(a.ip, b.ip, 4);
    assert_true(valid_form(&a));
}

static void test_forms_and_spread(void **state)
{
    enum { N = 20000 };
    static kaspa_loopback out[N];
    static lp2p_peer_id peers[N];
    int seen1[256] = {0}, seen3[256] = {0};
    uint32_t salted = 0;
    for (uint32_t i = 0; i < N; i++) {
        peers[i] = synth_peer(i);
        uint32_t salt = 0;
        assert_int_equal(kaspa_loopback_derive(&peers[i], &salt, &out[i]), 0);
        assert_true(valid_form(&out[i]));
        assert_false(out[i].ip[1] == 0 && out[i].ip[2] == 0 && out[i].ip[3] == 1);
        seen1[out[i].ip[1]]++;
        seen3[out[i].ip[3]]++;
        salted += salt > 0;
    }
    /* Every allowed value of the second and last octets occurs, none too often (expected
     * N/254 = 79 each). */
    for (int v = 1; v < 255; v++) {
        assert_true(seen1[v] > 20 && seen1[v] < 200);
        assert_true(seen3[v] > 20 && seen3[v] < 200);
    }
    /* About 1 - (254/256)^3 = 2.3 % of first candidates are rejected forms. */
    assert_true(salted > N / 100 && salted < N / 20);
}

static int loopback_cmp(const void *x, const void *y)
{
    return memcmp(((const kaspa_loopback *)x)->ip, ((const kaspa_loopback *)y)->ip, 4);
}

/* Among enough synthetic peers two first candidates collide (birthday bound over 254^3);
 * finds the first such pair deterministically. */
static void find_collision(lp2p_peer_id *a, lp2p_peer_id *b)
{
    enum { N = 40000 };
    typedef struct {
        kaspa_loopback addr;
        uint32_t i;
    } cand;
    cand *c = calloc(N, sizeof *c);
    assert_non_null(c);
    for (uint32_t i = 0; i < N; i++) {
        lp2p_peer_id p = synth_peer(i);
        uint32_t salt = 0;
        assert_int_equal(kaspa_loopback_derive(&p, &salt, &c[i].addr), 0);
        c[i].i = i;
    }
    qsort(c, N, sizeof *c, loopback_cmp);
    int found = 0;
    for (uint32_t k = 1; k < N && !found; k++)
        if (memcmp(c[k - 1].addr.ip, c[k].addr.ip, 4) == 0) {
            *a = synth_peer(c[k - 1].i);
            *b = synth_peer(c[k].i);
            found = 1;
        }
    free(c);
    assert_true(found);
}

static void test_collision_resolved(void **state)
{
    lp2p_peer_id p[3];
    find_collision(&p[0], &p[1]);
    p[2] = synth_peer(999999);
    kaspa_loopback first0, first1;
    uint32_t s0 = 0, s1 = 0;
    assert_int_equal(kaspa_loopback_derive(&p[0], &s0, &first0), 0);
    assert_int_equal(kaspa_loopback_derive(&p[1], &s1, &first1), 0);
    assert_memory_equal(first0.ip, first1.ip, 4);

    kaspa_loopback out[3];
    assert_int_equal(kaspa_loopback_assign(p, 3, out), 0);
    assert_memory_not_equal(out[0].ip, out[1].ip, 4);
    assert_memory_not_equal(out[0].ip, out[2].ip, 4);
    assert_memory_not_equal(out[1].ip, out[2].ip, 4);
    assert_true(valid_form(&out[0]) && valid_form(&out[1]));
    /* The peer that sorts first keeps its first candidate; the other moves to a later salt. */
    int zero_first = p[0].len < p[1].len ||
                     (p[0].len == p[1].len && memcmp(p[0].bytes, p[1].bytes, p[0].len) < 0);
    const kaspa_loopback *keeper = zero_first ? &out[0] : &out[1];
    const kaspa_loopback *mover = zero_first ? &out[1] : &out[0];
    assert_memory_equal(keeper->ip, first0.ip, 4);
    assert_memory_not_equal(mover->ip, first0.ip, 4);

    /* Any configuration order gives the same addresses per peer. */
    lp2p_peer_id q[3] = {p[2], p[1], p[0]};
    kaspa_loopback rout[3];
    assert_int_equal(kaspa_loopback_assign(q, 3, rout), 0);
    assert_memory_equal(rout[0].ip, out[2].ip, 4);
    assert_memory_equal(rout[1].ip, out[1].ip, 4);
    assert_memory_equal(rout[2].ip, out[0].ip, 4);
}

static void test_duplicates_and_errors(void **state)
{
    lp2p_peer_id p[3] = {synth_peer(1), synth_peer(2), synth_peer(1)};
    kaspa_loopback out[3];
    assert_int_equal(kaspa_loopback_assign(p, 3, out), 0);
    assert_memory_equal(out[0].ip, out[2].ip, 4);
    assert_memory_not_equal(out[0].ip, out[1].ip, 4);
    lp2p_peer_id empty;
    memset(&empty, 0, sizeof empty);
    assert_int_equal(kaspa_loopback_assign(&empty, 1, out), LP2P_ERR_INVAL);
    assert_int_equal(kaspa_loopback_assign(NULL, 0, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_vector),
        cmocka_unit_test(test_forms_and_spread),
        cmocka_unit_test(test_collision_resolved),
        cmocka_unit_test(test_duplicates_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
