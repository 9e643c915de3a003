/* Raw TCP over loopback: the ceiling our libp2p numbers are compared against.
 *
 *   bench_rawtcp throughput [BYTES] [WCHUNK] [RCHUNK]
 *                                             one connection, a sender and a receiver in two
 *                                             processes; default 256 MiB in 64 KiB writes
 *                                             (the perf chunk) and 256 KiB reads (the host's
 *                                             read buffer, HOST_READ_BUF)
 *   bench_rawtcp connects [SECONDS]           connect + 1-byte reply + close, in a loop;
 *                                             default 1 s
 *
 * Blocking sockets and no event loop: this is the cheapest way to move the bytes, so
 * "ours / raw" says how much of the loopback the libp2p stack (multistream, Noise, Yamux,
 * libuv) leaves on the table. TCP_NODELAY is set as the host sets it.
 *
 * Throughput is timed by the sender from connect to the receiver's 1-byte acknowledgement
 * after EOF, so every byte has been read by the other process. 1 MB = 10^6 bytes.
 * Prints one JSON line: {"event":"rawtcp_throughput","bytes":..,"seconds":..,"MBps":..}
 * or {"event":"rawtcp_connects","connects":..,"seconds":..,"per_s":..}. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* A listener on 127.0.0.1 with a kernel-chosen port; *port gets it (network order). */
static int listen_loopback(in_port_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        die("listen");
    *port = sa.sin_port;
    return fd;
}

static int connect_loopback(in_port_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = port};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect");
    return fd;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL); /* a reset peer: EPIPE, not SIGPIPE */
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Receiver: reads everything until EOF in chunk-sized reads, then acknowledges with one
 * byte so the sender's clock stops only when the last byte has been consumed. */
static void receiver(int lfd, size_t chunk)
{
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        die("accept");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint8_t *buf = malloc(chunk);
    if (!buf)
        die("malloc");
    uint64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("read");
        if (r == 0)
            break;
        total += (uint64_t)r;
    }
    uint8_t ack = 1;
    if (write_all(fd, &ack, 1) < 0)
        die("ack");
    close(fd);
    free(buf);
    _exit(total > 0 ? 0 : 1);
}

static int run_throughput(uint64_t bytes, size_t chunk, size_t rchunk)
{
    in_port_t port;
    int lfd = listen_loopback(&port);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0)
        receiver(lfd, rchunk);
    close(lfd);
    uint8_t *buf = calloc(1, chunk);
    if (!buf)
        die("calloc");
    double t0 = now_s();
    int fd = connect_loopback(port);
    uint64_t left = bytes;
    while (left > 0) {
        size_t n = left < chunk ? (size_t)left : chunk;
        if (write_all(fd, buf, n) < 0)
            die("write");
        left -= n;
    }
    shutdown(fd, SHUT_WR);
    uint8_t ack;
    if (read(fd, &ack, 1) != 1)
        die("no ack");
    double secs = now_s() - t0;
    close(fd);
    free(buf);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 1;
    printf("{\"event\":\"rawtcp_throughput\",\"bytes\":%llu,\"chunk\":%zu,\"seconds\":%.4f,"
           "\"MBps\":%.1f}\n",
           (unsigned long long)bytes, chunk, secs, (double)bytes / secs / 1e6);
    return 0;
}

/* Connect server: accept, send one byte, close (the close-first side takes TIME_WAIT, as a
 * libp2p dialer that closes does). */
static void acceptor(int lfd)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die("accept");
        }
        uint8_t b = 1;
        (void)write_all(fd, &b, 1);
        /* Wait for the client's close so the server never holds TIME_WAIT itself. */
        uint8_t sink;
        while (read(fd, &sink, 1) > 0) {
        }
        close(fd);
    }
}

static int run_connects(double secs)
{
    in_port_t port;
    int lfd = listen_loopback(&port);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0)
        acceptor(lfd);
    close(lfd);
    long n = 0;
    double t0 = now_s(), t;
    /* The cap keeps TIME_WAIT sockets well inside the ephemeral port range. */
    do {
        int fd = connect_loopback(port);
        uint8_t b;
        if (read(fd, &b, 1) != 1)
            die("connect reply");
        close(fd);
        n++;
    } while ((t = now_s()) - t0 < secs && n < 20000);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    printf("{\"event\":\"rawtcp_connects\",\"connects\":%ld,\"seconds\":%.4f,\"per_s\":%.0f}\n", n,
           t - t0, (double)n / (t - t0));
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "throughput") == 0) {
        uint64_t bytes = argc > 2 ? strtoull(argv[2], NULL, 10) : (256ull << 20);
        size_t chunk = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 65536;
        size_t rchunk = argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 262144;
        if (bytes == 0 || chunk == 0 || rchunk == 0)
            goto usage;
        return run_throughput(bytes, chunk, rchunk);
    }
    if (argc >= 2 && strcmp(argv[1], "connects") == 0) {
        double secs = argc > 2 ? atof(argv[2]) : 1.0;
        if (secs <= 0)
            goto usage;
        return run_connects(secs);
    }
usage:
    fprintf(stderr,
            "usage: bench_rawtcp throughput [BYTES] [WCHUNK] [RCHUNK] | connects [SECONDS]\n");
    return 2;
}
