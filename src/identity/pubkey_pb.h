/* The libp2p PublicKey protobuf, decoded strictly (private to the identity layer).
 *
 *   PublicKey (proto2): 08 <KeyType varint> 12 <len varint> <Data>
 *
 * Peer IDs and signatures are computed over these exact bytes, so the spec requires the
 * deterministic encoding: both fields, in tag order, minimal varints, nothing else. */
#ifndef LP2P_IDENTITY_PUBKEY_PB_H
#define LP2P_IDENTITY_PUBKEY_PB_H

#include <stddef.h>
#include <stdint.h>

/* Larger than any key we accept (an 8192-bit RSA PKIX key is about 1.1 KB). */
#define LP2P_PUBKEY_PB_LIMIT 4096

/* On success *type is the KeyType and *data, *dlen the Data field, pointing into pb.
 * LP2P_ERR_DECODE: not a canonical PublicKey. LP2P_ERR_UNSUPPORTED: unknown KeyType.
 * Does not look at the key material (see lp2p_pubkey_validate). */
int lp2p_pubkey_pb_decode(const uint8_t *pb, size_t n, int *type, const uint8_t **data,
                          size_t *dlen);

#endif
