/* The hole-punch coordinator (src/host/holepunch.c) through its public event: three hosts
 * in one loop on 127.0.0.1. R runs the relay server, B reserves on R, A dials B through the
 * circuit; B drives DCUtR, both dial from their listen ports (on one host the SYNs meet as
 * connect + accept), and each side gets lp2p_holepunch_event DIRECT naming the connection
 * duplicate resolution kept. Also: a peer without DCUtR (SKIPPED), a peer with no address
 * to offer (FAILED per attempt, then GAVE_UP), and the relayed connection's grace period. */
#include "pair/test_host_util.h"

#include "lp2p/holepunch.h"
#include "lp2p/relay_server.h"
#include "proto/identify.h"

#define MAX_EVENTS 16

typedef struct hp_rec {
    lp2p_host *host;
    lp2p_holepunch_event ev[MAX_EVENTS];
    lp2p_conn *find_at_direct; /* lp2p_host_find_conn when DIRECT came */
    size_t n;
    int sub;
} hp_rec;

static void on_holepunch(const lp2p_holepunch_event *ev, void *ud)
{
    hp_rec *r = ud;
    if (r->n == MAX_EVENTS)
        return;
    r->ev[r->n] = *ev;
    r->ev[r->n].peer = NULL; /* borrowed: not kept */
    r->ev[r->n].peer_str = NULL;
    r->ev[r->n].reason = NULL;
    if (ev->outcome == LP2P_HOLEPUNCH_DIRECT)
        r->find_at_direct = lp2p_host_find_conn(r->host, ev->peer);
    r->n++;
}

static int count(const hp_rec *r, lp2p_holepunch_outcome what)
{
    int n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += r->ev[i].outcome == what;
    return n;
}

static const lp2p_holepunch_event *find(const hp_rec *r, lp2p_holepunch_outcome what)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].outcome == what)
            return &r->ev[i];
    return NULL;
}

static void hp_watch(hp_rec *r, lp2p_host *h)
{
    memset(r, 0, sizeof(*r));
    r->host = h;
    const lp2p_host_callbacks cb = {.on_holepunch = on_holepunch};
    r->sub = lp2p_host_subscribe(h, &cb, r);
    assert_true(r->sub >= 0);
}

static host_rec A, B, R;
static lp2p_relay_server *g_relay;
static hp_rec HA, HB;

/* B's hole-punch policy for the next world_up. */
static uint64_t g_b_timeout_ms;
static uint32_t g_b_repunch;
/* R's circuit limits for the next world_up (0: the defaults). */
static uint64_t g_r_data, g_r_duration_ms;

/* An A that takes the dcutr stream and never answers. */
static int g_silent_opened;
static void silent_open(lp2p_stream *s, void *ud)
{
    g_silent_opened++;
}
static const lp2p_stream_callbacks k_silent = {.on_open = silent_open};

/* A fresh key and the harness's callbacks; the caller tunes the rest and creates the host. */
static lp2p_host_config config_for(host_rec *r)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(lp2p_keypair_generate(&r->kp), 0);
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &g_loop, r->kp);
    hc.cb.on_connected = h_on_connected;
    hc.cb.on_disconnected = h_on_disconnected;
    hc.cb.on_identify = h_on_identify;
    hc.ud = r;
    return hc;
}

/* R relays; B reserves on R and waits for the reservation. a_dcutr = 0: A does not speak
 * DCUtR (-1: it takes the stream and stays silent); a_listen = 0: A has no address. */
static void world_up(int a_dcutr, int a_listen)
{
    log_capture_start();
    loop_start();
    host_start(&R, "R", 1, 0);
    lp2p_relay_server_config rc;
    lp2p_relay_server_config_default(&rc);
    if (g_r_data)
        rc.limits.circuit_data = g_r_data;
    if (g_r_duration_ms)
        rc.limits.circuit_duration_ms = g_r_duration_ms;
    assert_int_equal(lp2p_relay_server_new(R.host, R.kp, &rc, &g_relay), 0);

    /* B with this test's hole-punch policy. */
    lp2p_host_config bc = config_for(&B);
    bc.holepunch_timeout_ms = g_b_timeout_ms;
    bc.holepunch_repunch = g_b_repunch;
    bc.holepunch_repunch_delay_ms = 200;
    assert_int_equal(lp2p_host_new(&bc, &B.host), 0);
    assert_int_equal(lp2p_host_handle(B.host, ECHO_PROTO, &k_echo, NULL), 0);
    assert_int_equal(lp2p_host_listen(B.host, "/ip4/127.0.0.1/tcp/0"), 0);
    hp_watch(&HB, B.host);
    assert_int_equal(lp2p_host_reserve(B.host, R.addr), 0);
    assert_true(RUN_UNTIL(LOG_COUNT("reservation") == 1, 5000));

    /* A: DCUtR on or off. */
    lp2p_host_config hc = config_for(&A);
    hc.holepunch = a_dcutr > 0;
    assert_int_equal(lp2p_host_new(&hc, &A.host), 0);
    if (a_dcutr < 0)
        assert_int_equal(lp2p_host_handle(A.host, "/libp2p/dcutr", &k_silent, NULL), 0);
    if (a_listen)
        assert_int_equal(lp2p_host_listen(A.host, "/ip4/127.0.0.1/tcp/0"), 0);
    hp_watch(&HA, A.host);
}

