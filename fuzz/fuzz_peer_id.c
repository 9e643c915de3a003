/* Peer ID text and multihash parsers: never crash, and whatever parses prints back to text
 * that parses to the same ID (base58 and CID). The base58/base32 decoders are canonical:
 * decode-then-encode gives the input back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/identity.h"
#include "util/base32.h"
#include "util/base58.h"

static void roundtrip(const lp2p_peer_id *id)
{
    char s[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id back;
    if (lp2p_peer_id_to_string(id, s, sizeof(s)) != 0 || lp2p_peer_id_parse(s, &back) != 0 ||
        !lp2p_peer_id_equal(id, &back))
        abort();
    if (lp2p_peer_id_to_cid(id, s, sizeof(s)) != 0 || lp2p_peer_id_parse(s, &back) != 0 ||
        !lp2p_peer_id_equal(id, &back))
        abort();
    uint8_t pk[LP2P_PEER_ID_MAX];
    int n = lp2p_peer_id_extract_pubkey(id, pk, sizeof(pk));
    if (n >= 0 && (id->bytes[0] != 0x00 || (size_t)n + 2 != id->len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 300)
        return 0;
    char s[301];
    memcpy(s, data, size);
    s[size] = '\0';

    lp2p_peer_id id;
    if (lp2p_peer_id_parse(s, &id) == 0)
        roundtrip(&id);
    if (lp2p_peer_id_from_bytes(data, size, &id) == 0)
        roundtrip(&id);

    uint8_t buf[300];
    char text[600];
    int n = lp2p_base58_decode(s, size, buf, sizeof(buf));
    if (n >= 0) {
        if (lp2p_base58_encode(buf, (size_t)n, text, sizeof(text)) != (int)size ||
            memcmp(text, s, size) != 0)
            abort();
    }
    n = lp2p_base32_decode(s, size, 0, buf, sizeof(buf));
    if (n >= 0) {
        if (lp2p_base32_encode(buf, (size_t)n, text, sizeof(text)) != (int)size ||
            memcmp(text, s, size) != 0)
            abort();
    }
    return 0;
}
