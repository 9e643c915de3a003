/* Base58btc (Bitcoin alphabet), as used for legacy peer IDs and multibase 'z'.
 *
 *   alphabet: 123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz
 *   each leading 0x00 byte <-> one leading '1'; the rest is the big-endian number in base 58.
 *
 * The quadratic textbook algorithm is fine here: inputs are bounded (peer IDs, < 128 B). */
#ifndef LP2P_UTIL_BASE58_H
#define LP2P_UTIL_BASE58_H

#include <stddef.h>
#include <stdint.h>

/* Longest input either function accepts (bytes for encode, characters for decode). */
#define LP2P_BASE58_MAX_INPUT 256

/* Encodes n bytes into out as a NUL-terminated string. Returns the string length, or
 * LP2P_ERR_INVAL (input too long) / LP2P_ERR_TOO_LARGE (out too small). */
int lp2p_base58_encode(const uint8_t *in, size_t n, char *out, size_t outlen);
/* Decodes slen characters of s into out. Returns the byte count, or LP2P_ERR_DECODE
 * (character outside the alphabet, empty, too long) / LP2P_ERR_TOO_LARGE (out too small). */
int lp2p_base58_decode(const char *s, size_t slen, uint8_t *out, size_t outlen);

#endif
