/* Multiaddr: spec example (libp2p-wire.md A2), ip6/dns/p2p forms, round trips, circuit
 * handling, sockaddr conversion, address classes, and every rejection path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "lp2p/identity.h"
#include "wire/multiaddr.h"

/* Peer IDs: the spec's Ed25519 vector (A1), another Ed25519 key, and a sha2-256 ("Qm") ID. */
#define PID_SPEC     "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
#define PID_SPEC_CID "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6"
#define PID_B        "12D3KooWQS8wrHSpKkoiCk2ZqQT5c17iihaYAogzEv5r15pQ1ycd"
#define PID_QM       "QmRnWnQVk2wCdBiGB4HSMLVp5txaarztaWa81KfYgsJgX4"
static const uint8_t MH_SPEC[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20, 0x1e, 0xd1, 0xe8, 0xfa,
                                    0xe2, 0xc4, 0xa1, 0x44, 0xb8, 0xbe, 0x8f, 0xd4, 0xb4, 0x7b,
                                    0xf3, 0xd3, 0xb3, 0x4b, 0x87, 0x1c, 0x3c, 0xac, 0xf6, 0x01,
                                    0x0f, 0x0e, 0x42, 0xd4, 0x74, 0xfc, 0xe2, 0x7e};
static const uint8_t MH_B[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20, 0xd9, 0x2d, 0x93, 0x59,
                                 0x6d, 0x21, 0x1e, 0x75, 0xa8, 0xcd, 0xe0, 0x46, 0xd5, 0x2d,
                                 0xb1, 0x15, 0x92, 0x07, 0x32, 0x58, 0x61, 0xaf, 0xe0, 0x20,
                                 0x3a, 0x05, 0xbd, 0x65, 0xc1, 0x63, 0x8a, 0xc2};

/* Parses text, checks the binary form, prints it back and checks the text. */
static void check_text(const char *in, const uint8_t *bin, size_t n, const char *printed)
{
    lp2p_multiaddr ma, ma2;
    char err[128] = "", out[LP2P_MULTIADDR_STR_MAX];
    int rc = lp2p_multiaddr_parse(&ma, in, err, sizeof(err));
    if (rc)
        fail_msg("parse %s: %d %s", in, rc, err);
    assert_int_equal(ma.len, n);
    assert_memory_equal(ma.bytes, bin, n);
    assert_int_equal(lp2p_multiaddr_to_string(&ma, out, sizeof(out)), 0);
    assert_string_equal(out, printed ? printed : in);
    /* binary -> multiaddr -> same bytes */
    assert_int_equal(lp2p_multiaddr_from_bytes(&ma2, bin, n, NULL, 0), 0);
    assert_true(lp2p_multiaddr_equal(&ma, &ma2));
    lp2p_multiaddr_free(&ma);
    lp2p_multiaddr_free(&ma2);
}

static void test_spec_example(void **state)
{
    static const uint8_t b[] = {0x04, 0x01, 0x02, 0x03, 0x04, 0x06, 0x0f, 0xa1};
    check_text("/ip4/1.2.3.4/tcp/4001", b, sizeof(b), NULL);
    /* trailing slash is tolerated on input (go-multiaddr does the same) */
    check_text("/ip4/1.2.3.4/tcp/4001/", b, sizeof(b), "/ip4/1.2.3.4/tcp/4001");
}

static void test_ip6(void **state)
{
    uint8_t b[1 + 16 + 3] = {0x29};
    b[16] = 1;
    b[17] = 0x06, b[18] = 0x00, b[19] = 0x50;
    check_text("/ip6/::1/tcp/80", b, sizeof(b), NULL);

    uint8_t d[1 + 16] = {0x29, 0x20, 0x01, 0x0d, 0xb8};
    d[16] = 1;
    /* non-canonical input prints canonically (RFC 5952) */
    check_text("/ip6/2001:0db8:0000:0000:0000:0000:0000:0001", d, sizeof(d), "/ip6/2001:db8::1");

    uint8_t m[1 + 16] = {0x29};
    m[11] = 0xff, m[12] = 0xff, m[13] = 1, m[14] = 2, m[15] = 3, m[16] = 4;
    check_text("/ip6/::ffff:1.2.3.4", m, sizeof(m), NULL);
}

