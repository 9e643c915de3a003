/* libp2p Noise: handshake payload, muxer agreement, framing and transport (see noise.h). */
#include "proto/noise.h"
#include "proto/noise_xx.h"
#include "lp2p/err.h"

#include "noise.pb-c.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HDR  2
#define TAGLEN     LP2P_NOISE_TAG_LEN
#define PREFIX_LEN (sizeof(LP2P_NOISE_SIG_PREFIX) - 1)

struct lp2p_noise {
    lp2p_noise_xx xx;
    const lp2p_keypair *identity;
    const lp2p_noise_static *shared_static; /* borrowed; NULL = per-session key */
    int initiator;
    lp2p_trace trace;
    int has_expected;
    lp2p_peer_id expected;
    char **muxers; /* our list, owned copies */
    size_t nmuxers;
    /* Initiator: the responder's list from msg2, kept until our msg3 goes out. */
    char **peer_muxers;
    size_t npeer_muxers;

    lp2p_buf out;     /* handshake frames to send */
    lp2p_buf hs_rx;   /* one partial handshake frame */
    lp2p_buf payload; /* decrypted handshake payload (scratch) */
    int done;
    int err; /* first fatal error; sticky */

    lp2p_peer_id remote;
    uint8_t *remote_pk;
    size_t remote_pk_len;
    const char *muxer; /* points into muxers[] */

    lp2p_noise_cs tx, rx;
    lp2p_buf rx_partial; /* one partial transport frame, <= 2 + 65535 bytes */
};

static int fail(lp2p_noise *n, int rc, const char *why)
{
    if (!n->err) {
        n->err = rc;
        lp2p_emit(&n->trace, LP2P_WARN, "noise_error", LF_S("reason", why),
                  LF_S("code", lp2p_err_name(rc)),
                  LF_S("role", n->initiator ? "initiator" : "responder"));
    }
    return rc;
}

static void free_list(char **l, size_t k)
{
    for (size_t i = 0; i < k; i++)
        free(l[i]);
    free(l);
}

static int copy_list(char ***dst, size_t *ndst, const char *const *src, size_t k)
{
    *dst = NULL;
    *ndst = 0;
    if (k == 0)
        return 0;
    char **l = calloc(k, sizeof(*l));
    if (!l)
        return LP2P_ERR_NOMEM;
    for (size_t i = 0; i < k; i++) {
        if (!src[i] || !(l[i] = strdup(src[i]))) {
            free_list(l, i);
            return src[i] ? LP2P_ERR_NOMEM : LP2P_ERR_INVAL;
        }
    }
    *dst = l;
    *ndst = k;
    return 0;
}

int lp2p_noise_new(const lp2p_noise_config *c, lp2p_noise **out)
{
    *out = NULL;
    if (!c || !c->identity || (c->nmuxers && !c->muxers))
        return LP2P_ERR_INVAL;
    lp2p_noise *n = calloc(1, sizeof(*n));
    if (!n)
        return LP2P_ERR_NOMEM;
    n->identity = c->identity;
    n->initiator = !!c->initiator;
    n->trace = c->trace;
    if (c->expected_remote) {
        n->has_expected = 1;
        n->expected = *c->expected_remote;
    }
    /* Empty prologue: the libp2p spec defines none. */
    int rc;
    if (c->shared_static && c->shared_static->ready && !c->test_static_key &&
        !c->test_ephemeral_key) {
        n->shared_static = c->shared_static;
        rc = lp2p_noise_xx_init_with_static(&n->xx, n->initiator, NULL, 0, &c->shared_static->key,
                                            &c->rng);
    } else {
        rc = lp2p_noise_xx_init(&n->xx, n->initiator, NULL, 0, c->test_static_key,
                                c->test_ephemeral_key, &c->rng);
    }
    if (!rc && !c->test_ephemeral_key && c->spare_ephemeral && c->spare_ephemeral->pkey) {
        n->xx.e = *c->spare_ephemeral; /* moved: one owner, used once, wiped with the core */
        n->xx.e_given = 1;
        memset(c->spare_ephemeral, 0, sizeof(*c->spare_ephemeral));
    }
    if (!rc)
        rc = copy_list(&n->muxers, &n->nmuxers, c->muxers, c->nmuxers);
    if (rc) {
        lp2p_noise_del(n);
        return rc;
    }
    *out = n;
    return 0;
}

