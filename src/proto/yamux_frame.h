/* Yamux frame header codec (libp2p/specs yamux/README.md, "Framing").
 *
 *   0               1               2               3
 *   0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
 *  +---------------+---------------+-------------------------------+
 *  |  Version (0)  |     Type      |             Flags             |
 *  +---------------+---------------+-------------------------------+
 *  |                           Stream ID                           |
 *  +---------------------------------------------------------------+
 *  |                            Length                             |
 *  +---------------------------------------------------------------+
 *
 * All fields big-endian. Length means: Data = payload bytes that follow the header,
 * WindowUpdate = window delta, Ping = opaque value, GoAway = error code. */
#ifndef LP2P_PROTO_YAMUX_FRAME_H
#define LP2P_PROTO_YAMUX_FRAME_H

#include <stdint.h>

#define LP2P_YAMUX_HDR_LEN 12
#define LP2P_YAMUX_VERSION 0

#define LP2P_YAMUX_DATA   0
#define LP2P_YAMUX_WINDOW 1
#define LP2P_YAMUX_PING   2
#define LP2P_YAMUX_GOAWAY 3

#define LP2P_YAMUX_SYN 0x1
#define LP2P_YAMUX_ACK 0x2
#define LP2P_YAMUX_FIN 0x4
#define LP2P_YAMUX_RST 0x8

/* GoAway codes */
#define LP2P_YAMUX_GOAWAY_NORMAL   0
#define LP2P_YAMUX_GOAWAY_PROTOCOL 1
#define LP2P_YAMUX_GOAWAY_INTERNAL 2

/* Default and initial per-stream window every peer assumes (spec: 256 KiB). */
#define LP2P_YAMUX_INITIAL_WINDOW (256u * 1024u)

typedef struct lp2p_yamux_hdr {
    uint8_t version;
    uint8_t type;
    uint16_t flags;
    uint32_t stream_id;
    uint32_t length;
} lp2p_yamux_hdr;

void lp2p_yamux_hdr_encode(const lp2p_yamux_hdr *h, uint8_t out[LP2P_YAMUX_HDR_LEN]);
/* Decodes 12 bytes. Returns 0, or LP2P_ERR_PROTO for a version other than 0 or an
 * unknown type (both are fatal for the session). Unknown flag bits are kept, not checked:
 * go-yamux ignores them too. */
int lp2p_yamux_hdr_decode(const uint8_t in[LP2P_YAMUX_HDR_LEN], lp2p_yamux_hdr *h);

#endif
