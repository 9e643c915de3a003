/* Multiaddr binary/text codec and helpers. See multiaddr.h for the wire diagram. */
#include "wire/multiaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lp2p/err.h"
#include "util/buf.h"
#include "util/uvarint.h"

/* ---- protocol table ----------------------------------------------------------------------
 * size: fixed value size in bytes, or VAR for uvarint-length-prefixed values.
 * Protocols we do not speak are listed only so errors can name them. */
#define VAR (-1)

typedef struct ma_proto {
    uint64_t code;
    const char *name;
    int size;
    int supported;
} ma_proto;

static const ma_proto PROTOS[] = {
    {LP2P_MA_IP4, "ip4", 4, 1},
    {LP2P_MA_TCP, "tcp", 2, 1},
    {LP2P_MA_IP6, "ip6", 16, 1},
    {LP2P_MA_DNS, "dns", VAR, 1},
    {LP2P_MA_DNS4, "dns4", VAR, 1},
    {LP2P_MA_DNS6, "dns6", VAR, 1},
    {LP2P_MA_DNSADDR, "dnsaddr", VAR, 1},
    {LP2P_MA_P2P_CIRCUIT, "p2p-circuit", 0, 1},
    {LP2P_MA_P2P, "p2p", VAR, 1},
    /* known, not supported (TCP-only subset) */
    {0x0021, "dccp", 2, 0},
    {0x002a, "ip6zone", VAR, 0},
    {0x002b, "ipcidr", 1, 0},
    {0x0084, "sctp", 2, 0},
    {0x0111, "udp", 2, 0},
    {0x0118, "webrtc-direct", 0, 0},
    {0x0119, "webrtc", 0, 0},
    {0x0190, "unix", VAR, 0},
    {0x01bc, "onion", 12, 0},
    {0x01bd, "onion3", 37, 0},
    {0x01be, "garlic64", VAR, 0},
    {0x01bf, "garlic32", VAR, 0},
    {0x01c0, "tls", 0, 0},
    {0x01c1, "sni", VAR, 0},
    {0x01c6, "noise", 0, 0},
    {0x01cc, "quic", 0, 0},
    {0x01cd, "quic-v1", 0, 0},
    {0x01d1, "webtransport", 0, 0},
    {0x01d2, "certhash", VAR, 0},
    {0x01dd, "ws", 0, 0},
    {0x01de, "wss", 0, 0},
    {0x01df, "p2p-websocket-star", 0, 0},
    {0x01e0, "http", 0, 0},
    {0x01bb, "https", 0, 0},
    {0x0309, "memory", 8, 0},
};
#define NPROTOS (sizeof(PROTOS) / sizeof(PROTOS[0]))

static const ma_proto *proto_by_code(uint64_t code)
{
    for (size_t i = 0; i < NPROTOS; i++)
        if (PROTOS[i].code == code)
            return &PROTOS[i];
    return NULL;
}

static const ma_proto *proto_by_name(const char *name, size_t n)
{
    /* /ipfs/ is the legacy text name of /p2p/ (always printed as /p2p). */
    if (n == 4 && memcmp(name, "ipfs", 4) == 0)
        return proto_by_code(LP2P_MA_P2P);
    for (size_t i = 0; i < NPROTOS; i++)
        if (strlen(PROTOS[i].name) == n && memcmp(PROTOS[i].name, name, n) == 0)
            return &PROTOS[i];
    return NULL;
}

const char *lp2p_multiaddr_proto_name(uint64_t code)
{
    const ma_proto *p = proto_by_code(code);
    return p ? p->name : NULL;
}

