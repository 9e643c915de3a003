#include "config_file.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

/* A file with more entries than this is not a config file someone wrote by hand. */
#define CONFIG_MAX_ENTRIES 256

typedef struct config_entry {
    char *key;
    char *value;
    int line;
} config_entry;

typedef struct config_file {
    const char *path;
    FILE *f;
    int line; /* of the last line read */
    config_entry e[CONFIG_MAX_ENTRIES];
    size_t n;
    int err_line; /* first error of ours (0: none) */
    char err[256];
} config_file;

/* The environment variables that stand for a flag (cli.c, cmd_client.c): set, they beat the
 * file's entries for that key. */
static const struct {
    const char *key;
    const char *env[2];
} k_env_keys[] = {
    {"listen", {"LIBP2P_LISTEN_MULTIADDRS", NULL}},
    {"relay", {"LIBP2P_RELAY_MULTIADDRS", NULL}},
    {"peer", {"LIBP2P_REMOTE_PEER_ID", NULL}},
    {"remote", {"LIBP2P_REMOTE_MULTIADDRS", "LIBP2P_REMOTE_MULTIADDR"}},
};

__attribute__((format(printf, 3, 4))) static void set_error(config_file *cf, int line,
                                                            const char *fmt, ...)
{
    if (cf->err_line)
        return;
    cf->err_line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cf->err, sizeof(cf->err), fmt, ap);
    va_end(ap);
}

/* libinih reads lines of at most INI_MAX_LINE - 1 characters and silently parses the rest
 * of a longer one as a line of its own; this reader counts lines for the messages and stops
 * at a long one instead. */
static char *read_line(char *str, int num, void *stream)
{
    config_file *cf = stream;
    char *s = fgets(str, num, cf->f);
    if (!s)
        return NULL;
    cf->line++;
    size_t len = strlen(s);
    if (len > 0 && s[len - 1] != '\n' && !feof(cf->f)) {
        set_error(cf, cf->line,
                  "line longer than %d characters: split a list over "
                  "several lines with the same key",
                  INI_MAX_LINE - 1);
        return NULL;
    }
    return s;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    config_file *cf = user;
    if (section[0]) {
        set_error(cf, cf->line,
                  "no [%s] sections: write every key at the top level (one file per daemon)",
                  section);
        return 0;
    }
    if (name[0] == '-') {
        set_error(cf, cf->line, "write the flag's name without the leading dashes: '%s = ...'",
                  name + strspn(name, "-"));
        return 0;
    }
    if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(name)) {
        set_error(cf, cf->line,
                  "'%s' is not a flag name: keys are long flag names such as "
                  "'listen' or 'log-level'",
                  name);
        return 0;
    }
    if (strcmp(name, "config") == 0) {
        set_error(cf, cf->line, "%s: a config file cannot name another one", name);
        return 0;
    }
    if (strcmp(name, "help") == 0 || strcmp(name, "version") == 0) {
        set_error(cf, cf->line, "'%s' is a command-line request, not a setting: remove it", name);
        return 0;
    }
    if (!value[0]) {
        set_error(cf, cf->line, "'%s =' has no value: write one (a switch is 'NAME = true')", name);
        return 0;
    }
    if (cf->n == CONFIG_MAX_ENTRIES) {
        set_error(cf, cf->line, "more than %d entries", CONFIG_MAX_ENTRIES);
        return 0;
    }
    config_entry *e = &cf->e[cf->n];
    e->key = strdup(name);
    e->value = strdup(value);
    e->line = cf->line;
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        set_error(cf, cf->line, "%s", "out of memory");
        return 0;
    }
    cf->n++;
    return 1;
}

static void config_free(config_file *cf)
{
    for (size_t i = 0; i < cf->n; i++) {
        free(cf->e[i].key);
        free(cf->e[i].value);
    }
    cf->n = 0;
}

/* Parses cf->path; on error prints "holepunch CMD: FILE:LINE: ..." and returns -1. */
static int config_load(config_file *cf, const char *cmd)
{
    cf->f = fopen(cf->path, "r");
    if (!cf->f) {
        fprintf(stderr, "holepunch %s: config file %s: %s\n", cmd, cf->path, strerror(errno));
        return -1;
    }
    int rc = ini_parse_stream(read_line, cf, on_entry, cf);
    fclose(cf->f);
    cf->f = NULL;
    if (rc > 0 && (!cf->err_line || rc < cf->err_line)) {
        cf->err_line = rc;
        snprintf(cf->err, sizeof(cf->err), "not 'name = value' (a comment starts with #)");
    }
    if (rc < 0 && !cf->err_line) {
        fprintf(stderr, "holepunch %s: config file %s: out of memory\n", cmd, cf->path);
        return -1;
    }
    if (cf->err_line) {
        fprintf(stderr, "holepunch %s: %s:%d: %s\n", cmd, cf->path, cf->err_line, cf->err);
        return -1;
    }
    return 0;
}

