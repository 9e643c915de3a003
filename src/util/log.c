#include "util/log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static lp2p_log_format g_format = LP2P_LOG_HUMAN;
static lp2p_log_level g_level = LP2P_INFO;
static FILE *g_out = NULL;
static int g_redact = 0;

/* Stable placeholders for redaction: the n-th distinct address becomes "ip<n>". */
#define REDACT_MAX 256
static char *g_redact_seen[REDACT_MAX];
static size_t g_redact_n = 0;

void lp2p_log_set_format(lp2p_log_format fmt)
{
    g_format = fmt;
}
void lp2p_log_set_level(lp2p_log_level level)
{
    g_level = level;
}
int lp2p_log_enabled(lp2p_log_level level)
{
    return level >= g_level;
}
void lp2p_log_set_output(FILE *out)
{
    g_out = out;
}
void lp2p_log_set_redact(int on)
{
    g_redact = on;
}

int lp2p_log_level_parse(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static uint64_t (*g_clock)(void);

void lp2p_log_set_clock(uint64_t (*wall_ms)(void))
{
    g_clock = wall_ms;
}

void lp2p_trace_to_log(void *user, lp2p_log_level level, const char *event, const lp2p_field *f,
                       size_t n)
{
    (void)user;
    lp2p_log_fields(level, event, f, n);
}

/* A tiny line builder on the stack; lines longer than this are truncated with "...". */
typedef struct line {
    char buf[8192];
    size_t n;
} line;

static void put(line *l, const char *s, size_t n)
{
    if (l->n + n >= sizeof(l->buf) - 4)
        n = sizeof(l->buf) - 4 - l->n;
    memcpy(l->buf + l->n, s, n);
    l->n += n;
}
static void puts_(line *l, const char *s)
{
    put(l, s, strlen(s));
}
static void putf(line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(line *l, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static const char *redact_token(const char *tok, size_t n);
static size_t ip_token_len(const char *s);

/* With --log-redact, an address at s is written as its placeholder; returns the bytes of s it
 * stood for (0: none here). Placeholders are letters and digits, safe inside a JSON string or
 * as raw JSON text. */
static size_t put_redacted(line *l, const char *s)
{
    size_t n = g_redact ? ip_token_len(s) : 0;
    if (n > 0)
        puts_(l, redact_token(s, n));
    return n;
}

/* A raw JSON field (LF_J): our own JSON, whose strings may hold addresses too. */
static void put_json_raw(line *l, const char *s)
{
    if (!s) {
        puts_(l, "null");
        return;
    }
    while (*s) {
        size_t n = put_redacted(l, s);
        if (n == 0)
            put(l, s, n = 1);
        s += n;
    }
}

static void put_json_string(line *l, const char *s)
{
    put(l, "\"", 1);
    for (; s && *s; s++) {
        size_t skip = put_redacted(l, s);
        if (skip > 0) {
            s += skip - 1;
            continue;
        }
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(l, e, 2);
        } else if (c < 0x20) {
            putf(l, "\\u%04x", c);
        } else {
            put(l, (const char *)&c, 1);
        }
    }
    put(l, "\"", 1);
}

static const char *redact_token(const char *tok, size_t n)
{
    static char out[16];
    size_t i;
    for (i = 0; i < g_redact_n; i++)
        if (strlen(g_redact_seen[i]) == n && memcmp(g_redact_seen[i], tok, n) == 0)
            break;
    if (i == g_redact_n && g_redact_n < REDACT_MAX) {
        g_redact_seen[i] = strndup(tok, n);
        if (g_redact_seen[i])
            g_redact_n++;
    }
    snprintf(out, sizeof(out), "ip%zu", i + 1);
    return out;
}

/* Length of an IPv4 dotted quad or an IPv6 literal at s, 0 if none. Deliberately simple:
 * it only has to catch what we ourselves print (multiaddrs, host:port, peers' addresses). */
static size_t ip_token_len(const char *s)
{
    size_t i = 0, dots = 0, digits = 0;
    while (isdigit((unsigned char)s[i]) || s[i] == '.') {
        if (s[i] == '.') {
            if (digits == 0)
                break;
            dots++;
            digits = 0;
        } else {
            digits++;
        }
        i++;
    }
    if (dots == 3 && digits > 0)
        return i;
    /* IPv6: hex digits and colons with at least two colons. */
    size_t colons = 0;
    i = 0;
    while (isxdigit((unsigned char)s[i]) || s[i] == ':') {
        if (s[i] == ':')
            colons++;
        i++;
    }
    if (colons >= 2 && i >= 3)
        return i;
    return 0;
}

static void put_human_string(line *l, const char *s)
{
    if (!s) {
        puts_(l, "-");
        return;
    }
    int quote = strchr(s, ' ') != NULL || *s == 0;
    if (quote)
        put(l, "\"", 1);
    while (*s) {
        size_t n = put_redacted(l, s);
        if (n > 0) {
            s += n;
        } else {
            put(l, s, 1);
            s++;
        }
    }
    if (quote)
        put(l, "\"", 1);
}

static const char *level_name(lp2p_log_level lvl)
{
    switch (lvl) {
    case LP2P_DEBUG:
        return "debug";
    case LP2P_INFO:
        return "info";
    case LP2P_WARN:
        return "warn";
    default:
        return "error";
    }
}

static void write_line(lp2p_log_level level, const char *event, const lp2p_field *f, size_t n,
                       uint64_t now)
{
    line l;
    l.n = 0;
    if (g_format == LP2P_LOG_JSON) {
        putf(&l, "{\"ts\":%llu,\"level\":\"%s\",\"event\":", (unsigned long long)now,
             level_name(level));
        put_json_string(&l, event);
        for (size_t i = 0; i < n; i++) {
            put(&l, ",", 1);
            put_json_string(&l, f[i].key);
            put(&l, ":", 1);
            switch (f[i].type) {
            case 's':
                put_json_string(&l, f[i].v.s);
                break;
            case 'i':
                putf(&l, "%lld", (long long)f[i].v.i);
                break;
            case 'u':
                putf(&l, "%llu", (unsigned long long)f[i].v.u);
                break;
            case 'f':
                putf(&l, "%.3f", f[i].v.f);
                break;
            case 'b':
                puts_(&l, f[i].v.b ? "true" : "false");
                break;
            case 'j':
                put_json_raw(&l, f[i].v.s);
                break;
            }
        }
        put(&l, "}", 1);
    } else {
        time_t secs = (time_t)(now / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char ts[32];
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        putf(&l, "%s.%03uZ %-5s ", ts, (unsigned)(now % 1000), level_name(level));
        puts_(&l, event);
        for (size_t i = 0; i < n; i++) {
            put(&l, " ", 1);
            puts_(&l, f[i].key);
            put(&l, "=", 1);
            switch (f[i].type) {
            case 's':
                put_human_string(&l, f[i].v.s);
                break;
            case 'i':
                putf(&l, "%lld", (long long)f[i].v.i);
                break;
            case 'u':
                putf(&l, "%llu", (unsigned long long)f[i].v.u);
                break;
            case 'f':
                putf(&l, "%.1f", f[i].v.f);
                break;
            case 'b':
                puts_(&l, f[i].v.b ? "true" : "false");
                break;
            case 'j':
                put_human_string(&l, f[i].v.s);
                break;
            }
        }
    }
    put(&l, "\n", 1);
    FILE *out = g_out ? g_out : stderr;
    fwrite(l.buf, 1, l.n, out);
    fflush(out);
}

/* ---- repeated lines
 * A flood (thousands of refused connections a second) must not turn into megabytes of
 * identical lines. Lines with a non-empty "reason" field are limited (see lp2p_log_fields); two of
 * them are "the same" when level, event and reason agree; addresses, ports and peer IDs are
 * deliberately not part of it, so an attacker cannot dodge the limit by varying them
 * (docs/decisions.md). Each key gets a window of g_repeat_interval ms starting at its first line:
 * the first g_repeat_burst lines are written, the rest counted and reported by one log_suppressed
 * line when the window ends (or its slot is evicted). */
#define REPEAT_SLOTS      16
#define REPEAT_EVENT_MAX  48
#define REPEAT_REASON_MAX 96

typedef struct repeat_slot {
    int used;
    lp2p_log_level level;
    char event[REPEAT_EVENT_MAX];
    char reason[REPEAT_REASON_MAX];
    uint64_t window_start;
    uint32_t written;
    uint64_t suppressed;
} repeat_slot;

static repeat_slot g_repeat[REPEAT_SLOTS];
static unsigned g_repeat_burst = LP2P_LOG_REPEAT_BURST;
static uint64_t g_repeat_interval = LP2P_LOG_REPEAT_INTERVAL_MS;

void lp2p_log_set_repeat_limit(unsigned burst, uint64_t interval_ms)
{
    lp2p_log_flush_suppressed();
    g_repeat_burst = burst;
    g_repeat_interval = interval_ms ? interval_ms : 1;
}

static void release_slot(repeat_slot *r, uint64_t now)
{
    if (r->suppressed) {
        const lp2p_field sf[] = {
            LF_S("suppressed_event", r->event), /* "event" is the JSON line's own key */
            LF_S("reason", r->reason),
            LF_U("count", r->suppressed),
            LF_U("interval_ms", now > r->window_start ? now - r->window_start : 0),
        };
        write_line(r->level, "log_suppressed", sf, sizeof(sf) / sizeof(sf[0]), now);
    }
    r->used = 0;
}

static void release_expired(uint64_t now)
{
    for (size_t i = 0; i < REPEAT_SLOTS; i++)
        if (g_repeat[i].used && now - g_repeat[i].window_start >= g_repeat_interval)
            release_slot(&g_repeat[i], now);
}

void lp2p_log_tick(void)
{
    if (g_clock)
        release_expired(g_clock());
}

void lp2p_log_flush_suppressed(void)
{
    uint64_t now = g_clock ? g_clock() : 0;
    for (size_t i = 0; i < REPEAT_SLOTS; i++)
        if (g_repeat[i].used)
            release_slot(&g_repeat[i], now);
}

static const char *reason_of(const lp2p_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].type == 's' && f[i].v.s && strcmp(f[i].key, "reason") == 0)
            return f[i].v.s[0] ? f[i].v.s : NULL; /* "" is a result's "no failure" */
    return NULL;
}

/* The slot of this line's key: found, or a free one, or the one whose window is oldest
 * (its summary is written first). */
static repeat_slot *repeat_slot_for(lp2p_log_level level, const char *event, const char *reason,
                                    uint64_t now)
{
    repeat_slot *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < REPEAT_SLOTS; i++) {
        repeat_slot *r = &g_repeat[i];
        if (!r->used) {
            if (!free_slot)
                free_slot = r;
            continue;
        }
        if (r->level == level && strncmp(r->event, event, sizeof(r->event) - 1) == 0 &&
            strncmp(r->reason, reason, sizeof(r->reason) - 1) == 0)
            return r;
        if (!oldest || r->window_start < oldest->window_start)
            oldest = r;
    }
    repeat_slot *r = free_slot;
    if (!r) {
        r = oldest;
        release_slot(r, now);
    }
    memset(r, 0, sizeof(*r));
    r->used = 1;
    r->level = level;
    snprintf(r->event, sizeof(r->event), "%s", event);
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    r->window_start = now;
    return r;
}

void lp2p_log_fields(lp2p_log_level level, const char *event, const lp2p_field *f, size_t n)
{
    if (level < g_level)
        return;
    uint64_t now = g_clock ? g_clock() : 0;
    /* Only lines with a (non-empty) reason are limited: refusals, failures and closes are what a
     * hostile peer multiplies; results (ping, kaspa_ready, echo_result) carry none and are always
     * written. Without a clock there are no intervals to count in: every line is written. */
    if (g_clock && g_repeat_burst)
        release_expired(now);
    const char *reason = g_clock && g_repeat_burst ? reason_of(f, n) : NULL;
    if (reason) {
        repeat_slot *r = repeat_slot_for(level, event, reason, now);
        if (r->written >= g_repeat_burst) {
            r->suppressed++;
            return;
        }
        r->written++;
    }
    write_line(level, event, f, n, now);
}
