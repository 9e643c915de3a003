/* A well-behaved host B (echo service) attacked by a raw TCP peer at every stage of the
 * upgrade and after it: not multistream, an oversized multistream line, a bad Noise
 * message, a truncated one, a Noise msg3 that does not decrypt, a transport frame that does
 * not decrypt, a Yamux header of version 1, data beyond the stream window, a SYN flood.
 * For each: B closes the offending connection, the log names the reason, and host A, which
 * was connected to B before the attack, still gets an echo round trip through B.
 * The raw peer speaks valid multistream + Noise + Yamux frames itself with the sans-IO
 * cores (see test_host_util.h), so it can then send exactly the bad bytes. */
#include "pair/test_host_util.h"

#include "proto/identify.h"

static host_rec A, B, C;
static lp2p_conn *g_ab; /* A's connection to B, made before each attack */
static lp2p_keypair *g_raw_kp;

static int setup(void **state)
{
    trio_setup(&A, &B, &C, 2000);
    assert_int_equal(lp2p_keypair_generate(&g_raw_kp), 0);
    g_ab = trio_connect(&A, &B);
    echo_round_trip(g_ab, "before");
    return 0;
}

static int teardown(void **state)
{
    trio_teardown(&A, &B, &C);
    lp2p_keypair_del(g_raw_kp);
    log_capture_stop(0);
    return 0;
}

/* After an attack: B dropped the raw peer, A's connection is untouched and works. */
static void good_peer_still_served(const char *what)
{
    assert_int_equal(A.disconnected, 0);
    assert_ptr_equal(A.conn, g_ab);
    echo_round_trip(g_ab, what);
}

/* Waits for B to drop p (EOF or reset on the raw socket). */
static void expect_dropped(raw_peer *p)
{
    assert_true(RUN_UNTIL(raw_gone(p), 5000));
}

/* Failures before the connection is ready: one `connection_failed` at the given stage whose
 * reason contains `reason`; and B never reported the peer connected. */
static void expect_failed_at(const char *stage, const char *reason)
{
    char st[64], re[160];
    snprintf(st, sizeof(st), "\"stage\":\"%s\"", stage);
    snprintf(re, sizeof(re), "\"reason\":\"%s", reason);
    int n = LOG_COUNT("connection_failed", st, re);
    if (n != 1)
        log_capture_stop(1);
    assert_int_equal(n, 1);
    assert_int_equal(B.connected, 1); /* only A */
}

/* ---- before and inside multistream ------------------------------------------------------- */

static void test_not_multistream(void **state)
{
    static raw_peer p;
    raw_connect(&p, B.port);
    /* 'G' reads as a length prefix of 71: send more than that so the "line" is complete
     * and visibly not a multistream message (a shorter one would just be awaited) */
    const char *http = "GET / HTTP/1.1\r\nHost: b.example\r\nUser-Agent: curl/8.0\r\n"
                       "Accept: */*\r\nConnection: close\r\n\r\n";
    raw_send(&p, http, strlen(http));
    expect_dropped(&p);
    expect_failed_at("multistream", "security negotiation failed");
    raw_close(&p);
    good_peer_still_served("after http");
}

static void test_oversized_multistream_line(void **state)
{
    static raw_peer p;
    raw_connect(&p, B.port);
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(lp2p_mss_write_line(&b, LP2P_MSS_PROTOCOL), 0);
    /* a proposal line announcing 1100 bytes (limit 1024): refused on the prefix, before
     * the body, so only a few bytes of it are sent */
    lp2p_buf_append_uvarint(&b, 1100);
    lp2p_buf_append(&b, "/noise", 6);
    raw_send(&p, lp2p_buf_head(&b), lp2p_buf_size(&b));
    lp2p_buf_free(&b);
    expect_dropped(&p);
    expect_failed_at("multistream", "security negotiation failed");
    assert_int_equal(LOG_COUNT("connection_failed", "\"error\":\"TOO_LARGE\""), 1);
    raw_close(&p);
    good_peer_still_served("after a long line");
}

