/* multistream-select 1.0, both roles, sans-IO (libp2p-wire.md A3).
 *
 *   message = uvarint(len + 1) ‖ utf8 ‖ '\n'        e.g. "na" = 03 6e 61 0a
 *
 *   dialer                                   listener
 *     /multistream/1.0.0\n /proto-a\n  ──▶               (pipelined in one write)
 *                                      ◀──  /multistream/1.0.0\n na\n
 *     /proto-b\n                       ──▶
 *                                      ◀──  /proto-b\n   (agreed: raw bytes from here)
 *
 * Lazy (0-RTT, rust's V1Lazy / go's lazy client): a dialer offering exactly one protocol may
 * write application data right after the handshake bytes without waiting for the answer;
 * the core still checks the echoed header and protocol before any received byte is handed
 * to the application. Only use it when the peer is known to support the protocol: on `na`
 * the data already sent is garbage to the peer.
 *
 * Limits: a line over 1024 bytes (as go-multistream) is LP2P_ERR_TOO_LARGE; a listener that
 * has refused LP2P_MSS_MAX_PROPOSALS proposals gives up with LP2P_ERR_LIMIT. */
#ifndef LP2P_PROTO_MSS_H
#define LP2P_PROTO_MSS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "wire/lpm.h"

#define LP2P_MSS_PROTOCOL      "/multistream/1.0.0"
#define LP2P_MSS_MAX_LINE      1024 /* uvarint value, newline included */
#define LP2P_MSS_MAX_PROPOSALS 32

typedef int (*lp2p_mss_supports_fn)(void *user, const char *proto);

typedef struct lp2p_mss {
    lp2p_buf out; /* bytes to send; the caller drains it (lp2p_buf_head/size/consume) */

    int listener;
    int state;
    int err;         /* sticky error once failed */
    const char *why; /* static text explaining err, for the caller's log line */
    lp2p_lpm rd;

    /* dialer */
    const char *const *protos; /* borrowed: must outlive the negotiation */
    size_t nprotos;
    size_t cur; /* index of the outstanding proposal */
    int lazy;

    /* listener */
    lp2p_mss_supports_fn supports;
    void *user;
    const char *const *ls; /* optional list for `ls`; borrowed */
    size_t nls;
    unsigned refused;

    char *selected; /* listener: owned copy; dialer: points at protos[cur] */
} lp2p_mss;

/* Dialer: queues `/multistream/1.0.0` and the first proposal in m->out (one write).
 * protos (array and strings) are borrowed and must stay valid until lp2p_mss_free.
 * lazy is honoured only when n == 1 (see lp2p_mss_may_send).
 * LP2P_ERR_INVAL: n == 0, or a protocol that is empty, "na"/"ls", contains '\n' or is longer
 * than a line allows. LP2P_ERR_NOMEM. The struct is always safe to lp2p_mss_free. */
int lp2p_mss_init_dialer(lp2p_mss *m, const char *const *protos, size_t n, int lazy);

/* Listener: nothing is sent until the dialer's header arrives; then our header and the
 * answer to the first proposal go out together. supports(user, proto) returns non-zero
 * when proto is accepted; it is called synchronously from lp2p_mss_recv and must not free m. */
int lp2p_mss_init_listener(lp2p_mss *m, lp2p_mss_supports_fn supports, void *user);
/* Optional: protocol list answered to `ls` (borrowed). Without it, `ls` gets `na` as
 * go-multistream does. */
void lp2p_mss_set_ls(lp2p_mss *m, const char *const *protos, size_t n);

/* Feeds received bytes. Messages are processed one at a time; the core stops right after
 * the message that completes the negotiation, so bytes from in + *consumed on belong to the
 * application (or the next protocol). *consumed is always set.
 *   0: need more input (all of in consumed); check m->out for bytes to send.
 *   1: negotiated; lp2p_mss_selected(m) is the protocol. Also check m->out (the listener's
 *      echo is queued there). Further calls return 1 and consume nothing.
 *   LP2P_ERR_NA        dialer: every proposal was refused (or, lazy, the only one).
 *   LP2P_ERR_TOO_LARGE a line longer than LP2P_MSS_MAX_LINE.
 *   LP2P_ERR_LIMIT     listener: too many refused proposals.
 *   LP2P_ERR_PROTO     wrong header, unexpected message, malformed line.
 *   LP2P_ERR_NOMEM.
 * Errors are sticky; lp2p_mss_error_reason says why. */
int lp2p_mss_recv(lp2p_mss *m, const uint8_t *in, size_t len, size_t *consumed);

/* The agreed protocol once recv returned 1, else NULL. Valid until lp2p_mss_free. */
const char *lp2p_mss_selected(const lp2p_mss *m);
/* 1 when the caller may write application data now: negotiated, or a lazy dialer (the
 * handshake bytes already queued in m->out must be written first). */
int lp2p_mss_may_send(const lp2p_mss *m);
int lp2p_mss_done(const lp2p_mss *m);
/* Static human text for the last error ("" if none). */
const char *lp2p_mss_error_reason(const lp2p_mss *m);

void lp2p_mss_free(lp2p_mss *m);

/* Appends one multistream message (uvarint(len+1) ‖ s ‖ '\n'). */
int lp2p_mss_write_line(lp2p_buf *out, const char *s);

#endif