void lp2p_noise_del(lp2p_noise *n)
{
    if (!n)
        return;
    lp2p_noise_xx_free(&n->xx);
    free_list(n->muxers, n->nmuxers);
    free_list(n->peer_muxers, n->npeer_muxers);
    lp2p_buf_free(&n->out);
    lp2p_buf_free_secure(&n->hs_rx);
    lp2p_buf_free_secure(&n->payload);
    lp2p_buf_free_secure(&n->rx_partial);
    free(n->remote_pk);
    lp2p_noise_cs_free(&n->tx);
    lp2p_noise_cs_free(&n->rx);
    free(n);
}

lp2p_buf *lp2p_noise_out(lp2p_noise *n)
{
    return &n->out;
}

int lp2p_noise_handshake_done(const lp2p_noise *n)
{
    return n->done;
}

const uint8_t *lp2p_noise_handshake_hash(const lp2p_noise *n)
{
    return n->done ? n->xx.h : NULL;
}

const lp2p_peer_id *lp2p_noise_remote_peer(const lp2p_noise *n)
{
    return n->done ? &n->remote : NULL;
}

const uint8_t *lp2p_noise_remote_pubkey(const lp2p_noise *n, size_t *len)
{
    *len = n->done ? n->remote_pk_len : 0;
    return n->done ? n->remote_pk : NULL;
}

const char *lp2p_noise_muxer(const lp2p_noise *n)
{
    return n->done ? n->muxer : NULL;
}

void lp2p_noise_test_set_nonces(lp2p_noise *n, uint64_t tx, uint64_t rx)
{
    n->tx.n = tx;
    n->rx.n = rx;
}

/* ---- handshake payload ------------------------------------------------------------------ */

/* NoiseHandshakePayload{identity_key, identity_sig, extensions{stream_muxers}}; the
 * extension goes only into msg2 (responder) and msg3 (initiator), which are encrypted. */
static int build_payload(lp2p_noise *n, uint8_t **out, size_t *outlen)
{
    uint8_t msg[PREFIX_LEN + LP2P_X25519_LEN];
    memcpy(msg, LP2P_NOISE_SIG_PREFIX, PREFIX_LEN);
    memcpy(msg + PREFIX_LEN, n->xx.s.pub, LP2P_X25519_LEN);
    uint8_t sig[LP2P_SIG_MAX];
    if (n->shared_static) {
        memcpy(sig, n->shared_static->sig, sizeof(sig)); /* signed once, over this key */
    } else {
        int rc = lp2p_keypair_sign(n->identity, msg, sizeof(msg), sig);
        if (rc)
            return rc;
    }
    size_t pklen = 0;
    const uint8_t *pk = lp2p_keypair_pubkey(n->identity, &pklen);
    if (!pk)
        return LP2P_ERR_INVAL;

    Lp2p__Noise__NoiseHandshakePayload p = LP2P__NOISE__NOISE_HANDSHAKE_PAYLOAD__INIT;
    Lp2p__Noise__NoiseExtensions ext = LP2P__NOISE__NOISE_EXTENSIONS__INIT;
    p.has_identity_key = 1;
    p.identity_key.data = (uint8_t *)pk;
    p.identity_key.len = pklen;
    p.has_identity_sig = 1;
    p.identity_sig.data = sig;
    p.identity_sig.len = LP2P_SIG_MAX; /* our keys are Ed25519: 64-byte signatures */
    if (n->nmuxers) {
        ext.n_stream_muxers = n->nmuxers;
        ext.stream_muxers = n->muxers;
        p.extensions = &ext;
    }
    size_t len = lp2p__noise__noise_handshake_payload__get_packed_size(&p);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return LP2P_ERR_NOMEM;
    lp2p__noise__noise_handshake_payload__pack(&p, buf);
    *out = buf;
    *outlen = len;
    return 0;
}

