/* Crypto wrappers against published vectors: SHA-256 (FIPS 180-2 examples), HMAC-SHA256
 * (RFC 4231), HKDF-SHA256 (RFC 5869), ChaCha20-Poly1305 (RFC 8439 §2.8.2 and §A.5, the
 * latter with a Noise-shaped nonce), X25519 (RFC 7748 §5.2 and §6.1), Ed25519 verification
 * (RFC 8032 §7.1) through the verified-signature cache. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/dh.h"
#include "crypto/hash.h"
#include "crypto/pubkey.h"
#include "crypto/random.h"
#include "lp2p/err.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
    uint8_t w[512];
    size_t wn = unhex(want, w, sizeof(w));
    assert_int_equal(n, wn);
    assert_memory_equal(got, w, n);
}

static void test_sha256_vectors(void **state)
{
    uint8_t d[32];
    assert_int_equal(lp2p_sha256("abc", 3, d), 0);
    assert_hex(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(lp2p_sha256(m, strlen(m), d), 0);
    assert_hex(d, 32, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    assert_int_equal(lp2p_sha256("", 0, d), 0);
    assert_hex(d, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    /* Incremental in odd pieces, and reuse after final. */
    lp2p_sha256_ctx c = {0};
    for (int round = 0; round < 2; round++) {
        if (round == 0)
            assert_int_equal(lp2p_sha256_init(&c), 0);
        for (size_t i = 0; i < strlen(m); i += 7) {
            size_t k = strlen(m) - i < 7 ? strlen(m) - i : 7;
            assert_int_equal(lp2p_sha256_update(&c, m + i, k), 0);
        }
        memset(d, 0, sizeof(d));
        assert_int_equal(lp2p_sha256_final(&c, d), 0);
        assert_hex(d, 32, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    lp2p_sha256_free(&c);
    /* Two-part form equals the one-shot of the concatenation. */
    assert_int_equal(lp2p_sha256_2(m, 10, m + 10, strlen(m) - 10, d), 0);
    assert_hex(d, 32, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_hmac_rfc4231(void **state)
{
    uint8_t d[32];
    const char *msg = "what do ya want for nothing?";
    assert_int_equal(lp2p_hmac_sha256("Jefe", 4, msg, strlen(msg), d), 0);
    assert_hex(d, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_hkdf_rfc5869(void **state)
{
    uint8_t ikm[22], salt[13], info[10], okm[42];
    memset(ikm, 0x0b, sizeof(ikm));
    unhex("000102030405060708090a0b0c", salt, sizeof(salt));
    unhex("f0f1f2f3f4f5f6f7f8f9", info, sizeof(info));
    /* Test case 1 */
    assert_int_equal(
        lp2p_hkdf_sha256(salt, sizeof(salt), ikm, sizeof(ikm), info, sizeof(info), okm, 42), 0);
    assert_hex(okm, 42,
               "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887"
               "185865");
    /* Test case 3: empty salt and info (the shape Noise uses). */
    assert_int_equal(lp2p_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, okm, 42), 0);
    assert_hex(okm, 42,
               "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b6"
               "1a96c8");
}

/* Noise §4.3 HKDF, written out with OpenSSL's HMAC and checked against OpenSSL's RFC 5869
 * KDF, against lp2p_hkdf2/3 (our own HMAC on a fetched SHA-256). */
static void test_noise_hkdf_matches_definition(void **state)
{
    uint8_t ck[32], ikm[32], temp[32], o1[32], o2[32], o3[32], buf[33];
    for (int i = 0; i < 32; i++) {
        ck[i] = (uint8_t)i;
        ikm[i] = (uint8_t)(0xa0 + i);
    }
    for (size_t ikmlen = 0; ikmlen <= 32; ikmlen += 32) {
        assert_int_equal(lp2p_hmac_sha256(ck, 32, ikm, ikmlen, temp), 0);
        buf[0] = 1;
        assert_int_equal(lp2p_hmac_sha256(temp, 32, buf, 1, o1), 0);
        memcpy(buf, o1, 32);
        buf[32] = 2;
        assert_int_equal(lp2p_hmac_sha256(temp, 32, buf, 33, o2), 0);
        memcpy(buf, o2, 32);
        buf[32] = 3;
        assert_int_equal(lp2p_hmac_sha256(temp, 32, buf, 33, o3), 0);

        uint8_t a[32], b[32], c[32];
        assert_int_equal(lp2p_hkdf3(ck, ikm, ikmlen, a, b, c), 0);
        assert_memory_equal(a, o1, 32);
        assert_memory_equal(b, o2, 32);
        assert_memory_equal(c, o3, 32);
        uint8_t okm[96]; /* RFC 5869 with salt = ck and no info is the same function */
        assert_int_equal(lp2p_hkdf_sha256(ck, 32, ikm, ikmlen, NULL, 0, okm, 96), 0);
        assert_memory_equal(okm, o1, 32);
        assert_memory_equal(okm + 32, o2, 32);
        assert_memory_equal(okm + 64, o3, 32);
        /* Output aliasing the chaining key, as MixKey does. */
        uint8_t ck2[32];
        memcpy(ck2, ck, 32);
        assert_int_equal(lp2p_hkdf2(ck2, ikm, ikmlen, ck2, b), 0);
        assert_memory_equal(ck2, o1, 32);
        assert_memory_equal(b, o2, 32);
    }
}

static const char *LADIES = "Ladies and Gentlemen of the class of '99: If I could offer you only "
                            "one tip for the future, sunscreen would be it.";

static void test_chachapoly_rfc8439_282(void **state)
{
    uint8_t key[32], iv[12], aad[12], out[256], back[256];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0x80 + i);
    unhex("070000004041424344454647", iv, sizeof(iv));
    unhex("50515253c0c1c2c3c4c5c6c7", aad, sizeof(aad));
    size_t n = strlen(LADIES);
    lp2p_aead a = {0};
    assert_int_equal(lp2p_aead_init(&a, key), 0);
    /* Twice: the kept-alive context must give the same answer on reuse. */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(
            lp2p_aead_seal_iv(&a, iv, aad, sizeof(aad), (const uint8_t *)LADIES, n, out), 0);
        assert_hex(out, n + 16,
                   "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                   "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
                   "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                   "3ff4def08e4b7a9de576d26586cec64b6116"
                   "1ae10b594f09e26a7e902ecbd0600691");
        assert_int_equal(lp2p_aead_open_iv(&a, iv, aad, sizeof(aad), out, n + 16, back), 0);
        assert_memory_equal(back, LADIES, n);
    }
    /* In place. */
    memcpy(back, LADIES, n);
    assert_int_equal(lp2p_aead_seal_iv(&a, iv, aad, sizeof(aad), back, n, back), 0);
    assert_memory_equal(back, out, n + 16);
    assert_int_equal(lp2p_aead_open_iv(&a, iv, aad, sizeof(aad), back, n + 16, back), 0);
    assert_memory_equal(back, LADIES, n);
    /* Any flipped bit (ciphertext, tag, AD) or a short input is refused. */
    out[3] ^= 1;
    assert_int_equal(lp2p_aead_open_iv(&a, iv, aad, sizeof(aad), out, n + 16, back),
                     LP2P_ERR_CRYPTO);
    out[3] ^= 1;
    out[n + 15] ^= 0x80;
    assert_int_equal(lp2p_aead_open_iv(&a, iv, aad, sizeof(aad), out, n + 16, back),
                     LP2P_ERR_CRYPTO);
    out[n + 15] ^= 0x80;
    aad[0] ^= 1;
    assert_int_equal(lp2p_aead_open_iv(&a, iv, aad, sizeof(aad), out, n + 16, back),
                     LP2P_ERR_CRYPTO);
    aad[0] ^= 1;
    assert_int_equal(lp2p_aead_open_iv(&a, iv, aad, sizeof(aad), out, 15, back), LP2P_ERR_CRYPTO);
    /* And after failures the context still opens the good message. */
    assert_int_equal(lp2p_aead_open_iv(&a, iv, aad, sizeof(aad), out, n + 16, back), 0);
    lp2p_aead_free(&a);
}

/* RFC 8439 §A.5: nonce 00000000 0102030405060708 is exactly Noise's encoding of the counter
 * n = 0x0807060504030201 (4 zero bytes ‖ little-endian u64). */
static void test_chachapoly_rfc8439_a5_noise_nonce(void **state)
{
    uint8_t key[32], aad[12], ct[512], pt[512], want[512], iv[12];
    unhex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0", key, 32);
    unhex("f33388860000000000004e91", aad, 12);
    size_t cn = unhex("64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
                      "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
                      "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
                      "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
                      "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
                      "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
                      "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
                      "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
                      "a6ad5cb4022b02709b"
                      "eead9d67890cbb22392336fea1851f38",
                      ct, sizeof(ct));
    size_t pn = unhex("496e7465726e65742d4472616674732061726520647261667420646f63756d65"
                      "6e74732076616c696420666f722061206d6178696d756d206f6620736978206d"
                      "6f6e74687320616e64206d617920626520757064617465642c207265706c6163"
                      "65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65"
                      "6e747320617420616e792074696d652e20497420697320696e617070726f7072"
                      "6961746520746f2075736520496e7465726e65742d4472616674732061732072"
                      "65666572656e6365206d6174657269616c206f7220746f206369746520746865"
                      "6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67"
                      "726573732e2fe2809d",
                      want, sizeof(want));
    assert_int_equal(cn, pn + 16);
    const uint64_t n = 0x0807060504030201ull;
    lp2p_aead_noise_nonce(n, iv);
    assert_hex(iv, 12, "000000000102030405060708");
    lp2p_aead a = {0};
    assert_int_equal(lp2p_aead_init(&a, key), 0);
    assert_int_equal(lp2p_aead_open(&a, n, aad, 12, ct, cn, pt), 0);
    assert_memory_equal(pt, want, pn);
    uint8_t again[512];
    assert_int_equal(lp2p_aead_seal(&a, n, aad, 12, pt, pn, again), 0);
    assert_memory_equal(again, ct, cn);
    /* The neighbouring counter does not open it. */
    assert_int_equal(lp2p_aead_open(&a, n + 1, aad, 12, ct, cn, pt), LP2P_ERR_CRYPTO);
    lp2p_aead_free(&a);
    lp2p_aead_free(&a); /* idempotent */
}

static void test_x25519_rfc7748(void **state)
{
    uint8_t scalar[32], u[32], out[32];
    /* §5.2 first vector. */
    unhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4", scalar, 32);
    unhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", u, 32);
    lp2p_x25519_key k = {0};
    assert_int_equal(lp2p_x25519_from_private(&k, scalar), 0);
    assert_int_equal(lp2p_x25519_dh(&k, u, out), 0);
    assert_hex(out, 32, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    lp2p_x25519_wipe(&k);
    lp2p_x25519_wipe(&k); /* idempotent */

    /* §6.1 Diffie-Hellman. */
    lp2p_x25519_key alice = {0}, bob = {0};
    uint8_t ap[32], bp[32], s1[32], s2[32];
    unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", ap, 32);
    unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", bp, 32);
    assert_int_equal(lp2p_x25519_from_private(&alice, ap), 0);
    assert_int_equal(lp2p_x25519_from_private(&bob, bp), 0);
    assert_hex(alice.pub, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    assert_hex(bob.pub, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    assert_int_equal(lp2p_x25519_dh(&alice, bob.pub, s1), 0);
    assert_int_equal(lp2p_x25519_dh(&bob, alice.pub, s2), 0);
    assert_hex(s1, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_memory_equal(s1, s2, 32);

    /* Small-order public keys (u = 0, u = 1) give an all-zero secret: refused. */
    uint8_t zero[32] = {0}, one[32] = {1};
    assert_int_equal(lp2p_x25519_dh(&alice, zero, out), LP2P_ERR_CRYPTO);
    assert_int_equal(lp2p_x25519_dh(&alice, one, out), LP2P_ERR_CRYPTO);
    assert_memory_equal(out, zero, 32); /* nothing usable left behind */
    lp2p_x25519_wipe(&alice);
    lp2p_x25519_wipe(&bob);
}

/* One key against several peers in turn, and several keys against one peer: the results
 * equal each peer's own view (the peer's public key object is reused between calls). */
static void test_x25519_many_peers(void **state)
{
    enum { N = 4 };
    lp2p_x25519_key k[N];
    memset(k, 0, sizeof(k));
    uint8_t priv[32];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 32; j++)
            priv[j] = (uint8_t)(17 * i + 3 * j + 1);
        assert_int_equal(lp2p_x25519_from_private(&k[i], priv), 0);
    }
    uint8_t s[N][N][32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                assert_int_equal(lp2p_x25519_dh(&k[i], k[j].pub, s[i][j]), 0);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                assert_memory_equal(s[i][j], s[j][i], 32);
                if (j != i)
                    assert_memory_not_equal(s[i][j], s[i][i], 32);
            }
    }
    /* A refused small-order key in between does not poison the next DH. */
    uint8_t zero[32] = {0}, again[32];
    assert_int_equal(lp2p_x25519_dh(&k[0], zero, again), LP2P_ERR_CRYPTO);
    assert_int_equal(lp2p_x25519_dh(&k[0], k[1].pub, again), 0);
    assert_memory_equal(again, s[1][0], 32);
    for (int i = 0; i < N; i++)
        lp2p_x25519_wipe(&k[i]);
}

static void test_x25519_keygen_and_random(void **state)
{
    lp2p_x25519_key a = {0}, b = {0};
    assert_int_equal(lp2p_x25519_keygen(&a, &LP2P_RNG_OPENSSL), 0);
    assert_int_equal(lp2p_x25519_keygen(&b, &LP2P_RNG_OPENSSL), 0);
    assert_memory_not_equal(a.priv, b.priv, 32);
    uint8_t s1[32], s2[32];
    assert_int_equal(lp2p_x25519_dh(&a, b.pub, s1), 0);
    assert_int_equal(lp2p_x25519_dh(&b, a.pub, s2), 0);
    assert_memory_equal(s1, s2, 32);
    lp2p_x25519_wipe(&a);
    lp2p_x25519_wipe(&b);
    uint8_t zero[32] = {0};
    assert_memory_equal(a.priv, zero, 32);
    assert_null(a.pkey);

    uint8_t r1[64] = {0}, r2[64] = {0};
    assert_int_equal(lp2p_random_bytes(r1, sizeof(r1)), 0);
    assert_int_equal(lp2p_random_bytes(r2, sizeof(r2)), 0);
    assert_memory_not_equal(r1, r2, sizeof(r1));
    assert_int_equal(lp2p_random_bytes(r1, 0), 0);
}

/* A verified (key, message, signature) is remembered: the same triple passes again, and no
 * neighbour of it does, even one with the same bytes split differently between the parts. */
static void test_verify_cache_is_exact(void **state)
{
    uint8_t pk[33], sig[65], msg[2] = {0x72};
    unhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", pk, 32);
    unhex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
          "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
          sig, 64);
    for (int round = 0; round < 2; round++) /* the second round is answered from the cache */
        assert_int_equal(lp2p_crypto_pubkey_verify(LP2P_PK_ED25519, pk, 32, msg, 1, sig, 64), 0);

    uint8_t m2[2] = {0x73};
    assert_int_equal(lp2p_crypto_pubkey_verify(LP2P_PK_ED25519, pk, 32, m2, 1, sig, 64),
                     LP2P_ERR_AUTH);
    assert_int_equal(lp2p_crypto_pubkey_verify(LP2P_PK_ED25519, pk, 32, msg, 0, sig, 64),
                     LP2P_ERR_AUTH);
    uint8_t s2[64];
    memcpy(s2, sig, 64);
    s2[10] ^= 1;
    for (int round = 0; round < 2; round++) /* a failure is never remembered */
        assert_int_equal(lp2p_crypto_pubkey_verify(LP2P_PK_ED25519, pk, 32, msg, 1, s2, 64),
                         LP2P_ERR_AUTH);
    uint8_t k2[32];
    memcpy(k2, pk, 32);
    k2[0] ^= 1;
    assert_int_not_equal(lp2p_crypto_pubkey_verify(LP2P_PK_ED25519, k2, 32, msg, 1, sig, 64), 0);
    /* Another key type over the same bytes. */
    assert_int_not_equal(lp2p_crypto_pubkey_verify(LP2P_PK_SECP256K1, pk, 32, msg, 1, sig, 64), 0);
    /* The signature's last byte moved into the message: the same concatenation. */
    uint8_t shifted[2] = {sig[63], 0x72};
    assert_int_equal(lp2p_crypto_pubkey_verify(LP2P_PK_ED25519, pk, 32, shifted, 2, sig, 63),
                     LP2P_ERR_AUTH);
    /* The signature's first byte moved onto the key. */
    pk[32] = sig[0];
    assert_int_not_equal(lp2p_crypto_pubkey_verify(LP2P_PK_ED25519, pk, 33, msg, 1, sig + 1, 63),
                         0);
    /* The original still passes after all those failures. */
    assert_int_equal(lp2p_crypto_pubkey_verify(LP2P_PK_ED25519, pk, 32, msg, 1, sig, 64), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hkdf_rfc5869),
        cmocka_unit_test(test_noise_hkdf_matches_definition),
        cmocka_unit_test(test_chachapoly_rfc8439_282),
        cmocka_unit_test(test_chachapoly_rfc8439_a5_noise_nonce),
        cmocka_unit_test(test_x25519_rfc7748),
        cmocka_unit_test(test_x25519_many_peers),
        cmocka_unit_test(test_x25519_keygen_and_random),
        cmocka_unit_test(test_verify_cache_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