static void test_unknown_security_protocol_then_too_many(void **state)
{
    /* proposals B refuses get `na`; past the proposal limit B gives up */
    static raw_peer p;
    raw_connect(&p, B.port);
    lp2p_buf b;
    lp2p_buf_init(&b);
    assert_int_equal(lp2p_mss_write_line(&b, LP2P_MSS_PROTOCOL), 0);
    for (int i = 0; i < LP2P_MSS_MAX_PROPOSALS + 8; i++) {
        char pr[32];
        snprintf(pr, sizeof(pr), "/tls/%d", i);
        assert_int_equal(lp2p_mss_write_line(&b, pr), 0);
    }
    raw_send(&p, lp2p_buf_head(&b), lp2p_buf_size(&b));
    lp2p_buf_free(&b);
    expect_dropped(&p);
    /* B answered: its header, then `na` lines */
    lp2p_buf want;
    lp2p_buf_init(&want);
    lp2p_mss_write_line(&want, LP2P_MSS_PROTOCOL);
    lp2p_mss_write_line(&want, "na");
    assert_true(lp2p_buf_size(&p.in) >= lp2p_buf_size(&want));
    assert_memory_equal(lp2p_buf_head(&p.in), lp2p_buf_head(&want), lp2p_buf_size(&want));
    lp2p_buf_free(&want);
    expect_failed_at("multistream", "security negotiation failed");
    assert_int_equal(LOG_COUNT("connection_failed", "\"error\":\"LIMIT\""), 1);
    raw_close(&p);
    good_peer_still_served("after many proposals");
}

/* ---- inside Noise ------------------------------------------------------------------------ */

/* multistream header + /noise, as the host's lazy dialer sends it. */
static void send_noise_preamble(raw_peer *p)
{
    lp2p_buf b;
    lp2p_buf_init(&b);
    lp2p_mss_write_line(&b, LP2P_MSS_PROTOCOL);
    lp2p_mss_write_line(&b, LP2P_NOISE_PROTOCOL_ID);
    raw_send(p, lp2p_buf_head(&b), lp2p_buf_size(&b));
    lp2p_buf_free(&b);
}

static void test_noise_msg1_garbage(void **state)
{
    static raw_peer p;
    raw_connect(&p, B.port);
    send_noise_preamble(&p);
    /* msg1 must be exactly an ephemeral key (32 bytes); 5 bytes is malformed */
    const uint8_t bad[] = {0x00, 0x05, 'h', 'e', 'l', 'l', 'o'};
    raw_send(&p, bad, sizeof(bad));
    expect_dropped(&p);
    expect_failed_at("noise", "noise handshake failed");
    raw_close(&p);
    good_peer_still_served("after bad msg1");
}

static void test_noise_truncated_then_eof(void **state)
{
    static raw_peer p;
    raw_connect(&p, B.port);
    send_noise_preamble(&p);
    const uint8_t part[] = {0x00, 0x20, 1, 2, 3, 4, 5, 6, 7, 8}; /* 8 of 32 bytes */
    raw_send(&p, part, sizeof(part));
    run_for(50);
    assert_false(raw_gone(&p)); /* a partial frame is simply awaited */
    uv_shutdown_t sh;
    assert_int_equal(uv_shutdown(&sh, (uv_stream_t *)&p.tcp, NULL), 0);
    expect_dropped(&p);
    expect_failed_at("noise", "remote closed the connection");
    raw_close(&p);
    good_peer_still_served("after truncated msg1");
}

static void test_noise_truncated_times_out(void **state)
{
    static raw_peer p;
    raw_connect(&p, B.port);
    send_noise_preamble(&p);
    const uint8_t part[] = {0xff, 0xff, 1, 2, 3}; /* announces 65535 bytes, sends 3 */
    raw_send(&p, part, sizeof(part));
    uint64_t t0 = uv_now(&g_loop);
    expect_dropped(&p); /* B's handshake timeout is 2 s in this file */
    assert_true(uv_now(&g_loop) - t0 >= 1500);
    expect_failed_at("noise", "handshake timed out");
    raw_close(&p);
    good_peer_still_served("after a stalled handshake");
}

