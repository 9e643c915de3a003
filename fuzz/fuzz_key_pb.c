/* PublicKey and PrivateKey protobuf parsers (all four key types reach OpenSSL's decoders).
 * A PublicKey that validates yields a peer ID and verification never crashes; a PrivateKey
 * that loads re-encodes to the canonical 68-byte form of the same identity; the public key
 * derived from a PrivateKey of any type validates. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "lp2p/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp2p_key_type t;
    if (lp2p_pubkey_validate(data, size, &t) == 0) {
        lp2p_peer_id id;
        if (lp2p_peer_id_from_pubkey(data, size, &id) != 0)
            abort();
        if ((size <= 42) != (id.bytes[0] == 0x00))
            abort();
        static const uint8_t sig[72] = {0x30, 0x44, 0x02, 0x20, 1, [36] = 0x02, 0x20, 1};
        static const uint8_t msg[] = "fuzz";
        /* nobody can sign with a fuzzed key: a fixed signature never verifies */
        if (lp2p_pubkey_verify(data, size, msg, sizeof(msg), sig,
                               t == LP2P_KEY_ED25519 ? 64 : 70) == 0)
            abort();
    } else {
        lp2p_peer_id id;
        /* peer IDs are only derived from canonical keys */
        int rc = lp2p_peer_id_from_pubkey(data, size, &id);
        (void)rc;
    }

    /* any-type private key: a derived public key is always a valid, canonical one */
    static uint8_t pub[LP2P_PUBKEY_PB_ANY_MAX];
    size_t publen = sizeof(pub);
    lp2p_key_type pt;
    if (lp2p_private_pb_public_key(data, size, pub, &publen, &pt) == 0) {
        lp2p_key_type vt;
        lp2p_peer_id id;
        if (lp2p_pubkey_validate(pub, publen, &vt) != 0 || vt != pt ||
            lp2p_peer_id_from_pubkey(pub, publen, &id) != 0)
            abort();
    }

    lp2p_keypair *kp = NULL;
    if (lp2p_keypair_from_private_pb(data, size, &kp) == 0) {
        uint8_t pb[LP2P_PRIVKEY_PB_MAX];
        size_t n = sizeof(pb);
        lp2p_keypair *kp2 = NULL;
        if (lp2p_keypair_to_private_pb(kp, pb, &n) != 0 || n != 68 ||
            lp2p_keypair_from_private_pb(pb, n, &kp2) != 0 ||
            !lp2p_peer_id_equal(lp2p_keypair_peer_id(kp), lp2p_keypair_peer_id(kp2)))
            abort();
        lp2p_keypair_del(kp2);
        lp2p_keypair_del(kp);
    }
    return 0;
}
