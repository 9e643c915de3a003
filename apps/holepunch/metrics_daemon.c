/* Metrics of every daemon: see metrics_daemon.h. Counters are kept here from the host's
 * public events (lp2p_host_subscribe: on_connected, on_disconnected, on_holepunch), so the
 * library carries no metrics code and the counts are exactly the events the API reports. */
#include "metrics_daemon.h"

#include "cli.h"
#include "metrics.h"
#include "resolve.h"

#include "lp2p/err.h"
#include "lp2p/holepunch.h"
#include "lp2p/host_stats.h"

#include <dirent.h>
#include <stdint.h>
#include <systemd/sd-daemon.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Attempt labels "1".."3" (B tries up to 3 times, A once); later attempts (re-punches) are
 * counted under "4+". */
#define MAX_ATTEMPT_LABEL 4
/* relayed → direct, seconds: a punch takes one relayed round trip and a dial */
static const double k_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NBUCKETS (sizeof(k_buckets) / sizeof(k_buckets[0]))

enum { ROLE_A, ROLE_B, NROLES };
static const char *const k_role[NROLES] = {"a", "b"};
enum { END_DIRECT, END_GAVE_UP, END_SKIPPED, NENDS };
static const char *const k_end[NENDS] = {"direct", "gave_up", "skipped"};
enum { PATH_DIRECT, PATH_RELAYED, NPATHS };
static const char *const k_path[NPATHS] = {"direct", "relayed"};
static const char *const k_dir[2] = {"inbound", "outbound"};
/* How Kaspa sessions end: from the driver's err (kaspa/peer.h on_closed). */
enum { KEND_CLEAN, KEND_TIMEOUT, KEND_ERROR, KEND_CONNECT_FAILED, NKENDS };
static const char *const k_kend[NKENDS] = {"clean", "timeout", "error", "connect_failed"};

/* Readiness is polled from the same health check as /healthz: while not ready every 200 ms,
 * then at half the unit's WatchdogSec (or every 5 s for STATUS= changes). */
#define NOTIFY_POLL_MS   200
#define NOTIFY_STEADY_MS 5000

struct daemon_metrics {
    metrics_server *srv;
    uv_timer_t notify_timer;
    int notifying; /* NOTIFY_SOCKET is set */
    int ready_sent;
    uint64_t watchdog_ms; /* 0: the unit sets no WatchdogSec */
    const char *last_status;
    lp2p_host *host;
    int sub;
    const lp2p_relay_server *relay;
    int kaspa; /* runs Kaspa sessions: export their families */
    int other_listeners;
    uint64_t attempts[NROLES][MAX_ATTEMPT_LABEL];
    uint64_t failed[NROLES][MAX_ATTEMPT_LABEL];
    uint64_t ends[NROLES][NENDS];
    uint64_t hist[NBUCKETS + 1]; /* last: +Inf only */
    uint64_t hist_count;
    double hist_sum;
    uint64_t conns_open[NPATHS][2], conns_total[NPATHS][2];
    uint64_t bytes_closed[NPATHS][2]; /* [path][0 in, 1 out] of connections already gone */
    uint64_t kaspa_ready;
    uint64_t kaspa_rejects[2]; /* 0 received, 1 sent */
    uint64_t kaspa_ends[NKENDS];
};

static void on_holepunch(const lp2p_holepunch_event *ev, void *ud)
{
    daemon_metrics *dm = ud;
    int role = ev->role_b ? ROLE_B : ROLE_A;
    int at = ev->attempt < 1                   ? 0
             : ev->attempt > MAX_ATTEMPT_LABEL ? MAX_ATTEMPT_LABEL - 1
                                               : ev->attempt - 1;
    switch (ev->outcome) {
    case LP2P_HOLEPUNCH_ATTEMPT:
        dm->attempts[role][at]++;
        break;
    case LP2P_HOLEPUNCH_FAILED:
        dm->failed[role][at]++;
        break;
    case LP2P_HOLEPUNCH_DIRECT: {
        dm->ends[role][END_DIRECT]++;
        double s = (double)ev->relayed_to_direct_ms / 1000.0;
        size_t b = 0;
        while (b < NBUCKETS && s > k_buckets[b])
            b++;
        dm->hist[b]++;
        dm->hist_count++;
        dm->hist_sum += s;
        break;
    }
    case LP2P_HOLEPUNCH_GAVE_UP:
        dm->ends[role][END_GAVE_UP]++;
        break;
    case LP2P_HOLEPUNCH_SKIPPED:
        dm->ends[role][END_SKIPPED]++;
        break;
    }
}

