/* gRPC's 5-byte message framing and gzip, inside src/kaspa (grpc.c, and the tests and
 * fuzzers of the framing). Wire facts: ../shared/reference/kaspa-p2p-wire.md section 1. */
#ifndef KASPA_GRPC_FRAME_H
#define KASPA_GRPC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "kaspa/grpc.h"
#include "util/buf.h"

/* ---- 5-byte message framing ---------------------------------------------------------------
 *   +--------+--------------------------+----------------------+
 *   | flag u8| length u32 (big endian)  | message (length bytes)|
 *   +--------+--------------------------+----------------------+
 *   flag 0 = identity, 1 = compressed with the stream's grpc-encoding (gzip here). */
typedef int (*kaspa_grpc_msg_cb)(void *user, const uint8_t *msg, size_t len);

typedef struct kaspa_grpc_deframer {
    uint64_t max;      /* max frame payload and max inflated size */
    lp2p_buf acc;      /* partial frame (header + payload so far) */
    lp2p_buf inflated; /* scratch for gzip output */
    uint64_t msgs;     /* messages delivered */
    uint64_t gzipped;  /* of which arrived compressed (flag 1) */
} kaspa_grpc_deframer;

void kaspa_grpc_deframer_init(kaspa_grpc_deframer *d, uint64_t max);
void kaspa_grpc_deframer_free(kaspa_grpc_deframer *d);
/* Heap bytes held for received data (partial frame and inflate output), by capacity. */
size_t kaspa_grpc_deframer_held(const kaspa_grpc_deframer *d);
/* Consumes all of in; calls cb once per complete message (decompressed). Returns 0,
 * LP2P_ERR_TOO_LARGE (declared or inflated size over max), LP2P_ERR_DECODE (bad flag, bad
 * gzip), or the first non-zero value cb returned. After an error the deframer is unusable.
 * Between messages, and after an error, it holds at most KASPA_GRPC_KEEP_BYTES. */
int kaspa_grpc_deframe(kaspa_grpc_deframer *d, const uint8_t *in, size_t len, kaspa_grpc_msg_cb cb,
                       void *user);

/* Appends one framed message to out; gzip_level >= 0 compresses (flag 1; levels above 9 are
 * 9), < 0 identity. zs: no longer used (the compressor is the thread's libdeflate one); kept
 * so callers that pass a per-stream slot, and kaspa_grpc_deflate_free, need no change. */
int kaspa_grpc_frame_append(lp2p_buf *out, const uint8_t *msg, size_t len, int gzip_level,
                            void **zs);
void kaspa_grpc_deflate_free(void **zs);
/* Appends one identity-framed message of len bytes that pack() writes in place, behind its
 * 5-byte header: the message is written once. On pack's error nothing is appended. */
int kaspa_grpc_frame_append_packed(lp2p_buf *out, size_t len, kaspa_grpc_pack_fn pack, void *ctx);

#endif
