/* Abusive and bulk clients of a Circuit Relay v2 server (`holepunch relay`, or any relay),
 * speaking the hop/stop protocol by hand over the host API, so that every status the relay
 * sends is counted and no client-side retry hides it:
 *
 *   bench_relay reserve  RELAY N   N fresh identities (one host and connection each) send
 *                                  hop RESERVE; --no-reserve: connect only (baseline)
 *   bench_relay connect  RELAY N   N hop CONNECTs to --target ID (default: a fresh peer ID
 *                                  that holds no reservation) over --peers connections
 *   bench_relay circuits RELAY N   --targets T identities reserve and answer every stop
 *                                  CONNECT with OK, then echo; N hop CONNECTs to them over
 *                                  --peers connections; a circuit counts as ok once a 16-byte
 *                                  probe came back through it. Circuits stay open (--hold).
 *   bench_relay half-open RELAY N  N hop streams that never finish a message: even ones send
 *                                  nothing, odd ones 4095 bytes of a 4096-byte message; waits
 *                                  until the relay closes or resets each of them
 *   bench_relay oversize RELAY N   N hop messages over the 4 KiB cap (a 4097-byte message, a
 *                                  1 GiB prefix with 1000 bytes, a 5000-byte prefix alone);
 *                                  each must be answered with MALFORMED_MESSAGE
 *   bench_relay perf ADDR BYTES    /perf/1.0.0 to ADDR (e.g. <relay>/p2p-circuit/p2p/<id>):
 *                                  one stream uploads BYTES, then one downloads BYTES, timed
 *                                  from stream open to the server's EOF; this host does not
 *                                  serve DCUtR, so the listener never starts a hole punch on
 *                                  the relayed connection (`holepunch perf` stalls now and
 *                                  then while one runs). Prints {"event":"relay_perf",...}
 *
 * RELAY is /ip4/…/tcp/…/p2p/<relay id>. Options:
 *   --peers P        connections (identities) that carry the ops (default: N for reserve,
 *                    else enough for <= 256 streams each)
 *   --ip A.B.C.D     hosts listen on this address (dials then come from it: the relay's
 *                    per-IP limits see it); --ips K spreads the hosts over K consecutive
 *                    addresses from A.B.C.D
 *   --targets T      circuits: target identities (default 1)
 *   --hold S         after the last op: print the result, keep everything open S seconds
 *                    (or until SIGTERM/SIGINT); default 0
 *   --timeout S      give up after S seconds (default 60): the result says timed_out
 *
 * Prints one JSON line: {"event":"bench_relay","mode","n","ok","status":{NAME:count},
 * "reset","closed_no_status","pending","seconds",...}. Exit 0 when every op finished (a status
 * read, or the stream closed) before the timeout, 1 otherwise, 2 on usage. */
#include <signal.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lp2p/err.h"
#include "lp2p/host.h"
#include "lp2p/identity.h"
#include "proto/perf.h"
#include "proto/relay_msg.h"
#include "util/buf.h"
#include "util/log.h"
#include "wire/lpm.h"

#define MAX_HOSTS   100000 /* identities; each costs one fd (two with --ip) */
#define STREAMS_PER 256    /* default ops per connection (the relay allows 512 streams each) */
#define PROBE       "relay-probe-0123"
/* source dials in flight at once: 10,000 simultaneous SYNs overflow the relay's accept
 * backlog and the kernel resets the excess, which measures the backlog, not the relay */
#define DIAL_WINDOW 256
#define PROBE_LEN   16

typedef enum mode { M_RESERVE, M_CONNECT, M_CIRCUITS, M_HALF_OPEN, M_OVERSIZE, M_PERF } mode;

struct bench;

typedef struct op {
    struct bench *b;
    size_t idx;
    size_t host;
    int is_target_rsv; /* circuits: a target's own RESERVE */
    lp2p_stream *s;
    lp2p_lpm lpm;
    int status; /* 0 = none read yet */
    int done;   /* counted in b->ndone */
    int live;   /* circuits: status OK, probe being echoed */
    size_t echo_got;
    uint64_t t_open;
} op;

typedef struct hostctx {
    struct bench *b;
    size_t idx;
    lp2p_keypair *key;
    lp2p_host *h;
    lp2p_conn *relay;
    int dialed;
} hostctx;

typedef struct stopctx {
    lp2p_lpm lpm;
    int answered;
} stopctx;

