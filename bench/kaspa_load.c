/* kaspa_load: load on a Kaspa server (`holepunch server`) through the Kaspa peer driver
 * (kaspa/peer.h), the load modes that used to be part of `holepunch client`:
 *
 *   kaspa_load --peer ID --remote MA [--remote MA ...] [--listen MA] [options]
 *   kaspa_load --kaspa-connect HOST:PORT [options]
 *
 *   --streams N    N Kaspa sessions at once on the one libp2p connection (1..256), each with
 *                  its own random node id (the server's duplicate key is (node id, address)
 *                  and all N share the connection's synthetic address); with --burst the
 *                  first runs the burst, the others their --pings. Logs kaspa_streams_opened,
 *                  kaspa_stream_result per session and kaspa_streams {opened, ready,
 *                  pings_answered, failed}; exit 0 only if every one reached its goal.
 *   --burst BYTES  after Ready send BYTES of 64 KiB Kaspa messages (K/M/G) while the driver
 *                  has room, then a Ping; its Pong (after every burst byte on the one ordered
 *                  stream) stops the clock: kaspa_burst {bytes, seconds, mb_per_s}, and
 *                  "burst: ... MB/s" on stdout.
 *   --pings N      after Ready (and the burst) N pings, one at a time: kaspa_pings_done.
 *   --direct-timeout SEC  through a relay, wait this long for the hole-punched connection
 *                  (Kaspa runs only on it; default 30).
 *   --kaspa-protocol ID, --key FILE, --log-format human|json, --no-gzip, --network NAME,
 *   --ping-interval SEC, --node-id HEX32 (one session only).
 *
 * One attempt: any failure exits 1, a usage error 2. Not a product command: no reconnect,
 * no environment variables, no config file. */
#include "crypto/random.h"
#include "kaspa/peer.h"
#include "lp2p/err.h"
#include "lp2p/holepunch.h"
#include "lp2p/identity.h"
#include "net/wall_clock.h"
#include "util/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ADDRS            16
#define MAX_STREAMS          256 /* the host allows 512 streams per connection */
#define BURST_CHUNK          (64 * 1024)
#define BURST_UNUSED_PAYLOAD 4   /* KaspadMessage field number no kaspa version uses */
#define BURST_PER_TURN       4   /* --streams: burst messages per loop turn (see burst_fill) */
#define FINISH_GRACE_MS      200 /* lets our last bytes (gRPC end) leave before the host closes */

/* One timed burst: BURST_CHUNK messages while the driver has room, then a Ping. */
typedef struct burst_run {
    long long sent;
    uint64_t start_ns; /* 0 until Ready */
    int done, wait_pong;
} burst_run;

struct load;

/* One Kaspa session and its goal (burst and/or pings). */
typedef struct slot {
    struct load *L;
    int idx;
    kaspa_hub *hub;
    kaspa_peer *p;
    char node_hex[2 * KASPA_NODE_ID_LEN + 1];
    int bursting;
    long pings; /* this slot's goal */
    burst_run br;
    int ready, pings_sent, pings_ok;
    int ok, settled;
    char reason[160];
} slot;

typedef struct load {
    uv_loop_t loop;
    lp2p_host *host;
    lp2p_keypair *kp;
    kaspa_session_config cfg;
    lp2p_peer_id peer;
    char peer_str[LP2P_PEER_ID_STR_MAX];
    char *addrs[MAX_ADDRS];
    size_t naddrs, addr_idx;
    const char *kaspa_connect, *proto;
    uint64_t direct_timeout_ms;
    long pings;
    long long burst;
    int streams_mode; /* --streams given: per-session results and a summary */
    int nslots, opened, settled;
    slot *slots;
    uint8_t *burst_msg;
    size_t burst_len;
    uv_timer_t direct_timer, finish_timer, burst_timer;
    int waiting_direct, done, exit_code;
} load;

static void close_handles(load *L)
{
    uv_close((uv_handle_t *)&L->direct_timer, NULL);
    uv_close((uv_handle_t *)&L->finish_timer, NULL);
    uv_close((uv_handle_t *)&L->burst_timer, NULL);
    if (L->host)
        lp2p_host_close(L->host);
    L->host = NULL;
}

static void on_finish_timer(uv_timer_t *t)
{
    close_handles(t->data);
}

