/* Release of thread-local caches when their thread ends. Several layers keep objects per
 * thread so a hot path needs no lock and no allocation (OpenSSL contexts in crypto/, libdeflate
 * codecs in kaspa/): each registers one release function the first time a thread fills its
 * cache, and the thread's exit runs them all (one pthread key for the process, not one per
 * cache). The main thread's caches live until the process ends, as with any thread-local. */
#ifndef LP2P_UTIL_THREAD_EXIT_H
#define LP2P_UTIL_THREAD_EXIT_H

/* Runs fn when the calling thread exits; fn registered twice by one thread runs once. 0, or
 * -1 when the thread's table (LP2P_THREAD_EXIT_MAX) is full or no key could be made: the
 * cache then stays with the thread, which is a leak only for a thread that ends. */
#define LP2P_THREAD_EXIT_MAX 8
int lp2p_thread_at_exit(void (*fn)(void));

#endif
