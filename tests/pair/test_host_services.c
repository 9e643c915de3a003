/* The host's echo and perf servers (src/host/echo_svc.c, perf_svc.c) through the public API:
 * enabled with lp2p_host_serve_echo / lp2p_host_serve_perf, advertised in identify, and
 * answering on the wire: echo returns every byte then closes; perf drains the upload and
 * sends exactly the length asked for in its 8-byte big-endian header, then closes. */
#include "pair/test_host_util.h"

#include <unistd.h>

#include "proto/identify.h"
#include "proto/perf.h"

TRIO_FIXTURE()

static void test_echo_server(void **state)
{
    /* Replaces the harness's own echo handler: the host's answers now. */
    assert_int_equal(lp2p_host_serve_echo(B.host), 0);
    lp2p_conn *c = trio_connect(&A, &B);
    assert_true(A.has_echo_proto);
    g_echo_opened = 0;
    echo_round_trip(c, "the host's own echo");
    assert_int_equal(g_echo_opened, 0);
}

static void test_perf_server(void **state)
{
    assert_int_equal(lp2p_host_serve_perf(B.host), 0);
    lp2p_conn *c = trio_connect(&A, &B);
    static stream_rec r;
    sr_init(&r);
    assert_int_equal(lp2p_conn_open_stream(c, LP2P_PERF_PROTO, &k_rec_cb, &r, &r.s), 0);
    const uint64_t want = 300000; /* more than one Yamux window's worth is not needed */
    uint8_t hdr[8];
    for (int i = 0; i < 8; i++)
        hdr[i] = (uint8_t)(want >> (56 - 8 * i));
    static uint8_t up[100000];
    memset(up, 0x5a, sizeof(up));
    assert_int_equal(lp2p_stream_write(r.s, hdr, sizeof(hdr)), 0);
    assert_int_equal(lp2p_stream_write(r.s, up, sizeof(up)), 0);
    assert_int_equal(lp2p_stream_close(r.s), 0);
    assert_true(RUN_UNTIL(r.closed, 5000));
    assert_int_equal(r.err, 0);
    assert_true(r.eof);
    assert_int_equal(lp2p_buf_size(&r.got), want);
    sr_free(&r);
}

static void test_perf_off_by_default(void **state)
{
    lp2p_conn *c = trio_connect(&A, &B);
    static stream_rec r;
    sr_init(&r);
    assert_int_equal(lp2p_conn_open_stream(c, LP2P_PERF_PROTO, &k_rec_cb, &r, &r.s), 0);
    assert_int_equal(lp2p_stream_write(r.s, "\0\0\0\0\0\0\0\1", 8), 0);
    assert_true(RUN_UNTIL(r.closed, 5000));
    assert_int_equal(r.err, LP2P_ERR_NA);
    sr_free(&r);
}

/* A host listening on 0.0.0.0 advertises its interface addresses (with the port it bound),
 * never 0.0.0.0: go-libp2p filters the unspecified address and rust-libp2p refuses to dial
 * it. The signed peer record is sealed over the same list. */
static char g_listen_seen[8][256];
static size_t g_nlisten_seen;
static int g_identify_seen;
static void record_listen(lp2p_conn *c, const lp2p_identify_result *r, void *ud)
{
    g_identify_seen++;
    g_nlisten_seen = 0;
    for (size_t i = 0; i < r->nlisten && i < 8; i++)
        snprintf(g_listen_seen[g_nlisten_seen++], 256, "%s", r->listen_addrs[i]);
}

static void test_identify_advertises_concrete_addresses(void **state)
{
    host_start(&C, "C", 0, 0);
    assert_int_equal(lp2p_host_listen(C.host, "/ip4/0.0.0.0/tcp/0"), 0);
    const char *const *la;
    assert_int_equal(lp2p_host_listen_addrs(C.host, &la), 1);
    unsigned port = 0;
    assert_int_equal(sscanf(la[0], "/ip4/0.0.0.0/tcp/%u/p2p/", &port), 1);
    char to[256];
    snprintf(to, sizeof to, "/ip4/127.0.0.1/tcp/%u%s", port, strstr(la[0], "/p2p/"));
    lp2p_host_callbacks cb = {.on_identify = record_listen};
    g_identify_seen = 0;
    assert_true(lp2p_host_subscribe(A.host, &cb, NULL) >= 0);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(A.host, to, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done && g_identify_seen, 5000));
    assert_int_equal(d.err, 0);
    assert_true(g_nlisten_seen >= 1);
    char tail[32];
    snprintf(tail, sizeof tail, "/tcp/%u", port);
    for (size_t i = 0; i < g_nlisten_seen; i++) {
        assert_null(strstr(g_listen_seen[i], "/0.0.0.0/"));
        assert_non_null(strstr(g_listen_seen[i], tail));
    }
}

