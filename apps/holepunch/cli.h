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
    const char *listen[CLI_MAX_ADDRS]; /* --listen, or LIBP2P_LISTEN_MULTIADDRS */
    size_t nlisten;
    const char *relay[CLI_MAX_ADDRS]; /* --relay, or LIBP2P_RELAY_MULTIADDRS */
    size_t nrelay;
    uint64_t reserve_backoff_max_ms; /* --reserve-backoff-max; 0 = the host's default (20 s) */
    long long wait_direct_ms; /* dialing commands: wait this long for a hole-punched connection */
    char *env_copy[3];        /* owned copies of split environment variables */
} cli_common;

/* Result of cli_parse_common for one argv entry: 0 not a common flag, N>0 consumed N args,
 * -1 error already printed. */
int cli_parse_common(cli_common *c, int argc, char **argv, int i);
void cli_common_init(cli_common *c);
/* Applies logging flags; fills listen/relay from the environment when no flag gave them. */
int cli_common_finish(cli_common *c, const char *cmd);
void cli_common_free(cli_common *c);
/* Help text for the common flags, for each command's --help. */
extern const char *const CLI_COMMON_HELP;

/* A numeric flag of a command: "--count 3" or "--count=3", sizes accept K/M/G ("--bytes 16M"). */
typedef struct cli_num_opt {
    const char *flag;
    long long *value;
} cli_num_opt;

/* Parses `holepunch CMD TARGET [flags]`: the common flags, the command's numeric flags and
 * one positional TARGET, then cli_common_finish. Returns 0 to go on, 1 when --help was
 * printed (exit 0), -1 on a usage error already explained on stderr (exit 2). */
int cli_parse_target(cli_common *c, int argc, char **argv, const char *cmd, const char *help,
                     const cli_num_opt *opts, size_t nopts, const char **target);

/* Parses `holepunch CMD [flags]` for a command without positional arguments: -h/--help, the
 * command's flag table, then the common flags, then cli_common_finish. Returns 0 to go on, 1
 * when --help was printed (exit 0), -1 on a usage error already explained (exit 2). */
int cli_parse_flags(cli_common *c, int argc, char **argv, const char *cmd, const char *help,
                    const cli_flag *flags);

/* Loads the key (creating it on first use when create != 0). Prints a clear error. */
lp2p_keypair *cli_load_key(const cli_common *c, int create);

/* Splits "a,b;c" into out (pointers into a new copy stored in *owned). */
size_t cli_split_list(const char *s, const char **out, size_t max, char **owned);

/* SIGINT/SIGTERM run on_stop once (then a second signal exits at once); SIGHUP is logged. */
void cli_on_signal(uv_loop_t *loop, void (*on_stop)(void *ud), void *ud);
void cli_signals_close(void);

/* Listens on every --listen address (each failure is logged by the host); returns how many
 * succeeded. */
size_t cli_listen_all(lp2p_host *h, const cli_common *c);

/* Closes the host and drains the loop so every handle is released. */
void cli_host_shutdown(uv_loop_t *loop, lp2p_host *h);

#endif
