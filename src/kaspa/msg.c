/* KaspadMessage encode/decode helpers on the protobuf-c generated code. */
#include "kaspa/msg.h"
#include "kaspa/kaspa_p2p.pb-c.h" /* the fields of kaspa_msg */
#include "lp2p/err.h"
#include "util/buf.h"

kaspa_msg *kaspa_msg_decode(const uint8_t *p, size_t n)
{
    return protowire__kaspad_message__unpack(NULL, n, p);
}

void kaspa_msg_free(kaspa_msg *m)
{
    if (m)
        protowire__kaspad_message__free_unpacked(m, NULL);
}

int kaspa_msg_encode(const kaspa_msg *m, lp2p_buf *out)
{
    size_t n = protowire__kaspad_message__get_packed_size(m);
    if (n == 0)
        return 0; /* an empty KaspadMessage encodes to no bytes */
    int rc = lp2p_buf_reserve(out, n);
    if (rc)
        return rc;
    size_t w = protowire__kaspad_message__pack(m, out->data + out->len);
    if (w != n)
        return LP2P_ERR_FATAL;
    out->len += n;
    return 0;
}

int kaspa_msg_kind(const kaspa_msg *m)
{
    if (m->payload_case != PROTOWIRE__KASPAD_MESSAGE__PAYLOAD__NOT_SET)
        return (int)m->payload_case;
    return kaspa_msg_unknown_tag(m) ? KASPA_MSG_UNKNOWN : KASPA_MSG_EMPTY;
}

uint32_t kaspa_msg_unknown_tag(const kaspa_msg *m)
{
    /* response_id/request_id are known fields, so every unknown field is a payload we do not
     * model (or a future top-level field: tolerated the same way). */
    const ProtobufCMessage *b = &m->base;
    return b->n_unknown_fields ? b->unknown_fields[0].tag : 0;
}

const char *kaspa_msg_kind_name(int kind)
{
    switch (kind) {
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_ADDRESSES:
        return "addresses";
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REQUEST_ADDRESSES:
        return "requestAddresses";
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PING:
        return "ping";
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_PONG:
        return "pong";
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERACK:
        return "verack";
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_VERSION:
        return "version";
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_REJECT:
        return "reject";
    case PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_READY:
        return "ready";
    case KASPA_MSG_EMPTY:
        return "empty";
    default:
        return "unknown";
    }
}
