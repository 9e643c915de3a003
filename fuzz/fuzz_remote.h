/* Shared by the fuzz targets that play a remote peer on the far end of an in-memory transport
 * (fuzz_host_inbound, fuzz_kaspa_peer): the remote end ignores what it is sent, and
 * fuzz_remote is NULL once that end has closed; fuzz_remote_feed writes input in chunks with
 * loop turns between. */
#ifndef FUZZ_REMOTE_H
#define FUZZ_REMOTE_H

#include <stdio.h>
#include <uv.h>

#include "fuzz_quiet.h"
#include "net/transport.h"
#include "util/buf.h"
#include "util/log.h"

static lp2p_transport *fuzz_remote;

static void fuzz_remote_data(void *ud, const uint8_t *p, size_t n)
{
    (void)ud;
    (void)p;
    (void)n;
}
static void fuzz_remote_nop(void *ud)
{
    (void)ud;
}
static void fuzz_remote_closed(void *ud, int err, const char *why)
{
    (void)err;
    (void)why;
    if (ud)
        *(lp2p_transport **)ud = NULL;
}
static const lp2p_transport_events fuzz_remote_events = {.on_data = fuzz_remote_data,
                                                         .on_eof = fuzz_remote_nop,
                                                         .on_writable = fuzz_remote_nop,
                                                         .on_closed = fuzz_remote_closed};

static void fuzz_remote_feed(uv_loop_t *loop, const uint8_t *data, size_t size, size_t chunk)
{
    for (size_t i = 0; i < size && fuzz_remote; i += chunk) {
        size_t n = size - i < chunk ? size - i : chunk;
        lp2p_buf b;
        lp2p_buf_init(&b);
        lp2p_buf_append(&b, data + i, n);
        lp2p_transport_write(fuzz_remote, &b);
        lp2p_buf_free(&b);
        uv_run(loop, UV_RUN_NOWAIT);
        uv_run(loop, UV_RUN_NOWAIT);
    }
}

#endif
