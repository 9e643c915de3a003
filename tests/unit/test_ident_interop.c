/* Identity against another implementation: keys, signatures, a peer record and a relay
 * voucher produced by js-libp2p (tests/vectors/keys/js_fixtures.txt, made by
 * gen_js_fixtures.mjs with the versions pinned in tests/interop), and public keys derived
 * from the libp2p spec's private keys of every type. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "lp2p/identity.h"

static void vector_path(char *path, size_t cap, const char *name)
{
    const char *src = getenv("SRC_DIR");
    if (src) {
        snprintf(path, cap, "%s/tests/vectors/keys/%s", src, name);
    } else {
        const char *f = __FILE__, *p = strstr(f, "tests/unit/");
        assert_non_null(p);
        snprintf(path, cap, "%.*stests/vectors/keys/%s", (int)(p - f), f, name);
    }
}

/* Value of line "<name> <value>" in js_fixtures.txt (static buffer). */
static const char *fixture(const char *name)
{
    static char line[16384];
    char path[4096];
    vector_path(path, sizeof(path), "js_fixtures.txt");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t nl = strlen(name);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, name, nl) == 0 && line[nl] == ' ') {
            fclose(f);
            line[strcspn(line, "\r\n")] = 0;
            return line + nl + 1;
        }
    }
    fclose(f);
    fail_msg("fixture %s missing", name);
    return NULL;
}

