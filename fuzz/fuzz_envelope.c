/* Envelope opening and the payloads inside it. First input byte picks the mode:
 *   0: open the rest as an envelope under each domain (signature check on fuzzed bytes);
 *   1: seal the rest as a peer record payload with a fixed key, then open it, so the
 *      PeerRecord parser sees fuzzed bytes past a valid signature;
 *   2: the same for a relay voucher payload. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "lp2p/identity.h"

static lp2p_keypair *signer;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!signer && lp2p_keypair_generate(&signer) != 0)
        abort();
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    uint8_t *env = NULL;
    size_t envlen = 0;
    lp2p_envelope e;
    lp2p_peer_record r;
    lp2p_peer_id peer;
    uint64_t exp;

    switch (data[0] % 3) {
    case 0:
        if (lp2p_envelope_open(p, n, LP2P_DOMAIN_PEER_RECORD, NULL, 0, &e) == 0)
            lp2p_envelope_free(&e);
        if (lp2p_peer_record_open(p, n, &r) == 0)
            lp2p_peer_record_free(&r);
        (void)lp2p_voucher_open(p, n, NULL, &peer, &exp);
        break;
    case 1:
        if (lp2p_envelope_seal(signer, LP2P_DOMAIN_PEER_RECORD, LP2P_PAYLOAD_PEER_RECORD, 2, p, n,
                               &env, &envlen) != 0)
            abort();
        if (lp2p_peer_record_open(env, envlen, &r) == 0) {
            /* only a record about the signer can open */
            if (!lp2p_peer_id_equal(&r.peer, lp2p_keypair_peer_id(signer)))
                abort();
            lp2p_peer_record_free(&r);
        }
        /* the envelope itself always opens, and gives the payload back */
        if (lp2p_envelope_open(env, envlen, LP2P_DOMAIN_PEER_RECORD, LP2P_PAYLOAD_PEER_RECORD, 2,
                               &e) != 0 ||
            e.payload_len != n || (n && memcmp(e.payload, p, n) != 0))
            abort();
        lp2p_envelope_free(&e);
        free(env);
        break;
    default:
        if (lp2p_envelope_seal(signer, LP2P_DOMAIN_RELAY_RSVP, LP2P_PAYLOAD_RELAY_VOUCHER, 2, p, n,
                               &env, &envlen) != 0)
            abort();
        if (lp2p_voucher_open(env, envlen, lp2p_keypair_peer_id(signer), &peer, &exp) == 0 &&
            peer.len == 0)
            abort();
        free(env);
        break;
    }
    return 0;
}