static void finish(load *L, int code)
{
    if (L->done)
        return;
    L->done = 1;
    L->exit_code = code;
    uv_timer_stop(&L->direct_timer);
    uv_timer_stop(&L->burst_timer);
    for (int i = 0; i < L->opened; i++)
        if (L->slots[i].p)
            kaspa_peer_close(L->slots[i].p, NULL);
    uv_timer_start(&L->finish_timer, on_finish_timer, FINISH_GRACE_MS, 0);
}

/* ---- burst -------------------------------------------------------------------------------- */
static int burst_prepare(load *L)
{
    /* KaspadMessage { field 4 (bytes) = BURST_CHUNK pseudo-random bytes }: an unused payload
     * number, which our server counts and ignores; random so gzip cannot shrink it. */
    uint8_t hdr[8];
    size_t h = 0;
    hdr[h++] = (BURST_UNUSED_PAYLOAD << 3) | 2;
    for (uint32_t v = BURST_CHUNK;; v >>= 7) {
        hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f)
            break;
    }
    L->burst_len = h + BURST_CHUNK;
    if (!(L->burst_msg = malloc(L->burst_len)))
        return -1;
    memcpy(L->burst_msg, hdr, h);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = h; i < L->burst_len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        L->burst_msg[i] = (uint8_t)x;
    }
    return 0;
}

static void on_burst_timer(uv_timer_t *t);

/* Sends while the driver has room (kaspa_peer_can_send), so at most a few MiB of the burst
 * is ever buffered; the driver's on_writable calls back here. */
static void burst_fill(slot *k)
{
    load *L = k->L;
    burst_run *br = &k->br;
    if (!k->p || !br->start_ns || br->done || br->wait_pong || L->done)
        return;
    kaspa_session *s = kaspa_peer_session(k->p);
    int budget = L->nslots > 1 ? BURST_PER_TURN : INT_MAX;
    while (br->sent < L->burst && kaspa_peer_can_send(k->p)) {
        if (budget-- == 0) {
            /* Other sessions share this loop: compressing and framing a whole high-water
             * mark of burst in one turn would hold their Pings back for that long. */
            uv_timer_start(&L->burst_timer, on_burst_timer, 0, 0);
            return;
        }
        if (kaspa_session_send_raw(s, L->burst_msg, L->burst_len) != 0)
            break;
        br->sent += (long long)L->burst_len;
        kaspa_peer_flush(k->p);
    }
    if (br->sent >= L->burst && kaspa_peer_ping(k->p) == 0)
        br->wait_pong = 1;
}

static void on_burst_timer(uv_timer_t *t)
{
    load *L = t->data;
    burst_fill(&L->slots[0]);
}

/* A Pong: 1 if it ended the burst (then logged kaspa_burst). */
static int burst_pong(slot *k)
{
    burst_run *br = &k->br;
    if (!br->wait_pong)
        return 0;
    double secs = (double)(uv_hrtime() - br->start_ns) / 1e9;
    double mbps = secs > 0 ? (double)br->sent / 1e6 / secs : 0;
    br->wait_pong = 0;
    br->done = 1;
    lp2p_log(LP2P_INFO, "kaspa_burst", LF_S("peer", k->L->peer_str), LF_U("bytes", br->sent),
             LF_F("seconds", secs), LF_F("mb_per_s", mbps));
    printf("burst: %lld bytes in %.3f s = %.1f MB/s\n", br->sent, secs, mbps);
    fflush(stdout);
    return 1;
}

/* ---- sessions ----------------------------------------------------------------------------- */
static void streams_done(load *L)
{
    int ready = 0, failed = L->nslots - L->opened; /* never opened */
    long pings = 0;
    for (int i = 0; i < L->opened; i++) {
        ready += L->slots[i].ready;
        failed += !L->slots[i].ok;
        pings += L->slots[i].pings_ok;
    }
    lp2p_log(failed ? LP2P_ERROR : LP2P_INFO, "kaspa_streams", LF_S("peer", L->peer_str),
             LF_I("opened", L->opened), LF_I("ready", ready), LF_I("pings_answered", pings),
             LF_I("failed", failed));
    printf("streams: %d opened, %d ready, %ld pings answered, %d failed\n", L->opened, ready, pings,
           failed);
    fflush(stdout);
    finish(L, failed ? 1 : 0);
}

