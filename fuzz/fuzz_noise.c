/* Noise: whatever a peer sends, the core returns an error or progresses; it never crashes,
 * never buffers more than one frame, and what it encrypts it decrypts back unchanged.
 *
 * data[0] picks the mode, data[1] the fragmentation; the rest is the input:
 *   0  raw bytes into a responder's handshake
 *   1  raw bytes into an initiator's handshake (after its msg1)
 *   2  bytes as the plaintext payload of a well-formed msg2 (protobuf parsing, identity)
 *   3  '\n'-separated muxer names in a validly signed msg2 payload (muxer agreement)
 *   4  raw bytes as transport frames after a real handshake, then as plaintext round trip
 * Keys are fixed so that every input replays identically. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "lp2p/identity.h"
#include "noise.pb-c.h"
#include "proto/noise.h"
#include "proto/noise_xx.h"
#include "util/log.h"

static lp2p_keypair *ik, *rk;
static const uint8_t S_I[32] = {1}, E_I[32] = {2}, S_R[32] = {3}, E_R[32] = {4};
static const char *const MUX[] = {"/yamux/1.0.0", "/mplex/6.7.0"};

static void setup(void)
{
    if (ik)
        return;
    lp2p_log_set_level(LP2P_ERROR);
    if (lp2p_keypair_generate(&ik) || lp2p_keypair_generate(&rk))
        abort();
}

static lp2p_noise *make(int initiator)
{
    lp2p_noise *n;
    lp2p_noise_config c = {.identity = initiator ? ik : rk,
                           .initiator = initiator,
                           .muxers = MUX,
                           .nmuxers = 2,
                           .test_static_key = initiator ? S_I : S_R,
                           .test_ephemeral_key = initiator ? E_I : E_R};
    if (lp2p_noise_new(&c, &n))
        abort();
    return n;
}

/* Feeds in to n's handshake in pieces; checks the consumed contract. */
static int feed_hs(lp2p_noise *n, const uint8_t *in, size_t len, size_t chunk)
{
    int rc = 0;
    while (len > 0) {
        size_t k = len < chunk ? len : chunk, used = 0;
        rc = lp2p_noise_recv_handshake(n, in, k, &used);
        if (used > k)
            abort();
        if (rc != 0)
            return rc;
        if (used != k)
            abort(); /* "need more" must have taken everything */
        in += k;
        len -= k;
    }
    return rc;
}

/* A bare responder answers the initiator's msg1 with payload; returns the initiator's rc. */
static int msg2_with_payload(const uint8_t *payload, size_t plen, size_t chunk)
{
    lp2p_noise *ini = make(1);
    if (lp2p_noise_start(ini))
        abort();
    lp2p_noise_xx bare;
    lp2p_buf out, pay;
    lp2p_buf_init(&out);
    lp2p_buf_init(&pay);
    if (lp2p_noise_xx_init(&bare, 0, NULL, 0, S_R, E_R, NULL) ||
        lp2p_noise_xx_read(&bare, lp2p_buf_head(lp2p_noise_out(ini)) + 2, 32, &pay))
        abort();
    int rc = LP2P_ERR_TOO_LARGE;
    lp2p_buf_append(&out, "\0\0", 2);
    if (lp2p_noise_xx_write(&bare, payload, plen, &out) == 0) {
        size_t ml = lp2p_buf_size(&out) - 2;
        lp2p_buf_head(&out)[0] = (uint8_t)(ml >> 8);
        lp2p_buf_head(&out)[1] = (uint8_t)ml;
        rc = feed_hs(ini, lp2p_buf_head(&out), lp2p_buf_size(&out), chunk);
        if (rc == 1 && !lp2p_noise_remote_peer(ini))
            abort();
    }
    lp2p_noise_xx_free(&bare);
    lp2p_buf_free(&out);
    lp2p_buf_free(&pay);
    lp2p_noise_del(ini);
    return rc;
}

