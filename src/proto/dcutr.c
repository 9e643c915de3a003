/* DCUtR state machine: see dcutr.h for the flow. */
#include "proto/dcutr.h"

#include <stdlib.h>
#include <string.h>

#include "dcutr.pb-c.h"
#include "lp2p/err.h"
#include "util/uvarint.h"
#include "wire/multiaddr.h"

int lp2p_dcutr_addr_usable(const uint8_t *ma, size_t len)
{
    lp2p_multiaddr m = {0};
    if (lp2p_multiaddr_from_bytes(&m, ma, len, NULL, 0) < 0)
        return 0;
    int ok = !lp2p_multiaddr_is_circuit(&m);
    lp2p_multiaddr_free(&m);
    return ok;
}

static void free_list(uint8_t ***l, size_t **lens, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*l)[i]);
    free(*l);
    free(*lens);
    *l = NULL;
    *lens = NULL;
    *n = 0;
}

/* Copies the usable addresses of src into a fresh list; *dropped counts the rest. */
static int copy_filtered(const uint8_t *const *src, const size_t *lens, size_t n, uint8_t ***out,
                         size_t **out_lens, size_t *nout, size_t *dropped)
{
    *dropped = 0;
    size_t cap = n < LP2P_DCUTR_MAX_ADDRS ? n : LP2P_DCUTR_MAX_ADDRS;
    uint8_t **l = calloc(cap ? cap : 1, sizeof(*l));
    size_t *ll = calloc(cap ? cap : 1, sizeof(*ll));
    size_t k = 0;
    if (!l || !ll) {
        free(l);
        free(ll);
        return LP2P_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (k == cap || !lp2p_dcutr_addr_usable(src[i], lens[i])) {
            (*dropped)++;
            continue;
        }
        if (!(l[k] = malloc(lens[i]))) {
            free_list(&l, &ll, &k);
            return LP2P_ERR_NOMEM;
        }
        memcpy(l[k], src[i], lens[i]);
        ll[k++] = lens[i];
    }
    *out = l;
    *out_lens = ll;
    *nout = k;
    return 0;
}

int lp2p_dcutr_init(lp2p_dcutr *d, lp2p_dcutr_role role, const uint8_t *const *own,
                    const size_t *own_lens, size_t nown, uint64_t timeout_ms, uint64_t now_ms,
                    const lp2p_trace *trace)
{
    memset(d, 0, sizeof(*d));
    if (trace)
        d->trace = *trace;
    d->role = role;
    d->timeout_ms = timeout_ms ? timeout_ms : LP2P_DCUTR_TIMEOUT_MS;
    lp2p_lpm_init(&d->rd, LP2P_DCUTR_MSG_MAX);
    lp2p_buf_init(&d->out);
    size_t dropped;
    int rc = copy_filtered(own, own_lens, nown, &d->own, &d->own_lens, &d->nown, &dropped);
    if (rc < 0)
        return rc;
    if (dropped)
        lp2p_emit(&d->trace, LP2P_DEBUG, "dcutr_own_addrs_filtered", LF_U("dropped", dropped),
                  LF_U("kept", d->nown));
    if (role == LP2P_DCUTR_A) {
        d->state = LP2P_DCUTR_WAIT_CONNECT;
        d->attempt = 1;
        d->deadline_ms = now_ms + d->timeout_ms;
    }
    return 0;
}

void lp2p_dcutr_free(lp2p_dcutr *d)
{
    lp2p_lpm_free(&d->rd);
    lp2p_buf_free(&d->out);
    free_list(&d->own, &d->own_lens, &d->nown);
    free_list(&d->peer, &d->peer_lens, &d->npeer);
}

/* uvarint(len) ‖ HolePunch{type, ObsAddrs = own} into out. */
static int send_msg(lp2p_dcutr *d, int type, int with_addrs)
{
    Holepunch__Pb__HolePunch m = HOLEPUNCH__PB__HOLE_PUNCH__INIT;
    ProtobufCBinaryData *a = NULL;
    m.type = (Holepunch__Pb__HolePunch__Type)type;
    if (with_addrs && d->nown) {
        if (!(a = calloc(d->nown, sizeof(*a))))
            return LP2P_ERR_NOMEM;
        for (size_t i = 0; i < d->nown; i++) {
            a[i].data = d->own[i];
            a[i].len = d->own_lens[i];
        }
        m.obsaddrs = a;
        m.n_obsaddrs = d->nown;
    }
    /* Trim from the end until it fits the peer's 4 KiB limit (only with absurd lists). */
    while (holepunch__pb__hole_punch__get_packed_size(&m) > LP2P_DCUTR_MSG_MAX && m.n_obsaddrs)
        m.n_obsaddrs--;
    size_t n = holepunch__pb__hole_punch__get_packed_size(&m);
    int rc = lp2p_buf_reserve(&d->out, n + LP2P_UVARINT_MAX);
    if (rc == 0) {
        d->out.len += lp2p_uvarint_encode(n, d->out.data + d->out.len);
        d->out.len += holepunch__pb__hole_punch__pack(&m, d->out.data + d->out.len);
    }
    free(a);
    return rc;
}

