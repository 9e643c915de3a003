/* Signed envelopes (RFC 0002), peer records (RFC 0003) and relay vouchers: the wire layout,
 * round trips, and every rejection (tampering, wrong domain, wrong type, wrong signer). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "lp2p/identity.h"

static lp2p_keypair *kp_a, *kp_b;

static int setup(void **state)
{
    return lp2p_keypair_generate(&kp_a) || lp2p_keypair_generate(&kp_b);
}

static int teardown(void **state)
{
    lp2p_keypair_del(kp_a);
    lp2p_keypair_del(kp_b);
    return 0;
}

/* Minimal protobuf reader for the test: finds field `tag` (length-delimited) in msg. */
static const uint8_t *pb_field(const uint8_t *msg, size_t n, unsigned tag, size_t *len)
{
    size_t i = 0;
    while (i < n) {
        unsigned key = msg[i++];
        uint64_t v = 0;
        int shift = 0;
        while (msg[i] & 0x80)
            v |= (uint64_t)(msg[i++] & 0x7f) << shift, shift += 7;
        v |= (uint64_t)msg[i++] << shift;
        if ((key & 7) == 2) {
            if ((key >> 3) == tag) {
                *len = (size_t)v;
                return msg + i;
            }
            i += (size_t)v;
        }
    }
    return NULL;
}

/* The envelope on the wire: 0a 24 <PublicKey 08 01 12 20 pk> 12 <type> 1a <payload>
 * 2a 40 <signature>, and the signature is over the RFC 0002 byte string, which we build
 * here by hand and check with the signer's key. */
static void test_envelope_wire_layout(void **state)
{
    const uint8_t payload[] = "hello";
    const uint8_t ptype[] = {0x03, 0x01};
    uint8_t *env;
    size_t n;
    assert_int_equal(lp2p_envelope_seal(kp_a, "libp2p-peer-record", ptype, 2, payload, 5, &env, &n),
                     0);
    size_t pklen;
    const uint8_t *pk = lp2p_keypair_pubkey(kp_a, &pklen);
    assert_int_equal(n, 2 + 36 + 2 + 2 + 2 + 5 + 2 + 64);
    assert_int_equal(env[0], 0x0a);
    assert_int_equal(env[1], 36);
    assert_memory_equal(env + 2, pk, 36);
    assert_memory_equal(env + 38, "\x12\x02\x03\x01\x1a\x05hello\x2a\x40", 11);
    size_t siglen = 0;
    const uint8_t *sig = pb_field(env, n, 5, &siglen);
    assert_non_null(sig);
    assert_int_equal(siglen, 64);
    uint8_t sb[64];
    size_t o = 0;
    sb[o++] = 18;
    memcpy(sb + o, "libp2p-peer-record", 18);
    o += 18;
    sb[o++] = 2;
    sb[o++] = 0x03;
    sb[o++] = 0x01;
    sb[o++] = 5;
    memcpy(sb + o, "hello", 5);
    o += 5;
    assert_int_equal(lp2p_pubkey_verify(pk, pklen, sb, o, sig, siglen), 0);
    free(env);
}