static void on_connected(lp2p_conn *c, void *ud)
{
    daemon_metrics *dm = ud;
    int p = lp2p_conn_is_relayed(c) ? PATH_RELAYED : PATH_DIRECT, d = lp2p_conn_is_outbound(c);
    dm->conns_open[p][d]++;
    dm->conns_total[p][d]++;
}

static void on_disconnected(lp2p_conn *c, int reason, void *ud)
{
    (void)reason;
    daemon_metrics *dm = ud;
    int p = lp2p_conn_is_relayed(c) ? PATH_RELAYED : PATH_DIRECT, d = lp2p_conn_is_outbound(c);
    if (dm->conns_open[p][d])
        dm->conns_open[p][d]--;
    uint64_t in, out;
    lp2p_conn_payload_bytes(c, &in, &out);
    dm->bytes_closed[p][0] += in;
    dm->bytes_closed[p][1] += out;
}

void daemon_metrics_kaspa_event(daemon_metrics *dm, const kaspa_event *ev)
{
    if (!dm)
        return;
    if (ev->type == KASPA_EV_READY)
        dm->kaspa_ready++;
    else if (ev->type == KASPA_EV_REJECT)
        dm->kaspa_rejects[ev->u.reject.sent ? 1 : 0]++;
}

void daemon_metrics_kaspa_closed(daemon_metrics *dm, kaspa_peer *p, int err)
{
    if (!dm)
        return;
    dm->kaspa_ends[!kaspa_peer_session(p)    ? KEND_CONNECT_FAILED
                   : err == 0                ? KEND_CLEAN
                   : err == LP2P_ERR_TIMEOUT ? KEND_TIMEOUT
                                             : KEND_ERROR]++;
}

static void on_kaspa_event(void *user, kaspa_peer *p, const kaspa_event *ev)
{
    (void)p;
    daemon_metrics_kaspa_event(user, ev);
}

static void on_kaspa_closed(void *user, kaspa_peer *p, int err)
{
    daemon_metrics_kaspa_closed(user, p, err);
}

const kaspa_peer_callbacks DAEMON_METRICS_KASPA_CB = {.on_event = on_kaspa_event,
                                                      .on_closed = on_kaspa_closed};

static void render_kaspa(metrics_text *m, const daemon_metrics *dm)
{
    metrics_family(m, "holepunch_kaspa_sessions_ready_total", "counter",
                   "Kaspa sessions that reached Ready (handshake done both ways).");
    metrics_sample(m, "holepunch_kaspa_sessions_ready_total", NULL, 0, (double)dm->kaspa_ready);
    metrics_family(m, "holepunch_kaspa_sessions_ended_total", "counter",
                   "Kaspa sessions that ended, by how: clean, timeout, error, connect_failed "
                   "(a TCP dial that never connected).");
    for (int e = 0; e < NKENDS; e++) {
        const char *kv[] = {"reason", k_kend[e]};
        metrics_sample(m, "holepunch_kaspa_sessions_ended_total", kv, 1, (double)dm->kaspa_ends[e]);
    }
    metrics_family(m, "holepunch_kaspa_rejects_total", "counter",
                   "Kaspa Reject messages, sent by us or received from the peer.");
    for (int d = 0; d < 2; d++) {
        const char *kv[] = {"side", d ? "sent" : "received"};
        metrics_sample(m, "holepunch_kaspa_rejects_total", kv, 1, (double)dm->kaspa_rejects[d]);
    }
}

/* ---- rendering ---------------------------------------------------------------------------- */

