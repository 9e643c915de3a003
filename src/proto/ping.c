/* Ping: see ping.h. */
#include "proto/ping.h"

#include <string.h>

#include "lp2p/err.h"

void lp2p_ping_init(lp2p_ping *p, lp2p_ping_role role, uint64_t timeout_ms)
{
    memset(p, 0, sizeof(*p));
    p->role = role;
    lp2p_buf_init(&p->out);
    p->timeout_ms = timeout_ms ? timeout_ms : LP2P_PING_TIMEOUT_MS;
}

void lp2p_ping_free(lp2p_ping *p)
{
    lp2p_buf_free(&p->out);
}

static int fail(lp2p_ping *p, int rc, const char *why)
{
    p->failed = 1;
    p->waiting = 0;
    lp2p_emit(&p->trace, LP2P_WARN, "ping_failed", LF_S("reason", why),
              LF_S("err", lp2p_err_name(rc)));
    return rc;
}

int lp2p_ping_send(lp2p_ping *p, const uint8_t *payload, uint64_t now_ms)
{
    if (p->role != LP2P_PING_DIALER || p->waiting || p->failed)
        return LP2P_ERR_STATE;
    int rc = 0;
    if (payload)
        memcpy(p->sent, payload, LP2P_PING_SIZE);
    else if ((rc = lp2p_rng_fill(&p->rng, p->sent, LP2P_PING_SIZE)) < 0)
        return rc;
    if ((rc = lp2p_buf_append(&p->out, p->sent, LP2P_PING_SIZE)))
        return rc;
    p->waiting = 1;
    p->have = 0;
    p->sent_ms = now_ms;
    return 0;
}

int lp2p_ping_recv(lp2p_ping *p, const uint8_t *in, size_t len, uint64_t now_ms)
{
    int done = 0;
    if (p->failed)
        return LP2P_ERR_STATE;
    while (len > 0) {
        if (p->role == LP2P_PING_DIALER && !p->waiting)
            return fail(p, LP2P_ERR_DECODE, "bytes with no ping outstanding");
        size_t take = LP2P_PING_SIZE - p->have;
        if (take > len)
            take = len;
        memcpy(p->block + p->have, in, take);
        p->have += take;
        in += take;
        len -= take;
        if (p->have < LP2P_PING_SIZE)
            break;
        p->have = 0;
        if (p->role == LP2P_PING_RESPONDER) {
            int rc = lp2p_buf_append(&p->out, p->block, LP2P_PING_SIZE);
            if (rc)
                return rc;
            p->count++;
            continue;
        }
        if (memcmp(p->block, p->sent, LP2P_PING_SIZE) != 0)
            return fail(p, LP2P_ERR_DECODE, "echo differs from the ping");
        p->waiting = 0;
        p->last_rtt_ms = now_ms >= p->sent_ms ? now_ms - p->sent_ms : 0;
        p->count++;
        done++;
    }
    return done;
}

int lp2p_ping_eof(lp2p_ping *p)
{
    if (p->role == LP2P_PING_RESPONDER)
        return p->have == 0 ? 0 : fail(p, LP2P_ERR_DECODE, "stream ended inside a ping");
    return p->waiting ? fail(p, LP2P_ERR_CLOSED, "stream closed before the echo") : 0;
}

uint64_t lp2p_ping_next_deadline(const lp2p_ping *p)
{
    return p->waiting ? p->sent_ms + p->timeout_ms : UINT64_MAX;
}

int lp2p_ping_tick(lp2p_ping *p, uint64_t now_ms)
{
    if (p->waiting && now_ms >= p->sent_ms + p->timeout_ms)
        return fail(p, LP2P_ERR_TIMEOUT, "no echo before the timeout");
    return 0;
}
