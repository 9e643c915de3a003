/* A libp2p stream as an lp2p_transport (src/net/transport.h), for the Kaspa peer driver's
 * libp2p constructors. Minimal on purpose: it stands in until the host's general stream
 * transport (src/host/stream_transport.c) lands, with exactly that header's contract.
 * Writes copy into the stream (lp2p_stream_write); high-water LP2P_STREAM_HIGH_WATER, with
 * the stream's own on_writable below a quarter of it. The transport is freed after
 * on_closed (the lp2p stream's on_close). */
#ifndef KASPA_STREAM_TRANSPORT_H
#define KASPA_STREAM_TRANSPORT_H

#include "lp2p/host.h"
#include "net/transport.h"

/* Opens proto on c (lazy multistream: bytes may be written at once). */
int kaspa_stream_transport_open(lp2p_conn *c, const char *proto, lp2p_transport **out);
/* Takes over an inbound stream (from a protocol handler's on_open). */
lp2p_transport *kaspa_stream_transport_adopt(lp2p_stream *s);
/* The stream under t (NULL once it is gone). */
lp2p_stream *kaspa_stream_transport_stream(lp2p_transport *t);

#endif
