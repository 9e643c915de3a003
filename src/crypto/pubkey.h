/* Remote public keys of the four libp2p key types, verified through OpenSSL 3 EVP.
 *
 * These functions take the key type and the PublicKey.Data bytes (the protobuf wrapper is
 * parsed one layer up, in src/identity/pubkey_pb.c). Encodings, per libp2p/specs
 * peer-ids/peer-ids.md:
 *
 *   type        Data                                   signature over msg
 *   RSA       0 PKIX SubjectPublicKeyInfo DER           RSASSA-PKCS1-v1_5 with SHA-256
 *   Ed25519   1 raw 32-byte key                          RFC 8032 Ed25519 (64 bytes)
 *   Secp256k1 2 SEC1 point, compressed (33 B) or 65 B    ECDSA over SHA-256, DER (r,s)
 *   ECDSA     3 PKIX SubjectPublicKeyInfo DER (P-curve)  ECDSA over SHA-256, DER (r,s)
 *
 * Limits follow go-libp2p: RSA moduli from 2048 to 8192 bits; ECDSA on the NIST curves
 * go's x509 parser knows (P-224, P-256, P-384, P-521). */
#ifndef LP2P_CRYPTO_PUBKEY_H
#define LP2P_CRYPTO_PUBKEY_H

#include <stddef.h>
#include <stdint.h>

/* Same numbers as libp2p's KeyType enum (and lp2p_key_type in lp2p/identity.h). */
enum {
    LP2P_PK_RSA = 0,
    LP2P_PK_ED25519 = 1,
    LP2P_PK_SECP256K1 = 2,
    LP2P_PK_ECDSA = 3,
};

#define LP2P_RSA_MIN_BITS 2048
#define LP2P_RSA_MAX_BITS 8192

/* 0 when data is a well-formed key of that type (point on the curve, size limits, DER fully
 * consumed). LP2P_ERR_DECODE for malformed key material, LP2P_ERR_UNSUPPORTED for an
 * unknown type, a curve we do not accept or an RSA size outside the limits. */
int lp2p_crypto_pubkey_check(int type, const uint8_t *data, size_t dlen);

/* 0: sig is a valid signature over msg. LP2P_ERR_AUTH: it is not. Key errors as above. */
int lp2p_crypto_pubkey_verify(int type, const uint8_t *data, size_t dlen, const uint8_t *msg,
                              size_t msglen, const uint8_t *sig, size_t siglen);

/* Public key Data (encodings above) from a libp2p PrivateKey.Data of type secp256k1 (32-byte
 * scalar), ECDSA (SEC1 ECPrivateKey DER) or RSA (PKCS#1 RSAPrivateKey DER), the forms
 * go-libp2p and js-libp2p write. *outlen: in capacity, out length. secp256k1 gives the
 * compressed point. Ed25519 is handled by the identity layer. LP2P_ERR_DECODE for bad key
 * material, LP2P_ERR_UNSUPPORTED as for the public key, LP2P_ERR_TOO_LARGE if out is small. */
int lp2p_crypto_pubkey_from_private(int type, const uint8_t *priv, size_t plen, uint8_t *out,
                                    size_t *outlen);

#endif
