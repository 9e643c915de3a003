/* The wall clock, read here (a layer that may touch the OS) and handed down: the logger's
 * timestamps (lp2p_log_set_clock), Kaspa's Version timestamp, relay expiry and peer-record
 * seq. The cores below never read it themselves. */
#ifndef LP2P_NET_WALL_CLOCK_H
#define LP2P_NET_WALL_CLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch (CLOCK_REALTIME). */
uint64_t lp2p_wall_ms(void);

#endif