static void test_dns(void **state)
{
    static const uint8_t d4[] = {0x36, 0x0b, 'e', 'x', 'a', 'm',  'p',  'l',
                                 'e',  '.',  'c', 'o', 'm', 0x06, 0x01, 0xbb};
    check_text("/dns4/example.com/tcp/443", d4, sizeof(d4), NULL);
    static const uint8_t d[] = {0x35, 0x09, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't'};
    check_text("/dns/localhost", d, sizeof(d), NULL);
    static const uint8_t d6[] = {0x37, 0x03, 'a', '.', 'b', 0x06, 0x00, 0x00};
    check_text("/dns6/a.b/tcp/0", d6, sizeof(d6), NULL);
    /* dnsaddr (0x38) carries a name like dns*; resolved by TXT lookup (src/host/dnsaddr.c) */
    static const uint8_t da[] = {0x38, 0x03, 'a', '.', 'b'};
    check_text("/dnsaddr/a.b", da, sizeof(da), NULL);
}

static void test_p2p_forms(void **state)
{
    uint8_t b[8 + 3 + 38] = {0x04, 0x01, 0x02, 0x03, 0x04, 0x06, 0x0f, 0xa1, 0xa5, 0x03, 0x26};
    memcpy(b + 11, MH_SPEC, 38);
    check_text("/ip4/1.2.3.4/tcp/4001/p2p/" PID_SPEC, b, sizeof(b), NULL);
    /* legacy /ipfs/ alias and the CIDv1 text form parse to the same bytes, print as /p2p/ */
    check_text("/ip4/1.2.3.4/tcp/4001/ipfs/" PID_SPEC, b, sizeof(b),
               "/ip4/1.2.3.4/tcp/4001/p2p/" PID_SPEC);
    check_text("/ip4/1.2.3.4/tcp/4001/p2p/" PID_SPEC_CID, b, sizeof(b),
               "/ip4/1.2.3.4/tcp/4001/p2p/" PID_SPEC);

    /* sha2-256 peer id: 12 20 digest */
    uint8_t q[3 + 34] = {0xa5, 0x03, 0x22, 0x12, 0x20};
    memset(q + 5, 0x33, 32);
    check_text("/p2p/" PID_QM, q, sizeof(q), NULL);

    /* p2p-circuit has no value: a2 02 */
    uint8_t c[3 + 38 + 2] = {0xa5, 0x03, 0x26};
    memcpy(c + 3, MH_SPEC, 38);
    c[41] = 0xa2, c[42] = 0x02;
    check_text("/p2p/" PID_SPEC "/p2p-circuit", c, sizeof(c), NULL);
}

static int parse_rc(const char *s, char *err, size_t errlen)
{
    lp2p_multiaddr ma = {(uint8_t *)1, 1}; /* garbage: must be reset on failure */
    int rc = lp2p_multiaddr_parse(&ma, s, err, errlen);
    if (rc == 0)
        lp2p_multiaddr_free(&ma);
    else {
        assert_null(ma.bytes);
        assert_int_equal(ma.len, 0);
    }
    return rc;
}

