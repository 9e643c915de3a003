/* --log-redact in both formats: no IP address of a string or raw-JSON field reaches the
 * output, each distinct address keeps one placeholder (ip1, ip2, ...), and the JSON line
 * stays one line. Issue 12: with --log-format json the addresses leaked. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static char *g_text;
static size_t g_len;
static FILE *g_out;

static int setup(void **state)
{
    (void)state;
    g_out = open_memstream(&g_text, &g_len);
    lp2p_log_set_output(g_out);
    lp2p_log_set_level(LP2P_INFO);
    lp2p_log_set_redact(1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lp2p_log_set_redact(0);
    lp2p_log_set_output(NULL);
    fclose(g_out);
    free(g_text);
    return 0;
}

static void emit(void)
{
    lp2p_log(LP2P_INFO, "connected", LF_S("addr", "/ip4/203.0.113.7/tcp/4001"),
             LF_S("peer_addr", "[2001:db8::1]:16111"),
             LF_J("addrs", "[\"/ip4/198.51.100.9/tcp/1/p2p-circuit\"]"),
             LF_S("again", "203.0.113.7:4001"));
    fflush(g_out);
}

static void no_address_leaks(void)
{
    assert_non_null(g_text);
    assert_null(strstr(g_text, "203.0.113.7"));
    assert_null(strstr(g_text, "2001:db8::1"));
    assert_null(strstr(g_text, "198.51.100.9"));
}

static void test_json_is_redacted(void **state)
{
    (void)state;
    lp2p_log_set_format(LP2P_LOG_JSON);
    emit();
    no_address_leaks();
    assert_non_null(strstr(g_text, "\"addr\":\"/ip4/ip"));
    /* the same address gets the same placeholder in one line */
    const char *a = strstr(g_text, "\"addr\":\"/ip4/") + strlen("\"addr\":\"/ip4/");
    const char *b = strstr(g_text, "\"again\":\"") + strlen("\"again\":\"");
    assert_int_equal(strcspn(a, "/"), strcspn(b, ":"));
    assert_memory_equal(a, b, strcspn(a, "/"));
    assert_non_null(strstr(g_text, "\"addrs\":[\"/ip4/ip"));
    assert_ptr_equal(strchr(g_text, '\n') + 1, g_text + g_len);
}

static void test_human_is_redacted(void **state)
{
    (void)state;
    lp2p_log_set_format(LP2P_LOG_HUMAN);
    emit();
    no_address_leaks();
    assert_non_null(strstr(g_text, "addr=/ip4/ip"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_is_redacted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_human_is_redacted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