/* A family by role and attempt. A has one attempt per exchange, B up to 3: only those series
 * are always there; "4+" (re-punches) appears once it happened. */
static void render_by_attempt(metrics_text *m, const char *name, const char *help,
                              const uint64_t v[NROLES][MAX_ATTEMPT_LABEL])
{
    static const char *const at_label[MAX_ATTEMPT_LABEL] = {"1", "2", "3", "4+"};
    metrics_family(m, name, "counter", help);
    for (int r = 0; r < NROLES; r++)
        for (int a = 0; a < MAX_ATTEMPT_LABEL; a++)
            if ((r == ROLE_B && a < 3) || a == 0 || v[r][a]) {
                const char *kv[] = {"role", k_role[r], "attempt", at_label[a]};
                metrics_sample(m, name, kv, 2, (double)v[r][a]);
            }
}

static void render_punch(metrics_text *m, const daemon_metrics *dm)
{
    render_by_attempt(m, "holepunch_punch_attempts_total",
                      "Hole-punch attempts started, by DCUtR role (b: we drove it, a: we dialed "
                      "through the relay) and attempt number.",
                      dm->attempts);
    render_by_attempt(m, "holepunch_punch_attempts_failed_total",
                      "Hole-punch attempts that failed (another may follow), by role and attempt.",
                      dm->failed);
    metrics_family(m, "holepunch_punch_outcomes_total", "counter",
                   "How hole punches ended, by role: direct, gave_up (the relay stays), "
                   "skipped (the peer does not speak DCUtR).");
    for (int r = 0; r < NROLES; r++)
        for (int e = 0; e < NENDS; e++) {
            const char *kv[] = {"role", k_role[r], "outcome", k_end[e]};
            metrics_sample(m, "holepunch_punch_outcomes_total", kv, 2, (double)dm->ends[r][e]);
        }
    const char *h = "holepunch_punch_relayed_to_direct_seconds";
    metrics_family(m, h, "histogram",
                   "Time from the relayed connection being ready to the direct one replacing it.");
    uint64_t cum = 0;
    char le[16];
    for (size_t b = 0; b <= NBUCKETS; b++) {
        cum += dm->hist[b];
        if (b < NBUCKETS)
            snprintf(le, sizeof(le), "%g", k_buckets[b]);
        const char *kv[] = {"le", b < NBUCKETS ? le : "+Inf"};
        metrics_sample(m, "holepunch_punch_relayed_to_direct_seconds_bucket", kv, 1, (double)cum);
    }
    metrics_sample(m, "holepunch_punch_relayed_to_direct_seconds_sum", NULL, 0, dm->hist_sum);
    metrics_sample(m, "holepunch_punch_relayed_to_direct_seconds_count", NULL, 0,
                   (double)dm->hist_count);
}

static void render_reservations(metrics_text *m, const daemon_metrics *dm);
static void render_memory(metrics_text *m, const daemon_metrics *dm);

static void render_conns(metrics_text *m, const daemon_metrics *dm)
{
    metrics_family(m, "holepunch_connections_open", "gauge",
                   "libp2p connections open now, by path (direct or relayed) and direction.");
    for (int p = 0; p < NPATHS; p++)
        for (int d = 0; d < 2; d++) {
            const char *kv[] = {"path", k_path[p], "direction", k_dir[d]};
            metrics_sample(m, "holepunch_connections_open", kv, 2, (double)dm->conns_open[p][d]);
        }
    metrics_family(m, "holepunch_connections_established_total", "counter",
                   "libp2p connections established (kept after duplicate resolution).");
    for (int p = 0; p < NPATHS; p++)
        for (int d = 0; d < 2; d++) {
            const char *kv[] = {"path", k_path[p], "direction", k_dir[d]};
            metrics_sample(m, "holepunch_connections_established_total", kv, 2,
                           (double)dm->conns_total[p][d]);
        }
    metrics_family(m, "holepunch_connection_bytes_total", "counter",
                   "Stream payload bytes on libp2p connections, by path and direction (a direct "
                   "connection to a relay carries the relayed connections' bytes too).");
    for (int p = 0; p < NPATHS; p++) {
        uint64_t live[2];
        lp2p_host_payload_bytes(dm->host, p == PATH_RELAYED, &live[0], &live[1]);
        for (int d = 0; d < 2; d++) {
            const char *kv[] = {"path", k_path[p], "direction", d ? "out" : "in"};
            metrics_sample(m, "holepunch_connection_bytes_total", kv, 2,
                           (double)(dm->bytes_closed[p][d] + live[d]));
        }
    }
    render_memory(m, dm);
    size_t configured = 0, held = lp2p_host_reservations_held(dm->host, &configured);
    if (configured) {
        metrics_family(m, "holepunch_reservations_held", "gauge",
                       "Relays on which we hold a reservation now (of holepunch_reservations_"
                       "configured).");
        metrics_sample(m, "holepunch_reservations_held", NULL, 0, (double)held);
        metrics_family(m, "holepunch_reservations_configured", "gauge",
                       "Relays we keep a reservation on (--relay).");
        metrics_sample(m, "holepunch_reservations_configured", NULL, 0, (double)configured);
        render_reservations(m, dm);
    }
}

