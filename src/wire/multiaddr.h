/* Multiaddr: binary <-> text for the TCP-only subset we speak, plus the helpers the transport
 * layer needs (sockaddr conversion, /p2p handling, circuit split, address classification).
 * Wire facts: ../shared/reference/libp2p-wire.md A2 (multiformats/multiaddr protocols.csv).
 *
 *   binary = { uvarint code ‖ value }*
 *   value  = fixed size (ip4 4 B, ip6 16 B, tcp 2 B big-endian, p2p-circuit 0 B)
 *          | uvarint len ‖ bytes (dns, dns4, dns6, dnsaddr: UTF-8 name; p2p: multihash)
 *
 * Supported: ip4 ip6 tcp dns dns4 dns6 dnsaddr p2p (text alias /ipfs, printed /p2p)
 * p2p-circuit. Anything else (udp, quic-v1, ws, ...) is LP2P_ERR_UNSUPPORTED, with the protocol's
 * name in errbuf. Every value in a binary multiaddr is validated, so an lp2p_multiaddr that
 * exists is always well formed and printable. */
#ifndef LP2P_WIRE_MULTIADDR_H
#define LP2P_WIRE_MULTIADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lp2p/identity.h"

/* Protocol codes (multiformats/multicodec table.csv). */
#define LP2P_MA_IP4         0x04
#define LP2P_MA_TCP         0x06
#define LP2P_MA_IP6         0x29
#define LP2P_MA_DNS         0x35
#define LP2P_MA_DNS4        0x36
#define LP2P_MA_DNS6        0x37
#define LP2P_MA_DNSADDR     0x38
#define LP2P_MA_P2P_CIRCUIT 0x0122
#define LP2P_MA_P2P         0x01a5

/* Bounds: a binary multiaddr longer than this is refused (LP2P_ERR_TOO_LARGE); real ones are
 * ~100 bytes (ip6 + tcp + p2p + p2p-circuit + p2p). DNS names are at most 255 bytes. */
#define LP2P_MULTIADDR_MAX    1024
#define LP2P_MULTIADDR_DNSMAX 255
/* Enough text for any address we produce in practice; to_string says TOO_LARGE otherwise. */
#define LP2P_MULTIADDR_STR_MAX 1024

/* Owned, validated binary form. Zero-initialised ({NULL, 0}) is the empty multiaddr. */
typedef struct lp2p_multiaddr {
    uint8_t *bytes;
    size_t len;
} lp2p_multiaddr;

/* One component; value points into the multiaddr's bytes (for variable-size values the
 * length prefix is already stripped). */
typedef struct lp2p_ma_component {
    uint64_t code;
    const uint8_t *value;
    size_t len;
} lp2p_ma_component;

typedef struct lp2p_ma_iter {
    const uint8_t *p, *end;
} lp2p_ma_iter;

/* ---- construction / destruction -------------------------------------------------------- */
/* Validates and copies a binary multiaddr. errbuf (may be NULL) gets a reason on failure.
 * LP2P_ERR_DECODE malformed, LP2P_ERR_UNSUPPORTED protocol we do not speak, LP2P_ERR_INVAL
 * bad value (e.g. p2p value not a multihash), LP2P_ERR_TOO_LARGE over LP2P_MULTIADDR_MAX.
 * The empty input is refused (LP2P_ERR_DECODE). */
int lp2p_multiaddr_from_bytes(lp2p_multiaddr *ma, const uint8_t *b, size_t n, char *errbuf,
                              size_t errlen);
/* Parses text ("/ip4/1.2.3.4/tcp/4001/p2p/12D3KooW..."). Same codes as from_bytes. */
int lp2p_multiaddr_parse(lp2p_multiaddr *ma, const char *s, char *errbuf, size_t errlen);
/* Text form into out; LP2P_ERR_TOO_LARGE when outlen is too small. */
int lp2p_multiaddr_to_string(const lp2p_multiaddr *ma, char *out, size_t outlen);
int lp2p_multiaddr_copy(lp2p_multiaddr *dst, const lp2p_multiaddr *src);
void lp2p_multiaddr_free(lp2p_multiaddr *ma);
int lp2p_multiaddr_equal(const lp2p_multiaddr *a, const lp2p_multiaddr *b);
/* Name of a protocol code ("ip4", "udp", "quic-v1", ...), or NULL when we know no name. */
const char *lp2p_multiaddr_proto_name(uint64_t code);

/* ---- iteration (the multiaddr is valid, so next never fails on one we built) ----------- */
void lp2p_ma_iter_init(lp2p_ma_iter *it, const lp2p_multiaddr *ma);
/* 1: *c filled; 0: end; negative: malformed (only for hand-made iterators). */
int lp2p_ma_iter_next(lp2p_ma_iter *it, lp2p_ma_component *c);

