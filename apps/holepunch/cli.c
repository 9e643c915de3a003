#include "cli.h"

#include "lp2p/err.h"
#include "lp2p/log.h"
#include "config_file.h"
#include "resolve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_print_help(const cli_common *c, const char *help)
{
    fputs(help, stdout);
    fputs("Common options:\n"
          "  --config FILE         read flags from FILE (or HOLEPUNCH_CONFIG): one 'name = value'\n"
          "                        per line, the long flag name without --, '#' comments, a list\n"
          "                        flag repeats its key, a switch is 'name = true'. Flags beat\n"
          "                        the environment, which beats the file.\n",
          stdout);
    if (c->groups & CLI_G_KEY)
        fputs(
            c->key_fresh
                ? "  --key FILE            identity key (created with mode 0600 if missing)\n"
                  "                        (default: a fresh identity each run)\n"
                : "  --key FILE            identity key (libp2p PrivateKey protobuf; created with\n"
                  "                        mode 0600 on first use)\n"
                  "                        (default ~/.config/kaspa-holepunch/identity.key)\n",
            stdout);
    if (c->groups & CLI_G_DIAL)
        fputs(
            "  --listen MA           listen too, e.g. /ip4/0.0.0.0/tcp/0 (repeatable): needed to\n"
            "                        be hole-punched, the punch dials from the listen port\n"
            "  --wait-direct DUR     reached through a relay: wait up to DUR for the hole-punched\n"
            "                        direct connection and use it (needs --listen; default 0,\n"
            "                        do not wait; a bare number is milliseconds)\n",
            stdout);
    if (c->groups & CLI_G_MEM)
        fputs("  --max-conn-memory SIZE  what one peer connection may make us hold: stream\n"
              "                        receive windows and queued replies (default 32M); past it\n"
              "                        windows are withheld and new streams refused\n"
              "  --max-memory SIZE     the same for all connections together (default 1/8 of\n"
              "                        RAM, 64M..1G); each connection keeps 1M of its own\n",
              stdout);
    if (c->groups & CLI_G_LOG)
        fputs(
            "  --log-format FMT      human or json (one object per line: ts, level, event)\n"
            "                        (default human)\n"
            "  --log-level LEVEL     debug, info, warn or error (default info)\n"
            "  --log-redact          replace IP addresses in the log with stable placeholders\n"
            "  --log-repeat N        at most N refusal/failure lines a second with the same event\n"
            "                        and reason, the rest counted in one log_suppressed line\n"
            "                        (default 10; 0 writes every line)\n"
            "  --log-file FILE       append the log to FILE instead of stderr (reopened on\n"
            "                        SIGHUP, for logrotate)\n",
            stdout);
    fputs("  -h, --help            this help\n\n" CLI_RELOAD_HELP, stdout);
    if (c->examples)
        fprintf(stdout, "\nExamples:\n%s", c->examples);
}

void cli_common_init(cli_common *c)
{
    memset(c, 0, sizeof(*c));
    c->log_format = "human";
    c->log_level = "info";
    c->log_repeat = LP2P_LOG_REPEAT_BURST;
    c->groups = CLI_G_DAEMON;
}

void cli_common_free(cli_common *c)
{
    for (size_t i = 0; i < 3; i++)
        free(c->env_copy[i]);
}

static int check_log_format(const char *v)
{
    return strcmp(v, "json") == 0 || strcmp(v, "human") == 0 ? 0 : -1;
}

static int check_log_level(const char *v)
{
    return lp2p_log_level_parse(v) < 0 ? -1 : 0;
}

