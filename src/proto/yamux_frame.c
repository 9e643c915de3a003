#include "proto/yamux_frame.h"

#include "lp2p/err.h"

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void lp2p_yamux_hdr_encode(const lp2p_yamux_hdr *h, uint8_t out[LP2P_YAMUX_HDR_LEN])
{
    out[0] = h->version;
    out[1] = h->type;
    put_be16(out + 2, h->flags);
    put_be32(out + 4, h->stream_id);
    put_be32(out + 8, h->length);
}

int lp2p_yamux_hdr_decode(const uint8_t in[LP2P_YAMUX_HDR_LEN], lp2p_yamux_hdr *h)
{
    h->version = in[0];
    h->type = in[1];
    h->flags = (uint16_t)(in[2] << 8 | in[3]);
    h->stream_id = get_be32(in + 4);
    h->length = get_be32(in + 8);
    if (h->version != LP2P_YAMUX_VERSION)
        return LP2P_ERR_PROTO;
    if (h->type > LP2P_YAMUX_GOAWAY)
        return LP2P_ERR_PROTO;
    return 0;
}
