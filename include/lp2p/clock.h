/* The wall clock, read in the net layer (which may touch the OS) and handed down: the
 * logger's timestamps (lp2p_log_set_clock), Kaspa's Version timestamp, relay expiry and
 * peer-record seq. Public so an app installs the same clock the library uses. */
#ifndef LP2P_CLOCK_H
#define LP2P_CLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch (CLOCK_REALTIME). */
uint64_t lp2p_wall_ms(void);

#endif
