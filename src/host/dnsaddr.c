/* Dialing /dnsaddr/NAME[/p2p/ID] (multiformats/multiaddr protocols/DNSADDR.md):
 *
 *   _dnsaddr.NAME  TXT  "dnsaddr=/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWRelay…"
 *                  TXT  "dnsaddr=/dnsaddr/eu.NAME/p2p/12D3KooWRelay…"   (looked up in turn)
 *
 * The TXT lookups are c-ares queries (Debian's libc-ares), run one after the other in a
 * worker of the loop's thread pool, as uv_getaddrinfo runs getaddrinfo: the loop never waits
 * on DNS. Each record is judged by lp2p_dnsaddr_record (dnsaddr_record.c); the walk is
 * bounded (lookups, depth, records per answer, addresses kept, total time), so a hostile or
 * looping zone costs at most DNSADDR_MAX_LOOKUPS small queries and DNSADDR_DEADLINE_MS. The
 * dialable addresses found are then dialed in answer order through lp2p_host_dial (a /dns4
 * record is resolved again there), the next one when a dial fails, so one dead relay box
 * behind a name does not fail the dial. Every dial looks the name up again: the reservation
 * keeper's redials follow the zone. */
#include "host/dnsaddr_record.h"
#include "host/host_internal.h"
#include "lp2p/err.h"
#include "util/log.h"
#include "wire/multiaddr.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNSADDR_MAX_LOOKUPS      16    /* TXT queries of one dial, recursion included */
#define DNSADDR_MAX_DEPTH        4     /* /dnsaddr records followed this deep */
#define DNSADDR_MAX_RECORDS      32    /* TXT records looked at per answer */
#define DNSADDR_MAX_ADDRS        16    /* dialable addresses kept (tried in order) */
#define DNSADDR_DEADLINE_MS      10000 /* all lookups of one dial */
#define DNSADDR_QUERY_TIMEOUT_MS 2000  /* per try; c-ares retries once per server */

typedef struct dnsaddr_name {
    char name[LP2P_MULTIADDR_DNSMAX + 1];
    lp2p_peer_id want;
    int has_want;
    int depth;
} dnsaddr_name;

typedef struct dnsaddr_dial {
    uv_work_t work;
    lp2p_host *h;
    lp2p_dial_cb cb;
    void *ud;
    char *text;
    /* the walk (worker thread only until after_work) */
    dnsaddr_name names[DNSADDR_MAX_LOOKUPS];
    size_t nnames;
    char *addrs[DNSADDR_MAX_ADDRS];
    size_t naddrs, next;
    unsigned lookups, other_peer, unusable;
    const char *bound; /* which bound cut the walk short, or NULL */
    char why[400];     /* the first failed lookup */
    int last_rc;
} dnsaddr_dial;

/* ---- worker thread: c-ares ------------------------------------------------------------ */

typedef struct txt_query {
    int done, status;
    struct ares_txt_ext *txt;
} txt_query;

static void on_txt(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    txt_query *q = arg;
    q->done = 1;
    q->status = status;
    if (status == ARES_SUCCESS)
        q->status = ares_parse_txt_reply_ext(abuf, alen, &q->txt);
}

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

/* Drives the channel with poll(2) (not select: a busy relay has fds past FD_SETSIZE) until
 * the query is done or the deadline passes (then it is cancelled, which completes it). */