int cli_parse_common(cli_common *c, int argc, char **argv, int i)
{
    const cli_flag key[] = {
        {"--key", CLI_STR, &c->key_path, NULL, 0, NULL, "a key file path"},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    const cli_flag logf[] = {
        {"--log-format", CLI_STR, &c->log_format, NULL, 0, check_log_format, "human or json"},
        {"--log-level", CLI_STR, &c->log_level, NULL, 0, check_log_level,
         "debug, info, warn or error"},
        {"--log-redact", CLI_BOOL, &c->log_redact, NULL, 0, NULL, NULL},
        {"--log-repeat", CLI_COUNT, &c->log_repeat, NULL, 0, NULL, "a number of lines"},
        {"--log-file", CLI_STR, &c->log_file, NULL, 0, NULL, "a file path"},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    const cli_flag listen[] = {
        {"--listen", CLI_LIST, c->listen, &c->nlisten, CLI_MAX_ADDRS, NULL, "a multiaddr"},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    const cli_flag relay[] = {
        {"--relay", CLI_LIST, c->relay, &c->nrelay, CLI_MAX_ADDRS, NULL, "a relay multiaddr"},
        {"--reserve-backoff-max", CLI_DUR_MS, &c->reserve_backoff_max_ms, NULL, 0, NULL, NULL},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    const cli_flag mem[] = {
        {"--max-memory", CLI_SIZE, &c->max_memory, NULL, 0, NULL, NULL},
        {"--max-conn-memory", CLI_SIZE, &c->max_conn_memory, NULL, 0, NULL, NULL},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    const cli_flag dial[] = {
        {"--wait-direct", CLI_DUR_MSEC, &c->wait_direct_ms, NULL, 0, NULL,
         "a duration such as 10s or 500ms"},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    const struct {
        unsigned group;
        const cli_flag *tab;
    } groups[] = {
        {CLI_G_KEY, key},     {CLI_G_LOG, logf},  {CLI_G_LISTEN | CLI_G_DIAL, listen},
        {CLI_G_RELAY, relay}, {CLI_G_DIAL, dial}, {CLI_G_MEM, mem},
    };
    for (size_t k = 0; k < sizeof(groups) / sizeof(groups[0]); k++) {
        if (!(c->groups & groups[k].group))
            continue;
        int j = i;
        int rc = cli_flags_match(groups[k].tab, "", argc, argv, &j);
        if (rc != 0)
            return rc < 0 ? rc : j - i;
    }
    return 0;
}

void cli_host_config(const cli_common *c, lp2p_host_config *hc)
{
    hc->reserve_backoff_max_ms = c->reserve_backoff_max_ms;
    hc->max_memory = c->max_memory;
    hc->max_conn_memory = c->max_conn_memory;
}

size_t cli_split_list(const char *s, const char **out, size_t max, char **owned)
{
    *owned = strdup(s ? s : "");
    size_t n = 0;
    if (!*owned)
        return 0;
    char *save = NULL;
    for (char *t = strtok_r(*owned, ",; \t\n", &save); t && n < max;
         t = strtok_r(NULL, ",; \t\n", &save))
        out[n++] = t;
    return n;
}

static void apply_log_settings(const cli_common *c)
{
    lp2p_log_set_format(strcmp(c->log_format, "json") == 0 ? LP2P_LOG_JSON : LP2P_LOG_HUMAN);
    lp2p_log_set_level((lp2p_log_level)lp2p_log_level_parse(c->log_level));
    lp2p_log_set_redact(c->log_redact);
    lp2p_log_set_repeat_limit((unsigned)c->log_repeat, LP2P_LOG_REPEAT_INTERVAL_MS);
}

static FILE *g_log_file;
static const cli_common *g_common; /* the running command's flags, for SIGHUP */

/* Opens (or, on SIGHUP, reopens) --log-file; the old stream is closed only once the new
 * one is in place. */
static int open_log_file(const char *path)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    lp2p_log_set_output(f);
    if (g_log_file)
        fclose(g_log_file);
    g_log_file = f;
    return 0;
}

int cli_common_finish(cli_common *c, const char *cmd)
{
    apply_log_settings(c);
    g_common = c;
    if (c->log_file && open_log_file(c->log_file) < 0) {
        fprintf(stderr, "holepunch %s: --log-file %s: %s\n", cmd, c->log_file, strerror(errno));
        return -1;
    }
    if (!c->key_path) {
        if (lp2p_keyfile_default_path(c->key_default, sizeof(c->key_default)) != 0) {
            fprintf(stderr,
                    "holepunch %s: no --key given and no home directory for the "
                    "default key; pass --key FILE\n",
                    cmd);
            return -1;
        }
        c->key_path = c->key_default;
    }
    /* The proof of concept's variables keep working (flags win). */
    const char *e;
    if (c->nlisten == 0 && (e = getenv("LIBP2P_LISTEN_MULTIADDRS")) && *e)
        c->nlisten = cli_split_list(e, c->listen, CLI_MAX_ADDRS, &c->env_copy[0]);
    if (c->nrelay == 0 && (e = getenv("LIBP2P_RELAY_MULTIADDRS")) && *e)
        c->nrelay = cli_split_list(e, c->relay, CLI_MAX_ADDRS, &c->env_copy[1]);
    /* A reservation needs the relay's ID: without it the daemon would run with no relay. */
    for (size_t i = 0; (c->groups & CLI_G_RELAY) && i < c->nrelay; i++)
        if (c->relay[i][0] != '/' || !strstr(c->relay[i], "/p2p/")) {
            fprintf(stderr,
                    "holepunch %s: relay address '%s' has no /p2p/<relay-id>: write "
                    "/ip4/HOST/tcp/PORT/p2p/<relay-id> (`holepunch id --key RELAY.key` on the "
                    "relay prints the ID)\n",
                    cmd, c->relay[i]);
            return -1;
        }
    return 0;
}

lp2p_keypair *cli_load_key(const cli_common *c, int create)
{
    char err[256] = "";
    lp2p_keypair *kp = NULL;
    int created = 0;
    int rc = create ? lp2p_keyfile_load_or_create(c->key_path, &kp, &created, err, sizeof(err))
                    : lp2p_keyfile_load(c->key_path, &kp, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "holepunch: identity key %s: %s\n", c->key_path,
                err[0] ? err : lp2p_strerror(rc));
        return NULL;
    }
    char id[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_keypair_peer_id(kp), id, sizeof(id));
    lp2p_log(LP2P_INFO, created ? "identity_created" : "identity_loaded", LF_S("peer", id),
             LF_S("key", c->key_path));
    return kp;
}

static uv_signal_t g_sigint, g_sigterm, g_sighup;
/* Ends the log's repeat intervals on time, so a flood's summary line comes when the flood
 * stops rather than with the next line logged. Unreferenced: it keeps no loop alive. */
static uv_timer_t g_log_tick;
static void (*g_on_stop)(void *);
static void *g_stop_ud;
static int g_stopping;

static void on_signal(uv_signal_t *h, int signum)
{
    if (g_stopping) {
        fprintf(stderr, "holepunch: second signal, exiting now\n");
        _exit(130);
    }
    g_stopping = 1;
    lp2p_log(LP2P_INFO, "shutdown", LF_S("signal", signum == SIGINT ? "SIGINT" : "SIGTERM"));
    if (g_on_stop)
        g_on_stop(g_stop_ud);
}

/* Stages one reloaded entry into a copy of the settings: 0, or -1 for a bad value. The
 * copy points into the word, so the words live in a small ring (four keys are reloaded). */
static int reload_entry(const char *key, const char *value, void *ud)
{
    cli_common *staged = ud;
    static char keep[8][512];
    static size_t next;
    char *w = keep[next++ % 8];
    snprintf(w, sizeof keep[0], "--%s=%s", key, value);
    char *argv[] = {w, NULL};
    unsigned groups = staged->groups;
    staged->groups = CLI_G_LOG;
    int n = cli_parse_common(staged, 1, argv, 0);
    staged->groups = groups;
    return n > 0 ? 0 : -1;
}

/* SIGHUP (service managers' reload, logrotate): reopen --log-file, reload the logging
 * settings from the config file, all or nothing. Anything else takes a restart. */
static void on_sighup(uv_signal_t *h, int signum)
{
    static const char *const keys[] = {"log-level", "log-format", "log-redact", "log-repeat", NULL};
    const char *log_file = "none";
    if (g_common && g_common->log_file)
        log_file = open_log_file(g_common->log_file) == 0 ? "reopened" : "reopen failed, kept";
    char why[512] = "";
    const char *config = "none";
    if (g_common && config_file_path()) {
        cli_common staged = *g_common;
        if (config_file_reload(keys, reload_entry, &staged, why, sizeof why) == 0) {
            apply_log_settings(&staged);
            config = "reloaded";
        } else {
            config = "kept";
        }
    }
    lp2p_log(LP2P_INFO, "sighup", LF_S("log_file", log_file), LF_S("config", config),
             LF_S("reason", why));
}

static void on_log_tick(uv_timer_t *t)
{
    lp2p_log_tick();
}

void cli_on_signal(uv_loop_t *loop, void (*on_stop)(void *ud), void *ud)
{
    g_on_stop = on_stop;
    g_stop_ud = ud;
    uv_signal_init(loop, &g_sigint);
    uv_signal_init(loop, &g_sigterm);
    uv_signal_start(&g_sigint, on_signal, SIGINT);
    uv_signal_start(&g_sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &g_sighup);
    uv_signal_start(&g_sighup, on_sighup, SIGHUP);
    uv_timer_init(loop, &g_log_tick);
    uv_timer_start(&g_log_tick, on_log_tick, LP2P_LOG_REPEAT_INTERVAL_MS,
                   LP2P_LOG_REPEAT_INTERVAL_MS);
    uv_unref((uv_handle_t *)&g_log_tick);
}

void cli_signals_close(void)
{
    if (!uv_is_closing((uv_handle_t *)&g_sigint) && g_sigint.loop)
        uv_close((uv_handle_t *)&g_sigint, NULL);
    if (!uv_is_closing((uv_handle_t *)&g_sigterm) && g_sigterm.loop)
        uv_close((uv_handle_t *)&g_sigterm, NULL);
    if (!uv_is_closing((uv_handle_t *)&g_sighup) && g_sighup.loop)
        uv_close((uv_handle_t *)&g_sighup, NULL);
    if (!uv_is_closing((uv_handle_t *)&g_log_tick) && g_log_tick.loop)
        uv_close((uv_handle_t *)&g_log_tick, NULL);
}

size_t cli_listen_all(lp2p_host *h, const cli_common *c)
{
    size_t ok = 0;
    for (size_t i = 0; i < c->nlisten; i++)
        if (lp2p_host_listen(h, c->listen[i]) == 0)
            ok++;
    return ok;
}

int cli_listen_or_fail(lp2p_host *h, const cli_common *c, const char *cmd)
{
    if (cli_listen_all(h, c) > 0)
        return 0;
    fprintf(stderr, "holepunch %s: could not listen on any address\n", cmd);
    return 1;
}

int cli_host_new(const cli_common *c, lp2p_host_config *hc, const char *cmd, lp2p_host **out)
{
    cli_host_config(c, hc);
    int rc = lp2p_host_new(hc, out);
    if (rc < 0) {
        *out = NULL;
        fprintf(stderr, "holepunch %s: cannot start the host: %s\n", cmd, lp2p_strerror(rc));
        return 1;
    }
    return 0;
}

lp2p_keypair *cli_tool_key(const cli_common *c)
{
    if (c->key_path != c->key_default)
        return cli_load_key(c, 1);
    lp2p_keypair *kp = NULL;
    if (lp2p_keypair_generate(&kp) < 0) {
        fprintf(stderr, "holepunch: cannot generate a key\n");
        return NULL;
    }
    return kp;
}

int cli_reserve_all(lp2p_host *h, const cli_common *c, const char *cmd)
{
    for (size_t i = 0; i < c->nrelay; i++)
        if (lp2p_host_reserve(h, c->relay[i]) < 0) {
            fprintf(stderr,
                    "holepunch %s: bad --relay '%s': write /ip4/HOST/tcp/PORT/p2p/<relay-id> "
                    "(or /ip6/...)\n",
                    cmd, c->relay[i]);
            return -1;
        }
    return 0;
}

int cli_check_hostport(const char *cmd, const char *flag, const char *v, const char *example_host)
{
    const char *colon = strrchr(v, ':');
    const char *port = colon ? colon + 1 : v;
    char *end;
    errno = 0;
    long p = strtol(port, &end, 10);
    int port_ok = *port && !*end && !errno && p >= 0 && p <= 65535;
    if (colon && colon != v && port_ok)
        return 0;
    fprintf(stderr, "holepunch %s: %s %s: expected HOST:PORT, e.g. %s:%s\n", cmd, flag, v,
            example_host, port_ok ? port : "16111");
    return -1;
}

int cli_resolve_hostport(const char *cmd, const char *flag, const char *v, const char *example_host,
                         int family, int port0_ok, char *out, size_t outlen)
{
    if (cli_check_hostport(cmd, flag, v, example_host) < 0)
        return -1;
    char err[320];
    int rc = hostport_resolve_now(v, family, port0_ok, out, outlen, err, sizeof(err));
    if (rc == 0)
        return 0;
    if (rc == LP2P_ERR_NOT_FOUND)
        fprintf(stderr, "holepunch %s: %s %s: %s\n", cmd, flag, v, err);
    else
        fprintf(stderr,
                "holepunch %s: %s %s: expected HOST:PORT with a port 1..65535, e.g. %s:16111\n",
                cmd, flag, v, example_host);
    return -1;
}

void cli_warn_no_listen(const cli_common *c)
{
    if (c->nlisten == 0)
        lp2p_log(LP2P_WARN, "no_listen",
                 LF_S("hint", "no --listen: the NAT mapping the relay observes is not your "
                              "listen port, hole punching will likely fail; add --listen "
                              "/ip4/0.0.0.0/tcp/PORT"));
}

void cli_host_shutdown(uv_loop_t *loop, lp2p_host *h)
{
    if (h)
        lp2p_host_close(h);
    cli_signals_close();
    uv_run(loop, UV_RUN_DEFAULT);
}

/* One argv entry: the command's table, its extra table, the common flags. 1 matched (*i
 * advanced), 0 none of them, -1 a bad value (explained). */
static int match_any(cli_common *c, const cli_flag *flags, int argc, char **argv, int *i,
                     const char *cmd)
{
    int n = cli_flags_match(flags, cmd, argc, argv, i);
    if (n == 0 && c->extra)
        n = cli_flags_match(c->extra, cmd, argc, argv, i);
    if (n != 0)
        return n;
    n = cli_parse_common(c, argc, argv, *i);
    if (n > 0)
        *i += n;
    return n < 0 ? -1 : n > 0;
}

static int is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

int cli_parse_target(cli_common *c, int argc, char **argv, const char *cmd, const char *help,
                     const cli_flag *flags, const char **target)
{
    *target = NULL;
    c->groups = CLI_G_KEY | CLI_G_LOG | CLI_G_DIAL;
    c->key_fresh = 1;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        if (is_help(a)) {
            cli_print_help(c, help);
            return 1;
        }
        int n = match_any(c, flags, argc, argv, &i, cmd);
        if (n < 0)
            return -1;
        if (n > 0)
            continue;
        if (a[0] != '-' && !*target) {
            *target = a;
            i++;
            continue;
        }
        fprintf(stderr, "holepunch %s: unknown option '%s' (see --help)\n", cmd, a);
        return -1;
    }
    if (!*target) {
        fprintf(stderr, "holepunch %s: which peer? give a MULTIADDR (see --help)\n", cmd);
        return -1;
    }
    return cli_common_finish(c, cmd) < 0 ? -1 : 0;
}

int cli_parse_flags(cli_common *c, int argc, char **argv, const char *cmd, const char *help,
                    const cli_flag *flags)
{
    for (int i = 1; i < argc;) {
        if (is_help(argv[i])) {
            cli_print_help(c, help);
            return 1;
        }
        int n = match_any(c, flags, argc, argv, &i, cmd);
        if (n < 0)
            return -1;
        if (n == 0) {
            fprintf(stderr, "holepunch %s: unknown option '%s' (see --help)\n", cmd, argv[i]);
            return -1;
        }
    }
    return cli_common_finish(c, cmd) < 0 ? -1 : 0;
}