typedef struct bench {
    mode mode;
    uv_loop_t loop;
    const char *relay;
    long n;
    size_t npeers, ntargets, nhosts;
    size_t next_source, dialing; /* sources: the next to dial, dials in flight */
    hostctx *hosts;              /* ntargets + npeers of them */
    op *ops;
    size_t ntargets_ok, nconnected;
    long ndone;
    int no_reserve;
    lp2p_peer_id target_id;
    int has_target;
    const char *ip;
    unsigned nips;
    double hold_s, timeout_s;
    uv_timer_t limit, hold;
    uv_signal_t sigterm, sigint;
    uint64_t t0;
    double secs;
    int finished, timed_out, failed, held;
    /* results */
    long status_count[1000];
    long resets, closed_no_status, ok, probe_bad;
    double close_ms_min, close_ms_max;
    long stop_connects; /* circuits: stop CONNECTs our targets answered */
    /* perf */
    lp2p_stream *ps;
    lp2p_conn *pconn;
    lp2p_perf_client perf;
    int phase;
    uint64_t t_phase;
    double up_MBps, down_MBps;
} bench;

static double since_s(uint64_t t0)
{
    return (double)(uv_hrtime() - t0) / 1e9;
}

static void finish(bench *b);
static void report(bench *b);
static void on_hold_end(uv_timer_t *t);

/* ---- op bookkeeping ------------------------------------------------------------------- */

static long target_ops(const bench *b)
{
    return b->mode == M_RESERVE && b->no_reserve ? 0 : b->n;
}

static void check_all_done(bench *b)
{
    if (b->finished || b->held)
        return;
    int all = b->mode == M_RESERVE && b->no_reserve ? b->nconnected == b->npeers
                                                    : b->ndone == target_ops(b);
    if (!all)
        return;
    b->secs = since_s(b->t0);
    if (b->hold_s > 0) {
        b->held = 1;
        report(b);
        uv_timer_stop(&b->limit);
        uv_timer_start(&b->hold, on_hold_end, (uint64_t)(b->hold_s * 1000), 0);
        return;
    }
    finish(b);
}

static void op_done(op *o)
{
    if (o->done)
        return;
    o->done = 1;
    if (!o->is_target_rsv)
        o->b->ndone++;
    check_all_done(o->b);
}

/* ---- hop streams (our side of RESERVE / CONNECT / the abuse) ----------------------------- */

static void start_sources(bench *b);

static void on_status(op *o, int status)
{
    bench *b = o->b;
    o->status = status;
    if (o->is_target_rsv) {
        if (status != LP2P_RELAY_STATUS_OK) {
            fprintf(stderr, "bench_relay: target reservation refused: %s\n",
                    lp2p_relay_status_name(status));
            b->failed = 1;
            finish(b);
            return;
        }
        lp2p_stream_close(o->s);
        if (++b->ntargets_ok == b->ntargets)
            start_sources(b);
        return;
    }
    b->status_count[status >= 0 && status < 1000 ? status : 0]++;
    if (b->mode == M_CIRCUITS && status == LP2P_RELAY_STATUS_OK) {
        o->live = 1;
        lp2p_stream_write(o->s, PROBE, PROBE_LEN);
        return; /* done once the probe is back */
    }
    if (status == LP2P_RELAY_STATUS_OK)
        b->ok++;
    if (b->mode == M_RESERVE || status != LP2P_RELAY_STATUS_OK)
        lp2p_stream_close(o->s);
    op_done(o);
}

static void hop_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    op *o = ud;
    bench *b = o->b;
    if (b->finished)
        return;
    if (o->live) {
        for (size_t i = 0; i < n && o->echo_got < PROBE_LEN; i++)
            if (p[i] != (uint8_t)PROBE[o->echo_got++])
                b->probe_bad++;
        if (o->echo_got == PROBE_LEN && !o->done) {
            b->ok++;
            op_done(o);
        }
        return;
    }
    if (o->status)
        return; /* nothing more is expected before the relay closes */
    size_t used = 0;
    lp2p_view msg;
    int rc = lp2p_lpm_read(&o->lpm, p, n, &used, &msg);
    if (rc == 0)
        return;
    lp2p_relay_msg m;
    if (rc < 0 || lp2p_relay_msg_decode(LP2P_RELAY_HOP, msg.ptr, msg.len, &m) < 0) {
        fprintf(stderr, "bench_relay: undecodable hop reply\n");
        on_status(o, 999);
        return;
    }
    int st = m.has_status ? m.status : 998;
    lp2p_relay_msg_free(&m);
    on_status(o, st);
    if (o->live && used < n) /* bytes after STATUS OK: the echo already */
        hop_data(s, p + used, n - used, ud);
}

