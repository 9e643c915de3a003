/* holepunch relay: a public Circuit Relay v2 server (hop side), with identify
 * and ping from the host and an optional Prometheus endpoint. The relay only
 * coordinates: circuits are limited (2 min, 128 KiB per direction by default)
 * so traffic moves to the punched connection. */
#include "cli.h"
#include "cmds.h"
#include "metrics.h"
#include "lp2p/relay_server.h"

#include "lp2p/err.h"
#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_help =
    "usage: holepunch relay --listen MULTIADDR [--listen ...] [options]\n\n"
    "Serves /libp2p/circuit/relay/0.2.0/hop (Circuit Relay v2): peers reserve "
    "a slot, others\n"
    "reach them through /p2p-circuit. Circuits are cut at the data or duration "
    "limit.\n"
    "Defaults follow go-/rust-libp2p. DUR is e.g. 90s, 2m, 1h (bare number: "
    "seconds);\n"
    "SIZE is bytes with optional K/M/G; RATE is BURST/DUR (a token back every "
    "DUR).\n\n"
    "Options:\n"
    "  --listen MA                   e.g. /ip4/0.0.0.0/tcp/4001 (repeatable)\n"
    "  --announce MA                 public address handed out in reservations "
    "(repeatable;\n"
    "                                default: the listen addresses)\n"
    "  --max-reservations N          128\n"
    "  --reservation-ttl DUR         1h\n"
    "  --max-reservations-per-peer N 4\n"
    "  --max-reservations-per-ip N   8\n"
    "  --max-circuits N              1024 (in total)\n"
    "  --max-circuits-per-peer N     16\n"
    "  --circuit-duration DUR        2m (0: none)\n"
    "  --circuit-data SIZE           128K per direction (0: none)\n"
    "  --connect-timeout DUR         30s for the target's answer to stop "
    "CONNECT\n"
    "  --stream-timeout DUR          60s for a hop stream to send its request\n"
    "  --reserve-rate-peer RATE      30/2m\n"
    "  --reserve-rate-ip RATE        60/1m\n"
    "  --connect-rate-peer RATE      30/2m\n"
    "  --connect-rate-ip RATE        60/1m\n"
    "  --max-connections N           256 libp2p connections in all (reservations, dialers)\n"
    "  --max-connections-per-ip N    32 inbound connections from one IP address (0: no cap)\n"
    "  --metrics-listen HOST:PORT    Prometheus text at http://HOST:PORT/metrics\n\n";

typedef struct relay_app {
    uv_loop_t *loop;
    lp2p_host *host;
    lp2p_relay_server *svc;
    metrics_server *metrics;
} relay_app;

/* ---- flag values
 * ---------------------------------------------------------------------------
 */

/* "90s", "2m", "1h", "500ms", "1.5h"; a bare number is seconds. -1 on error. */
static int64_t parse_duration_ms(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    double mul = 1000;
    if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "s") == 0 || *end == 0)
        mul = 1000;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mul = 60 * 1000;
    else if (strcmp(end, "h") == 0)
        mul = 3600 * 1000;
    else
        return -1;
    double ms = v * mul;
    return ms > 1e15 ? -1 : (int64_t)ms;
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* BURST/DUR */
static int parse_rate(const char *s, uint32_t *burst, uint64_t *interval_ms)
{
    char tmp[64];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, (size_t)(slash - s));
    tmp[slash - s] = 0;
    int64_t d = parse_duration_ms(slash + 1);
    if (parse_u32(tmp, burst) < 0 || d <= 0)
        return -1;
    *interval_ms = (uint64_t)d;
    return 0;
}

typedef enum { F_U32, F_DUR, F_SIZE, F_RATE } flag_kind;
typedef struct relay_flag {
    const char *name;
    flag_kind kind;
    size_t off, off2; /* into lp2p_relay_config (off2: the rate's interval) */
} relay_flag;

