/* Structured logging: every line is an event name plus typed fields.
 *
 *   lp2p_log(LP2P_INFO, "connected", LF_S("peer", id), LF_S("addr", ma),
 *            LF_S("direction", "inbound"), LF_B("relayed", 0));
 *
 * Human format (default, stderr):  2026-11-25T14:55:01.123Z INFO connected peer=... addr=...
 * JSON format (--log-format json): {"ts":1764082501123,"level":"info","event":"connected",...}
 * The README lists every event. Logging never allocates on the hot path beyond one line. */
#ifndef LP2P_UTIL_LOG_H
#define LP2P_UTIL_LOG_H

#include <stdint.h>
#include <stdio.h>

typedef enum lp2p_log_level {
    LP2P_DEBUG = 0,
    LP2P_INFO = 1,
    LP2P_WARN = 2,
    LP2P_ERROR = 3,
} lp2p_log_level;

typedef struct lp2p_field {
    const char *key;
    char type; /* 's' string, 'i' integer, 'u' unsigned, 'f' double, 'b' bool, 'j' raw JSON */
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double f;
        int b;
    } v;
} lp2p_field;

#define LF_S(k, x) ((lp2p_field){.key = (k), .type = 's', .v.s = (x)})
#define LF_I(k, x) ((lp2p_field){.key = (k), .type = 'i', .v.i = (int64_t)(x)})
#define LF_U(k, x) ((lp2p_field){.key = (k), .type = 'u', .v.u = (uint64_t)(x)})
#define LF_F(k, x) ((lp2p_field){.key = (k), .type = 'f', .v.f = (double)(x)})
#define LF_B(k, x) ((lp2p_field){.key = (k), .type = 'b', .v.b = !!(x)})
/* x must already be valid JSON (an array or object); printed verbatim in both formats. */
#define LF_J(k, x) ((lp2p_field){.key = (k), .type = 'j', .v.s = (x)})

#define lp2p_log(level, event, ...)                                                                \
    lp2p_log_fields((level), (event), (const lp2p_field[]){__VA_ARGS__},                           \
                    sizeof((const lp2p_field[]){__VA_ARGS__}) / sizeof(lp2p_field))
#define lp2p_log0(level, event) lp2p_log_fields((level), (event), NULL, 0)

void lp2p_log_fields(lp2p_log_level level, const char *event, const lp2p_field *f, size_t n);

typedef enum lp2p_log_format { LP2P_LOG_HUMAN = 0, LP2P_LOG_JSON = 1 } lp2p_log_format;
void lp2p_log_set_format(lp2p_log_format fmt);
void lp2p_log_set_level(lp2p_log_level level);
int lp2p_log_enabled(lp2p_log_level level);
/* Output stream (default stderr). Lines are written whole and flushed. */
void lp2p_log_set_output(FILE *out);
/* Replace IP addresses in string fields of the human format with stable placeholders
 * ("ip1", "ip2", ...), so a log can be shared. */
void lp2p_log_set_redact(int on);
/* Parses "debug"/"info"/"warn"/"error"; returns -1 if unknown. */
int lp2p_log_level_parse(const char *s);

/* Wall clock in ms since the epoch (only for log timestamps and wire timestamps). */
uint64_t lp2p_wall_ms(void);

#endif