static void hop_close(lp2p_stream *s, int err, void *ud)
{
    op *o = ud;
    bench *b = o->b;
    o->s = NULL;
    if (b->finished)
        return;
    double ms = since_s(o->t_open) * 1e3;
    if (!o->status) {
        if (err == LP2P_ERR_RESET)
            b->resets++;
        else
            b->closed_no_status++;
        if (b->close_ms_min == 0 || ms < b->close_ms_min)
            b->close_ms_min = ms;
        if (ms > b->close_ms_max)
            b->close_ms_max = ms;
    }
    if (o->is_target_rsv && !o->status) {
        fprintf(stderr, "bench_relay: target reservation stream closed: %s\n", lp2p_strerror(err));
        b->failed = 1;
        finish(b);
        return;
    }
    op_done(o);
}

static const lp2p_stream_callbacks k_hop_cb = {.on_data = hop_data, .on_close = hop_close};

/* The bytes an op sends once its hop stream is open. */
static int op_request(bench *b, op *o, lp2p_buf *out)
{
    lp2p_relay_msg m = {.kind = LP2P_RELAY_HOP};
    if (o->is_target_rsv || b->mode == M_RESERVE) {
        m.type = LP2P_RELAY_RESERVE;
        return lp2p_relay_msg_encode(&m, out);
    }
    if (b->mode == M_CONNECT || b->mode == M_CIRCUITS) {
        const lp2p_peer_id *t = b->mode == M_CIRCUITS
                                    ? lp2p_keypair_peer_id(b->hosts[o->idx % b->ntargets].key)
                                    : &b->target_id;
        m.type = LP2P_RELAY_CONNECT;
        m.has_peer = 1;
        m.peer_id = lp2p_view_make(t->bytes, t->len);
        return lp2p_relay_msg_encode(&m, out);
    }
    static uint8_t junk[5000];
    if (b->mode == M_HALF_OPEN) {
        if (o->idx % 2 == 0)
            return 0; /* nothing at all */
        lp2p_buf_append_uvarint(out, LP2P_RELAY_MSG_MAX);
        return lp2p_buf_append(out, junk, LP2P_RELAY_MSG_MAX - 1);
    }
    /* oversize */
    switch (o->idx % 3) {
    case 0:
        lp2p_buf_append_uvarint(out, LP2P_RELAY_MSG_MAX + 1);
        return lp2p_buf_append(out, junk, LP2P_RELAY_MSG_MAX + 1);
    case 1:
        lp2p_buf_append_uvarint(out, 1u << 30);
        return lp2p_buf_append(out, junk, 1000);
    default:
        return lp2p_buf_append_uvarint(out, 5000);
    }
}

static void op_start(bench *b, op *o, lp2p_conn *c)
{
    lp2p_lpm_init(&o->lpm, LP2P_RELAY_MSG_MAX);
    o->t_open = uv_hrtime();
    if (lp2p_conn_open_stream(c, LP2P_RELAY_HOP_PROTO, &k_hop_cb, o, &o->s) < 0) {
        o->s = NULL;
        b->closed_no_status++;
        op_done(o);
        return;
    }
    lp2p_buf out;
    lp2p_buf_init(&out);
    if (op_request(b, o, &out) < 0 ||
        (lp2p_buf_size(&out) &&
         lp2p_stream_write(o->s, lp2p_buf_head(&out), lp2p_buf_size(&out)) < 0))
        lp2p_stream_reset(o->s);
    lp2p_buf_free(&out);
}

/* ---- the target side of circuits: answer stop CONNECT with OK, then echo ------------------ */

