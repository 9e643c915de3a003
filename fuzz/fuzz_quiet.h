/* Shared by the fuzz targets that run whole hosts or sessions on a loop: their log lines go
 * nowhere (a line per input would be most of the fuzzer's time). */
#ifndef FUZZ_QUIET_H
#define FUZZ_QUIET_H

#include <stdio.h>

#include "util/log.h"

static inline void fuzz_quiet_logs(void)
{
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull)
        lp2p_log_set_output(devnull);
}

#endif
