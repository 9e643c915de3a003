/* Two byte transports joined back to back in memory, on one loop (for tests: a connection,
 * a Kaspa driver, ... without sockets).
 *
 * Bytes written on one end are pending on that end until a loop callback delivers them to
 * the other end's on_data, at most `chunk` bytes per callback, and only while the other
 * end reads (not paused): a peer that pauses reading makes the writer's pending() grow, as
 * a peer that never reads fills a TCP window. shutdown() delivers on_eof after the pending
 * bytes; close(0) does the same for the other end and ends this one; close(1) drops the
 * pending bytes and the other end gets on_closed(LP2P_ERR_RESET). */
#ifndef LP2P_NET_MEM_TRANSPORT_H
#define LP2P_NET_MEM_TRANSPORT_H

#include <uv.h>

#include "net/transport.h"

#define LP2P_MEM_CHUNK_DEFAULT (64u << 10)

/* Returns 0 or LP2P_ERR_NOMEM. Each end frees itself after its on_closed, as every
 * transport does; high_water (1 MiB) and low_water may be changed on the structs. */
int lp2p_mem_transport_pair(uv_loop_t *loop, lp2p_transport **a, lp2p_transport **b);
/* Bytes delivered to the other end per loop callback (default LP2P_MEM_CHUNK_DEFAULT). */
void lp2p_mem_transport_set_chunk(lp2p_transport *t, size_t chunk);
/* 1 while t's owner has reading paused (tests of read backpressure look at this). */
int lp2p_mem_transport_read_paused(const lp2p_transport *t);

#endif
