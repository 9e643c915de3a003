/* Two direct connections between the same two peers after a hole punch whose SYNs crossed
 * (issue 11 item 3): the punch dials and the peer's SYN can leave one connection that is a
 * real TCP simultaneous open (each side connect()ed: outbound on both) and another that is
 * a connect on one side and an accept on the other (from a second candidate address). The
 * roles come from DCUtR on both (A = Noise initiator and Yamux client, whoever opened the
 * socket), so "which side dialed" does not name the same connection on both sides: for the
 * simultaneous open both say "I did". Both hosts must still keep the same one, and close the
 * other gracefully; before the fix A kept one by the peer-ID rule for opposite directions,
 * B kept the one that was ready first, each retired the other's survivor, and both
 * connections were gone once the drain was over.
 *
 * Built over the in-memory transport, each connection set up the way src/host/holepunch.c
 * sets up its punch dials and claimed accepts (outbound flag, initiator from the punch). */
#include "test_host_util.h"

#include "host/host_internal.h"
#include "net/mem_transport.h"

static host_rec A, B;

static int setup(void **state)
{
    log_capture_start();
    loop_start();
    host_start(&A, "A", 0, 0);
    host_start(&B, "B", 0, 0);
    return 0;
}

static int teardown(void **state)
{
    host_free(&A);
    host_free(&B);
    loop_finish();
    host_free_key(&A);
    host_free_key(&B);
    log_capture_stop(0);
    return 0;
}

/* One connection over a fresh memory pair: A's end and B's end with their direction (as
 * the socket was opened) and the punch's roles (A initiator, B responder). */
typedef struct pair_ends {
    lp2p_conn *a, *b;
} pair_ends;

static pair_ends punched(int a_outbound, int b_outbound)
{
    lp2p_transport *ta, *tb;
    assert_int_equal(lp2p_mem_transport_pair(&g_loop, &ta, &tb), 0);
    pair_ends p;
    p.a = lp2p__conn_new(A.host, ta, a_outbound, NULL, lp2p_host_peer_id(B.host));
    p.b = lp2p__conn_new(B.host, tb, b_outbound, NULL, lp2p_host_peer_id(A.host));
    assert_non_null(p.a);
    assert_non_null(p.b);
    p.a->initiator = 1; /* spec A, whoever opened the socket */
    p.b->initiator = 0;
    p.a->punched = p.b->punched = 1; /* as lp2p__host_dial_punch and the claimed accept set */
    lp2p__conn_start(p.a);
    lp2p__conn_start(p.b);
    return p;
}

/* Live (ready, not draining, no GoAway from the peer) connections of h to peer. */
static int live_conns(lp2p_host *h, const lp2p_peer_id *peer)
{
    int n = 0;
    lp2p_list *pos;
    for (pos = h->conns.next; pos != &h->conns; pos = pos->next) {
        lp2p_conn *c = lp2p_container_of(pos, lp2p_conn, link);
        if (c->stage == CONN_READY && !c->draining && !c->remote_goaway &&
            lp2p_peer_id_equal(&c->peer, peer))
            n++;
    }
    return n;
}

static int a_is_smaller(void)
{
    const lp2p_peer_id *a = lp2p_host_peer_id(A.host), *b = lp2p_host_peer_id(B.host);
    size_t n = a->len < b->len ? a->len : b->len;
    int cmp = memcmp(a->bytes, b->bytes, n);
    return cmp ? cmp < 0 : a->len < b->len;
}

/* first_is_simopen: which of the two connections becomes ready first (on both sides). The
 * order that broke the old rules: B's first-ready connection is the one A's peer-ID rule
 * does not pick. Both orders must end with one shared survivor. */
static void crossing_round(int first_is_simopen)
{
    const lp2p_peer_id *aid = lp2p_host_peer_id(A.host), *bid = lp2p_host_peer_id(B.host);
    pair_ends first, second;
    if (first_is_simopen) {
        first = punched(1, 1); /* simultaneous open: both connect()ed */
        assert_true(RUN_UNTIL(first.a->stage == CONN_READY && first.b->stage == CONN_READY, 3000));
        second = punched(0, 1); /* B's SYN met A's listener: A accepted */
    } else {
        first = punched(0, 1);
        assert_true(RUN_UNTIL(first.a->stage == CONN_READY && first.b->stage == CONN_READY, 3000));
        second = punched(1, 1);
    }
    assert_true(RUN_UNTIL(second.a->stage >= CONN_READY && second.b->stage >= CONN_READY, 3000));
    /* both duplicates resolved, the loser drained (200 ms quiet) and closed with GoAway */
    run_for(800);
    lp2p_conn *ca = lp2p_host_find_conn(A.host, bid);
    lp2p_conn *cb = lp2p_host_find_conn(B.host, aid);
    fprintf(stderr, "first %s, A %s B: A keeps %s, B keeps %s (live: A %d, B %d)\n",
            first_is_simopen ? "simultaneous open" : "connect+accept", a_is_smaller() ? "<" : ">",
            !ca              ? "none"
            : ca == first.a  ? "first"
            : ca == second.a ? "second"
                             : "?",
            !cb              ? "none"
            : cb == first.b  ? "first"
            : cb == second.b ? "second"
                             : "?",
            live_conns(A.host, bid), live_conns(B.host, aid));
    assert_non_null(ca);
    assert_non_null(cb);
    assert_int_equal(live_conns(A.host, bid), 1);
    assert_int_equal(live_conns(B.host, aid), 1);
    /* the same connection: both ends of one memory pair */
    assert_true((ca == first.a && cb == first.b) || (ca == second.a && cb == second.b));
    echo_round_trip(ca, "A to B on the survivor");
    echo_round_trip(cb, "B to A on the survivor");
    lp2p_conn_close(ca, 0);
    assert_true(RUN_UNTIL(!lp2p_host_find_conn(B.host, aid), 3000));
    run_for(50);
}

static void test_crossing_syns_keep_one_connection_simopen_first(void **state)
{
    crossing_round(1);
}

static void test_crossing_syns_keep_one_connection_accept_first(void **state)
{
    crossing_round(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crossing_syns_keep_one_connection_simopen_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crossing_syns_keep_one_connection_accept_first, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
