/* One flag-table parser for every holepunch subcommand.
 *
 * A command describes its flags as a table of cli_flag (name, kind, where the value goes) and
 * calls cli_flags_match for each argv entry. Every flag that takes a value accepts both
 * "--flag VALUE" and "--flag=VALUE"; a boolean flag is "--flag" (or "--flag=true|false").
 * Errors name the flag, the bad value and what a good one looks like, on stderr. */
#ifndef HOLEPUNCH_FLAGS_H
#define HOLEPUNCH_FLAGS_H

#include <stddef.h>
#include <stdint.h>

typedef enum cli_flag_kind {
    CLI_STR,      /* const char **dest (points into argv) */
    CLI_LIST,     /* const char *dest[max], size_t *count in dest2; repeatable */
    CLI_BOOL,     /* int *dest = 1 (or 0 with =false) */
    CLI_U32,      /* uint32_t *dest, decimal */
    CLI_COUNT,    /* long long *dest, a number with optional K/M/G (binary) suffix */
    CLI_SIZE,     /* uint64_t *dest, bytes with optional K/M/G (binary) suffix */
    CLI_DUR_MS,   /* uint64_t *dest, "500ms", "90s", "2m", "1h"; a bare number is seconds */
    CLI_DUR_MSEC, /* the same, but a bare number is milliseconds (flags that always took MS) */
    CLI_RATE,     /* "BURST/DURATION": uint32_t *dest = burst, uint64_t *dest2 = interval ms */
} cli_flag_kind;

typedef struct cli_flag {
    const char *name; /* "--listen"; NULL ends a table */
    cli_flag_kind kind;
    void *dest;
    void *dest2;
    size_t max;                  /* CLI_LIST: capacity of dest */
    int (*check)(const char *v); /* optional: 0 accepts the (parsed-ok) value, -1 refuses */
    const char *want;            /* for errors: what a good value looks like */
} cli_flag;

/* Matches argv[*i] against tab (ended by a NULL name). Returns 1 when it was one of tab's
 * flags and its value was good (*i advanced past it), 0 when it is none of them (*i
 * unchanged), -1 when it was but the value is missing or bad (explained on stderr as
 * "holepunch CMD: ..."). */
int cli_flags_match(const cli_flag *tab, const char *cmd, int argc, char **argv, int *i);

/* Value parsers, shared with code that reads values from elsewhere (environment). */
long long cli_parse_size(const char *s);      /* K/M/G binary suffixes; -1 on error */
int64_t cli_parse_duration_ms(const char *s); /* -1 on error */
int cli_parse_u32(const char *s, uint32_t *out);
/* "BURST/DURATION", e.g. "8/2m": 8 events per 2 minutes. */
int cli_parse_rate(const char *s, uint32_t *burst, uint64_t *interval_ms);

#endif
