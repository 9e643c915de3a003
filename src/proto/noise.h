/* libp2p Noise secure channel (libp2p/specs noise/README.md): Noise XX with the libp2p
 * handshake payload, inlined muxer negotiation, and u16-length framing. Sans-IO.
 *
 * Wire, every message (handshake and transport):
 *
 *    0                   1
 *   +-------+-------+----------------------------+
 *   | len (u16, big-endian) | noise message (len bytes, <= 65535)
 *   +-------+-------+----------------------------+
 *
 * Handshake (initiator = dialer):
 *   -> e                               32 B, empty payload
 *   <- e, ee, s, es + payload          32 + 48 + payload + 16
 *   -> s, se + payload                 48 + payload + 16
 * payload = NoiseHandshakePayload{identity_key, identity_sig, extensions{stream_muxers}}
 *   identity_sig = Sign(identity, "noise-libp2p-static-key:" ‖ static X25519 pub)
 * The responder puts its muxers in msg2, the initiator in msg3 (never msg1). The muxer is
 * the first of the initiator's list that the responder supports; if both sides sent lists
 * and they do not meet, the handshake fails.
 *
 * Transport: ChaChaPoly ciphertext ‖ 16-byte tag per frame; we send at most 65519 bytes of
 * plaintext per frame and accept any frame up to 65535 bytes. A frame shorter than the tag,
 * or one that does not decrypt, is fatal. */
#ifndef LP2P_PROTO_NOISE_H
#define LP2P_PROTO_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include <sys/uio.h>

#include "lp2p/identity.h"
#include "proto/noise_static.h"
#include "util/buf.h"
#include "util/rng.h"
#include "util/trace.h"

#define LP2P_NOISE_PROTOCOL_ID "/noise"
/* Plaintext bytes per transport frame: 65535 - 16 (go-libp2p's MaxPlaintextLength). */
#define LP2P_NOISE_MAX_PLAINTEXT 65519
#define LP2P_NOISE_SIG_PREFIX    "noise-libp2p-static-key:"

typedef struct lp2p_noise lp2p_noise;

typedef struct lp2p_noise_config {
    const lp2p_keypair *identity; /* borrowed; must outlive the core */
    int initiator;                /* 1 = dialer (sends msg1) */
    /* Dialer only: the peer we meant to reach, or NULL. Mismatch -> PEER_ID_MISMATCH. */
    const lp2p_peer_id *expected_remote;
    /* Muxer protocol IDs we support, in preference order (copied); NULL/0 = no extension. */
    const char *const *muxers;
    size_t nmuxers;
    lp2p_rng rng;     /* required: the X25519 keys' randomness (LP2P_RNG_OPENSSL) */
    lp2p_trace trace; /* noise_error records (reason, code, role); zero = silent */
    /* Borrowed, may be NULL. shared_static: the host's long-lived static key and its
     * signature (noise_static.h; NULL = a fresh key and signature for this session). A
     * peer's identity signature verified before is not verified again: the crypto layer
     * remembers verified signatures (crypto/pubkey.h, lp2p_crypto_pubkey_verify). */
    const lp2p_noise_static *shared_static;
    /* May be NULL or empty (pkey NULL). An ephemeral key pair the caller generated ahead of
     * time from its CSPRNG and never used: the core takes it (moves it out and zeroes
     * *spare_ephemeral), so key generation can run while the loop would otherwise wait. */
    lp2p_x25519_key *spare_ephemeral;
    /* Tests only: fixed X25519 private keys (32 bytes each); NULL = fresh random keys. */
    const uint8_t *test_static_key;
    const uint8_t *test_ephemeral_key;
} lp2p_noise_config;

/* Creates a core (with a fresh static X25519 key unless shared_static is given). Returns 0 or a
 * negative code. */
int lp2p_noise_new(const lp2p_noise_config *c, lp2p_noise **out);
/* Frees the core and wipes its keys. NULL is fine. */
void lp2p_noise_del(lp2p_noise *n);

/* Initiator: writes framed msg1 to lp2p_noise_out(). Responder: does nothing. */
int lp2p_noise_start(lp2p_noise *n);
/* Bytes to send (handshake frames). The caller drains it (lp2p_buf_head/size/consume). */
lp2p_buf *lp2p_noise_out(lp2p_noise *n);

/* Feeds bytes received during the handshake. Consumes at most up to the end of the last
 * handshake frame (a partial frame is buffered inside, bounded by one frame); sets *consumed.
 * Bytes after *consumed are transport frames for lp2p_noise_decrypt.
 * Returns 0 = need more, 1 = handshake complete (remote peer and muxer are known; the
 * initiator's msg3 is in out), or a fatal negative code:
 *   LP2P_ERR_PROTO (malformed message or payload, no common muxer), LP2P_ERR_CRYPTO (does
 *   not decrypt), LP2P_ERR_AUTH (bad identity signature or key), LP2P_ERR_PEER_ID_MISMATCH. */
int lp2p_noise_recv_handshake(lp2p_noise *n, const uint8_t *in, size_t len, size_t *consumed);
int lp2p_noise_handshake_done(const lp2p_noise *n);

/* After completion: the remote's peer ID and serialized PublicKey (valid while n lives). */
const lp2p_peer_id *lp2p_noise_remote_peer(const lp2p_noise *n);
const uint8_t *lp2p_noise_remote_pubkey(const lp2p_noise *n, size_t *len);
/* The muxer agreed in the handshake, or NULL when either side sent no list (then negotiate
 * /yamux/1.0.0 by multistream inside the channel). */
const char *lp2p_noise_muxer(const lp2p_noise *n);
/* After completion: the handshake hash h (Noise spec 5.2), LP2P_NOISE_HASH_LEN bytes, equal
 * at both ends of one channel and unique to it; NULL before. Valid while n lives. */
#define LP2P_NOISE_HASH_LEN 32
const uint8_t *lp2p_noise_handshake_hash(const lp2p_noise *n);

/* Encrypts len bytes as ceil(len / 65519) frames appended to out (no allocation beyond
 * growing out). 0, or LP2P_ERR_STATE before completion / after a fatal error,
 * LP2P_ERR_CRYPTO when the nonce is used up. */
int lp2p_noise_encrypt(lp2p_noise *n, const uint8_t *pt, size_t len, lp2p_buf *out);
/* The same over the concatenation of cnt pieces (e.g. a Yamux header and a stream's queued
 * payload), sealed straight into out without first copying them together. Frames may end
 * before 65519 bytes (at most one extra per 64 pieces); the receiver sees the same byte
 * stream. Pieces under 256 bytes are copied into the frame and sealed in place with their
 * small neighbours (cheaper than a cipher update each); larger ones are read where they
 * are. The pieces must not lie inside out. */
int lp2p_noise_encrypt_gather(lp2p_noise *n, const struct iovec *iov, int cnt, lp2p_buf *out);
/* Decrypts every complete frame in `in` into pt_out and buffers a trailing partial frame
 * (at most one). Consumes all of in. 0 or a fatal code (LP2P_ERR_PROTO for a frame shorter
 * than the tag, LP2P_ERR_CRYPTO for one that does not authenticate); after a fatal error the
 * core refuses everything. */
int lp2p_noise_decrypt(lp2p_noise *n, const uint8_t *in, size_t len, lp2p_buf *pt_out);

/* Tests only: set the transport nonces (to reach the 2^64-1 limit). */
void lp2p_noise_test_set_nonces(lp2p_noise *n, uint64_t tx, uint64_t rx);

#endif
