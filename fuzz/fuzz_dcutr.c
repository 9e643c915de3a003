/* DCUtR: arbitrary bytes, split anywhere, fed to role A (fresh) and to role B (after its
 * CONNECT). Never crashes or leaks; the output queue stays bounded; a DIAL event only ever
 * carries addresses that pass the circuit/TCP filter. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "util/log.h"
#include "proto/dcutr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t OWN[] = {0x04, 198, 51, 100, 7, 0x06, 0x0f, 0xa1};

static void run(lp2p_dcutr_role role, const uint8_t *data, size_t size, size_t split)
{
    const uint8_t *own[] = {OWN};
    const size_t lens[] = {sizeof(OWN)};
    lp2p_dcutr d;
    if (lp2p_dcutr_init(&d, role, own, lens, 1, 0, 0, NULL) != 0)
        abort();
    if (role == LP2P_DCUTR_B && lp2p_dcutr_start_attempt(&d, 0) != 0)
        abort();
    if (lp2p_dcutr_recv(&d, data, split, 10) == 0)
        (void)lp2p_dcutr_recv(&d, data + split, size - split, 20);
    (void)lp2p_dcutr_tick(&d, 1000);
    lp2p_dcutr_event ev;
    if (lp2p_dcutr_poll(&d, &ev)) {
        if (ev.naddrs == 0 || ev.naddrs > LP2P_DCUTR_MAX_ADDRS)
            abort();
        for (size_t i = 0; i < ev.naddrs; i++)
            if (!lp2p_dcutr_addr_usable(ev.addrs[i], ev.addr_lens[i]))
                abort();
    }
    if (lp2p_buf_size(&d.out) > 2 * (LP2P_DCUTR_MSG_MAX + 9))
        abort();
    lp2p_dcutr_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp2p_log_set_level(LP2P_ERROR); /* refusal lines would dominate the run time */
    if (size < 1)
        return 0;
    size_t split = data[0];
    data++;
    size--;
    if (split > size)
        split = size;
    run(LP2P_DCUTR_A, data, size, split);
    run(LP2P_DCUTR_B, data, size, split);
    return 0;
}
