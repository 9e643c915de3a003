/* Read-only views of a host's state for health checks and metrics (loop thread only). */
#ifndef LP2P_HOST_STATS_H
#define LP2P_HOST_STATS_H

#include <stddef.h>

#include "lp2p/host.h"

/* Relays on which a reservation is held right now; *configured (may be NULL) gets how many
 * lp2p_host_reserve calls the host keeps. */
size_t lp2p_host_reservations_held(const lp2p_host *h, size_t *configured);

#endif
