/* Trace records: how a sans-IO core tells its caller what happened (a refusal, a peer's
 * violation, a dial it wants) without writing a log line itself.
 *
 * A record is an event name, a severity hint and typed fields, the same shape as a log line,
 * so a caller that only wants today's log installs LP2P_TRACE_LOG (util/log.h) and the line is
 * unchanged. Tests install their own sink and assert on the records (quicly's probes and
 * nghttp2's callbacks are the models). Strings in a record are borrowed for the call only.
 *
 *   lp2p_emit(&y->cfg.trace, LP2P_WARN, "yamux_fatal", LF_S("reason", why), LF_U("stream", id));
 *
 * A zero lp2p_trace is a silent sink, so cores created without one simply say nothing. */
#ifndef LP2P_UTIL_TRACE_H
#define LP2P_UTIL_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "lp2p/trace.h"

static inline void lp2p_emit_fields(const lp2p_trace *t, lp2p_log_level level, const char *event,
                                    const lp2p_field *f, size_t n)
{
    if (t && t->fn)
        t->fn(t->user, level, event, f, n);
}

#define lp2p_emit(t, level, event, ...)                                                            \
    lp2p_emit_fields((t), (level), (event), (const lp2p_field[]){__VA_ARGS__},                     \
                     sizeof((const lp2p_field[]){__VA_ARGS__}) / sizeof(lp2p_field))
#define lp2p_emit0(t, level, event) lp2p_emit_fields((t), (level), (event), NULL, 0)

#endif
