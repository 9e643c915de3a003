/* KaspadMessage encoding (hand-derived protobuf vectors), unknown payloads tolerated,
 * addresses (synthetic fd00::/8, text forms) and the hub. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "crypto/random.h"
#include "kaspa/msg.h"
#include "kaspa/session.h"
#include "kaspa/kaspa_p2p.pb-c.h" /* the fields of kaspa_msg */
#include "lp2p/err.h"
#include "util/buf.h"

static void test_version_vector(void **state)
{
    uint8_t id[16];
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t)(i + 1);
    Protowire__VersionMessage v = PROTOWIRE__VERSION_MESSAGE__INIT;
    v.protocolversion = 10;
    v.timestamp = 1;
    v.id.data = id;
    v.id.len = 16;
    v.useragent = "/a:1/";
    v.network = "kaspa-mainnet";
    kaspa_msg m = PROTOWIRE__KASPAD_MESSAGE__INIT;
    m.payload_case = PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION;
    m.version = &v;
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(kaspa_msg_encode(&m, &b), 0);
    /* field 20 (tag a2 01), length 44: protocolVersion 08 0a, timestamp 18 01, id 2a 10 <16>,
     * userAgent 32 05 "/a:1/", network 52 0d "kaspa-mainnet" */
    const uint8_t expect[] = {0xa2, 0x01, 0x2c, 0x08, 0x0a, 0x18, 0x01, 0x2a, 0x10, 1,    2,   3,
                              4,    5,    6,    7,    8,    9,    10,   11,   12,   13,   14,  15,
                              16,   0x32, 0x05, '/',  'a',  ':',  '1',  '/',  0x52, 0x0d, 'k', 'a',
                              's',  'p',  'a',  '-',  'm',  'a',  'i',  'n',  'n',  'e',  't'};
    assert_int_equal(lp2p_buf_size(&b), sizeof expect);
    assert_memory_equal(lp2p_buf_head(&b), expect, sizeof expect);
    kaspa_msg *d = kaspa_msg_decode(expect, sizeof expect);
    assert_non_null(d);
    assert_int_equal(kaspa_msg_kind(d), PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION);
    assert_int_equal(d->version->protocolversion, 10);
    assert_string_equal(d->version->network, "kaspa-mainnet");
    assert_int_equal(d->version->id.len, 16);
    kaspa_msg_free(d);
    lp2p_buf_free(&b);
}

static void test_small_message_vectors(void **state)
{
    /* verack: field 19 empty submessage */
    const uint8_t verack[] = {0x9a, 0x01, 0x00};
    const uint8_t ready[] = {0x92, 0x03, 0x00};
    /* ping nonce 300 with request_id 7: b0 06 07 then 82 01 03 08 ac 02 */
    const uint8_t ping[] = {0xb0, 0x06, 0x07, 0x82, 0x01, 0x03, 0x08, 0xac, 0x02};
    kaspa_msg *m = kaspa_msg_decode(verack, sizeof verack);
    assert_non_null(m);
    assert_int_equal(kaspa_msg_kind(m), PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK);
    kaspa_msg_free(m);
    m = kaspa_msg_decode(ready, sizeof ready);
    assert_non_null(m);
    assert_int_equal(kaspa_msg_kind(m), 50);
    assert_string_equal(kaspa_msg_kind_name(kaspa_msg_kind(m)), "ready");
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(kaspa_msg_encode(m, &b), 0);
    assert_memory_equal(lp2p_buf_head(&b), ready, sizeof ready);
    kaspa_msg_free(m);
    m = kaspa_msg_decode(ping, sizeof ping);
    assert_non_null(m);
    assert_int_equal(kaspa_msg_kind(m), 16);
    assert_int_equal(m->ping->nonce, 300);
    assert_int_equal(m->request_id, 7);
    kaspa_msg_free(m);
    lp2p_buf_free(&b);
}

static void test_unknown_payload_is_kept_and_ignored(void **state)
{
    /* invRelayBlock (14) carrying Hash{bytes: 32 bytes}, plus response_id 5 (field 101). */
    uint8_t w[3 + 2 + 2 + 32];
    size_t n = 0;
    w[n++] = 0xa8; /* field 101 varint: (101<<3)|0 = 808 = a8 06 */
    w[n++] = 0x06;
    w[n++] = 0x05;
    w[n++] = 0x72; /* field 14, wire type 2 */
    w[n++] = 0x22;
    w[n++] = 0x0a;
    w[n++] = 0x20;
    for (int i = 0; i < 32; i++)
        w[n++] = (uint8_t)(0xa0 + i);
    kaspa_msg *m = kaspa_msg_decode(w, n);
    assert_non_null(m);
    assert_int_equal(m->payload_case, PROTOWIRE__KASPAD_MESSAGE__PAYLOAD__NOT_SET);
    assert_int_equal(kaspa_msg_kind(m), KASPA_MSG_UNKNOWN);
    assert_int_equal(kaspa_msg_unknown_tag(m), 14);
    assert_int_equal(m->response_id, 5);
    /* protobuf-c keeps unknown fields and writes them back verbatim */
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(kaspa_msg_encode(m, &b), 0);
    assert_int_equal(lp2p_buf_size(&b), n);
    assert_memory_equal(lp2p_buf_head(&b), w, n);
    kaspa_msg_free(m);
    /* a message with no payload at all */
    const uint8_t empty[] = {0xb0, 0x06, 0x01};
    m = kaspa_msg_decode(empty, sizeof empty);
    assert_non_null(m);
    assert_int_equal(kaspa_msg_kind(m), KASPA_MSG_EMPTY);
    kaspa_msg_free(m);
    /* truncated input is rejected */
    assert_null(kaspa_msg_decode(w, n - 1));
    lp2p_buf_free(&b);
}

