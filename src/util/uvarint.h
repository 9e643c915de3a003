/* Unsigned varint (multiformats/unsigned-varint): LEB128, 7 bits per byte, MSB continues.
 * Decoding insists on the minimal encoding and at most 9 bytes (63 bits), as the spec says. */
#ifndef LP2P_UTIL_UVARINT_H
#define LP2P_UTIL_UVARINT_H

#include <stddef.h>
#include <stdint.h>

#define LP2P_UVARINT_MAX 9

/* Writes v (must be < 2^63) into out (>= 9 bytes); returns bytes written. */
size_t lp2p_uvarint_encode(uint64_t v, uint8_t *out);
/* Bytes lp2p_uvarint_encode would write. */
size_t lp2p_uvarint_len(uint64_t v);
/* Decodes from [*p, end). On success advances *p and returns 0.
 * LP2P_ERR_AGAIN: input ends inside the varint (feed more).
 * LP2P_ERR_DECODE: not minimal, or longer than 9 bytes. */
int lp2p_uvarint_decode(const uint8_t **p, const uint8_t *end, uint64_t *out);

#endif
