/* Identify: round trip of every field through the stream reader, merge and push rules,
 * signed peer record handling, size limits and malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "lp2p/identity.h"
#include "proto/identify.h"
#include "util/uvarint.h"

#include "pair/test_trace.h"

/* /ip4/198.51.100.<n>/tcp/4001 as binary multiaddr: 04 c6 33 64 n 06 0f a1 */
static void ma_ip4_tcp(uint8_t out[8], uint8_t n)
{
    const uint8_t tmpl[] = {0x04, 0xc6, 0x33, 0x64, 0x00, 0x06, 0x0f, 0xa1};
    memcpy(out, tmpl, 8);
    out[4] = n;
}

/* A peer record signed by kp, seq, carrying /ip4/198.51.100.<n>/tcp/4001 (caller frees). */
static void seal_one(const lp2p_keypair *kp, uint64_t seq, uint8_t n, uint8_t **record, size_t *len)
{
    uint8_t a[8];
    ma_ip4_tcp(a, n);
    const uint8_t *raddrs[] = {a};
    const size_t rlens[] = {8};
    assert_int_equal(lp2p_peer_record_seal(kp, seq, raddrs, rlens, 1, record, len), 0);
}

typedef struct fixture {
    lp2p_keypair *kp;
    lp2p_keypair *other;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(lp2p_keypair_generate(&f->kp), 0);
    assert_int_equal(lp2p_keypair_generate(&f->other), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    lp2p_keypair_del(f->kp);
    lp2p_keypair_del(f->other);
    free(f);
    return 0;
}

/* Feeds bytes through a reader in pieces of `step` and finishes against `remote`. */
static int read_all(const uint8_t *p, size_t n, size_t step, const lp2p_peer_id *remote,
                    lp2p_identify_info *out)
{
    lp2p_identify_reader r;
    lp2p_identify_reader_init(&r, 1000, 0);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += step)
        rc = lp2p_identify_reader_recv(&r, p + i, n - i < step ? n - i : step, 1000);
    if (rc == 0)
        rc = lp2p_identify_reader_finish(&r, remote, out);
    lp2p_identify_reader_free(&r);
    return rc;
}

