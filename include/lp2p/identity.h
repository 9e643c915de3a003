/* Identity: key pairs, key files, peer IDs, signatures by remote keys, signed envelopes.
 * Wire facts: ../shared/reference/libp2p-wire.md A1 (keys, peer IDs) and A10 (envelopes).
 *
 * Our own keys are Ed25519. Remote keys of all four libp2p types verify. */
#ifndef LP2P_IDENTITY_H
#define LP2P_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

typedef enum lp2p_key_type {
    LP2P_KEY_RSA = 0,
    LP2P_KEY_ED25519 = 1,
    LP2P_KEY_SECP256K1 = 2,
    LP2P_KEY_ECDSA = 3,
} lp2p_key_type;

/* ---- peer IDs ---------------------------------------------------------------------------
 * A peer ID is the multihash of the serialized PublicKey: identity multihash (00 len bytes)
 * when that is <= 42 bytes, sha2-256 (12 20 digest) otherwise. */
#define LP2P_PEER_ID_MAX     48  /* identity multihash of 42 bytes = 44 */
#define LP2P_PEER_ID_STR_MAX 128 /* base58 or CID text, with NUL */

typedef struct lp2p_peer_id {
    uint8_t len;
    uint8_t bytes[LP2P_PEER_ID_MAX]; /* multihash bytes */
} lp2p_peer_id;

/* From a serialized PublicKey protobuf (as carried in Noise/identify). Checks that the
 * protobuf is canonical (LP2P_ERR_DECODE otherwise) but not the key material: call
 * lp2p_pubkey_verify or lp2p_pubkey_validate for that. */
int lp2p_peer_id_from_pubkey(const uint8_t *pubkey_pb, size_t n, lp2p_peer_id *out);
/* From multihash bytes (e.g. a /p2p/ multiaddr component); validates the multihash:
 * identity (digest 1..42 bytes) or sha2-256 (32 bytes). Other hash functions:
 * LP2P_ERR_UNSUPPORTED; malformed: LP2P_ERR_DECODE. */
int lp2p_peer_id_from_bytes(const uint8_t *mh, size_t n, lp2p_peer_id *out);
/* Text: base58btc ("12D3KooW…", "Qm…") or CIDv1 multibase ("bafz…", codec libp2p-key;
 * multibase 'b', 'B' and 'z' accepted). LP2P_ERR_DECODE, or LP2P_ERR_UNSUPPORTED for a CID
 * of another codec. */
int lp2p_peer_id_parse(const char *s, lp2p_peer_id *out);
/* Base58btc text into out (>= LP2P_PEER_ID_STR_MAX). Returns 0 or LP2P_ERR_INVAL. */
int lp2p_peer_id_to_string(const lp2p_peer_id *id, char *out, size_t outlen);
/* CIDv1 text ("bafz…") into out. */
int lp2p_peer_id_to_cid(const lp2p_peer_id *id, char *out, size_t outlen);
int lp2p_peer_id_equal(const lp2p_peer_id *a, const lp2p_peer_id *b);
/* When the peer ID embeds the key (identity multihash): copies the PublicKey protobuf out.
 * Returns its length, or LP2P_ERR_NOT_FOUND for sha256 IDs. */
int lp2p_peer_id_extract_pubkey(const lp2p_peer_id *id, uint8_t *out, size_t outlen);

/* ---- remote public keys ------------------------------------------------------------------ */
/* Verifies sig over msg with a serialized PublicKey protobuf of any of the four types.
 * 0: valid. LP2P_ERR_AUTH: bad signature. LP2P_ERR_DECODE/UNSUPPORTED: bad key encoding. */
int lp2p_pubkey_verify(const uint8_t *pubkey_pb, size_t n, const uint8_t *msg, size_t msglen,
                       const uint8_t *sig, size_t siglen);
/* Checks that a PublicKey protobuf is canonical and its key material parses: Ed25519 32 B;
 * secp256k1 33 B compressed (65 B uncompressed also accepted) on the curve; ECDSA PKIX on
 * P-224/256/384/521; RSA PKIX of 2048..8192 bits (go-libp2p's limits). type_out may be NULL. */
