/* simopen — a tiny TCP/UDP tool for the NAT lab (lab/natlab).
 *
 *   simopen listen PORT [--count N] [--timeout S]
 *       TCP listener (SO_REUSEADDR|SO_REUSEPORT). For each connection prints
 *       "accepted peer=IP:PORT", sends "observed IP:PORT\n" (what the relay sees, as
 *       identify would tell it) and closes. Exits 0 after N connections (default 1), 1 on
 *       timeout (default: none).
 *   simopen connect IP PORT [--bind PORT] [--timeout S]
 *       One TCP connect (from PORT if given, with port reuse). Prints "result=connected
 *       local=.. peer=.." and the first line the peer sends ("received: ..."), or
 *       result=refused|timeout|unreachable|error. Exit 0 connected, 2 refused, 3 timeout,
 *       4 unreachable, 1 other.
 *   simopen punch --port LPORT --peer IP:PORT [--timeout S] [--name NAME]
 *       TCP simultaneous open: listens on LPORT and connects from LPORT to the peer,
 *       retrying, until a connection exists (via connect, or via accept from the peer's IP),
 *       then both sides send "hello from NAME\n" and read the other's line. Prints
 *       "established via=connect|accept local=.. peer=..", "received: hello from ..".
 *       Exit 0 when data went both ways, 1 otherwise (after --timeout, default 10 s).
 *   simopen udp-echo PORT [--timeout S]
 *       Echoes every datagram back to its sender; exits after S seconds (default 30).
 *   simopen udp-probe IP PORT [--count N] [--interval-ms M] [--wait-ms W]
 *       Sends N numbered datagrams M ms apart (default 200, 2), waits W ms (default 1000)
 *       for the echoes and prints "sent=N received=R rtt_min_us=.. rtt_avg_us=.. rtt_max_us=..".
 *
 * Ordering (why punch never dials first): a failed plain dial from the punch port to the
 * peer just before punching leaves a conntrack entry on our NAT (and, with RST-answering
 * NATs, on the peer's) for the very 4-tuple the punch uses; the punch SYNs are then judged
 * against that stale state. punch therefore only ever sends SYNs while the peer does too,
 * always from the same port, and retries the same 4-tuple rather than a new one.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: simopen listen PORT [--count N] [--timeout S]\n"
            "       simopen connect IP PORT [--bind PORT] [--timeout S]\n"
            "       simopen punch --port LPORT --peer IP:PORT [--timeout S] [--name NAME]\n"
            "       simopen udp-echo PORT [--timeout S]\n"
            "       simopen udp-probe IP PORT [--count N] [--interval-ms M] [--wait-ms W]\n");
    exit(1);
}

static long parse_num(const char *s, long lo, long hi)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "simopen: bad number '%s' (%ld..%ld)\n", s, lo, hi);
        exit(1);
    }
    return v;
}

static void parse_ip(const char *s, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    if (inet_pton(AF_INET, s, &sa->sin_addr) != 1) {
        fprintf(stderr, "simopen: bad IPv4 address '%s'\n", s);
        exit(1);
    }
}

/* "IP:PORT" */
static void parse_ipport(const char *s, struct sockaddr_in *sa)
{
    char buf[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof buf) {
        fprintf(stderr, "simopen: expected IP:PORT, got '%s'\n", s);
        exit(1);
    }
    memcpy(buf, s, (size_t)(colon - s));
    buf[colon - s] = '\0';
    parse_ip(buf, sa);
    sa->sin_port = htons((uint16_t)parse_num(colon + 1, 1, 65535));
}

static const char *fmt_addr(const struct sockaddr_in *sa, char *out, size_t n)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof ip);
    snprintf(out, n, "%s:%u", ip, (unsigned)ntohs(sa->sin_port));
    return out;
}

static void die_errno(const char *what)
{
    fprintf(stderr, "simopen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void set_reuse(int fd)
{
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        die_errno("setsockopt reuse");
}

static void set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) != 0)
        die_errno("fcntl");
}

static void bind_port(int fd, int port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    sa.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die_errno("bind");
}

static int tcp_listener(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die_errno("socket");
    set_reuse(fd);
    bind_port(fd, port);
    if (listen(fd, 16) != 0)
        die_errno("listen");
    return fd;
}

