/* The logger's summary of repeated lines, on a fake clock: a burst is written, the rest is
 * counted in one log_suppressed line per interval, in both formats; only lines with a reason
 * are limited, keyed by (level, event, reason); the table is small and evicts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static uint64_t g_now;
static uint64_t fake_clock(void)
{
    return g_now;
}

static char *g_text;
static size_t g_len;
static FILE *g_out;

static int setup(void **state)
{
    g_now = 1764082501000ull;
    g_out = open_memstream(&g_text, &g_len);
    lp2p_log_set_output(g_out);
    lp2p_log_set_format(LP2P_LOG_JSON);
    lp2p_log_set_level(LP2P_INFO);
    lp2p_log_set_clock(fake_clock);
    lp2p_log_set_repeat_limit(3, 1000);
    return 0;
}

static int teardown(void **state)
{
    lp2p_log_set_repeat_limit(0, 1000); /* flushes into g_out, then off */
    lp2p_log_set_output(NULL);
    lp2p_log_set_clock(NULL);
    fclose(g_out);
    free(g_text);
    return 0;
}

/* Lines written so far that contain needle. */
static int count(const char *needle)
{
    fflush(g_out);
    int n = 0;
    for (const char *p = g_text; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void refuse(const char *ip, const char *reason)
{
    lp2p_log(LP2P_WARN, "connection_failed", LF_S("addr", ip), LF_S("reason", reason));
}

static void test_burst_then_one_summary_per_interval(void **state)
{
    for (int i = 0; i < 100; i++) {
        refuse(i % 2 ? "/ip4/10.0.0.1/tcp/1" : "/ip4/10.0.0.2/tcp/2", "too many");
        g_now += 5; /* 100 lines in 500 ms */
    }
    assert_int_equal(count("\"event\":\"connection_failed\""), 3);
    assert_int_equal(count("log_suppressed"), 0); /* the interval has not ended */
    g_now += 500;
    lp2p_log_tick();
    assert_int_equal(count("log_suppressed"), 1);
    assert_int_equal(count("{\"ts\":1764082502000,\"level\":\"warn\",\"event\":\"log_suppressed\","
                           "\"suppressed_event\":\"connection_failed\",\"reason\":\"too many\","
                           "\"count\":97,\"interval_ms\":1000}"),
                     1);
    /* A new interval: a fresh burst. */
    for (int i = 0; i < 5; i++)
        refuse("/ip4/10.0.0.1/tcp/1", "too many");
    assert_int_equal(count("\"event\":\"connection_failed\""), 6);
    /* The next line of any event ends the interval too (no tick needed). */
    g_now += 1000;
    lp2p_log(LP2P_INFO, "other");
    assert_int_equal(count("\"count\":2,\"interval_ms\":1000"), 1);
    /* A quiet interval writes no summary. */
    g_now += 5000;
    lp2p_log_tick();
    assert_int_equal(count("log_suppressed"), 2);
}

static void test_reason_and_level_are_part_of_the_key(void **state)
{
    for (int i = 0; i < 10; i++) {
        refuse("/ip4/10.0.0.1/tcp/1", "too many");
        refuse("/ip4/10.0.0.1/tcp/1", "bad handshake");
        lp2p_log(LP2P_ERROR, "connection_failed", LF_S("reason", "too many"));
        lp2p_log(LP2P_WARN, "connection_failed"); /* no reason: a result, always written */
        lp2p_log(LP2P_WARN, "connection_failed", LF_S("reason", "")); /* "": no failure */
    }
    assert_int_equal(count("\"event\":\"connection_failed\""), 9 + 10 + 10);
    g_now += 1000;
    lp2p_log_tick();
    assert_int_equal(count("\"reason\":\"too many\",\"count\":7"), 2);
    assert_int_equal(count("\"reason\":\"bad handshake\",\"count\":7"), 1);
    assert_int_equal(count("\"level\":\"error\",\"event\":\"log_suppressed\""), 1);
    assert_int_equal(count("log_suppressed"), 3);
}

static void test_human_format(void **state)
{
    lp2p_log_set_format(LP2P_LOG_HUMAN);
    for (int i = 0; i < 8; i++)
        refuse("/ip4/10.0.0.1/tcp/1", "too many");
    g_now += 1500;
    lp2p_log_tick();
    assert_int_equal(count(" connection_failed "), 3);
    assert_int_equal(count("2025-11-25T14:55:02.500Z warn  log_suppressed "
                           "suppressed_event=connection_failed reason=\"too many\" count=5 "
                           "interval_ms=1500\n"),
                     1);
}

static void test_table_is_bounded_and_evicts(void **state)
{
    /* 100 distinct reasons, each repeated: more keys than slots. Every key still gets its
     * burst, and what an evicted key had suppressed is reported when it is evicted. */
    char reason[32];
    for (int k = 0; k < 100; k++) {
        snprintf(reason, sizeof(reason), "reason %d", k);
        for (int i = 0; i < 5; i++)
            refuse("/ip4/10.0.0.1/tcp/1", reason);
        g_now += 1;
    }
    assert_int_equal(count("\"event\":\"connection_failed\""), 300);
    assert_int_equal(count("\"count\":2,"), 100 - 16); /* evicted, each reported */
    lp2p_log_flush_suppressed();
    assert_int_equal(count("\"count\":2,"), 100);
}

static void test_off_and_without_clock_every_line_is_written(void **state)
{
    lp2p_log_set_repeat_limit(0, 1000);
    for (int i = 0; i < 50; i++)
        refuse("/ip4/10.0.0.1/tcp/1", "too many");
    lp2p_log_set_repeat_limit(3, 1000);
    lp2p_log_set_clock(NULL);
    for (int i = 0; i < 50; i++)
        refuse("/ip4/10.0.0.1/tcp/1", "too many");
    assert_int_equal(count("\"event\":\"connection_failed\""), 100);
    assert_int_equal(count("log_suppressed"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_burst_then_one_summary_per_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reason_and_level_are_part_of_the_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_human_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_is_bounded_and_evicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off_and_without_clock_every_line_is_written, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