static void test_text_rejections(void **state)
{
    char err[128];
    static const char *const decode[] = {
        "", "/", "ip4/1.2.3.4", "/ip4", "/tcp/", "//ip4/1.2.3.4", "/ip4/1.2.3.4//tcp/1", "/dns4"};
    for (size_t i = 0; i < sizeof(decode) / sizeof(decode[0]); i++)
        assert_int_equal(parse_rc(decode[i], NULL, 0), LP2P_ERR_DECODE);
    static const char *const inval[] = {
        "/ip4/1.2.3", "/ip4/256.1.1.1",  "/ip4/1.2.3.4.5", "/ip4/::1",   "/ip6/1.2.3.4",
        "/ip6/::g",   "/tcp/65536",      "/tcp/-1",        "/tcp/abc",   "/tcp/123456",
        "/tcp/+80",   "/p2p/notapeerid", "/p2p/12D3KooW",  "/ipfs/0OIl", "/ip4/ 1.2.3.4",
    };
    for (size_t i = 0; i < sizeof(inval) / sizeof(inval[0]); i++) {
        int rc = parse_rc(inval[i], err, sizeof(err));
        if (rc != LP2P_ERR_INVAL)
            fail_msg("%s: got %d, want INVAL", inval[i], rc);
        assert_true(err[0] != '\0');
    }
    /* Unsupported protocols are named in the error text. */
    assert_int_equal(parse_rc("/ip4/1.2.3.4/udp/4001/quic-v1", err, sizeof(err)),
                     LP2P_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "udp"));
    assert_int_equal(parse_rc("/ip4/1.2.3.4/tcp/1/ws", err, sizeof(err)), LP2P_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "ws"));
    assert_int_equal(parse_rc("/unix/tmp.sock", err, sizeof(err)), LP2P_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "unix"));
    assert_int_equal(parse_rc("/frobnicate/1", err, sizeof(err)), LP2P_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "frobnicate"));
    /* oversize binary: 3 dns names of 255 bytes = 771 bytes fine, 4 = 1028 too large */
    char big[700 * 12 + 1] = "";
    char name[256];
    memset(name, 'a', 255);
    name[255] = '\0';
    for (int i = 0; i < 3; i++) {
        strcat(big, "/dns/");
        strcat(big, name);
    }
    assert_int_equal(parse_rc(big, NULL, 0), 0);
    strcat(big, "/dns/");
    strcat(big, name);
    assert_int_equal(parse_rc(big, NULL, 0), LP2P_ERR_TOO_LARGE);
    /* a 256-byte name is refused */
    assert_int_equal(parse_rc("/dns/a", NULL, 0), 0);
    char n256[6 + 256 + 1] = "/dns/a";
    strcat(n256, name);
    assert_int_equal(parse_rc(n256, NULL, 0), LP2P_ERR_INVAL);
    /* oversize text is refused before any work */
    big[0] = '\0';
    for (int i = 0; i < 700; i++)
        strcat(big, "/p2p-circuit");
    assert_int_equal(parse_rc(big, NULL, 0), LP2P_ERR_TOO_LARGE);
}

static int bin_rc(const uint8_t *b, size_t n, char *err, size_t errlen)
{
    lp2p_multiaddr ma;
    int rc = lp2p_multiaddr_from_bytes(&ma, b, n, err, errlen);
    if (rc == 0)
        lp2p_multiaddr_free(&ma);
    else
        assert_null(ma.bytes);
    return rc;
}