/* ---- sockaddr (no DNS here: only ip4/ip6 + tcp) ------------------------------------------ */
/* Accepts /ip4|ip6/../tcp/.. optionally followed by /p2p/<id>; anything else (dns, circuit)
 * is LP2P_ERR_UNSUPPORTED. *sslen gets sizeof(sockaddr_in or sockaddr_in6). */
int lp2p_multiaddr_to_sockaddr(const lp2p_multiaddr *ma, struct sockaddr_storage *ss,
                               socklen_t *sslen);
/* /ip4/../tcp/.. or /ip6/../tcp/.. from an AF_INET/AF_INET6 sockaddr; an ip4-mapped ip6
 * address (::ffff:a.b.c.d, from a dual-stack socket) becomes /ip4 as in go-multiaddr.
 * LP2P_ERR_UNSUPPORTED for other families. */
int lp2p_multiaddr_from_sockaddr(lp2p_multiaddr *ma, const struct sockaddr *sa);

/* For the dialer's name resolution (done in src/net, not here): a leading dns/dns4/dns6 or
 * ip4/ip6 component followed by tcp (then optionally /p2p/<id>). host gets the name or the
 * address text, *family AF_UNSPEC (dns), AF_INET (dns4, ip4) or AF_INET6 (dns6, ip6).
 * LP2P_ERR_UNSUPPORTED for any other shape (circuits included), LP2P_ERR_TOO_LARGE when
 * hostlen is too small (LP2P_MULTIADDR_DNSMAX + 1 always suffices). */
int lp2p_multiaddr_host_port(const lp2p_multiaddr *ma, char *host, size_t hostlen, uint16_t *port,
                             int *family);

/* ---- /p2p and circuits ------------------------------------------------------------------ */
/* The last /p2p component's peer id; LP2P_ERR_NOT_FOUND when there is none. */
int lp2p_multiaddr_peer_id(const lp2p_multiaddr *ma, lp2p_peer_id *out);
/* 1 when the address contains /p2p-circuit. */
int lp2p_multiaddr_is_circuit(const lp2p_multiaddr *ma);
/* Splits <relay-addr>/p2p/<relay>/p2p-circuit[/p2p/<target>].
 * relay_addr (may be NULL) gets <relay-addr> without its /p2p (possibly empty, len 0, when
 * the address is just /p2p/<relay>/p2p-circuit/...); relay gets <relay>; target (may be NULL)
 * gets <target>, or len 0 when the address ends at /p2p-circuit (as reservation addresses do).
 * LP2P_ERR_INVAL when the address is not of that shape (no circuit, no relay id, a second
 * circuit, anything but /p2p/<target> after the circuit); *relay_addr is then empty. */
int lp2p_multiaddr_split_circuit(const lp2p_multiaddr *ma, lp2p_multiaddr *relay_addr,
                                 lp2p_peer_id *relay, lp2p_peer_id *target);
/* Appends /p2p/<id> in place. */
int lp2p_multiaddr_append_p2p(lp2p_multiaddr *ma, const lp2p_peer_id *id);
/* Appends /p2p-circuit in place. */
int lp2p_multiaddr_append_circuit(lp2p_multiaddr *ma);
/* Removes one trailing /p2p/<id> if present (in place); returns 1 if removed, 0 if none. */
int lp2p_multiaddr_strip_p2p(lp2p_multiaddr *ma);

/* ---- classification --------------------------------------------------------------------- */
/* Globally routable unicast (not private, loopback, link-local, CGNAT, documentation,
 * multicast, reserved). NOTE: 198.51.100.0/24 (TEST-NET-2) is deliberately counted as public
 * because our NAT lab uses it as "the internet"; 198.18.0.0/15 (the lab's private LANs) is
 * not public. */
int lp2p_ip4_is_public(const uint8_t ip[4]);
/* ip4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::/96) addresses follow their ip4 part. */
int lp2p_ip6_is_public(const uint8_t ip[16]);
/* Uses the first component: ip4/ip6 as above; dns* (dnsaddr too) public unless
 * "localhost"/"*.localhost"/
 * "*.local"; circuit addresses (anything containing /p2p-circuit) are never public. */
int lp2p_multiaddr_is_public(const lp2p_multiaddr *ma);
/* 127.0.0.0/8, ::1, ::ffff:127.x, or dns "localhost". */
int lp2p_multiaddr_is_loopback(const lp2p_multiaddr *ma);

#endif
