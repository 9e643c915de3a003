/* RFC 4648 base32, lowercase, no padding: multibase prefix 'b' (as in CIDv1 peer IDs).
 *
 *   alphabet: abcdefghijklmnopqrstuvwxyz234567 ; 5 input bytes -> 8 characters, MSB first.
 *
 * Decoding is strict so each byte string has exactly one text form: padding, a length that
 * no byte count produces (8k+1, 8k+3, 8k+6), and non-zero unused trailing bits are rejected.
 * Uppercase input is accepted only when `upper` is set (multibase 'B'), never mixed. */
#ifndef LP2P_UTIL_BASE32_H
#define LP2P_UTIL_BASE32_H

#include <stddef.h>
#include <stdint.h>

/* Characters lp2p_base32_encode writes for n bytes (without the NUL). */
size_t lp2p_base32_encoded_len(size_t n);
/* NUL-terminated lowercase text. Returns its length or LP2P_ERR_TOO_LARGE. */
int lp2p_base32_encode(const uint8_t *in, size_t n, char *out, size_t outlen);
/* Returns the byte count, LP2P_ERR_DECODE or LP2P_ERR_TOO_LARGE (out too small). */
int lp2p_base32_decode(const char *s, size_t slen, int upper, uint8_t *out, size_t outlen);

#endif