static void test_binary_rejections(void **state)
{
    char err[128];
    /* empty, truncated fixed values, truncated/non-minimal varints */
    assert_int_equal(bin_rc((const uint8_t *)"", 0, NULL, 0), LP2P_ERR_DECODE);
    assert_int_equal(bin_rc((const uint8_t[]){0x04, 1, 2, 3}, 4, NULL, 0), LP2P_ERR_DECODE);
    assert_int_equal(bin_rc((const uint8_t[]){0x04, 1, 2, 3, 4, 0x06, 0x0f}, 7, NULL, 0),
                     LP2P_ERR_DECODE);
    assert_int_equal(bin_rc((const uint8_t[]){0x29, 0, 0, 0}, 4, NULL, 0), LP2P_ERR_DECODE);
    assert_int_equal(bin_rc((const uint8_t[]){0x84, 0x00, 1, 2, 3, 4}, 6, NULL, 0),
                     LP2P_ERR_DECODE); /* code 4, non-minimal */
    assert_int_equal(bin_rc((const uint8_t[]){0xa5}, 1, NULL, 0), LP2P_ERR_DECODE);
    assert_int_equal(bin_rc((const uint8_t[]){0xa5, 0x03}, 2, NULL, 0), LP2P_ERR_DECODE);
    assert_int_equal(bin_rc((const uint8_t[]){0xa5, 0x03, 0x26, 0x00, 0x24}, 5, NULL, 0),
                     LP2P_ERR_DECODE); /* p2p length beyond the end */
    assert_int_equal(bin_rc((const uint8_t[]){0x35, 0x05, 'a', 'b'}, 4, NULL, 0), LP2P_ERR_DECODE);
    /* bad values */
    assert_int_equal(bin_rc((const uint8_t[]){0x35, 0x00}, 2, err, sizeof(err)), LP2P_ERR_INVAL);
    assert_int_equal(bin_rc((const uint8_t[]){0x36, 0x03, 'a', '/', 'b'}, 5, NULL, 0),
                     LP2P_ERR_INVAL);
    assert_int_equal(bin_rc((const uint8_t[]){0x37, 0x02, 'a', '\n'}, 4, NULL, 0), LP2P_ERR_INVAL);
    /* p2p value that is not a multihash / a truncated identity multihash */
    assert_int_equal(
        bin_rc((const uint8_t[]){0xa5, 0x03, 0x03, 0xff, 0x01, 0x00}, 6, err, sizeof(err)),
        LP2P_ERR_INVAL);
    assert_non_null(strstr(err, "p2p"));
    assert_int_equal(bin_rc((const uint8_t[]){0xa5, 0x03, 0x03, 0x00, 0x05, 0x00}, 6, NULL, 0),
                     LP2P_ERR_INVAL);
    /* unsupported and unknown codes are named */
    assert_int_equal(
        bin_rc((const uint8_t[]){0x04, 1, 2, 3, 4, 0x91, 0x02, 0x0f, 0xa1}, 9, err, sizeof(err)),
        LP2P_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "udp"));
    assert_int_equal(bin_rc((const uint8_t[]){0xcd, 0x03}, 2, err, sizeof(err)),
                     LP2P_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "quic-v1"));
    assert_int_equal(bin_rc((const uint8_t[]){0xff, 0x7f}, 2, err, sizeof(err)),
                     LP2P_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "0x3fff"));
    /* too large: 513 circuits = 1026 bytes */
    uint8_t big[1026];
    for (size_t i = 0; i < sizeof(big); i += 2)
        big[i] = 0xa2, big[i + 1] = 0x02;
    assert_int_equal(bin_rc(big, 1024, NULL, 0), 0);
    assert_int_equal(bin_rc(big, sizeof(big), NULL, 0), LP2P_ERR_TOO_LARGE);
}

static void parse_ok(lp2p_multiaddr *ma, const char *s)
{
    char err[128] = "";
    int rc = lp2p_multiaddr_parse(ma, s, err, sizeof(err));
    if (rc)
        fail_msg("parse %s: %d %s", s, rc, err);
}

static void test_iterator(void **state)
{
    lp2p_multiaddr ma;
    lp2p_ma_iter it;
    lp2p_ma_component c;
    parse_ok(&ma, "/dns4/relay.example/tcp/4001/p2p/" PID_SPEC "/p2p-circuit");
    lp2p_ma_iter_init(&it, &ma);
    assert_int_equal(lp2p_ma_iter_next(&it, &c), 1);
    assert_int_equal(c.code, LP2P_MA_DNS4);
    assert_int_equal(c.len, 13);
    assert_memory_equal(c.value, "relay.example", 13);
    assert_int_equal(lp2p_ma_iter_next(&it, &c), 1);
    assert_int_equal(c.code, LP2P_MA_TCP);
    assert_int_equal(c.len, 2);
    assert_int_equal(c.value[0] << 8 | c.value[1], 4001);
    assert_int_equal(lp2p_ma_iter_next(&it, &c), 1);
    assert_int_equal(c.code, LP2P_MA_P2P);
    assert_int_equal(c.len, 38);
    assert_memory_equal(c.value, MH_SPEC, 38);
    assert_int_equal(lp2p_ma_iter_next(&it, &c), 1);
    assert_int_equal(c.code, LP2P_MA_P2P_CIRCUIT);
    assert_int_equal(c.len, 0);
    assert_int_equal(lp2p_ma_iter_next(&it, &c), 0);
    lp2p_multiaddr_free(&ma);
    assert_string_equal(lp2p_multiaddr_proto_name(0x01cd), "quic-v1");
    assert_null(lp2p_multiaddr_proto_name(0x3fff));
}

