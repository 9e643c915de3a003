#include "net/tcp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int set_reuse(uv_os_fd_t fd)
{
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        return -1;
    return 0;
}

/* SO_REUSEPORT on the listener lets a second process listen on the same port and the kernel
 * then splits incoming connections between the two. A socket with SO_REUSEADDR alone binds
 * beside our dial sockets and their TIME_WAIT leftovers (they carry SO_REUSEADDR too) but
 * not beside a listener, so a bind of it that fails with EADDRINUSE means someone listens.
 * The IPv6 probe is v6-only, so /ip6/::/tcp/P beside our own /ip4/0.0.0.0/tcp/P still starts. */
static int probe_no_listener(const struct sockaddr *addr)
{
    if (((const struct sockaddr_in *)addr)->sin_port == 0)
        return 0;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return uv_translate_sys_error(errno);
    int one = 1, rc = 0;
    socklen_t len =
        addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (addr->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, addr, len) != 0)
        rc = uv_translate_sys_error(errno);
    close(fd);
    return rc;
}

int lp2p_tcp_listen(uv_loop_t *loop, uv_tcp_t *h, const struct sockaddr *addr, int backlog,
                    uv_connection_cb cb, struct sockaddr_storage *bound)
{
    /* uv_tcp_init_ex creates the socket now, so options can be set before bind. */
    int rc = uv_tcp_init_ex(loop, h, addr->sa_family);
    if (rc)
        return rc;
    if ((rc = probe_no_listener(addr)) != 0)
        return rc;
    uv_os_fd_t fd;
    if ((rc = uv_fileno((uv_handle_t *)h, &fd)) != 0)
        return rc;
    if (set_reuse(fd) != 0)
        return UV_EINVAL;
    if ((rc = uv_tcp_bind(h, addr, 0)) != 0)
        return rc;
    if ((rc = uv_listen((uv_stream_t *)h, backlog, cb)) != 0)
        return rc;
    if (bound) {
        int len = sizeof(*bound);
        rc = uv_tcp_getsockname(h, (struct sockaddr *)bound, &len);
    }
    return rc;
}

const char *lp2p_tcp_listen_error(int rc, const struct sockaddr *addr, char *out, size_t n)
{
    if (rc == UV_EADDRINUSE)
        snprintf(out, n, "port %u is already in use by another process",
                 (unsigned)ntohs(((const struct sockaddr_in *)addr)->sin_port));
    else
        snprintf(out, n, "%s", uv_strerror(rc));
    return out;
}

int lp2p_tcp_dial_socket(uv_loop_t *loop, uv_tcp_t *h, uv_connect_t *req,
                         const struct sockaddr *local, const struct sockaddr *remote,
                         uv_connect_cb cb)
{
    int rc = uv_tcp_init_ex(loop, h, remote->sa_family);
    if (rc)
        return rc;
    if (local) {
        uv_os_fd_t fd;
        if ((rc = uv_fileno((uv_handle_t *)h, &fd)) != 0)
            return rc;
        if (set_reuse(fd) != 0)
            return UV_EINVAL;
        if ((rc = uv_tcp_bind(h, local, 0)) != 0)
            return rc;
    }
    return uv_tcp_connect(req, h, remote, cb);
}

void lp2p_tcp_tune(uv_tcp_t *h)
{
    uv_tcp_nodelay(h, 1);
    uv_tcp_keepalive(h, 1, 30);
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)h, &fd) == 0) {
        /* Linger 0: close sends RST and frees the 4-tuple at once, so a later dial from the
         * same listen port to the same peer (a punch retry) is not blocked by TIME_WAIT. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
}

int lp2p_sockaddr_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
    return 0;
}

int lp2p_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
    if (!lp2p_sockaddr_same_ip(a, b))
        return 0;
    /* sin_port and sin6_port sit at the same offset. */
    return ((const struct sockaddr_in *)a)->sin_port == ((const struct sockaddr_in *)b)->sin_port;
}

const char *lp2p_sockaddr_str(const struct sockaddr *sa, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        port = ntohs(s4->sin_port);
        snprintf(out, outlen, "%s:%u", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        port = ntohs(s6->sin6_port);
        snprintf(out, outlen, "[%s]:%u", ip, port);
    } else {
        snprintf(out, outlen, "?");
    }
    return out;
}