static void run_query(ares_channel ch, txt_query *q, uint64_t deadline)
{
    while (!q->done) {
        uint64_t now = now_ms();
        if (now >= deadline) {
            ares_cancel(ch);
            break;
        }
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        /* ARES_GETSOCK_READABLE/WRITABLE shift a signed 1 by up to 31: the same test on
         * unsigned bits. */
        unsigned bits = (unsigned)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
        struct pollfd pfd[ARES_GETSOCK_MAXNUM];
        nfds_t n = 0;
        for (unsigned i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            short ev = (short)((bits & (1u << i) ? POLLIN : 0) |
                               (bits & (1u << (i + ARES_GETSOCK_MAXNUM)) ? POLLOUT : 0));
            if (ev)
                pfd[n++] = (struct pollfd){.fd = socks[i], .events = ev};
        }
        struct timeval tv, *tvp = ares_timeout(ch, NULL, &tv);
        uint64_t wait = tvp ? (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u + 1 : 100;
        if (wait > deadline - now)
            wait = deadline - now;
        int r = poll(pfd, n, (int)wait);
        if (r <= 0) {
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
            continue;
        }
        for (nfds_t i = 0; i < n && !q->done; i++) {
            if (!pfd[i].revents)
                continue;
            ares_socket_t rd =
                pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ? pfd[i].fd : ARES_SOCKET_BAD;
            ares_socket_t wr = pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD;
            ares_process_fd(ch, rd, wr);
        }
    }
}

static void add_name(dnsaddr_dial *d, const lp2p_multiaddr *ma, const dnsaddr_name *parent)
{
    lp2p_ma_iter it;
    lp2p_ma_component c;
    lp2p_ma_iter_init(&it, ma);
    lp2p_ma_iter_next(&it, &c); /* the /dnsaddr component (checked by the caller) */
    dnsaddr_name n = {.depth = parent ? parent->depth + 1 : 0};
    memcpy(n.name, c.value, c.len);
    n.name[c.len] = '\0';
    n.has_want = lp2p_multiaddr_peer_id(ma, &n.want) == 0;
    for (size_t i = 0; i < d->nnames; i++) /* a zone that points back at itself */
        if (strcasecmp(d->names[i].name, n.name) == 0 && d->names[i].has_want == n.has_want &&
            (!n.has_want || lp2p_peer_id_equal(&d->names[i].want, &n.want)))
            return;
    if (n.depth > DNSADDR_MAX_DEPTH) {
        d->bound = "nested deeper than 4 /dnsaddr records";
        return;
    }
    if (d->nnames == DNSADDR_MAX_LOOKUPS) {
        d->bound = "more than 16 lookups";
        return;
    }
    d->names[d->nnames++] = n;
}

static void take_record(dnsaddr_dial *d, const dnsaddr_name *from, const uint8_t *txt, size_t n)
{
    lp2p_multiaddr ma = {0};
    char s[LP2P_MULTIADDR_STR_MAX];
    switch (lp2p_dnsaddr_record(txt, n, from->has_want ? &from->want : NULL, &ma)) {
    case DNSADDR_REC_IGNORED:
        return;
    case DNSADDR_REC_UNUSABLE:
        d->unusable++;
        return;
    case DNSADDR_REC_OTHER_PEER:
        d->other_peer++;
        return;
    case DNSADDR_REC_RECURSE:
        add_name(d, &ma, from);
        break;
    case DNSADDR_REC_DIAL:
        if (d->naddrs == DNSADDR_MAX_ADDRS)
            d->bound = "more than 16 addresses";
        else if (lp2p_multiaddr_to_string(&ma, s, sizeof(s)) == 0)
            d->addrs[d->naddrs++] = strdup(s); /* NULL (no memory) is skipped when dialing */
        break;
    }
    lp2p_multiaddr_free(&ma);
}

/* One answer: records are runs of character-strings (record_start marks the first). */
static void take_answer(dnsaddr_dial *d, const dnsaddr_name *from, const struct ares_txt_ext *t)
{
    uint8_t rec[DNSADDR_RECORD_MAX + 1];
    size_t len = 0, nrec = 0;
    int have = 0;
    for (; t; t = t->next) {
        if (t->record_start && have) {
            take_record(d, from, rec, len);
            have = 0;
        }
        if (t->record_start) {
            if (++nrec > DNSADDR_MAX_RECORDS) {
                d->bound = "more than 32 TXT records in one answer";
                return;
            }
            len = 0;
            have = 1;
        }
        /* Too long to be an address we dial: keep it over the limit so it is judged unusable. */
        size_t room = sizeof(rec) - len;
        size_t k = t->length < room ? t->length : room;
        memcpy(rec + len, t->txt, k);
        len += k;
    }
    if (have)
        take_record(d, from, rec, len);
}

static void walk(uv_work_t *w)
{
    dnsaddr_dial *d = w->data;
    struct ares_options opts = {.timeout = DNSADDR_QUERY_TIMEOUT_MS, .tries = 2};
    ares_channel ch;
    int rc = ares_init_options(&ch, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) {
        snprintf(d->why, sizeof(d->why), "no DNS resolver: %s", ares_strerror(rc));
        return;
    }
    uint64_t deadline = now_ms() + DNSADDR_DEADLINE_MS;
    for (size_t i = 0; i < d->nnames && d->naddrs < DNSADDR_MAX_ADDRS; i++) {
        if (now_ms() >= deadline) {
            d->bound = "lookups took longer than 10s";
            break;
        }
        char qname[LP2P_MULTIADDR_DNSMAX + 16];
        snprintf(qname, sizeof(qname), "_dnsaddr.%s", d->names[i].name);
        txt_query q = {0};
        d->lookups++;
        ares_query(ch, qname, ns_c_in, ns_t_txt, on_txt, &q);
        run_query(ch, &q, deadline);
        if (q.status == ARES_SUCCESS)
            take_answer(d, &d->names[i], q.txt);
        else if (!d->why[0])
            snprintf(d->why, sizeof(d->why), "TXT %s: %s", qname,
                     q.status == ARES_ECANCELLED || !q.done ? "no answer within 10s"
                                                            : ares_strerror(q.status));
        if (q.txt)
            ares_free_data(q.txt);
    }
    ares_destroy(ch);
}

/* ---- loop thread: dial what was found ------------------------------------------------- */

static void finish(dnsaddr_dial *d, lp2p_conn *c, int rc)
{
    if (d->cb)
        d->cb(c, rc, d->ud);
    for (size_t i = 0; i < d->naddrs; i++)
        free(d->addrs[i]);
    free(d->text);
    free(d);
}

static void try_next(dnsaddr_dial *d);

static void on_dialed(lp2p_conn *c, int rc, void *ud)
{
    dnsaddr_dial *d = ud;
    if (rc == 0) {
        finish(d, c, 0);
        return;
    }
    d->last_rc = rc;
    try_next(d);
}

static void try_next(dnsaddr_dial *d)
{
    while (d->next < d->naddrs && !d->h->closing) {
        const char *a = d->addrs[d->next++];
        if (!a)
            continue;
        lp2p_log(LP2P_INFO, "dnsaddr_dial", LF_S("addr", d->text), LF_S("to", a));
        int rc = lp2p_host_dial(d->h, a, on_dialed, d);
        if (rc == 0)
            return; /* on_dialed follows (perhaps already ran: d may be gone) */
        d->last_rc = rc;
    }
    finish(d, NULL, d->h->closing ? LP2P_ERR_CLOSED : d->last_rc);
}

static void after_walk(uv_work_t *w, int status)
{
    dnsaddr_dial *d = w->data;
    lp2p_host *h = d->h;
    if (h->closing || status < 0) {
        finish(d, NULL, LP2P_ERR_CLOSED);
    } else if (d->naddrs == 0) {
        char why[1024];
        snprintf(why, sizeof(why),
                 "no dialable address for %s (%u TXT lookups; %u records of other peers, %u "
                 "unusable%s%s%s%s)",
                 d->names[0].name, d->lookups, d->other_peer, d->unusable,
                 d->bound ? "; stopped: " : "", d->bound ? d->bound : "", d->why[0] ? "; " : "",
                 d->why);
        lp2p_log(LP2P_WARN, "dial_failed", LF_S("addr", d->text), LF_S("reason", why));
        finish(d, NULL, LP2P_ERR_NOT_FOUND);
    } else {
        lp2p_log(LP2P_INFO, "dnsaddr_resolved", LF_S("addr", d->text), LF_U("addrs", d->naddrs),
                 LF_U("lookups", d->lookups), LF_U("other_peer", d->other_peer),
                 LF_U("unusable", d->unusable), LF_S("bound", d->bound ? d->bound : ""));
        d->last_rc = LP2P_ERR_NOT_FOUND;
        try_next(d);
    }
    if (--h->open_handles == 0 && h->closing)
        lp2p__host_free(h);
}

static uv_once_t ares_once = UV_ONCE_INIT;
static void ares_init_once(void)
{
    ares_library_init(ARES_LIB_INIT_ALL);
}

int lp2p__host_dial_dnsaddr(lp2p_host *h, const lp2p_multiaddr *ma, const char *text,
                            lp2p_dial_cb cb, void *ud)
{
    /* Only /dnsaddr/NAME or /dnsaddr/NAME/p2p/ID: the records carry the rest. */
    lp2p_ma_iter it;
    lp2p_ma_component c;
    lp2p_ma_iter_init(&it, ma);
    lp2p_ma_iter_next(&it, &c);
    int r = lp2p_ma_iter_next(&it, &c);
    if (r == 1 && c.code == LP2P_MA_P2P)
        r = lp2p_ma_iter_next(&it, &c);
    if (r != 0) {
        lp2p_log(LP2P_ERROR, "dial_failed", LF_S("addr", text),
                 LF_S("reason", "write /dnsaddr/NAME/p2p/<peer-id>: the TXT records "
                                "_dnsaddr.NAME carry the address and port"));
        return LP2P_ERR_INVAL;
    }
    dnsaddr_dial *d = calloc(1, sizeof(*d));
    if (!d || !(d->text = strdup(text))) {
        free(d);
        return LP2P_ERR_NOMEM;
    }
    add_name(d, ma, NULL);
    d->h = h;
    d->cb = cb;
    d->ud = ud;
    d->work.data = d;
    uv_once(&ares_once, ares_init_once);
    if (uv_queue_work(h->loop, &d->work, walk, after_walk) < 0) {
        free(d->text);
        free(d);
        return LP2P_ERR_IO;
    }
    h->open_handles++;
    return 0;
}
