/* The bridge's passive Version tap (src/kaspa/bridge_tap.c).
 * Byte 0: bit 0 = the bytes come from the gRPC client (start with the HTTP/2 preface); the
 * rest of byte 0 picks how the input is cut. The same bytes are fed whole and in pieces: the
 * verdict and the Version found must not depend on the cut, the tap never looks past its
 * budget, and nothing crashes or leaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kaspa/bridge_tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int client_side = data[0] & 1;
    size_t step = 1 + (data[0] >> 1) * 3;
    data++;
    size--;
    kaspa_tap whole, cut;
    kaspa_tap_init(&whole, client_side);
    kaspa_tap_init(&cut, client_side);
    kaspa_tap_state a = kaspa_tap_feed(&whole, data, size);
    kaspa_tap_state b = KASPA_TAP_RUNNING;
    for (size_t off = 0; off < size;) {
        size_t m = size - off < step ? size - off : step;
        b = kaspa_tap_feed(&cut, data + off, m);
        off += m;
    }
    if (size == 0)
        b = cut.state;
    if (a != b || whole.seen > KASPA_TAP_BUDGET || cut.seen > KASPA_TAP_BUDGET)
        abort();
    if (a == KASPA_TAP_FOUND && (whole.version.protocol_version != cut.version.protocol_version ||
                                 strcmp(whole.version.user_agent, cut.version.user_agent) != 0 ||
                                 strcmp(whole.version.network, cut.version.network) != 0))
        abort();
    kaspa_tap_free(&whole);
    kaspa_tap_free(&cut);
    return 0;
}
