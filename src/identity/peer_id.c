/* Peer IDs (libp2p/specs peer-ids/peer-ids.md).
 *
 *   peer ID  = multihash(serialized PublicKey)
 *              len <= 42: identity  00 <len> ‖ key bytes    (Ed25519: 00 24 ‖ 36 B)
 *              otherwise: sha2-256  12 20 ‖ SHA-256(key bytes)
 *   text     = base58btc(multihash)                            "12D3KooW…", "Qm…"
 *            | multibase(CIDv1) = 'b' base32(01 72 ‖ multihash) "bafz…"
 *              (01 = CID version 1, 72 = multicodec libp2p-key) */
#include <string.h>

#include <openssl/evp.h>

#include "identity/pubkey_pb.h"
#include "lp2p/err.h"
#include "lp2p/identity.h"
#include "util/base32.h"
#include "util/base58.h"
#include "util/uvarint.h"

#define MH_IDENTITY      0x00
#define MH_SHA2_256      0x12
#define MH_IDENTITY_MAX  42 /* keys that serialize longer than this are hashed */
#define CID_V1           0x01
#define CODEC_LIBP2P_KEY 0x72

int lp2p_peer_id_from_pubkey(const uint8_t *pubkey_pb, size_t n, lp2p_peer_id *out)
{
    int type;
    const uint8_t *data;
    size_t dlen;
    int rc = lp2p_pubkey_pb_decode(pubkey_pb, n, &type, &data, &dlen);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    if (n <= MH_IDENTITY_MAX) {
        out->bytes[0] = MH_IDENTITY;
        out->bytes[1] = (uint8_t)n;
        memcpy(out->bytes + 2, pubkey_pb, n);
        out->len = (uint8_t)(n + 2);
        return 0;
    }
    unsigned int dl = 0;
    if (EVP_Digest(pubkey_pb, n, out->bytes + 2, &dl, EVP_sha256(), NULL) != 1 || dl != 32)
        return LP2P_ERR_CRYPTO;
    out->bytes[0] = MH_SHA2_256;
    out->bytes[1] = 32;
    out->len = 34;
    return 0;
}

/* Multihash = uvarint(code) uvarint(digest length) digest. We accept the two kinds a peer
 * ID can be: identity (a key of at most 42 bytes) and sha2-256 (32-byte digest). */
int lp2p_peer_id_from_bytes(const uint8_t *mh, size_t n, lp2p_peer_id *out)
{
    if (!mh || n < 2 || n > LP2P_PEER_ID_MAX)
        return LP2P_ERR_DECODE;
    const uint8_t *p = mh, *end = mh + n;
    uint64_t code, len;
    if (lp2p_uvarint_decode(&p, end, &code) != 0 || lp2p_uvarint_decode(&p, end, &len) != 0)
        return LP2P_ERR_DECODE;
    if (len != (uint64_t)(end - p))
        return LP2P_ERR_DECODE;
    if (code == MH_IDENTITY) {
        if (len == 0 || len > MH_IDENTITY_MAX)
            return LP2P_ERR_DECODE;
    } else if (code == MH_SHA2_256) {
        if (len != 32)
            return LP2P_ERR_DECODE;
    } else {
        return LP2P_ERR_UNSUPPORTED;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out->bytes, mh, n);
    out->len = (uint8_t)n;
    return 0;
}

/* CIDv1 bytes: 01 72 ‖ multihash. */
static int peer_id_from_cid(const uint8_t *cid, size_t n, lp2p_peer_id *out)
{
    const uint8_t *p = cid, *end = cid + n;
    uint64_t version, codec;
    if (lp2p_uvarint_decode(&p, end, &version) != 0 || version != CID_V1)
        return LP2P_ERR_DECODE;
    if (lp2p_uvarint_decode(&p, end, &codec) != 0)
        return LP2P_ERR_DECODE;
    if (codec != CODEC_LIBP2P_KEY)
        return LP2P_ERR_UNSUPPORTED; /* a CID, but of something other than a key */
    return lp2p_peer_id_from_bytes(p, (size_t)(end - p), out);
}

int lp2p_peer_id_parse(const char *s, lp2p_peer_id *out)
{
    if (!s)
        return LP2P_ERR_INVAL;
    size_t slen = strnlen(s, LP2P_PEER_ID_STR_MAX);
    if (slen == 0 || slen >= LP2P_PEER_ID_STR_MAX)
        return LP2P_ERR_DECODE;
    uint8_t buf[LP2P_PEER_ID_STR_MAX];
    int n;
    /* Spec: "1…" or "Qm…" is a bare base58btc multihash; anything else is a multibase CID. */
    if (s[0] == '1' || (s[0] == 'Q' && s[1] == 'm')) {
        n = lp2p_base58_decode(s, slen, buf, sizeof(buf));
        if (n < 0)
            return LP2P_ERR_DECODE;
        return lp2p_peer_id_from_bytes(buf, (size_t)n, out);
    }
    switch (s[0]) {
    case 'b': /* base32 lowercase, the default for CIDv1 */
    case 'B': /* base32 uppercase */
        n = lp2p_base32_decode(s + 1, slen - 1, s[0] == 'B', buf, sizeof(buf));
        break;
    case 'z': /* base58btc */
        n = lp2p_base58_decode(s + 1, slen - 1, buf, sizeof(buf));
        break;
    default:
        return LP2P_ERR_DECODE;
    }
    if (n < 0)
        return LP2P_ERR_DECODE;
    return peer_id_from_cid(buf, (size_t)n, out);
}

int lp2p_peer_id_to_string(const lp2p_peer_id *id, char *out, size_t outlen)
{
    if (!id || !out || id->len == 0 || id->len > LP2P_PEER_ID_MAX)
        return LP2P_ERR_INVAL;
    int n = lp2p_base58_encode(id->bytes, id->len, out, outlen);
    return n < 0 ? LP2P_ERR_INVAL : 0;
}

int lp2p_peer_id_to_cid(const lp2p_peer_id *id, char *out, size_t outlen)
{
    if (!id || !out || id->len == 0 || id->len > LP2P_PEER_ID_MAX || outlen < 2)
        return LP2P_ERR_INVAL;
    uint8_t cid[2 + LP2P_PEER_ID_MAX];
    cid[0] = CID_V1;
    cid[1] = CODEC_LIBP2P_KEY;
    memcpy(cid + 2, id->bytes, id->len);
    out[0] = 'b';
    int n = lp2p_base32_encode(cid, 2u + id->len, out + 1, outlen - 1);
    return n < 0 ? LP2P_ERR_INVAL : 0;
}

int lp2p_peer_id_equal(const lp2p_peer_id *a, const lp2p_peer_id *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

int lp2p_peer_id_extract_pubkey(const lp2p_peer_id *id, uint8_t *out, size_t outlen)
{
    if (!id || id->len < 2)
        return LP2P_ERR_INVAL;
    if (id->bytes[0] != MH_IDENTITY)
        return LP2P_ERR_NOT_FOUND;
    size_t klen = id->bytes[1];
    if (klen + 2 != id->len)
        return LP2P_ERR_INVAL;
    if (klen > outlen)
        return LP2P_ERR_TOO_LARGE;
    memcpy(out, id->bytes + 2, klen);
    return (int)klen;
}
