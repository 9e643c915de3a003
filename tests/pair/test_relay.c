/* Circuit Relay v2: relay core + client/stop helpers in one process with a fake clock.
 * S reserves, C connects to S through the relay, limits and refusals with the spec's codes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "lp2p/identity.h"
#include "proto/relay_hop.h"
#include "proto/relay_msg.h"
#include "proto/relay_stop.h"
#include "test_trace.h"
#include "util/uvarint.h"

#define UNIX0 1764000000ull

typedef struct world {
    lp2p_keypair *relay_kp, *s_kp, *c_kp, *x_kp;
    lp2p_relay *relay;
    lp2p_buf hop, stop;
    uint64_t now;
} world;

static const uint8_t relay_addr[] = {0x04, 198, 51, 100, 1, 0x06, 0x0f, 0xa1};

static world *make_world(const lp2p_relay_config *cfg)
{
    world *w = calloc(1, sizeof(*w));
    assert_int_equal(lp2p_keypair_generate(&w->relay_kp), 0);
    assert_int_equal(lp2p_keypair_generate(&w->s_kp), 0);
    assert_int_equal(lp2p_keypair_generate(&w->c_kp), 0);
    assert_int_equal(lp2p_keypair_generate(&w->x_kp), 0);
    assert_int_equal(lp2p_relay_new(cfg, w->relay_kp, &w->relay), 0);
    const uint8_t *a[] = {relay_addr};
    const size_t l[] = {sizeof(relay_addr)};
    assert_int_equal(lp2p_relay_set_addrs(w->relay, a, l, 1), 0);
    lp2p_buf_init(&w->hop);
    lp2p_buf_init(&w->stop);
    w->now = 10000;
    return w;
}

static int teardown(void **state)
{
    world *w = *state;
    lp2p_relay_del(w->relay);
    lp2p_keypair_del(w->relay_kp);
    lp2p_keypair_del(w->s_kp);
    lp2p_keypair_del(w->c_kp);
    lp2p_keypair_del(w->x_kp);
    lp2p_buf_free(&w->hop);
    lp2p_buf_free(&w->stop);
    free(w);
    return 0;
}

static int setup(void **state)
{
    *state = make_world(NULL);
    return 0;
}

static lp2p_relay_src src_of(const lp2p_keypair *kp, uint64_t conn, uint8_t ip_last)
{
    lp2p_relay_src s;
    memset(&s, 0, sizeof(s));
    s.peer = *lp2p_keypair_peer_id(kp);
    s.conn_id = conn;
    s.ip[0] = 198;
    s.ip[1] = 51;
    s.ip[2] = 100;
    s.ip[3] = ip_last;
    s.ip_len = 4;
    return s;
}

/* Takes the one framed message out of b: body pointer/len valid until b changes. */
static void body_of(lp2p_buf *b, const uint8_t **p, size_t *n)
{
    const uint8_t *q = lp2p_buf_head(b), *end = q + lp2p_buf_size(b);
    uint64_t len;
    assert_int_equal(lp2p_uvarint_decode(&q, end, &len), 0);
    assert_int_equal(len, (uint64_t)(end - q));
    *p = q;
    *n = (size_t)len;
}

/* The client sends RESERVE (built by the client helper); returns the status the relay sent. */
static int reserve(world *w, const lp2p_relay_src *src)
{
    lp2p_buf req;
    lp2p_buf_init(&req);
    assert_int_equal(lp2p_relay_client_reserve(&req), 0);
    const uint8_t *p;
    size_t n;
    body_of(&req, &p, &n);
    lp2p_buf_clear(&w->hop);
    lp2p_relay_result res;
    assert_int_equal(lp2p_relay_on_hop(w->relay, src, p, n, w->now, UNIX0 + w->now / 1000, &w->hop,
                                       &w->stop, &res),
                     0);
    lp2p_buf_free(&req);
    assert_int_equal(res.action, LP2P_RELAY_REPLY_CLOSE);
    assert_int_equal(res.type, LP2P_RELAY_RESERVE);
    /* the status in the result is the one on the wire */
    const uint8_t *rp;
    size_t rn;
    body_of(&w->hop, &rp, &rn);
    lp2p_relay_msg m;
    assert_int_equal(lp2p_relay_msg_decode(LP2P_RELAY_HOP, rp, rn, &m), 0);
    assert_int_equal(m.status, res.status);
    lp2p_relay_msg_free(&m);
    return res.status;
}

