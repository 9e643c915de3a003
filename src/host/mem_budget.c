/* The memory budget: what a peer can make us hold, per connection and for the process.
 *
 * A stream is charged what its peer can make us keep: the receive window it holds (granted
 * and not yet used, plus delivered and not yet consumed) and our queued output (an echo's
 * reply, a relay's forwarded bytes). The peer never raises that charge by sending: data
 * moves charge from window to output; only our grants raise it. So the budget sits at the
 * one point we control, the Yamux window update (the core's on_window): a grant that
 * would pass the connection's budget (max_conn_memory) or the process's (max_memory) is
 * cut, auto-tuning growth stops once a quarter of either is all that is left, and a new
 * inbound stream (whose 256 KiB window the spec grants at once) is refused when there is
 * no room for it. Cut grants are asked again before the loop sleeps once the connection
 * has room (its peer read our output, or a stream ended).
 *
 * As go-libp2p's resource manager: go-yamux reserves a stream's initial window from the
 * connection's scope when the stream opens and each auto-tuning step before it grows
 * (at a lower priority, so growth stops first); rust-yamux bounds the windows of all
 * streams of a connection together. Unlike go, a connection over budget loses a stream,
 * not the connection, and every connection keeps HOST_MEM_FLOOR whatever the others use,
 * so peers that spend the process budget cannot lock a good one out (the process bound is
 * max_memory + connections x floor). */
#include "host/host_internal.h"
#include "lp2p/host_stats.h"
#include "util/log.h"

#include <string.h>
#include <uv.h>

uint64_t lp2p__mem_default_limit(void)
{
    uint64_t total = uv_get_total_memory();
    uint64_t cg = uv_get_constrained_memory(); /* cgroup limit, 0 = none */
    if (cg && cg < total)
        total = cg;
    uint64_t l = total / 8;
    if (l < (64ull << 20))
        l = 64ull << 20;
    if (l > (1ull << 30))
        l = 1ull << 30;
    return l;
}

static uint64_t charge_of(const lp2p_stream *s)
{
    uint64_t c = lp2p_buf_size(&s->pending) + lp2p_buf_size(&s->more); /* the queue */
    if (s->ys)
        c += (uint64_t)lp2p_yamux_stream_recv_credit(s->ys) + lp2p_yamux_stream_unconsumed(s->ys);
    return c;
}

static void starve(lp2p_conn *c)
{
    if (c->mem_listed || c->stage == CONN_CLOSED)
        return;
    c->mem_listed = 1;
    lp2p_list_insert_tail(&c->host->mem_starved, &c->mem_link);
}

void lp2p__mem_conn_gone(lp2p_conn *c)
{
    if (c->mem_listed) {
        c->mem_listed = 0;
        lp2p_list_remove(&c->mem_link);
    }
}

static void set_charge(lp2p_stream *s, uint64_t now)
{
    lp2p_conn *c = s->conn;
    lp2p_host *h = c->host;
    c->mem_used = c->mem_used - s->mem_charged + now;
    h->mem_used = h->mem_used - s->mem_charged + now;
    s->mem_charged = now;
}

void lp2p__mem_sync(lp2p_stream *s)
{
    if (!s->closed)
        set_charge(s, charge_of(s));
}

void lp2p__mem_release(lp2p_stream *s)
{
    set_charge(s, 0);
    s->mem_withheld = 0;
}

/* Room for c: its own budget, and the process's (at least what is left of c's floor). */
static uint64_t room_for(const lp2p_conn *c)
{
    const lp2p_host *h = c->host;
    uint64_t cl = h->cfg.max_conn_memory, pl = h->cfg.max_memory;
    uint64_t croom = cl > c->mem_used ? cl - c->mem_used : 0;
    uint64_t proom = pl > h->mem_used ? pl - h->mem_used : 0;
    if (c->mem_used < HOST_MEM_FLOOR && HOST_MEM_FLOOR - c->mem_used > proom)
        proom = HOST_MEM_FLOOR - c->mem_used;
    return croom < proom ? croom : proom;
}

static void log_reached(lp2p_conn *c, const char *what)
{
    if (c->mem_logged)
        return;
    c->mem_logged = 1;
    lp2p_log(LP2P_INFO, "memory_budget_reached", LF_S("peer", c->peer_str), LF_S("budget", what),
             LF_U("conn_bytes", c->mem_used), LF_U("process_bytes", c->host->mem_used),
             LF_U("streams", c->nstreams));
}