static void test_sockaddr(void **state)
{
    lp2p_multiaddr ma, back;
    struct sockaddr_storage ss;
    socklen_t sl;
    char out[LP2P_MULTIADDR_STR_MAX];

    parse_ok(&ma, "/ip4/198.51.100.7/tcp/4001/p2p/" PID_SPEC);
    assert_int_equal(lp2p_multiaddr_to_sockaddr(&ma, &ss, &sl), 0);
    assert_int_equal(sl, sizeof(struct sockaddr_in));
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 4001);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc6336407);
    assert_int_equal(lp2p_multiaddr_from_sockaddr(&back, (struct sockaddr *)&ss), 0);
    assert_int_equal(lp2p_multiaddr_to_string(&back, out, sizeof(out)), 0);
    assert_string_equal(out, "/ip4/198.51.100.7/tcp/4001");
    lp2p_multiaddr_free(&ma);
    lp2p_multiaddr_free(&back);

    parse_ok(&ma, "/ip6/2001:db8::5/tcp/65535");
    assert_int_equal(lp2p_multiaddr_to_sockaddr(&ma, &ss, &sl), 0);
    assert_int_equal(sl, sizeof(struct sockaddr_in6));
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
    assert_int_equal(sin6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(sin6->sin6_port), 65535);
    assert_int_equal(sin6->sin6_addr.s6_addr[15], 5);
    assert_int_equal(lp2p_multiaddr_from_sockaddr(&back, (struct sockaddr *)&ss), 0);
    assert_true(lp2p_multiaddr_equal(&ma, &back));
    lp2p_multiaddr_free(&ma);
    lp2p_multiaddr_free(&back);

    static const char *const bad[] = {"/dns4/example.com/tcp/1",
                                      "/ip4/1.2.3.4",
                                      "/tcp/1",
                                      "/ip4/1.2.3.4/tcp/1/p2p-circuit",
                                      "/ip4/1.2.3.4/tcp/1/p2p/" PID_SPEC "/p2p-circuit/p2p/" PID_B,
                                      "/ip4/1.2.3.4/ip4/1.2.3.4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parse_ok(&ma, bad[i]);
        assert_int_equal(lp2p_multiaddr_to_sockaddr(&ma, &ss, &sl), LP2P_ERR_UNSUPPORTED);
        lp2p_multiaddr_free(&ma);
    }
    /* ip4-mapped ip6 from a dual-stack socket is reported as ip4 */
    struct sockaddr_in6 m6 = {.sin6_family = AF_INET6, .sin6_port = htons(4242)};
    assert_int_equal(inet_pton(AF_INET6, "::ffff:198.51.100.7", &m6.sin6_addr), 1);
    assert_int_equal(lp2p_multiaddr_from_sockaddr(&back, (struct sockaddr *)&m6), 0);
    assert_int_equal(lp2p_multiaddr_to_string(&back, out, sizeof(out)), 0);
    assert_string_equal(out, "/ip4/198.51.100.7/tcp/4242");
    lp2p_multiaddr_free(&back);

    struct sockaddr sa = {.sa_family = AF_UNIX};
    assert_int_equal(lp2p_multiaddr_from_sockaddr(&back, &sa), LP2P_ERR_UNSUPPORTED);
}

static void test_host_port(void **state)
{
    static const struct {
        const char *ma, *host;
        uint16_t port;
        int family;
    } ok[] = {
        {"/dns4/relay.example.org/tcp/4001", "relay.example.org", 4001, AF_INET},
        {"/dns6/relay.example.org/tcp/1", "relay.example.org", 1, AF_INET6},
        {"/dns/relay.example.org/tcp/443/p2p/" PID_SPEC, "relay.example.org", 443, AF_UNSPEC},
        {"/ip4/198.51.100.2/tcp/65535", "198.51.100.2", 65535, AF_INET},
        {"/ip6/2001:db8::7/tcp/80", "2001:db8::7", 80, AF_INET6},
    };
    lp2p_multiaddr ma;
    char host[LP2P_MULTIADDR_DNSMAX + 1];
    uint16_t port;
    int family;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        parse_ok(&ma, ok[i].ma);
        assert_int_equal(lp2p_multiaddr_host_port(&ma, host, sizeof(host), &port, &family), 0);
        assert_string_equal(host, ok[i].host);
        assert_int_equal(port, ok[i].port);
        assert_int_equal(family, ok[i].family);
        lp2p_multiaddr_free(&ma);
    }
    parse_ok(&ma, "/dns4/relay.example.org/tcp/4001");
    assert_int_equal(lp2p_multiaddr_host_port(&ma, host, 17, &port, &family), LP2P_ERR_TOO_LARGE);
    assert_int_equal(lp2p_multiaddr_host_port(&ma, host, 18, &port, &family), 0);
    lp2p_multiaddr_free(&ma);
    static const char *const bad[] = {"/dns4/a.b",
                                      "/tcp/1",
                                      "/dns4/a.b/tcp/1/p2p-circuit",
                                      "/p2p/" PID_SPEC,
                                      "/dns4/a.b/tcp/1/p2p/" PID_SPEC "/p2p-circuit/p2p/" PID_B,
                                      "/p2p-circuit/tcp/1",
                                      "/dnsaddr/a.b/p2p/" PID_SPEC};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parse_ok(&ma, bad[i]);
        assert_int_equal(lp2p_multiaddr_host_port(&ma, host, sizeof(host), &port, &family),
                         LP2P_ERR_UNSUPPORTED);
        lp2p_multiaddr_free(&ma);
    }
}