static int connect_to(world *w, const lp2p_relay_src *src, const lp2p_peer_id *target,
                      lp2p_relay_result *res)
{
    lp2p_buf req;
    lp2p_buf_init(&req);
    assert_int_equal(lp2p_relay_client_connect(target, &req), 0);
    const uint8_t *p;
    size_t n;
    body_of(&req, &p, &n);
    lp2p_buf_clear(&w->hop);
    lp2p_buf_clear(&w->stop);
    assert_int_equal(lp2p_relay_on_hop(w->relay, src, p, n, w->now, UNIX0, &w->hop, &w->stop, res),
                     0);
    lp2p_buf_free(&req);
    if (res->action == LP2P_RELAY_STOP_CONNECT) {
        assert_int_equal(lp2p_buf_size(&w->hop), 0);
        return LP2P_RELAY_STATUS_OK;
    }
    int status;
    uint32_t d;
    uint64_t data;
    const uint8_t *rp;
    size_t rn;
    body_of(&w->hop, &rp, &rn);
    assert_int_equal(lp2p_relay_client_on_connect_reply(rp, rn, &status, &d, &data, NULL),
                     LP2P_ERR_REFUSED);
    assert_int_equal(status, res->status);
    return status;
}

/* C parses the relay's answer to CONNECT waiting in w->hop; returns the parser's result. */
static int connect_reply(world *w, int *status, const lp2p_trace *trace)
{
    const uint8_t *p;
    size_t n;
    uint32_t d;
    uint64_t data;
    body_of(&w->hop, &p, &n);
    return lp2p_relay_client_on_connect_reply(p, n, status, &d, &data, trace);
}

/* S answers the relay's stop CONNECT with `status`; returns on_stop_reply's result. */
static int target_answers(world *w, uint64_t circuit, int status, lp2p_peer_id *src_seen)
{
    const uint8_t *p;
    size_t n;
    body_of(&w->stop, &p, &n);
    uint32_t d;
    uint64_t data;
    lp2p_buf reply;
    lp2p_buf_init(&reply);
    assert_int_equal(lp2p_relay_stop_on_connect(p, n, src_seen, &d, &data, &reply, NULL), 0);
    assert_int_equal(d, 120);
    assert_int_equal(data, 131072);
    assert_int_equal(lp2p_relay_stop_reply(status, &reply), 0);
    body_of(&reply, &p, &n);
    lp2p_buf_clear(&w->hop);
    int rc = lp2p_relay_on_stop_reply(w->relay, circuit, p, n, w->now, &w->hop);
    lp2p_buf_free(&reply);
    return rc;
}