static int list_has(char *const *l, size_t k, const char *s)
{
    for (size_t i = 0; i < k; i++)
        if (strcmp(l[i], s) == 0)
            return 1;
    return 0;
}

/* Inlined muxer negotiation: the first of the initiator's list the responder supports.
 * Both sides run this with the same two lists, so they agree. */
static int choose_muxer(lp2p_noise *n)
{
    char *const *ini = n->initiator ? n->muxers : n->peer_muxers;
    size_t nini = n->initiator ? n->nmuxers : n->npeer_muxers;
    char *const *rsp = n->initiator ? n->peer_muxers : n->muxers;
    size_t nrsp = n->initiator ? n->npeer_muxers : n->nmuxers;
    n->muxer = NULL;
    if (nini == 0 || nrsp == 0)
        return 0; /* no agreement in the handshake: multistream decides later */
    for (size_t i = 0; i < nini; i++) {
        if (list_has(rsp, nrsp, ini[i])) {
            /* Return our own copy so the pointer outlives the peer's list. */
            for (size_t j = 0; j < n->nmuxers; j++)
                if (strcmp(n->muxers[j], ini[i]) == 0)
                    n->muxer = n->muxers[j];
            return 0;
        }
    }
    return fail(n, LP2P_ERR_PROTO, "no common stream muxer in the handshake extensions");
}

/* Verifies the remote's payload against the static key it sent (xx.rs). */
static int check_payload(lp2p_noise *n, const uint8_t *data, size_t len)
{
    Lp2p__Noise__NoiseHandshakePayload *p =
        lp2p__noise__noise_handshake_payload__unpack(NULL, len, data);
    if (!p)
        return fail(n, LP2P_ERR_PROTO, "handshake payload does not decode");
    int rc = 0;
    if (!p->has_identity_key || !p->has_identity_sig) {
        rc = fail(n, LP2P_ERR_AUTH, "handshake payload lacks identity key or signature");
        goto out;
    }
    uint8_t msg[PREFIX_LEN + LP2P_X25519_LEN];
    memcpy(msg, LP2P_NOISE_SIG_PREFIX, PREFIX_LEN);
    memcpy(msg + PREFIX_LEN, n->xx.rs, LP2P_X25519_LEN);
    /* A peer that reconnects with the same static key sends the same triple: the crypto
     * layer's verified-signature cache answers it without a second verification. */
    rc = lp2p_pubkey_verify(p->identity_key.data, p->identity_key.len, msg, sizeof(msg),
                            p->identity_sig.data, p->identity_sig.len);
    if (rc) {
        rc = fail(n, LP2P_ERR_AUTH,
                  rc == LP2P_ERR_AUTH ? "identity signature over the static key is invalid"
                                      : "identity key does not parse");
        goto out;
    }
    if (lp2p_peer_id_from_pubkey(p->identity_key.data, p->identity_key.len, &n->remote)) {
        rc = fail(n, LP2P_ERR_AUTH, "no peer ID for the identity key");
        goto out;
    }
    if (n->has_expected && !lp2p_peer_id_equal(&n->expected, &n->remote)) {
        /* Name who answered: a wrong ID in an address is then a one-look fix. */
        char got[LP2P_PEER_ID_STR_MAX], why[LP2P_PEER_ID_STR_MAX + 64];
        lp2p_peer_id_to_string(&n->remote, got, sizeof got);
        snprintf(why, sizeof why, "remote key does not match the dialed peer ID: %s answered", got);
        rc = fail(n, LP2P_ERR_PEER_ID_MISMATCH, why);
        goto out;
    }
    if (!(n->remote_pk = malloc(p->identity_key.len ? p->identity_key.len : 1))) {
        rc = LP2P_ERR_NOMEM;
        goto out;
    }
    memcpy(n->remote_pk, p->identity_key.data, p->identity_key.len);
    n->remote_pk_len = p->identity_key.len;
    if (p->extensions && p->extensions->n_stream_muxers) {
        rc = copy_list(&n->peer_muxers, &n->npeer_muxers,
                       (const char *const *)p->extensions->stream_muxers,
                       p->extensions->n_stream_muxers);
        if (rc)
            goto out;
    }
    rc = choose_muxer(n);
out:
    lp2p__noise__noise_handshake_payload__free_unpacked(p, NULL);
    return rc;
}

