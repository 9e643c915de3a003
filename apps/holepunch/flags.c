#include "flags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "holepunch relay: ..." or, for the common flags, "holepunch: ...". */
#define SP(cmd) ((cmd)[0] ? " " : "")

long long cli_parse_size(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    long long mul = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mul = 1024;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1024 * 1024;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1024LL * 1024 * 1024;
        end++;
        break;
    }
    if (*end == 'i' || *end == 'B')
        end++;
    if (*end == 'B')
        end++;
    if (*end || v * (double)mul > 9e18)
        return -1;
    return (long long)(v * (double)mul);
}

int64_t cli_parse_duration_ms(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    double mul;
    if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "s") == 0 || *end == 0)
        mul = 1000;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mul = 60 * 1000;
    else if (strcmp(end, "h") == 0)
        mul = 3600 * 1000;
    else
        return -1;
    double ms = v * mul;
    return ms > 1e15 ? -1 : (int64_t)ms;
}

int cli_parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int cli_parse_rate(const char *s, uint32_t *burst, uint64_t *interval_ms)
{
    char tmp[64];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, (size_t)(slash - s));
    tmp[slash - s] = 0;
    int64_t d = cli_parse_duration_ms(slash + 1);
    if (cli_parse_u32(tmp, burst) < 0 || d <= 0)
        return -1;
    *interval_ms = (uint64_t)d;
    return 0;
}

static const char *default_want(cli_flag_kind k)
{
    switch (k) {
    case CLI_U32:
        return "a whole number";
    case CLI_COUNT:
    case CLI_SIZE:
        return "a number, optionally with K, M or G (e.g. 16M)";
    case CLI_DUR_MS:
    case CLI_DUR_MSEC:
        return "a duration such as 500ms, 90s, 2m or 1h";
    case CLI_RATE:
        return "BURST/DURATION, e.g. 8/2m";
    case CLI_BOOL:
        return "true or false";
    default:
        return "a value";
    }
}

/* Stores v in f's destination; 0 or -1 (bad value). */
static int store(const cli_flag *f, const char *cmd, const char *v)
{
    switch (f->kind) {
    case CLI_STR:
        *(const char **)f->dest = v;
        return 0;
    case CLI_LIST: {
        size_t *n = f->dest2;
        if (*n >= f->max) {
            fprintf(stderr, "holepunch%s%s: at most %zu %s values\n", SP(cmd), cmd, f->max,
                    f->name);
            return -2; /* explained */
        }
        ((const char **)f->dest)[(*n)++] = v;
        return 0;
    }
    case CLI_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0)
            *(int *)f->dest = 1;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0)
            *(int *)f->dest = 0;
        else
            return -1;
        return 0;
    case CLI_U32:
        return cli_parse_u32(v, f->dest);
    case CLI_COUNT: {
        long long n = cli_parse_size(v);
        if (n < 0)
            return -1;
        *(long long *)f->dest = n;
        return 0;
    }
    case CLI_SIZE: {
        long long n = cli_parse_size(v);
        if (n < 0)
            return -1;
        *(uint64_t *)f->dest = (uint64_t)n;
        return 0;
    }
    case CLI_DUR_MS: {
        int64_t d = cli_parse_duration_ms(v);
        if (d < 0)
            return -1;
        *(uint64_t *)f->dest = (uint64_t)d;
        return 0;
    }
    case CLI_DUR_MSEC: {
        char *end;
        errno = 0;
        unsigned long long ms = strtoull(v, &end, 10);
        if (!errno && end != v && !*end && v[0] != '-') { /* a bare number: milliseconds */
            *(uint64_t *)f->dest = ms;
            return 0;
        }
        int64_t d = cli_parse_duration_ms(v);
        if (d < 0 || !*v || (v[strlen(v) - 1] >= '0' && v[strlen(v) - 1] <= '9'))
            return -1;
        *(uint64_t *)f->dest = (uint64_t)d;
        return 0;
    }
    case CLI_RATE:
        return cli_parse_rate(v, f->dest, f->dest2);
    }
    return -1;
}

int cli_flags_match(const cli_flag *tab, const char *cmd, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (a[0] != '-' || a[1] != '-')
        return 0;
    const char *eq = strchr(a, '=');
    size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
    const cli_flag *f = tab;
    for (; f->name; f++)
        if (strlen(f->name) == nlen && strncmp(f->name, a, nlen) == 0)
            break;
    if (!f->name)
        return 0;
    const char *v;
    int used;
    if (eq) {
        v = eq + 1;
        used = 1;
    } else if (f->kind == CLI_BOOL) {
        v = "true";
        used = 1;
    } else if (*i + 1 < argc) {
        v = argv[*i + 1];
        used = 2;
    } else {
        fprintf(stderr, "holepunch%s%s: %s needs a value: %s (see --help)\n", SP(cmd), cmd, f->name,
                f->want ? f->want : default_want(f->kind));
        return -1;
    }
    int rc = store(f, cmd, v);
    if (rc == 0 && f->check && f->check(v) < 0)
        rc = -1;
    if (rc == -1)
        fprintf(stderr, "holepunch%s%s: bad value '%s' for %s: want %s (see --help)\n", SP(cmd),
                cmd, v, f->name, f->want ? f->want : default_want(f->kind));
    if (rc < 0)
        return -1;
    *i += used;
    return 1;
}