static void test_addr_format_parse(void **state)
{
    kaspa_addr a;
    char s[64];
    assert_int_equal(kaspa_addr_parse("127.0.0.1:16111", &a), 0);
    assert_true(kaspa_addr_is_ipv4(&a));
    assert_int_equal(a.port, 16111);
    assert_int_equal(kaspa_addr_format(&a, s, sizeof s), 0);
    assert_string_equal(s, "127.0.0.1:16111");
    assert_int_equal(kaspa_addr_parse("[fd00::1]:80", &a), 0);
    assert_false(kaspa_addr_is_ipv4(&a));
    assert_int_equal(kaspa_addr_format(&a, s, sizeof s), 0);
    assert_string_equal(s, "[fd00::1]:80");
    assert_int_equal(kaspa_addr_parse("1.2.3.4", &a), LP2P_ERR_INVAL);
    assert_int_equal(kaspa_addr_parse("1.2.3.4:70000", &a), LP2P_ERR_INVAL);
    assert_int_equal(kaspa_addr_parse("host:1", &a), LP2P_ERR_INVAL);
}

static void test_synthetic_addr(void **state)
{
    lp2p_peer_id p = {.len = 3, .bytes = {'a', 'b', 'c'}};
    uint8_t ip[16], ip2[16];
    uint16_t port, port2;
    assert_int_equal(kaspa_synthetic_addr(&p, ip, &port), 0);
    /* SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad */
    const uint8_t expect[16] = {0xfd, 0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf,
                                0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22};
    assert_memory_equal(ip, expect, 16);
    assert_int_equal(port, 1 + ((0x23 << 8 | 0xb0) % 65535));
    assert_int_equal(kaspa_synthetic_addr(&p, ip2, &port2), 0); /* same on every reconnect */
    assert_memory_equal(ip, ip2, 16);
    assert_int_equal(port, port2);
    char s[80];
    assert_int_equal(kaspa_synthetic_addr_string(&p, s, sizeof s), 0);
    assert_string_equal(s, "[fdba:7816:bf8f:1cf:ea41:4140:de5d:ae22]:9137");
    lp2p_peer_id q = {.len = 3, .bytes = {'a', 'b', 'd'}};
    assert_int_equal(kaspa_synthetic_addr(&q, ip2, &port2), 0);
    assert_int_equal(ip2[0], 0xfd);
    assert_memory_not_equal(ip, ip2, 16);
    lp2p_peer_id bad = {.len = 0};
    assert_int_equal(kaspa_synthetic_addr(&bad, ip, &port), LP2P_ERR_INVAL);
}

static void test_config_for_libp2p_peer(void **state)
{
    const char *txt = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
    lp2p_peer_id p;
    assert_int_equal(lp2p_peer_id_parse(txt, &p), 0);
    kaspa_hub *h;
    kaspa_hub_new(&h, NULL, &LP2P_RNG_OPENSSL);
    kaspa_session_config c;
    kaspa_session_config_default(&c, h, KASPA_H2_PROFILE_TCP);
    char label[LP2P_PEER_ID_STR_MAX];
    assert_int_equal(kaspa_session_config_libp2p(&c, &p, 1, label, sizeof label), 0);
    assert_string_equal(c.peer_label, txt);
    assert_int_equal(c.relayed, 1);
    assert_int_equal(c.grpc.profile, KASPA_H2_PROFILE_LIBP2P);
    assert_int_equal(c.grpc.keepalive_ms, 30000);
    uint8_t ip[16];
    uint16_t port;
    assert_int_equal(kaspa_synthetic_addr(&p, ip, &port), 0);
    assert_memory_equal(c.peer_addr.ip, ip, 16);
    assert_int_equal(c.peer_addr.port, port);
    assert_int_equal(ip[0], 0xfd);
    kaspa_hub_del(h);
}

static void test_hub_random_ids_and_keys(void **state)
{
    kaspa_hub *a, *b;
    assert_int_equal(kaspa_hub_new(&a, NULL, &LP2P_RNG_OPENSSL), 0);
    assert_int_equal(kaspa_hub_new(&b, NULL, &LP2P_RNG_OPENSSL), 0);
    assert_memory_not_equal(kaspa_hub_node_id(a), kaspa_hub_node_id(b), 16);
    assert_int_equal(kaspa_hub_node_id(a)[6] >> 4, 4); /* UUID v4 */
    assert_int_equal(kaspa_hub_count(a), 0);
    kaspa_addr x;
    kaspa_addr_parse("10.0.0.1:1", &x);
    assert_false(kaspa_hub_contains(a, kaspa_hub_node_id(b), &x));
    kaspa_hub_del(a);
    kaspa_hub_del(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_vector),
        cmocka_unit_test(test_small_message_vectors),
        cmocka_unit_test(test_unknown_payload_is_kept_and_ignored),
        cmocka_unit_test(test_addr_format_parse),
        cmocka_unit_test(test_synthetic_addr),
        cmocka_unit_test(test_config_for_libp2p_peer),
        cmocka_unit_test(test_hub_random_ids_and_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
