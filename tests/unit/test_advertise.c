/* The addresses we advertise: an unspecified listen address (0.0.0.0, ::) becomes the
 * interface addresses of its family with the listener's port; loopback only when nothing
 * else exists; IPv6 link-local never (it needs a zone); concrete listen addresses as they
 * are; no duplicates; bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "host/host_internal.h"

static struct sockaddr_storage sa(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss = {0};
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
    }
    return ss;
}

static uv_interface_address_t iface(const char *ip, int internal)
{
    uv_interface_address_t f;
    memset(&f, 0, sizeof(f));
    struct sockaddr_storage ss = sa(ip, 0);
    memcpy(&f.address, &ss, sizeof(f.address));
    f.is_internal = internal;
    return f;
}

static char texts[HOST_MAX_ADVERTISED][LP2P_MULTIADDR_STR_MAX];

static size_t expand(const struct sockaddr_storage *l, size_t nl, const uv_interface_address_t *f,
                     size_t nf, size_t max)
{
    lp2p_multiaddr out[HOST_MAX_ADVERTISED];
    size_t n = lp2p__expand_listen_addrs(l, nl, f, nf, out, max);
    assert_true(n <= max);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(lp2p_multiaddr_to_string(&out[i], texts[i], sizeof(texts[i])), 0);
        lp2p_multiaddr_free(&out[i]);
    }
    return n;
}

static void test_unspecified_becomes_interfaces(void **state)
{
    struct sockaddr_storage l[] = {sa("0.0.0.0", 4001)};
    uv_interface_address_t f[] = {iface("127.0.0.1", 1), iface("192.168.1.5", 0),
                                  iface("fe80::1", 0), iface("2001:db8::5", 0),
                                  iface("10.0.0.7", 0)};
    assert_int_equal(expand(l, 1, f, 5, HOST_MAX_ADVERTISED), 2);
    assert_string_equal(texts[0], "/ip4/192.168.1.5/tcp/4001");
    assert_string_equal(texts[1], "/ip4/10.0.0.7/tcp/4001");
}

static void test_loopback_only_when_alone(void **state)
{
    struct sockaddr_storage l[] = {sa("0.0.0.0", 4001), sa("::", 4002)};
    uv_interface_address_t f[] = {iface("127.0.0.1", 1), iface("::1", 1), iface("fe80::2", 0)};
    assert_int_equal(expand(l, 2, f, 3, HOST_MAX_ADVERTISED), 2);
    assert_string_equal(texts[0], "/ip4/127.0.0.1/tcp/4001");
    assert_string_equal(texts[1], "/ip6/::1/tcp/4002");
    /* no interface at all: nothing to advertise for the unspecified listener */
    assert_int_equal(expand(l, 1, NULL, 0, HOST_MAX_ADVERTISED), 0);
}

static void test_concrete_kept_duplicates_dropped_bounded(void **state)
{
    struct sockaddr_storage l[] = {sa("192.168.1.5", 4001), sa("0.0.0.0", 4001), sa("::", 4003)};
    uv_interface_address_t f[] = {iface("192.168.1.5", 0), iface("10.0.0.7", 0),
                                  iface("2001:db8::5", 0)};
    assert_int_equal(expand(l, 3, f, 3, HOST_MAX_ADVERTISED), 3);
    assert_string_equal(texts[0], "/ip4/192.168.1.5/tcp/4001");
    assert_string_equal(texts[1], "/ip4/10.0.0.7/tcp/4001");
    assert_string_equal(texts[2], "/ip6/2001:db8::5/tcp/4003");
    assert_int_equal(expand(l, 3, f, 3, 2), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unspecified_becomes_interfaces),
        cmocka_unit_test(test_loopback_only_when_alone),
        cmocka_unit_test(test_concrete_kept_duplicates_dropped_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