__attribute__((format(printf, 4, 5))) static int fail(char *errbuf, size_t errlen, int rc,
                                                      const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int unsupported(char *errbuf, size_t errlen, uint64_t code)
{
    const ma_proto *p = proto_by_code(code);
    if (p)
        return fail(errbuf, errlen, LP2P_ERR_UNSUPPORTED, "unsupported multiaddr protocol %s",
                    p->name);
    return fail(errbuf, errlen, LP2P_ERR_UNSUPPORTED, "unknown multiaddr protocol code 0x%llx",
                (unsigned long long)code);
}

/* ---- value validation (shared by the binary decoder and the text encoder) --------------- */
static int valid_dns(const uint8_t *v, size_t n)
{
    if (n == 0 || n > LP2P_MULTIADDR_DNSMAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        /* '/' would break the text form; control bytes have no place in a host name and
         * would end up in logs. */
        if (v[i] == '/' || v[i] < 0x20 || v[i] == 0x7f)
            return 0;
    return 1;
}

static int check_value(const ma_proto *p, const uint8_t *v, size_t n, char *errbuf, size_t errlen)
{
    switch (p->code) {
    case LP2P_MA_DNS:
    case LP2P_MA_DNS4:
    case LP2P_MA_DNS6:
    case LP2P_MA_DNSADDR:
        if (!valid_dns(v, n))
            return fail(errbuf, errlen, LP2P_ERR_INVAL, "invalid %s name", p->name);
        return 0;
    case LP2P_MA_P2P: {
        lp2p_peer_id id;
        if (lp2p_peer_id_from_bytes(v, n, &id) != 0)
            return fail(errbuf, errlen, LP2P_ERR_INVAL, "p2p value is not a valid peer id");
        return 0;
    }
    default: /* fixed sizes were checked by the caller; every ip/port value is valid */
        return 0;
    }
}

/* ---- iteration ---------------------------------------------------------------------------- */
void lp2p_ma_iter_init(lp2p_ma_iter *it, const lp2p_multiaddr *ma)
{
    it->p = ma->bytes;
    it->end = ma->bytes + ma->len;
}

/* Decodes one component's framing (no value validation). */
static int next_raw(lp2p_ma_iter *it, lp2p_ma_component *c, char *errbuf, size_t errlen)
{
    if (it->p == it->end)
        return 0;
    const uint8_t *p = it->p;
    uint64_t code;
    if (lp2p_uvarint_decode(&p, it->end, &code) != 0)
        return fail(errbuf, errlen, LP2P_ERR_DECODE, "bad protocol code varint");
    const ma_proto *pr = proto_by_code(code);
    if (!pr || !pr->supported)
        return unsupported(errbuf, errlen, code);
    uint64_t n;
    if (pr->size == VAR) {
        if (lp2p_uvarint_decode(&p, it->end, &n) != 0)
            return fail(errbuf, errlen, LP2P_ERR_DECODE, "bad %s length varint", pr->name);
    } else {
        n = (uint64_t)pr->size;
    }
    if (n > (uint64_t)(it->end - p))
        return fail(errbuf, errlen, LP2P_ERR_DECODE, "%s value truncated", pr->name);
    c->code = code;
    c->value = p;
    c->len = (size_t)n;
    it->p = p + n;
    return 1;
}

int lp2p_ma_iter_next(lp2p_ma_iter *it, lp2p_ma_component *c)
{
    return next_raw(it, c, NULL, 0);
}

/* ---- binary ------------------------------------------------------------------------------ */
static int validate(const uint8_t *b, size_t n, char *errbuf, size_t errlen)
{
    if (n == 0)
        return fail(errbuf, errlen, LP2P_ERR_DECODE, "empty multiaddr");
    if (n > LP2P_MULTIADDR_MAX)
        return fail(errbuf, errlen, LP2P_ERR_TOO_LARGE, "multiaddr longer than %d bytes",
                    LP2P_MULTIADDR_MAX);
    lp2p_ma_iter it = {b, b + n};
    lp2p_ma_component c = {0};
    int rc;
    while ((rc = next_raw(&it, &c, errbuf, errlen)) == 1) {
        rc = check_value(proto_by_code(c.code), c.value, c.len, errbuf, errlen);
        if (rc)
            return rc;
    }
    return rc;
}

int lp2p_multiaddr_from_bytes(lp2p_multiaddr *ma, const uint8_t *b, size_t n, char *errbuf,
                              size_t errlen)
{
    ma->bytes = NULL;
    ma->len = 0;
    int rc = validate(b, n, errbuf, errlen);
    if (rc)
        return rc;
    ma->bytes = malloc(n);
    if (!ma->bytes)
        return LP2P_ERR_NOMEM;
    memcpy(ma->bytes, b, n);
    ma->len = n;
    return 0;
}

void lp2p_multiaddr_free(lp2p_multiaddr *ma)
{
    free(ma->bytes);
    ma->bytes = NULL;
    ma->len = 0;
}

int lp2p_multiaddr_copy(lp2p_multiaddr *dst, const lp2p_multiaddr *src)
{
    dst->bytes = NULL;
    dst->len = 0;
    if (src->len == 0)
        return 0;
    dst->bytes = malloc(src->len);
    if (!dst->bytes)
        return LP2P_ERR_NOMEM;
    memcpy(dst->bytes, src->bytes, src->len);
    dst->len = src->len;
    return 0;
}

int lp2p_multiaddr_equal(const lp2p_multiaddr *a, const lp2p_multiaddr *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->bytes, b->bytes, a->len) == 0);
}

