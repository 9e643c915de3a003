/* Protocol services the `listen` command (and later server/relay) offer: /echo/1.0.0 and
 * /perf/1.0.0 (off by default on public nodes, per the perf spec). */
#ifndef HOLEPUNCH_SERVICES_H
#define HOLEPUNCH_SERVICES_H

#include "lp2p/host.h"

#define ECHO_PROTO "/echo/1.0.0"

void services_register_echo(lp2p_host *h);
void services_register_perf(lp2p_host *h);

#endif