static void print_local_peer(int fd, const char *prefix)
{
    struct sockaddr_in l, p;
    socklen_t ll = sizeof l, pl = sizeof p;
    char lb[32], pb[32];
    memset(&l, 0, sizeof l);
    memset(&p, 0, sizeof p);
    getsockname(fd, (struct sockaddr *)&l, &ll);
    getpeername(fd, (struct sockaddr *)&p, &pl);
    printf("%s local=%s peer=%s\n", prefix, fmt_addr(&l, lb, sizeof lb),
           fmt_addr(&p, pb, sizeof pb));
    fflush(stdout);
}

/* Reads one line (without '\n') within timeout_ms. Returns length, or -1. */
static int read_line(int fd, char *out, size_t cap, int64_t timeout_ms)
{
    size_t n = 0;
    int64_t deadline = now_ms() + timeout_ms;
    set_nonblock(fd, 1);
    while (n + 1 < cap) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t got = read(fd, out + n, 1);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got <= 0)
            return n > 0 ? (int)n : -1;
        if (out[n] == '\n')
            break;
        n++;
    }
    out[n] = '\0';
    return (int)n;
}

static int write_all(int fd, const char *s, size_t len)
{
    set_nonblock(fd, 0);
    while (len > 0) {
        ssize_t w = send(fd, s, len, MSG_NOSIGNAL); /* a reset peer: EPIPE, not SIGPIPE */
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        len -= (size_t)w;
    }
    return 0;
}

static int cmd_listen(int argc, char **argv)
{
    if (argc < 1)
        usage();
    int port = (int)parse_num(argv[0], 1, 65535);
    long count = 1, timeout_s = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = parse_num(argv[++i], 1, 1000000);
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout_s = parse_num(argv[++i], 0, 86400);
        else
            usage();
    }
    int lfd = tcp_listener(port);
    printf("listening port=%d\n", port);
    fflush(stdout);
    int64_t deadline = timeout_s > 0 ? now_ms() + timeout_s * 1000 : INT64_MAX;
    for (long done = 0; done < count;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            printf("timeout accepted=%ld\n", done);
            return 1;
        }
        struct pollfd pfd = {.fd = lfd, .events = POLLIN};
        int r = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
        if (r <= 0)
            continue;
        struct sockaddr_in peer;
        socklen_t pl = sizeof peer;
        int fd = accept(lfd, (struct sockaddr *)&peer, &pl);
        if (fd < 0)
            continue;
        char pb[32], line[64];
        fmt_addr(&peer, pb, sizeof pb);
        printf("accepted peer=%s\n", pb);
        fflush(stdout);
        snprintf(line, sizeof line, "observed %s\n", pb);
        (void)write_all(fd, line, strlen(line));
        close(fd);
        done++;
    }
    close(lfd);
    return 0;
}

/* Starts a non-blocking connect from bind_port (0: any). Returns fd, or -1 with errno. */
static int start_connect(const struct sockaddr_in *peer, int bport)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die_errno("socket");
    if (bport > 0) {
        set_reuse(fd);
        bind_port(fd, bport);
    }
    set_nonblock(fd, 1);
    if (connect(fd, (const struct sockaddr *)peer, sizeof *peer) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static const char *err_name(int e)
{
    switch (e) {
    case ECONNREFUSED:
        return "refused";
    case ETIMEDOUT:
        return "timeout";
    case EHOSTUNREACH:
    case ENETUNREACH:
        return "unreachable";
    default:
        return "error";
    }
}

static int cmd_connect(int argc, char **argv)
{
    if (argc < 2)
        usage();
    struct sockaddr_in peer;
    parse_ip(argv[0], &peer);
    peer.sin_port = htons((uint16_t)parse_num(argv[1], 1, 65535));
    int bport = 0;
    long timeout_s = 5;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--bind") == 0 && i + 1 < argc)
            bport = (int)parse_num(argv[++i], 1, 65535);
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout_s = parse_num(argv[++i], 1, 3600);
        else
            usage();
    }
    int64_t deadline = now_ms() + timeout_s * 1000;
    int fd = start_connect(&peer, bport);
    int err = fd < 0 ? errno : 0;
    while (fd >= 0) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            err = ETIMEDOUT;
            break;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        socklen_t el = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        break;
    }
    if (err != 0) {
        printf("result=%s errno=%d (%s)\n", err_name(err), err, strerror(err));
        if (fd >= 0)
            close(fd);
        return err == ECONNREFUSED                           ? 2
               : err == ETIMEDOUT                            ? 3
               : (err == EHOSTUNREACH || err == ENETUNREACH) ? 4
                                                             : 1;
    }
    print_local_peer(fd, "result=connected");
    char line[256];
    int64_t left = deadline - now_ms();
    if (read_line(fd, line, sizeof line, left < 1000 ? 1000 : left) >= 0)
        printf("received: %s\n", line);
    close(fd);
    return 0;
}