static void test_noise_msg3_garbage(void **state)
{
    static raw_peer p;
    raw_connect(&p, B.port);
    raw_secure_start(&p, g_raw_kp, NULL);
    /* stop our own core from answering: wait until B's msg2 arrived, then send garbage
     * in place of msg3 */
    p.secure = 0;
    assert_true(RUN_UNTIL(lp2p_buf_size(&p.in) > 100, 3000));
    uint8_t junk[2 + 120];
    junk[0] = 0;
    junk[1] = 120;
    for (size_t i = 2; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37);
    raw_send(&p, junk, sizeof(junk));
    expect_dropped(&p);
    expect_failed_at("noise", "noise handshake failed");
    assert_int_equal(LOG_COUNT("connection_failed", "\"error\":\"CRYPTO\""), 1);
    raw_close(&p);
    good_peer_still_served("after bad msg3");
}

/* ---- after a complete handshake ------------------------------------------------------------ */

/* The connection reached READY: B logs `disconnected` with a reason. */
static void expect_disconnected(const char *reason)
{
    char re[160];
    snprintf(re, sizeof(re), "\"reason\":\"%s", reason);
    assert_true(RUN_UNTIL(B.disconnected == 1, 3000));
    int n = LOG_COUNT("disconnected", re);
    if (n != 1)
        log_capture_stop(1);
    assert_int_equal(n, 1);
    assert_int_equal(B.connected, 2); /* A, then the raw peer */
}

/* 1 if the plaintext from B holds a Yamux GoAway with this code (walking whole frames). */
static int got_goaway(const raw_peer *p, uint32_t code)
{
    const uint8_t *d = lp2p_buf_head(&p->plain);
    size_t n = lp2p_buf_size(&p->plain), off = 0;
    while (off + LP2P_YAMUX_HDR_LEN <= n) {
        lp2p_yamux_hdr h;
        if (lp2p_yamux_hdr_decode(d + off, &h) != 0)
            return 0;
        off += LP2P_YAMUX_HDR_LEN;
        if (h.type == LP2P_YAMUX_GOAWAY && h.length == code)
            return 1;
        if (h.type == LP2P_YAMUX_DATA)
            off += h.length;
    }
    return 0;
}

static void test_noise_transport_frame_garbage(void **state)
{
    static raw_peer p;
    raw_secure_connect(&p, B.port, g_raw_kp);
    assert_true(RUN_UNTIL(B.connected == 2, 3000));
    const uint8_t junk[] = {0x00, 0x14, 1,  2,  3,  4,  5,  6,  7,  8,  9,
                            10,   11,   12, 13, 14, 15, 16, 17, 18, 19, 20};
    raw_send(&p, junk, sizeof(junk));
    expect_dropped(&p);
    expect_disconnected("noise decrypt failed");
    raw_close(&p);
    good_peer_still_served("after a bad transport frame");
}

static void test_yamux_bad_version(void **state)
{
    static raw_peer p;
    raw_secure_connect(&p, B.port, g_raw_kp);
    assert_true(RUN_UNTIL(B.connected == 2, 3000));
    uint8_t h[LP2P_YAMUX_HDR_LEN];
    yhdr(h, 1, LP2P_YAMUX_PING, LP2P_YAMUX_SYN, 0, 42);
    raw_send_plain(&p, h, sizeof(h));
    expect_dropped(&p);
    expect_disconnected("protocol violation");
    assert_int_equal(LOG_COUNT("yamux_fatal", "\"reason\":\"bad version\""), 1);
    /* B told us why before closing: GoAway(protocol error) */
    assert_true(got_goaway(&p, LP2P_YAMUX_GOAWAY_PROTOCOL));
    raw_close(&p);
    good_peer_still_served("after yamux v1");
}