/* ---- text -> binary ------------------------------------------------------------------------ */
static int parse_port(const char *s, size_t n, uint16_t *out)
{
    if (n == 0 || n > 5)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* Encodes one text value of protocol p into b. */
static int encode_value(lp2p_buf *b, const ma_proto *p, const char *s, size_t n, char *errbuf,
                        size_t errlen)
{
    char tmp[LP2P_PEER_ID_STR_MAX];
    switch (p->code) {
    case LP2P_MA_IP4:
    case LP2P_MA_IP6: {
        int af = p->code == LP2P_MA_IP4 ? AF_INET : AF_INET6;
        uint8_t ip[16];
        if (n >= sizeof(tmp))
            return fail(errbuf, errlen, LP2P_ERR_INVAL, "invalid %s address", p->name);
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        if (inet_pton(af, tmp, ip) != 1)
            return fail(errbuf, errlen, LP2P_ERR_INVAL, "invalid %s address \"%s\"", p->name, tmp);
        return lp2p_buf_append(b, ip, (size_t)p->size);
    }
    case LP2P_MA_TCP: {
        uint16_t port;
        if (parse_port(s, n, &port) != 0)
            return fail(errbuf, errlen, LP2P_ERR_INVAL, "invalid tcp port \"%.*s\"",
                        (int)(n > 16 ? 16 : n), s);
        uint8_t be[2] = {(uint8_t)(port >> 8), (uint8_t)port};
        return lp2p_buf_append(b, be, 2);
    }
    case LP2P_MA_DNS:
    case LP2P_MA_DNS4:
    case LP2P_MA_DNS6:
    case LP2P_MA_DNSADDR: {
        int rc = check_value(p, (const uint8_t *)s, n, errbuf, errlen);
        if (rc)
            return rc;
        if ((rc = lp2p_buf_append_uvarint(b, n)) != 0)
            return rc;
        return lp2p_buf_append(b, s, n);
    }
    case LP2P_MA_P2P: {
        lp2p_peer_id id;
        if (n >= sizeof(tmp))
            return fail(errbuf, errlen, LP2P_ERR_INVAL, "invalid p2p peer id");
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        if (lp2p_peer_id_parse(tmp, &id) != 0)
            return fail(errbuf, errlen, LP2P_ERR_INVAL, "invalid p2p peer id \"%s\"", tmp);
        int rc = lp2p_buf_append_uvarint(b, id.len);
        if (rc)
            return rc;
        return lp2p_buf_append(b, id.bytes, id.len);
    }
    default:
        return unsupported(errbuf, errlen, p->code);
    }
}

int lp2p_multiaddr_parse(lp2p_multiaddr *ma, const char *s, char *errbuf, size_t errlen)
{
    ma->bytes = NULL;
    ma->len = 0;
    size_t n = strlen(s);
    /* Trailing slashes are ignored, as go-multiaddr does. */
    while (n > 0 && s[n - 1] == '/')
        n--;
    if (n == 0 || s[0] != '/')
        return fail(errbuf, errlen, LP2P_ERR_DECODE, "multiaddr must start with '/'");
    if (n > 4 * LP2P_MULTIADDR_MAX)
        return fail(errbuf, errlen, LP2P_ERR_TOO_LARGE, "multiaddr text too long");

    lp2p_buf b;
    lp2p_buf_init(&b);
    int rc = 0;
    size_t i = 1;
    while (i <= n && rc == 0) {
        const char *name = s + i;
        const char *slash = memchr(name, '/', n - i);
        size_t nlen = slash ? (size_t)(slash - name) : n - i;
        i += nlen + 1;
        const ma_proto *p = proto_by_name(name, nlen);
        if (nlen == 0) {
            rc = fail(errbuf, errlen, LP2P_ERR_DECODE, "empty protocol name");
            break;
        }
        if (!p) {
            rc = fail(errbuf, errlen, LP2P_ERR_UNSUPPORTED, "unknown multiaddr protocol \"%.*s\"",
                      (int)(nlen > 32 ? 32 : nlen), name);
            break;
        }
        if (!p->supported) {
            rc = unsupported(errbuf, errlen, p->code);
            break;
        }
        if ((rc = lp2p_buf_append_uvarint(&b, p->code)) != 0)
            break;
        if (p->size == 0)
            continue;
        if (i > n) {
            rc = fail(errbuf, errlen, LP2P_ERR_DECODE, "%s needs a value", p->name);
            break;
        }
        const char *val = s + i;
        slash = memchr(val, '/', n - i);
        size_t vlen = slash ? (size_t)(slash - val) : n - i;
        i += vlen + 1;
        rc = encode_value(&b, p, val, vlen, errbuf, errlen);
    }
    if (rc == 0 && lp2p_buf_size(&b) > LP2P_MULTIADDR_MAX)
        rc = fail(errbuf, errlen, LP2P_ERR_TOO_LARGE, "multiaddr longer than %d bytes",
                  LP2P_MULTIADDR_MAX);
    if (rc) {
        lp2p_buf_free(&b);
        return rc;
    }
    ma->bytes = b.data; /* off is 0: nothing was consumed */
    ma->len = b.len;
    return 0;
}

/* ---- binary -> text ------------------------------------------------------------------------ */
typedef struct text_out {
    char *p;
    size_t left;
    int overflow;
} text_out;

static void put(text_out *o, const char *s, size_t n)
{
    if (n >= o->left) {
        o->overflow = 1;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
    o->left -= n;
    *o->p = '\0';
}

static void puts_(text_out *o, const char *s)
{
    put(o, s, strlen(s));
}

int lp2p_multiaddr_to_string(const lp2p_multiaddr *ma, char *out, size_t outlen)
{
    if (outlen == 0)
        return LP2P_ERR_TOO_LARGE;
    out[0] = '\0';
    text_out o = {out, outlen, 0};
    lp2p_ma_iter it;
    lp2p_ma_component c = {0};
    int rc;
    char tmp[LP2P_PEER_ID_STR_MAX];
    lp2p_ma_iter_init(&it, ma);
    while ((rc = lp2p_ma_iter_next(&it, &c)) == 1) {
        const ma_proto *p = proto_by_code(c.code);
        puts_(&o, "/");
        puts_(&o, p->name);
        if (p->size == 0)
            continue;
        puts_(&o, "/");
        switch (c.code) {
        case LP2P_MA_IP4:
        case LP2P_MA_IP6:
            if (!inet_ntop(c.code == LP2P_MA_IP4 ? AF_INET : AF_INET6, c.value, tmp, sizeof(tmp)))
                return LP2P_ERR_INVAL;
            puts_(&o, tmp);
            break;
        case LP2P_MA_TCP:
            snprintf(tmp, sizeof(tmp), "%u", (unsigned)c.value[0] << 8 | c.value[1]);
            puts_(&o, tmp);
            break;
        case LP2P_MA_P2P: {
            lp2p_peer_id id;
            if (lp2p_peer_id_from_bytes(c.value, c.len, &id) != 0 ||
                lp2p_peer_id_to_string(&id, tmp, sizeof(tmp)) != 0)
                return LP2P_ERR_INVAL;
            puts_(&o, tmp);
            break;
        }
        default: /* dns* */
            put(&o, (const char *)c.value, c.len);
            break;
        }
    }
    if (rc < 0)
        return rc;
    return o.overflow ? LP2P_ERR_TOO_LARGE : 0;
}

/* ---- sockaddr ------------------------------------------------------------------------------ */
int lp2p_multiaddr_to_sockaddr(const lp2p_multiaddr *ma, struct sockaddr_storage *ss,
                               socklen_t *sslen)
{
    lp2p_ma_iter it;
    lp2p_ma_component ip, port, c;
    lp2p_ma_iter_init(&it, ma);
    if (lp2p_ma_iter_next(&it, &ip) != 1 || (ip.code != LP2P_MA_IP4 && ip.code != LP2P_MA_IP6))
        return LP2P_ERR_UNSUPPORTED;
    if (lp2p_ma_iter_next(&it, &port) != 1 || port.code != LP2P_MA_TCP)
        return LP2P_ERR_UNSUPPORTED;
    int rc = lp2p_ma_iter_next(&it, &c);
    if (rc == 1 && c.code == LP2P_MA_P2P)
        rc = lp2p_ma_iter_next(&it, &c);
    if (rc != 0)
        return LP2P_ERR_UNSUPPORTED; /* anything after /p2p, or something else than /p2p */

    memset(ss, 0, sizeof(*ss));
    uint16_t pnum = (uint16_t)(port.value[0] << 8 | port.value[1]);
    if (ip.code == LP2P_MA_IP4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(pnum);
        memcpy(&sin->sin_addr, ip.value, 4);
        *sslen = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(pnum);
        memcpy(&sin6->sin6_addr, ip.value, 16);
        *sslen = sizeof(*sin6);
    }
    return 0;
}

int lp2p_multiaddr_from_sockaddr(lp2p_multiaddr *ma, const struct sockaddr *sa)
{
    uint8_t b[1 + 16 + 1 + 2];
    size_t n = 0;
    uint16_t port;
    ma->bytes = NULL;
    ma->len = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        b[n++] = LP2P_MA_IP4;
        memcpy(b + n, &sin->sin_addr, 4);
        n += 4;
        port = ntohs(sin->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *a = sin6->sin6_addr.s6_addr;
        /* A peer seen on a dual-stack socket as ::ffff:a.b.c.d is an IPv4 peer: report it
         * as /ip4, as go-multiaddr's FromIP does, so observed addresses are dialable. */
        if (memcmp(a, mapped, 12) == 0) {
            b[n++] = LP2P_MA_IP4;
            memcpy(b + n, a + 12, 4);
            n += 4;
        } else {
            b[n++] = LP2P_MA_IP6;
            memcpy(b + n, a, 16);
            n += 16;
        }
        port = ntohs(sin6->sin6_port);
    } else {
        return LP2P_ERR_UNSUPPORTED;
    }
    b[n++] = LP2P_MA_TCP;
    b[n++] = (uint8_t)(port >> 8);
    b[n++] = (uint8_t)port;
    ma->bytes = malloc(n);
    if (!ma->bytes)
        return LP2P_ERR_NOMEM;
    memcpy(ma->bytes, b, n);
    ma->len = n;
    return 0;
}

int lp2p_multiaddr_host_port(const lp2p_multiaddr *ma, char *host, size_t hostlen, uint16_t *port,
                             int *family)
{
    lp2p_ma_iter it;
    lp2p_ma_component h, t, c;
    lp2p_ma_iter_init(&it, ma);
    if (lp2p_ma_iter_next(&it, &h) != 1 || lp2p_ma_iter_next(&it, &t) != 1 || t.code != LP2P_MA_TCP)
        return LP2P_ERR_UNSUPPORTED;
    int rc = lp2p_ma_iter_next(&it, &c);
    if (rc == 1 && c.code == LP2P_MA_P2P)
        rc = lp2p_ma_iter_next(&it, &c);
    if (rc != 0)
        return LP2P_ERR_UNSUPPORTED;
    switch (h.code) {
    case LP2P_MA_IP4:
    case LP2P_MA_IP6: {
        char tmp[INET6_ADDRSTRLEN];
        *family = h.code == LP2P_MA_IP4 ? AF_INET : AF_INET6;
        if (!inet_ntop(*family, h.value, tmp, sizeof(tmp)))
            return LP2P_ERR_INVAL;
        if (strlen(tmp) >= hostlen)
            return LP2P_ERR_TOO_LARGE;
        strcpy(host, tmp);
        break;
    }
    case LP2P_MA_DNS:
    case LP2P_MA_DNS4:
    case LP2P_MA_DNS6:
        *family = h.code == LP2P_MA_DNS4 ? AF_INET : h.code == LP2P_MA_DNS6 ? AF_INET6 : AF_UNSPEC;
        if (h.len >= hostlen)
            return LP2P_ERR_TOO_LARGE;
        memcpy(host, h.value, h.len);
        host[h.len] = '\0';
        break;
    default:
        return LP2P_ERR_UNSUPPORTED;
    }
    *port = (uint16_t)(t.value[0] << 8 | t.value[1]);
    return 0;
}

/* ---- /p2p and circuits ---------------------------------------------------------------------- */
int lp2p_multiaddr_peer_id(const lp2p_multiaddr *ma, lp2p_peer_id *out)
{
    lp2p_ma_iter it;
    lp2p_ma_component c, last = {0, NULL, 0};
    lp2p_ma_iter_init(&it, ma);
    while (lp2p_ma_iter_next(&it, &c) == 1)
        if (c.code == LP2P_MA_P2P)
            last = c;
    if (!last.value)
        return LP2P_ERR_NOT_FOUND;
    return lp2p_peer_id_from_bytes(last.value, last.len, out);
}

int lp2p_multiaddr_is_circuit(const lp2p_multiaddr *ma)
{
    lp2p_ma_iter it;
    lp2p_ma_component c = {0};
    lp2p_ma_iter_init(&it, ma);
    while (lp2p_ma_iter_next(&it, &c) == 1)
        if (c.code == LP2P_MA_P2P_CIRCUIT)
            return 1;
    return 0;
}

int lp2p_multiaddr_split_circuit(const lp2p_multiaddr *ma, lp2p_multiaddr *relay_addr,
                                 lp2p_peer_id *relay, lp2p_peer_id *target)
{
    lp2p_ma_iter it;
    lp2p_ma_component c, prev = {0, NULL, 0};
    const uint8_t *prev_start = NULL, *start;
    int rc;
    if (relay_addr) {
        relay_addr->bytes = NULL;
        relay_addr->len = 0;
    }
    lp2p_ma_iter_init(&it, ma);
    /* Walk to the (first) circuit, remembering the component just before it. */
    for (;;) {
        start = it.p;
        if ((rc = lp2p_ma_iter_next(&it, &c)) != 1)
            return LP2P_ERR_INVAL; /* no circuit */
        if (c.code == LP2P_MA_P2P_CIRCUIT)
            break;
        prev = c;
        prev_start = start;
    }
    if (!prev_start || prev.code != LP2P_MA_P2P)
        return LP2P_ERR_INVAL; /* relay peer id missing */
    lp2p_peer_id tgt = {0};
    if ((rc = lp2p_ma_iter_next(&it, &c)) == 1) {
        if (c.code != LP2P_MA_P2P || lp2p_peer_id_from_bytes(c.value, c.len, &tgt) != 0)
            return LP2P_ERR_INVAL;
        if (lp2p_ma_iter_next(&it, &c) != 0)
            return LP2P_ERR_INVAL; /* something after /p2p/<target> */
    } else if (rc < 0) {
        return LP2P_ERR_INVAL;
    }
    if ((rc = lp2p_peer_id_from_bytes(prev.value, prev.len, relay)) != 0)
        return LP2P_ERR_INVAL;
    if (target)
        *target = tgt;
    if (relay_addr) {
        size_t n = (size_t)(prev_start - ma->bytes);
        if (n) {
            relay_addr->bytes = malloc(n);
            if (!relay_addr->bytes)
                return LP2P_ERR_NOMEM;
            memcpy(relay_addr->bytes, ma->bytes, n);
            relay_addr->len = n;
        }
    }
    return 0;
}

static int append(lp2p_multiaddr *ma, const uint8_t *b, size_t n)
{
    if (ma->len + n > LP2P_MULTIADDR_MAX)
        return LP2P_ERR_TOO_LARGE;
    uint8_t *p = realloc(ma->bytes, ma->len + n);
    if (!p)
        return LP2P_ERR_NOMEM;
    memcpy(p + ma->len, b, n);
    ma->bytes = p;
    ma->len += n;
    return 0;
}

int lp2p_multiaddr_append_p2p(lp2p_multiaddr *ma, const lp2p_peer_id *id)
{
    uint8_t b[2 + 1 + LP2P_PEER_ID_MAX];
    size_t n = lp2p_uvarint_encode(LP2P_MA_P2P, b);
    if (id->len == 0 || id->len > LP2P_PEER_ID_MAX)
        return LP2P_ERR_INVAL;
    b[n++] = id->len; /* < 128: one varint byte */
    memcpy(b + n, id->bytes, id->len);
    return append(ma, b, n + id->len);
}

int lp2p_multiaddr_append_circuit(lp2p_multiaddr *ma)
{
    uint8_t b[2];
    size_t n = lp2p_uvarint_encode(LP2P_MA_P2P_CIRCUIT, b);
    return append(ma, b, n);
}

int lp2p_multiaddr_strip_p2p(lp2p_multiaddr *ma)
{
    lp2p_ma_iter it;
    lp2p_ma_component c = {0};
    const uint8_t *start = NULL, *s;
    uint64_t last = 0;
    lp2p_ma_iter_init(&it, ma);
    for (;;) {
        s = it.p;
        if (lp2p_ma_iter_next(&it, &c) != 1)
            break;
        start = s;
        last = c.code;
    }
    if (!start || last != LP2P_MA_P2P)
        return 0;
    ma->len = (size_t)(start - ma->bytes);
    if (ma->len == 0)
        lp2p_multiaddr_free(ma);
    return 1;
}

/* ---- classification ---------------------------------------------------------------------- */
static int in4(const uint8_t ip[4], uint32_t net, int bits)
{
    uint32_t a = (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 | (uint32_t)ip[2] << 8 | ip[3];
    uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    return (a & mask) == net;
}

int lp2p_ip4_is_public(const uint8_t ip[4])
{
    static const struct {
        uint32_t net;
        int bits;
    } nonpublic[] = {
        {0x00000000, 8},  /* "this" network */
        {0x0a000000, 8},  /* RFC 1918 */
        {0x64400000, 10}, /* CGNAT 100.64/10 */
        {0x7f000000, 8},  /* loopback */
        {0xa9fe0000, 16}, /* link-local */
        {0xac100000, 12}, /* RFC 1918 */
        {0xc0000000, 24}, /* IETF protocol assignments */
        {0xc0000200, 24}, /* TEST-NET-1 */
        {0xc0a80000, 16}, /* RFC 1918 */
        {0xc6120000, 15}, /* 198.18/15 benchmarking: the NAT lab's private LANs */
        /* 198.51.100.0/24 (TEST-NET-2) is NOT listed on purpose: the NAT lab uses it as the
         * internet, and hole punching only uses public candidates. */
        {0xcb007100, 24}, /* TEST-NET-3 */
        {0xe0000000, 4},  /* multicast */
        {0xf0000000, 4},  /* reserved, broadcast */
    };
    for (size_t i = 0; i < sizeof(nonpublic) / sizeof(nonpublic[0]); i++)
        if (in4(ip, nonpublic[i].net, nonpublic[i].bits))
            return 0;
    return 1;
}

int lp2p_ip6_is_public(const uint8_t ip[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
    if (memcmp(ip, mapped, 12) == 0 || memcmp(ip, nat64, 12) == 0)
        return lp2p_ip4_is_public(ip + 12);
    /* Only global unicast 2000::/3 is routable; everything else (::, ::1, fc00::/7 ULA,
     * fe80::/10 link-local, ff00::/8 multicast, 100::/64 discard) is not. */
    if ((ip[0] & 0xe0) != 0x20)
        return 0;
    if (ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0x0d && ip[3] == 0xb8)
        return 0; /* 2001:db8::/32 documentation */
    return 1;
}

static int dns_is_local(const uint8_t *v, size_t n)
{
    static const char *const suffixes[] = {".localhost", ".local"};
    if (n == 9 && strncasecmp((const char *)v, "localhost", 9) == 0)
        return 1;
    for (size_t i = 0; i < 2; i++) {
        size_t sl = strlen(suffixes[i]);
        if (n > sl && strncasecmp((const char *)v + n - sl, suffixes[i], sl) == 0)
            return 1;
    }
    return 0;
}

int lp2p_multiaddr_is_public(const lp2p_multiaddr *ma)
{
    lp2p_ma_iter it;
    lp2p_ma_component c = {0};
    if (lp2p_multiaddr_is_circuit(ma))
        return 0;
    lp2p_ma_iter_init(&it, ma);
    if (lp2p_ma_iter_next(&it, &c) != 1)
        return 0;
    switch (c.code) {
    case LP2P_MA_IP4:
        return lp2p_ip4_is_public(c.value);
    case LP2P_MA_IP6:
        return lp2p_ip6_is_public(c.value);
    case LP2P_MA_DNS:
    case LP2P_MA_DNS4:
    case LP2P_MA_DNS6:
    case LP2P_MA_DNSADDR:
        return !dns_is_local(c.value, c.len);
    default:
        return 0;
    }
}

int lp2p_multiaddr_is_loopback(const lp2p_multiaddr *ma)
{
    static const uint8_t lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    lp2p_ma_iter it;
    lp2p_ma_component c = {0};
    lp2p_ma_iter_init(&it, ma);
    if (lp2p_ma_iter_next(&it, &c) != 1)
        return 0;
    switch (c.code) {
    case LP2P_MA_IP4:
        return c.value[0] == 127;
    case LP2P_MA_IP6:
        return memcmp(c.value, lo6, 16) == 0 ||
               (memcmp(c.value, mapped, 12) == 0 && c.value[12] == 127);
    case LP2P_MA_DNS:
    case LP2P_MA_DNS4:
    case LP2P_MA_DNS6:
        return c.len == 9 && strncasecmp((const char *)c.value, "localhost", 9) == 0;
    default:
        return 0;
    }
}