int lp2p_dcutr_start_attempt(lp2p_dcutr *d, uint64_t now_ms)
{
    if (d->role != LP2P_DCUTR_B || d->state != LP2P_DCUTR_IDLE ||
        d->attempt >= LP2P_DCUTR_MAX_ATTEMPTS)
        return LP2P_ERR_STATE;
    if (d->nown == 0) {
        lp2p_emit(&d->trace, LP2P_INFO, "dcutr_no_addrs",
                  LF_S("reason", "nothing to offer the peer"));
        return LP2P_ERR_NA;
    }
    /* fresh stream: forget the previous attempt's bytes */
    lp2p_lpm_free(&d->rd);
    lp2p_lpm_init(&d->rd, LP2P_DCUTR_MSG_MAX);
    lp2p_buf_clear(&d->out);
    free_list(&d->peer, &d->peer_lens, &d->npeer);
    int rc = send_msg(d, HOLEPUNCH__PB__HOLE_PUNCH__TYPE__CONNECT, 1);
    if (rc < 0)
        return rc;
    d->attempt++;
    d->state = LP2P_DCUTR_WAIT_CONNECT;
    d->sent_ms = now_ms;
    d->deadline_ms = now_ms + d->timeout_ms;
    d->event_ready = 0;
    return 0;
}

static int fail_msg(lp2p_dcutr *d, int rc, const char *why)
{
    lp2p_emit(&d->trace, LP2P_WARN, "dcutr_rejected",
              LF_S("role", d->role == LP2P_DCUTR_B ? "B" : "A"), LF_I("attempt", d->attempt),
              LF_S("reason", why), LF_S("err", lp2p_err_name(rc)));
    d->deadline_ms = UINT64_MAX;
    return rc;
}

/* Stores the peer's usable addresses; LP2P_ERR_NA when none is left. */
static int take_peer_addrs(lp2p_dcutr *d, const Holepunch__Pb__HolePunch *m)
{
    const uint8_t **src = calloc(m->n_obsaddrs ? m->n_obsaddrs : 1, sizeof(*src));
    size_t *lens = calloc(m->n_obsaddrs ? m->n_obsaddrs : 1, sizeof(*lens));
    int rc = LP2P_ERR_NOMEM;
    if (src && lens) {
        for (size_t i = 0; i < m->n_obsaddrs; i++) {
            src[i] = m->obsaddrs[i].data;
            lens[i] = m->obsaddrs[i].len;
        }
        size_t dropped;
        free_list(&d->peer, &d->peer_lens, &d->npeer);
        rc = copy_filtered(src, lens, m->n_obsaddrs, &d->peer, &d->peer_lens, &d->npeer, &dropped);
        if (rc == 0 && dropped)
            lp2p_emit(&d->trace, LP2P_DEBUG, "dcutr_peer_addrs_filtered", LF_U("dropped", dropped),
                      LF_U("kept", d->npeer));
        if (rc == 0 && d->npeer == 0)
            rc = LP2P_ERR_NA;
    }
    free(src);
    free(lens);
    return rc;
}

static int on_msg(lp2p_dcutr *d, const uint8_t *body, size_t len, uint64_t now_ms)
{
    Holepunch__Pb__HolePunch *m = holepunch__pb__hole_punch__unpack(NULL, len, body);
    if (!m)
        return fail_msg(d, LP2P_ERR_DECODE, "undecodable HolePunch");
    int rc = 0;
    int type = (int)m->type;
    if (type != HOLEPUNCH__PB__HOLE_PUNCH__TYPE__CONNECT &&
        type != HOLEPUNCH__PB__HOLE_PUNCH__TYPE__SYNC) {
        rc = fail_msg(d, LP2P_ERR_DECODE, "unknown HolePunch type");
        goto done;
    }
    if (d->role == LP2P_DCUTR_B && d->state == LP2P_DCUTR_WAIT_CONNECT &&
        type == HOLEPUNCH__PB__HOLE_PUNCH__TYPE__CONNECT) {
        /* RTT = CONNECT out → CONNECT back; the SYNC takes RTT/2 to reach A, so dialing at
         * now + RTT/2 makes both SYNs leave at about the same moment. */
        if ((rc = take_peer_addrs(d, m)) < 0) {
            rc = fail_msg(d, rc,
                          rc == LP2P_ERR_NA ? "peer offered no usable address" : "out of memory");
            goto done;
        }
        d->rtt_ms = now_ms - d->sent_ms;
        if ((rc = send_msg(d, HOLEPUNCH__PB__HOLE_PUNCH__TYPE__SYNC, 0)) < 0)
            goto done;
        d->dial_at_ms = now_ms + d->rtt_ms / 2;
        d->state = LP2P_DCUTR_WAIT_DIAL;
        d->deadline_ms = UINT64_MAX;
    } else if (d->role == LP2P_DCUTR_A && d->state == LP2P_DCUTR_WAIT_CONNECT &&
               type == HOLEPUNCH__PB__HOLE_PUNCH__TYPE__CONNECT) {
        if ((rc = take_peer_addrs(d, m)) < 0) {
            rc = fail_msg(d, rc,
                          rc == LP2P_ERR_NA ? "peer offered no usable address" : "out of memory");
            goto done;
        }
        if (d->nown == 0) {
            rc = fail_msg(d, LP2P_ERR_NA, "nothing to offer the peer");
            goto done;
        }
        if ((rc = send_msg(d, HOLEPUNCH__PB__HOLE_PUNCH__TYPE__CONNECT, 1)) < 0)
            goto done;
        d->sent_ms = now_ms;
        d->state = LP2P_DCUTR_WAIT_SYNC;
        d->deadline_ms = now_ms + d->timeout_ms;
    } else if (d->role == LP2P_DCUTR_A && d->state == LP2P_DCUTR_WAIT_SYNC &&
               type == HOLEPUNCH__PB__HOLE_PUNCH__TYPE__SYNC) {
        d->rtt_ms = now_ms - d->sent_ms;
        d->state = LP2P_DCUTR_DIALING;
        d->deadline_ms = UINT64_MAX;
        d->event_ready = 1;
    } else {
        rc = fail_msg(d, LP2P_ERR_DECODE, "message not expected now");
    }
done:
    holepunch__pb__hole_punch__free_unpacked(m, NULL);
    return rc;
}

