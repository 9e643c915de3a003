/* Passive Version tap (contract and wire diagram in bridge_tap.h). */
#include <stdio.h>
#include <string.h>

#include "kaspa/bridge_tap.h"
#include "kaspa/kaspa_p2p.pb-c.h" /* the fields of kaspa_msg */
#include "kaspa/msg.h"
#include "lp2p/err.h"

static const char PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN (sizeof PREFACE - 1)

#define H2_DATA     0x0
#define H2_HEADERS  0x1
#define H2_SETTINGS 0x4
#define H2_F_PADDED 0x8
#define TAP_FOUND   1 /* deframer callback: stop, the Version is in */

void kaspa_tap_init(kaspa_tap *t, int client_side)
{
    memset(t, 0, sizeof *t);
    t->preface_left = client_side ? PREFACE_LEN : 0;
    kaspa_grpc_deframer_init(&t->df, KASPA_TAP_MAX_MESSAGE);
}

static kaspa_tap_state stop(kaspa_tap *t, kaspa_tap_state s)
{
    t->state = s;
    kaspa_grpc_deframer_free(&t->df);
    return s;
}

void kaspa_tap_free(kaspa_tap *t)
{
    if (t->state == KASPA_TAP_RUNNING)
        stop(t, KASPA_TAP_BUDGET_SPENT);
}

static void copy_str(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

static int on_message(void *user, const uint8_t *msg, size_t len)
{
    kaspa_tap *t = user;
    kaspa_msg *m = kaspa_msg_decode(msg, len);
    if (!m)
        return LP2P_ERR_DECODE;
    int found = 0;
    if (kaspa_msg_kind(m) == PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION) {
        const Protowire__VersionMessage *v = m->version;
        t->version.protocol_version = v->protocolversion;
        copy_str(t->version.network, sizeof t->version.network, v->network);
        copy_str(t->version.user_agent, sizeof t->version.user_agent, v->useragent);
        found = 1;
    }
    kaspa_msg_free(m);
    return found ? TAP_FOUND : 0;
}

/* One frame header is complete in t->hdr. */
static int start_frame(kaspa_tap *t)
{
    const uint8_t *h = t->hdr;
    uint32_t len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
    uint8_t type = h[3], flags = h[4];
    uint32_t sid =
        ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8]) & 0x7fffffffu;
    if (!t->past_settings) {
        /* RFC 9113 3.4: each side's preface ends with a SETTINGS frame, the first frame. */
        if (type != H2_SETTINGS || sid != 0)
            return -1;
        t->past_settings = 1;
    }
    if ((type == H2_DATA || type == H2_HEADERS) && sid != 0 && t->stream_id == 0)
        t->stream_id = sid;
    t->frame_left = len;
    t->in_data = type == H2_DATA && sid != 0 && sid == t->stream_id;
    t->need_pad_len = t->in_data && (flags & H2_F_PADDED);
    t->data_left = t->in_data && !t->need_pad_len ? len : 0;
    if (t->need_pad_len && len == 0)
        return -1; /* PADDED with no room for the pad length */
    return 0;
}

/* Walks [*pp, end) until done or a verdict; returns RUNNING or the state to stop in. */
static kaspa_tap_state walk(kaspa_tap *t, const uint8_t **pp, const uint8_t *end)
{
    const uint8_t *p = *pp;
    kaspa_tap_state verdict = KASPA_TAP_RUNNING;
    while (p < end && verdict == KASPA_TAP_RUNNING) {
        if (t->preface_left) {
            size_t off = PREFACE_LEN - t->preface_left;
            size_t k = (size_t)(end - p) < t->preface_left ? (size_t)(end - p) : t->preface_left;
            if (memcmp(p, PREFACE + off, k) != 0)
                verdict = KASPA_TAP_MALFORMED;
            t->preface_left -= k;
            p += k;
            continue;
        }
        if (t->frame_left == 0) {
            size_t k = 9 - t->hdr_have;
            if (k > (size_t)(end - p))
                k = (size_t)(end - p);
            memcpy(t->hdr + t->hdr_have, p, k);
            t->hdr_have += k;
            p += k;
            if (t->hdr_have == 9) {
                t->hdr_have = 0;
                if (start_frame(t) != 0)
                    verdict = KASPA_TAP_MALFORMED;
            }
            continue;
        }
        if (t->need_pad_len) {
            uint8_t pad = *p++;
            if (pad >= t->frame_left) {
                verdict = KASPA_TAP_MALFORMED; /* RFC 9113 6.1: PROTOCOL_ERROR */
                continue;
            }
            t->need_pad_len = 0;
            t->frame_left--;
            t->data_left = t->frame_left - pad;
            continue;
        }
        size_t avail = (size_t)(end - p);
        if (avail > t->frame_left)
            avail = t->frame_left;
        size_t data = avail < t->data_left ? avail : t->data_left;
        if (data > 0) {
            int rc = kaspa_grpc_deframe(&t->df, p, data, on_message, t);
            if (rc == TAP_FOUND)
                verdict = KASPA_TAP_FOUND;
            else if (rc != 0)
                verdict = KASPA_TAP_MALFORMED;
            t->data_left -= (uint32_t)data;
        }
        t->frame_left -= (uint32_t)avail; /* the rest of avail is padding */
        p += avail;
    }
    *pp = p;
    return verdict;
}

kaspa_tap_state kaspa_tap_feed(kaspa_tap *t, const uint8_t *p, size_t n)
{
    if (t->state != KASPA_TAP_RUNNING)
        return t->state;
    if (n > KASPA_TAP_BUDGET - t->seen)
        n = KASPA_TAP_BUDGET - t->seen; /* what is beyond the budget is never looked at */
    const uint8_t *q = p;
    kaspa_tap_state verdict = walk(t, &q, p + n);
    t->seen += (uint64_t)(q - p);
    if (verdict != KASPA_TAP_RUNNING)
        return stop(t, verdict);
    if (t->seen >= KASPA_TAP_BUDGET)
        return stop(t, KASPA_TAP_BUDGET_SPENT);
    return t->state;
}

const char *kaspa_tap_state_name(kaspa_tap_state s)
{
    switch (s) {
    case KASPA_TAP_RUNNING:
        return "running";
    case KASPA_TAP_FOUND:
        return "found";
    case KASPA_TAP_MALFORMED:
        return "malformed";
    case KASPA_TAP_BUDGET_SPENT:
        return "budget_spent";
    }
    return "unknown";
}