static void test_yamux_window_violation(void **state)
{
    static raw_peer p;
    raw_secure_connect(&p, B.port, g_raw_kp);
    assert_true(RUN_UNTIL(B.connected == 2, 3000));
    /* open stream 1 with a Data frame one byte larger than the 256 KiB initial window */
    const uint32_t len = LP2P_YAMUX_INITIAL_WINDOW + 1;
    uint8_t *f = calloc(1, LP2P_YAMUX_HDR_LEN + len);
    assert_non_null(f);
    yhdr(f, 0, LP2P_YAMUX_DATA, LP2P_YAMUX_SYN, 1, len);
    lp2p_buf pre;
    lp2p_buf_init(&pre);
    lp2p_mss_write_line(&pre, LP2P_MSS_PROTOCOL);
    lp2p_mss_write_line(&pre, ECHO_PROTO);
    memcpy(f + LP2P_YAMUX_HDR_LEN, lp2p_buf_head(&pre), lp2p_buf_size(&pre));
    lp2p_buf_free(&pre);
    raw_send_plain(&p, f, LP2P_YAMUX_HDR_LEN + len);
    free(f);
    expect_dropped(&p);
    expect_disconnected("flow-control window violated");
    assert_int_equal(LOG_COUNT("yamux_fatal", "\"reason\":\"data beyond receive window\""), 1);
    assert_true(got_goaway(&p, LP2P_YAMUX_GOAWAY_PROTOCOL));
    assert_int_equal(g_echo_opened, 1); /* only A's stream in setup: nothing was echoed */
    raw_close(&p);
    good_peer_still_served("after a window violation");
}

static void test_yamux_syn_flood(void **state)
{
    static raw_peer p;
    raw_secure_connect(&p, B.port, g_raw_kp);
    assert_true(RUN_UNTIL(B.connected == 2, 3000));
    /* 1200 SYNs that never send a byte: B holds at most its accept backlog, refuses the
     * rest with RST, and calls it a flood once refusals pass max streams. */
    const int n = 1200;
    uint8_t *f = malloc((size_t)n * LP2P_YAMUX_HDR_LEN);
    assert_non_null(f);
    for (int i = 0; i < n; i++)
        yhdr(f + i * LP2P_YAMUX_HDR_LEN, 0, LP2P_YAMUX_WINDOW, LP2P_YAMUX_SYN,
             (uint32_t)(2 * i + 1), 0);
    raw_send_plain(&p, f, (size_t)n * LP2P_YAMUX_HDR_LEN);
    free(f);
    expect_dropped(&p);
    expect_disconnected("peer flooded us past a limit");
    assert_int_equal(LOG_COUNT("yamux_fatal", "\"reason\":\"stream flood\""), 1);
    assert_true(got_goaway(&p, LP2P_YAMUX_GOAWAY_PROTOCOL));
    raw_close(&p);
    good_peer_still_served("after a SYN flood");
}

/* Many streams within the limits, each opened, used and closed properly by the raw peer,
 * are not a flood: the connection stays up. */
static void test_yamux_many_proper_streams_are_fine(void **state)
{
    static raw_peer p;
    raw_secure_connect(&p, B.port, g_raw_kp);
    assert_true(RUN_UNTIL(B.connected == 2, 3000));
    lp2p_buf pre;
    lp2p_buf_init(&pre);
    lp2p_mss_write_line(&pre, LP2P_MSS_PROTOCOL);
    lp2p_mss_write_line(&pre, ECHO_PROTO);
    for (int round = 0; round < 4; round++) {
        lp2p_buf f;
        lp2p_buf_init(&f);
        for (int i = 0; i < 200; i++) {
            uint8_t h[LP2P_YAMUX_HDR_LEN];
            uint32_t id = (uint32_t)(2 * (round * 200 + i) + 1);
            /* SYN + multistream + "x" + FIN in one Data frame */
            yhdr(h, 0, LP2P_YAMUX_DATA, LP2P_YAMUX_SYN | LP2P_YAMUX_FIN, id,
                 (uint32_t)lp2p_buf_size(&pre) + 1);
            lp2p_buf_append(&f, h, sizeof(h));
            lp2p_buf_append(&f, lp2p_buf_head(&pre), lp2p_buf_size(&pre));
            lp2p_buf_append(&f, "x", 1);
        }
        raw_send_plain(&p, lp2p_buf_head(&f), lp2p_buf_size(&f));
        lp2p_buf_free(&f);
        int want = 1 + 200 * (round + 1);
        assert_true(RUN_UNTIL(g_echo_closed >= want - 1 || raw_gone(&p), 5000));
        assert_false(raw_gone(&p));
    }
    lp2p_buf_free(&pre);
    assert_int_equal(g_echo_opened, 1 + 800);
    assert_int_equal(B.disconnected, 0);
    raw_close(&p);
    good_peer_still_served("after 800 proper streams");
}

