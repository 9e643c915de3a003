/* The wall clock's declaration is public (lp2p/clock.h); the cores below net never read it
 * themselves but are handed it. */
#ifndef LP2P_NET_WALL_CLOCK_H
#define LP2P_NET_WALL_CLOCK_H

#include "lp2p/clock.h"

#endif
