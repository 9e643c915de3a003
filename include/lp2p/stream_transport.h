/* A libp2p stream used as a byte transport: the relay circuit under a relayed connection,
 * or a /kaspad/transport/1.0.0 stream under a Kaspa session. The transport takes over the
 * stream's callbacks; its interface (write, pending, pause/resume reading, shutdown, close,
 * events up) is the one every byte transport has (src/net/transport.h, not public). */
#ifndef LP2P_STREAM_TRANSPORT_H
#define LP2P_STREAM_TRANSPORT_H

#include "lp2p/host.h"

typedef struct lp2p_transport lp2p_transport;

/* Turns s into a transport. remote_addr (copied) names the far end in logs; NULL: the
 * address of s's connection. Closing the transport detaches and ends s; s ending (the
 * peer's reset, its connection gone) is the transport's on_closed. Returns 0 or
 * LP2P_ERR_NOMEM (s untouched). */
int lp2p_stream_transport_new(lp2p_stream *s, const char *remote_addr, lp2p_transport **out);

#endif