int lp2p_pubkey_validate(const uint8_t *pubkey_pb, size_t n, lp2p_key_type *type_out);

/* ---- our key pair (Ed25519) --------------------------------------------------------------- */
typedef struct lp2p_keypair lp2p_keypair;

#define LP2P_SIG_MAX          64    /* Ed25519 */
#define LP2P_PUBKEY_PB_MAX    64    /* our serialized PublicKey is 36 bytes */
#define LP2P_PRIVKEY_PB_MAX   68    /* our serialized PrivateKey (08 01 12 40 ‖ seed ‖ pub) */
#define LP2P_PRIVKEY_PB_LIMIT 16384 /* largest PrivateKey protobuf we parse (RSA-8192 fits) */

int lp2p_keypair_generate(lp2p_keypair **out);
void lp2p_keypair_del(lp2p_keypair *kp);
/* Ed25519 signature (64 bytes) into sig. */
int lp2p_keypair_sign(const lp2p_keypair *kp, const uint8_t *msg, size_t n,
                      uint8_t sig[LP2P_SIG_MAX]);
/* Serialized PublicKey protobuf (36 bytes for Ed25519); valid while kp lives.
 * A keypair is immutable after creation: sharing one between threads is safe. */
const uint8_t *lp2p_keypair_pubkey(const lp2p_keypair *kp, size_t *len);
const lp2p_peer_id *lp2p_keypair_peer_id(const lp2p_keypair *kp);

/* PrivateKey protobuf (libp2p's on-disk format). Accepts 64-byte seed‖pub and the legacy
 * 96-byte form; only Ed25519 private keys are supported for our own identity. */
int lp2p_keypair_from_private_pb(const uint8_t *pb, size_t n, lp2p_keypair **out);
/* Serialized PublicKey of a PrivateKey protobuf of any type: Ed25519 (64/96-byte forms),
 * secp256k1 (32-byte scalar -> compressed point), ECDSA (SEC1 DER -> PKIX DER), RSA (PKCS#1
 * DER -> PKIX DER). *publen: in capacity (LP2P_PUBKEY_PB_ANY_MAX always suffices), out
 * length. LP2P_ERR_DECODE corrupt, LP2P_ERR_UNSUPPORTED unknown type or out-of-limit key. */
#define LP2P_PUBKEY_PB_ANY_MAX 4096
int lp2p_private_pb_public_key(const uint8_t *pb, size_t n, uint8_t *pub, size_t *publen,
                               lp2p_key_type *type_out);
/* Writes the PrivateKey protobuf; *n in: capacity, out: length. */
int lp2p_keypair_to_private_pb(const lp2p_keypair *kp, uint8_t *out, size_t *n);

/* Key file: loads path if it exists (a corrupt or wrong-type file is an error and is never
 * overwritten); otherwise creates it with mode 0600 (parent directories 0700), written to a
 * temporary file and renamed so a crash never leaves half a key. *created is set to 1 when
 * a new key was written. errbuf gets a human explanation on failure. */
int lp2p_keyfile_load_or_create(const char *path, lp2p_keypair **out, int *created, char *errbuf,
                                size_t errlen);
int lp2p_keyfile_load(const char *path, lp2p_keypair **out, char *errbuf, size_t errlen);
/* Writes a new file; fails with LP2P_ERR_EXISTS rather than overwriting. */
int lp2p_keyfile_write(const char *path, const lp2p_keypair *kp, char *errbuf, size_t errlen);
/* Peer ID of a key file of any of the four key types (go-/js-libp2p write Ed25519, secp256k1,
 * ECDSA and RSA ones), for `holepunch id`; our node itself runs only with Ed25519 keys.
 * type_out may be NULL. errbuf as above. */
int lp2p_keyfile_peer_id(const char *path, lp2p_peer_id *out, lp2p_key_type *type_out, char *errbuf,
                         size_t errlen);