/* The host's memory budget (--max-memory, --max-conn-memory): what streams hold now against
 * it, and how often it pushed back (a refused stream, a cut window grant). */
static void render_memory(metrics_text *m, const daemon_metrics *dm)
{
    lp2p_memory_info mi;
    lp2p_host_memory(dm->host, &mi);
    const struct {
        const char *name, *type, *help;
        double v;
    } rows[] = {
        {"holepunch_memory_budget_used_bytes", "gauge",
         "Bytes peers can make us hold now: receive windows granted and unread, and our "
         "queued output, over all streams.",
         (double)mi.used_bytes},
        {"holepunch_memory_budget_limit_bytes", "gauge",
         "The process's memory budget (--max-memory).", (double)mi.limit_bytes},
        {"holepunch_memory_budget_connection_limit_bytes", "gauge",
         "Each connection's memory budget (--max-conn-memory).", (double)mi.conn_limit_bytes},
        {"holepunch_memory_budget_starved_connections", "gauge",
         "Connections with a window grant withheld until the budget has room.",
         (double)mi.starved_conns},
        {"holepunch_memory_budget_streams_refused_total", "counter",
         "Inbound streams refused (reset) because a budget was spent.", (double)mi.streams_refused},
        {"holepunch_memory_budget_grants_cut_total", "counter",
         "Receive-window grants the budget cut or withheld.", (double)mi.grants_cut},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        metrics_family(m, rows[i].name, rows[i].type, rows[i].help);
        metrics_sample(m, rows[i].name, NULL, 0, rows[i].v);
    }
}

/* Per relay (label relay="<peer ID>"; one series per --relay, so the label set is bounded by
 * the configuration, never by peers). */
static void render_reservations(metrics_text *m, const daemon_metrics *dm)
{
    lp2p_reservation_info info[CLI_MAX_ADDRS];
    size_t n = lp2p_host_reservations(dm->host, info, CLI_MAX_ADDRS);
    if (n > CLI_MAX_ADDRS)
        n = CLI_MAX_ADDRS;
    metrics_family(m, "holepunch_reservation_held", "gauge",
                   "1 while a granted reservation on this relay is valid, else 0.");
    for (size_t i = 0; i < n; i++) {
        const char *kv[] = {"relay", info[i].relay};
        metrics_sample(m, "holepunch_reservation_held", kv, 1, info[i].held);
    }
    metrics_family(m, "holepunch_reservation_expiry_seconds", "gauge",
                   "Seconds until the reservation on this relay lapses unless refreshed (0 when "
                   "none is held).");
    for (size_t i = 0; i < n; i++) {
        const char *kv[] = {"relay", info[i].relay};
        metrics_sample(m, "holepunch_reservation_expiry_seconds", kv, 1,
                       (double)info[i].expires_in_ms / 1000.0);
    }
    metrics_family(m, "holepunch_reservation_failures", "gauge",
                   "RESERVE attempts on this relay that failed in a row (0 after a grant).");
    for (size_t i = 0; i < n; i++) {
        const char *kv[] = {"relay", info[i].relay};
        metrics_sample(m, "holepunch_reservation_failures", kv, 1, info[i].failures);
    }
}