static void stop_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    stopctx *st = ud;
    if (st->answered) {
        lp2p_stream_write(s, p, n);
        return;
    }
    size_t used = 0;
    lp2p_view msg;
    int rc = lp2p_lpm_read(&st->lpm, p, n, &used, &msg);
    if (rc == 0)
        return;
    lp2p_buf out;
    lp2p_buf_init(&out);
    lp2p_relay_msg m;
    if (rc < 0 || lp2p_relay_msg_decode(LP2P_RELAY_STOP, msg.ptr, msg.len, &m) < 0) {
        lp2p_stream_reset(s);
        lp2p_buf_free(&out);
        return;
    }
    int is_connect = m.type == LP2P_RELAY_CONNECT;
    lp2p_relay_msg_free(&m);
    lp2p_relay_msg_encode_status(
        LP2P_RELAY_STOP, is_connect ? LP2P_RELAY_STATUS_OK : LP2P_RELAY_STATUS_UNEXPECTED_MESSAGE,
        &out);
    lp2p_stream_write(s, lp2p_buf_head(&out), lp2p_buf_size(&out));
    lp2p_buf_free(&out);
    st->answered = is_connect;
    if (!is_connect) {
        lp2p_stream_close(s);
        return;
    }
    if (used < n)
        lp2p_stream_write(s, p + used, n - used);
}

static void stop_eof(lp2p_stream *s, void *ud)
{
    lp2p_stream_close(s);
}

static void stop_close(lp2p_stream *s, int err, void *ud)
{
    stopctx *st = ud;
    lp2p_lpm_free(&st->lpm);
    free(st);
}

static const lp2p_stream_callbacks k_stop_io = {
    .on_data = stop_data, .on_eof = stop_eof, .on_close = stop_close};

static void stop_open(lp2p_stream *s, void *ud)
{
    bench *b = ud;
    stopctx *st = calloc(1, sizeof(*st));
    if (!st) {
        lp2p_stream_reset(s);
        return;
    }
    b->stop_connects++;
    lp2p_lpm_init(&st->lpm, LP2P_RELAY_MSG_MAX);
    lp2p_stream_set_callbacks(s, &k_stop_io, st);
}

static const lp2p_stream_callbacks k_stop_handler = {.on_open = stop_open};

/* ---- perf through the circuit ------------------------------------------------------------- */

#define WRITE_HIGH (1u << 20) /* as `holepunch perf`: refill when less is pending */

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static void perf_start(bench *b);

static void perf_pump(bench *b)
{
    lp2p_view chunk;
    while (b->ps) {
        switch (lp2p_perf_client_next(&b->perf, &chunk)) {
        case LP2P_PERF_WRITE:
            if (lp2p_stream_pending(b->ps) >= WRITE_HIGH)
                return;
            if (lp2p_stream_write(b->ps, chunk.ptr, chunk.len) < 0) {
                b->failed = 1;
                finish(b);
                return;
            }
            lp2p_perf_client_sent(&b->perf, chunk.len, now_ms());
            break;
        case LP2P_PERF_CLOSE_WRITE:
            lp2p_stream_close(b->ps);
            lp2p_perf_client_write_closed(&b->perf, now_ms());
            break;
        default:
            return;
        }
    }
}

static void perf_data(lp2p_stream *s, const uint8_t *p, size_t n, void *ud)
{
    bench *b = ud;
    if (lp2p_perf_client_recv(&b->perf, p, n, now_ms()) < 0) {
        b->failed = 1;
        finish(b);
    }
}

static void perf_writable(lp2p_stream *s, void *ud)
{
    perf_pump(ud);
}

static void perf_eof(lp2p_stream *s, void *ud)
{
    bench *b = ud;
    double secs = since_s(b->t_phase);
    if (lp2p_perf_client_eof(&b->perf, now_ms()) < 0) {
        fprintf(stderr, "bench_relay: perf server sent fewer bytes than asked\n");
        b->failed = 1;
        finish(b);
        return;
    }
    if (b->phase == 0) {
        b->up_MBps = (double)b->perf.uploaded / secs / 1e6;
        b->phase = 1;
        perf_start(b);
        return;
    }
    b->down_MBps = (double)b->perf.downloaded / secs / 1e6;
    b->ndone = b->n;
    b->secs = since_s(b->t0);
    finish(b);
}

static void perf_close(lp2p_stream *s, int err, void *ud)
{
    bench *b = ud;
    if (s != b->ps)
        return;
    b->ps = NULL;
    if (err && !b->finished) {
        fprintf(stderr, "bench_relay: perf stream closed: %s\n", lp2p_strerror(err));
        b->failed = 1;
        finish(b);
    }
}

static const lp2p_stream_callbacks k_perf_cb = {
    .on_data = perf_data, .on_eof = perf_eof, .on_writable = perf_writable, .on_close = perf_close};

