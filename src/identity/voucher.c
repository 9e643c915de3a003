/* Circuit relay v2 reservation vouchers (libp2p/specs relay/circuit-v2.md): sealed with
 * domain "libp2p-relay-rsvp" and payload type 03 02.
 *
 *   Voucher { bytes relay=1; bytes peer=2; uint64 expiration=3 (unix seconds) }
 *
 * Advisory: nobody enforces vouchers, but one that does not come from the relay it names,
 * or from a relay other than the one we reserved with, is rejected. */
#include <string.h>

#include "lp2p/err.h"
#include "lp2p/identity.h"
#include "voucher.pb-c.h"

int lp2p_voucher_seal(const lp2p_keypair *relay_kp, const lp2p_peer_id *peer, uint64_t expire,
                      uint8_t **out, size_t *outlen)
{
    if (!relay_kp || !peer || peer->len == 0 || peer->len > LP2P_PEER_ID_MAX || !out || !outlen)
        return LP2P_ERR_INVAL;
    const lp2p_peer_id *relay = lp2p_keypair_peer_id(relay_kp);
    Lp2p__Voucher__Voucher v = LP2P__VOUCHER__VOUCHER__INIT;
    v.relay.data = (uint8_t *)relay->bytes;
    v.relay.len = relay->len;
    v.peer.data = (uint8_t *)peer->bytes;
    v.peer.len = peer->len;
    v.expiration = expire;
    uint8_t payload[2 * (LP2P_PEER_ID_MAX + 2) + 11 + 16];
    size_t n = lp2p__voucher__voucher__get_packed_size(&v);
    if (n > sizeof(payload))
        return LP2P_ERR_INVAL;
    lp2p__voucher__voucher__pack(&v, payload);
    return lp2p_envelope_seal(relay_kp, LP2P_DOMAIN_RELAY_RSVP, LP2P_PAYLOAD_RELAY_VOUCHER,
                              sizeof(LP2P_PAYLOAD_RELAY_VOUCHER), payload, n, out, outlen);
}

int lp2p_voucher_open(const uint8_t *env, size_t n, const lp2p_peer_id *relay,
                      lp2p_peer_id *peer_out, uint64_t *expire_out)
{
    if (!env)
        return LP2P_ERR_INVAL;
    lp2p_envelope e;
    int rc = lp2p_envelope_open(env, n, LP2P_DOMAIN_RELAY_RSVP, LP2P_PAYLOAD_RELAY_VOUCHER,
                                sizeof(LP2P_PAYLOAD_RELAY_VOUCHER), &e);
    if (rc != 0)
        return rc;
    Lp2p__Voucher__Voucher *v = lp2p__voucher__voucher__unpack(NULL, e.payload_len, e.payload);
    if (!v) {
        lp2p_envelope_free(&e);
        return LP2P_ERR_DECODE;
    }
    lp2p_peer_id vrelay, vpeer;
    rc = lp2p_peer_id_from_bytes(v->relay.data, v->relay.len, &vrelay);
    if (rc == 0)
        rc = lp2p_peer_id_from_bytes(v->peer.data, v->peer.len, &vpeer);
    /* The relay field must name the signer, and the signer must be the relay we asked. */
    if (rc == 0 &&
        (!lp2p_peer_id_equal(&vrelay, &e.signer) || (relay && !lp2p_peer_id_equal(&vrelay, relay))))
        rc = LP2P_ERR_PEER_ID_MISMATCH;
    if (rc == 0) {
        if (peer_out)
            *peer_out = vpeer;
        if (expire_out)
            *expire_out = v->expiration;
    }
    lp2p__voucher__voucher__free_unpacked(v, NULL);
    lp2p_envelope_free(&e);
    return rc;
}