/* The first stream B opened towards us (SYN, even ID), or 0. */
static uint32_t b_opened_stream(const raw_peer *p)
{
    const uint8_t *d = lp2p_buf_head(&p->plain);
    size_t n = lp2p_buf_size(&p->plain), off = 0;
    while (off + LP2P_YAMUX_HDR_LEN <= n) {
        lp2p_yamux_hdr h;
        if (lp2p_yamux_hdr_decode(d + off, &h) != 0)
            return 0;
        off += LP2P_YAMUX_HDR_LEN;
        if ((h.flags & LP2P_YAMUX_SYN) && h.stream_id && h.stream_id % 2 == 0 &&
            h.type != LP2P_YAMUX_PING)
            return h.stream_id;
        if (h.type == LP2P_YAMUX_DATA)
            off += h.length;
    }
    return 0;
}

/* B asks us for identify at once; we answer with someone else's public key. That is a lie
 * on an authenticated connection: B closes the connection and says why. */
static void test_identify_with_another_key(void **state)
{
    static raw_peer p;
    raw_secure_connect(&p, B.port, g_raw_kp);
    assert_true(RUN_UNTIL(B.connected == 2, 3000));
    uint32_t sid = 0;
    assert_true(RUN_UNTIL((sid = b_opened_stream(&p)) != 0, 3000));

    lp2p_keypair *liar;
    assert_int_equal(lp2p_keypair_generate(&liar), 0);
    lp2p_identify_info info;
    lp2p_identify_info_init(&info);
    size_t pklen;
    info.public_key = (uint8_t *)lp2p_keypair_pubkey(liar, &pklen);
    info.public_key_len = pklen;
    info.agent_version = (char *)"liar/1.0";
    lp2p_buf body;
    lp2p_buf_init(&body);
    lp2p_mss_write_line(&body, LP2P_MSS_PROTOCOL);
    lp2p_mss_write_line(&body, LP2P_IDENTIFY_PROTO);
    assert_int_equal(lp2p_identify_encode(&info, &body, NULL, NULL, NULL), 0);
    lp2p_keypair_del(liar);

    uint8_t h[LP2P_YAMUX_HDR_LEN];
    yhdr(h, 0, LP2P_YAMUX_DATA, LP2P_YAMUX_ACK | LP2P_YAMUX_FIN, sid,
         (uint32_t)lp2p_buf_size(&body));
    lp2p_buf f;
    lp2p_buf_init(&f);
    lp2p_buf_append(&f, h, sizeof(h));
    lp2p_buf_append(&f, lp2p_buf_head(&body), lp2p_buf_size(&body));
    raw_send_plain(&p, lp2p_buf_head(&f), lp2p_buf_size(&f));
    lp2p_buf_free(&f);
    lp2p_buf_free(&body);

    expect_dropped(&p);
    expect_disconnected("identify: public key does not match");
    assert_int_equal(LOG_COUNT("identify_failed"), 1);
    assert_int_equal(B.identified, 1); /* only A's */
    raw_close(&p);
    good_peer_still_served("after an identify lie");
}

/* B asks us for identify; we answer with a length prefix announcing 1 MiB. B refuses it on
 * the prefix (identify messages are at most 8 KiB), logs identify_failed, resets that
 * stream only: the connection stays (a bad identify answer is not a lie about who we are). */
