/* Circuit Relay v2 messages: HopMessage and StopMessage, encode/decode with the 4 KiB cap.
 * Wire facts: ../shared/reference/libp2p-wire.md A8 (libp2p/specs relay/circuit-v2.md).
 *
 *   frame = uvarint(len) ‖ HopMessage | StopMessage      len <= 4096
 *   HopMessage  {type=1 (RESERVE 0, CONNECT 1, STATUS 2); peer=2; reservation=3; limit=4; status=5}
 *   StopMessage {type=1 (CONNECT 0, STATUS 1);            peer=2; limit=3; status=4}
 *   Peer {id=1; repeated addrs=2}   Reservation {expire=1; repeated addrs=2; voucher=3}
 *   Limit {duration=1 (s); data=2 (bytes per direction)}
 *
 * Framing on the stream is the caller's (wire/lpm.h with LP2P_RELAY_MSG_MAX): after the last
 * message both streams turn into a raw byte pipe, and lpm never reads past one message. */
#ifndef LP2P_PROTO_RELAY_MSG_H
#define LP2P_PROTO_RELAY_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define LP2P_RELAY_HOP_PROTO  "/libp2p/circuit/relay/0.2.0/hop"
#define LP2P_RELAY_STOP_PROTO "/libp2p/circuit/relay/0.2.0/stop"
#define LP2P_RELAY_MSG_MAX    4096 /* go maxMessageSize, rust MAX_MESSAGE_SIZE */

typedef enum lp2p_relay_kind { LP2P_RELAY_HOP = 0, LP2P_RELAY_STOP = 1 } lp2p_relay_kind;

/* One enum for both message kinds; encode maps it to the kind's wire number
 * (RESERVE exists only in HopMessage). */
typedef enum lp2p_relay_type {
    LP2P_RELAY_RESERVE = 0,
    LP2P_RELAY_CONNECT = 1,
    LP2P_RELAY_STATUS = 2,
} lp2p_relay_type;

/* The spec's Status numbers. */
typedef enum lp2p_relay_status {
    LP2P_RELAY_STATUS_UNUSED = 0,
    LP2P_RELAY_STATUS_OK = 100,
    LP2P_RELAY_STATUS_RESERVATION_REFUSED = 200,
    LP2P_RELAY_STATUS_RESOURCE_LIMIT_EXCEEDED = 201,
    LP2P_RELAY_STATUS_PERMISSION_DENIED = 202,
    LP2P_RELAY_STATUS_CONNECTION_FAILED = 203,
    LP2P_RELAY_STATUS_NO_RESERVATION = 204,
    LP2P_RELAY_STATUS_MALFORMED_MESSAGE = 400,
    LP2P_RELAY_STATUS_UNEXPECTED_MESSAGE = 401,
} lp2p_relay_status;

const char *lp2p_relay_status_name(int status);

/* A message. For encode every view is borrowed from the caller. After decode the views point
 * into memory owned by the message (released by lp2p_relay_msg_free). */
typedef struct lp2p_relay_msg {
    lp2p_relay_kind kind;
    lp2p_relay_type type;
    int has_peer;
    lp2p_view peer_id; /* multihash bytes; not validated here */
    size_t n_peer_addrs;
    const lp2p_view *peer_addrs;
    int has_reservation;
    uint64_t rsv_expire; /* unix seconds */
    size_t n_rsv_addrs;
    const lp2p_view *rsv_addrs;
    int has_voucher;
    lp2p_view voucher;
    int has_limit;
    uint32_t limit_duration_s; /* 0 = none */
    uint64_t limit_data;       /* bytes per direction, 0 = none */
    int has_status;
    int status; /* lp2p_relay_status */
    /* decode-owned storage */
    void *pb_;
    lp2p_view *views_;
} lp2p_relay_msg;

/* Appends uvarint(len) ‖ message. LP2P_ERR_TOO_LARGE above 4096 bytes (nothing appended),
 * LP2P_ERR_INVAL for RESERVE in a StopMessage. */
int lp2p_relay_msg_encode(const lp2p_relay_msg *m, lp2p_buf *out);
/* Shortcut: a STATUS message carrying only the status code. */
int lp2p_relay_msg_encode_status(lp2p_relay_kind kind, int status, lp2p_buf *out);
/* Decodes one message body (without the prefix). LP2P_ERR_TOO_LARGE above 4096,
 * LP2P_ERR_DECODE on bad protobuf or a missing/unknown type. On success free with
 * lp2p_relay_msg_free; on failure nothing needs freeing. */
int lp2p_relay_msg_decode(lp2p_relay_kind kind, const uint8_t *body, size_t len,
                          lp2p_relay_msg *out);
void lp2p_relay_msg_free(lp2p_relay_msg *m);

#endif
