/* Connection events: one observer list per host. The app's callbacks, its extra subscribers
 * and the host's own services (identify, hole punching, reservations, the relay server) all
 * hear of a connection through it, so the host names no service when a connection comes or
 * goes, and any number of parties can watch one event.
 *
 * The list is a small array sorted by `order`. An observer that unsubscribes during a
 * dispatch is only marked dead (slots never move while an event is delivered); dead slots
 * are dropped when nothing is being dispatched. */
#include "host/host_internal.h"
#include "lp2p/err.h"

#include <string.h>

static void compact(lp2p_host *h)
{
    if (h->dispatching)
        return;
    size_t k = 0;
    for (size_t i = 0; i < h->nobservers; i++)
        if (h->observers[i].live)
            h->observers[k++] = h->observers[i];
    h->nobservers = k;
}

int lp2p__host_observe(lp2p_host *h, const host_observer *o)
{
    compact(h);
    if (h->nobservers == HOST_MAX_OBSERVERS)
        return LP2P_ERR_LIMIT;
    /* While an event is delivered, a newcomer goes at the end (slots must not move); it
     * hears the next event in its order. */
    size_t at = h->nobservers;
    if (!h->dispatching)
        while (at > 0 && h->observers[at - 1].order > o->order)
            at--;
    memmove(&h->observers[at + 1], &h->observers[at],
            (h->nobservers - at) * sizeof(h->observers[0]));
    h->observers[at] = *o;
    h->observers[at].id = h->next_observer_id++;
    h->observers[at].live = 1;
    h->nobservers++;
    return h->observers[at].id;
}

int lp2p_host_subscribe(lp2p_host *h, const lp2p_host_callbacks *cb, void *ud)
{
    host_observer o = {.cb = *cb, .ud = ud};
    return lp2p__host_observe(h, &o);
}

void lp2p_host_unsubscribe(lp2p_host *h, int id)
{
    for (size_t i = 0; i < h->nobservers; i++)
        if (h->observers[i].id == id)
            h->observers[i].live = 0;
    compact(h);
}

/* Calls `call` for each live observer, first to last (reverse = last to first), while
 * `keep_going` holds. The count is read once: a newcomer waits for the next event. */
#define DISPATCH(h, reverse, keep_going, call)                                                     \
    do {                                                                                           \
        size_t n_ = (h)->nobservers;                                                               \
        h->dispatching++;                                                                          \
        for (size_t k_ = 0; k_ < n_ && (keep_going); k_++) {                                       \
            host_observer *o = &(h)->observers[(reverse) ? n_ - 1 - k_ : k_];                      \
            if (o->live) {                                                                         \
                call;                                                                              \
            }                                                                                      \
        }                                                                                          \
        h->dispatching--;                                                                          \
        compact(h);                                                                                \
    } while (0)

void lp2p__host_emit_connected(lp2p_host *h, lp2p_conn *c)
{
    /* A callback may close the connection: the rest then never hear of it. */
    DISPATCH(h, 0, c->stage == CONN_READY, if (o->cb.on_connected) o->cb.on_connected(c, o->ud));
}

void lp2p__host_emit_disconnected(lp2p_host *h, lp2p_conn *c)
{
    /* Reverse order: a service that built on the app's view of the connection (or on an
     * earlier service's) lets go first. */
    DISPATCH(h, 1, 1, if (o->cb.on_disconnected) o->cb.on_disconnected(c, c->close_reason, o->ud));
}

void lp2p__host_emit_identify(lp2p_host *h, lp2p_conn *c, const lp2p_identify_result *r)
{
    DISPATCH(h, 0, c->stage == CONN_READY, if (o->cb.on_identify) o->cb.on_identify(c, r, o->ud));
}

void lp2p__host_emit_holepunch(lp2p_host *h, const lp2p_holepunch_event *ev)
{
    DISPATCH(h, 0, 1, if (o->cb.on_holepunch) o->cb.on_holepunch(ev, o->ud));
}

void lp2p__host_emit_accepted(lp2p_host *h, lp2p_conn *c, const struct sockaddr *from)
{
    DISPATCH(h, 0, c->stage != CONN_CLOSED, if (o->on_accepted) o->on_accepted(c, from, o->ud));
}

void lp2p__host_emit_close(lp2p_host *h)
{
    DISPATCH(h, 0, 1, if (o->on_host_close) o->on_host_close(h, o->ud));
}