static void test_reserve_connect_full_flow(void **state)
{
    world *w = *state;
    lp2p_relay_src s = src_of(w->s_kp, 1, 10), c = src_of(w->c_kp, 2, 20);
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);

    /* S parses the grant: voucher verified, relay address and limits carried */
    const uint8_t *p;
    size_t n;
    body_of(&w->hop, &p, &n);
    lp2p_relay_reservation rsv;
    int status;
    assert_int_equal(lp2p_relay_client_on_reserve_reply(p, n, lp2p_keypair_peer_id(w->relay_kp),
                                                        lp2p_keypair_peer_id(w->s_kp), &rsv,
                                                        &status, NULL),
                     0);
    assert_int_equal(status, LP2P_RELAY_STATUS_OK);
    assert_int_equal(rsv.expire_unix_s, UNIX0 + 10 + 3600);
    assert_int_equal(rsv.naddrs, 1);
    assert_memory_equal(rsv.addrs[0], relay_addr, sizeof(relay_addr));
    assert_non_null(rsv.voucher);
    assert_int_equal(rsv.limit_duration_s, 120);
    assert_int_equal(rsv.limit_data, 131072);
    lp2p_peer_id vpeer;
    uint64_t vexp;
    assert_int_equal(lp2p_voucher_open(rsv.voucher, rsv.voucher_len,
                                       lp2p_keypair_peer_id(w->relay_kp), &vpeer, &vexp),
                     0);
    assert_int_equal(vexp, rsv.expire_unix_s);
    lp2p_relay_reservation_free(&rsv);

    /* ... but the same reply checked as if for C, or from another relay, fails */
    assert_int_equal(lp2p_relay_client_on_reserve_reply(p, n, lp2p_keypair_peer_id(w->relay_kp),
                                                        lp2p_keypair_peer_id(w->c_kp), &rsv,
                                                        &status, NULL),
                     LP2P_ERR_AUTH);
    assert_int_equal(lp2p_relay_client_on_reserve_reply(p, n, lp2p_keypair_peer_id(w->x_kp),
                                                        lp2p_keypair_peer_id(w->s_kp), &rsv,
                                                        &status, NULL),
                     LP2P_ERR_AUTH);

    /* C connects to S */
    lp2p_relay_result res;
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res), LP2P_RELAY_STATUS_OK);
    assert_int_equal(res.action, LP2P_RELAY_STOP_CONNECT);
    assert_int_equal(res.target_conn_id, 1);
    assert_true(lp2p_peer_id_equal(&res.target, lp2p_keypair_peer_id(w->s_kp)));
    lp2p_peer_id seen;
    assert_int_equal(target_answers(w, res.circuit_id, LP2P_RELAY_STATUS_OK, &seen), 0);
    assert_true(lp2p_peer_id_equal(&seen, lp2p_keypair_peer_id(w->c_kp)));
    /* C gets STATUS OK with the limit */
    body_of(&w->hop, &p, &n);
    uint32_t d;
    uint64_t data;
    assert_int_equal(lp2p_relay_client_on_connect_reply(p, n, &status, &d, &data, NULL), 0);
    assert_int_equal(status, LP2P_RELAY_STATUS_OK);
    assert_int_equal(d, 120);
    assert_int_equal(data, 131072);
    assert_int_equal(lp2p_relay_circuit_count(w->relay), 1);

    /* byte accounting: 128 KiB per direction, each direction on its own */
    size_t allowed;
    assert_int_equal(lp2p_relay_circuit_data(w->relay, res.circuit_id, 0, 100000, &allowed), 0);
    assert_int_equal(allowed, 100000);
    assert_int_equal(lp2p_relay_circuit_data(w->relay, res.circuit_id, 1, 131072, &allowed), 0);
    assert_int_equal(allowed, 131072);
    assert_int_equal(lp2p_relay_circuit_data(w->relay, res.circuit_id, 0, 40000, &allowed),
                     LP2P_ERR_LIMIT);
    assert_int_equal(allowed, 31072);
    assert_int_equal(lp2p_relay_circuit_data(w->relay, res.circuit_id, 1, 1, &allowed),
                     LP2P_ERR_LIMIT);
    assert_int_equal(allowed, 0);
    lp2p_relay_circuit_close(w->relay, res.circuit_id);
    assert_int_equal(lp2p_relay_circuit_count(w->relay), 0);
    assert_int_equal(lp2p_relay_circuit_data(w->relay, res.circuit_id, 0, 1, &allowed),
                     LP2P_ERR_NOT_FOUND);
}

static void test_circuit_duration_limit(void **state)
{
    world *w = *state;
    lp2p_relay_src s = src_of(w->s_kp, 1, 10), c = src_of(w->c_kp, 2, 20);
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);
    assert_int_equal(lp2p_relay_next_deadline(w->relay), w->now + 3600 * 1000);
    lp2p_relay_result res;
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res), LP2P_RELAY_STATUS_OK);
    lp2p_peer_id seen;
    w->now += 50;
    assert_int_equal(target_answers(w, res.circuit_id, LP2P_RELAY_STATUS_OK, &seen), 0);
    uint64_t start = w->now;
    assert_int_equal(lp2p_relay_next_deadline(w->relay), start + 120000);
    uint64_t id;
    int pending = -1;
    assert_int_equal(lp2p_relay_tick(w->relay, start + 119999), 0);
    assert_int_equal(lp2p_relay_poll_expired(w->relay, &id, &pending), 0);
    assert_int_equal(lp2p_relay_tick(w->relay, start + 120000), 0);
    assert_int_equal(lp2p_relay_poll_expired(w->relay, &id, &pending), 1);
    assert_int_equal(id, res.circuit_id);
    assert_int_equal(pending, 0);
    assert_int_equal(lp2p_relay_poll_expired(w->relay, &id, &pending), 0);
    assert_int_equal(lp2p_relay_circuit_count(w->relay), 0);
    /* the reservation outlives the circuit */
    assert_int_equal(lp2p_relay_reservation_count(w->relay), 1);
}

static void test_target_never_answers(void **state)
{
    world *w = *state;
    lp2p_relay_src s = src_of(w->s_kp, 1, 10), c = src_of(w->c_kp, 2, 20);
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);
    lp2p_relay_result res;
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res), LP2P_RELAY_STATUS_OK);
    assert_int_equal(lp2p_relay_next_deadline(w->relay), w->now + 30000);
    uint64_t id;
    int pending = -1;
    assert_int_equal(lp2p_relay_tick(w->relay, w->now + 29999), 0);
    assert_int_equal(lp2p_relay_poll_expired(w->relay, &id, &pending), 0);
    assert_int_equal(lp2p_relay_tick(w->relay, w->now + 30000), 0);
    assert_int_equal(lp2p_relay_poll_expired(w->relay, &id, &pending), 1);
    assert_int_equal(id, res.circuit_id);
    assert_int_equal(pending, 1);
    assert_int_equal(lp2p_relay_circuit_count(w->relay), 0);
    /* a late answer finds nothing */
    lp2p_buf_clear(&w->hop);
    assert_int_equal(lp2p_relay_on_stop_reply(w->relay, id, (const uint8_t *)"\x08\x01\x20\x64", 4,
                                              w->now + 30001, &w->hop),
                     LP2P_ERR_NOT_FOUND);
    assert_int_equal(lp2p_buf_size(&w->hop), 0);
}

