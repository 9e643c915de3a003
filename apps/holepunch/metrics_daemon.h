/* What every long-running holepunch command (relay, listen, server, client, bridge) exports
 * on --metrics-listen: the host's hole-punch outcomes and connections (from the host's public
 * events, not from its log), process_* metrics, holepunch_build_info, and /healthz.
 *
 *   /healthz → 200 "ok"                        the daemon is serving
 *            → 503 "<one-line reason>"         no listener up yet, or (when it reserves on
 *                                              relays) no reservation held
 *
 * The same check drives systemd readiness when NOTIFY_SOCKET is set (Type=notify units):
 * STATUS=<reason> while not serving, READY=1 once serving, WATCHDOG=1 when the unit sets
 * WatchdogSec, STOPPING=1 at the end. */
#ifndef HOLEPUNCH_METRICS_DAEMON_H
#define HOLEPUNCH_METRICS_DAEMON_H

#include <uv.h>

#include "flags.h"
#include "kaspa/peer.h"
#include "lp2p/host.h"
#include "lp2p/relay_server.h"

typedef struct daemon_metrics daemon_metrics;

/* The flag-table row of --metrics-listen (dest: const char *). */
#define DAEMON_METRICS_FLAG(dest)                                                                  \
    {                                                                                              \
        "--metrics-listen", CLI_STR, &(dest), NULL, 0, NULL, "HOST:PORT"                           \
    }
#define DAEMON_METRICS_HELP                                                                        \
    "  --metrics-listen HP   Prometheus text at http://HP/metrics, health at /healthz\n"

/* Starts the endpoint on hostport (NULL: no endpoint, only readiness) and sd_notify. Errors
 * are printed as "holepunch CMD: --metrics-listen ...". One per process (static storage, so
 * hooks called after daemon_metrics_stop are harmless); run the loop after stop. */
int daemon_metrics_start(uv_loop_t *loop, const char *cmd, const char *hostport,
                         daemon_metrics **out);
/* Counts h's events from now on; h must outlive the metrics (stop them first). */
void daemon_metrics_watch_host(daemon_metrics *dm, lp2p_host *h);
/* The relay's own families too. */
void daemon_metrics_watch_relay(daemon_metrics *dm, const lp2p_relay_server *r);
/* Kaspa sessions: exported once this was called. A daemon that has no callbacks of its own
 * passes DAEMON_METRICS_KASPA_CB with the daemon_metrics as user (NULL user: no counting);
 * one with its own calls the two hooks from its callbacks. */
void daemon_metrics_watch_kaspa(daemon_metrics *dm);
extern const kaspa_peer_callbacks DAEMON_METRICS_KASPA_CB;
void daemon_metrics_kaspa_event(daemon_metrics *dm, const kaspa_event *ev);
void daemon_metrics_kaspa_closed(daemon_metrics *dm, kaspa_peer *p, int err);
/* A listener that is not the host's (Kaspa TCP, the bridge's) is up: counts for /healthz. */
void daemon_metrics_listener_up(daemon_metrics *dm);
/* NULL is ignored. */
void daemon_metrics_stop(daemon_metrics *dm);

#endif
