/* Shared command-line plumbing for the holepunch subcommands: common flags, environment
 * fallbacks, the identity key, the loop and clean shutdown on SIGINT/SIGTERM. */
#ifndef HOLEPUNCH_CLI_H
#define HOLEPUNCH_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lp2p/host.h"
#include "lp2p/identity.h"

#include "flags.h"

#define CLI_MAX_ADDRS 16

typedef struct cli_common {
    const char *key_path; /* --key, default lp2p_keyfile_default_path() */
    char key_default[512];
    const char *log_format; /* human|json */
    const char *log_level;
    int log_redact;
    long long log_repeat;              /* --log-repeat: lines per second per (event, reason) */
    const char *log_file;              /* --log-file: append here instead of stderr */
    const char *listen[CLI_MAX_ADDRS]; /* --listen, or LIBP2P_LISTEN_MULTIADDRS */
    size_t nlisten;
    const char *relay[CLI_MAX_ADDRS]; /* --relay, or LIBP2P_RELAY_MULTIADDRS */
    size_t nrelay;
    uint64_t reserve_backoff_max_ms; /* --reserve-backoff-max; 0 = the host's default (20 s) */
    uint64_t wait_direct_ms;  /* dialing commands: wait this long for a hole-punched connection */
    uint64_t max_memory;      /* --max-memory: the host's process budget (0 = its default) */
    uint64_t max_conn_memory; /* --max-conn-memory: its per-connection budget (0 = default) */
    char *env_copy[3];        /* owned copies of split environment variables */
    /* Set by the command before parsing (cli_common_init gives CLI_G_DAEMON, no extras): */
    unsigned groups;       /* the common flags the command takes, CLI_G_* */
    int key_fresh;         /* without --key the command runs on a fresh identity */
    const cli_flag *extra; /* a second table of the command's own (e.g. the Kaspa options) */
    const char *examples;  /* the end of --help, under "Examples:" */
} cli_common;

/* Groups of common flags: a command accepts, and its --help shows, only the groups it sets,
 * so no flag is listed where it does nothing. --listen and --relay are described in the
 * daemons' own help text; CLI_G_DIAL adds --listen and --wait-direct to the common block. */
enum {
    CLI_G_KEY = 1,    /* --key */
    CLI_G_LOG = 2,    /* --log-format, --log-level, --log-redact, --log-repeat */
    CLI_G_LISTEN = 4, /* --listen */
    CLI_G_RELAY = 8,  /* --relay */
    CLI_G_DIAL = 16,  /* ping/perf/echo: --listen and --wait-direct, shown in the common block */
    CLI_G_MEM = 32,   /* --max-memory, --max-conn-memory (the host's memory budget) */
};
#define CLI_G_DAEMON (CLI_G_KEY | CLI_G_LOG | CLI_G_LISTEN | CLI_G_RELAY | CLI_G_MEM)
/* The common flags' share of a daemon's host config (memory budget, reserve backoff). */
void cli_host_config(const cli_common *c, lp2p_host_config *hc);

/* Result of cli_parse_common for one argv entry: 0 not a common flag, N>0 consumed N args,
 * -1 error already printed. */
int cli_parse_common(cli_common *c, int argc, char **argv, int i);
void cli_common_init(cli_common *c);
/* Applies logging flags; fills listen/relay from the environment when no flag gave them. */
int cli_common_finish(cli_common *c, const char *cmd);
void cli_common_free(cli_common *c);
/* What SIGHUP changes, for --help and docs/operators.md. */
#define CLI_RELOAD_HELP                                                                            \
    "SIGHUP reopens --log-file (logrotate) and reloads log-level, log-format, log-redact and\n"    \
    "log-repeat from the config file (flags given on the command line still win; a bad file\n"     \
    "keeps the old settings and logs why); every other setting takes a restart.\n"

/* Prints a command's --help: its own text, the common flags it takes, then its examples. */
void cli_print_help(const cli_common *c, const char *help);

/* Parses `holepunch CMD TARGET [flags]`: the command's flag table, the common flags (with
 * CLI_G_DIAL) and one positional TARGET, then cli_common_finish. Returns 0 to go on, 1 when
 * --help was printed (exit 0), -1 on a usage error already explained on stderr (exit 2). */
int cli_parse_target(cli_common *c, int argc, char **argv, const char *cmd, const char *help,
                     const cli_flag *flags, const char **target);

/* Parses `holepunch CMD [flags]` for a command without positional arguments: -h/--help, the
 * command's flag table, then the common flags, then cli_common_finish. Returns 0 to go on, 1
 * when --help was printed (exit 0), -1 on a usage error already explained (exit 2). */
int cli_parse_flags(cli_common *c, int argc, char **argv, const char *cmd, const char *help,
                    const cli_flag *flags);

/* Loads the key (creating it on first use when create != 0). Prints a clear error. */
lp2p_keypair *cli_load_key(const cli_common *c, int create);
/* A dialing tool's identity: the --key given (created if missing), else a throwaway one.
 * Prints a clear error and returns NULL when neither can be had. */
lp2p_keypair *cli_tool_key(const cli_common *c);
/* cli_host_config over hc (the command's defaults and tweaks), then lp2p_host_new: 0, or 1
 * (the exit code) with "holepunch CMD: <why>" on stderr. */
int cli_host_new(const cli_common *c, lp2p_host_config *hc, const char *cmd, lp2p_host **out);

/* Splits "a,b;c" into out (pointers into a new copy stored in *owned). */
size_t cli_split_list(const char *s, const char **out, size_t max, char **owned);

/* SIGINT/SIGTERM run on_stop once (then a second signal exits at once). SIGHUP reopens
 * --log-file and reloads the logging settings from the config file (CLI_RELOAD_HELP). */
void cli_on_signal(uv_loop_t *loop, void (*on_stop)(void *ud), void *ud);
void cli_signals_close(void);

/* Listens on every --listen address (each failure is logged by the host); returns how many
 * succeeded. */
size_t cli_listen_all(lp2p_host *h, const cli_common *c);
/* For a daemon: cli_listen_all, then 0, or 1 (the exit code) with "could not listen on any
 * address" on stderr when none succeeded. */
int cli_listen_or_fail(lp2p_host *h, const cli_common *c, const char *cmd);

/* Reserves on every --relay; a malformed address is a start-up error (-1, explained). */
int cli_reserve_all(lp2p_host *h, const cli_common *c, const char *cmd);

/* A HOST:PORT flag value: 0, or -1 with "expected HOST:PORT, e.g. ..." on stderr. */
int cli_check_hostport(const char *cmd, const char *flag, const char *v, const char *example_host);
/* The same check, then a host name resolved now (resolve.h: hostport_resolve_now) into the
 * numeric IP:PORT in out: 0, or -1 with the reason on stderr ("expected HOST:PORT, e.g. ..."
 * or "no address for NAME: ..."). family AF_INET or AF_UNSPEC; port0_ok for listen flags. */
int cli_resolve_hostport(const char *cmd, const char *flag, const char *v, const char *example_host,
                         int family, int port0_ok, char *out, size_t outlen);

/* A command that gets hole-punched without --listen: warns at start (no_listen). */
void cli_warn_no_listen(const cli_common *c);

/* Closes the host and drains the loop so every handle is released. */
void cli_host_shutdown(uv_loop_t *loop, lp2p_host *h);

#endif