static void test_identify_oversized_answer(void **state)
{
    static raw_peer p;
    raw_secure_connect(&p, B.port, g_raw_kp);
    assert_true(RUN_UNTIL(B.connected == 2, 3000));
    uint32_t sid = 0;
    assert_true(RUN_UNTIL((sid = b_opened_stream(&p)) != 0, 3000));
    lp2p_buf body;
    lp2p_buf_init(&body);
    lp2p_mss_write_line(&body, LP2P_MSS_PROTOCOL);
    lp2p_mss_write_line(&body, LP2P_IDENTIFY_PROTO);
    lp2p_buf_append_uvarint(&body, 1u << 20);
    lp2p_buf_append(&body, "\x0a\x05hello", 7);
    uint8_t h[LP2P_YAMUX_HDR_LEN];
    yhdr(h, 0, LP2P_YAMUX_DATA, LP2P_YAMUX_ACK, sid, (uint32_t)lp2p_buf_size(&body));
    lp2p_buf f;
    lp2p_buf_init(&f);
    lp2p_buf_append(&f, h, sizeof(h));
    lp2p_buf_append(&f, lp2p_buf_head(&body), lp2p_buf_size(&body));
    raw_send_plain(&p, lp2p_buf_head(&f), lp2p_buf_size(&f));
    lp2p_buf_free(&f);
    lp2p_buf_free(&body);
    assert_true(RUN_UNTIL(LOG_COUNT("identify_failed") == 1, 3000));
    run_for(100);
    assert_false(raw_gone(&p));
    assert_int_equal(B.disconnected, 0);
    assert_int_equal(B.identified, 1); /* only A's */
    /* B reset the identify stream */
    const uint8_t *d = lp2p_buf_head(&p.plain);
    size_t n = lp2p_buf_size(&p.plain), off = 0;
    int rst = 0;
    while (off + LP2P_YAMUX_HDR_LEN <= n) {
        lp2p_yamux_hdr y;
        if (lp2p_yamux_hdr_decode(d + off, &y) != 0)
            break;
        off += LP2P_YAMUX_HDR_LEN;
        rst |= y.stream_id == sid && (y.flags & LP2P_YAMUX_RST);
        if (y.type == LP2P_YAMUX_DATA)
            off += y.length;
    }
    assert_true(rst);
    raw_close(&p);
    good_peer_still_served("after an oversized identify");
}

/* Window deltas B granted us on stream `sid` (WindowUpdate frames), walking all plaintext. */
static uint64_t window_granted(const raw_peer *p, uint32_t sid)
{
    const uint8_t *d = lp2p_buf_head(&p->plain);
    size_t n = lp2p_buf_size(&p->plain), off = 0;
    uint64_t total = 0;
    while (off + LP2P_YAMUX_HDR_LEN <= n) {
        lp2p_yamux_hdr h;
        if (lp2p_yamux_hdr_decode(d + off, &h) != 0)
            break;
        off += LP2P_YAMUX_HDR_LEN;
        if (h.type == LP2P_YAMUX_WINDOW && h.stream_id == sid)
            total += h.length;
        if (h.type == LP2P_YAMUX_DATA)
            off += h.length;
    }
    return total;
}

/* A peer that sends to the echo service as fast as its window allows and never reads the
 * echo (never grants B any window): B may buffer at most about its high-water mark of echo
 * output, then must stop granting us window. The connection stays up (this is not a
 * violation) and B keeps serving A. */