static void test_p2p_helpers(void **state)
{
    lp2p_multiaddr ma, orig;
    lp2p_peer_id id, spec;
    char out[LP2P_MULTIADDR_STR_MAX];
    assert_int_equal(lp2p_peer_id_from_bytes(MH_SPEC, 38, &spec), 0);

    parse_ok(&ma, "/ip4/1.2.3.4/tcp/1");
    assert_int_equal(lp2p_multiaddr_peer_id(&ma, &id), LP2P_ERR_NOT_FOUND);
    assert_int_equal(lp2p_multiaddr_strip_p2p(&ma), 0);
    assert_int_equal(lp2p_multiaddr_copy(&orig, &ma), 0);
    assert_int_equal(lp2p_multiaddr_append_p2p(&ma, &spec), 0);
    assert_false(lp2p_multiaddr_equal(&ma, &orig));
    assert_int_equal(lp2p_multiaddr_to_string(&ma, out, sizeof(out)), 0);
    assert_string_equal(out, "/ip4/1.2.3.4/tcp/1/p2p/" PID_SPEC);
    assert_int_equal(lp2p_multiaddr_peer_id(&ma, &id), 0);
    assert_true(lp2p_peer_id_equal(&id, &spec));
    assert_int_equal(lp2p_multiaddr_strip_p2p(&ma), 1);
    assert_true(lp2p_multiaddr_equal(&ma, &orig));
    /* the circuit form is built by appending */
    assert_int_equal(lp2p_multiaddr_append_p2p(&ma, &spec), 0);
    assert_int_equal(lp2p_multiaddr_append_circuit(&ma), 0);
    assert_true(lp2p_multiaddr_is_circuit(&ma));
    assert_false(lp2p_multiaddr_is_circuit(&orig));
    assert_int_equal(lp2p_multiaddr_to_string(&ma, out, sizeof(out)), 0);
    assert_string_equal(out, "/ip4/1.2.3.4/tcp/1/p2p/" PID_SPEC "/p2p-circuit");
    assert_int_equal(lp2p_multiaddr_strip_p2p(&ma), 0); /* ends in circuit: nothing to strip */
    lp2p_multiaddr_free(&ma);
    lp2p_multiaddr_free(&orig);

    /* strip of a lone /p2p leaves the empty multiaddr */
    parse_ok(&ma, "/p2p/" PID_B);
    assert_int_equal(lp2p_multiaddr_strip_p2p(&ma), 1);
    assert_int_equal(ma.len, 0);
    lp2p_multiaddr_free(&ma);

    /* to_string reports a short buffer */
    parse_ok(&ma, "/ip4/1.2.3.4/tcp/4001");
    assert_int_equal(lp2p_multiaddr_to_string(&ma, out, 10), LP2P_ERR_TOO_LARGE);
    assert_int_equal(lp2p_multiaddr_to_string(&ma, out, 22), 0);
    assert_int_equal(lp2p_multiaddr_to_string(&ma, out, 21), LP2P_ERR_TOO_LARGE);
    lp2p_multiaddr_free(&ma);
}

