#include "cli.h"

#include "lp2p/err.h"
#include "lp2p/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const CLI_COMMON_HELP =
    "Common options:\n"
    "  --key FILE            identity key (libp2p PrivateKey protobuf; created with mode 0600\n"
    "                        on first use). Default: ~/.config/kaspa-holepunch/identity.key\n"
    "  --log-format FMT      human (default) or json (one object per line: ts, level, event)\n"
    "  --log-level LEVEL     debug, info (default), warn, error\n"
    "  --log-redact          replace IP addresses in the log with stable placeholders\n"
    "  --log-repeat N        at most N refusal/failure lines a second with the same event and\n"
    "                        reason; the rest are counted in one log_suppressed line\n"
    "                        (default 10; 0 writes every line)\n"
    "  --wait-direct MS      (ping/perf/echo) reached through a relay: wait up to MS for the\n"
    "                        hole-punched direct connection and use it (needs --listen)\n"
    "  -h, --help            this help\n";

void cli_common_init(cli_common *c)
{
    memset(c, 0, sizeof(*c));
    c->log_format = "human";
    c->log_level = "info";
    c->log_repeat = LP2P_LOG_REPEAT_BURST;
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
    const cli_flag flags[] = {
        {"--key", CLI_STR, &c->key_path, NULL, 0, NULL, "a key file path"},
        {"--log-format", CLI_STR, &c->log_format, NULL, 0, check_log_format, "human or json"},
        {"--log-level", CLI_STR, &c->log_level, NULL, 0, check_log_level,
         "debug, info, warn or error"},
        {"--log-redact", CLI_BOOL, &c->log_redact, NULL, 0, NULL, NULL},
        {"--log-repeat", CLI_COUNT, &c->log_repeat, NULL, 0, NULL, "a number of lines"},
        {"--wait-direct", CLI_COUNT, &c->wait_direct_ms, NULL, 0, NULL, "milliseconds"},
        {"--listen", CLI_LIST, c->listen, &c->nlisten, CLI_MAX_ADDRS, NULL, "a multiaddr"},
        {"--relay", CLI_LIST, c->relay, &c->nrelay, CLI_MAX_ADDRS, NULL, "a relay multiaddr"},
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    int j = i;
    int rc = cli_flags_match(flags, "", argc, argv, &j);
    return rc <= 0 ? rc : j - i;
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

int cli_common_finish(cli_common *c, const char *cmd)
{
    lp2p_log_set_format(strcmp(c->log_format, "json") == 0 ? LP2P_LOG_JSON : LP2P_LOG_HUMAN);
    lp2p_log_set_level((lp2p_log_level)lp2p_log_level_parse(c->log_level));
    lp2p_log_set_redact(c->log_redact);
    lp2p_log_set_repeat_limit((unsigned)c->log_repeat, LP2P_LOG_REPEAT_INTERVAL_MS);
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

/* SIGHUP's default action ends the process; service managers and logrotate send it to ask
 * for a reload. Nothing is re-read yet (docs/decisions.md), so it is logged and ignored. */
static void on_sighup(uv_signal_t *h, int signum)
{
    lp2p_log(LP2P_INFO, "sighup", LF_S("action", "ignored"));
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

void cli_host_shutdown(uv_loop_t *loop, lp2p_host *h)
{
    if (h)
        lp2p_host_close(h);
    cli_signals_close();
    uv_run(loop, UV_RUN_DEFAULT);
}

int cli_parse_target(cli_common *c, int argc, char **argv, const char *cmd, const char *help,
                     const cli_num_opt *opts, size_t nopts, const char **target)
{
    *target = NULL;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(help, stdout);
            fputs(CLI_COMMON_HELP, stdout);
            return 1;
        }
        cli_flag opt[2] = {{0}};
        for (size_t k = 0; k < nopts && !opt[0].name; k++) {
            size_t len = strlen(opts[k].flag);
            if (strncmp(a, opts[k].flag, len) == 0 && (a[len] == 0 || a[len] == '='))
                opt[0] = (cli_flag){opts[k].flag, CLI_COUNT, opts[k].value, NULL, 0, NULL, NULL};
        }
        if (opt[0].name) {
            if (cli_flags_match(opt, cmd, argc, argv, &i) < 0)
                return -1;
            continue;
        }
        int n = cli_parse_common(c, argc, argv, i);
        if (n < 0)
            return -1;
        if (n == 0 && a[0] != '-' && !*target) {
            *target = a;
            i++;
            continue;
        }
        if (n == 0) {
            fprintf(stderr, "holepunch %s: unknown option '%s' (see --help)\n", cmd, a);
            return -1;
        }
        i += n;
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
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(help, stdout);
            fputs(CLI_COMMON_HELP, stdout);
            return 1;
        }
        int n = cli_flags_match(flags, cmd, argc, argv, &i);
        if (n < 0)
            return -1;
        if (n > 0)
            continue;
        n = cli_parse_common(c, argc, argv, i);
        if (n < 0)
            return -1;
        if (n == 0) {
            fprintf(stderr, "holepunch %s: unknown option '%s' (see --help)\n", cmd, argv[i]);
            return -1;
        }
        i += n;
    }
    return cli_common_finish(c, cmd) < 0 ? -1 : 0;
}
