/* A protobuf-c allocator that zeroes every block it frees, for messages holding private
 * keys (private to the identity layer; defined in keypair.c). */
#ifndef LP2P_IDENTITY_WIPE_ALLOC_H
#define LP2P_IDENTITY_WIPE_ALLOC_H

#include <protobuf-c/protobuf-c.h>

extern ProtobufCAllocator lp2p_wiping_allocator;

#endif
