/* A passive, read-only tap on one direction of a bridged Kaspa P2P connection: it reads the
 * bytes the bridge forwards (never changes them) and reports the first Version message, so
 * the operator sees which nodes are talking. Wire facts: ../shared/reference/kaspa-p2p-wire.md
 * sections 1, 3 and 6; RFC 9113 sections 3.4 and 4.1.
 *
 *   client → server: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (24 bytes), then frames
 *   server → client: frames
 *   each side's first frame is SETTINGS (RFC 9113 3.4)
 *
 *   frame: +-----------------------------------------------+
 *          |                 Length (24)                   |
 *          +---------------+---------------+---------------+
 *          |   Type (8)    |   Flags (8)   |
 *          +-+-------------+---------------+-------------------------------+
 *          |R|                 Stream Identifier (31)                      |
 *          +=+=============================================================+
 *          |                   Frame Payload (Length)                    ...
 *   DATA (type 0) with PADDED (0x8): [Pad Length u8] data [padding]
 *
 * The DATA of the first stream that carries HEADERS or DATA is Kaspa's one gRPC stream:
 * 5-byte gRPC prefix, then a KaspadMessage (gzip'd when the flag byte is 1), inflated with a
 * small bound. HEADERS are never decoded (HPACK state is not needed for the payload).
 *
 * Every count is bounded: frame payloads are walked, not buffered; one gRPC message is
 * buffered up to KASPA_TAP_MAX_MESSAGE; after the Version, after KASPA_TAP_BUDGET bytes, or
 * at the first malformed byte the tap stops and costs nothing more. */
#ifndef KASPA_BRIDGE_TAP_H
#define KASPA_BRIDGE_TAP_H

#include <stddef.h>
#include <stdint.h>

#include "kaspa/grpc.h"
#include "kaspa/grpc_frame.h" /* the deframer (src/kaspa/grpc_frame.h) */

#define KASPA_TAP_BUDGET      (1u << 20)  /* bytes looked at per direction */
#define KASPA_TAP_MAX_MESSAGE (64u << 10) /* one gRPC message, declared and inflated */

typedef enum kaspa_tap_state {
    KASPA_TAP_RUNNING = 0,
    KASPA_TAP_FOUND,     /* the Version is in .version */
    KASPA_TAP_MALFORMED, /* not HTTP/2 gRPC as expected: stopped */
    KASPA_TAP_BUDGET_SPENT,
} kaspa_tap_state;

typedef struct kaspa_tap_version {
    uint32_t protocol_version;
    char network[64];     /* truncated copies of the peer's strings */
    char user_agent[257]; /* MAX_USER_AGENT_LEN is 256 */
} kaspa_tap_version;

typedef struct kaspa_tap {
    kaspa_tap_state state;
    size_t preface_left; /* client preface bytes still to skip (checked) */
    uint8_t hdr[9];
    size_t hdr_have;
    uint32_t frame_left; /* payload bytes of the current frame still to walk */
    uint32_t data_left;  /* of which are DATA for our stream, before padding */
    int in_data;         /* current frame is DATA on our stream */
    int need_pad_len;    /* PADDED: the next payload byte is the pad length */
    uint32_t stream_id;  /* 0 until the first HEADERS/DATA */
    int past_settings;   /* the first frame (SETTINGS, RFC 9113 3.4) was seen */
    uint64_t seen;
    kaspa_grpc_deframer df;
    kaspa_tap_version version;
} kaspa_tap;

/* client_side = 1 when the tapped bytes come from the gRPC client (they start with the
 * HTTP/2 preface). */
void kaspa_tap_init(kaspa_tap *t, int client_side);
void kaspa_tap_free(kaspa_tap *t);
/* Looks at n more bytes. Returns t->state; once it is not RUNNING further calls do nothing
 * (and the deframer's memory is already released). */
kaspa_tap_state kaspa_tap_feed(kaspa_tap *t, const uint8_t *p, size_t n);
const char *kaspa_tap_state_name(kaspa_tap_state s);

#endif