static void test_split_circuit(void **state)
{
    lp2p_multiaddr ma, relay_addr;
    lp2p_peer_id relay, target, want_relay, want_target;
    char out[LP2P_MULTIADDR_STR_MAX];
    assert_int_equal(lp2p_peer_id_from_bytes(MH_SPEC, 38, &want_relay), 0);
    assert_int_equal(lp2p_peer_id_from_bytes(MH_B, 38, &want_target), 0);

    parse_ok(&ma, "/ip4/198.51.100.1/tcp/4001/p2p/" PID_SPEC "/p2p-circuit/p2p/" PID_B);
    assert_int_equal(lp2p_multiaddr_split_circuit(&ma, &relay_addr, &relay, &target), 0);
    assert_int_equal(lp2p_multiaddr_to_string(&relay_addr, out, sizeof(out)), 0);
    assert_string_equal(out, "/ip4/198.51.100.1/tcp/4001");
    assert_true(lp2p_peer_id_equal(&relay, &want_relay));
    assert_true(lp2p_peer_id_equal(&target, &want_target));
    /* the last /p2p is the target */
    assert_int_equal(lp2p_multiaddr_peer_id(&ma, &target), 0);
    assert_true(lp2p_peer_id_equal(&target, &want_target));
    assert_false(lp2p_multiaddr_is_public(&ma));
    lp2p_multiaddr_free(&relay_addr);
    lp2p_multiaddr_free(&ma);

    /* reservation address: no target */
    parse_ok(&ma, "/ip6/2001:db8::1/tcp/4001/p2p/" PID_SPEC "/p2p-circuit");
    assert_int_equal(lp2p_multiaddr_split_circuit(&ma, NULL, &relay, &target), 0);
    assert_true(lp2p_peer_id_equal(&relay, &want_relay));
    assert_int_equal(target.len, 0);
    lp2p_multiaddr_free(&ma);

    /* no transport part: relay_addr is empty */
    parse_ok(&ma, "/p2p/" PID_SPEC "/p2p-circuit/p2p/" PID_B);
    assert_int_equal(lp2p_multiaddr_split_circuit(&ma, &relay_addr, &relay, NULL), 0);
    assert_int_equal(relay_addr.len, 0);
    assert_true(lp2p_peer_id_equal(&relay, &want_relay));
    lp2p_multiaddr_free(&ma);

    static const char *const bad[] = {
        "/ip4/1.2.3.4/tcp/1/p2p/" PID_SPEC,                       /* no circuit */
        "/ip4/1.2.3.4/tcp/1/p2p-circuit/p2p/" PID_B,              /* no relay id */
        "/p2p-circuit/p2p/" PID_B,                                /* nothing before */
        "/p2p/" PID_SPEC "/p2p-circuit/p2p/" PID_B "/p2p/" PID_B, /* extra after target */
        "/p2p/" PID_SPEC "/p2p-circuit/ip4/1.2.3.4",              /* not p2p after circuit */
        "/p2p/" PID_SPEC "/p2p-circuit/p2p-circuit",              /* second circuit */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parse_ok(&ma, bad[i]);
        relay_addr.bytes = (uint8_t *)1; /* garbage: must be reset */
        if (lp2p_multiaddr_split_circuit(&ma, &relay_addr, &relay, &target) != LP2P_ERR_INVAL)
            fail_msg("split accepted %s", bad[i]);
        assert_null(relay_addr.bytes);
        lp2p_multiaddr_free(&ma);
    }
}

static int ip4_public(const char *s)
{
    uint8_t ip[4];
    assert_int_equal(inet_pton(AF_INET, s, ip), 1);
    return lp2p_ip4_is_public(ip);
}

static int ip6_public(const char *s)
{
    uint8_t ip[16];
    assert_int_equal(inet_pton(AF_INET6, s, ip), 1);
    return lp2p_ip6_is_public(ip);
}

static int ma_pred(const char *s, int (*pred)(const lp2p_multiaddr *))
{
    lp2p_multiaddr ma;
    parse_ok(&ma, s);
    int r = pred(&ma);
    lp2p_multiaddr_free(&ma);
    return r;
}