static void test_echo_reader_that_never_reads_is_bounded(void **state)
{
    static raw_peer p;
    raw_secure_connect(&p, B.port, g_raw_kp);
    assert_true(RUN_UNTIL(B.connected == 2, 3000));
    static uint8_t frame[LP2P_YAMUX_HDR_LEN + 65536];
    lp2p_buf pre;
    lp2p_buf_init(&pre);
    lp2p_mss_write_line(&pre, LP2P_MSS_PROTOCOL);
    lp2p_mss_write_line(&pre, ECHO_PROTO);
    yhdr(frame, 0, LP2P_YAMUX_DATA, LP2P_YAMUX_SYN, 1, (uint32_t)lp2p_buf_size(&pre));
    memcpy(frame + LP2P_YAMUX_HDR_LEN, lp2p_buf_head(&pre), lp2p_buf_size(&pre));
    raw_send_plain(&p, frame, LP2P_YAMUX_HDR_LEN + lp2p_buf_size(&pre));
    uint64_t sent = lp2p_buf_size(&pre);
    lp2p_buf_free(&pre);
    memset(frame + LP2P_YAMUX_HDR_LEN, 'z', 65536);
    for (int idle = 0; idle < 5;) {
        uint64_t allowed = LP2P_YAMUX_INITIAL_WINDOW + window_granted(&p, 1);
        if (sent < allowed) {
            uint32_t n = (uint32_t)(allowed - sent > 65536 ? 65536 : allowed - sent);
            yhdr(frame, 0, LP2P_YAMUX_DATA, 0, 1, n);
            raw_send_plain(&p, frame, LP2P_YAMUX_HDR_LEN + n);
            sent += n;
            idle = 0;
        } else {
            run_for(100); /* wait for more window; five quiet rounds = B stopped granting */
            idle++;
        }
        assert_false(raw_gone(&p));
        assert_true(sent < (64u << 20)); /* would mean B grants window without bound */
    }
    /* B took our initial window, its echo's worth of window (256 KiB to us), and its
     * high-water mark of queued output, and no more */
    fprintf(stderr, "B accepted %llu bytes from a peer that never reads\n",
            (unsigned long long)sent);
    assert_true(sent <= (3u << 20));
    assert_true(sent >= (1u << 20));
    assert_int_equal(B.disconnected, 0);
    good_peer_still_served("while a non-reader is parked");
    raw_close(&p);
    assert_true(RUN_UNTIL(B.disconnected == 1, 3000));
    good_peer_still_served("after the non-reader left");
}

/* The peer sends GoAway(normal) and keeps the TCP connection open. B logs it and opens no
 * new stream on that connection (a clear error, no crash). */
static void test_goaway_then_silence(void **state)
{
    static raw_peer p;
    raw_secure_connect(&p, B.port, g_raw_kp);
    assert_true(RUN_UNTIL(B.connected == 2, 3000));
    uint8_t h[LP2P_YAMUX_HDR_LEN];
    yhdr(h, 0, LP2P_YAMUX_GOAWAY, 0, 0, LP2P_YAMUX_GOAWAY_NORMAL);
    raw_send_plain(&p, h, sizeof(h));
    assert_true(RUN_UNTIL(LOG_COUNT("goaway") == 1, 3000));
    lp2p_conn *bc = lp2p_host_find_conn(B.host, lp2p_keypair_peer_id(g_raw_kp));
    static stream_rec r;
    sr_init(&r);
    int rc = bc ? lp2p_conn_open_stream(bc, ECHO_PROTO, &k_rec_cb, &r, &r.s) : LP2P_ERR_NOT_FOUND;
    fprintf(stderr, "after the peer's GoAway: find_conn %s, open_stream %s\n",
            bc ? "returns it" : "NULL", lp2p_err_name(rc));
    if (rc == 0) {
        assert_true(RUN_UNTIL(r.closed, 3000));
        fprintf(stderr, "  stream closed with %s\n", lp2p_err_name(r.err));
    }
    assert_true(rc < 0 || r.err < 0);
    sr_free(&r);
    raw_close(&p);
    good_peer_still_served("after a goaway");
}

/* Regression, fixed (src/host/host.c lp2p_host_dial / lp2p__host_find_conn, src/host/conn.c
 * y_on_goaway): after the peer's GoAway the connection can never carry a new stream
 * (open_stream returns LP2P_ERR_CLOSED), yet a dial to that peer is answered with it at
 * once (err 0), for as long as the peer keeps the TCP connection open. Fix: y_on_goaway
 * sets c->remote_goaway = 1, and both find_conn functions skip such connections, so the
 * dial makes a new connection (here: to a closed port, so it must fail with IO). */