/* The slot's next step after Ready or a Pong: its burst, then its next Ping (one at a time);
 * when its goal is reached, a clean end of its session. */
static void slot_next(slot *k)
{
    load *L = k->L;
    if (k->ok || !k->p || !k->ready || L->done)
        return;
    if (k->bursting && !k->br.done) {
        burst_fill(k);
        return;
    }
    if (k->pings_ok < k->pings) {
        if (k->pings_sent == k->pings_ok && kaspa_peer_ping(k->p) == 0)
            k->pings_sent++;
        return;
    }
    k->ok = 1;
    if (k->pings > 0 && !L->streams_mode)
        lp2p_log(LP2P_INFO, "kaspa_pings_done", LF_S("peer", L->peer_str),
                 LF_I("sent", k->pings_sent), LF_I("answered", k->pings_ok));
    if (!L->streams_mode)
        finish(L, 0);
    else
        kaspa_peer_close(k->p, NULL);
}

static void slot_on_event(void *user, kaspa_peer *p, const kaspa_event *ev)
{
    slot *k = user;
    (void)p;
    switch (ev->type) {
    case KASPA_EV_READY:
        k->ready = 1;
        if (k->bursting)
            k->br.start_ns = uv_hrtime();
        slot_next(k);
        break;
    case KASPA_EV_PING:
        if (!(k->bursting && burst_pong(k)) && k->pings_sent > k->pings_ok)
            k->pings_ok++;
        slot_next(k);
        break;
    default:
        break;
    }
}

static void slot_on_writable(void *user, kaspa_peer *p)
{
    slot *k = user;
    (void)p;
    if (k->bursting)
        burst_fill(k);
}

static void slot_on_closed(void *user, kaspa_peer *p, int err)
{
    slot *k = user;
    load *L = k->L;
    k->p = NULL;
    k->settled = 1;
    if (!k->ok)
        snprintf(k->reason, sizeof k->reason, "%s",
                 kaspa_peer_reason(p)[0] ? kaspa_peer_reason(p)
                 : err                   ? lp2p_strerror(err)
                                         : "ended before its goal");
    if (!L->streams_mode) {
        if (!k->ok && !L->done) {
            lp2p_log(LP2P_ERROR, "kaspa_session_failed", LF_S("peer", L->peer_str),
                     LF_S("reason", k->reason));
            finish(L, 1);
        }
        return;
    }
    lp2p_log(k->ok ? LP2P_INFO : LP2P_WARN, "kaspa_stream_result", LF_S("peer", L->peer_str),
             LF_I("index", k->idx), LF_S("node_id", k->node_hex), LF_B("ready", k->ready),
             LF_I("pings_answered", k->pings_ok), LF_U("burst_bytes", k->br.sent),
             LF_B("ok", k->ok), LF_S("reason", k->ok ? "" : k->reason));
    if (++L->settled == L->opened && L->opened > 0)
        streams_done(L);
}

static const kaspa_peer_callbacks k_slot_cb = {
    .on_event = slot_on_event,
    .on_writable = slot_on_writable,
    .on_closed = slot_on_closed,
};

/* All sessions are opened in one loop turn, before any handshake completes: the server (and
 * the connection's Yamux windows) must serve every one while the others, and one bulk
 * burst, are busy. */
static void open_sessions(load *L, lp2p_conn *conn)
{
    uv_timer_stop(&L->direct_timer);
    L->waiting_direct = 0;
    lp2p_log(LP2P_INFO, "kaspa_connection", LF_S("peer", L->peer_str),
             LF_S("addr", lp2p_conn_remote_addr(conn)),
             LF_B("relayed", lp2p_conn_is_relayed(conn)));
    for (int i = 0; i < L->nslots; i++) {
        slot *k = &L->slots[i];
        kaspa_session_config cfg = L->cfg;
        cfg.hub = k->hub;
        int rc = kaspa_peer_open_libp2p(conn, L->proto, &L->loop, &cfg, &k_slot_cb, k, &k->p);
        if (rc != 0) {
            k->p = NULL;
            lp2p_log(LP2P_WARN, "kaspa_stream_error", LF_S("peer", L->peer_str), LF_I("index", i),
                     LF_S("reason", lp2p_strerror(rc)));
            break;
        }
        L->opened++;
    }
    if (L->streams_mode)
        lp2p_log(LP2P_INFO, "kaspa_streams_opened", LF_S("peer", L->peer_str),
                 LF_I("count", L->opened), LF_I("wanted", L->nslots));
    if (L->opened == 0) {
        if (L->streams_mode)
            streams_done(L);
        else
            finish(L, 1);
    }
}

