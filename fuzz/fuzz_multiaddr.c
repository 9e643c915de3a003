/* Multiaddr parsers, binary and text. Input byte 0 picks the form (even: binary, odd: text).
 * Invariants: whatever parses prints, and the printed text parses back to the same bytes;
 * the helpers never fail on a parsed address in ways their contracts exclude. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lp2p/err.h"
#include "wire/multiaddr.h"

static void check_roundtrip(const lp2p_multiaddr *ma)
{
    char text[8 * LP2P_MULTIADDR_MAX];
    lp2p_multiaddr back;
    if (lp2p_multiaddr_to_string(ma, text, sizeof(text)) != 0)
        abort();
    if (lp2p_multiaddr_parse(&back, text, NULL, 0) != 0)
        abort();
    if (!lp2p_multiaddr_equal(ma, &back))
        abort();
    lp2p_multiaddr_free(&back);
}

static void exercise_helpers(const lp2p_multiaddr *ma)
{
    lp2p_peer_id id, relay, target;
    lp2p_multiaddr relay_addr, copy;
    struct sockaddr_storage ss;
    socklen_t sl;
    lp2p_ma_iter it;
    lp2p_ma_component c;
    int rc;

    lp2p_ma_iter_init(&it, ma);
    while ((rc = lp2p_ma_iter_next(&it, &c)) == 1)
        ;
    if (rc != 0)
        abort(); /* a validated address always iterates cleanly */

    rc = lp2p_multiaddr_peer_id(ma, &id);
    if (rc != 0 && rc != LP2P_ERR_NOT_FOUND)
        abort();
    char host[LP2P_MULTIADDR_DNSMAX + 1];
    uint16_t port;
    int family;
    rc = lp2p_multiaddr_host_port(ma, host, sizeof(host), &port, &family);
    if (rc != 0 && rc != LP2P_ERR_UNSUPPORTED)
        abort(); /* the buffer is always large enough */
    rc = lp2p_multiaddr_peer_id(ma, &id);
    (void)lp2p_multiaddr_is_public(ma);
    (void)lp2p_multiaddr_is_loopback(ma);
    if (lp2p_multiaddr_to_sockaddr(ma, &ss, &sl) == 0) {
        lp2p_multiaddr back;
        if (lp2p_multiaddr_from_sockaddr(&back, (struct sockaddr *)&ss) != 0)
            abort();
        lp2p_multiaddr_free(&back);
    }
    if (lp2p_multiaddr_split_circuit(ma, &relay_addr, &relay, &target) == 0) {
        if (!lp2p_multiaddr_is_circuit(ma))
            abort();
        lp2p_multiaddr_free(&relay_addr);
    }
    if (lp2p_multiaddr_copy(&copy, ma) != 0)
        abort();
    int stripped = lp2p_multiaddr_strip_p2p(&copy);
    if (stripped && rc == 0 && lp2p_multiaddr_append_p2p(&copy, &id) == 0 &&
        !lp2p_multiaddr_equal(&copy, ma))
        abort(); /* stripping the last /p2p and appending the same id restores it */
    lp2p_multiaddr_free(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int text = data[0] & 1;
    data++, size--;
    lp2p_multiaddr ma;
    char err[128];
    int rc;
    if (text) {
        char *s = malloc(size + 1);
        if (!s)
            return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        rc = lp2p_multiaddr_parse(&ma, s, err, sizeof(err));
        free(s);
    } else {
        rc = lp2p_multiaddr_from_bytes(&ma, data, size, err, sizeof(err));
        if (rc == 0 && (ma.len != size || memcmp(ma.bytes, data, size) != 0))
            abort();
    }
    if (rc != 0) {
        if (ma.bytes || ma.len)
            abort();
        return 0;
    }
    check_roundtrip(&ma);
    exercise_helpers(&ma);
    lp2p_multiaddr_free(&ma);
    return 0;
}