/* ---- handshake ---------------------------------------------------------------------------- */

/* Writes our next handshake message as one frame (with our payload unless it is msg1). */
static int write_next(lp2p_noise *n)
{
    uint8_t *payload = NULL;
    size_t plen = 0;
    int rc = 0;
    if (n->xx.msg > 0 && (rc = build_payload(n, &payload, &plen)))
        return fail(n, rc, "cannot build handshake payload");
    /* Offsets are relative to the head: appending may compact the buffer. */
    size_t before = lp2p_buf_size(&n->out);
    rc = lp2p_buf_append(&n->out, "\0\0", FRAME_HDR);
    if (!rc)
        rc = lp2p_noise_xx_write(&n->xx, payload, plen, &n->out);
    free(payload);
    if (rc) {
        n->out.len = n->out.off + before;
        return fail(n, rc, "cannot write handshake message");
    }
    uint8_t *hdr = lp2p_buf_head(&n->out) + before;
    size_t mlen = lp2p_buf_size(&n->out) - before - FRAME_HDR; /* <= 65535, checked by xx */
    hdr[0] = (uint8_t)(mlen >> 8);
    hdr[1] = (uint8_t)mlen;
    return 0;
}

int lp2p_noise_start(lp2p_noise *n)
{
    if (n->err)
        return n->err;
    if (!n->initiator)
        return 0;
    if (n->xx.msg != 0)
        return LP2P_ERR_STATE;
    return write_next(n); /* -> e, empty payload */
}

static int finish(lp2p_noise *n)
{
    int rc = lp2p_noise_xx_split(&n->xx, &n->tx, &n->rx);
    if (rc)
        return fail(n, rc, "split failed");
    free_list(n->peer_muxers, n->npeer_muxers);
    n->peer_muxers = NULL;
    n->npeer_muxers = 0;
    lp2p_buf_free_secure(&n->payload);
    lp2p_buf_free_secure(&n->hs_rx);
    n->done = 1;
    return 1;
}

/* One complete handshake message from the peer. */
static int on_message(lp2p_noise *n, const uint8_t *msg, size_t len)
{
    int idx = n->xx.msg;
    lp2p_buf_clear(&n->payload);
    int rc = lp2p_noise_xx_read(&n->xx, msg, len, &n->payload);
    if (rc)
        return fail(n, rc == LP2P_ERR_CRYPTO ? rc : LP2P_ERR_PROTO,
                    rc == LP2P_ERR_CRYPTO ? "handshake message does not decrypt"
                                          : "malformed handshake message");
    switch (idx) {
    case 0: /* responder got -> e; a payload here would be unencrypted: ignore it */
        return write_next(n);
    case 1: /* initiator got <- e, ee, s, es: authenticate, then -> s, se */
        if ((rc = check_payload(n, lp2p_buf_head(&n->payload), lp2p_buf_size(&n->payload))))
            return rc;
        if ((rc = write_next(n)))
            return rc;
        return finish(n);
    default: /* responder got -> s, se */
        if ((rc = check_payload(n, lp2p_buf_head(&n->payload), lp2p_buf_size(&n->payload))))
            return rc;
        return finish(n);
    }
}