/* ---- dialing, and waiting for the hole punch ---------------------------------------------- */
static lp2p_conn *direct_conn(load *L)
{
    lp2p_conn *c = L->host ? lp2p_host_find_conn(L->host, &L->peer) : NULL;
    return c && !lp2p_conn_is_relayed(c) ? c : NULL;
}

static void on_direct_timer(uv_timer_t *t)
{
    load *L = t->data;
    lp2p_log(LP2P_ERROR, "kaspa_direct_timeout", LF_S("peer", L->peer_str),
             LF_U("waited_ms", L->direct_timeout_ms),
             LF_S("reason", "no direct connection: the hole punch did not succeed"));
    finish(L, 1);
}

/* DIRECT (after duplicate resolution) names the connection the host kept. */
static void on_holepunch(const lp2p_holepunch_event *ev, void *ud)
{
    load *L = ud;
    if (L->waiting_direct && ev->outcome == LP2P_HOLEPUNCH_DIRECT && ev->direct &&
        lp2p_peer_id_equal(ev->peer, &L->peer))
        open_sessions(L, ev->direct);
}

static void dial_next(load *L);

static void on_dial(lp2p_conn *c, int err, void *ud)
{
    load *L = ud;
    if (L->done)
        return;
    if (err < 0) {
        lp2p_log(LP2P_WARN, "kaspa_dial_failed", LF_S("peer", L->peer_str),
                 LF_S("addr", L->addrs[L->addr_idx]), LF_S("reason", lp2p_strerror(err)));
        L->addr_idx++;
        dial_next(L);
        return;
    }
    lp2p_conn *d = lp2p_conn_is_relayed(c) ? direct_conn(L) : c;
    if (d) {
        open_sessions(L, d);
        return;
    }
    L->waiting_direct = 1;
    lp2p_log(LP2P_INFO, "kaspa_waiting_direct", LF_S("peer", L->peer_str),
             LF_S("relayed_addr", lp2p_conn_remote_addr(c)),
             LF_U("timeout_ms", L->direct_timeout_ms));
    uv_timer_start(&L->direct_timer, on_direct_timer, L->direct_timeout_ms, 0);
}

static void dial_next(load *L)
{
    for (; L->addr_idx < L->naddrs; L->addr_idx++) {
        const char *addr = L->addrs[L->addr_idx];
        lp2p_log(LP2P_INFO, "kaspa_dial", LF_S("peer", L->peer_str), LF_S("addr", addr));
        int rc = lp2p_host_dial(L->host, addr, on_dial, L);
        if (rc == 0)
            return;
        lp2p_log(LP2P_WARN, "kaspa_dial_failed", LF_S("peer", L->peer_str), LF_S("addr", addr),
                 LF_S("reason", lp2p_strerror(rc)));
    }
    lp2p_log(LP2P_ERROR, "kaspa_session_failed", LF_S("peer", L->peer_str),
             LF_S("reason", "no address worked"));
    finish(L, 1);
}

/* ---- arguments ---------------------------------------------------------------------------- */
static long long parse_size(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    long long mul = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mul = 1024, end++;
        break;
    case 'm':
    case 'M':
        mul = 1024 * 1024, end++;
        break;
    case 'g':
    case 'G':
        mul = 1024LL * 1024 * 1024, end++;
        break;
    }
    if (*end == 'i' || *end == 'B')
        end++;
    if (*end == 'B')
        end++;
    return *end ? -1 : (long long)(v * (double)mul);
}

static int usage(const char *why, const char *arg)
{
    fprintf(stderr, "kaspa_load: %s%s%s (see the comment at the top of bench/kaspa_load.c)\n", why,
            arg ? " " : "", arg ? arg : "");
    return 2;
}