#define CFG(f) offsetof(lp2p_relay_config, f)
static const relay_flag k_flags[] = {
    {"--max-reservations", F_U32, CFG(max_reservations), 0},
    {"--reservation-ttl", F_DUR, CFG(reservation_ttl_ms), 0},
    {"--max-reservations-per-peer", F_U32, CFG(max_reservations_per_peer), 0},
    {"--max-reservations-per-ip", F_U32, CFG(max_reservations_per_ip), 0},
    {"--max-circuits", F_U32, CFG(max_circuits), 0},
    {"--max-circuits-per-peer", F_U32, CFG(max_circuits_per_peer), 0},
    {"--circuit-duration", F_DUR, CFG(circuit_duration_ms), 0},
    {"--circuit-data", F_SIZE, CFG(circuit_data), 0},
    {"--connect-timeout", F_DUR, CFG(connect_timeout_ms), 0},
    {"--reserve-rate-peer", F_RATE, CFG(reserve_burst_peer), CFG(reserve_interval_peer_ms)},
    {"--reserve-rate-ip", F_RATE, CFG(reserve_burst_ip), CFG(reserve_interval_ip_ms)},
    {"--connect-rate-peer", F_RATE, CFG(connect_burst_peer), CFG(connect_interval_peer_ms)},
    {"--connect-rate-ip", F_RATE, CFG(connect_burst_ip), CFG(connect_interval_ip_ms)},
};

/* 1 = consumed (2 args), 0 = not ours, -1 = bad value (printed). */
static int parse_relay_flag(lp2p_relay_config *cfg, int argc, char **argv, int i)
{
    for (size_t k = 0; k < sizeof(k_flags) / sizeof(k_flags[0]); k++) {
        const relay_flag *f = &k_flags[k];
        if (strcmp(argv[i], f->name) != 0)
            continue;
        if (i + 1 >= argc) {
            fprintf(stderr, "holepunch relay: %s needs a value\n", f->name);
            return -1;
        }
        const char *v = argv[i + 1];
        char *base = (char *)cfg;
        int ok = 0;
        switch (f->kind) {
        case F_U32:
            ok = parse_u32(v, (uint32_t *)(base + f->off)) == 0;
            break;
        case F_DUR: {
            int64_t d = parse_duration_ms(v);
            if ((ok = d >= 0))
                *(uint64_t *)(base + f->off) = (uint64_t)d;
            break;
        }
        case F_SIZE: {
            long long n = cli_parse_size(v);
            if ((ok = n >= 0))
                *(uint64_t *)(base + f->off) = (uint64_t)n;
            break;
        }
        case F_RATE:
            ok = parse_rate(v, (uint32_t *)(base + f->off), (uint64_t *)(base + f->off2)) == 0;
            break;
        }
        if (!ok) {
            fprintf(stderr, "holepunch relay: bad value '%s' for %s (see --help)\n", v, f->name);
            return -1;
        }
        return 1;
    }
    return 0;
}

static void render_metrics(metrics_text *m, void *ud)
{
    relay_app *a = ud;
    metrics_render_relay(m, a->svc);
}

/* ---- command
 * -------------------------------------------------------------------------------
 */

static void on_stop(void *ud)
{
    relay_app *a = ud;
    metrics_server_stop(a->metrics);
    a->metrics = NULL;
    lp2p_relay_server_close(a->svc);
    a->svc = NULL;
    lp2p_host_close(a->host);
    a->host = NULL;
    cli_signals_close();
}

