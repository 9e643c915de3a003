/* holepunch: NAT traversal for Kaspa nodes over libp2p (relay v2 + DCUtR). */
#include "cmds.h"
#include "lp2p/clock.h"
#include "lp2p/log.h"
#include "config_file.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command k_commands[] = {
    {"keygen", cmd_keygen, "write a new identity key and print its peer ID"},
    {"id", cmd_id, "print the peer ID of a key file (ours, go-libp2p's or js-libp2p's)"},
    {"listen", cmd_listen, "serve identify, ping, perf and /echo/1.0.0 on --listen addresses"},
    {"ping", cmd_ping, "dial a peer, identify it, print its agent and ping RTTs"},
    {"perf", cmd_perf, "measure /perf/1.0.0 upload and download throughput to a peer"},
    {"echo", cmd_echo, "check /echo/1.0.0 on a peer: many concurrent streams and a big transfer"},
    {"relay", cmd_relay, "run a Circuit Relay v2 server (hop), with limits and Prometheus metrics"},
    {"server", cmd_server, "serve Kaspa P2P over libp2p (relay reservations, DCUtR) and plain TCP"},
    {"client", cmd_client, "connect to a Kaspa server over libp2p (direct after DCUtR) or TCP"},
    {"bridge", cmd_bridge, "beside a stock kaspad: splice its P2P traffic to hole-punched peers"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: holepunch COMMAND [options]\n\n"
                 "Two Kaspa nodes behind NAT connect directly: a libp2p Circuit Relay v2\n"
                 "coordinates, DCUtR punches through both NATs, Kaspa P2P runs on top.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof(k_commands) / sizeof(k_commands[0]); i++)
        fprintf(out, "  %-8s %s\n", k_commands[i].name, k_commands[i].summary);
    fprintf(out, "\nOptions:\n  --version  print the version and the commit it was built from\n\n"
                 "Run `holepunch COMMAND --help` for a command's options; every command also "
                 "reads\n--config FILE (or HOLEPUNCH_CONFIG), one 'name = value' per line.\n\n"
                 "Examples:\n"
                 "  holepunch keygen\n"
                 "  holepunch relay --listen /ip4/0.0.0.0/tcp/4001\n"
                 "  holepunch server --help\n");
}

int main(int argc, char **argv)
{
    /* Every command is a network daemon or client. libuv writes to sockets with write(2),
     * which raises SIGPIPE when the peer has reset the connection; its default action killed
     * `server --kaspa-listen` under a flood of openings closed at once (exit 141). Ignored,
     * the write fails with EPIPE and only that connection is closed. */
    signal(SIGPIPE, SIG_IGN);
    lp2p_log_set_clock(lp2p_wall_ms);
    atexit(lp2p_log_flush_suppressed); /* the last interval's counts are not lost */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("holepunch %s (git %s)\n", LP2P_VERSION, HOLEPUNCH_GIT_DESCRIBE);
        return 0;
    }
    for (size_t i = 0; i < sizeof(k_commands) / sizeof(k_commands[0]); i++)
        if (strcmp(argv[1], k_commands[i].name) == 0)
            return config_file_run(k_commands[i].run, argc - 1, argv + 1);
    fprintf(stderr, "holepunch: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