static int cmd_punch(int argc, char **argv)
{
    int lport = 0;
    struct sockaddr_in peer;
    int have_peer = 0;
    long timeout_s = 10;
    const char *name = "simopen";
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            lport = (int)parse_num(argv[++i], 1, 65535);
        else if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc) {
            parse_ipport(argv[++i], &peer);
            have_peer = 1;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout_s = parse_num(argv[++i], 1, 3600);
        else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else
            usage();
    }
    if (lport == 0 || !have_peer)
        usage();
    char pb[32];
    fmt_addr(&peer, pb, sizeof pb);
    int64_t start = now_ms(), deadline = start + timeout_s * 1000;
    int lfd = tcp_listener(lport);
    set_nonblock(lfd, 1);
    int cfd = -1, conn = -1, attempts = 0, last_err = 0;
    const char *via = "";
    int64_t next_attempt = start;
    while (conn < 0) {
        int64_t now = now_ms();
        if (now >= deadline)
            break;
        if (cfd < 0 && now >= next_attempt) {
            attempts++;
            cfd = start_connect(&peer, lport);
            if (cfd < 0) {
                last_err = errno;
                printf("attempt %d: connect %s from port %d: %s\n", attempts, pb, lport,
                       strerror(last_err));
                next_attempt = now + 250;
            }
        }
        struct pollfd pfd[2] = {{.fd = lfd, .events = POLLIN}, {.fd = cfd, .events = POLLOUT}};
        int64_t wait = deadline - now;
        if (cfd < 0 && next_attempt - now < wait)
            wait = next_attempt - now;
        if (wait < 1)
            wait = 1;
        if (poll(pfd, cfd >= 0 ? 2 : 1, (int)wait) <= 0)
            continue;
        if (pfd[0].revents & POLLIN) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            int afd = accept(lfd, (struct sockaddr *)&from, &fl);
            if (afd >= 0) {
                char fb[32];
                if (from.sin_addr.s_addr == peer.sin_addr.s_addr) {
                    conn = afd;
                    via = "accept";
                } else {
                    printf("ignoring inbound from %s (not the peer)\n",
                           fmt_addr(&from, fb, sizeof fb));
                    close(afd);
                }
            }
        }
        if (conn < 0 && cfd >= 0 && (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(cfd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err == 0) {
                conn = cfd;
                cfd = -1;
                via = "connect";
            } else {
                last_err = err;
                printf("attempt %d: connect %s from port %d: %s\n", attempts, pb, lport,
                       strerror(err));
                close(cfd);
                cfd = -1;
                next_attempt = now_ms() + 250;
            }
        }
    }
    if (cfd >= 0)
        close(cfd);
    close(lfd);
    if (conn < 0) {
        printf("FAILED: no connection to %s within %ld s (attempts=%d, last error: %s)\n", pb,
               timeout_s, attempts, last_err ? strerror(last_err) : "none (SYNs unanswered)");
        return 1;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "established via=%s after %lld ms attempts=%d", via,
             (long long)(now_ms() - start), attempts);
    print_local_peer(conn, prefix);
    char hello[160], line[256];
    snprintf(hello, sizeof hello, "hello from %s\n", name);
    if (write_all(conn, hello, strlen(hello)) != 0) {
        printf("FAILED: write: %s\n", strerror(errno));
        close(conn);
        return 1;
    }
    int64_t left = deadline - now_ms();
    if (read_line(conn, line, sizeof line, left < 3000 ? 3000 : left) < 0) {
        printf("FAILED: no data from peer\n");
        close(conn);
        return 1;
    }
    printf("received: %s\n", line);
    /* let our line reach the peer before closing */
    shutdown(conn, SHUT_WR);
    (void)read_line(conn, line, sizeof line, 1000);
    close(conn);
    return 0;
}

