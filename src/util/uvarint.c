#include "util/uvarint.h"
#include "lp2p/err.h"

size_t lp2p_uvarint_encode(uint64_t v, uint8_t *out)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t lp2p_uvarint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

int lp2p_uvarint_decode(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    const uint8_t *s = *p;
    uint64_t v = 0;
    for (unsigned i = 0; i < LP2P_UVARINT_MAX; i++) {
        if (s + i >= end)
            return LP2P_ERR_AGAIN;
        uint8_t c = s[i];
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            /* A trailing zero byte after the first means a non-minimal encoding. */
            if (c == 0 && i > 0)
                return LP2P_ERR_DECODE;
            *out = v;
            *p = s + i + 1;
            return 0;
        }
    }
    return LP2P_ERR_DECODE;
}