static void test_reservation_expiry_and_conn_close(void **state)
{
    world *w = *state;
    lp2p_relay_src s = src_of(w->s_kp, 1, 10), c = src_of(w->c_kp, 2, 20);
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);
    uint64_t exp = w->now + 3600 * 1000;
    /* a refresh on the same connection moves the expiry, no second entry */
    w->now += 1000;
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);
    assert_int_equal(lp2p_relay_reservation_count(w->relay), 1);
    exp += 1000;
    assert_int_equal(lp2p_relay_next_deadline(w->relay), exp);
    assert_int_equal(lp2p_relay_tick(w->relay, exp - 1), 0);
    assert_int_equal(lp2p_relay_reservation_count(w->relay), 1);
    assert_int_equal(lp2p_relay_tick(w->relay, exp), 0);
    assert_int_equal(lp2p_relay_reservation_count(w->relay), 0);
    assert_int_equal(lp2p_relay_next_deadline(w->relay), UINT64_MAX);
    w->now = exp;
    lp2p_relay_result res;
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res),
                     LP2P_RELAY_STATUS_NO_RESERVATION);
    /* the reservation also ends with its connection */
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);
    lp2p_relay_conn_closed(w->relay, 1);
    assert_int_equal(lp2p_relay_reservation_count(w->relay), 0);
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res),
                     LP2P_RELAY_STATUS_NO_RESERVATION);
}

static void test_refusals(void **state)
{
    world *w = *state;
    lp2p_relay_src s = src_of(w->s_kp, 1, 10), c = src_of(w->c_kp, 2, 20);
    lp2p_relay_result res;
    /* no reservation */
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res),
                     LP2P_RELAY_STATUS_NO_RESERVATION);
    /* over a relayed connection */
    lp2p_relay_src relayed = s;
    relayed.relayed = 1;
    assert_int_equal(reserve(w, &relayed), LP2P_RELAY_STATUS_PERMISSION_DENIED);
    assert_int_equal(lp2p_relay_reservation_count(w->relay), 0);
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);
    relayed = c;
    relayed.relayed = 1;
    assert_int_equal(connect_to(w, &relayed, lp2p_keypair_peer_id(w->s_kp), &res),
                     LP2P_RELAY_STATUS_PERMISSION_DENIED);
    /* the target refuses: C gets CONNECTION_FAILED */
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res), LP2P_RELAY_STATUS_OK);
    lp2p_peer_id seen;
    assert_int_equal(
        target_answers(w, res.circuit_id, LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED, &seen),
        LP2P_ERR_REFUSED);
    const uint8_t *p;
    size_t n;
    int status;
    uint32_t d;
    uint64_t data;
    body_of(&w->hop, &p, &n);
    assert_int_equal(lp2p_relay_client_on_connect_reply(p, n, &status, &d, &data, NULL),
                     LP2P_ERR_REFUSED);
    assert_int_equal(status, LP2P_RELAY_STATUS_CONNECTION_FAILED);
    assert_int_equal(lp2p_relay_circuit_count(w->relay), 0);
    /* the stop stream could not be opened */
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res), LP2P_RELAY_STATUS_OK);
    lp2p_buf_clear(&w->hop);
    assert_int_equal(lp2p_relay_on_stop_failed(w->relay, res.circuit_id, &w->hop), 0);
    body_of(&w->hop, &p, &n);
    assert_int_equal(lp2p_relay_client_on_connect_reply(p, n, &status, &d, &data, NULL),
                     LP2P_ERR_REFUSED);
    assert_int_equal(status, LP2P_RELAY_STATUS_CONNECTION_FAILED);
    assert_int_equal(lp2p_relay_on_stop_failed(w->relay, res.circuit_id, &w->hop),
                     LP2P_ERR_NOT_FOUND);

    /* garbage, STATUS to the relay, CONNECT without a peer */
    const struct {
        const char *bytes;
        size_t len;
        int status;
    } bad[] = {
        {"\xff\xff", 2, LP2P_RELAY_STATUS_MALFORMED_MESSAGE},
        {"\x08\x02\x28\x64", 4, LP2P_RELAY_STATUS_UNEXPECTED_MESSAGE},
        {"\x08\x01", 2, LP2P_RELAY_STATUS_MALFORMED_MESSAGE},
        {"\x08\x01\x12\x03\x0a\x01\x00", 7, LP2P_RELAY_STATUS_MALFORMED_MESSAGE},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lp2p_buf_clear(&w->hop);
        assert_int_equal(lp2p_relay_on_hop(w->relay, &c, (const uint8_t *)bad[i].bytes, bad[i].len,
                                           w->now, UNIX0, &w->hop, &w->stop, &res),
                         0);
        assert_int_equal(res.action, LP2P_RELAY_REPLY_CLOSE);
        assert_int_equal(res.status, bad[i].status);
        body_of(&w->hop, &p, &n);
        assert_int_equal(lp2p_relay_client_on_connect_reply(p, n, &status, &d, &data, NULL),
                         LP2P_ERR_REFUSED);
        assert_int_equal(status, bad[i].status);
    }
}