static void test_roundtrip_every_field(void **state)
{
    fixture *f = *state;
    size_t pklen;
    const uint8_t *pk = lp2p_keypair_pubkey(f->kp, &pklen);
    uint8_t a1[8], a2[8], rec1[8], obs[8];
    ma_ip4_tcp(a1, 1);
    ma_ip4_tcp(a2, 2);
    ma_ip4_tcp(rec1, 9);
    ma_ip4_tcp(obs, 77);

    /* The signed record carries a different address than listenAddrs: it must win. */
    const uint8_t *raddrs[] = {rec1};
    const size_t rlens[] = {8};
    uint8_t *record;
    size_t record_len;
    assert_int_equal(lp2p_peer_record_seal(f->kp, 42, raddrs, rlens, 1, &record, &record_len), 0);

    uint8_t *addrs[] = {a1, a2};
    size_t alens[] = {8, 8};
    char *protos[] = {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/libp2p/dcutr"};
    lp2p_identify_info in = {
        .public_key = (uint8_t *)pk,
        .public_key_len = pklen,
        .listen_addrs = addrs,
        .listen_addr_lens = alens,
        .n_listen_addrs = 2,
        .protocols = protos,
        .n_protocols = 3,
        .observed_addr = obs,
        .observed_addr_len = 8,
        .protocol_version = "ipfs/0.1.0",
        .agent_version = "kaspa-holepunch/0.1.0",
        .signed_peer_record = record,
        .signed_peer_record_len = record_len,
    };
    lp2p_buf wire;
    lp2p_buf_init(&wire);
    size_t dropped = 99;
    int dropped_rec = 99;
    assert_int_equal(lp2p_identify_encode(&in, &wire, &dropped, &dropped_rec, NULL), 0);
    assert_int_equal(dropped, 0);
    assert_int_equal(dropped_rec, 0);

    /* The prefix is the uvarint length of the rest. */
    const uint8_t *p = lp2p_buf_head(&wire), *end = p + lp2p_buf_size(&wire);
    uint64_t n;
    assert_int_equal(lp2p_uvarint_decode(&p, end, &n), 0);
    assert_int_equal(n, (uint64_t)(end - p));

    lp2p_identify_info out;
    assert_int_equal(
        read_all(lp2p_buf_head(&wire), lp2p_buf_size(&wire), 1, lp2p_keypair_peer_id(f->kp), &out),
        0);
    assert_int_equal(out.fields, LP2P_IDF_PUBLIC_KEY | LP2P_IDF_LISTEN_ADDRS | LP2P_IDF_PROTOCOLS |
                                     LP2P_IDF_OBSERVED_ADDR | LP2P_IDF_PROTOCOL_VERSION |
                                     LP2P_IDF_AGENT_VERSION | LP2P_IDF_SIGNED_RECORD);
    assert_int_equal(out.public_key_len, pklen);
    assert_memory_equal(out.public_key, pk, pklen);
    assert_int_equal(out.n_protocols, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(out.protocols[i], protos[i]);
    assert_int_equal(out.observed_addr_len, 8);
    assert_memory_equal(out.observed_addr, obs, 8);
    assert_string_equal(out.protocol_version, "ipfs/0.1.0");
    assert_string_equal(out.agent_version, "kaspa-holepunch/0.1.0");
    assert_int_equal(out.signed_peer_record_len, record_len);
    assert_memory_equal(out.signed_peer_record, record, record_len);
    assert_int_equal(out.record_verified, 1);
    assert_int_equal(out.record_seq, 42);
    assert_int_equal(out.n_listen_addrs, 1);
    assert_int_equal(out.listen_addr_lens[0], 8);
    assert_memory_equal(out.listen_addrs[0], rec1, 8);
    lp2p_identify_info_free(&out);

    /* The same bytes in one piece give the same result. */
    assert_int_equal(read_all(lp2p_buf_head(&wire), lp2p_buf_size(&wire), 1 << 20,
                              lp2p_keypair_peer_id(f->kp), &out),
                     0);
    assert_int_equal(out.record_verified, 1);
    lp2p_identify_info_free(&out);
    free(record);
    lp2p_buf_free(&wire);
}

static void test_key_of_another_peer_is_rejected(void **state)
{
    fixture *f = *state;
    size_t pklen;
    const uint8_t *pk = lp2p_keypair_pubkey(f->other, &pklen);
    lp2p_identify_info in = {.public_key = (uint8_t *)pk, .public_key_len = pklen};
    lp2p_buf wire;
    lp2p_buf_init(&wire);
    assert_int_equal(lp2p_identify_encode(&in, &wire, NULL, NULL, NULL), 0);
    lp2p_identify_info out;
    assert_int_equal(
        read_all(lp2p_buf_head(&wire), lp2p_buf_size(&wire), 7, lp2p_keypair_peer_id(f->kp), &out),
        LP2P_ERR_PEER_ID_MISMATCH);
    assert_true(lp2p_err_is_fatal(LP2P_ERR_PEER_ID_MISMATCH));
    lp2p_buf_free(&wire);
}

static void test_record_of_another_peer_is_dropped(void **state)
{
    fixture *f = *state;
    uint8_t a1[8];
    ma_ip4_tcp(a1, 1);
    uint8_t *record;
    size_t record_len;
    seal_one(f->other, 1, 66, &record, &record_len);
    uint8_t *addrs[] = {a1};
    size_t alens[] = {8};
    lp2p_identify_info in = {.listen_addrs = addrs,
                             .listen_addr_lens = alens,
                             .n_listen_addrs = 1,
                             .signed_peer_record = record,
                             .signed_peer_record_len = record_len};
    lp2p_buf wire;
    lp2p_buf_init(&wire);
    assert_int_equal(lp2p_identify_encode(&in, &wire, NULL, NULL, NULL), 0);
    lp2p_identify_info out;
    assert_int_equal(read_all(lp2p_buf_head(&wire), lp2p_buf_size(&wire), 100,
                              lp2p_keypair_peer_id(f->kp), &out),
                     0);
    assert_int_equal(out.record_verified, 0);
    assert_null(out.signed_peer_record);
    assert_int_equal(out.n_listen_addrs, 1);
    assert_memory_equal(out.listen_addrs[0], a1, 8);
    lp2p_identify_info_free(&out);

    /* A corrupted record (flipped signature byte) is dropped the same way. */
    record[record_len - 1] ^= 1;
    lp2p_buf_clear(&wire);
    assert_int_equal(lp2p_identify_encode(&in, &wire, NULL, NULL, NULL), 0);
    assert_int_equal(read_all(lp2p_buf_head(&wire), lp2p_buf_size(&wire), 100,
                              lp2p_keypair_peer_id(f->kp), &out),
                     0);
    assert_int_equal(out.record_verified, 0);
    assert_null(out.signed_peer_record);
    lp2p_identify_info_free(&out);
    free(record);
    lp2p_buf_free(&wire);
}

/* go-libp2p (identify/id.go, legacyIDSize = 2 KiB): an identify bigger than that goes out as
 * two messages, everything but the signed peer record first, then a message carrying only
 * the record. The reader must merge both and verify the record from the second message; its
 * addresses then win over the unsigned listenAddrs of the first. */
static void test_record_in_second_message_is_verified(void **state)
{
    fixture *f = *state;
    uint8_t a1[8];
    ma_ip4_tcp(a1, 1);
    uint8_t *record;
    size_t record_len;
    seal_one(f->kp, 7, 66, &record, &record_len);
    enum { NPROTO = 60 };
    char names[NPROTO][64], *protos[NPROTO];
    for (int i = 0; i < NPROTO; i++) {
        snprintf(names[i], sizeof(names[i]), "/kaspa-holepunch/test/padding-protocol-%03d/1.0.0",
                 i);
        protos[i] = names[i];
    }
    uint8_t *addrs[] = {a1};
    size_t alens[] = {8};
    lp2p_identify_info first = {.protocols = protos,
                                .n_protocols = NPROTO,
                                .agent_version = "go-libp2p-like",
                                .listen_addrs = addrs,
                                .listen_addr_lens = alens,
                                .n_listen_addrs = 1};
    lp2p_identify_info second = {.signed_peer_record = record,
                                 .signed_peer_record_len = record_len};
    lp2p_buf wire;
    lp2p_buf_init(&wire);
    assert_int_equal(lp2p_identify_encode(&first, &wire, NULL, NULL, NULL), 0);
    size_t first_len = lp2p_buf_size(&wire);
    assert_true(first_len > 2048); /* big enough that go would split it */
    assert_int_equal(lp2p_identify_encode(&second, &wire, NULL, NULL, NULL), 0);
    lp2p_identify_info out;
    /* in odd pieces, so a piece boundary falls inside each message */
    assert_int_equal(read_all(lp2p_buf_head(&wire), lp2p_buf_size(&wire), 333,
                              lp2p_keypair_peer_id(f->kp), &out),
                     0);
    assert_int_equal(out.n_protocols, NPROTO);
    assert_string_equal(out.protocols[NPROTO - 1], names[NPROTO - 1]);
    assert_int_equal(out.record_verified, 1);
    assert_int_equal(out.record_seq, 7);
    assert_non_null(out.signed_peer_record);
    /* the signed address (198.51.100.66), not the unsigned one of the first message */
    assert_int_equal(out.n_listen_addrs, 1);
    uint8_t a66[8];
    ma_ip4_tcp(a66, 66);
    assert_memory_equal(out.listen_addrs[0], a66, 8);
    lp2p_identify_info_free(&out);
    free(record);
    lp2p_buf_free(&wire);
}

static void test_messages_merge_until_eof(void **state)
{
    fixture *f = *state;
    uint8_t a1[8], a2[8];
    ma_ip4_tcp(a1, 1);
    ma_ip4_tcp(a2, 2);
    char *p1[] = {"/a", "/b"};
    char *p2[] = {"/c"};
    uint8_t *ad1[] = {a1}, *ad2[] = {a2};
    size_t l[] = {8};
    lp2p_identify_info m1 = {.protocols = p1,
                             .n_protocols = 2,
                             .agent_version = "first",
                             .listen_addrs = ad1,
                             .listen_addr_lens = l,
                             .n_listen_addrs = 1};
    lp2p_identify_info m2 = {.protocols = p2,
                             .n_protocols = 1,
                             .agent_version = "second",
                             .listen_addrs = ad2,
                             .listen_addr_lens = l,
                             .n_listen_addrs = 1};
    lp2p_buf wire;
    lp2p_buf_init(&wire);
    assert_int_equal(lp2p_identify_encode(&m1, &wire, NULL, NULL, NULL), 0);
    assert_int_equal(lp2p_identify_encode(&m2, &wire, NULL, NULL, NULL), 0);
    lp2p_identify_info out;
    assert_int_equal(
        read_all(lp2p_buf_head(&wire), lp2p_buf_size(&wire), 3, lp2p_keypair_peer_id(f->kp), &out),
        0);
    /* repeated fields append, singular fields: the later one wins */
    assert_int_equal(out.n_protocols, 3);
    assert_string_equal(out.protocols[0], "/a");
    assert_string_equal(out.protocols[2], "/c");
    assert_string_equal(out.agent_version, "second");
    assert_int_equal(out.n_listen_addrs, 2);
    assert_memory_equal(out.listen_addrs[1], a2, 8);
    assert_null(out.public_key);
    assert_int_equal(out.fields & LP2P_IDF_PUBLIC_KEY, 0);
    lp2p_identify_info_free(&out);
    lp2p_buf_free(&wire);
}

static void test_push_replaces_only_carried_fields(void **state)
{
    fixture *f = *state;
    char *p1[] = {"/old1", "/old2"};
    char *p2[] = {"/new"};
    lp2p_identify_info full = {
        .protocols = p1, .n_protocols = 2, .agent_version = "agent", .protocol_version = "pv"};
    lp2p_identify_info partial = {.protocols = p2, .n_protocols = 1};
    lp2p_buf w1, w2;
    lp2p_buf_init(&w1);
    lp2p_buf_init(&w2);
    assert_int_equal(lp2p_identify_encode(&full, &w1, NULL, NULL, NULL), 0);
    assert_int_equal(lp2p_identify_encode(&partial, &w2, NULL, NULL, NULL), 0);
    lp2p_identify_info known, push;
    assert_int_equal(
        read_all(lp2p_buf_head(&w1), lp2p_buf_size(&w1), 64, lp2p_keypair_peer_id(f->kp), &known),
        0);
    assert_int_equal(
        read_all(lp2p_buf_head(&w2), lp2p_buf_size(&w2), 64, lp2p_keypair_peer_id(f->kp), &push),
        0);
    assert_int_equal(push.fields, LP2P_IDF_PROTOCOLS);
    lp2p_identify_apply_push(&known, &push);
    assert_int_equal(known.n_protocols, 1);
    assert_string_equal(known.protocols[0], "/new");
    assert_string_equal(known.agent_version, "agent");
    assert_string_equal(known.protocol_version, "pv");
    assert_int_equal(push.n_protocols, 0);
    lp2p_identify_info_free(&push);
    lp2p_identify_info_free(&known);
    lp2p_buf_free(&w1);
    lp2p_buf_free(&w2);
}

/* Encodes info with a record of `seq` over address n, reads it back verified. */
static void read_with_record(fixture *f, uint64_t seq, uint8_t n, lp2p_identify_info *out)
{
    uint8_t *record;
    size_t record_len;
    seal_one(f->kp, seq, n, &record, &record_len);
    lp2p_identify_info in = {.signed_peer_record = record, .signed_peer_record_len = record_len};
    lp2p_buf w;
    lp2p_buf_init(&w);
    assert_int_equal(lp2p_identify_encode(&in, &w, NULL, NULL, NULL), 0);
    assert_int_equal(
        read_all(lp2p_buf_head(&w), lp2p_buf_size(&w), 50, lp2p_keypair_peer_id(f->kp), out), 0);
    assert_int_equal(out->record_verified, 1);
    assert_int_equal(out->record_seq, seq);
    lp2p_buf_free(&w);
    free(record);
}

static void test_push_with_older_record_keeps_newer_addrs(void **state)
{
    fixture *f = *state;
    lp2p_identify_info known, push;
    uint8_t a20[8], a30[8];
    ma_ip4_tcp(a20, 20);
    ma_ip4_tcp(a30, 30);
    read_with_record(f, 20, 20, &known);
    read_with_record(f, 10, 10, &push); /* stale */
    lp2p_identify_apply_push(&known, &push);
    assert_int_equal(known.record_seq, 20);
    assert_int_equal(known.n_listen_addrs, 1);
    assert_memory_equal(known.listen_addrs[0], a20, 8);
    lp2p_identify_info_free(&push);
    read_with_record(f, 30, 30, &push); /* newer */
    lp2p_identify_apply_push(&known, &push);
    assert_int_equal(known.record_seq, 30);
    assert_memory_equal(known.listen_addrs[0], a30, 8);
    lp2p_identify_info_free(&push);
    lp2p_identify_info_free(&known);
}

static void test_encode_trims_to_4k(void **state)
{
    enum { N = 300 };
    uint8_t store[N][40];
    uint8_t *addrs[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        memset(store[i], i & 0xff, sizeof(store[i]));
        addrs[i] = store[i];
        lens[i] = sizeof(store[i]);
    }
    lp2p_identify_info in = {
        .listen_addrs = addrs, .listen_addr_lens = lens, .n_listen_addrs = N, .agent_version = "a"};
    lp2p_buf wire;
    lp2p_buf_init(&wire);
    size_t dropped = 0;
    int drec = 0;
    assert_int_equal(lp2p_identify_encode(&in, &wire, &dropped, &drec, NULL), 0);
    assert_true(dropped > 0);
    assert_int_equal(drec, 0);
    const uint8_t *p = lp2p_buf_head(&wire), *end = p + lp2p_buf_size(&wire);
    uint64_t n;
    assert_int_equal(lp2p_uvarint_decode(&p, end, &n), 0);
    assert_true(n <= LP2P_IDENTIFY_SEND_MAX);
    /* each address costs 42 bytes on the wire (tag, length, 40 bytes) */
    assert_true(n + 42 > LP2P_IDENTIFY_SEND_MAX);

    lp2p_identify_info out;
    lp2p_identify_info_init(&out);
    assert_int_equal(lp2p_identify_decode(p, (size_t)n, &out), 0);
    assert_int_equal(out.n_listen_addrs, N - dropped);
    /* the first (preferred) addresses are the ones kept */
    assert_memory_equal(out.listen_addrs[0], store[0], 40);
    assert_memory_equal(out.listen_addrs[out.n_listen_addrs - 1], store[N - dropped - 1], 40);
    lp2p_identify_info_free(&out);

    /* Protocols alone beyond 4 KiB cannot be trimmed. */
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    char *protos[] = {big};
    lp2p_identify_info huge = {.protocols = protos, .n_protocols = 1};
    lp2p_buf_clear(&wire);
    assert_int_equal(lp2p_identify_encode(&huge, &wire, NULL, NULL, NULL), LP2P_ERR_TOO_LARGE);
    assert_int_equal(lp2p_buf_size(&wire), 0);
    lp2p_buf_free(&wire);
}

static void test_oversized_and_malformed(void **state)
{
    fixture *f = *state;
    const lp2p_peer_id *me = lp2p_keypair_peer_id(f->kp);
    lp2p_identify_reader r;
    lp2p_identify_info out;

    /* A prefix announcing 8193 bytes is refused as soon as the prefix is complete. */
    uint8_t pre[LP2P_UVARINT_MAX];
    size_t pn = lp2p_uvarint_encode(LP2P_IDENTIFY_RECV_MAX + 1, pre);
    lp2p_identify_reader_init(&r, 0, 0);
    assert_int_equal(lp2p_identify_reader_recv(&r, pre, pn, 0), LP2P_ERR_TOO_LARGE);
    assert_int_equal(lp2p_identify_reader_recv(&r, pre, 1, 0), LP2P_ERR_STATE);
    lp2p_identify_reader_free(&r);

    /* Exactly 8192 bytes of valid protobuf (one long agentVersion) is accepted. */
    lp2p_buf wire;
    lp2p_buf_init(&wire);
    uint8_t *msg = malloc(LP2P_IDENTIFY_RECV_MAX);
    size_t slen = LP2P_IDENTIFY_RECV_MAX - 3; /* tag 0x32 + 2-byte length */
    msg[0] = 0x32;
    msg[1] = (uint8_t)(0x80 | (slen & 0x7f));
    msg[2] = (uint8_t)(slen >> 7);
    memset(msg + 3, 'a', slen);
    assert_int_equal(lp2p_buf_append_uvarint(&wire, LP2P_IDENTIFY_RECV_MAX), 0);
    assert_int_equal(lp2p_buf_append(&wire, msg, LP2P_IDENTIFY_RECV_MAX), 0);
    assert_int_equal(read_all(lp2p_buf_head(&wire), lp2p_buf_size(&wire), 1000, me, &out), 0);
    assert_int_equal(strlen(out.agent_version), slen);
    lp2p_identify_info_free(&out);
    free(msg);

    /* Field 1 (bytes) announcing more bytes than the message holds. */
    const uint8_t bad_pb[] = {0x04, 0x0a, 0x10, 0x01, 0x02};
    assert_int_equal(read_all(bad_pb, sizeof(bad_pb), 2, me, &out), LP2P_ERR_DECODE);
    /* Wrong wire type for field 3 (string as varint). */
    const uint8_t bad_type[] = {0x02, 0x18, 0x01};
    assert_int_equal(read_all(bad_type, sizeof(bad_type), 1, me, &out), LP2P_ERR_DECODE);
    /* Non-minimal length prefix. */
    const uint8_t bad_prefix[] = {0x80, 0x00};
    assert_int_equal(read_all(bad_prefix, sizeof(bad_prefix), 1, me, &out), LP2P_ERR_DECODE);
    /* EOF inside a message, and EOF before any message. */
    const uint8_t truncated[] = {0x05, 0x32, 0x03, 'a'};
    assert_int_equal(read_all(truncated, sizeof(truncated), 1, me, &out), LP2P_ERR_DECODE);
    assert_int_equal(read_all(NULL, 0, 1, me, &out), LP2P_ERR_DECODE);

    /* More than 10 (empty) messages. */
    uint8_t eleven[11] = {0};
    assert_int_equal(read_all(eleven, 10, 1, me, &out), 0);
    lp2p_identify_info_free(&out);
    assert_int_equal(read_all(eleven, 11, 1, me, &out), LP2P_ERR_LIMIT);
    lp2p_buf_free(&wire);
}

/* Bytes produced by js-libp2p's own encoder (@libp2p/identify pb, protons), which writes the
 * fields in declaration order 5, 6, 1, 2, 4, 3, 8 rather than tag order. */
static void test_decodes_js_libp2p_bytes(void **state)
{
    const uint8_t js[] = {0x2a, 0x01, 0x70, 0x32, 0x01, 0x78, 0x0a, 0x02, 0x08, 0x01,
                          0x12, 0x08, 0x04, 0xc6, 0x33, 0x64, 0x01, 0x06, 0x0f, 0xa1,
                          0x22, 0x08, 0x04, 0xc6, 0x33, 0x64, 0x01, 0x06, 0x0f, 0xa1,
                          0x1a, 0x02, 0x2f, 0x61, 0x42, 0x01, 0xaa};
    const uint8_t ma[] = {0x04, 0xc6, 0x33, 0x64, 0x01, 0x06, 0x0f, 0xa1};
    lp2p_identify_info out;
    lp2p_identify_info_init(&out);
    assert_int_equal(lp2p_identify_decode(js, sizeof(js), &out), 0);
    assert_string_equal(out.protocol_version, "p");
    assert_string_equal(out.agent_version, "x");
    assert_int_equal(out.public_key_len, 2);
    assert_memory_equal(out.public_key, "\x08\x01", 2);
    assert_int_equal(out.n_listen_addrs, 1);
    assert_memory_equal(out.listen_addrs[0], ma, sizeof(ma));
    assert_memory_equal(out.observed_addr, ma, sizeof(ma));
    assert_int_equal(out.n_protocols, 1);
    assert_string_equal(out.protocols[0], "/a");
    assert_int_equal(out.signed_peer_record_len, 1);
    assert_int_equal(out.signed_peer_record[0], 0xaa);
    lp2p_identify_info_free(&out);
}

/* Each refusal reaches the caller's trace sink (identify_svc logs it): the peer and why. */
static void test_rejections_are_traced(void **state)
{
    fixture *f = *state;
    char me[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_keypair_peer_id(f->kp), me, sizeof me);
    trec_log log;
    lp2p_trace t = trec_trace(&log);
    lp2p_buf wire;
    lp2p_buf_init(&wire);
    lp2p_identify_reader r;
    lp2p_identify_info out;

    /* a public key of another peer */
    size_t pklen;
    const uint8_t *pk = lp2p_keypair_pubkey(f->other, &pklen);
    lp2p_identify_info in = {.public_key = (uint8_t *)pk, .public_key_len = pklen};
    assert_int_equal(lp2p_identify_encode(&in, &wire, NULL, NULL, &t), 0);
    assert_int_equal(log.n, 0); /* nothing trimmed, nothing to say */
    lp2p_identify_reader_init(&r, 0, 0);
    r.trace = t;
    assert_int_equal(lp2p_identify_reader_recv(&r, lp2p_buf_head(&wire), lp2p_buf_size(&wire), 0),
                     0);
    assert_int_equal(lp2p_identify_reader_finish(&r, lp2p_keypair_peer_id(f->kp), &out),
                     LP2P_ERR_PEER_ID_MISMATCH);
    lp2p_identify_reader_free(&r);
    const trec *rec = trec_find(&log, "identify_key_mismatch");
    assert_int_equal(rec->level, LP2P_WARN);
    assert_string_equal(trec_str(rec, "peer"), me);
    assert_string_equal(trec_str(rec, "reason"), "key is not the peer's");

    /* a signed record of another peer: dropped, and said so */
    uint8_t *record;
    size_t record_len;
    seal_one(f->other, 1, 66, &record, &record_len);
    lp2p_identify_info with_rec = {.signed_peer_record = record,
                                   .signed_peer_record_len = record_len};
    lp2p_identify_info got;
    lp2p_identify_info_init(&got);
    lp2p_buf_clear(&wire);
    assert_int_equal(lp2p_identify_encode(&with_rec, &wire, NULL, NULL, NULL), 0);
    const uint8_t *p = lp2p_buf_head(&wire), *end = p + lp2p_buf_size(&wire);
    uint64_t n;
    assert_int_equal(lp2p_uvarint_decode(&p, end, &n), 0);
    assert_int_equal(lp2p_identify_decode(p, (size_t)n, &got), 0);
    log.n = 0;
    assert_int_equal(lp2p_identify_verify(&got, lp2p_keypair_peer_id(f->kp), &t), 0);
    rec = trec_find(&log, "identify_bad_record");
    assert_string_equal(trec_str(rec, "peer"), me);
    assert_string_equal(trec_str(rec, "reason"), "record of another peer");
    lp2p_identify_info_free(&got);
    free(record);

    /* an oversized frame */
    uint8_t pre[LP2P_UVARINT_MAX];
    size_t pn = lp2p_uvarint_encode(LP2P_IDENTIFY_RECV_MAX + 1, pre);
    log.n = 0;
    lp2p_identify_reader_init(&r, 0, 0);
    r.trace = t;
    assert_int_equal(lp2p_identify_reader_recv(&r, pre, pn, 0), LP2P_ERR_TOO_LARGE);
    lp2p_identify_reader_free(&r);
    rec = trec_find(&log, "identify_rejected");
    assert_string_equal(trec_str(rec, "err"), "TOO_LARGE");
    assert_true(strlen(trec_str(rec, "reason")) > 0);

    /* our own message trimmed to 4 KiB */
    enum { N = 300 };
    static uint8_t store[N][40];
    uint8_t *addrs[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        addrs[i] = store[i];
        lens[i] = sizeof(store[i]);
    }
    lp2p_identify_info big = {.listen_addrs = addrs, .listen_addr_lens = lens, .n_listen_addrs = N};
    size_t dropped = 0;
    log.n = 0;
    lp2p_buf_clear(&wire);
    assert_int_equal(lp2p_identify_encode(&big, &wire, &dropped, NULL, &t), 0);
    rec = trec_find(&log, "identify_trimmed");
    assert_int_equal(trec_u(rec, "dropped_addrs"), dropped);
    assert_int_equal(trec_u(rec, "dropped_record"), 0);
    lp2p_buf_free(&wire);
}

static void test_timeout(void **state)
{
    lp2p_identify_reader r;
    lp2p_identify_reader_init(&r, 1000, 0);
    assert_int_equal(lp2p_identify_reader_next_deadline(&r), 1000 + LP2P_IDENTIFY_TIMEOUT_MS);
    assert_int_equal(lp2p_identify_reader_tick(&r, 5999), 0);
    assert_int_equal(lp2p_identify_reader_tick(&r, 6000), LP2P_ERR_TIMEOUT);
    assert_int_equal(lp2p_identify_reader_next_deadline(&r), UINT64_MAX);
    lp2p_identify_reader_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_of_another_peer_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_of_another_peer_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejections_are_traced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messages_merge_until_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_in_second_message_is_verified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_replaces_only_carried_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_with_older_record_keeps_newer_addrs, setup,
                                        teardown),
        cmocka_unit_test(test_encode_trims_to_4k),
        cmocka_unit_test_setup_teardown(test_oversized_and_malformed, setup, teardown),
        cmocka_unit_test(test_decodes_js_libp2p_bytes),
        cmocka_unit_test(test_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
