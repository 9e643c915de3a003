/* Base32 (RFC 4648 alphabet, lowercase, unpadded); see base32.h. */
#include "util/base32.h"

#include <limits.h>

#include "lp2p/err.h"

static const char B32_ALPHABET[] = "abcdefghijklmnopqrstuvwxyz234567";

size_t lp2p_base32_encoded_len(size_t n)
{
    return (n * 8 + 4) / 5;
}

int lp2p_base32_encode(const uint8_t *in, size_t n, char *out, size_t outlen)
{
    size_t len = lp2p_base32_encoded_len(n);
    if (len + 1 > outlen || len > INT_MAX)
        return LP2P_ERR_TOO_LARGE;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = B32_ALPHABET[(acc >> bits) & 31];
        }
    }
    if (bits > 0)
        out[o++] = B32_ALPHABET[(acc << (5 - bits)) & 31];
    out[o] = '\0';
    return (int)o;
}

static int b32_value(char c, int upper)
{
    if (upper ? (c >= 'A' && c <= 'Z') : (c >= 'a' && c <= 'z'))
        return upper ? c - 'A' : c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

int lp2p_base32_decode(const char *s, size_t slen, int upper, uint8_t *out, size_t outlen)
{
    switch (slen % 8) {
    case 1:
    case 3:
    case 6:
        return LP2P_ERR_DECODE;
    default:
        break;
    }
    size_t n = slen * 5 / 8;
    if (n > outlen || n > INT_MAX)
        return LP2P_ERR_TOO_LARGE;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < slen; i++) {
        int v = b32_value(s[i], upper);
        if (v < 0)
            return LP2P_ERR_DECODE;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Leftover bits must be zero padding, or two texts would decode to the same bytes. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return LP2P_ERR_DECODE;
    return (int)o;
}
