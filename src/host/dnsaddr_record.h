/* One TXT record of a /dnsaddr lookup, judged (pure: no DNS, no I/O; fuzz/fuzz_dnsaddr.c).
 * multiformats/multiaddr protocols/DNSADDR.md: /dnsaddr/NAME[/p2p/ID] is resolved by a TXT
 * lookup of _dnsaddr.NAME; each record of the form
 *
 *   "dnsaddr=" <multiaddr text>        e.g. dnsaddr=/ip4/198.51.100.1/tcp/4001/p2p/12D3KooW…
 *
 * is an address of NAME. When the dialed address ends in /p2p/ID, only records ending in that
 * same /p2p/ID count; a record that is itself /dnsaddr/OTHER[/p2p/ID] is looked up in turn. */
#ifndef LP2P_HOST_DNSADDR_RECORD_H
#define LP2P_HOST_DNSADDR_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "lp2p/identity.h"
#include "wire/multiaddr.h"

typedef enum dnsaddr_rec {
    DNSADDR_REC_IGNORED,    /* not "dnsaddr=…" (another TXT record at that name) */
    DNSADDR_REC_UNUSABLE,   /* a multiaddr we cannot dial (udp, quic, ws, a circuit) or not one */
    DNSADDR_REC_OTHER_PEER, /* asked for /p2p/ID and the record does not end in it */
    DNSADDR_REC_DIAL,       /* /ip4|ip6|dns|dns4|dns6/…/tcp/PORT[/p2p/ID]: *out */
    DNSADDR_REC_RECURSE,    /* /dnsaddr/NAME[/p2p/ID]: *out, look it up next */
} dnsaddr_rec;

/* Longest record text looked at; longer ones are DNSADDR_REC_UNUSABLE. */
#define DNSADDR_RECORD_MAX 512

/* txt: one record's bytes (its character-strings joined), not NUL-terminated. want: the
 * /p2p/ID the dialed address ends in, or NULL. *out is filled (caller frees) for DIAL and
 * RECURSE only. */
dnsaddr_rec lp2p_dnsaddr_record(const uint8_t *txt, size_t n, const lp2p_peer_id *want,
                                lp2p_multiaddr *out);

#endif