/* Whether the command line or the environment already gives this key. */
static int given_elsewhere(const char *key, int argc, char **argv)
{
    size_t len = strlen(key);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, key, len) == 0 &&
            (argv[i][2 + len] == 0 || argv[i][2 + len] == '='))
            return 1;
    for (size_t i = 0; i < sizeof(k_env_keys) / sizeof(k_env_keys[0]); i++)
        if (strcmp(k_env_keys[i].key, key) == 0)
            for (size_t j = 0; j < 2 && k_env_keys[i].env[j]; j++) {
                const char *v = getenv(k_env_keys[i].env[j]);
                if (v && *v)
                    return 1;
            }
    return 0;
}

/* How an entry is spelled on the command line. "--name=value" is the form every flag of
 * flags.h takes; the flags still parsed by hand take "--name value", and their switches a
 * bare "--name" (written "name = true"). */
typedef enum entry_form { FORM_EQ, FORM_TWO_WORDS, FORM_SWITCH } entry_form;

typedef struct word_list {
    char **w;
    int n;
} word_list;

/* Appends the word dashes + a + sep + b. */
static int push_word(word_list *wl, const char *dashes, const char *a, const char *sep,
                     const char *b)
{
    size_t len = strlen(dashes) + strlen(a) + strlen(sep) + strlen(b);
    char *s = malloc(len + 1);
    if (!s)
        return -1;
    snprintf(s, len + 1, "%s%s%s%s", dashes, a, sep, b);
    wl->w[wl->n++] = s;
    return 0;
}

static int push_entry(word_list *wl, const config_entry *e, entry_form form)
{
    switch (form) {
    case FORM_EQ:
        return push_word(wl, "--", e->key, "=", e->value);
    case FORM_TWO_WORDS:
        return push_word(wl, "--", e->key, "", "") || push_word(wl, "", e->value, "", "");
    case FORM_SWITCH:
        return push_word(wl, "--", e->key, "", "");
    }
    return -1;
}

static void words_free(word_list *wl)
{
    for (int i = 0; i < wl->n; i++)
        free(wl->w[i]);
    wl->n = 0;
}

/* Runs the command's own parser on `cmd WORDS... --help` in a child process: the parser
 * walks the words in order and stops at --help, so exit 0 means it accepted every word. The
 * child's first stderr line (why it refused) goes to why. Validating with the command's own
 * parser keeps this file free of any command's flag list. */