/* Appends /p2p/<peer> to each address that lacks it. */
static int add_addr(load *L, const char *a)
{
    char suffix[LP2P_PEER_ID_STR_MAX + 8];
    snprintf(suffix, sizeof suffix, "/p2p/%s", L->peer_str);
    size_t len = strlen(a), sl = strlen(suffix);
    int has = len >= sl && strcmp(a + len - sl, suffix) == 0;
    char *s = malloc(len + sl + 1);
    if (!s || L->naddrs == MAX_ADDRS) {
        free(s);
        return -1;
    }
    snprintf(s, len + sl + 1, "%s%s", a, has ? "" : suffix);
    L->addrs[L->naddrs++] = s;
    return 0;
}

int main(int argc, char **argv)
{
    static load app;
    load *L = &app;
    lp2p_log_set_clock(lp2p_wall_ms);
    const char *peer = NULL, *key = NULL, *remote[MAX_ADDRS], *listen[MAX_ADDRS];
    size_t nremote = 0, nlisten = 0;
    int gzip = 1, has_node_id = 0;
    uint8_t node_id[KASPA_NODE_ID_LEN];
    const char *network = KASPA_NETWORK_DEFAULT;
    long long ping_interval_s = 120, nstreams = 0;
    L->direct_timeout_ms = 30000;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--no-gzip") == 0) {
            gzip = 0;
            continue;
        }
        if (i + 1 >= argc)
            return usage("unknown option or missing value:", o);
        const char *v = argv[++i];
        char *end;
        if (strcmp(o, "--peer") == 0) {
            peer = v;
        } else if (strcmp(o, "--remote") == 0 || strcmp(o, "--listen") == 0) {
            int r = o[2] == 'r';
            if ((r ? nremote : nlisten) == MAX_ADDRS)
                return usage("too many", o);
            (r ? remote : listen)[r ? nremote++ : nlisten++] = v;
        } else if (strcmp(o, "--key") == 0) {
            key = v;
        } else if (strcmp(o, "--log-format") == 0) {
            lp2p_log_set_format(strcmp(v, "json") == 0 ? LP2P_LOG_JSON : LP2P_LOG_HUMAN);
        } else if (strcmp(o, "--kaspa-connect") == 0) {
            L->kaspa_connect = v;
        } else if (strcmp(o, "--kaspa-protocol") == 0) {
            L->proto = v;
        } else if (strcmp(o, "--network") == 0) {
            network = v;
        } else if (strcmp(o, "--node-id") == 0) {
            if (kaspa_node_id_parse(v, node_id) < 0)
                return usage("--node-id wants 32 hex digits, not", v);
            has_node_id = 1;
        } else if (strcmp(o, "--burst") == 0) {
            if ((L->burst = parse_size(v)) <= 0)
                return usage("--burst wants a byte count, not", v);
        } else {
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (errno || *end || end == v || n < 0)
                return usage("bad value for", o);
            if (strcmp(o, "--pings") == 0)
                L->pings = (long)n;
            else if (strcmp(o, "--streams") == 0)
                nstreams = n;
            else if (strcmp(o, "--ping-interval") == 0)
                ping_interval_s = n;
            else if (strcmp(o, "--direct-timeout") == 0 && n > 0)
                L->direct_timeout_ms = (uint64_t)n * 1000;
            else
                return usage("unknown option or bad value:", o);
        }
    }
    if (nstreams > MAX_STREAMS)
        return usage("--streams wants 1..256", NULL);
    L->streams_mode = nstreams > 0;
    L->nslots = nstreams > 0 ? (int)nstreams : 1;
    if (L->kaspa_connect && L->streams_mode)
        return usage("--streams is for libp2p (one TCP connection carries one session)", NULL);
    if (L->nslots > 1 && has_node_id)
        return usage("--node-id is for one session; --streams gives each its own", NULL);
    /* Without --peer: the last /p2p/<id> of the first address (not a relay's before
     * /p2p-circuit). */
    const char *last = NULL;
    for (const char *q = nremote ? strstr(remote[0], "/p2p/") : NULL; q; q = strstr(q + 1, "/p2p/"))
        last = q + 5;
    if (!peer && last && !strstr(last, "/p2p-circuit"))
        peer = last;
    if (!L->kaspa_connect && (!peer || nremote == 0))
        return usage("give --remote MA (and --peer ID), or --kaspa-connect HOST:PORT", NULL);
    if (peer && lp2p_peer_id_parse(peer, &L->peer) != 0)
        return usage("not a peer ID:", peer);
    if (L->kaspa_connect)
        snprintf(L->peer_str, sizeof L->peer_str, "%s", L->kaspa_connect);
    else
        lp2p_peer_id_to_string(&L->peer, L->peer_str, sizeof L->peer_str);
    for (size_t i = 0; i < nremote; i++)
        if (add_addr(L, remote[i]) < 0)
            return 1;

    L->slots = calloc((size_t)L->nslots, sizeof(*L->slots));
    if (!L->slots || (L->burst > 0 && burst_prepare(L) < 0))
        return 1;
    for (int i = 0; i < L->nslots; i++) {
        slot *k = &L->slots[i];
        k->L = L;
        k->idx = i;
        if (kaspa_hub_new(&k->hub, has_node_id ? node_id : NULL, &LP2P_RNG_OPENSSL) != 0)
            return 1;
        const uint8_t *id = kaspa_hub_node_id(k->hub);
        for (int j = 0; j < KASPA_NODE_ID_LEN; j++)
            snprintf(k->node_hex + 2 * j, 3, "%02x", id[j]);
        k->bursting = L->burst > 0 && i == 0;
        k->pings = L->streams_mode && k->bursting ? 0 : L->pings;
    }
    kaspa_session_config_default(&L->cfg, L->slots[0].hub,
                                 L->kaspa_connect ? KASPA_H2_PROFILE_TCP : KASPA_H2_PROFILE_LIBP2P);
    L->cfg.network = network;
    L->cfg.ping_interval_ms = (uint64_t)ping_interval_s * 1000;
    L->cfg.grpc.gzip = gzip;
    L->cfg.trace = LP2P_TRACE_LOG;
    L->cfg.rng = LP2P_RNG_OPENSSL;
    L->cfg.wall_ms = lp2p_wall_ms;

    uv_loop_init(&L->loop);
    uv_timer_init(&L->loop, &L->direct_timer);
    uv_timer_init(&L->loop, &L->finish_timer);
    uv_timer_init(&L->loop, &L->burst_timer);
    L->direct_timer.data = L->finish_timer.data = L->burst_timer.data = L;
    if (L->kaspa_connect) {
        slot *k = &L->slots[0];
        if (kaspa_peer_dial_tcp(&L->loop, L->kaspa_connect, &L->cfg, &k_slot_cb, k, &k->p) != 0)
            return usage("bad --kaspa-connect address", L->kaspa_connect);
        L->opened = 1;
    } else {
        char err[256] = "";
        int created = 0;
        int rc = key ? lp2p_keyfile_load_or_create(key, &L->kp, &created, err, sizeof err)
                     : lp2p_keypair_generate(&L->kp);
        if (rc < 0) {
            fprintf(stderr, "kaspa_load: key: %s\n", err[0] ? err : lp2p_strerror(rc));
            return 1;
        }
        lp2p_host_config hc;
        lp2p_host_config_default(&hc, &L->loop, L->kp);
        hc.agent = "kaspa-holepunch-load/" LP2P_VERSION;
        hc.cb.on_holepunch = on_holepunch;
        hc.ud = L;
        if (lp2p_host_new(&hc, &L->host) < 0)
            return 1;
        for (size_t i = 0; i < nlisten; i++)
            if (lp2p_host_listen(L->host, listen[i]) < 0)
                fprintf(stderr, "kaspa_load: cannot listen on %s\n", listen[i]);
        dial_next(L);
    }
    uv_run(&L->loop, UV_RUN_DEFAULT);
    if (!uv_is_closing((uv_handle_t *)&L->finish_timer))
        close_handles(L);
    uv_run(&L->loop, UV_RUN_DEFAULT); /* the host's and the peers' close callbacks */
    uv_loop_close(&L->loop);
    for (int i = 0; i < L->nslots; i++)
        kaspa_hub_del(L->slots[i].hub);
    for (size_t i = 0; i < L->naddrs; i++)
        free(L->addrs[i]);
    free(L->slots);
    free(L->burst_msg);
    if (L->kp)
        lp2p_keypair_del(L->kp);
    return L->exit_code;
}