static void world_down(void)
{
    g_b_timeout_ms = 0;
    g_b_repunch = 0;
    g_r_data = g_r_duration_ms = 0;
    lp2p_relay_server_close(g_relay);
    g_relay = NULL;
    host_free(&A);
    host_free(&B);
    host_free(&R);
    loop_finish();
    host_free_key(&A);
    host_free_key(&B);
    host_free_key(&R);
    log_capture_stop(0);
}

static lp2p_conn *dial_b_through_r(void)
{
    char circuit[512], bid[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_host_peer_id(B.host), bid, sizeof(bid));
    snprintf(circuit, sizeof(circuit), "%s/p2p-circuit/p2p/%s", R.addr, bid);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(lp2p_host_dial(A.host, circuit, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done, 5000));
    assert_int_equal(d.err, 0);
    assert_true(lp2p_conn_is_relayed(d.conn));
    return d.conn;
}

static void test_direct_event_names_the_survivor(void **state)
{
    world_up(1, 1);
    lp2p_conn *relayed = dial_b_through_r();
    assert_true(
        RUN_UNTIL(count(&HA, LP2P_HOLEPUNCH_DIRECT) && count(&HB, LP2P_HOLEPUNCH_DIRECT), 10000));
    const lp2p_holepunch_event *ea = find(&HA, LP2P_HOLEPUNCH_DIRECT);
    const lp2p_holepunch_event *eb = find(&HB, LP2P_HOLEPUNCH_DIRECT);
    /* Exactly one outcome per side, after one attempt each. */
    assert_int_equal(count(&HA, LP2P_HOLEPUNCH_DIRECT), 1);
    assert_int_equal(count(&HB, LP2P_HOLEPUNCH_DIRECT), 1);
    assert_int_equal(count(&HA, LP2P_HOLEPUNCH_GAVE_UP) + count(&HB, LP2P_HOLEPUNCH_GAVE_UP), 0);
    assert_int_equal(ea->attempt, 1);
    assert_int_equal(eb->attempt, 1);
    assert_int_equal(ea->role_b, 0);
    assert_int_equal(eb->role_b, 1);
    /* DCUtR roles: A is the Noise initiator on the direct connection, B the responder. */
    assert_int_equal(ea->initiator, 1);
    assert_int_equal(eb->initiator, 0);
    /* The direct connection is the host's choice from then on, and it is not the relay. */
    assert_non_null(ea->direct);
    assert_false(lp2p_conn_is_relayed(ea->direct));
    assert_ptr_equal(HA.find_at_direct, ea->direct);
    assert_ptr_equal(HB.find_at_direct, eb->direct);
    assert_ptr_equal(ea->relayed, relayed);
    assert_true(ea->relayed_to_direct_ms < 5000);
    /* An ATTEMPT came first on each side. */
    assert_int_equal(HA.ev[0].outcome, LP2P_HOLEPUNCH_ATTEMPT);
    assert_int_equal(HB.ev[0].outcome, LP2P_HOLEPUNCH_ATTEMPT);
    /* The same facts as log lines, written by the host's subscriber. */
    assert_int_equal(LOG_COUNT("direct_connected", "\"role\":\"initiator\""), 1);
    assert_int_equal(LOG_COUNT("direct_connected", "\"role\":\"responder\""), 1);
    /* The direct connection carries streams. */
    lp2p_conn *d = lp2p_host_find_conn(A.host, lp2p_host_peer_id(B.host));
    assert_ptr_equal(d, ea->direct);
    echo_round_trip(d, "over the punched connection");
    /* The relayed connection closes after the grace period (3 s), not before. */
    int before = A.disconnected;
    run_for(1500);
    assert_int_equal(A.disconnected, before);
    assert_true(RUN_UNTIL(A.disconnected > before, 4000));
    assert_true(LOG_COUNT("relayed_closed") >= 1);
    assert_ptr_equal(lp2p_host_find_conn(A.host, lp2p_host_peer_id(B.host)), ea->direct);
    world_down();
}

