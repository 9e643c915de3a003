/* Prometheus endpoint: see metrics.h. libmicrohttpd does the HTTP/1.1 (parsing,
 * keep-alive, timeouts, connection limits); this file only bridges its external
 * epoll mode to libuv and writes the text format. */
#include "metrics.h"

#include "lp2p/err.h"
#include "lp2p/log.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The endpoint's own limits, so idle peers cannot hold it (issue 9: 100 idle connections kept
 * /metrics from answering for 5 minutes). A scrape is one small request answered in
 * milliseconds, so: a connection idle for 3 s is closed (a Prometheus server reconnects for
 * its next scrape); one address gets 4 connections and the rest are refused at once, so the
 * scraper's address is never locked out by another's; 128 in all (above the 100 idle
 * connections of the attack test, and each costs only its fd and a 16 KiB pool); requests
 * larger than the pool are refused. Beyond 128 new connections wait in the listen backlog,
 * at most one timeout, for the idle ones to be cut. */
#define METRICS_MAX_CONNS        128
#define METRICS_MAX_CONNS_PER_IP 4
#define METRICS_CONN_TIMEOUT     3 /* seconds of inactivity */
#define METRICS_CONN_MEMORY      (16 * 1024)

/* ---- text format
 * ---------------------------------------------------------------------------
 *   # HELP name text
 *   # TYPE name counter|gauge
 *   name{label="value"} 42
 */

static void put(metrics_text *m, const char *s)
{
    size_t n = strlen(s);
    if (m->err)
        return;
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n + 1)
            cap *= 2;
        char *p = realloc(m->p, cap);
        if (!p) {
            m->err = LP2P_ERR_NOMEM;
            return;
        }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, s, n + 1);
    m->len += n;
}

void metrics_text_free(metrics_text *m)
{
    free(m->p);
    *m = (metrics_text){0};
}

void metrics_family(metrics_text *m, const char *name, const char *type, const char *help)
{
    put(m, "# HELP ");
    put(m, name);
    put(m, " ");
    put(m, help); /* our own constant text: no backslashes or newlines */
    put(m, "\n# TYPE ");
    put(m, name);
    put(m, " ");
    put(m, type);
    put(m, "\n");
}

static void put_label_value(metrics_text *m, const char *value)
{
    for (const char *p = value ? value : ""; *p; p++) {
        char esc[3] = {'\\', *p, 0};
        if (*p == '\n')
            esc[1] = 'n';
        if (*p == '\\' || *p == '"' || *p == '\n') {
            put(m, esc);
        } else {
            char one[2] = {*p, 0};
            put(m, one);
        }
    }
}

static void put_labels(metrics_text *m, const char *const *kv, size_t npairs)
{
    if (npairs == 0)
        return;
    put(m, "{");
    for (size_t i = 0; i < npairs; i++) {
        put(m, i ? "," : "");
        put(m, kv[2 * i]);
        put(m, "=\"");
        put_label_value(m, kv[2 * i + 1]);
        put(m, "\"");
    }
    put(m, "}");
}

void metrics_value(metrics_text *m, const char *name, const char *label, const char *value,
                   uint64_t v)
{
    const char *kv[2] = {label, value};
    put(m, name);
    put_labels(m, kv, label ? 1 : 0);
    char num[32];
    snprintf(num, sizeof(num), " %llu\n", (unsigned long long)v);
    put(m, num);
}

void metrics_sample(metrics_text *m, const char *name, const char *const *kv, size_t npairs,
                    double v)
{
    put(m, name);
    put_labels(m, kv, npairs);
    char num[40];
    snprintf(num, sizeof(num), " %.15g\n", v);
    put(m, num);
}

int metrics_render(metrics_render_fn fn, void *ud, metrics_text *out)
{
    out->err = 0;
    fn(out, ud);
    return out->err;
}

/* ---- HTTP
 * ----------------------------------------------------------------------------------
 */

struct metrics_server {
    uv_loop_t *loop;
    struct MHD_Daemon *d;
    uv_poll_t poll;
    uv_timer_t timer;
    int open_handles;
    uint16_t port;
    metrics_render_fn fn;
    void *ud;
    metrics_health_fn health;
};

static int g_request_marker;

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *ctype,
                             const void *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ok = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    metrics_server *s = cls;
    if (*con_cls == NULL) {
        /* First call: headers only. Answer on the next one, after any body was
         * read. */
        *con_cls = &g_request_marker;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* a body on a scrape is ignored */
        return MHD_YES;
    }
    static const char k_text[] = "text/plain; charset=utf-8";
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        static const char msg[] = "only GET\n";
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, k_text, msg, sizeof(msg) - 1);
    }
    if (strcmp(url, "/healthz") == 0) {
        const char *why = s->health ? s->health(s->ud) : NULL;
        char body[256];
        int n = snprintf(body, sizeof(body), "%s\n", why ? why : "ok");
        return reply(conn, why ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, k_text, body,
                     (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1);
    }
    if (strcmp(url, "/metrics") != 0) {
        static const char msg[] = "metrics are at /metrics, health at /healthz\n";
        return reply(conn, MHD_HTTP_NOT_FOUND, k_text, msg, sizeof(msg) - 1);
    }
    metrics_text out = {0};
    enum MHD_Result ok;
    if (metrics_render(s->fn, s->ud, &out) < 0) {
        static const char msg[] = "out of memory\n";
        ok = reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, k_text, msg, sizeof(msg) - 1);
    } else {
        ok = reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", out.p, out.len);
    }
    metrics_text_free(&out);
    return ok;
}

