/* uvarint decoder: never reads past end; anything decoded re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/uvarint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        const uint8_t *start = p;
        uint64_t v;
        if (lp2p_uvarint_decode(&p, end, &v) != 0)
            break;
        uint8_t out[LP2P_UVARINT_MAX];
        size_t n = lp2p_uvarint_encode(v, out);
        if (n != (size_t)(p - start) || memcmp(out, start, n) != 0)
            abort();
    }
    return 0;
}