static int command_accepts(int (*run)(int, char **), char *cmd, const word_list *wl, char *why,
                           size_t whylen)
{
    int p[2];
    why[0] = 0;
    if (pipe(p) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        /* If a parser ever took "--help" as a value and ran, this bounds it. */
        alarm(5);
        char *argv[CONFIG_MAX_ENTRIES * 2 + 3];
        int argc = 0;
        argv[argc++] = cmd;
        for (int i = 0; i < wl->n; i++)
            argv[argc++] = wl->w[i];
        argv[argc++] = "--help";
        argv[argc] = NULL;
        _exit(run(argc, argv) == 0 ? 0 : 1);
    }
    close(p[1]);
    size_t got = 0;
    char buf[512];
    ssize_t r;
    while ((r = read(p[0], buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
        for (ssize_t k = 0; k < r && got + 1 < whylen; k++)
            why[got++] = buf[k];
    why[got] = 0;
    close(p[0]);
    why[strcspn(why, "\n")] = 0;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Picks the form of each entry the command accepts; explains the first it refuses. */
static int choose_forms(int (*run)(int, char **), char *cmd, const config_file *cf, const int *keep,
                        entry_form *form)
{
    char why[512], first_why[512];
    char *one[2];
    word_list wl = {one, 0};
    for (size_t i = 0; i < cf->n; i++) {
        if (!keep[i])
            continue;
        const config_entry *e = &cf->e[i];
        int ok = 0;
        for (entry_form f = FORM_EQ; f <= FORM_SWITCH && !ok; f++) {
            if (f == FORM_SWITCH && strcmp(e->value, "true") != 0)
                break;
            if (push_entry(&wl, e, f) != 0) {
                words_free(&wl);
                return -1;
            }
            ok = command_accepts(run, cmd, &wl, why, sizeof(why)) == 0;
            if (f == FORM_EQ)
                memcpy(first_why, why, sizeof(why));
            words_free(&wl);
            form[i] = f;
        }
        if (ok)
            continue;
        /* The parsers say "holepunch CMD: ..."; the message is ours now. */
        const char *reason = first_why;
        if (strncmp(reason, "holepunch", 9) == 0 && strstr(reason, ": "))
            reason = strstr(reason, ": ") + 2;
        if (strstr(reason, "unknown option"))
            fprintf(stderr,
                    "holepunch %s: %s:%d: unknown key '%s': the keys are the long flags of "
                    "`holepunch %s --help`, without the leading --\n",
                    cmd, cf->path, e->line, e->key, cmd);
        else
            fprintf(stderr,
                    "holepunch %s: %s:%d: '%s = %s': %s; write the value as `holepunch %s "
                    "--help` describes for --%s\n",
                    cmd, cf->path, e->line, e->key, e->value, reason[0] ? reason : "refused", cmd,
                    e->key);
        return -1;
    }
    return 0;
}

/* Finds --config FILE / --config=FILE, removes it from argv (the commands do not know it)
 * and returns FILE, HOLEPUNCH_CONFIG when absent, NULL without either; "" on a bad one. */
static const char *take_config_flag(int *argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < *argc;) {
        int words = 0;
        if (strcmp(argv[i], "--config") == 0) {
            path = i + 1 < *argc ? argv[i + 1] : "";
            words = i + 1 < *argc ? 2 : 1;
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
            words = 1;
        }
        if (!words) {
            i++;
            continue;
        }
        memmove(&argv[i], &argv[i + words], sizeof(char *) * (size_t)(*argc - i - words + 1));
        *argc -= words;
    }
    if (!path) {
        const char *e = getenv("HOLEPUNCH_CONFIG");
        path = e && *e ? e : NULL;
    }
    return path;
}

/* What SIGHUP needs to read the file again: its path and the command line (before the
 * file's words), to tell which keys the command line gives. */
static const char *g_path;
static int g_argc;
static char **g_argv;

const char *config_file_path(void)
{
    return g_path;
}

int config_file_reload(const char *const *keys,
                       int (*apply)(const char *key, const char *value, void *ud), void *ud,
                       char *why, size_t whylen)
{
    if (!g_path)
        return 0;
    static config_file cf;
    memset(&cf, 0, sizeof(cf));
    cf.path = g_path;
    int rc = 0;
    if (config_load(&cf, g_argv[0]) != 0) {
        snprintf(why, whylen, "%s:%d: %s", g_path, cf.err_line, cf.err[0] ? cf.err : "unreadable");
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < cf.n && rc == 0; i++) {
        int reloadable = 0;
        for (size_t k = 0; keys[k]; k++)
            reloadable |= strcmp(keys[k], cf.e[i].key) == 0;
        if (!reloadable || given_elsewhere(cf.e[i].key, g_argc, g_argv))
            continue;
        if (apply(cf.e[i].key, cf.e[i].value, ud) < 0) {
            snprintf(why, whylen, "%s:%d: bad value '%s' for %s", g_path, cf.e[i].line,
                     cf.e[i].value, cf.e[i].key);
            rc = -1;
        }
    }
out:
    config_free(&cf);
    return rc;
}

int config_file_run(int (*run)(int argc, char **argv), int argc, char **argv)
{
    int help = 0;
    for (int i = 1; i < argc; i++)
        help |= strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0;
    const char *path = take_config_flag(&argc, argv);
    /* --help always works, whatever HOLEPUNCH_CONFIG holds (cli_print_help shows --config). */
    if (help)
        return run(argc, argv);
    if (!path)
        return run(argc, argv);
    if (!path[0]) {
        fprintf(stderr, "holepunch %s: --config needs a file name\n", argv[0]);
        return 2;
    }
    g_path = path;
    g_argc = argc;
    g_argv = argv;
    static config_file cf; /* 256 entries: too big for the stack of a sanitized build */
    memset(&cf, 0, sizeof(cf));
    cf.path = path;
    int rc = 2;
    int keep[CONFIG_MAX_ENTRIES] = {0};
    entry_form form[CONFIG_MAX_ENTRIES] = {0};
    char *words[CONFIG_MAX_ENTRIES * 2];
    word_list wl = {words, 0};
    if (config_load(&cf, argv[0]) != 0)
        goto out;
    for (size_t i = 0; i < cf.n; i++)
        keep[i] = !given_elsewhere(cf.e[i].key, argc, argv);
    /* Usually every entry takes the --name=value form: one check. Else find each one's. */
    for (size_t i = 0; i < cf.n; i++)
        if (keep[i] && push_entry(&wl, &cf.e[i], FORM_EQ) != 0)
            goto out;
    char why[512];
    int all_eq = command_accepts(run, argv[0], &wl, why, sizeof(why)) == 0;
    words_free(&wl);
    if (!all_eq && choose_forms(run, argv[0], &cf, keep, form) != 0)
        goto out;
    for (size_t i = 0; i < cf.n; i++)
        if (keep[i] && push_entry(&wl, &cf.e[i], all_eq ? FORM_EQ : form[i]) != 0)
            goto out;
    char **full = calloc((size_t)(argc + wl.n + 1), sizeof(char *));
    if (!full)
        goto out;
    full[0] = argv[0];
    memcpy(&full[1], wl.w, sizeof(char *) * (size_t)wl.n);
    memcpy(&full[1 + wl.n], &argv[1], sizeof(char *) * (size_t)(argc - 1));
    rc = run(argc + wl.n, full);
    free(full);
out:
    words_free(&wl);
    config_free(&cf);
    return rc;
}