static void test_stop_side_rejects_bad_messages(void **state)
{
    lp2p_buf reply;
    lp2p_buf_init(&reply);
    lp2p_peer_id src;
    uint32_t d;
    uint64_t data;
    /* stop STATUS where CONNECT was expected */
    assert_int_equal(lp2p_relay_stop_on_connect((const uint8_t *)"\x08\x01\x20\x64", 4, &src, &d,
                                                &data, &reply, NULL),
                     LP2P_ERR_DECODE);
    assert_memory_equal(lp2p_buf_head(&reply), "\x05\x08\x01\x20\x91\x03", 6); /* 401 */
    lp2p_buf_clear(&reply);
    /* CONNECT without a peer */
    assert_int_equal(
        lp2p_relay_stop_on_connect((const uint8_t *)"\x08\x00", 2, &src, &d, &data, &reply, NULL),
        LP2P_ERR_DECODE);
    assert_memory_equal(lp2p_buf_head(&reply), "\x05\x08\x01\x20\x90\x03", 6); /* 400 */
    lp2p_buf_free(&reply);
}

static void test_reservation_limits(void **state)
{
    lp2p_relay_config cfg;
    lp2p_relay_config_default(&cfg);
    cfg.max_reservations = 10;
    world *w = make_world(&cfg);
    *state = w;
    /* per peer: 4 connections of S hold 4 reservations, the 5th is refused */
    for (uint64_t conn = 1; conn <= 4; conn++) {
        lp2p_relay_src s = src_of(w->s_kp, conn, 10);
        assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);
    }
    lp2p_relay_src s5 = src_of(w->s_kp, 5, 11);
    assert_int_equal(reserve(w, &s5), LP2P_RELAY_STATUS_RESERVATION_REFUSED);
    /* per IP: 4 more from 198.51.100.10 fit (8 in all), the 9th does not */
    lp2p_keypair *kps[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(lp2p_keypair_generate(&kps[i]), 0);
    for (int i = 0; i < 4; i++) {
        lp2p_relay_src x = src_of(kps[i], 100 + i, 10);
        assert_int_equal(reserve(w, &x), LP2P_RELAY_STATUS_OK);
    }
    lp2p_relay_src x = src_of(kps[4], 200, 10);
    assert_int_equal(reserve(w, &x), LP2P_RELAY_STATUS_RESERVATION_REFUSED);
    /* table: 8 held, 2 more fit from elsewhere, then it is full */
    x = src_of(kps[4], 200, 99);
    assert_int_equal(reserve(w, &x), LP2P_RELAY_STATUS_OK);
    x = src_of(w->c_kp, 201, 98);
    assert_int_equal(reserve(w, &x), LP2P_RELAY_STATUS_OK);
    x = src_of(w->x_kp, 202, 97);
    assert_int_equal(reserve(w, &x), LP2P_RELAY_STATUS_RESERVATION_REFUSED);
    assert_int_equal(lp2p_relay_reservation_count(w->relay), 10);
    /* but refreshing an existing one still works when full */
    lp2p_relay_src s1 = src_of(w->s_kp, 1, 10);
    assert_int_equal(reserve(w, &s1), LP2P_RELAY_STATUS_OK);
    for (int i = 0; i < 5; i++)
        lp2p_keypair_del(kps[i]);
}