static size_t fixture_bytes(const char *name, uint8_t *out, size_t cap)
{
    const char *hex = fixture(name);
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static size_t file_bytes(const char *name, uint8_t *out, size_t cap)
{
    char path[4096];
    vector_path(path, sizeof(path), name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(out, 1, cap, f);
    fclose(f);
    return n;
}

/* js keys: the PublicKey validates, gives js's peer ID in both text forms, js's signature
 * verifies (and a flipped bit does not); the PrivateKey yields the same PublicKey. */
static void check_js_key(const char *t, lp2p_key_type want_type)
{
    char name[64], s[LP2P_PEER_ID_STR_MAX];
    static uint8_t pub[4096], priv[8192], msg[256], sig[1024], derived[LP2P_PUBKEY_PB_ANY_MAX];
    snprintf(name, sizeof(name), "%s.public", t);
    size_t pn = fixture_bytes(name, pub, sizeof(pub));
    snprintf(name, sizeof(name), "%s.private", t);
    size_t kn = fixture_bytes(name, priv, sizeof(priv));
    snprintf(name, sizeof(name), "%s.msg", t);
    size_t mn = fixture_bytes(name, msg, sizeof(msg));
    snprintf(name, sizeof(name), "%s.sig", t);
    size_t sn = fixture_bytes(name, sig, sizeof(sig));

    lp2p_key_type type;
    assert_int_equal(lp2p_pubkey_validate(pub, pn, &type), 0);
    assert_int_equal(type, want_type);
    lp2p_peer_id id;
    assert_int_equal(lp2p_peer_id_from_pubkey(pub, pn, &id), 0);
    assert_int_equal(lp2p_peer_id_to_string(&id, s, sizeof(s)), 0);
    snprintf(name, sizeof(name), "%s.peer", t);
    assert_string_equal(s, fixture(name));
    assert_int_equal(lp2p_peer_id_to_cid(&id, s, sizeof(s)), 0);
    snprintf(name, sizeof(name), "%s.cid", t);
    assert_string_equal(s, fixture(name));

    assert_int_equal(lp2p_pubkey_verify(pub, pn, msg, mn, sig, sn), 0);
    sig[sn - 1] ^= 0x01;
    assert_int_equal(lp2p_pubkey_verify(pub, pn, msg, mn, sig, sn), LP2P_ERR_AUTH);

    size_t dn = sizeof(derived);
    assert_int_equal(lp2p_private_pb_public_key(priv, kn, derived, &dn, &type), 0);
    assert_int_equal(type, want_type);
    assert_int_equal(dn, pn);
    assert_memory_equal(derived, pub, pn);

    /* as a key file: `holepunch id` names the same peer */
    char path[] = "/tmp/lp2p-jskey-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, priv, kn), (ssize_t)kn);
    close(fd);
    lp2p_peer_id fid;
    char err[256] = "";
    assert_int_equal(lp2p_keyfile_peer_id(path, &fid, &type, err, sizeof(err)), 0);
    assert_true(lp2p_peer_id_equal(&fid, &id));
    /* ...but only an Ed25519 key runs a node */
    lp2p_keypair *kp = NULL;
    int rc = lp2p_keyfile_load(path, &kp, err, sizeof(err));
    if (want_type == LP2P_KEY_ED25519) {
        assert_int_equal(rc, 0);
        assert_true(lp2p_peer_id_equal(lp2p_keypair_peer_id(kp), &id));
        lp2p_keypair_del(kp);
    } else {
        assert_int_equal(rc, LP2P_ERR_UNSUPPORTED);
    }
    unlink(path);
}

static void test_js_ed25519(void **state)
{
    check_js_key("ed25519", LP2P_KEY_ED25519);
}
static void test_js_secp256k1(void **state)
{
    check_js_key("secp256k1", LP2P_KEY_SECP256K1);
}
static void test_js_rsa(void **state)
{
    check_js_key("rsa", LP2P_KEY_RSA);
}

/* js-libp2p 5.1 encodes ECDSA public keys as a SEC1-like SEQUENCE (not the PKIX DER the
 * spec and go-libp2p use) and signs with raw r‖s (WebCrypto), not DER. We follow the spec:
 * js's public key is refused as malformed; its private key (standard SEC1) gives the PKIX
 * key, and js's raw signature does not verify against it. */
static void test_js_ecdsa_is_not_spec_encoding(void **state)
{
    static uint8_t pub[512], priv[512], msg[256], sig[256], derived[LP2P_PUBKEY_PB_ANY_MAX];
    size_t pn = fixture_bytes("ecdsa.public", pub, sizeof(pub));
    size_t kn = fixture_bytes("ecdsa.private", priv, sizeof(priv));
    size_t mn = fixture_bytes("ecdsa.msg", msg, sizeof(msg));
    size_t sn = fixture_bytes("ecdsa.sig", sig, sizeof(sig));
    assert_int_equal(sn, 64);
    assert_int_equal(lp2p_pubkey_validate(pub, pn, NULL), LP2P_ERR_DECODE);
    assert_int_equal(lp2p_pubkey_verify(pub, pn, msg, mn, sig, sn), LP2P_ERR_DECODE);
    size_t dn = sizeof(derived);
    lp2p_key_type type;
    assert_int_equal(lp2p_private_pb_public_key(priv, kn, derived, &dn, &type), 0);
    assert_int_equal(type, LP2P_KEY_ECDSA);
    assert_int_equal(lp2p_pubkey_validate(derived, dn, NULL), 0);
    /* the same EC point: js's last 65 bytes (04 ‖ x ‖ y) end our PKIX encoding too */
    assert_memory_equal(derived + dn - 65, pub + pn - 65, 65);
    assert_int_equal(lp2p_pubkey_verify(derived, dn, msg, mn, sig, sn), LP2P_ERR_AUTH);
}

static void test_js_peer_record(void **state)
{
    static uint8_t env[2048];
    uint8_t a0[64], a1[64];
    size_t n = fixture_bytes("peer_record.env", env, sizeof(env));
    size_t l0 = fixture_bytes("peer_record.addr0", a0, sizeof(a0));
    size_t l1 = fixture_bytes("peer_record.addr1", a1, sizeof(a1));
    lp2p_peer_record r;
    assert_int_equal(lp2p_peer_record_open(env, n, &r), 0);
    char s[LP2P_PEER_ID_STR_MAX];
    assert_int_equal(lp2p_peer_id_to_string(&r.peer, s, sizeof(s)), 0);
    assert_string_equal(s, fixture("peer_record.peer"));
    assert_int_equal(r.seq, strtoull(fixture("peer_record.seq"), NULL, 10));
    assert_int_equal(r.naddrs, 2);
    assert_int_equal(r.addr_lens[0], l0);
    assert_memory_equal(r.addrs[0], a0, l0);
    assert_int_equal(r.addr_lens[1], l1);
    assert_memory_equal(r.addrs[1], a1, l1);
    lp2p_peer_record_free(&r);
    /* a flipped byte anywhere after the public key breaks it */
    for (size_t i = 38; i < n; i++) {
        env[i] ^= 0x04;
        assert_true(lp2p_peer_record_open(env, n, &r) < 0);
        env[i] ^= 0x04;
    }
}

static void test_js_voucher(void **state)
{
    static uint8_t env[2048];
    size_t n = fixture_bytes("voucher.env", env, sizeof(env));
    lp2p_peer_id relay, peer, want_peer;
    assert_int_equal(lp2p_peer_id_parse(fixture("voucher.relay"), &relay), 0);
    assert_int_equal(lp2p_peer_id_parse(fixture("voucher.peer"), &want_peer), 0);
    uint64_t exp = 0;
    assert_int_equal(lp2p_voucher_open(env, n, &relay, &peer, &exp), 0);
    assert_true(lp2p_peer_id_equal(&peer, &want_peer));
    assert_int_equal(exp, strtoull(fixture("voucher.expiration"), NULL, 10));
    assert_int_equal(lp2p_voucher_open(env, n, &want_peer, &peer, &exp), LP2P_ERR_PEER_ID_MISMATCH);
}

/* Spec vectors: every private key gives exactly the spec's public key bytes. */
static void test_spec_private_to_public(void **state)
{
    const char *types[] = {"ed25519", "secp256k1", "ecdsa", "rsa"};
    const lp2p_key_type want[] = {LP2P_KEY_ED25519, LP2P_KEY_SECP256K1, LP2P_KEY_ECDSA,
                                  LP2P_KEY_RSA};
    static uint8_t priv[8192], hex[8192], pub[4096], derived[LP2P_PUBKEY_PB_ANY_MAX];
    for (size_t i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s_private.key", types[i]);
        size_t kn = file_bytes(name, priv, sizeof(priv));
        snprintf(name, sizeof(name), "%s_public.hex", types[i]);
        size_t hn = file_bytes(name, hex, sizeof(hex) - 1);
        hex[hn] = 0;
        size_t pn = 0;
        for (size_t j = 0; j + 1 < hn && hex[j] != '\n'; j += 2) {
            unsigned v;
            assert_int_equal(sscanf((const char *)hex + j, "%2x", &v), 1);
            pub[pn++] = (uint8_t)v;
        }
        size_t dn = sizeof(derived);
        lp2p_key_type type;
        assert_int_equal(lp2p_private_pb_public_key(priv, kn, derived, &dn, &type), 0);
        assert_int_equal(type, want[i]);
        assert_int_equal(dn, pn);
        assert_memory_equal(derived, pub, pn);
        /* too small an output */
        dn = 10;
        assert_int_equal(lp2p_private_pb_public_key(priv, kn, derived, &dn, &type),
                         LP2P_ERR_TOO_LARGE);
    }
    /* secp256k1 scalars 0 and >= n are not keys */
    uint8_t k1[36] = {0x08, 0x02, 0x12, 0x20};
    size_t dn = sizeof(derived);
    assert_int_equal(lp2p_private_pb_public_key(k1, sizeof(k1), derived, &dn, NULL),
                     LP2P_ERR_DECODE);
    memset(k1 + 4, 0xff, 32);
    assert_int_equal(lp2p_private_pb_public_key(k1, sizeof(k1), derived, &dn, NULL),
                     LP2P_ERR_DECODE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_js_ed25519),
        cmocka_unit_test(test_js_secp256k1),
        cmocka_unit_test(test_js_rsa),
        cmocka_unit_test(test_js_ecdsa_is_not_spec_encoding),
        cmocka_unit_test(test_js_peer_record),
        cmocka_unit_test(test_js_voucher),
        cmocka_unit_test(test_spec_private_to_public),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
