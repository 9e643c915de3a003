/* Prometheus text exposition (format 0.0.4) over HTTP, served by libmicrohttpd
 * on the application's libuv loop: MHD runs without a thread of its own
 * (MHD_USE_EPOLL, external mode), its epoll fd is watched with a uv_poll and
 * its timeouts with a uv_timer. So the render callback runs on the loop thread
 * and reads the counters directly, with no lock.
 *
 *   GET /metrics  →  200 text/plain; version=0.0.4   (rendered fresh for every scrape)
 *   GET /healthz  →  200 "ok", or 503 with a one-line reason (metrics_server_set_health)
 *   other paths   →  404;  methods other than GET/HEAD → 405 */
#ifndef HOLEPUNCH_METRICS_H
#define HOLEPUNCH_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lp2p/relay_server.h"

/* The exposition text being rendered: a growing string, NUL-terminated. */
typedef struct metrics_text {
    char *p;
    size_t len, cap;
    int err; /* sticky: out of memory */
} metrics_text;
void metrics_text_free(metrics_text *m);

/* # HELP and # TYPE lines of a metric family (type: counter, gauge). */
void metrics_family(metrics_text *m, const char *name, const char *type, const char *help);
/* One sample: `name{label="value"} v`, or `name v` when label is NULL. Label
 * values are escaped as the format requires (\\, \", \n). */
void metrics_value(metrics_text *m, const char *name, const char *label, const char *value,
                   uint64_t v);

/* One sample with npairs labels (kv: key, value, key, value, ...; values escaped) and any
 * number (histogram sums, seconds). */
void metrics_sample(metrics_text *m, const char *name, const char *const *kv, size_t npairs,
                    double v);

typedef void (*metrics_render_fn)(metrics_text *m, void *ud);

/* Renders once into out (appended; zero-initialise it, release with metrics_text_free); 0 or
 * LP2P_ERR_NOMEM. For tests and for the server. */
int metrics_render(metrics_render_fn fn, void *ud, metrics_text *out);

/* The families of a relay server's counters (lp2p_relay_server_stats). */
void metrics_render_relay(metrics_text *m, const lp2p_relay_server *r);

typedef struct metrics_server metrics_server;

/* Listens on HOST:PORT ("127.0.0.1:9100", "[::1]:9100", ":9100" = all IPv4
 * interfaces; port 0 picks one) and logs `metrics_listening {url}`. fn/ud must
 * stay valid until stop. LP2P_ERR_INVAL for a bad address, LP2P_ERR_IO when the
 * daemon cannot start. */
int metrics_server_start(uv_loop_t *loop, const char *hostport, metrics_render_fn fn, void *ud,
                         metrics_server **out);
/* Stops serving (open scrapes are dropped); freed once the loop has run the
 * close callbacks. NULL is ignored. */
void metrics_server_stop(metrics_server *s);
/* NULL while healthy, else why not (one line, no newline); called with the server's ud. */
typedef const char *(*metrics_health_fn)(void *ud);
/* /healthz answers 200 until fn is set, then what fn says. */
void metrics_server_set_health(metrics_server *s, metrics_health_fn fn);
/* The bound port (useful with port 0). */
uint16_t metrics_server_port(const metrics_server *s);

#endif
