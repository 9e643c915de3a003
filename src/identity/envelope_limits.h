/* Size bounds for signed envelopes (private to the identity layer). */
#ifndef LP2P_IDENTITY_ENVELOPE_LIMITS_H
#define LP2P_IDENTITY_ENVELOPE_LIMITS_H

/* Largest payload we seal or open. Envelopes travel inside identify and relay messages,
 * whose own limits are smaller (4 KiB for relay); this bound only stops a caller from
 * handing us something absurd. An opened envelope may exceed it by the key and signature. */
#define LP2P_ENVELOPE_LIMIT (64 * 1024)

#endif
