/* A trace sink: what a caller installs in a core's or service's config (lp2p_trace) to
 * receive its records, and the record's shape (event name, level hint, typed fields, built
 * with LF_*). Public because public configs carry a sink (lp2p/relay_limits.h,
 * kaspa/session.h) and apps log lines of the same shape (lp2p/log.h); the emitting side
 * (lp2p_emit) stays private in util/trace.h. */
#ifndef LP2P_TRACE_H
#define LP2P_TRACE_H

#include <stddef.h>
#include <stdint.h>

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

/* level is the core's suggestion; the sink may log it, count it, or drop it. */
typedef void (*lp2p_trace_fn)(void *user, lp2p_log_level level, const char *event,
                              const lp2p_field *f, size_t n);

typedef struct lp2p_trace {
    lp2p_trace_fn fn; /* NULL = silent */
    void *user;
} lp2p_trace;

#endif