static void on_timer(uv_timer_t *t);

/* Runs MHD once and arms the timer for its next timeout. In epoll mode MHD
 * keeps connections that still have work on an internal list and then reports a
 * zero timeout, so looping through the timer also finishes what the
 * edge-triggered epoll fd will not signal again. */
static void drive(metrics_server *s)
{
    MHD_run(s->d);
    MHD_UNSIGNED_LONG_LONG to = 0;
    if (MHD_get_timeout(s->d, &to) == MHD_YES)
        uv_timer_start(&s->timer, on_timer, to, 0);
    else
        uv_timer_stop(&s->timer);
}

static void on_timer(uv_timer_t *t)
{
    drive(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    drive(p->data);
}

/* "HOST:PORT", "[V6]:PORT", ":PORT". */
static int parse_hostport(const char *hp, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon;
    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (!end || end[1] != ':' || (size_t)(end - hp - 1) >= sizeof(host))
            return LP2P_ERR_INVAL;
        memcpy(host, hp + 1, (size_t)(end - hp - 1));
        host[end - hp - 1] = 0;
        colon = end + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon || (size_t)(colon - hp) >= sizeof(host))
            return LP2P_ERR_INVAL;
        memcpy(host, hp, (size_t)(colon - hp));
        host[colon - hp] = 0;
        if (!host[0])
            strcpy(host, "0.0.0.0");
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return LP2P_ERR_INVAL;
    memset(ss, 0, sizeof(*ss));
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return LP2P_ERR_INVAL;
}

/* MHD's own messages go through our log, not straight to stderr: it writes one line per
 * refused connection ("Server reached connection limit..."), 6.6 MB in 4 s under the idle
 * connection attack, and as a log line with a reason the logger summarises the repeats. */
static void on_mhd_error(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = 0;
    lp2p_log(LP2P_WARN, "metrics_http_error", LF_S("reason", msg));
}

int metrics_server_start(uv_loop_t *loop, const char *hostport, metrics_render_fn fn, void *ud,
                         metrics_server **out)
{
    struct sockaddr_storage ss;
    if (parse_hostport(hostport, &ss) < 0)
        return LP2P_ERR_INVAL;
    metrics_server *s = calloc(1, sizeof(*s));
    if (!s)
        return LP2P_ERR_NOMEM;
    s->loop = loop;
    s->fn = fn;
    s->ud = ud;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t want = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    /* The logger first: libmicrohttpd warns (through it) when it comes later. */
    s->d = MHD_start_daemon(flags, want, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                            on_mhd_error, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CONNS,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CONNS_PER_IP,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_CONN_TIMEOUT,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_CONN_MEMORY,
                            MHD_OPTION_END);
    if (!s->d) {
        lp2p_log(LP2P_ERROR, "metrics_failed", LF_S("addr", hostport),
                 LF_S("reason", "could not start the HTTP daemon (address in use?)"));
        free(s);
        return LP2P_ERR_IO;
    }
    const union MHD_DaemonInfo *fdi = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    if (!fdi) {
        MHD_stop_daemon(s->d);
        free(s);
        return LP2P_ERR_IO;
    }
    s->port = pi ? pi->port : want;
    uv_poll_init(loop, &s->poll, fdi->epoll_fd);
    uv_timer_init(loop, &s->timer);
    s->poll.data = s;
    s->timer.data = s;
    s->open_handles = 2;
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
    char host[64] = "";
    if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
    else
        uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
    char url[128];
    snprintf(url, sizeof(url),
             ss.ss_family == AF_INET6 ? "http://[%s]:%u/metrics" : "http://%s:%u/metrics", host,
             (unsigned)s->port);
    lp2p_log(LP2P_INFO, "metrics_listening", LF_S("url", url), LF_U("port", s->port));
    *out = s;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    metrics_server *s = h->data;
    if (--s->open_handles == 0)
        free(s);
}

void metrics_server_stop(metrics_server *s)
{
    if (!s)
        return;
    uv_poll_stop(&s->poll);
    uv_timer_stop(&s->timer);
    /* The poll handle must be closed before MHD closes the epoll fd it watches.
     */
    uv_close((uv_handle_t *)&s->poll, on_closed);
    uv_close((uv_handle_t *)&s->timer, on_closed);
    MHD_stop_daemon(s->d);
    s->d = NULL;
}