struct probe {
    uint32_t seq;
    uint32_t pad;
    int64_t sent_us;
};

static int cmd_udp_echo(int argc, char **argv)
{
    if (argc < 1)
        usage();
    int port = (int)parse_num(argv[0], 1, 65535);
    long timeout_s = 30;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout_s = parse_num(argv[++i], 1, 86400);
        else
            usage();
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        die_errno("socket");
    set_reuse(fd);
    bind_port(fd, port);
    printf("udp-echo port=%d\n", port);
    fflush(stdout);
    int64_t deadline = now_ms() + timeout_s * 1000;
    long echoed = 0;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        char buf[2048];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            continue;
        if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl) == n)
            echoed++;
    }
    printf("udp-echo echoed=%ld\n", echoed);
    close(fd);
    return 0;
}

static int cmd_udp_probe(int argc, char **argv)
{
    if (argc < 2)
        usage();
    struct sockaddr_in peer;
    parse_ip(argv[0], &peer);
    peer.sin_port = htons((uint16_t)parse_num(argv[1], 1, 65535));
    long count = 200, interval_ms = 2, wait_ms = 1000;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = parse_num(argv[++i], 1, 100000);
        else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc)
            interval_ms = parse_num(argv[++i], 0, 10000);
        else if (strcmp(argv[i], "--wait-ms") == 0 && i + 1 < argc)
            wait_ms = parse_num(argv[++i], 0, 600000);
        else
            usage();
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        die_errno("socket");
    if (connect(fd, (struct sockaddr *)&peer, sizeof peer) != 0)
        die_errno("connect");
    set_nonblock(fd, 1);
    unsigned char *seen = calloc((size_t)count, 1);
    if (seen == NULL)
        die_errno("calloc");
    long sent = 0, received = 0;
    int64_t rtt_min = INT64_MAX, rtt_max = 0, rtt_sum = 0;
    int64_t next_send = now_ms(), end = INT64_MAX;
    for (;;) {
        int64_t now = now_ms();
        if (sent < count && now >= next_send) {
            struct probe p = {.seq = (uint32_t)sent, .pad = 0, .sent_us = now_us()};
            if (send(fd, &p, sizeof p, 0) < 0 && errno != ECONNREFUSED && errno != EAGAIN)
                die_errno("send");
            sent++;
            next_send = now + interval_ms;
            if (sent == count)
                end = now + wait_ms;
            continue;
        }
        if (now >= end || received == count)
            break;
        int64_t wait = sent < count ? next_send - now : end - now;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, wait < 0 ? 0 : (int)wait) <= 0)
            continue;
        struct probe p;
        ssize_t n = recv(fd, &p, sizeof p, 0);
        if (n != (ssize_t)sizeof p || p.seq >= (uint32_t)count || seen[p.seq])
            continue;
        seen[p.seq] = 1;
        received++;
        int64_t rtt = now_us() - p.sent_us;
        rtt_sum += rtt;
        if (rtt < rtt_min)
            rtt_min = rtt;
        if (rtt > rtt_max)
            rtt_max = rtt;
    }
    free(seen);
    close(fd);
    printf("sent=%ld received=%ld rtt_min_us=%lld rtt_avg_us=%lld rtt_max_us=%lld\n", sent,
           received, (long long)(received ? rtt_min : 0),
           (long long)(received ? rtt_sum / received : 0), (long long)rtt_max);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "listen") == 0)
        return cmd_listen(argc - 2, argv + 2);
    if (strcmp(cmd, "connect") == 0)
        return cmd_connect(argc - 2, argv + 2);
    if (strcmp(cmd, "punch") == 0)
        return cmd_punch(argc - 2, argv + 2);
    if (strcmp(cmd, "udp-echo") == 0)
        return cmd_udp_echo(argc - 2, argv + 2);
    if (strcmp(cmd, "udp-probe") == 0)
        return cmd_udp_probe(argc - 2, argv + 2);
    usage();
    return 1;
}