/* An observed address counts only from a connection on our listen port: C dials B without
 * listening (an ephemeral port), so what B saw is no NAT mapping C could offer for a punch;
 * A dials from its listen port (port reuse), so B's observation of A is kept. */
static void test_observed_only_from_listen_port(void **state)
{
    const char *b_id = strstr(B.addr, "/p2p/") + 5;
    char by_b[128];
    snprintf(by_b, sizeof by_b, "\"by\":\"%s\"", b_id);
    host_start(&C, "C", 0, 0);
    lp2p_conn *c = trio_connect(&C, &B);
    assert_non_null(c);
    assert_int_equal(LOG_COUNT("observed_addr", by_b), 0);
    assert_true(LOG_COUNT("observed_addr_ignored", by_b, "ephemeral") >= 1);
    trio_connect(&A, &B);
    char a_port[32];
    snprintf(a_port, sizeof a_port, "/tcp/%u\"", A.port);
    assert_int_equal(LOG_COUNT("observed_addr", by_b, a_port), 1);
}

/* One identify answer from B on a new stream of c, decoded (the caller frees info). */
static void identify_once(lp2p_conn *c, lp2p_identify_info *info)
{
    static stream_rec r;
    sr_init(&r);
    assert_int_equal(lp2p_conn_open_stream(c, "/ipfs/id/1.0.0", &k_rec_cb, &r, &r.s), 0);
    assert_true(RUN_UNTIL(r.eof, 5000)); /* B writes one message and closes its side */
    assert_int_equal(lp2p_stream_close(r.s), 0);
    assert_true(RUN_UNTIL(r.closed, 5000));
    assert_int_equal(r.err, 0);
    /* One length-prefixed message: skip the uvarint. */
    const uint8_t *p = lp2p_buf_head(&r.got);
    size_t n = lp2p_buf_size(&r.got), k = 0;
    while (k < n && (p[k] & 0x80))
        k++;
    assert_true(k < n);
    lp2p_identify_info_init(info);
    assert_int_equal(lp2p_identify_decode(p + k + 1, n - k - 1, info), 0);
    assert_non_null(info->signed_peer_record);
    sr_free(&r);
}

/* The signed peer record is sealed once per set of addresses: identify answers carry the
 * same envelope (same seq) while B's addresses stay, and a new one (still valid, for the new
 * list) once B listens on another address. */
static void test_identify_reuses_signed_record(void **state)
{
    lp2p_conn *c = trio_connect(&A, &B);
    lp2p_identify_info one, two, three;
    identify_once(c, &one);
    usleep(3000); /* a record sealed now would carry another seq (wall-clock ms) */
    identify_once(c, &two);
    assert_int_equal(one.signed_peer_record_len, two.signed_peer_record_len);
    assert_memory_equal(one.signed_peer_record, two.signed_peer_record, one.signed_peer_record_len);
    assert_int_equal(lp2p_host_listen(B.host, "/ip4/127.0.0.1/tcp/0"), 0);
    identify_once(c, &three);
    assert_true(
        three.signed_peer_record_len != one.signed_peer_record_len ||
        memcmp(three.signed_peer_record, one.signed_peer_record, one.signed_peer_record_len) != 0);
    const lp2p_peer_id *bid = lp2p_conn_peer(c);
    assert_int_equal(lp2p_identify_verify(&three, bid, NULL), 0);
    assert_true(three.record_verified);
    assert_int_equal(three.n_listen_addrs, one.n_listen_addrs + 1);
    lp2p_identify_info_free(&one);
    lp2p_identify_info_free(&two);
    lp2p_identify_info_free(&three);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perf_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perf_off_by_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identify_advertises_concrete_addresses, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_observed_only_from_listen_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identify_reuses_signed_record, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
