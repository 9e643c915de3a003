/* Intrusive doubly linked list (nghttp2/quicly style): embed lp2p_list in your struct and
 * recover it with lp2p_container_of. No allocation to put an object on a list. */
#ifndef LP2P_UTIL_LIST_H
#define LP2P_UTIL_LIST_H

#include <stddef.h>

#define lp2p_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

typedef struct lp2p_list {
    struct lp2p_list *prev, *next;
} lp2p_list;

static inline void lp2p_list_init(lp2p_list *h)
{
    h->prev = h->next = h;
}
static inline int lp2p_list_empty(const lp2p_list *h)
{
    return h->next == h;
}
static inline void lp2p_list_insert_tail(lp2p_list *h, lp2p_list *e)
{
    e->prev = h->prev;
    e->next = h;
    h->prev->next = e;
    h->prev = e;
}
static inline void lp2p_list_remove(lp2p_list *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = e;
}
#define lp2p_list_foreach_safe(pos, tmp, head)                                                     \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