int lp2p_noise_recv_handshake(lp2p_noise *n, const uint8_t *in, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (n->err)
        return n->err;
    if (n->done)
        return 1;
    if (n->initiator && n->xx.msg == 0)
        return LP2P_ERR_STATE; /* lp2p_noise_start first */
    size_t used = 0;
    lp2p_buf *b = &n->hs_rx;
    int rc = 0;
    while (used < len && !n->done) {
        size_t take;
        if (lp2p_buf_size(b) < FRAME_HDR) {
            take = FRAME_HDR - lp2p_buf_size(b);
            take = take < len - used ? take : len - used;
            if ((rc = lp2p_buf_append(b, in + used, take)))
                break;
            used += take;
            if (lp2p_buf_size(b) < FRAME_HDR)
                break;
        }
        const uint8_t *h = lp2p_buf_head(b);
        size_t want = FRAME_HDR + ((size_t)h[0] << 8 | h[1]);
        take = want - lp2p_buf_size(b);
        take = take < len - used ? take : len - used;
        if ((rc = lp2p_buf_append(b, in + used, take)))
            break;
        used += take;
        if (lp2p_buf_size(b) < want)
            break;
        rc = on_message(n, lp2p_buf_head(b) + FRAME_HDR, want - FRAME_HDR);
        lp2p_buf_clear(b);
        if (rc < 0)
            break;
    }
    *consumed = used;
    if (rc < 0)
        return fail(n, rc, "handshake failed");
    return n->done ? 1 : 0;
}

/* ---- transport ------------------------------------------------------------------------- */

#define GATHER_MAX   64  /* pieces per frame; a frame ends early rather than grow the list */
#define GATHER_SMALL 256 /* pieces shorter than this are copied into the frame, see below */

int lp2p_noise_encrypt_gather(lp2p_noise *n, const struct iovec *iov, int cnt, lp2p_buf *out)
{
    if (n->err)
        return n->err;
    if (!n->done)
        return LP2P_ERR_STATE;
    size_t len = 0;
    for (int i = 0; i < cnt; i++)
        len += iov[i].iov_len;
    /* Frames end early only at GATHER_MAX pieces: at most one extra frame per that many. */
    size_t frames = (len + LP2P_NOISE_MAX_PLAINTEXT - 1) / LP2P_NOISE_MAX_PLAINTEXT +
                    (size_t)cnt / GATHER_MAX + 1;
    if (frames > (SIZE_MAX - len) / (FRAME_HDR + TAGLEN))
        return LP2P_ERR_TOO_LARGE;
    int rc = lp2p_buf_reserve(out, len + frames * (FRAME_HDR + TAGLEN));
    if (rc)
        return rc;
    int i = 0;
    size_t off = 0; /* into iov[i] */
    while (len > 0) {
        struct iovec part[GATHER_MAX];
        int k = 0;
        size_t chunk = 0;
        uint8_t *body = out->data + out->len + FRAME_HDR;
        int last_staged = 0;
        while (i < cnt && k < GATHER_MAX && chunk < LP2P_NOISE_MAX_PLAINTEXT) {
            size_t take = iov[i].iov_len - off;
            if (take > LP2P_NOISE_MAX_PLAINTEXT - chunk)
                take = LP2P_NOISE_MAX_PLAINTEXT - chunk;
            const uint8_t *src = (const uint8_t *)iov[i].iov_base + off;
            if (take && take < GATHER_SMALL) {
                /* A small piece (a Yamux header, a Ping) costs less copied to its place in
                 * the frame than as one more cipher update; runs of them seal in place. */
                memcpy(body + chunk, src, take);
                if (last_staged) {
                    part[k - 1].iov_len += take;
                } else {
                    part[k].iov_base = body + chunk;
                    part[k].iov_len = take;
                    k++;
                }
                last_staged = 1;
                chunk += take;
            } else if (take) {
                part[k].iov_base = (void *)src;
                part[k].iov_len = take;
                k++;
                chunk += take;
                last_staged = 0;
            }
            off += take;
            if (off == iov[i].iov_len) {
                i++;
                off = 0;
            }
        }
        uint8_t *p = out->data + out->len;
        size_t flen = chunk + TAGLEN;
        p[0] = (uint8_t)(flen >> 8);
        p[1] = (uint8_t)flen;
        if ((rc = lp2p_noise_cs_encrypt_gather(&n->tx, part, k, p + FRAME_HDR)))
            return fail(n, rc, "send nonce exhausted");
        out->len += FRAME_HDR + flen;
        len -= chunk;
    }
    return 0;
}

