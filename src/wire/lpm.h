/* Length-prefixed messages: the framing of identify, relay v2 hop/stop and DCUtR
 * (libp2p-wire.md A6, A8, A9), and of multistream-select lines (A3).
 *
 *   message = uvarint(len) ‖ body[len]
 *
 * A sans-IO reader with a hard bound: it takes input only up to the end of one message, so
 * bytes that follow (e.g. the relayed byte stream after a hop STATUS) stay with the caller.
 * A prefix announcing more than `max` bytes is refused before any of the body is buffered.
 * Typical maxima: 4096 (relay, DCUtR), 8192 (identify), 1024 (multistream-select). */
#ifndef LP2P_WIRE_LPM_H
#define LP2P_WIRE_LPM_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define LP2P_LPM_RELAY_MAX    4096
#define LP2P_LPM_DCUTR_MAX    4096
#define LP2P_LPM_IDENTIFY_MAX 8192

typedef struct lp2p_lpm {
    size_t max;
    uint8_t prefix[10]; /* uvarint prefix bytes seen so far */
    uint8_t plen;
    uint8_t have_len;  /* prefix complete: body holds the announced length */
    uint8_t delivered; /* the last call returned a message held in acc */
    size_t body;
    lp2p_buf acc; /* body bytes of a message split across reads */
    int err;      /* sticky error */
} lp2p_lpm;

void lp2p_lpm_init(lp2p_lpm *r, size_t max);
void lp2p_lpm_free(lp2p_lpm *r);

/* Reads from in[0..len) until one whole message is available or the input runs out.
 * *consumed gets the number of input bytes taken (always set).
 *  1: a message is in *msg; it points into `in` or into the reader, and stays valid until
 *     the next call on r (or until `in` changes). Call again with in + *consumed for more.
 *  0: all of in was taken, the message is not complete yet.
 *  LP2P_ERR_TOO_LARGE: the prefix announces more than max bytes.
 *  LP2P_ERR_DECODE: the prefix is not a minimal uvarint.
 * Errors are sticky: the stream is unusable after one. */
int lp2p_lpm_read(lp2p_lpm *r, const uint8_t *in, size_t len, size_t *consumed, lp2p_view *msg);

/* 1 when bytes of a partial message are held (useful to detect EOF mid-message). */
int lp2p_lpm_pending(const lp2p_lpm *r);

/* Appends uvarint(len) ‖ body to out. */
int lp2p_lpm_encode(lp2p_buf *out, const uint8_t *body, size_t len);

#endif