static void test_circuits_per_peer(void **state)
{
    lp2p_relay_config cfg;
    lp2p_relay_config_default(&cfg);
    cfg.max_circuits_per_peer = 2;
    world *w = make_world(&cfg);
    *state = w;
    lp2p_relay_src s = src_of(w->s_kp, 1, 10), c = src_of(w->c_kp, 2, 20);
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);
    lp2p_relay_result res;
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res), LP2P_RELAY_STATUS_OK);
    uint64_t first = res.circuit_id;
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res), LP2P_RELAY_STATUS_OK);
    /* pending circuits count too */
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res),
                     LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED);
    lp2p_relay_circuit_close(w->relay, first);
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res), LP2P_RELAY_STATUS_OK);
}

static void test_rate_limits(void **state)
{
    lp2p_relay_config cfg;
    lp2p_relay_config_default(&cfg);
    cfg.reserve_burst_peer = 2;
    cfg.reserve_interval_peer_ms = 60000;
    cfg.connect_burst_ip = 3;
    cfg.connect_interval_ip_ms = 10000;
    world *w = make_world(&cfg);
    *state = w;
    lp2p_relay_src s = src_of(w->s_kp, 1, 10), c = src_of(w->c_kp, 2, 20);
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED);
    w->now += 59999;
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED);
    w->now += 1;
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);
    /* CONNECT per IP: 3 from C's address (any outcome counts), then refused */
    lp2p_relay_result res;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res),
                         LP2P_RELAY_STATUS_OK);
        lp2p_relay_circuit_close(w->relay, res.circuit_id);
    }
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res),
                     LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED);
    /* another peer behind the same IP is limited too */
    lp2p_relay_src x = src_of(w->x_kp, 3, 20);
    assert_int_equal(connect_to(w, &x, lp2p_keypair_peer_id(w->s_kp), &res),
                     LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED);
    w->now += 10000;
    assert_int_equal(connect_to(w, &x, lp2p_keypair_peer_id(w->s_kp), &res), LP2P_RELAY_STATUS_OK);
}

/* The relay core reports every refusal, grant and failed circuit to its caller's trace sink
 * (the relay service logs them as relay_* lines): who, what, which status, why. */
static void test_relay_events_are_traced(void **state)
{
    trec_log log;
    lp2p_relay_config cfg;
    lp2p_relay_config_default(&cfg);
    cfg.trace = trec_trace(&log);
    world *w = make_world(&cfg);
    char sid[LP2P_PEER_ID_STR_MAX], cid[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_keypair_peer_id(w->s_kp), sid, sizeof sid);
    lp2p_peer_id_to_string(lp2p_keypair_peer_id(w->c_kp), cid, sizeof cid);
    lp2p_relay_src s = src_of(w->s_kp, 1, 10), c = src_of(w->c_kp, 2, 20);
    lp2p_relay_result res;

    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res),
                     LP2P_RELAY_STATUS_NO_RESERVATION);
    assert_int_equal(log.n, 1);
    const trec *r = trec_find(&log, "relay_refused");
    assert_int_equal(r->level, LP2P_INFO);
    assert_string_equal(trec_str(r, "peer"), cid);
    assert_string_equal(trec_str(r, "request"), "connect");
    assert_string_equal(trec_str(r, "status"), "NO_RESERVATION");
    assert_string_equal(trec_str(r, "reason"), "target has no reservation");

    lp2p_relay_src relayed = s;
    relayed.relayed = 1;
    log.n = 0;
    assert_int_equal(reserve(w, &relayed), LP2P_RELAY_STATUS_PERMISSION_DENIED);
    r = trec_find(&log, "relay_refused");
    assert_string_equal(trec_str(r, "request"), "reserve");
    assert_string_equal(trec_str(r, "reason"), "over a relayed connection");

    log.n = 0;
    assert_int_equal(reserve(w, &s), LP2P_RELAY_STATUS_OK);
    r = trec_find(&log, "relay_reserved");
    assert_string_equal(trec_str(r, "peer"), sid);
    assert_int_equal(trec_u(r, "refresh"), 0);
    assert_true(trec_u(r, "expire") > UNIX0);

    /* the target refuses: the circuit's failure names the target */
    assert_int_equal(connect_to(w, &c, lp2p_keypair_peer_id(w->s_kp), &res), LP2P_RELAY_STATUS_OK);
    log.n = 0;
    lp2p_peer_id seen;
    assert_int_equal(
        target_answers(w, res.circuit_id, LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED, &seen),
        LP2P_ERR_REFUSED);
    r = trec_find(&log, "relay_circuit_failed");
    assert_string_equal(trec_str(r, "target"), sid);
    assert_true(strlen(trec_str(r, "reason")) > 0);

    /* the client side hears the refusal (relay_refused_us) with the status */
    trec_log clog;
    lp2p_trace ct = trec_trace(&clog);
    int status;
    uint32_t d;
    uint64_t data;
    assert_int_equal(connect_reply(w, &status, &ct), LP2P_ERR_REFUSED);
    r = trec_find(&clog, "relay_refused_us");
    assert_string_equal(trec_str(r, "request"), "connect");
    assert_string_equal(trec_str(r, "status"), "CONNECTION_FAILED");
    /* garbage as a reply */
    clog.n = 0;
    assert_int_equal(
        lp2p_relay_client_on_connect_reply((const uint8_t *)"\xff\xff", 2, &status, &d, &data, &ct),
        LP2P_ERR_DECODE);
    r = trec_find(&clog, "relay_bad_reply");
    assert_int_equal(r->level, LP2P_WARN);
    assert_string_equal(trec_str(r, "reason"), "undecodable");
    /* a stop CONNECT without a peer */
    clog.n = 0;
    lp2p_buf reply;
    lp2p_buf_init(&reply);
    assert_int_equal(
        lp2p_relay_stop_on_connect((const uint8_t *)"\x08\x00", 2, &seen, &d, &data, &reply, &ct),
        LP2P_ERR_DECODE);
    assert_string_equal(trec_str(trec_find(&clog, "relay_bad_stop"), "reason"),
                        "missing or invalid peer ID");
    lp2p_buf_free(&reply);
    /* a reservation that expired before it arrived */
    clog.n = 0;
    lp2p_relay_refresh rf;
    lp2p_relay_refresh_init(&rf, 0);
    rf.trace = ct;
    assert_int_equal(lp2p_relay_refresh_due(&rf, 0), 1);
    lp2p_relay_refresh_ok(&rf, 0, UNIX0, UNIX0 - 5);
    r = trec_find(&clog, "relay_reservation_expired_on_arrival");
    assert_int_equal(trec_u(r, "expire"), UNIX0 - 5);
    assert_int_equal(trec_u(r, "now"), UNIX0);
    *state = w;
}