int lp2p_dcutr_recv(lp2p_dcutr *d, const uint8_t *in, size_t len, uint64_t now_ms)
{
    while (len > 0) {
        size_t used;
        lp2p_view msg;
        int rc = lp2p_lpm_read(&d->rd, in, len, &used, &msg);
        in += used;
        len -= used;
        if (rc < 0)
            return fail_msg(d, rc,
                            rc == LP2P_ERR_TOO_LARGE ? "message above 4 KiB" : "bad length prefix");
        if (rc == 0)
            break;
        if ((rc = on_msg(d, msg.ptr, msg.len, now_ms)) < 0)
            return rc;
    }
    return 0;
}

uint64_t lp2p_dcutr_next_deadline(const lp2p_dcutr *d)
{
    if (d->state == LP2P_DCUTR_WAIT_DIAL)
        return d->dial_at_ms;
    if (d->state == LP2P_DCUTR_WAIT_CONNECT || d->state == LP2P_DCUTR_WAIT_SYNC)
        return d->deadline_ms;
    return UINT64_MAX;
}

int lp2p_dcutr_tick(lp2p_dcutr *d, uint64_t now_ms)
{
    if (d->state == LP2P_DCUTR_WAIT_DIAL && now_ms >= d->dial_at_ms) {
        d->state = LP2P_DCUTR_DIALING;
        d->event_ready = 1;
        return 0;
    }
    if ((d->state == LP2P_DCUTR_WAIT_CONNECT || d->state == LP2P_DCUTR_WAIT_SYNC) &&
        now_ms >= d->deadline_ms)
        return fail_msg(d, LP2P_ERR_TIMEOUT, "no answer on the dcutr stream");
    return 0;
}

int lp2p_dcutr_poll(lp2p_dcutr *d, lp2p_dcutr_event *ev)
{
    if (!d->event_ready)
        return 0;
    d->event_ready = 0;
    memset(ev, 0, sizeof(*ev));
    ev->addrs = (const uint8_t *const *)d->peer;
    ev->addr_lens = d->peer_lens;
    ev->naddrs = d->npeer;
    ev->attempt = d->attempt;
    ev->rtt_ms = d->rtt_ms;
    ev->noise_initiator = d->role == LP2P_DCUTR_A;
    ev->try_swapped = d->role == LP2P_DCUTR_B && d->attempt == LP2P_DCUTR_MAX_ATTEMPTS;
    lp2p_emit(&d->trace, LP2P_INFO, "dcutr_dial", LF_S("role", d->role == LP2P_DCUTR_B ? "B" : "A"),
              LF_I("attempt", d->attempt), LF_U("rtt_ms", d->rtt_ms), LF_U("addrs", d->npeer),
              LF_B("try_swapped", ev->try_swapped));
    return 1;
}

void lp2p_dcutr_succeeded(lp2p_dcutr *d)
{
    d->state = LP2P_DCUTR_DONE;
    d->deadline_ms = UINT64_MAX;
    d->event_ready = 0;
}

int lp2p_dcutr_attempt_failed(lp2p_dcutr *d)
{
    d->deadline_ms = UINT64_MAX;
    d->event_ready = 0;
    if (d->role == LP2P_DCUTR_B && d->attempt < LP2P_DCUTR_MAX_ATTEMPTS &&
        d->state != LP2P_DCUTR_DONE) {
        d->state = LP2P_DCUTR_IDLE;
        return 1;
    }
    d->state = LP2P_DCUTR_FAILED;
    return 0;
}