/* Default key path: $XDG_CONFIG_HOME/kaspa-holepunch/identity.key or ~/.config/…  */
int lp2p_keyfile_default_path(char *out, size_t outlen);

/* ---- signed envelopes (RFC 0002) ------------------------------------------------------------
 * Signed bytes: uvarint(len(domain)) domain ‖ uvarint(len(type)) type ‖
 *               uvarint(len(payload)) payload   (the domain itself is never sent) */
#define LP2P_DOMAIN_PEER_RECORD "libp2p-peer-record"
#define LP2P_DOMAIN_RELAY_RSVP  "libp2p-relay-rsvp"
extern const uint8_t LP2P_PAYLOAD_PEER_RECORD[2];   /* 03 01 */
extern const uint8_t LP2P_PAYLOAD_RELAY_VOUCHER[2]; /* 03 02 */

/* Serialized Envelope protobuf into *out (malloc'd, caller frees) and *outlen. */
int lp2p_envelope_seal(const lp2p_keypair *kp, const char *domain, const uint8_t *ptype,
                       size_t ptlen, const uint8_t *payload, size_t plen, uint8_t **out,
                       size_t *outlen);

/* An opened envelope: everything is an owned copy; free with lp2p_envelope_free. */
typedef struct lp2p_envelope {
    uint8_t *pubkey; /* serialized PublicKey */
    size_t pubkey_len;
    uint8_t *payload_type;
    size_t payload_type_len;
    uint8_t *payload;
    size_t payload_len;
    lp2p_peer_id signer;
} lp2p_envelope;

/* Parses and verifies an envelope for domain; also checks the payload type when ptype != NULL.
 * LP2P_ERR_DECODE bad encoding, LP2P_ERR_AUTH bad signature (or wrong domain),
 * LP2P_ERR_UNSUPPORTED wrong payload type, LP2P_ERR_TOO_LARGE over 65 KiB. The signer may
 * use any of the four key types. On failure *out holds nothing to free. */
int lp2p_envelope_open(const uint8_t *env, size_t n, const char *domain, const uint8_t *ptype,
                       size_t ptlen, lp2p_envelope *out);
void lp2p_envelope_free(lp2p_envelope *e);

/* ---- peer records (RFC 0003), carried in identify field 8 --------------------------------- */
/* addrs: binary multiaddrs. Produces a sealed envelope (domain libp2p-peer-record, 03 01). */
int lp2p_peer_record_seal(const lp2p_keypair *kp, uint64_t seq, const uint8_t *const *addrs,
                          const size_t *addr_lens, size_t naddrs, uint8_t **out, size_t *outlen);

typedef struct lp2p_peer_record {
    lp2p_peer_id peer;
    uint64_t seq;
    size_t naddrs;
    uint8_t **addrs; /* binary multiaddrs, owned */
    size_t *addr_lens;
} lp2p_peer_record;

/* Opens the envelope, verifies it, and rejects a record whose peer_id is not the signer
 * (LP2P_ERR_PEER_ID_MISMATCH). Other errors as lp2p_envelope_open. Whatever the code, a
 * caller receiving a record from identify should just ignore a bad one. On success free
 * with lp2p_peer_record_free; on failure *out holds nothing. */
int lp2p_peer_record_open(const uint8_t *env, size_t n, lp2p_peer_record *out);
void lp2p_peer_record_free(lp2p_peer_record *r);

/* ---- relay voucher (circuit v2) ----------------------------------------------------------- */
int lp2p_voucher_seal(const lp2p_keypair *relay_kp, const lp2p_peer_id *peer, uint64_t expire,
                      uint8_t **out, size_t *outlen);
/* Verifies signature, that the voucher's relay field is the signer and (when relay != NULL)
 * that the signer is `relay` (else LP2P_ERR_PEER_ID_MISMATCH); returns the voucher's peer
 * and expiry (unix seconds). peer_out/expire_out may be NULL. */
int lp2p_voucher_open(const uint8_t *env, size_t n, const lp2p_peer_id *relay,
                      lp2p_peer_id *peer_out, uint64_t *expire_out);

#endif
