/* Kaspa P2P messages (KaspadMessage, package protowire) on protobuf-c.
 * Wire facts: ../shared/reference/kaspa-p2p-wire.md sections 2 and 3; proto/kaspa/kaspa_p2p.proto.
 *
 * We model version 20, verack 19, ready 50, ping 16, pong 17, requestAddresses 6,
 * addresses 1 and reject 22. Any other payload number decodes to payload_case NOT_SET with
 * the bytes kept in unknown_fields: kaspa_msg_kind() calls that KASPA_MSG_UNKNOWN (ignored),
 * and a message with no payload at all KASPA_MSG_EMPTY (a protocol error upstream). */
#ifndef KASPA_MSG_H
#define KASPA_MSG_H

#include <stddef.h>
#include <stdint.h>

/* Opaque here: the generated protobuf-c struct. Code that reads or builds fields includes
 * "kaspa/kaspa_p2p.pb-c.h" itself; everything else passes the pointer on. */
typedef struct Protowire__KaspadMessage kaspa_msg;
/* The library's owned byte buffer (drained by the peer driver; util/buf.h inside). */
typedef struct lp2p_buf lp2p_buf;

#define KASPA_MSG_UNKNOWN       (-1) /* a payload we do not model */
#define KASPA_MSG_EMPTY         0    /* no payload at all */
#define KASPA_MAX_ADDRESSES     2500 /* an Addresses message above this is an error upstream */
#define KASPA_REJECT_REASON_MAX 2048

/* Decodes; NULL on malformed input. Free with kaspa_msg_free. */
kaspa_msg *kaspa_msg_decode(const uint8_t *p, size_t n);
void kaspa_msg_free(kaspa_msg *m);
/* Appends the protobuf encoding of m. */
int kaspa_msg_encode(const kaspa_msg *m, lp2p_buf *out);
/* Payload field number (PROTOWIRE__KASPAD_MESSAGE__PAYLOAD_*), KASPA_MSG_UNKNOWN or
 * KASPA_MSG_EMPTY. */
int kaspa_msg_kind(const kaspa_msg *m);
/* "version", "ping", ..., "unknown", "empty". */
const char *kaspa_msg_kind_name(int kind);
/* For an unknown payload: the first unknown field number (the oneof tag), or 0. */
uint32_t kaspa_msg_unknown_tag(const kaspa_msg *m);

#endif