static void perf_start(bench *b)
{
    uint64_t n = (uint64_t)b->n;
    b->t_phase = uv_hrtime();
    lp2p_perf_client_init(&b->perf, b->phase == 0 ? n : 0, b->phase == 0 ? 0 : n, 0, now_ms());
    if (lp2p_conn_open_stream(b->pconn, LP2P_PERF_PROTO, &k_perf_cb, b, &b->ps) < 0) {
        b->ps = NULL;
        b->failed = 1;
        finish(b);
        return;
    }
    perf_pump(b);
}

/* ---- hosts and dialing --------------------------------------------------------------------- */

static void host_ops_start(bench *b, hostctx *hc)
{
    if (hc->idx < b->ntargets) {
        op *o = &b->ops[b->n + hc->idx];
        op_start(b, o, hc->relay);
        return;
    }
    size_t src = hc->idx - b->ntargets;
    for (long i = (long)src; i < target_ops(b); i += (long)b->npeers)
        op_start(b, &b->ops[i], hc->relay);
}

static void on_dial(lp2p_conn *c, int err, void *ud)
{
    hostctx *hc = ud;
    bench *b = hc->b;
    if (b->finished)
        return;
    if (hc->idx >= b->ntargets) {
        b->dialing--;
        start_sources(b);
    }
    if (err < 0) {
        fprintf(stderr, "bench_relay: dial %zu failed: %s\n", hc->idx, lp2p_strerror(err));
        /* its ops count as closed without a status */
        size_t src = hc->idx - b->ntargets;
        if (hc->idx < b->ntargets) {
            b->failed = 1;
            finish(b);
            return;
        }
        b->nconnected++;
        for (long i = (long)src; i < target_ops(b); i += (long)b->npeers) {
            b->closed_no_status++;
            op_done(&b->ops[i]);
        }
        check_all_done(b);
        return;
    }
    hc->relay = c;
    if (b->mode == M_PERF) {
        b->nconnected = 1;
        b->pconn = c;
        perf_start(b);
        return;
    }
    if (hc->idx >= b->ntargets)
        b->nconnected++;
    host_ops_start(b, hc);
    check_all_done(b);
}

static void dial_host(bench *b, hostctx *hc)
{
    hc->dialed = 1;
    if (lp2p_host_dial(hc->h, b->relay, on_dial, hc) < 0) {
        fprintf(stderr, "bench_relay: cannot dial %s\n", b->relay);
        b->failed = 1;
        finish(b);
    }
}

static void start_sources(bench *b)
{
    if (b->next_source < b->ntargets)
        b->next_source = b->ntargets;
    while (b->next_source < b->nhosts && b->dialing < DIAL_WINDOW && !b->finished) {
        b->dialing++;
        dial_host(b, &b->hosts[b->next_source++]);
    }
}

static int make_host(bench *b, size_t i)
{
    hostctx *hc = &b->hosts[i];
    hc->b = b;
    hc->idx = i;
    if (lp2p_keypair_generate(&hc->key) < 0)
        return -1;
    lp2p_host_config cfg;
    lp2p_host_config_default(&cfg, &b->loop, hc->key);
    cfg.agent = "bench_relay";
    cfg.holepunch = 0;
    cfg.ud = b;
    if (lp2p_host_new(&cfg, &hc->h) < 0)
        return -1;
    b->nhosts = i + 1;
    if (b->ip) {
        unsigned a, bb, c, d;
        if (sscanf(b->ip, "%u.%u.%u.%u", &a, &bb, &c, &d) != 4)
            return -1;
        char ma[64];
        snprintf(ma, sizeof(ma), "/ip4/%u.%u.%u.%u/tcp/0", a, bb, c, d + (unsigned)(i % b->nips));
        if (lp2p_host_listen(hc->h, ma) < 0)
            return -1;
    }
    if (i < b->ntargets && lp2p_host_handle(hc->h, LP2P_RELAY_STOP_PROTO, &k_stop_handler, b) < 0)
        return -1;
    return 0;
}

/* ---- results and shutdown --------------------------------------------------------------- */