int lp2p_noise_encrypt(lp2p_noise *n, const uint8_t *pt, size_t len, lp2p_buf *out)
{
    struct iovec one = {(void *)pt, len};
    return lp2p_noise_encrypt_gather(n, &one, 1, out);
}

/* Decrypts one frame body (ciphertext ‖ tag) straight into pt_out. */
static int open_frame(lp2p_noise *n, const uint8_t *ct, size_t flen, lp2p_buf *pt_out)
{
    if (flen < TAGLEN)
        return fail(n, LP2P_ERR_PROTO, "transport frame shorter than the tag");
    int rc = lp2p_buf_reserve(pt_out, flen - TAGLEN);
    if (rc)
        return fail(n, rc, "out of memory");
    /* An empty-plaintext frame may meet a still-unallocated buffer: no pointer math on NULL. */
    uint8_t none[1];
    uint8_t *dst = pt_out->data ? pt_out->data + pt_out->len : none;
    if ((rc = lp2p_noise_cs_decrypt(&n->rx, NULL, 0, ct, flen, dst)))
        return fail(n, rc, "transport frame does not authenticate");
    pt_out->len += flen - TAGLEN;
    return 0;
}

int lp2p_noise_decrypt(lp2p_noise *n, const uint8_t *in, size_t len, lp2p_buf *pt_out)
{
    if (n->err)
        return n->err;
    if (!n->done)
        return LP2P_ERR_STATE;
    lp2p_buf *b = &n->rx_partial;
    int rc;
    while (len > 0) {
        if (lp2p_buf_size(b) == 0) {
            /* Fast path: whole frames decrypt straight from the caller's bytes. */
            if (len >= FRAME_HDR) {
                size_t flen = (size_t)in[0] << 8 | in[1];
                if (flen < TAGLEN)
                    return fail(n, LP2P_ERR_PROTO, "transport frame shorter than the tag");
                if (len >= FRAME_HDR + flen) {
                    if ((rc = open_frame(n, in + FRAME_HDR, flen, pt_out)))
                        return rc;
                    in += FRAME_HDR + flen;
                    len -= FRAME_HDR + flen;
                    continue;
                }
            }
            /* A partial frame: keep it (bounded by 2 + 65535 bytes by the u16 length). */
            if ((rc = lp2p_buf_append(b, in, len)))
                return fail(n, rc, "out of memory");
            return 0;
        }
        size_t have = lp2p_buf_size(b), want = FRAME_HDR;
        if (have >= FRAME_HDR) {
            const uint8_t *h = lp2p_buf_head(b);
            want = FRAME_HDR + ((size_t)h[0] << 8 | h[1]);
        }
        size_t take = want - have < len ? want - have : len;
        if ((rc = lp2p_buf_append(b, in, take)))
            return fail(n, rc, "out of memory");
        in += take;
        len -= take;
        have += take;
        if (have == FRAME_HDR && want == FRAME_HDR) {
            const uint8_t *h = lp2p_buf_head(b);
            if (((size_t)h[0] << 8 | h[1]) < TAGLEN)
                return fail(n, LP2P_ERR_PROTO, "transport frame shorter than the tag");
            continue;
        }
        if (have < want)
            continue;
        rc = open_frame(n, lp2p_buf_head(b) + FRAME_HDR, want - FRAME_HDR, pt_out);
        lp2p_buf_clear(b);
        if (rc)
            return rc;
    }
    return 0;
}
