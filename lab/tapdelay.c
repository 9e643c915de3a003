/* tapdelay — joins two TAP devices (possibly in different network namespaces) and forwards
 * every Ethernet frame from one to the other after a fixed delay, in both directions.
 *
 * The NAT lab uses it on a router's public link because this kernel has no netem qdisc:
 *
 *   router ns: "pub" (TAP, 198.51.100.x) <-> tapdelay <-> "r<side>" (TAP) in br0 of the pub ns
 *
 *   tapdelay --a NETNS_PATH:IFNAME --b NETNS_PATH:IFNAME --delay-ms MS [--queue FRAMES]
 *
 * NETNS_PATH is e.g. /run/netns/hp1-ra (empty: the current namespace). The TAP devices must
 * exist (`ip -n NS tuntap add dev IF mode tap`); tapdelay attaches to them. Each direction
 * is a FIFO of at most --queue frames (default 2048); a frame that finds it full is dropped
 * and counted, so memory is bounded. Prints "ready" once both devices are attached and a
 * stats line on SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX 2048 /* MTU 1500 + Ethernet header; larger frames are truncated by read */

struct slot {
    int64_t due_us;
    uint16_t len;
    unsigned char data[FRAME_MAX];
};

/* one direction: frames read from in_fd, written to out_fd when due */
struct dir {
    int in_fd, out_fd;
    struct slot *ring;
    size_t cap, head, count;
    unsigned long forwarded, dropped_full, write_errors;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void usage(void)
{
    fprintf(stderr, "usage: tapdelay --a NETNS_PATH:IFNAME --b NETNS_PATH:IFNAME --delay-ms MS "
                    "[--queue FRAMES]\n");
    exit(2);
}

/* Attaches to TAP "ns_path:ifname", entering that namespace first. */
static int open_tap(const char *spec)
{
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || strlen(colon + 1) == 0 || strlen(colon + 1) >= IFNAMSIZ) {
        fprintf(stderr, "tapdelay: expected NETNS_PATH:IFNAME, got '%s'\n", spec);
        exit(2);
    }
    if (colon != spec) {
        char path[512];
        size_t n = (size_t)(colon - spec);
        if (n >= sizeof path) {
            fprintf(stderr, "tapdelay: namespace path too long\n");
            exit(2);
        }
        memcpy(path, spec, n);
        path[n] = '\0';
        int nsfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
            fprintf(stderr, "tapdelay: enter netns %s: %s\n", path, strerror(errno));
            exit(1);
        }
        close(nsfd);
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "tapdelay: open /dev/net/tun: %s\n", strerror(errno));
        exit(1);
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", colon + 1);
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        fprintf(stderr, "tapdelay: attach %s: %s\n", spec, strerror(errno));
        exit(1);
    }
    return fd;
}

/* Reads every frame waiting on d->in_fd into the ring (or drops it when the ring is full). */
static void pull(struct dir *d, int64_t delay_us)
{
    for (;;) {
        unsigned char scratch[FRAME_MAX];
        struct slot *s = NULL;
        unsigned char *buf = scratch;
        if (d->count < d->cap) {
            s = &d->ring[(d->head + d->count) % d->cap];
            buf = s->data;
        }
        ssize_t n = read(d->in_fd, buf, FRAME_MAX);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN, or the device went away: poll reports it */
        }
        if (n == 0)
            return;
        if (s == NULL) {
            d->dropped_full++;
            continue;
        }
        s->len = (uint16_t)n;
        s->due_us = now_us() + delay_us;
        d->count++;
    }
}

/* Writes every due frame; returns the due time of the next one (INT64_MAX: none). */
static int64_t push(struct dir *d)
{
    int64_t now = now_us();
    while (d->count > 0) {
        struct slot *s = &d->ring[d->head];
        if (s->due_us > now)
            return s->due_us;
        if (write(d->out_fd, s->data, s->len) == (ssize_t)s->len)
            d->forwarded++;
        else
            d->write_errors++;
        d->head = (d->head + 1) % d->cap;
        d->count--;
    }
    return INT64_MAX;
}

int main(int argc, char **argv)
{
    const char *spec_a = NULL, *spec_b = NULL;
    long delay_ms = -1, queue = 2048;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--a") == 0 && i + 1 < argc)
            spec_a = argv[++i];
        else if (strcmp(argv[i], "--b") == 0 && i + 1 < argc)
            spec_b = argv[++i];
        else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
            delay_ms = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--queue") == 0 && i + 1 < argc)
            queue = strtol(argv[++i], NULL, 10);
        else
            usage();
    }
    if (spec_a == NULL || spec_b == NULL || delay_ms < 0 || delay_ms > 60000 || queue < 1 ||
        queue > 1000000)
        usage();

    int fa = open_tap(spec_a);
    int fb = open_tap(spec_b);
    struct dir dirs[2] = {{.in_fd = fa, .out_fd = fb}, {.in_fd = fb, .out_fd = fa}};
    for (int i = 0; i < 2; i++) {
        dirs[i].cap = (size_t)queue;
        dirs[i].ring = calloc(dirs[i].cap, sizeof(struct slot));
        if (dirs[i].ring == NULL) {
            fprintf(stderr, "tapdelay: out of memory\n");
            return 1;
        }
    }

    /* SIGTERM/SIGINT are only delivered inside ppoll, so the stop flag cannot be missed */
    sigset_t block, orig;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &orig);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    printf("ready a=%s b=%s delay_ms=%ld\n", spec_a, spec_b, delay_ms);
    fflush(stdout);

    const int64_t delay_us = (int64_t)delay_ms * 1000;
    int rc = 0;
    while (!stop_flag) {
        int64_t next = push(&dirs[0]);
        int64_t next_b = push(&dirs[1]);
        if (next_b < next)
            next = next_b;
        struct pollfd pfd[2] = {{.fd = fa, .events = POLLIN}, {.fd = fb, .events = POLLIN}};
        struct timespec ts, *tsp = NULL;
        if (next != INT64_MAX) {
            int64_t wait = next - now_us();
            if (wait < 0)
                wait = 0;
            ts.tv_sec = (time_t)(wait / 1000000);
            ts.tv_nsec = (long)(wait % 1000000) * 1000;
            tsp = &ts;
        }
        int r = ppoll(pfd, 2, tsp, &orig);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("tapdelay: ppoll");
            rc = 1;
            break;
        }
        if ((pfd[0].revents | pfd[1].revents) & (POLLERR | POLLHUP | POLLNVAL)) {
            fprintf(stderr, "tapdelay: a TAP device went away\n");
            rc = 1;
            break;
        }
        if (pfd[0].revents & POLLIN)
            pull(&dirs[0], delay_us);
        if (pfd[1].revents & POLLIN)
            pull(&dirs[1], delay_us);
    }
    printf("stats a->b forwarded=%lu dropped_full=%lu write_errors=%lu; "
           "b->a forwarded=%lu dropped_full=%lu write_errors=%lu\n",
           dirs[0].forwarded, dirs[0].dropped_full, dirs[0].write_errors, dirs[1].forwarded,
           dirs[1].dropped_full, dirs[1].write_errors);
    free(dirs[0].ring);
    free(dirs[1].ring);
    close(fa);
    close(fb);
    return rc;
}