/* process_* as the Prometheus client libraries name them, from /proc. */
static void render_process(metrics_text *m)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                     ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
        metrics_family(m, "process_cpu_seconds_total", "counter",
                       "User and system CPU time spent, in seconds.");
        metrics_sample(m, "process_cpu_seconds_total", NULL, 0, cpu);
    }
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long vsz = 0, rss = 0;
    if (f && fscanf(f, "%llu %llu", &vsz, &rss) == 2) {
        double page = (double)sysconf(_SC_PAGESIZE);
        metrics_family(m, "process_resident_memory_bytes", "gauge", "Resident memory in bytes.");
        metrics_sample(m, "process_resident_memory_bytes", NULL, 0, (double)rss * page);
        metrics_family(m, "process_virtual_memory_bytes", "gauge", "Virtual memory in bytes.");
        metrics_sample(m, "process_virtual_memory_bytes", NULL, 0, (double)vsz * page);
    }
    if (f)
        fclose(f);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        size_t n = 0;
        while (readdir(d))
            n++;
        closedir(d);
        metrics_family(m, "process_open_fds", "gauge", "Open file descriptors.");
        metrics_sample(m, "process_open_fds", NULL, 0,
                       (double)(n > 3 ? n - 3 : 0)); /* ., .., dir */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        metrics_family(m, "process_max_fds", "gauge", "Maximum open file descriptors.");
        metrics_sample(m, "process_max_fds", NULL, 0, (double)rl.rlim_cur);
    }
    /* start time = boot time (btime, /proc/stat) + field 22 of /proc/self/stat (ticks) */
    unsigned long long btime = 0, start = 0;
    char buf[1024];
    f = fopen("/proc/stat", "r");
    while (f && fgets(buf, sizeof(buf), f))
        if (sscanf(buf, "btime %llu", &btime) == 1)
            break;
    if (f)
        fclose(f);
    f = fopen("/proc/self/stat", "r");
    size_t got = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[got] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    int field = 2;
    for (; p && *p && field < 22; p++)
        if (*p == ' ')
            field++;
    if (p && btime && sscanf(p, "%llu", &start) == 1) {
        metrics_family(m, "process_start_time_seconds", "gauge",
                       "Start time of the process since the Unix epoch, in seconds.");
        metrics_sample(m, "process_start_time_seconds", NULL, 0,
                       (double)btime + (double)start / (double)sysconf(_SC_CLK_TCK));
    }
}

static void render(metrics_text *m, void *ud)
{
    daemon_metrics *dm = ud;
    metrics_family(m, "holepunch_build_info", "gauge", "Always 1; the version is the label.");
    metrics_value(m, "holepunch_build_info", "version", LP2P_VERSION, 1);
    render_process(m);
    if (dm->host) {
        render_punch(m, dm);
        render_conns(m, dm);
    }
    if (dm->relay)
        metrics_render_relay(m, dm->relay);
    if (dm->kaspa)
        render_kaspa(m, dm);
}

static const char *health(void *ud)
{
    daemon_metrics *dm = ud;
    const char *const *addrs;
    size_t configured = 0, held = 0;
    int listening = dm->other_listeners > 0;
    if (dm->host) {
        listening |= lp2p_host_listen_addrs(dm->host, &addrs) > 0;
        held = lp2p_host_reservations_held(dm->host, &configured);
    }
    if (configured && held == 0)
        return "no relay reservation held yet";
    if (!listening && configured == 0)
        return "not listening yet";
    return NULL;
}

/* ---- systemd readiness (sd_notify) --------------------------------------------------------
 *   not serving → STATUS=<reason>;  serving → READY=1 + STATUS=serving (once), WATCHDOG=1 at
 *   each tick after that when the unit has WatchdogSec. Without NOTIFY_SOCKET nothing runs. */
