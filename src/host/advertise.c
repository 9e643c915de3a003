/* The addresses we tell peers we can be reached at: identify listenAddrs, the signed peer
 * record, a relay's reservation addresses and the DCUtR fallback candidates. A listener on
 * 0.0.0.0 or :: is bound to every interface, but the unspecified address itself means
 * nothing to a remote peer (go-libp2p filters it, rust-libp2p refuses to dial it), so it is
 * replaced by the host's interface addresses of that family, with the listener's port. */
#include <string.h>

#include <netinet/in.h>

#include "host/host_internal.h"

static int sockaddr_unspecified(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return 0;
}

static uint16_t sockaddr_port(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                    : ((const struct sockaddr_in6 *)ss)->sin6_port;
}

/* An interface address a remote peer could dial: of the listener's family, and for IPv6 not
 * link-local (it needs a zone, which a multiaddr here does not carry). */
static int iface_fits(const uv_interface_address_t *ifa, int family)
{
    if (ifa->address.address4.sin_family != family)
        return 0;
    return family == AF_INET || !IN6_IS_ADDR_LINKLOCAL(&ifa->address.address6.sin6_addr);
}

static size_t add_unique(lp2p_multiaddr *out, size_t n, size_t max, const struct sockaddr *sa)
{
    lp2p_multiaddr ma = {0};
    if (n == max || lp2p_multiaddr_from_sockaddr(&ma, sa) < 0)
        return n;
    for (size_t i = 0; i < n; i++)
        if (lp2p_multiaddr_equal(&out[i], &ma)) {
            lp2p_multiaddr_free(&ma);
            return n;
        }
    out[n] = ma;
    return n + 1;
}

size_t lp2p__expand_listen_addrs(const struct sockaddr_storage *listen, size_t nlisten,
                                 const uv_interface_address_t *ifs, size_t nifs,
                                 lp2p_multiaddr *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < nlisten; i++) {
        if (!sockaddr_unspecified(&listen[i])) {
            n = add_unique(out, n, max, (const struct sockaddr *)&listen[i]);
            continue;
        }
        int family = listen[i].ss_family;
        /* Loopback only when it is all there is (a host with no network, a test). */
        int external = 0;
        for (size_t j = 0; j < nifs; j++)
            external |= iface_fits(&ifs[j], family) && !ifs[j].is_internal;
        for (size_t j = 0; j < nifs; j++) {
            if (!iface_fits(&ifs[j], family) || (external && ifs[j].is_internal))
                continue;
            struct sockaddr_storage ss = {0};
            if (family == AF_INET) {
                struct sockaddr_in a = ifs[j].address.address4;
                a.sin_port = sockaddr_port(&listen[i]);
                memcpy(&ss, &a, sizeof(a));
            } else {
                struct sockaddr_in6 a = ifs[j].address.address6;
                a.sin6_port = sockaddr_port(&listen[i]);
                a.sin6_scope_id = 0;
                memcpy(&ss, &a, sizeof(a));
            }
            n = add_unique(out, n, max, (const struct sockaddr *)&ss);
        }
    }
    return n;
}

size_t lp2p__host_advertised_addrs(const lp2p_host *h, lp2p_multiaddr *out, size_t max)
{
    struct sockaddr_storage listen[HOST_MAX_LISTENERS];
    int any_unspecified = 0;
    for (size_t i = 0; i < h->nlisteners; i++) {
        listen[i] = *lp2p_tcp_listener_addr(h->listeners[i]->tcp);
        any_unspecified |= sockaddr_unspecified(&listen[i]);
    }
    /* The interfaces are read each time: addresses come and go (DHCP, VPNs) while we run. */
    uv_interface_address_t *ifs = NULL;
    int nifs = 0;
    if (any_unspecified && uv_interface_addresses(&ifs, &nifs) != 0)
        nifs = 0;
    size_t n = lp2p__expand_listen_addrs(listen, h->nlisteners, ifs, (size_t)nifs, out, max);
    if (ifs)
        uv_free_interface_addresses(ifs, nifs);
    return n;
}