static void test_refresh_schedule(void **state)
{
    lp2p_relay_refresh rf;
    lp2p_relay_refresh_init(&rf, 5000);
    assert_int_equal(lp2p_relay_refresh_next_deadline(&rf), 5000);
    assert_int_equal(lp2p_relay_refresh_due(&rf, 4999), 0);
    assert_int_equal(lp2p_relay_refresh_due(&rf, 5000), 1);
    assert_int_equal(lp2p_relay_refresh_due(&rf, 5000), 0); /* in flight */
    assert_int_equal(lp2p_relay_refresh_next_deadline(&rf), UINT64_MAX);
    /* granted for 1 h: refresh after 45 min (3/4), valid for 60 */
    lp2p_relay_refresh_ok(&rf, 5000, UNIX0, UNIX0 + 3600);
    assert_int_equal(lp2p_relay_refresh_next_deadline(&rf), 5000 + 2700 * 1000);
    assert_true(lp2p_relay_refresh_valid(&rf, 5000 + 3599 * 1000));
    assert_false(lp2p_relay_refresh_valid(&rf, 5000 + 3600 * 1000));
    /* failures back off 1 s, 2 s, 4 s ... */
    uint64_t t = 5000 + 2700 * 1000;
    assert_int_equal(lp2p_relay_refresh_due(&rf, t), 1);
    lp2p_relay_refresh_failed(&rf, t);
    assert_int_equal(lp2p_relay_refresh_next_deadline(&rf), t + 1000);
    t += 1000;
    assert_int_equal(lp2p_relay_refresh_due(&rf, t), 1);
    lp2p_relay_refresh_failed(&rf, t);
    assert_int_equal(lp2p_relay_refresh_next_deadline(&rf), t + 2000);
    t += 2000;
    assert_int_equal(lp2p_relay_refresh_due(&rf, t), 1);
    lp2p_relay_refresh_failed(&rf, t);
    assert_int_equal(lp2p_relay_refresh_next_deadline(&rf), t + 4000);
    /* many failures: capped (20 s), and never past 3/4 of what is left of the old one; on
     * until the old reservation has lapsed */
    for (int i = 0; i < 20 || lp2p_relay_refresh_valid(&rf, rf.next_ms); i++) {
        assert_int_equal(lp2p_relay_refresh_due(&rf, rf.next_ms), 1);
        t = rf.next_ms;
        lp2p_relay_refresh_failed(&rf, t);
        uint64_t wait = rf.next_ms - t;
        assert_true(wait <= LP2P_RELAY_BACKOFF_MAX_MS);
        if (rf.valid_until_ms > t)
            assert_true(wait <= (rf.valid_until_ms - t) / 4 * 3 || wait == 1000);
    }
    /* long after expiry the backoff is the full 5 min */
    assert_false(lp2p_relay_refresh_valid(&rf, rf.next_ms));
    assert_int_equal(lp2p_relay_refresh_due(&rf, rf.next_ms), 1);
    lp2p_relay_refresh_failed(&rf, 1ull << 40);
    assert_int_equal(lp2p_relay_refresh_next_deadline(&rf),
                     (1ull << 40) + LP2P_RELAY_BACKOFF_MAX_MS);
    /* a configured cap, and jitter: every wait within [3/4, 1] of the capped backoff, and not
     * all the same (listeners of one relay must not come back in step) */
    lp2p_relay_refresh_init(&rf, 0);
    rf.backoff_max_ms = 2000;
    rf.jitter_state = 12345;
    uint64_t waits[12], now = 0;
    int differ = 0;
    for (int i = 0; i < 12; i++) {
        assert_int_equal(lp2p_relay_refresh_due(&rf, now), 1);
        lp2p_relay_refresh_failed(&rf, now);
        waits[i] = rf.next_ms - now;
        uint64_t full = i == 0 ? 1000 : 2000;
        assert_true(waits[i] <= full && waits[i] >= full / 4 * 3);
        differ |= i > 1 && waits[i] != waits[i - 1];
        now = rf.next_ms;
    }
    assert_true(differ);
    /* success resets the backoff */
    assert_int_equal(lp2p_relay_refresh_due(&rf, rf.next_ms), 1);
    t = rf.next_ms;
    lp2p_relay_refresh_ok(&rf, t, UNIX0, UNIX0 + 400);
    assert_int_equal(rf.failures, 0);
    assert_int_equal(lp2p_relay_refresh_next_deadline(&rf), t + 300 * 1000);
    /* a grant that is already expired is a failure: backoff, not a 1 s loop */
    assert_int_equal(lp2p_relay_refresh_due(&rf, rf.next_ms), 1);
    t = rf.next_ms;
    lp2p_relay_refresh_ok(&rf, t, UNIX0 + 1000, 0);
    assert_int_equal(rf.failures, 1);
    assert_int_equal(lp2p_relay_refresh_due(&rf, rf.next_ms), 1);
    lp2p_relay_refresh_ok(&rf, rf.next_ms, UNIX0 + 1000, UNIX0 + 1000);
    assert_int_equal(rf.failures, 2);
}

