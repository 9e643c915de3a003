/* The log lines of hole punching (dcutr_attempt, dcutr_failed, dcutr_skipped,
 * direct_connected, holepunch_gave_up), written by a subscriber of the host's hole-punch
 * event: the coordinator reports, the host logs. Field names and texts are what the daemon,
 * interop and lab tests grep; keep them. */
#include "host/host_internal.h"
#include "lp2p/holepunch.h"
#include "util/log.h"

void lp2p__holepunch_log(const lp2p_holepunch_event *ev, void *ud)
{
    switch (ev->outcome) {
    case LP2P_HOLEPUNCH_ATTEMPT:
        lp2p_log(LP2P_INFO, "dcutr_attempt", LF_S("peer", ev->peer_str),
                 LF_I("attempt", ev->attempt), LF_U("rtt_ms", ev->rtt_ms),
                 LF_S("role", ev->role_b ? "B" : "A"), LF_I("addrs", ev->naddrs),
                 LF_B("swapped", ev->swapped));
        break;
    case LP2P_HOLEPUNCH_FAILED:
        lp2p_log(LP2P_WARN, "dcutr_failed", LF_S("peer", ev->peer_str),
                 LF_I("attempt", ev->attempt), LF_S("reason", ev->reason));
        break;
    case LP2P_HOLEPUNCH_SKIPPED:
        lp2p_log(LP2P_INFO, "dcutr_skipped", LF_S("peer", ev->peer_str),
                 LF_S("reason", ev->reason));
        break;
    case LP2P_HOLEPUNCH_DIRECT:
        lp2p_log(LP2P_INFO, "direct_connected", LF_S("peer", ev->peer_str),
                 LF_S("addr", ev->direct->remote_addr), LF_I("attempt", ev->attempt),
                 LF_U("ms_since_relayed", ev->relayed_to_direct_ms),
                 LF_S("role", ev->initiator ? "initiator" : "responder"));
        break;
    case LP2P_HOLEPUNCH_GAVE_UP:
        lp2p_log(LP2P_WARN, "holepunch_gave_up", LF_S("peer", ev->peer_str),
                 LF_S("reason", ev->reason));
        break;
    }
}