uint16_t metrics_server_port(const metrics_server *s)
{
    return s->port;
}

/* The statuses each refusal counter can actually see (src/proto/relay_hop.c, relay_circuit.c),
 * so a dashboard is not offered series that stay 0 forever. A RESERVE is refused for a
 * relayed source (PERMISSION_DENIED), a full table or per-peer/IP cap (RESOURCE_LIMIT_
 * EXCEEDED, RESERVATION_REFUSED); an undecodable hop message carries no type and is counted
 * here as MALFORMED_MESSAGE. It is never answered NO_RESERVATION, CONNECTION_FAILED or
 * UNEXPECTED_MESSAGE. A CONNECT gets every status but RESERVATION_REFUSED (a STATUS sent to
 * the relay is UNEXPECTED_MESSAGE, a target that does not answer is CONNECTION_FAILED). */
static const char *const k_reserve_refusals[] = {"RESERVATION_REFUSED", "RESOURCE_LIMIT_EXCEEDED",
                                                 "PERMISSION_DENIED", "MALFORMED_MESSAGE", NULL};
static const char *const k_connect_refusals[] = {"RESOURCE_LIMIT_EXCEEDED",
                                                 "PERMISSION_DENIED",
                                                 "CONNECTION_FAILED",
                                                 "NO_RESERVATION",
                                                 "MALFORMED_MESSAGE",
                                                 "UNEXPECTED_MESSAGE",
                                                 NULL};

static int can_refuse(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0)
            return 1;
    return 0;
}

/* The relay server's counters (holepunch relay --metrics-listen). */
void metrics_render_relay(metrics_text *m, const lp2p_relay_server *r)
{
    lp2p_relay_server_stats st;
    lp2p_relay_server_stats_get(r, &st);
    metrics_family(m, "holepunch_relay_reservations_active", "gauge",
                   "Reservations currently held by clients.");
    metrics_value(m, "holepunch_relay_reservations_active", NULL, NULL, st.reservations_active);
    metrics_family(m, "holepunch_relay_reservations_granted_total", "counter",
                   "RESERVE requests answered OK (refreshes included).");
    metrics_value(m, "holepunch_relay_reservations_granted_total", NULL, NULL,
                  st.reservations_granted_total);
    metrics_family(m, "holepunch_relay_reservations_refused_total", "counter",
                   "RESERVE requests refused, by the status sent.");
    for (size_t i = 0; i < LP2P_RELAY_SERVER_NREFUSALS; i++)
        if (can_refuse(k_reserve_refusals, lp2p_relay_server_refusal_name(i)))
            metrics_value(m, "holepunch_relay_reservations_refused_total", "reason",
                          lp2p_relay_server_refusal_name(i), st.reservations_refused_total[i]);
    metrics_family(m, "holepunch_relay_circuits_active", "gauge", "Live (spliced) circuits.");
    metrics_value(m, "holepunch_relay_circuits_active", NULL, NULL, st.circuits_active);
    metrics_family(m, "holepunch_relay_circuits_total", "counter", "Circuits that went live.");
    metrics_value(m, "holepunch_relay_circuits_total", NULL, NULL, st.circuits_total);
    metrics_family(m, "holepunch_relay_circuits_refused_total", "counter",
                   "CONNECT requests that did not become a circuit, by the status sent.");
    for (size_t i = 0; i < LP2P_RELAY_SERVER_NREFUSALS; i++)
        if (can_refuse(k_connect_refusals, lp2p_relay_server_refusal_name(i)))
            metrics_value(m, "holepunch_relay_circuits_refused_total", "reason",
                          lp2p_relay_server_refusal_name(i), st.circuits_refused_total[i]);
    metrics_family(m, "holepunch_relay_circuits_limited_total", "counter",
                   "Circuits reset at their limit.");
    metrics_value(m, "holepunch_relay_circuits_limited_total", "limit", "data",
                  st.circuits_limited_total[0]);
    metrics_value(m, "holepunch_relay_circuits_limited_total", "limit", "duration",
                  st.circuits_limited_total[1]);
    metrics_family(m, "holepunch_relay_bytes_total", "counter", "Bytes relayed on circuits.");
    metrics_value(m, "holepunch_relay_bytes_total", "direction", "src_to_dst", st.bytes_relayed[0]);
    metrics_value(m, "holepunch_relay_bytes_total", "direction", "dst_to_src", st.bytes_relayed[1]);
    metrics_family(m, "holepunch_relay_connections_active", "gauge",
                   "libp2p connections currently open.");
    metrics_value(m, "holepunch_relay_connections_active", NULL, NULL, st.connections_active);
    metrics_family(m, "holepunch_relay_connections_total", "counter",
                   "libp2p connections established.");
    metrics_value(m, "holepunch_relay_connections_total", NULL, NULL, st.connections_total);
}

void metrics_server_set_health(metrics_server *s, metrics_health_fn fn)
{
    s->health = fn;
}
