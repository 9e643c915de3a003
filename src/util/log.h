/* The logger's API is public (lp2p/log.h): the apps log through the same functions the
 * library does. Kept so that library code goes on including "util/log.h". */
#ifndef LP2P_UTIL_LOG_H
#define LP2P_UTIL_LOG_H

#include "lp2p/log.h"
#include "util/trace.h" /* lp2p_emit, for code that took it from here */

#endif
