#include "util/thread_exit.h"

#include <pthread.h>

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_key_ok;
static _Thread_local void (*t_fns[LP2P_THREAD_EXIT_MAX])(void);
static _Thread_local int t_nfns;

/* The key's destructor: the thread's release functions, newest first. */
static void run_all(void *unused)
{
    (void)unused;
    while (t_nfns > 0)
        t_fns[--t_nfns]();
}

static void make_key(void)
{
    g_key_ok = pthread_key_create(&g_key, run_all) == 0;
}

int lp2p_thread_at_exit(void (*fn)(void))
{
    for (int i = 0; i < t_nfns; i++)
        if (t_fns[i] == fn)
            return 0;
    pthread_once(&g_once, make_key);
    if (!g_key_ok || t_nfns == LP2P_THREAD_EXIT_MAX)
        return -1;
    /* A non-NULL value makes the key's destructor run at the thread's exit. */
    if (t_nfns == 0 && pthread_setspecific(g_key, (void *)t_fns) != 0)
        return -1;
    t_fns[t_nfns++] = fn;
    return 0;
}