static void report(bench *b)
{
    if (b->mode == M_PERF) {
        if (!b->failed && !b->timed_out)
            printf("{\"event\":\"relay_perf\",\"bytes\":%ld,\"upload_MBps\":%.1f,"
                   "\"download_MBps\":%.1f,\"relayed\":%s}\n",
                   b->n, b->up_MBps, b->down_MBps,
                   b->pconn && lp2p_conn_is_relayed(b->pconn) ? "true" : "false");
        fflush(stdout);
        return;
    }
    static const char *const k_mode[] = {"reserve", "connect", "circuits", "half-open", "oversize"};
    long pending = target_ops(b) - b->ndone;
    printf("{\"event\":\"bench_relay\",\"mode\":\"%s\",\"n\":%ld,\"peers\":%zu,\"connected\":%zu,"
           "\"ok\":%ld,\"status\":{",
           k_mode[b->mode], b->n, b->npeers, b->nconnected, b->ok);
    int first = 1;
    for (int st = 0; st < 1000; st++) {
        if (!b->status_count[st])
            continue;
        const char *name = st == 999   ? "UNDECODABLE"
                           : st == 998 ? "NO_STATUS"
                                       : lp2p_relay_status_name(st);
        printf("%s\"%s\":%ld", first ? "" : ",", name, b->status_count[st]);
        first = 0;
    }
    printf("},\"reset\":%ld,\"closed_no_status\":%ld,\"pending\":%ld,\"probe_bad\":%ld,"
           "\"stop_connects\":%ld,\"close_ms_min\":%.0f,\"close_ms_max\":%.0f,"
           "\"timed_out\":%s,\"seconds\":%.3f}\n",
           b->resets, b->closed_no_status, pending, b->probe_bad, b->stop_connects, b->close_ms_min,
           b->close_ms_max, b->timed_out ? "true" : "false", b->secs ? b->secs : since_s(b->t0));
    fflush(stdout);
}

static void finish(bench *b)
{
    if (b->finished)
        return;
    if (!b->held)
        report(b);
    b->finished = 1;
    uv_timer_stop(&b->limit);
    uv_timer_stop(&b->hold);
    uv_close((uv_handle_t *)&b->limit, NULL);
    uv_close((uv_handle_t *)&b->hold, NULL);
    uv_close((uv_handle_t *)&b->sigterm, NULL);
    uv_close((uv_handle_t *)&b->sigint, NULL);
    for (size_t i = 0; i < b->nhosts; i++) {
        if (b->hosts[i].h)
            lp2p_host_close(b->hosts[i].h);
        b->hosts[i].h = NULL;
    }
}

static void on_limit(uv_timer_t *t)
{
    bench *b = t->data;
    b->timed_out = 1;
    b->secs = since_s(b->t0);
    finish(b);
}

static void on_hold_end(uv_timer_t *t)
{
    finish(t->data);
}

static void on_signal(uv_signal_t *sg, int signum)
{
    bench *b = sg->data;
    if (!b->held)
        b->timed_out = 1;
    finish(b);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_relay reserve|connect|circuits|half-open|oversize|perf RELAY N "
                    "[--peers P] [--ip A.B.C.D [--ips K]] [--targets T] [--target ID] "
                    "[--no-reserve] [--hold S] [--timeout S]\n");
    return 2;
}

/* 10,000 reservations need 10,000 connections from this one process: the soft fd limit
 * (often 1,024) is raised here, up to the hard limit, rather than asking for a change on the
 * machine. Each identity holds one connection, and a listener too with --ip. */
