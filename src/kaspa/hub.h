/* The hub's cross-file API inside src/kaspa: what a session calls to register the peer it
 * has admitted and to forget it again. The public part (new/del/node_id/count/contains) is
 * in include/kaspa/session.h; only session.c adds and removes, so a (node id, IP) pair is
 * in the hub exactly while a session with that key is past its handshake checks. */
#ifndef KASPA_HUB_H
#define KASPA_HUB_H

#include "kaspa/session.h"

/* Registers a connected peer under its (node id, IP) key (the port is not part of it, as in
 * rusty-kaspa's PeerKey). LP2P_ERR_EXISTS when the key is taken, LP2P_ERR_NOMEM. */
int kaspa_hub_add_(kaspa_hub *h, const uint8_t id[KASPA_NODE_ID_LEN], const kaspa_addr *addr);
/* Forgets the key (no-op when absent). */
void kaspa_hub_remove_(kaspa_hub *h, const uint8_t id[KASPA_NODE_ID_LEN], const kaspa_addr *addr);

#endif