static void test_envelope_roundtrip_and_rejections(void **state)
{
    const uint8_t payload[] = {1, 2, 3, 4, 5, 6, 7, 8};
    const uint8_t ptype[] = {0x2f, 0x74};
    uint8_t *env;
    size_t n;
    assert_int_equal(lp2p_envelope_seal(kp_a, "test-domain", ptype, 2, payload, 8, &env, &n), 0);

    lp2p_envelope e;
    assert_int_equal(lp2p_envelope_open(env, n, "test-domain", ptype, 2, &e), 0);
    assert_int_equal(e.payload_len, 8);
    assert_memory_equal(e.payload, payload, 8);
    assert_int_equal(e.payload_type_len, 2);
    assert_memory_equal(e.payload_type, ptype, 2);
    assert_true(lp2p_peer_id_equal(&e.signer, lp2p_keypair_peer_id(kp_a)));
    size_t pklen;
    const uint8_t *pk = lp2p_keypair_pubkey(kp_a, &pklen);
    assert_int_equal(e.pubkey_len, pklen);
    assert_memory_equal(e.pubkey, pk, pklen);
    lp2p_envelope_free(&e);
    /* ptype NULL: any payload type */
    assert_int_equal(lp2p_envelope_open(env, n, "test-domain", NULL, 0, &e), 0);
    lp2p_envelope_free(&e);

    /* wrong domain: the signature does not cover it */
    assert_int_equal(lp2p_envelope_open(env, n, "test-domaiN", ptype, 2, &e), LP2P_ERR_AUTH);
    /* wrong expected payload type */
    assert_int_equal(lp2p_envelope_open(env, n, "test-domain", (const uint8_t *)"\x03\x01", 2, &e),
                     LP2P_ERR_UNSUPPORTED);
    /* every single-bit flip in the payload, type or signature is caught */
    size_t plen = 0;
    uint8_t *pp = (uint8_t *)pb_field(env, n, 3, &plen);
    assert_int_equal(plen, 8);
    for (size_t i = 0; i < plen * 8; i++) {
        pp[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(lp2p_envelope_open(env, n, "test-domain", ptype, 2, &e), LP2P_ERR_AUTH);
        pp[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    uint8_t *sp = (uint8_t *)pb_field(env, n, 5, &plen);
    sp[10] ^= 0x40;
    assert_int_equal(lp2p_envelope_open(env, n, "test-domain", ptype, 2, &e), LP2P_ERR_AUTH);
    sp[10] ^= 0x40;
    /* another key in place of the signer's: same length, signature no longer matches */
    const uint8_t *pkb = lp2p_keypair_pubkey(kp_b, &pklen);
    uint8_t saved[36];
    memcpy(saved, env + 2, 36);
    memcpy(env + 2, pkb, 36);
    assert_int_equal(lp2p_envelope_open(env, n, "test-domain", ptype, 2, &e), LP2P_ERR_AUTH);
    memcpy(env + 2, saved, 36);
    /* truncated or garbage */
    for (size_t cut = 0; cut < n; cut += 7)
        assert_true(lp2p_envelope_open(env, cut, "test-domain", ptype, 2, &e) < 0);
    assert_int_equal(lp2p_envelope_open((const uint8_t *)"\xff\xff\xff", 3, "d", NULL, 0, &e),
                     LP2P_ERR_DECODE);
    /* still intact after all the flips */
    assert_int_equal(lp2p_envelope_open(env, n, "test-domain", ptype, 2, &e), 0);
    lp2p_envelope_free(&e);
    free(env);
}

/* /ip4/127.0.0.1/tcp/4001 and /ip4/198.51.100.7/tcp/4242 as binary multiaddrs */
static const uint8_t MA1[] = {0x04, 127, 0, 0, 1, 0x06, 0x0f, 0xa1};
static const uint8_t MA2[] = {0x04, 198, 51, 100, 7, 0x06, 0x10, 0x92};

static void test_peer_record_roundtrip(void **state)
{
    const uint8_t *addrs[] = {MA1, MA2};
    const size_t lens[] = {sizeof(MA1), sizeof(MA2)};
    uint8_t *env;
    size_t n;
    assert_int_equal(lp2p_peer_record_seal(kp_a, 1764082501, addrs, lens, 2, &env, &n), 0);
    lp2p_peer_record r;
    assert_int_equal(lp2p_peer_record_open(env, n, &r), 0);
    assert_true(lp2p_peer_id_equal(&r.peer, lp2p_keypair_peer_id(kp_a)));
    assert_int_equal(r.seq, 1764082501);
    assert_int_equal(r.naddrs, 2);
    assert_int_equal(r.addr_lens[0], sizeof(MA1));
    assert_memory_equal(r.addrs[0], MA1, sizeof(MA1));
    assert_int_equal(r.addr_lens[1], sizeof(MA2));
    assert_memory_equal(r.addrs[1], MA2, sizeof(MA2));
    lp2p_peer_record_free(&r);

    /* the payload is the RFC 0003 PeerRecord: 0a <peer id> 10 <seq> 1a 0a 0a 08 <ma1> ... */
    lp2p_envelope e;
    assert_int_equal(
        lp2p_envelope_open(env, n, LP2P_DOMAIN_PEER_RECORD, LP2P_PAYLOAD_PEER_RECORD, 2, &e), 0);
    const lp2p_peer_id *id = lp2p_keypair_peer_id(kp_a);
    assert_int_equal(e.payload[0], 0x0a);
    assert_int_equal(e.payload[1], id->len);
    assert_memory_equal(e.payload + 2, id->bytes, id->len);
    assert_int_equal(e.payload[2 + id->len], 0x10);
    size_t ml;
    const uint8_t *ai = pb_field(e.payload, e.payload_len, 3, &ml);
    assert_non_null(ai);
    assert_int_equal(ml, 10);
    assert_memory_equal(ai, "\x0a\x08", 2);
    assert_memory_equal(ai + 2, MA1, sizeof(MA1));
    lp2p_envelope_free(&e);

    /* a peer record is not a voucher, and the reverse */
    assert_int_equal(lp2p_voucher_open(env, n, NULL, NULL, NULL), LP2P_ERR_UNSUPPORTED);
    free(env);

    /* no addresses at all is a valid record */
    assert_int_equal(lp2p_peer_record_seal(kp_a, 7, NULL, NULL, 0, &env, &n), 0);
    assert_int_equal(lp2p_peer_record_open(env, n, &r), 0);
    assert_int_equal(r.naddrs, 0);
    assert_int_equal(r.seq, 7);
    lp2p_peer_record_free(&r);
    free(env);
}

/* A record about peer B signed by A is rejected (RFC 0003: peer_id must match the key). */
static void test_peer_record_wrong_peer(void **state)
{
    const lp2p_peer_id *idb = lp2p_keypair_peer_id(kp_b);
    uint8_t rec[64];
    size_t o = 0;
    rec[o++] = 0x0a;
    rec[o++] = idb->len;
    memcpy(rec + o, idb->bytes, idb->len);
    o += idb->len;
    rec[o++] = 0x10;
    rec[o++] = 0x05;
    uint8_t *env;
    size_t n;
    assert_int_equal(lp2p_envelope_seal(kp_a, LP2P_DOMAIN_PEER_RECORD, LP2P_PAYLOAD_PEER_RECORD, 2,
                                        rec, o, &env, &n),
                     0);
    lp2p_peer_record r;
    assert_int_equal(lp2p_peer_record_open(env, n, &r), LP2P_ERR_PEER_ID_MISMATCH);
    free(env);
    /* signed by B it is fine */
    assert_int_equal(lp2p_envelope_seal(kp_b, LP2P_DOMAIN_PEER_RECORD, LP2P_PAYLOAD_PEER_RECORD, 2,
                                        rec, o, &env, &n),
                     0);
    assert_int_equal(lp2p_peer_record_open(env, n, &r), 0);
    assert_int_equal(r.seq, 5);
    lp2p_peer_record_free(&r);
    free(env);
    /* the legacy RFC 0003 domain text is not what go/js/rust sign with: rejected */
    assert_int_equal(lp2p_envelope_seal(kp_b, "libp2p-routing-state", LP2P_PAYLOAD_PEER_RECORD, 2,
                                        rec, o, &env, &n),
                     0);
    assert_int_equal(lp2p_peer_record_open(env, n, &r), LP2P_ERR_AUTH);
    free(env);
    /* a payload that is not a PeerRecord */
    assert_int_equal(lp2p_envelope_seal(kp_b, LP2P_DOMAIN_PEER_RECORD, LP2P_PAYLOAD_PEER_RECORD, 2,
                                        (const uint8_t *)"\x0a\x05zz", 4, &env, &n),
                     0);
    assert_int_equal(lp2p_peer_record_open(env, n, &r), LP2P_ERR_DECODE);
    free(env);
}

static void test_voucher(void **state)
{
    const lp2p_peer_id *relay = lp2p_keypair_peer_id(kp_a);
    const lp2p_peer_id *peer = lp2p_keypair_peer_id(kp_b);
    uint8_t *env;
    size_t n;
    assert_int_equal(lp2p_voucher_seal(kp_a, peer, 1764086101, &env, &n), 0);
    lp2p_peer_id got;
    uint64_t exp = 0;
    assert_int_equal(lp2p_voucher_open(env, n, relay, &got, &exp), 0);
    assert_true(lp2p_peer_id_equal(&got, peer));
    assert_int_equal(exp, 1764086101);
    /* payload: Voucher {relay=1, peer=2, expiration=3} in field order */
    lp2p_envelope e;
    assert_int_equal(
        lp2p_envelope_open(env, n, LP2P_DOMAIN_RELAY_RSVP, LP2P_PAYLOAD_RELAY_VOUCHER, 2, &e), 0);
    assert_int_equal(e.payload[0], 0x0a);
    assert_memory_equal(e.payload + 2, relay->bytes, relay->len);
    assert_int_equal(e.payload[2 + relay->len], 0x12);
    assert_int_equal(e.payload[4 + relay->len + peer->len], 0x18);
    lp2p_envelope_free(&e);
    /* expecting a different relay */
    assert_int_equal(lp2p_voucher_open(env, n, peer, &got, &exp), LP2P_ERR_PEER_ID_MISMATCH);
    /* a voucher is not a peer record */
    lp2p_peer_record r;
    assert_int_equal(lp2p_peer_record_open(env, n, &r), LP2P_ERR_UNSUPPORTED);
    free(env);

    /* a voucher naming relay A but signed by B */
    uint8_t v[128];
    size_t o = 0;
    v[o++] = 0x0a;
    v[o++] = relay->len;
    memcpy(v + o, relay->bytes, relay->len);
    o += relay->len;
    v[o++] = 0x12;
    v[o++] = peer->len;
    memcpy(v + o, peer->bytes, peer->len);
    o += peer->len;
    v[o++] = 0x18;
    v[o++] = 0x01;
    assert_int_equal(lp2p_envelope_seal(kp_b, LP2P_DOMAIN_RELAY_RSVP, LP2P_PAYLOAD_RELAY_VOUCHER, 2,
                                        v, o, &env, &n),
                     0);
    assert_int_equal(lp2p_voucher_open(env, n, NULL, &got, &exp), LP2P_ERR_PEER_ID_MISMATCH);
    free(env);
    /* the same bytes signed by A pass */
    assert_int_equal(lp2p_envelope_seal(kp_a, LP2P_DOMAIN_RELAY_RSVP, LP2P_PAYLOAD_RELAY_VOUCHER, 2,
                                        v, o, &env, &n),
                     0);
    assert_int_equal(lp2p_voucher_open(env, n, relay, &got, &exp), 0);
    assert_int_equal(exp, 1);
    /* ... but not under the peer-record domain */
    free(env);
    assert_int_equal(lp2p_envelope_seal(kp_a, LP2P_DOMAIN_PEER_RECORD, LP2P_PAYLOAD_RELAY_VOUCHER,
                                        2, v, o, &env, &n),
                     0);
    assert_int_equal(lp2p_voucher_open(env, n, relay, &got, &exp), LP2P_ERR_AUTH);
    free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_wire_layout),
        cmocka_unit_test(test_envelope_roundtrip_and_rejections),
        cmocka_unit_test(test_peer_record_roundtrip),
        cmocka_unit_test(test_peer_record_wrong_peer),
        cmocka_unit_test(test_voucher),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
