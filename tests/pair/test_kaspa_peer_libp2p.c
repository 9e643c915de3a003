/* The Kaspa peer driver's libp2p constructors between two real hosts on 127.0.0.1 in one
 * loop: kaspa_peer_serve_libp2p on one, kaspa_peer_open_libp2p on the other; the synthetic
 * fd00::/8 duplicate key and the peer ID label; a ping; a clean end logged once per side;
 * and a protocol the peer does not serve, reported as the session's reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "crypto/random.h"
#include "kaspa/peer.h"
#include "test_host_util.h"

typedef struct side {
    int ready, pings, on_closed, err;
    kaspa_peer *p;
    char reason[200], label[64], key_addr[64];
    int relayed;
} side;

static void on_ev(void *u, kaspa_peer *p, const kaspa_event *ev)
{
    side *s = u;
    s->p = p;
    if (ev->type == KASPA_EV_READY) {
        s->ready++;
        snprintf(s->label, sizeof s->label, "%s", kaspa_peer_label(p));
        snprintf(s->key_addr, sizeof s->key_addr, "%s", kaspa_peer_key_addr(p));
        s->relayed = kaspa_peer_relayed(p);
    } else if (ev->type == KASPA_EV_PING) {
        s->pings++;
    }
}

static void on_closed(void *u, kaspa_peer *p, int err)
{
    side *s = u;
    s->on_closed++;
    s->err = err;
    snprintf(s->reason, sizeof s->reason, "%s", kaspa_peer_reason(p));
    s->p = NULL;
}

static const kaspa_peer_callbacks CB = {.on_event = on_ev, .on_closed = on_closed};

static void test_libp2p_serve_open_ping_close_and_unserved_protocol(void **state)
{
    host_rec a, b, c;
    trio_setup(&a, &b, &c, 0);
    kaspa_hub *ha, *hb;
    assert_int_equal(kaspa_hub_new(&ha, NULL, &LP2P_RNG_OPENSSL), 0);
    assert_int_equal(kaspa_hub_new(&hb, NULL, &LP2P_RNG_OPENSSL), 0);
    kaspa_session_config ca, cb;
    kaspa_session_config_default(&ca, ha, KASPA_H2_PROFILE_LIBP2P);
    kaspa_session_config_default(&cb, hb, KASPA_H2_PROFILE_LIBP2P);
    ca.rng = cb.rng = LP2P_RNG_OPENSSL;
    ca.ping_interval_ms = cb.ping_interval_ms = 0;
    side cli = {0}, srv = {0};
    assert_int_equal(kaspa_peer_serve_libp2p(b.host, &g_loop, &cb, &CB, &srv), 0);
    lp2p_conn *conn = trio_connect(&a, &b);

    kaspa_peer *p;
    assert_int_equal(kaspa_peer_open_libp2p(conn, NULL, &g_loop, &ca, &CB, &cli, &p), 0);
    assert_true(RUN_UNTIL(cli.ready && srv.ready, 5000));
    /* Each side is named by the other's peer ID and keyed by its synthetic address. */
    char a_id[LP2P_PEER_ID_STR_MAX], b_id[LP2P_PEER_ID_STR_MAX], a_synth[64];
    lp2p_peer_id_to_string(lp2p_host_peer_id(a.host), a_id, sizeof a_id);
    lp2p_peer_id_to_string(lp2p_host_peer_id(b.host), b_id, sizeof b_id);
    assert_int_equal(
        kaspa_synthetic_addr_string(lp2p_host_peer_id(a.host), a_synth, sizeof a_synth), 0);
    assert_string_equal(srv.label, a_id);
    assert_string_equal(srv.key_addr, a_synth);
    assert_string_equal(cli.label, b_id);
    assert_int_equal(srv.relayed, 0);
    assert_int_equal(kaspa_hub_count(hb), 1);
    assert_int_equal(LOG_COUNT("kaspa_stream_open", "\"role\":\"client\""), 1);
    assert_int_equal(LOG_COUNT("kaspa_stream_open", "\"role\":\"server\"",
                               "\"protocol\":\"" KASPA_PEER_PROTO "\""),
                     1);

    assert_int_equal(kaspa_peer_ping(p), 0);
    assert_true(RUN_UNTIL(cli.pings == 1, 5000));
    kaspa_peer_close(p, NULL);
    assert_true(RUN_UNTIL(cli.on_closed && srv.on_closed, 5000));
    assert_int_equal(cli.err, 0);
    assert_int_equal(srv.err, 0);
    assert_int_equal(kaspa_hub_count(hb), 0);
    assert_int_equal(LOG_COUNT("kaspa_session_closed"), 2);

    /* A protocol b does not serve: the stream is refused and the session says why. */
    side other = {0};
    assert_int_equal(kaspa_peer_open_libp2p(conn, "/not/kaspa/1.0", &g_loop, &ca, &CB, &other, &p),
                     0);
    assert_true(RUN_UNTIL(other.on_closed, 5000));
    assert_string_equal(other.reason, "the peer does not serve /not/kaspa/1.0");
    assert_int_equal(kaspa_hub_count(ha), 0);

    trio_teardown(&a, &b, &c);
    log_capture_stop(0);
    kaspa_hub_del(ha);
    kaspa_hub_del(hb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libp2p_serve_open_ping_close_and_unserved_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