static void test_peer_without_dcutr_is_skipped(void **state)
{
    world_up(0, 1);
    dial_b_through_r();
    assert_true(RUN_UNTIL(count(&HB, LP2P_HOLEPUNCH_SKIPPED) == 1, 5000));
    run_for(300);
    assert_int_equal(HB.n, 1); /* nothing else: no attempt, no outcome */
    assert_int_equal(HA.n, 0);
    assert_true(LOG_COUNT("dcutr_skipped") >= 1);
    world_down();
}

/* A sends an identify/push on conn listing these protocols (a partial Identify). */
static void push_protocols(lp2p_conn *conn, const char **protos, size_t n)
{
    lp2p_identify_info info;
    lp2p_identify_info_init(&info);
    info.protocols = (char **)protos;
    info.n_protocols = n;
    lp2p_buf out;
    lp2p_buf_init(&out);
    assert_int_equal(lp2p_identify_encode(&info, &out, NULL, NULL, NULL), 0);
    static stream_rec recs[8];
    static size_t next;
    stream_rec *r = &recs[next++ % 8];
    sr_init(r);
    assert_int_equal(lp2p_conn_open_stream(conn, LP2P_IDENTIFY_PUSH_PROTO, &k_rec_cb, r, &r->s), 0);
    assert_int_equal(lp2p_stream_write(r->s, lp2p_buf_head(&out), lp2p_buf_size(&out)), 0);
    assert_int_equal(lp2p_stream_close(r->s), 0);
    lp2p_buf_free(&out);
}

/* go-libp2p registers /libp2p/dcutr only once it believes it has a public address, then
 * tells its peers with identify/push. B skipped the punch when A did not speak DCUtR; when
 * a push later lists /libp2p/dcutr on the relayed connection (not yet upgraded), B tries
 * again. A push without it changes nothing. */
static void test_push_listing_dcutr_retries(void **state)
{
    world_up(0, 1);
    lp2p_conn *relayed = dial_b_through_r();
    assert_true(RUN_UNTIL(count(&HB, LP2P_HOLEPUNCH_SKIPPED) >= 1, 5000));
    run_for(200);
    int skipped = count(&HB, LP2P_HOLEPUNCH_SKIPPED);
    const char *without[] = {"/ipfs/id/1.0.0", ECHO_PROTO};
    push_protocols(relayed, without, 2);
    run_for(300);
    assert_int_equal(LOG_COUNT("dcutr_retry"), 0);
    /* A now speaks DCUtR (it takes the stream and stays silent) and says so */
    assert_int_equal(lp2p_host_handle(A.host, "/libp2p/dcutr", &k_silent, NULL), 0);
    const char *with[] = {"/ipfs/id/1.0.0", ECHO_PROTO, "/libp2p/dcutr"};
    g_silent_opened = 0;
    push_protocols(relayed, with, 3);
    /* B opened a new DCUtR stream: a fresh exchange on the same relayed connection */
    assert_true(RUN_UNTIL(g_silent_opened == 1, 3000));
    assert_int_equal(count(&HB, LP2P_HOLEPUNCH_SKIPPED), skipped);
    assert_int_equal(LOG_COUNT("dcutr_retry", "identify lists /libp2p/dcutr"), 1);
    /* while that exchange runs, another push starts nothing */
    push_protocols(relayed, with, 3);
    run_for(300);
    assert_int_equal(g_silent_opened, 1);
    world_down();
}

/* The relay cuts a circuit at the Limit it announced (ours resets both streams, go sends FIN
 * at the data limit and RST at the duration, rust counts both directions together): both
 * ends report the relay's limit, not the peer closing or resetting. */
static void test_relay_data_limit_reported(void **state)
{
    g_r_data = 64 << 10;
    world_up(0, 1);
    lp2p_conn *relayed = dial_b_through_r();
    static stream_rec r;
    sr_init(&r);
    assert_int_equal(lp2p_conn_open_stream(relayed, ECHO_PROTO, &k_rec_cb, &r, &r.s), 0);
    static uint8_t big[100 << 10];
    memset(big, 0x33, sizeof big);
    assert_int_equal(lp2p_stream_write(r.s, big, sizeof big), 0);
    assert_true(RUN_UNTIL(A.disconnected >= 1 && B.disconnected >= 1, 5000));
    assert_int_equal(LOG_COUNT("disconnected", "relay limit reached: data", "\"relayed\":true"), 2);
    assert_int_equal(LOG_COUNT("disconnected", "carrying stream"), 0);
    world_down();
}

