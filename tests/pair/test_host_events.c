/* The host's observer list (src/host/events.c) through the public API: several subscribers
 * per event, the config's callbacks being the first; on_disconnected in reverse order;
 * unsubscribing (also from inside a callback) stops the events; per-connection service state
 * (identify's) is kept and released by the service. */
#include "pair/test_host_util.h"

TRIO_FIXTURE()

#define MAX_TRACE 32
static char g_trace[MAX_TRACE][16];
static size_t g_ntrace;

static void trace(const char *what, int who)
{
    if (g_ntrace < MAX_TRACE)
        snprintf(g_trace[g_ntrace++], sizeof(g_trace[0]), "%s%d", what, who);
}

typedef struct sub_rec {
    int who;
    int connected, identified, disconnected;
    int unsubscribe_on_connected;
    int identified_at_disconnect;
    int id;
    lp2p_host *host;
} sub_rec;

static void s_connected(lp2p_conn *c, void *ud)
{
    sub_rec *s = ud;
    s->connected++;
    trace("c", s->who);
    if (s->unsubscribe_on_connected)
        lp2p_host_unsubscribe(s->host, s->id);
}
static void s_identify(lp2p_conn *c, const lp2p_identify_result *r, void *ud)
{
    sub_rec *s = ud;
    s->identified++;
    assert_true(lp2p_conn_identified(c));
}
static void s_disconnected(lp2p_conn *c, int reason, void *ud)
{
    sub_rec *s = ud;
    s->disconnected++;
    s->identified_at_disconnect = lp2p_conn_identified(c);
    trace("d", s->who);
}
static const lp2p_host_callbacks k_sub = {
    .on_connected = s_connected, .on_identify = s_identify, .on_disconnected = s_disconnected};

static void subscribe(sub_rec *s, lp2p_host *h, int who)
{
    memset(s, 0, sizeof(*s));
    s->who = who;
    s->host = h;
    s->id = lp2p_host_subscribe(h, &k_sub, s);
    assert_true(s->id >= 0);
}

static void test_every_subscriber_hears_every_event(void **state)
{
    sub_rec s1, s2;
    subscribe(&s1, B.host, 1);
    subscribe(&s2, B.host, 2);
    g_ntrace = 0;
    lp2p_conn *c = trio_connect(&A, &B);
    assert_true(RUN_UNTIL(s1.identified && s2.identified, 5000));
    /* The config's callbacks are a subscriber too, and the first. */
    assert_int_equal(B.connected, 1);
    assert_int_equal(B.identified, 1);
    assert_int_equal(s1.connected, 1);
    assert_int_equal(s2.connected, 1);
    assert_string_equal(g_trace[0], "c1");
    assert_string_equal(g_trace[1], "c2");
    g_ntrace = 0;
    lp2p_conn_close(c, 0);
    assert_true(RUN_UNTIL(s1.disconnected && s2.disconnected && B.disconnected, 5000));
    /* Last in, first out: the later subscriber lets go first. */
    assert_string_equal(g_trace[0], "d2");
    assert_string_equal(g_trace[1], "d1");
    /* Service state outlives every subscriber's on_disconnected. */
    assert_true(s1.identified_at_disconnect);
    assert_true(s2.identified_at_disconnect);
    assert_int_equal(B.disconnected, 1);
}

static void test_unsubscribe_stops_events(void **state)
{
    sub_rec s1, s2;
    subscribe(&s1, B.host, 1);
    subscribe(&s2, B.host, 2);
    s1.unsubscribe_on_connected = 1; /* from inside its own callback */
    lp2p_host_unsubscribe(B.host, s2.id);
    lp2p_conn *c = trio_connect(&A, &B);
    assert_int_equal(s1.connected, 1);
    assert_int_equal(s2.connected, 0);
    lp2p_conn_close(c, 0);
    assert_true(RUN_UNTIL(B.disconnected == 1, 5000));
    run_for(50);
    assert_int_equal(s1.identified + s1.disconnected, 0);
    assert_int_equal(s2.identified + s2.disconnected, 0);
}

static void test_subscriber_limit(void **state)
{
    /* The list is bounded: past it subscribe says so instead of growing. */
    static sub_rec s[32];
    int ok = 0, refused = 0;
    for (int i = 0; i < 32; i++) {
        int id = lp2p_host_subscribe(B.host, &k_sub, &s[i]);
        if (id >= 0)
            ok++;
        else if (id == LP2P_ERR_LIMIT)
            refused++;
    }
    assert_true(ok > 0);
    assert_true(refused > 0);
    assert_int_equal(ok + refused, 32);
}

static void test_identified_is_per_connection(void **state)
{
    lp2p_conn *c = trio_connect(&A, &B);
    assert_true(lp2p_conn_identified(c));
    /* A second connection (another host) starts unidentified and becomes identified by its
     * own identify exchange, not the first one's. */
    host_start(&C, "C", 1, 0);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(C.host, B.addr, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done, 5000));
    assert_int_equal(d.err, 0);
    assert_false(lp2p_conn_identified(d.conn));
    assert_true(RUN_UNTIL(lp2p_conn_identified(d.conn), 5000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_subscriber_hears_every_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsubscribe_stops_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscriber_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identified_is_per_connection, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