static void signed_muxers(const uint8_t *in, size_t len, size_t chunk)
{
    /* Up to 8 names split on '\n'. */
    char *copy = malloc(len + 1);
    memcpy(copy, in, len);
    copy[len] = 0;
    char *names[8];
    size_t k = 0;
    for (char *save = NULL, *t = strtok_r(copy, "\n", &save); t && k < 8;
         t = strtok_r(NULL, "\n", &save))
        names[k++] = t;
    lp2p_x25519_key s = {0};
    if (lp2p_x25519_from_private(&s, S_R))
        abort();
    uint8_t msg[56], sig[64];
    memcpy(msg, LP2P_NOISE_SIG_PREFIX, 24);
    memcpy(msg + 24, s.pub, 32);
    lp2p_x25519_wipe(&s);
    if (lp2p_keypair_sign(rk, msg, 56, sig))
        abort();
    Lp2p__Noise__NoiseHandshakePayload p = LP2P__NOISE__NOISE_HANDSHAKE_PAYLOAD__INIT;
    Lp2p__Noise__NoiseExtensions ext = LP2P__NOISE__NOISE_EXTENSIONS__INIT;
    size_t pkl;
    p.has_identity_key = p.has_identity_sig = 1;
    p.identity_key.data = (uint8_t *)lp2p_keypair_pubkey(rk, &pkl);
    p.identity_key.len = pkl;
    p.identity_sig.data = sig;
    p.identity_sig.len = 64;
    ext.n_stream_muxers = k;
    ext.stream_muxers = names;
    p.extensions = &ext;
    size_t pbl = lp2p__noise__noise_handshake_payload__get_packed_size(&p);
    uint8_t *pb = malloc(pbl + 1);
    lp2p__noise__noise_handshake_payload__pack(&p, pb);
    int rc = msg2_with_payload(pb, pbl, chunk);
    /* Valid signature: success exactly when the lists meet or the peer sent none. */
    int meet = k == 0;
    for (size_t i = 0; i < k; i++)
        meet |= !strcmp(names[i], MUX[0]) || !strcmp(names[i], MUX[1]);
    if (pbl + 16 + 80 <= LP2P_NOISE_MAX_MSG && (rc == 1) != meet)
        abort();
    free(pb);
    free(copy);
}

static void transport(const uint8_t *in, size_t len, size_t chunk)
{
    lp2p_noise *a = make(1), *b = make(0);
    if (lp2p_noise_start(a))
        abort();
    size_t used;
    lp2p_buf *ao = lp2p_noise_out(a), *bo = lp2p_noise_out(b);
    if (lp2p_noise_recv_handshake(b, lp2p_buf_head(ao), lp2p_buf_size(ao), &used) != 0)
        abort();
    lp2p_buf_clear(ao);
    if (lp2p_noise_recv_handshake(a, lp2p_buf_head(bo), lp2p_buf_size(bo), &used) != 1)
        abort();
    if (lp2p_noise_recv_handshake(b, lp2p_buf_head(ao), lp2p_buf_size(ao), &used) != 1)
        abort();
    lp2p_buf w, pt;
    lp2p_buf_init(&w);
    lp2p_buf_init(&pt);
    /* Round trip first (a -> b), then junk into b's other direction (b <- a stream). */
    if (lp2p_noise_encrypt(a, in, len, &w))
        abort();
    for (size_t off = 0; off < lp2p_buf_size(&w); off += chunk) {
        size_t k = lp2p_buf_size(&w) - off < chunk ? lp2p_buf_size(&w) - off : chunk;
        if (lp2p_noise_decrypt(b, lp2p_buf_head(&w) + off, k, &pt))
            abort();
    }
    if (lp2p_buf_size(&pt) != len || (len && memcmp(lp2p_buf_head(&pt), in, len)))
        abort();
    lp2p_buf_clear(&pt);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += chunk) {
        size_t k = len - off < chunk ? len - off : chunk;
        rc = lp2p_noise_decrypt(a, in + off, k, &pt);
    }
    if (rc && !lp2p_err_is_fatal(rc))
        abort();
    if (lp2p_buf_size(&pt) != 0)
        abort(); /* forged frames never authenticate */
    lp2p_buf_free(&w);
    lp2p_buf_free(&pt);
    lp2p_noise_del(a);
    lp2p_noise_del(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    setup();
    int mode = data[0] % 5;
    size_t chunk = data[1] ? data[1] : 65536;
    data += 2;
    size -= 2;
    switch (mode) {
    case 0:
    case 1: {
        lp2p_noise *n = make(mode == 1);
        if (lp2p_noise_start(n))
            abort();
        int rc = feed_hs(n, data, size, chunk);
        if (rc < 0 && !lp2p_err_is_fatal(rc))
            abort();
        lp2p_noise_del(n);
        break;
    }
    case 2: {
        int rc = msg2_with_payload(data, size, chunk);
        if (rc < 0 && !lp2p_err_is_fatal(rc) && rc != LP2P_ERR_TOO_LARGE)
            abort();
        break;
    }
    case 3:
        signed_muxers(data, size, chunk);
        break;
    default:
        transport(data, size, chunk);
        break;
    }
    return 0;
}
