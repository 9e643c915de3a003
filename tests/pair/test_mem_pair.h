/* Two hosts of test_host_util.h joined over a fresh in-memory transport pair (no sockets):
 * the fixture of the tests of one connection (test_conn, test_stream). Include after
 * test_host_util.h, host/host_internal.h and net/mem_transport.h. */
#ifndef TEST_MEM_PAIR_H
#define TEST_MEM_PAIR_H

/* The dial's record lives as long as the test: the connection keeps a pointer to it until
 * its dial callback has run. */
static dial_rec g_mem_dial;

/* a dials b; returns once both ends are ready, a's end in *ca and b's in *cb. */
static inline void mem_connect(host_rec *a, host_rec *b, lp2p_conn **ca, lp2p_conn **cb)
{
    lp2p_transport *ta, *tb;
    assert_int_equal(lp2p_mem_transport_pair(&g_loop, &ta, &tb), 0);
    memset(&g_mem_dial, 0, sizeof(g_mem_dial));
    *ca = lp2p__conn_new(a->host, ta, 1, NULL, lp2p_host_peer_id(b->host));
    assert_non_null(*ca);
    (*ca)->dial_cb = on_dial;
    (*ca)->dial_ud = &g_mem_dial;
    lp2p__conn_start(*ca);
    *cb = lp2p__host_inbound(b->host, tb);
    assert_non_null(*cb);
    assert_true(RUN_UNTIL(g_mem_dial.done && a->connected && b->connected, 3000));
    assert_int_equal(g_mem_dial.err, 0);
    assert_ptr_equal(g_mem_dial.conn, *ca);
    assert_ptr_equal(b->conn, *cb);
}

#endif