static void test_relay_duration_limit_reported(void **state)
{
    g_r_duration_ms = 1000;
    world_up(0, 1);
    dial_b_through_r();
    assert_true(RUN_UNTIL(A.disconnected >= 1 && B.disconnected >= 1, 5000));
    assert_int_equal(LOG_COUNT("disconnected", "relay limit reached: duration", "\"relayed\":true"),
                     2);
    world_down();
}

static void test_no_address_fails_then_gives_up(void **state)
{
    /* A listens nowhere, so its CONNECT carries no address (its connection to R is from an
     * ephemeral port, so R's observation of it is no candidate): each of B's attempts fails at
     * once, and B gives up after its last one; the relayed connection stays up. */
    world_up(1, 0);
    lp2p_conn *relayed = dial_b_through_r();
    assert_true(RUN_UNTIL(count(&HB, LP2P_HOLEPUNCH_GAVE_UP) == 1, 15000));
    assert_true(count(&HB, LP2P_HOLEPUNCH_FAILED) >= 1);
    assert_int_equal(count(&HB, LP2P_HOLEPUNCH_DIRECT), 0);
    assert_int_equal(count(&HA, LP2P_HOLEPUNCH_DIRECT), 0);
    const lp2p_holepunch_event *g = find(&HB, LP2P_HOLEPUNCH_GAVE_UP);
    assert_true(g->attempt >= 1);
    /* B gives up once (A, with nothing to offer, ends each exchange B opens on its side) */
    char a_id[LP2P_PEER_ID_STR_MAX + 16], a_str[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_host_peer_id(A.host), a_str, sizeof a_str);
    snprintf(a_id, sizeof a_id, "\"peer\":\"%s\"", a_str);
    assert_int_equal(LOG_COUNT("holepunch_gave_up", a_id), 1);
    assert_ptr_equal(lp2p_host_find_conn(A.host, lp2p_host_peer_id(B.host)), relayed);
    echo_round_trip(relayed, "still over the relay");
    world_down();
}

static void test_timeout_gives_up(void **state)
{
    /* A never answers CONNECT; DCUtR's own timeout is long, B's policy gives up first. */
    g_b_timeout_ms = 400;
    world_up(-1, 1);
    lp2p_conn *relayed = dial_b_through_r();
    uint64_t t0 = uv_now(&g_loop);
    assert_true(RUN_UNTIL(count(&HB, LP2P_HOLEPUNCH_GAVE_UP) == 1, 5000));
    uint64_t took = uv_now(&g_loop) - t0;
    assert_true(took < 2000);
    assert_int_equal(count(&HB, LP2P_HOLEPUNCH_DIRECT), 0);
    assert_true(LOG_COUNT("holepunch_gave_up", "no direct connection in time") == 1);
    run_for(500);
    assert_int_equal(count(&HB, LP2P_HOLEPUNCH_GAVE_UP), 1); /* once, and no more attempts */
    assert_ptr_equal(lp2p_host_find_conn(A.host, lp2p_host_peer_id(B.host)), relayed);
    world_down();
}

static void test_repunch_runs_a_fresh_exchange(void **state)
{
    /* One re-punch: after the first exchange's attempts are spent, a second one starts on the
     * same relayed connection; its attempts are numbered on from the first's; one GAVE_UP. */
    g_b_repunch = 1;
    world_up(1, 0);
    dial_b_through_r();
    assert_true(RUN_UNTIL(count(&HB, LP2P_HOLEPUNCH_GAVE_UP) == 1, 15000));
    int failed = count(&HB, LP2P_HOLEPUNCH_FAILED);
    assert_true(failed >= 2);
    int last = 0, grew = 1;
    for (size_t i = 0; i < HB.n; i++)
        if (HB.ev[i].outcome == LP2P_HOLEPUNCH_FAILED) {
            grew &= HB.ev[i].attempt > last;
            last = HB.ev[i].attempt;
        }
    assert_true(grew);
    const lp2p_holepunch_event *g = find(&HB, LP2P_HOLEPUNCH_GAVE_UP);
    assert_int_equal(g->attempt, last);
    /* Two DCUtR streams reached A: the first exchange and the re-punch. */
    assert_true(LOG_COUNT("dcutr_failed") >= 2);
    world_down();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_event_names_the_survivor),
        cmocka_unit_test(test_peer_without_dcutr_is_skipped),
        cmocka_unit_test(test_no_address_fails_then_gives_up),
        cmocka_unit_test(test_timeout_gives_up),
        cmocka_unit_test(test_repunch_runs_a_fresh_exchange),
        cmocka_unit_test(test_push_listing_dcutr_retries),
        cmocka_unit_test(test_relay_data_limit_reported),
        cmocka_unit_test(test_relay_duration_limit_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