/* fuzz_relay (UBSan): a relay's OK grant with an empty reservation address made the client
 * memcpy from the NULL pointer protobuf-c gives empty bytes. The grant is kept; the empty
 * address is copied as empty, the one after it intact. */
static void test_regression_empty_reservation_addr(void **state)
{
    /* HopMessage{type STATUS, reservation{expire 1, addrs "", addrs relay_addr}, status OK} */
    uint8_t body[32] = {0x08, 0x02, 0x1a, 0x0e, 0x08, 0x01, 0x12, 0x00, 0x12, sizeof(relay_addr)};
    size_t n = 10;
    memcpy(body + n, relay_addr, sizeof(relay_addr));
    n += sizeof(relay_addr);
    body[n++] = 0x28;
    body[n++] = 0x64;
    lp2p_peer_id relay = {.len = 2}, self = {.len = 2};
    lp2p_relay_reservation rsv;
    int status;
    assert_int_equal(
        lp2p_relay_client_on_reserve_reply(body, n, &relay, &self, &rsv, &status, NULL), 0);
    assert_int_equal(status, LP2P_RELAY_STATUS_OK);
    assert_int_equal(rsv.naddrs, 2);
    assert_int_equal(rsv.addr_lens[0], 0);
    assert_int_equal(rsv.addr_lens[1], sizeof(relay_addr));
    assert_memory_equal(rsv.addrs[1], relay_addr, sizeof(relay_addr));
    lp2p_relay_reservation_free(&rsv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reserve_connect_full_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_circuit_duration_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_target_never_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reservation_expiry_and_conn_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test(test_stop_side_rejects_bad_messages),
        cmocka_unit_test_teardown(test_reservation_limits, teardown),
        cmocka_unit_test_teardown(test_circuits_per_peer, teardown),
        cmocka_unit_test_teardown(test_rate_limits, teardown),
        cmocka_unit_test(test_refresh_schedule),
        cmocka_unit_test(test_regression_empty_reservation_addr),
        cmocka_unit_test_teardown(test_relay_events_are_traced, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