static void on_notify_timer(uv_timer_t *t)
{
    daemon_metrics *dm = t->data;
    const char *why = health(dm);
    const char *status = why ? why : "serving";
    if (status != dm->last_status) {
        char line[160];
        snprintf(line, sizeof(line), "STATUS=%s", status);
        sd_notify(0, line);
        dm->last_status = status;
    }
    if (!why && !dm->ready_sent) {
        sd_notify(0, "READY=1");
        dm->ready_sent = 1;
    } else if (dm->ready_sent && dm->watchdog_ms) {
        sd_notify(0, "WATCHDOG=1");
    }
    uint64_t next = !dm->ready_sent ? NOTIFY_POLL_MS
                    : dm->watchdog_ms && dm->watchdog_ms / 2 < NOTIFY_STEADY_MS
                        ? dm->watchdog_ms / 2
                        : NOTIFY_STEADY_MS;
    uv_timer_start(t, on_notify_timer, next, 0);
}

int daemon_metrics_start(uv_loop_t *loop, const char *cmd, const char *hostport,
                         daemon_metrics **out)
{
    *out = NULL;
    /* One daemon per process, and static: Kaspa peers may still report their end after the
     * daemon stopped (their on_closed runs while the loop drains), so this must outlive them. */
    static daemon_metrics g_dm;
    daemon_metrics *dm = &g_dm;
    memset(dm, 0, sizeof(*dm));
    dm->sub = -1;
    if (hostport) {
        /* A name (localhost:9100) is resolved once here, as for --kaspa-listen. */
        char ip[96], err[320];
        int r = hostport_resolve_now(hostport, AF_UNSPEC, 1, ip, sizeof(ip), err, sizeof(err));
        if (r == LP2P_ERR_NOT_FOUND) {
            fprintf(stderr, "holepunch %s: --metrics-listen %s: %s\n", cmd, hostport, err);
            return r;
        }
        int rc = metrics_server_start(loop, r == 0 ? ip : hostport, render, dm, &dm->srv);
        if (rc < 0) {
            fprintf(stderr, "holepunch %s: --metrics-listen %s: %s\n", cmd, hostport,
                    rc == LP2P_ERR_INVAL ? "want HOST:PORT, e.g. 127.0.0.1:9100"
                                         : "cannot serve there (address in use?)");
            return rc;
        }
        metrics_server_set_health(dm->srv, health);
    }
    const char *ns = getenv("NOTIFY_SOCKET");
    dm->notifying = ns && *ns;
    uint64_t usec = 0;
    if (dm->notifying && sd_watchdog_enabled(0, &usec) > 0)
        dm->watchdog_ms = usec / 1000;
    uv_timer_init(loop, &dm->notify_timer);
    dm->notify_timer.data = dm;
    if (dm->notifying)
        uv_timer_start(&dm->notify_timer, on_notify_timer, 0, 0);
    *out = dm;
    return 0;
}

void daemon_metrics_watch_host(daemon_metrics *dm, lp2p_host *h)
{
    if (!dm || !h)
        return;
    const lp2p_host_callbacks cb = {.on_connected = on_connected,
                                    .on_disconnected = on_disconnected,
                                    .on_holepunch = on_holepunch};
    dm->host = h;
    dm->sub = lp2p_host_subscribe(h, &cb, dm);
}

void daemon_metrics_watch_relay(daemon_metrics *dm, const lp2p_relay_server *r)
{
    if (dm)
        dm->relay = r;
}

void daemon_metrics_watch_kaspa(daemon_metrics *dm)
{
    if (dm)
        dm->kaspa = 1;
}

void daemon_metrics_listener_up(daemon_metrics *dm)
{
    if (dm)
        dm->other_listeners++;
}

void daemon_metrics_stop(daemon_metrics *dm)
{
    if (!dm)
        return;
    if (dm->host && dm->sub >= 0)
        lp2p_host_unsubscribe(dm->host, dm->sub);
    if (dm->ready_sent)
        sd_notify(0, "STOPPING=1");
    metrics_server_stop(dm->srv);
    dm->srv = NULL;
    dm->host = NULL;
    uv_close((uv_handle_t *)&dm->notify_timer, NULL);
}
