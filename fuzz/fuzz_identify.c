/* Identify parser: the stream reader never crashes or over-buffers on any byte stream split
 * at any point, and whatever decodes re-encodes to a message that decodes to the same
 * fields (when it fits our 4 KiB send limit without trimming); lp2p_identify_verify (key and
 * signed record checks) takes any decoded message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "util/log.h"
#include "lp2p/identity.h"
#include "proto/identify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_or_abort(const lp2p_identify_info *a, const lp2p_identify_info *b)
{
    if (a->n_listen_addrs != b->n_listen_addrs || a->n_protocols != b->n_protocols ||
        a->public_key_len != b->public_key_len || a->observed_addr_len != b->observed_addr_len ||
        !a->agent_version != !b->agent_version ||
        (a->agent_version && strcmp(a->agent_version, b->agent_version) != 0))
        abort();
    for (size_t i = 0; i < a->n_listen_addrs; i++)
        if (a->listen_addr_lens[i] != b->listen_addr_lens[i] ||
            memcmp(a->listen_addrs[i], b->listen_addrs[i], a->listen_addr_lens[i]) != 0)
            abort();
    for (size_t i = 0; i < a->n_protocols; i++)
        if (strcmp(a->protocols[i], b->protocols[i]) != 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lp2p_log_set_level(LP2P_ERROR); /* refusal lines would dominate the run time */
    if (size < 1)
        return 0;
    size_t split = data[0] % (size);
    data++;
    size--;

    /* 1. as a stream, split in two reads */
    lp2p_identify_reader r;
    lp2p_identify_reader_init(&r, 0, 0);
    if (split > size)
        split = size;
    int rc = lp2p_identify_reader_recv(&r, data, split, 0);
    if (rc == 0)
        rc = lp2p_identify_reader_recv(&r, data + split, size - split, 0);
    if (lp2p_buf_size(&r.rd.acc) > LP2P_IDENTIFY_RECV_MAX)
        abort();
    if (rc != 0 && rc != LP2P_ERR_DECODE && rc != LP2P_ERR_TOO_LARGE && rc != LP2P_ERR_LIMIT)
        abort();
    lp2p_identify_reader_free(&r);

    /* 2. as one bare message: decode, encode, decode again */
    lp2p_identify_info a, b;
    lp2p_identify_info_init(&a);
    lp2p_identify_info_init(&b);
    if (lp2p_identify_decode(data, size, &a) == 0) {
        lp2p_buf w;
        lp2p_buf_init(&w);
        size_t dropped = 0;
        int drec = 0;
        if (lp2p_identify_encode(&a, &w, &dropped, &drec, NULL) == 0 && dropped == 0 && !drec) {
            lp2p_identify_reader_init(&r, 0, 0);
            if (lp2p_identify_reader_recv(&r, lp2p_buf_head(&w), lp2p_buf_size(&w), 0) != 0 ||
                r.nmsgs != 1)
                abort();
            same_or_abort(&a, &r.info);
            lp2p_identify_reader_free(&r);
        }
        lp2p_buf_free(&w);
        /* 3. the checks a host runs on it: against the peer its own key names (so a signed
         * record is opened and checked), or against a fixed peer when it has none */
        lp2p_peer_id remote = {.len = 2, .bytes = {0x00, 0x00}};
        if (a.public_key_len)
            (void)lp2p_peer_id_from_pubkey(a.public_key, a.public_key_len, &remote);
        int vr = lp2p_identify_verify(&a, &remote, NULL);
        if (vr != 0 && vr != LP2P_ERR_PEER_ID_MISMATCH && vr != LP2P_ERR_DECODE)
            abort();
    }
    lp2p_identify_info_free(&a);
    lp2p_identify_info_free(&b);
    return 0;
}