int cmd_relay(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    lp2p_relay_server_config rc_cfg;
    lp2p_relay_server_config_default(&rc_cfg);
    const char *announce[CLI_MAX_ADDRS];
    size_t nannounce = 0;
    const char *metrics_listen = NULL;
    uint32_t max_conns = 0; /* 0: the host's default */
    uint32_t max_conns_per_ip = 32;
    for (int i = 1; i < argc;) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(k_help, stdout);
            fputs(CLI_COMMON_HELP, stdout);
            cli_common_free(&c);
            return 0;
        }
        int takes_value = i + 1 < argc;
        if (strcmp(argv[i], "--announce") == 0 && takes_value) {
            if (nannounce == CLI_MAX_ADDRS) {
                fprintf(stderr, "holepunch relay: at most %d --announce addresses\n",
                        CLI_MAX_ADDRS);
                goto usage;
            }
            announce[nannounce++] = argv[i + 1];
            i += 2;
            continue;
        }
        if (strcmp(argv[i], "--metrics-listen") == 0 && takes_value) {
            metrics_listen = argv[i + 1];
            i += 2;
            continue;
        }
        if (strcmp(argv[i], "--max-connections-per-ip") == 0 && takes_value) {
            if (parse_u32(argv[i + 1], &max_conns_per_ip) < 0) {
                fprintf(stderr, "holepunch relay: bad --max-connections-per-ip '%s'\n",
                        argv[i + 1]);
                goto usage;
            }
            i += 2;
            continue;
        }
        if (strcmp(argv[i], "--max-connections") == 0 && takes_value) {
            if (parse_u32(argv[i + 1], &max_conns) < 0 || max_conns == 0) {
                fprintf(stderr, "holepunch relay: bad --max-connections '%s'\n", argv[i + 1]);
                goto usage;
            }
            i += 2;
            continue;
        }
        if (strcmp(argv[i], "--stream-timeout") == 0 && takes_value) {
            int64_t d = parse_duration_ms(argv[i + 1]);
            if (d <= 0) {
                fprintf(stderr, "holepunch relay: bad --stream-timeout '%s'\n", argv[i + 1]);
                goto usage;
            }
            rc_cfg.stream_timeout_ms = (uint64_t)d;
            i += 2;
            continue;
        }
        int n = parse_relay_flag(&rc_cfg.limits, argc, argv, i);
        if (n < 0)
            goto usage;
        if (n > 0) {
            i += 2;
            continue;
        }
        n = cli_parse_common(&c, argc, argv, i);
        if (n < 0)
            goto usage;
        if (n == 0) {
            fprintf(stderr, "holepunch relay: unknown option '%s' (see --help)\n", argv[i]);
            goto usage;
        }
        i += n;
    }
    if (cli_common_finish(&c, "relay") < 0)
        goto usage;
    if (c.nrelay > 0 && getenv("LIBP2P_RELAY_MULTIADDRS") == NULL) {
        fprintf(stderr, "holepunch relay: --relay is for peers that reserve on a relay; "
                        "a relay does not reserve elsewhere\n");
        goto usage;
    }
    if (c.nlisten == 0) {
        fprintf(stderr, "holepunch relay: give at least one --listen MULTIADDR "
                        "(or set LIBP2P_LISTEN_MULTIADDRS)\n");
        goto usage;
    }
    rc_cfg.announce = announce;
    rc_cfg.nannounce = nannounce;

    lp2p_keypair *kp = cli_load_key(&c, 1);
    if (!kp) {
        cli_common_free(&c);
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    relay_app app = {.loop = &loop};
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &loop, kp);
    if (max_conns)
        hc.max_conns = max_conns;
    hc.max_conns_per_ip = max_conns_per_ip;
    /* A paused circuit side can still deliver one window: keep that below max_buffered. */
    hc.max_stream_window = 1u << 20;
    int exit_code = 0;
    int rc = lp2p_host_new(&hc, &app.host);
    if (rc < 0) {
        fprintf(stderr, "holepunch relay: %s\n", lp2p_strerror(rc));
        exit_code = 1;
        goto done;
    }
    size_t ok = cli_listen_all(app.host, &c);
    if (ok == 0) {
        fprintf(stderr, "holepunch relay: could not listen on any address\n");
        exit_code = 1;
    } else if ((rc = lp2p_relay_server_new(app.host, kp, &rc_cfg, &app.svc)) < 0) {
        fprintf(stderr, "holepunch relay: %s\n", lp2p_strerror(rc));
        exit_code = 1;
    } else if (metrics_listen && (rc = metrics_server_start(&loop, metrics_listen, render_metrics,
                                                            &app, &app.metrics)) < 0) {
        fprintf(stderr, "holepunch relay: --metrics-listen %s: %s\n", metrics_listen,
                lp2p_strerror(rc));
        exit_code = 1;
    }
    if (exit_code) {
        lp2p_relay_server_close(app.svc);
        app.svc = NULL;
        lp2p_host_close(app.host);
        app.host = NULL;
    } else {
        lp2p_log(LP2P_INFO, "relay_started",
                 LF_U("max_reservations", rc_cfg.limits.max_reservations),
                 LF_U("reservation_ttl_s", rc_cfg.limits.reservation_ttl_ms / 1000),
                 LF_U("circuit_duration_s", rc_cfg.limits.circuit_duration_ms / 1000),
                 LF_U("circuit_data", rc_cfg.limits.circuit_data));
        cli_on_signal(&loop, on_stop, &app);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
done:
    cli_host_shutdown(&loop, app.host);
    uv_loop_close(&loop);
    lp2p_keypair_del(kp);
    cli_common_free(&c);
    return exit_code;
usage:
    cli_common_free(&c);
    return 2;
}