static const char *which_budget(const lp2p_conn *c)
{
    const lp2p_host *h = c->host;
    uint64_t cl = h->cfg.max_conn_memory;
    uint64_t croom = cl > c->mem_used ? cl - c->mem_used : 0;
    return croom <= room_for(c) ? "connection" : "process";
}

int lp2p__mem_admit(void *user)
{
    lp2p_conn *c = user;
    if (room_for(c) >= LP2P_YAMUX_INITIAL_WINDOW)
        return 1;
    const char *b = which_budget(c);
    c->host->mem_refused++;
    log_reached(c, b);
    lp2p_log(LP2P_INFO, "stream_refused", LF_S("peer", c->peer_str),
             LF_S("reason", b[0] == 'c' ? "memory budget of the connection spent"
                                        : "memory budget of the process spent"),
             LF_U("streams", c->nstreams), LF_U("conn_bytes", c->mem_used));
    return 0;
}

uint32_t lp2p__mem_window(void *user, lp2p_yamux_stream *ys, uint32_t want, uint32_t grow)
{
    lp2p_conn *c = user;
    lp2p_stream *s = lp2p_yamux_stream_user(ys);
    if (!s || s->closed)
        return want; /* nobody reads it: the host consumes at once */
    lp2p__mem_sync(s);
    const lp2p_host *h = c->host;
    uint64_t ok = want;
    /* Growth is a speed-up: it stops while it would leave less than a quarter of either
     * budget, so refills and new streams keep the rest. */
    if (grow && (c->mem_used + want > h->cfg.max_conn_memory - h->cfg.max_conn_memory / 4 ||
                 h->mem_used + want > h->cfg.max_memory - h->cfg.max_memory / 4))
        ok = want - grow;
    uint64_t room = room_for(c);
    if (ok > room)
        ok = room;
    /* What the core will grant for that answer (yamux.h): all, the refill alone, a cut
     * refill of at least LP2P_YAMUX_MIN_GRANT, or nothing. It is charged now, so the
     * totals never lag behind the windows granted. */
    uint32_t refill = want - grow;
    if (ok < want && ok > refill)
        ok = refill;
    if (ok < refill && ok < LP2P_YAMUX_MIN_GRANT)
        ok = 0;
    if (ok < refill) {
        c->host->mem_cut++;
        s->mem_withheld = 1;
        starve(c);
        log_reached(c, which_budget(c));
    }
    set_charge(s, s->mem_charged + ok);
    return (uint32_t)ok;
}

void lp2p__mem_retry(lp2p_host *h)
{
    if (lp2p_list_empty(&h->mem_starved))
        return;
    /* Take the list first: a connection whose grants are cut again lists itself anew. */
    lp2p_list now;
    lp2p_list_init(&now);
    while (!lp2p_list_empty(&h->mem_starved)) {
        lp2p_list *e = h->mem_starved.next;
        lp2p_list_remove(e);
        lp2p_list_insert_tail(&now, e);
    }
    while (!lp2p_list_empty(&now)) {
        lp2p_conn *c = lp2p_container_of(now.next, lp2p_conn, mem_link);
        lp2p_list_remove(&c->mem_link);
        c->mem_listed = 0;
        if (c->stage != CONN_READY)
            continue;
        if (room_for(c) < LP2P_YAMUX_MIN_GRANT) {
            starve(c); /* still no room: stays listed (a cheap check per loop turn) */
            continue;
        }
        lp2p_list *pos, *tmp;
        lp2p_list_foreach_safe(pos, tmp, &c->streams)
        {
            lp2p_stream *s = lp2p_container_of(pos, lp2p_stream, link);
            if (!s->mem_withheld || s->closed || !s->ys)
                continue;
            s->mem_withheld = 0;
            lp2p_yamux_stream_consumed(s->ys, 0); /* asks the budget again */
            if (c->stage != CONN_READY)
                break;
        }
        lp2p__conn_mark_dirty(c);
    }
}

void lp2p_host_memory(const lp2p_host *h, lp2p_memory_info *out)
{
    memset(out, 0, sizeof(*out));
    out->used_bytes = h->mem_used;
    out->limit_bytes = h->cfg.max_memory;
    out->conn_limit_bytes = h->cfg.max_conn_memory;
    for (const lp2p_list *e = h->mem_starved.next; e != &h->mem_starved; e = e->next)
        out->starved_conns++;
    out->streams_refused = h->mem_refused;
    out->grants_cut = h->mem_cut;
}
