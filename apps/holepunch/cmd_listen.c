/* holepunch listen: a libp2p peer serving identify, ping, perf and /echo/1.0.0. */
#include "cli.h"
#include "cmds.h"
#include "metrics_daemon.h"

#include "lp2p/err.h"
#include "lp2p/log.h"

#include <stdio.h>
#include <string.h>

static const char *const k_help =
    "usage: holepunch listen --listen MULTIADDR [--listen MULTIADDR ...] [options]\n\n"
    "Serves identify, ping, /perf/1.0.0 and /echo/1.0.0 (every byte echoed until EOF).\n"
    "Listen addresses may also come from LIBP2P_LISTEN_MULTIADDRS (comma or semicolon\n"
    "separated). Port 0 picks a free port; the `listening` event shows the address.\n\n"
    "Options:\n"
    "  --listen MA           e.g. /ip4/0.0.0.0/tcp/4001 (repeatable)\n"
    "  --relay MA            keep a reservation on this relay (/ip4/…/tcp/…/p2p/<relay>,\n"
    "                        /dns4/NAME/tcp/…/p2p/<relay> or /dnsaddr/NAME/p2p/<relay>;\n"
    "                        repeatable, or LIBP2P_RELAY_MULTIADDRS) and serve through it\n"
    "  --reserve-backoff-max DUR  longest wait between RESERVE attempts after a failure\n"
    "                        (backoff from 1 s with jitter; default 20s)\n"
    "  --no-perf             do not serve /perf/1.0.0\n" DAEMON_METRICS_HELP "\n";

static const char *const k_examples =
    "  holepunch listen --listen /ip4/0.0.0.0/tcp/4001\n"
    "  holepunch listen --listen=/ip4/0.0.0.0/tcp/0 --no-perf \\\n"
    "      --relay=/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWRelay...\n";

typedef struct listen_app {
    uv_loop_t *loop;
    lp2p_host *host;
    daemon_metrics *metrics;
} listen_app;

static void on_stop(void *ud)
{
    listen_app *a = ud;
    daemon_metrics_stop(a->metrics);
    a->metrics = NULL;
    lp2p_host_close(a->host);
    a->host = NULL;
    cli_signals_close();
}

int cmd_listen(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    int no_perf = 0;
    const char *metrics_listen = NULL;
    const cli_flag flags[] = {
        {"--no-perf", CLI_BOOL, &no_perf, NULL, 0, NULL, NULL},
        DAEMON_METRICS_FLAG(metrics_listen),
        {NULL, 0, NULL, NULL, 0, NULL, NULL},
    };
    c.examples = k_examples;
    int pr = cli_parse_flags(&c, argc, argv, "listen", k_help, flags);
    if (pr > 0) {
        cli_common_free(&c);
        return 0;
    }
    if (pr < 0)
        goto usage;
    if (c.nlisten == 0) {
        fprintf(stderr, "holepunch listen: give at least one --listen MULTIADDR "
                        "(or set LIBP2P_LISTEN_MULTIADDRS)\n");
        goto usage;
    }
    lp2p_keypair *kp = cli_load_key(&c, 1);
    if (!kp) {
        cli_common_free(&c);
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    listen_app app = {.loop = &loop};
    lp2p_host_config hc;
    lp2p_host_config_default(&hc, &loop, kp);
    int exit_code = cli_host_new(&c, &hc, "listen", &app.host);
    if (exit_code == 0) {
        lp2p_host_serve_echo(app.host);
        if (!no_perf)
            lp2p_host_serve_perf(app.host);
    }
    if (exit_code == 0 && (exit_code = cli_listen_or_fail(app.host, &c, "listen")) == 0 &&
        daemon_metrics_start(&loop, "listen", metrics_listen, &app.metrics) < 0)
        exit_code = 1;
    if (exit_code) {
        lp2p_host_close(app.host);
        app.host = NULL;
    } else if (cli_reserve_all(app.host, &c, "listen") < 0) {
        lp2p_host_close(app.host);
        app.host = NULL;
        exit_code = 2;
    } else {
        daemon_metrics_watch_host(app.metrics, app.host);
        cli_on_signal(&loop, on_stop, &app);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    cli_host_shutdown(&loop, app.host);
    uv_loop_close(&loop);
    lp2p_keypair_del(kp);
    cli_common_free(&c);
    return exit_code;
usage:
    cli_common_free(&c);
    return 2;
}
