/* Identify and identify/push (/ipfs/id/1.0.0, /ipfs/id/push/1.0.0), sans-IO.
 * Wire facts: ../shared/reference/libp2p-wire.md A6.
 *
 *   responder / pusher                         requester / push receiver
 *   uvarint(len) Identify{...}  ───────────►   reads messages until EOF (at most 10,
 *   [uvarint(len) Identify{...} ...]            each <= 8 KiB), merges them in order
 *   close write                 ───────────►   verifies key and signed peer record
 *
 * We send one message of at most 4 KiB (what rust-libp2p accepts; go does the same). When our
 * message would be larger we drop listen addresses from the END of the list (so callers put
 * the best ones first), then the signed peer record, and fail with LP2P_ERR_TOO_LARGE only if
 * the remaining fields alone are still too big.
 *
 * Merging follows protobuf merge (what go's readAllIDMessages does): a later singular field
 * replaces an earlier one, repeated fields append. Applying a push to what we already know
 * replaces only the fields the push carried (the spec: "missing fields are ignored"). */
#ifndef LP2P_PROTO_IDENTIFY_H
#define LP2P_PROTO_IDENTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "lp2p/identity.h"
#include "util/buf.h"
#include "util/trace.h"
#include "wire/lpm.h"

#define LP2P_IDENTIFY_PROTO      "/ipfs/id/1.0.0"
#define LP2P_IDENTIFY_PUSH_PROTO "/ipfs/id/push/1.0.0"
#define LP2P_IDENTIFY_SEND_MAX   4096 /* our own message, protobuf bytes without the prefix */
#define LP2P_IDENTIFY_RECV_MAX   8192 /* per received message (go's limit) */
#define LP2P_IDENTIFY_MAX_MSGS   10   /* messages per stream (go's limit) */
#define LP2P_IDENTIFY_TIMEOUT_MS 5000 /* go's identify timeout */

/* Which fields a decoded message (or merged messages) carried. */
enum {
    LP2P_IDF_PUBLIC_KEY = 1u << 0,
    LP2P_IDF_LISTEN_ADDRS = 1u << 1, /* at least one address */
    LP2P_IDF_PROTOCOLS = 1u << 2,    /* at least one protocol */
    LP2P_IDF_OBSERVED_ADDR = 1u << 3,
    LP2P_IDF_PROTOCOL_VERSION = 1u << 4,
    LP2P_IDF_AGENT_VERSION = 1u << 5,
    LP2P_IDF_SIGNED_RECORD = 1u << 6,
};

/* Identify contents. After decode every pointer is owned (malloc) and released by
 * lp2p_identify_info_free. For encode the caller fills it with borrowed pointers (NULL /
 * count 0 = field absent) and never calls _free on it. */
typedef struct lp2p_identify_info {
    unsigned fields;     /* LP2P_IDF_* (decode output; ignored by encode) */
    uint8_t *public_key; /* serialized PublicKey */
    size_t public_key_len;
    uint8_t **listen_addrs; /* binary multiaddrs */
    size_t *listen_addr_lens;
    size_t n_listen_addrs;
    char **protocols; /* NUL-terminated protocol IDs */
    size_t n_protocols;
    uint8_t *observed_addr; /* binary multiaddr */
    size_t observed_addr_len;
    char *protocol_version;
    char *agent_version;
    uint8_t *signed_peer_record; /* Envelope bytes */
    size_t signed_peer_record_len;
    /* set by lp2p_identify_verify */
    int record_verified; /* 1: listen_addrs now come from the verified signed record */
    uint64_t record_seq;
} lp2p_identify_info;

void lp2p_identify_info_init(lp2p_identify_info *info);
void lp2p_identify_info_free(lp2p_identify_info *info);

/* Appends uvarint(len) ‖ Identify to out. Optional outputs: how many listen addresses were
 * dropped from the end, and whether the signed record was dropped, to fit 4 KiB.
 * LP2P_ERR_TOO_LARGE when it cannot fit even without addresses and record. A trim is also
 * reported to trace (identify_trimmed; NULL = silent). */
int lp2p_identify_encode(const lp2p_identify_info *info, lp2p_buf *out, size_t *dropped_addrs,
                         int *dropped_record, const lp2p_trace *trace);

/* Decodes one protobuf message (no length prefix) and merges it into info (protobuf merge).
 * LP2P_ERR_TOO_LARGE above LP2P_IDENTIFY_RECV_MAX, LP2P_ERR_DECODE on bad protobuf. */
int lp2p_identify_decode(const uint8_t *msg, size_t len, lp2p_identify_info *info);

/* Checks the merged info against the authenticated remote peer ID:
 * - publicKey, when present, must hash to remote (else LP2P_ERR_PEER_ID_MISMATCH, fatal:
 *   the peer lies about its identity on an authenticated connection);
 * - signedPeerRecord, when present, is opened and must be signed by remote; then its
 *   addresses replace listen_addrs (record_verified = 1). An invalid record is dropped with an
 *   identify_bad_record record and the plain listen addresses are kept (what go does).
 * trace (NULL = silent) gets identify_key_mismatch / identify_bad_record (peer, reason). */
int lp2p_identify_verify(lp2p_identify_info *info, const lp2p_peer_id *remote,
                         const lp2p_trace *trace);

/* Moves every field that push carried into known (replacing it); fields push did not carry
 * stay as they were. Exception: when both hold verified signed records and push's seq is
 * lower, push's addresses and record are ignored. push is left empty (still needs _free,
 * which is then a no-op). Call lp2p_identify_verify (or _reader_finish) on push first. */
void lp2p_identify_apply_push(lp2p_identify_info *known, lp2p_identify_info *push);

/* ---- the receiving side of one identify or push stream -------------------------------- */
typedef struct lp2p_identify_reader {
    lp2p_lpm rd;             /* framing: holds at most one partial message (<= 8 KiB) */
    unsigned nmsgs;          /* complete messages so far */
    uint64_t deadline_ms;    /* UINT64_MAX once finished */
    int failed;              /* a previous call returned an error */
    lp2p_identify_info info; /* merged so far */
    lp2p_trace trace;        /* set after _init: identify_rejected and verify's records */
} lp2p_identify_reader;

/* timeout_ms 0 = LP2P_IDENTIFY_TIMEOUT_MS, counted from now_ms. */
void lp2p_identify_reader_init(lp2p_identify_reader *r, uint64_t now_ms, uint64_t timeout_ms);
void lp2p_identify_reader_free(lp2p_identify_reader *r);
/* Consumes all of in. Errors: LP2P_ERR_TOO_LARGE (a frame above 8 KiB, refused as soon as its
 * prefix arrives), LP2P_ERR_DECODE, LP2P_ERR_LIMIT (more than 10 messages). */
int lp2p_identify_reader_recv(lp2p_identify_reader *r, const uint8_t *in, size_t len,
                              uint64_t now_ms);
/* The remote closed its write side. Fails with LP2P_ERR_DECODE on a truncated frame or when
 * no message arrived; otherwise verifies (lp2p_identify_verify) and moves the merged info
 * into *out (caller frees). */
int lp2p_identify_reader_finish(lp2p_identify_reader *r, const lp2p_peer_id *remote,
                                lp2p_identify_info *out);
uint64_t lp2p_identify_reader_next_deadline(const lp2p_identify_reader *r);
/* LP2P_ERR_TIMEOUT once the deadline has passed without finish. */
int lp2p_identify_reader_tick(lp2p_identify_reader *r, uint64_t now_ms);

#endif
