/* Base58btc encode/decode (see base58.h). */
#include "util/base58.h"

#include <string.h>

#include "lp2p/err.h"

static const char B58_ALPHABET[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static int b58_value(char c)
{
    const char *p = c ? strchr(B58_ALPHABET, c) : NULL;
    return p ? (int)(p - B58_ALPHABET) : -1;
}

int lp2p_base58_encode(const uint8_t *in, size_t n, char *out, size_t outlen)
{
    if (n > LP2P_BASE58_MAX_INPUT)
        return LP2P_ERR_INVAL;
    size_t zeros = 0;
    while (zeros < n && in[zeros] == 0)
        zeros++;
    /* log(256)/log(58) < 1.37: this many base-58 digits always suffice. */
    uint8_t digits[LP2P_BASE58_MAX_INPUT * 138 / 100 + 1];
    size_t ndig = 0;
    for (size_t i = zeros; i < n; i++) {
        unsigned carry = in[i];
        for (size_t j = 0; j < ndig; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry) {
            digits[ndig++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    size_t total = zeros + ndig;
    if (total + 1 > outlen)
        return LP2P_ERR_TOO_LARGE;
    memset(out, '1', zeros);
    for (size_t j = 0; j < ndig; j++)
        out[zeros + j] = B58_ALPHABET[digits[ndig - 1 - j]];
    out[total] = '\0';
    return (int)total;
}

int lp2p_base58_decode(const char *s, size_t slen, uint8_t *out, size_t outlen)
{
    if (slen == 0 || slen > LP2P_BASE58_MAX_INPUT)
        return LP2P_ERR_DECODE;
    size_t zeros = 0;
    while (zeros < slen && s[zeros] == '1')
        zeros++;
    /* log(58)/log(256) < 0.74 */
    uint8_t bytes[LP2P_BASE58_MAX_INPUT * 74 / 100 + 1];
    size_t nb = 0;
    for (size_t i = zeros; i < slen; i++) {
        int v = b58_value(s[i]);
        if (v < 0)
            return LP2P_ERR_DECODE;
        unsigned carry = (unsigned)v;
        for (size_t j = 0; j < nb; j++) {
            carry += (unsigned)bytes[j] * 58;
            bytes[j] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
        while (carry) {
            bytes[nb++] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
    }
    size_t total = zeros + nb;
    if (total > outlen)
        return LP2P_ERR_TOO_LARGE;
    memset(out, 0, zeros);
    for (size_t j = 0; j < nb; j++)
        out[zeros + j] = bytes[nb - 1 - j];
    return (int)total;
}
