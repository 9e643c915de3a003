/* One error table for the whole library (libuv's X-macro idea, nghttp2's fatal split).
 *
 * Every function that can fail returns 0 (or a non-negative count) on success and one of
 * these negative codes on failure. Codes above LP2P_ERR_FATAL are recoverable: they cost
 * at most one stream. Codes at or below it are fatal: the connection is closed. */
#ifndef LP2P_ERR_H
#define LP2P_ERR_H

#define LP2P_ERR_MAP(XX)                                                                      \
    /* recoverable: reset one stream / refuse one request */                                \
    XX(AGAIN, -1, "need more input")                                                         \
    XX(INVAL, -2, "invalid argument")                                                        \
    XX(NOMEM, -3, "out of memory")                                                           \
    XX(TOO_LARGE, -4, "message too large")                                                   \
    XX(DECODE, -5, "malformed message")                                                      \
    XX(UNSUPPORTED, -6, "unsupported protocol or value")                                     \
    XX(NA, -7, "protocol not available")                                                     \
    XX(LIMIT, -8, "resource limit exceeded")                                                 \
    XX(TIMEOUT, -9, "timed out")                                                             \
    XX(CLOSED, -10, "closed")                                                                \
    XX(RESET, -11, "stream reset")                                                           \
    XX(STATE, -12, "not allowed in this state")                                              \
    XX(NOT_FOUND, -13, "not found")                                                          \
    XX(IO, -14, "I/O error")                                                                 \
    XX(EXISTS, -15, "already exists")                                                        \
    XX(REFUSED, -16, "refused by peer")                                                      \
    /* fatal: the whole connection is closed */                                              \
    XX(FATAL, -900, "fatal error")                                                           \
    XX(PROTO, -901, "protocol violation")                                                    \
    XX(CRYPTO, -902, "cryptographic failure")                                                \
    XX(AUTH, -903, "peer authentication failed")                                             \
    XX(PEER_ID_MISMATCH, -904, "remote key does not match the dialed peer ID")              \
    XX(FLOW_CONTROL, -905, "flow-control window violated")                                   \
    XX(FLOOD, -906, "peer flooded us past a limit")

enum lp2p_err {
#define LP2P_ERR_ENUM(name, code, msg) LP2P_ERR_##name = (code),
    LP2P_ERR_MAP(LP2P_ERR_ENUM)
#undef LP2P_ERR_ENUM
};

/* Human text for a code ("unknown error" for anything else). Never NULL. */
const char *lp2p_strerror(int err);
/* Short symbolic name ("PROTO"), for logs. Never NULL. */
const char *lp2p_err_name(int err);
/* Non-zero when err must close the connection. */
static inline int lp2p_err_is_fatal(int err)
{
    return err <= LP2P_ERR_FATAL;
}

#endif
