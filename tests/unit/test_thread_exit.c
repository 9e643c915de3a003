/* util/thread_exit: a thread's release functions run once each at its exit, newest first;
 * one registered twice runs once; a full table says so. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "util/thread_exit.h"

static char g_order[16];
static int g_n;

static void rel_a(void)
{
    g_order[g_n++] = 'a';
}
static void rel_b(void)
{
    g_order[g_n++] = 'b';
}

static void *registers(void *unused)
{
    (void)unused;
    if (lp2p_thread_at_exit(rel_a) || lp2p_thread_at_exit(rel_b) || lp2p_thread_at_exit(rel_a))
        return (void *)1;
    return NULL;
}

static void test_runs_once_each_newest_first(void **state)
{
    for (int round = 0; round < 2; round++) { /* a second thread gets its own table */
        g_n = 0;
        memset(g_order, 0, sizeof g_order);
        pthread_t t;
        void *rc = (void *)2;
        assert_int_equal(pthread_create(&t, NULL, registers, NULL), 0);
        assert_int_equal(pthread_join(t, &rc), 0);
        assert_null(rc);
        assert_string_equal(g_order, "ba");
    }
}

static void f0(void)
{
}
static void f1(void)
{
}
static void f2(void)
{
}
static void f3(void)
{
}
static void f4(void)
{
}
static void f5(void)
{
}
static void f6(void)
{
}
static void f7(void)
{
}
static void f8(void)
{
}

static void *fills(void *unused)
{
    (void)unused;
    void (*fs[])(void) = {f0, f1, f2, f3, f4, f5, f6, f7};
    for (int i = 0; i < LP2P_THREAD_EXIT_MAX; i++)
        if (lp2p_thread_at_exit(fs[i]) != 0)
            return (void *)1;
    if (lp2p_thread_at_exit(f0) != 0) /* already there: fine */
        return (void *)2;
    return lp2p_thread_at_exit(f8) == -1 ? NULL : (void *)3;
}

static void test_full_table_says_so(void **state)
{
    pthread_t t;
    void *rc = (void *)4;
    assert_int_equal(pthread_create(&t, NULL, fills, NULL), 0);
    assert_int_equal(pthread_join(t, &rc), 0);
    assert_null(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_once_each_newest_first),
        cmocka_unit_test(test_full_table_says_so),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
