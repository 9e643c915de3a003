/* holepunch client: Kaspa P2P over libp2p or plain TCP (being written). */
#include "cmds.h"

#include <stdio.h>

int cmd_client(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "holepunch client: not implemented yet\n");
    return 2;
}