static void test_classification(void **state)
{
    static const char *const pub4[] = {
        "8.8.8.8",     "1.1.1.1",        "172.15.255.255", "172.32.0.1",   "100.63.255.255",
        "100.128.0.1", "198.17.255.255", "198.20.0.1",     "198.51.100.7", "223.255.255.255"};
    static const char *const priv4[] = {
        "0.0.0.0",    "10.1.2.3",       "100.64.0.1",  "127.0.0.1", "169.254.9.9",
        "172.16.0.1", "172.31.255.1",   "192.0.0.8",   "192.0.2.1", "192.168.1.1",
        "198.18.0.1", "198.19.255.254", "203.0.113.5", "224.0.0.1", "239.255.255.250",
        "240.0.0.1",  "255.255.255.255"};
    for (size_t i = 0; i < sizeof(pub4) / sizeof(pub4[0]); i++)
        if (!ip4_public(pub4[i]))
            fail_msg("%s should be public", pub4[i]);
    for (size_t i = 0; i < sizeof(priv4) / sizeof(priv4[0]); i++)
        if (ip4_public(priv4[i]))
            fail_msg("%s should not be public", priv4[i]);

    static const char *const pub6[] = {"2606:4700::1111", "2a00:1450::1", "::ffff:8.8.8.8",
                                       "64:ff9b::808:808"};
    static const char *const priv6[] = {
        "::",      "::1",         "fe80::1",         "fd00::1",        "fc00::1",
        "ff02::1", "2001:db8::1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "100::1"};
    for (size_t i = 0; i < sizeof(pub6) / sizeof(pub6[0]); i++)
        if (!ip6_public(pub6[i]))
            fail_msg("%s should be public", pub6[i]);
    for (size_t i = 0; i < sizeof(priv6) / sizeof(priv6[0]); i++)
        if (ip6_public(priv6[i]))
            fail_msg("%s should not be public", priv6[i]);

    assert_true(ma_pred("/ip4/198.51.100.9/tcp/1", lp2p_multiaddr_is_public));
    assert_false(ma_pred("/ip4/198.18.1.2/tcp/1", lp2p_multiaddr_is_public));
    assert_true(ma_pred("/ip6/2606:4700::1/tcp/1", lp2p_multiaddr_is_public));
    assert_true(ma_pred("/dns4/relay.example.org/tcp/1", lp2p_multiaddr_is_public));
    assert_false(ma_pred("/dns/localhost/tcp/1", lp2p_multiaddr_is_public));
    assert_false(ma_pred("/dns4/printer.local/tcp/1", lp2p_multiaddr_is_public));
    assert_false(ma_pred("/p2p/" PID_SPEC, lp2p_multiaddr_is_public));
    assert_false(
        ma_pred("/ip4/8.8.8.8/tcp/1/p2p/" PID_SPEC "/p2p-circuit", lp2p_multiaddr_is_public));

    assert_true(ma_pred("/ip4/127.0.0.1/tcp/1", lp2p_multiaddr_is_loopback));
    assert_true(ma_pred("/ip4/127.9.9.9", lp2p_multiaddr_is_loopback));
    assert_true(ma_pred("/ip6/::1/tcp/1", lp2p_multiaddr_is_loopback));
    assert_true(ma_pred("/ip6/::ffff:127.0.0.1/tcp/1", lp2p_multiaddr_is_loopback));
    assert_true(ma_pred("/dns/LocalHost/tcp/1", lp2p_multiaddr_is_loopback));
    assert_false(ma_pred("/ip4/8.8.8.8/tcp/1", lp2p_multiaddr_is_loopback));
    assert_false(ma_pred("/ip6/::2/tcp/1", lp2p_multiaddr_is_loopback));
    assert_false(ma_pred("/dns/example.com", lp2p_multiaddr_is_loopback));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_ip6),
        cmocka_unit_test(test_dns),
        cmocka_unit_test(test_p2p_forms),
        cmocka_unit_test(test_text_rejections),
        cmocka_unit_test(test_binary_rejections),
        cmocka_unit_test(test_iterator),
        cmocka_unit_test(test_sockaddr),
        cmocka_unit_test(test_host_port),
        cmocka_unit_test(test_p2p_helpers),
        cmocka_unit_test(test_split_circuit),
        cmocka_unit_test(test_classification),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