static void test_regression_dial_answered_with_goaway_connection(void **state)
{
    static raw_peer p;
    raw_secure_connect(&p, B.port, g_raw_kp);
    assert_true(RUN_UNTIL(B.connected == 2, 3000));
    uint8_t h[LP2P_YAMUX_HDR_LEN];
    yhdr(h, 0, LP2P_YAMUX_GOAWAY, 0, 0, LP2P_YAMUX_GOAWAY_NORMAL);
    raw_send_plain(&p, h, sizeof(h));
    assert_true(RUN_UNTIL(LOG_COUNT("goaway") == 1, 3000));
    char addr[256], id[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_keypair_peer_id(g_raw_kp), id, sizeof(id));
    snprintf(addr, sizeof(addr), "/ip4/127.0.0.1/tcp/1/p2p/%s", id);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    int rc = lp2p_host_dial(B.host, addr, on_dial, &d);
    if (rc == 0)
        assert_true(RUN_UNTIL(d.done, 5000));
    fprintf(stderr, "dial after GoAway: rc %d, cb err %s, conn %p\n", rc, lp2p_err_name(d.err),
            (void *)d.conn);
    assert_true(rc < 0 || d.err < 0);
    raw_close(&p);
}

/* ---- dialer side ---------------------------------------------------------------------------- */

/* A dials B's address naming another peer: the Noise check fails on A's side, A's existing
 * connection to B is untouched. */
static void test_dial_key_mismatch_keeps_other_connection(void **state)
{
    host_start(&C, "C", 1, 0);
    char wrong[300], c_id[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_host_peer_id(B.host), c_id, sizeof(c_id));
    /* C's address, B's ID */
    snprintf(wrong, sizeof(wrong), "/ip4/127.0.0.1/tcp/%u/p2p/%s", C.port, c_id);
    static dial_rec d;
    memset(&d, 0, sizeof(d));
    /* A already has a connection to B's ID: the dial is answered with it, no socket */
    assert_int_equal(lp2p_host_dial(A.host, wrong, on_dial, &d), 0);
    assert_true(RUN_UNTIL(d.done, 2000));
    assert_ptr_equal(d.conn, g_ab);
    /* so dial C's address under a fresh random ID instead */
    lp2p_keypair *other;
    assert_int_equal(lp2p_keypair_generate(&other), 0);
    lp2p_peer_id_to_string(lp2p_keypair_peer_id(other), c_id, sizeof(c_id));
    lp2p_keypair_del(other);
    snprintf(wrong, sizeof(wrong), "/ip4/127.0.0.1/tcp/%u/p2p/%s", C.port, c_id);
    static dial_rec d2;
    memset(&d2, 0, sizeof(d2));
    assert_int_equal(lp2p_host_dial(A.host, wrong, on_dial, &d2), 0);
    assert_true(RUN_UNTIL(d2.done, 5000));
    assert_int_equal(d2.err, LP2P_ERR_PEER_ID_MISMATCH);
    assert_int_equal(LOG_COUNT("connection_failed", "\"error\":\"PEER_ID_MISMATCH\"",
                               "\"reason\":\"remote key does not match dialed peer ID\""),
                     1);
    run_for(100);
    assert_int_equal(C.connected, 0);
    good_peer_still_served("after a mismatched dial");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_not_multistream),
        T(test_oversized_multistream_line),
        T(test_unknown_security_protocol_then_too_many),
        T(test_noise_msg1_garbage),
        T(test_noise_truncated_then_eof),
        T(test_noise_truncated_times_out),
        T(test_noise_msg3_garbage),
        T(test_noise_transport_frame_garbage),
        T(test_yamux_bad_version),
        T(test_yamux_window_violation),
        T(test_yamux_syn_flood),
        T(test_yamux_many_proper_streams_are_fine),
        T(test_identify_with_another_key),
        T(test_identify_oversized_answer),
        T(test_echo_reader_that_never_reads_is_bounded),
        T(test_goaway_then_silence),
        T(test_regression_dial_answered_with_goaway_connection),
        T(test_dial_key_mismatch_keeps_other_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
