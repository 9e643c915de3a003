/* Structured logging, the one logger of the library and the apps: every line is an event
 * name plus typed fields (LF_* of lp2p/trace.h).
 *
 *   lp2p_log(LP2P_INFO, "connected", LF_S("peer", id), LF_S("addr", ma),
 *            LF_S("direction", "inbound"), LF_B("relayed", 0));
 *
 * Human format (default, stderr):  2026-11-25T14:55:01.123Z INFO connected peer=... addr=...
 * JSON format (--log-format json): {"ts":1764082501123,"level":"info","event":"connected",...}
 * The README lists every event. Logging never allocates on the hot path beyond one line.
 * The implementation is src/util/log.c; this header is its whole face. */
#ifndef LP2P_LOG_H
#define LP2P_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "lp2p/trace.h"

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

/* Where timestamps come from: the application installs its wall clock (ms since the epoch),
 * so util reads no clock itself. Until one is installed lines carry ts 0. */
void lp2p_log_set_clock(uint64_t (*wall_ms)(void));

/* Repeated lines: a line with a non-empty "reason" (a refusal, failure or close: what a flood
 * multiplies) whose level, event and reason repeat more than burst times within interval_ms
 * (counted from the first) is suppressed, and one line
 *   log_suppressed {suppressed_event, reason, count, interval_ms}
 * reports how many when the interval ends (seen at the next log call or lp2p_log_tick) or
 * when the key's slot is evicted from the small fixed table. burst 0 writes every line, and
 * so does a logger with no clock installed. Default: 10 lines per 1000 ms. */
#define LP2P_LOG_REPEAT_BURST       10
#define LP2P_LOG_REPEAT_INTERVAL_MS 1000
void lp2p_log_set_repeat_limit(unsigned burst, uint64_t interval_ms);
/* Writes the summaries of intervals that have ended; the app calls it from a timer so a
 * flood's last summary does not wait for the next line. */
void lp2p_log_tick(void);
/* Writes every pending summary now (before exit, or before changing the limit). */
void lp2p_log_flush_suppressed(void);

/* The sink that turns a core's trace records (util/trace.h) into log lines, unchanged. */
void lp2p_trace_to_log(void *user, lp2p_log_level level, const char *event, const lp2p_field *f,
                       size_t n);
#define LP2P_TRACE_LOG ((lp2p_trace){.fn = lp2p_trace_to_log, .user = NULL})

#endif
