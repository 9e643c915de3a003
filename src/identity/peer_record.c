/* Peer records (libp2p/specs RFC/0003-routing-records.md), as go-, rust- and js-libp2p use
 * them: sealed with domain "libp2p-peer-record" and payload type 03 01.
 *
 *   PeerRecord { bytes peer_id=1; uint64 seq=2; repeated AddressInfo { bytes multiaddr=1 }
 *                addresses=3 }
 *
 * A record is only about its signer: one whose peer_id is another peer is rejected. */
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "lp2p/identity.h"
#include "peer_record.pb-c.h"

int lp2p_peer_record_seal(const lp2p_keypair *kp, uint64_t seq, const uint8_t *const *addrs,
                          const size_t *addr_lens, size_t naddrs, uint8_t **out, size_t *outlen)
{
    if (!kp || (naddrs && (!addrs || !addr_lens)) || !out || !outlen)
        return LP2P_ERR_INVAL;
    Lp2p__Record__PeerRecord rec = LP2P__RECORD__PEER_RECORD__INIT;
    const lp2p_peer_id *id = lp2p_keypair_peer_id(kp);
    rec.peer_id.data = (uint8_t *)id->bytes;
    rec.peer_id.len = id->len;
    rec.seq = seq;
    Lp2p__Record__PeerRecord__AddressInfo *infos = NULL, **ptrs = NULL;
    if (naddrs) {
        infos = calloc(naddrs, sizeof(*infos));
        ptrs = calloc(naddrs, sizeof(*ptrs));
        if (!infos || !ptrs) {
            free(infos);
            free(ptrs);
            return LP2P_ERR_NOMEM;
        }
        for (size_t i = 0; i < naddrs; i++) {
            lp2p__record__peer_record__address_info__init(&infos[i]);
            infos[i].multiaddr.data = (uint8_t *)addrs[i];
            infos[i].multiaddr.len = addr_lens[i];
            ptrs[i] = &infos[i];
        }
    }
    rec.n_addresses = naddrs;
    rec.addresses = ptrs;
    size_t n = lp2p__record__peer_record__get_packed_size(&rec);
    uint8_t *payload = malloc(n ? n : 1);
    int rc = LP2P_ERR_NOMEM;
    if (payload) {
        lp2p__record__peer_record__pack(&rec, payload);
        rc = lp2p_envelope_seal(kp, LP2P_DOMAIN_PEER_RECORD, LP2P_PAYLOAD_PEER_RECORD,
                                sizeof(LP2P_PAYLOAD_PEER_RECORD), payload, n, out, outlen);
        free(payload);
    }
    free(infos);
    free(ptrs);
    return rc;
}

int lp2p_peer_record_open(const uint8_t *env, size_t n, lp2p_peer_record *out)
{
    if (!env || !out)
        return LP2P_ERR_INVAL;
    memset(out, 0, sizeof(*out));
    lp2p_envelope e;
    int rc = lp2p_envelope_open(env, n, LP2P_DOMAIN_PEER_RECORD, LP2P_PAYLOAD_PEER_RECORD,
                                sizeof(LP2P_PAYLOAD_PEER_RECORD), &e);
    if (rc != 0)
        return rc;
    Lp2p__Record__PeerRecord *rec =
        lp2p__record__peer_record__unpack(NULL, e.payload_len, e.payload);
    if (!rec) {
        lp2p_envelope_free(&e);
        return LP2P_ERR_DECODE;
    }
    lp2p_peer_id pid;
    rc = lp2p_peer_id_from_bytes(rec->peer_id.data, rec->peer_id.len, &pid);
    if (rc == 0 && !lp2p_peer_id_equal(&pid, &e.signer))
        rc = LP2P_ERR_PEER_ID_MISMATCH;
    if (rc == 0 && rec->n_addresses) {
        out->addrs = calloc(rec->n_addresses, sizeof(*out->addrs));
        out->addr_lens = calloc(rec->n_addresses, sizeof(*out->addr_lens));
        if (!out->addrs || !out->addr_lens)
            rc = LP2P_ERR_NOMEM;
        for (size_t i = 0; rc == 0 && i < rec->n_addresses; i++) {
            const ProtobufCBinaryData *ma = &rec->addresses[i]->multiaddr;
            out->addrs[i] = malloc(ma->len ? ma->len : 1);
            if (!out->addrs[i]) {
                rc = LP2P_ERR_NOMEM;
                break;
            }
            if (ma->len)
                memcpy(out->addrs[i], ma->data, ma->len);
            out->addr_lens[i] = ma->len;
            out->naddrs = i + 1;
        }
    }
    if (rc == 0) {
        out->peer = pid;
        out->seq = rec->seq;
    } else {
        lp2p_peer_record_free(out);
    }
    lp2p__record__peer_record__free_unpacked(rec, NULL);
    lp2p_envelope_free(&e);
    return rc;
}

void lp2p_peer_record_free(lp2p_peer_record *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->addrs && i < r->naddrs; i++)
        free(r->addrs[i]);
    free(r->addrs);
    free(r->addr_lens);
    memset(r, 0, sizeof(*r));
}