static int raise_fd_limit(const bench *b)
{
    size_t need = (b->ntargets + b->npeers) * (b->ip ? 2 : 1) + 64;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        fprintf(stderr,
                "bench_relay: %zu identities need %zu fds, the hard limit is %llu "
                "(fewer identities, or no --ip)\n",
                b->ntargets + b->npeers, need, (unsigned long long)rl.rlim_max);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static bench b;
    if (argc < 4)
        return usage();
    const char *m = argv[1];
    if (strcmp(m, "reserve") == 0)
        b.mode = M_RESERVE;
    else if (strcmp(m, "connect") == 0)
        b.mode = M_CONNECT;
    else if (strcmp(m, "circuits") == 0)
        b.mode = M_CIRCUITS;
    else if (strcmp(m, "half-open") == 0)
        b.mode = M_HALF_OPEN;
    else if (strcmp(m, "oversize") == 0)
        b.mode = M_OVERSIZE;
    else if (strcmp(m, "perf") == 0)
        b.mode = M_PERF;
    else
        return usage();
    b.relay = argv[2];
    b.n = atol(argv[3]);
    if (b.n <= 0 || (b.mode != M_PERF && b.n > 1000000))
        return usage();
    b.timeout_s = 60;
    b.nips = 1;
    long peers = 0, targets = 1;
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-reserve") == 0) {
            b.no_reserve = 1;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(a, "--peers") == 0)
            peers = atol(v);
        else if (strcmp(a, "--ip") == 0)
            b.ip = v;
        else if (strcmp(a, "--ips") == 0)
            b.nips = (unsigned)atol(v);
        else if (strcmp(a, "--targets") == 0)
            targets = atol(v);
        else if (strcmp(a, "--hold") == 0)
            b.hold_s = atof(v);
        else if (strcmp(a, "--timeout") == 0)
            b.timeout_s = atof(v);
        else if (strcmp(a, "--target") == 0) {
            if (lp2p_peer_id_parse(v, &b.target_id) < 0) {
                fprintf(stderr, "bench_relay: bad --target %s\n", v);
                return 2;
            }
            b.has_target = 1;
        } else
            return usage();
    }
    if (b.nips == 0 || b.timeout_s <= 0)
        return usage();
    if (b.mode == M_PERF)
        peers = 1;
    if (peers <= 0)
        peers = b.mode == M_RESERVE ? b.n : (b.n + STREAMS_PER - 1) / STREAMS_PER;
    b.npeers = (size_t)peers;
    b.ntargets = b.mode == M_CIRCUITS ? (size_t)targets : 0;
    if (b.ntargets + b.npeers > MAX_HOSTS || (b.mode == M_CIRCUITS && targets <= 0)) {
        fprintf(stderr, "bench_relay: at most %d identities in all\n", MAX_HOSTS);
        return 2;
    }
    if (raise_fd_limit(&b) < 0)
        return 2;
    b.hosts = calloc(b.ntargets + b.npeers, sizeof(hostctx));
    if (!b.hosts)
        return 1;
    if (b.mode == M_RESERVE && (size_t)b.n != b.npeers) {
        fprintf(stderr, "bench_relay: reserve uses one identity per reservation (--peers N)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    lp2p_log_set_level(LP2P_ERROR);
    uv_loop_init(&b.loop);
    if (b.mode == M_CONNECT && !b.has_target) {
        lp2p_keypair *nobody;
        if (lp2p_keypair_generate(&nobody) < 0)
            return 1;
        b.target_id = *lp2p_keypair_peer_id(nobody);
        lp2p_keypair_del(nobody);
    }
    size_t nops = b.mode == M_PERF ? 0 : (size_t)b.n + b.ntargets;
    b.ops = calloc(nops + 1, sizeof(op));
    if (!b.ops)
        return 1;
    for (size_t i = 0; i < nops; i++) {
        b.ops[i].b = &b;
        b.ops[i].idx = i;
        b.ops[i].host = b.ntargets + i % b.npeers;
        b.ops[i].is_target_rsv = i >= (size_t)b.n;
    }
    for (size_t i = 0; i < b.ntargets + b.npeers; i++) {
        if (make_host(&b, i) < 0) {
            fprintf(stderr, "bench_relay: cannot create host %zu (bad --ip?)\n", i);
            return 1;
        }
    }
    uv_timer_init(&b.loop, &b.limit);
    uv_timer_init(&b.loop, &b.hold);
    uv_signal_init(&b.loop, &b.sigterm);
    uv_signal_init(&b.loop, &b.sigint);
    b.limit.data = b.hold.data = b.sigterm.data = b.sigint.data = &b;
    uv_signal_start(&b.sigterm, on_signal, SIGTERM);
    uv_signal_start(&b.sigint, on_signal, SIGINT);
    uv_timer_start(&b.limit, on_limit, (uint64_t)(b.timeout_s * 1000), 0);
    b.t0 = uv_hrtime();
    if (b.ntargets)
        for (size_t i = 0; i < b.ntargets; i++)
            dial_host(&b, &b.hosts[i]);
    else
        start_sources(&b);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    uv_run(&b.loop, UV_RUN_DEFAULT); /* the hosts' close callbacks */
    uv_loop_close(&b.loop);
    int all =
        b.mode == M_RESERVE && b.no_reserve ? b.nconnected == b.npeers : b.ndone == target_ops(&b);
    for (size_t i = 0; i < nops; i++)
        lp2p_lpm_free(&b.ops[i].lpm);
    for (size_t i = 0; i < b.nhosts; i++)
        lp2p_keypair_del(b.hosts[i].key);
    free(b.ops);
    free(b.hosts);
    return b.failed || b.timed_out || !all ? 1 : 0;
}
