/* Identify / identify-push: encode, decode+merge, verify, and the stream reader.
 * See identify.h for the wire diagram and the merge rules. */
#include "proto/identify.h"

#include <stdlib.h>
#include <string.h>

#include "identify.pb-c.h"
#include "lp2p/err.h"
#include "util/uvarint.h"

void lp2p_identify_info_init(lp2p_identify_info *info)
{
    memset(info, 0, sizeof(*info));
}

static void free_addrs(lp2p_identify_info *info)
{
    for (size_t i = 0; i < info->n_listen_addrs; i++)
        free(info->listen_addrs[i]);
    free(info->listen_addrs);
    free(info->listen_addr_lens);
    info->listen_addrs = NULL;
    info->listen_addr_lens = NULL;
    info->n_listen_addrs = 0;
}

static void free_protocols(lp2p_identify_info *info)
{
    for (size_t i = 0; i < info->n_protocols; i++)
        free(info->protocols[i]);
    free(info->protocols);
    info->protocols = NULL;
    info->n_protocols = 0;
}

void lp2p_identify_info_free(lp2p_identify_info *info)
{
    free(info->public_key);
    free_addrs(info);
    free_protocols(info);
    free(info->observed_addr);
    free(info->protocol_version);
    free(info->agent_version);
    free(info->signed_peer_record);
    lp2p_identify_info_init(info);
}

/* ---- encode ----------------------------------------------------------------------------- */

static int pack_delimited(const Identify__Pb__Identify *m, lp2p_buf *out)
{
    size_t n = identify__pb__identify__get_packed_size(m);
    int rc = lp2p_buf_reserve(out, n + LP2P_UVARINT_MAX);
    if (rc)
        return rc;
    out->len += lp2p_uvarint_encode(n, out->data + out->len);
    out->len += identify__pb__identify__pack(m, out->data + out->len);
    return 0;
}

int lp2p_identify_encode(const lp2p_identify_info *info, lp2p_buf *out, size_t *dropped_addrs,
                         int *dropped_record, const lp2p_trace *trace)
{
    Identify__Pb__Identify m = IDENTIFY__PB__IDENTIFY__INIT;
    ProtobufCBinaryData *addrs = NULL;
    int rc = 0;

    if (dropped_addrs)
        *dropped_addrs = 0;
    if (dropped_record)
        *dropped_record = 0;
    if (info->public_key) {
        m.has_publickey = 1;
        m.publickey.data = info->public_key;
        m.publickey.len = info->public_key_len;
    }
    if (info->n_listen_addrs) {
        addrs = calloc(info->n_listen_addrs, sizeof(*addrs));
        if (!addrs)
            return LP2P_ERR_NOMEM;
        for (size_t i = 0; i < info->n_listen_addrs; i++) {
            addrs[i].data = info->listen_addrs[i];
            addrs[i].len = info->listen_addr_lens[i];
        }
        m.listenaddrs = addrs;
        m.n_listenaddrs = info->n_listen_addrs;
    }
    m.protocols = info->protocols;
    m.n_protocols = info->n_protocols;
    if (info->observed_addr) {
        m.has_observedaddr = 1;
        m.observedaddr.data = info->observed_addr;
        m.observedaddr.len = info->observed_addr_len;
    }
    m.protocolversion = info->protocol_version;
    m.agentversion = info->agent_version;
    if (info->signed_peer_record) {
        m.has_signedpeerrecord = 1;
        m.signedpeerrecord.data = info->signed_peer_record;
        m.signedpeerrecord.len = info->signed_peer_record_len;
    }

    /* Fit 4 KiB: trailing (least preferred) addresses go first, then the record. */
    while (identify__pb__identify__get_packed_size(&m) > LP2P_IDENTIFY_SEND_MAX) {
        if (m.n_listenaddrs > 0) {
            m.n_listenaddrs--;
            if (dropped_addrs)
                (*dropped_addrs)++;
        } else if (m.has_signedpeerrecord) {
            m.has_signedpeerrecord = 0;
            if (dropped_record)
                *dropped_record = 1;
        } else {
            rc = LP2P_ERR_TOO_LARGE;
            goto done;
        }
    }
    if (m.n_listenaddrs < info->n_listen_addrs ||
        (info->signed_peer_record && !m.has_signedpeerrecord))
        lp2p_emit(trace, LP2P_WARN, "identify_trimmed",
                  LF_U("dropped_addrs", info->n_listen_addrs - m.n_listenaddrs),
                  LF_B("dropped_record", !m.has_signedpeerrecord && info->signed_peer_record));
    rc = pack_delimited(&m, out);
done:
    free(addrs);
    return rc;
}

/* ---- decode + merge ------------------------------------------------------------------- */

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* Replaces *dst with a copy of src. */
static int set_bytes(uint8_t **dst, size_t *dlen, const ProtobufCBinaryData *src)
{
    uint8_t *d = dup_bytes(src->data, src->len);
    if (!d)
        return LP2P_ERR_NOMEM;
    free(*dst);
    *dst = d;
    *dlen = src->len;
    return 0;
}

static int set_str(char **dst, const char *src)
{
    char *d = strdup(src);
    if (!d)
        return LP2P_ERR_NOMEM;
    free(*dst);
    *dst = d;
    return 0;
}

static int append_addrs(lp2p_identify_info *info, ProtobufCBinaryData *a, size_t n)
{
    if (n == 0)
        return 0;
    size_t total = info->n_listen_addrs + n;
    uint8_t **pa = realloc(info->listen_addrs, total * sizeof(*pa));
    if (!pa)
        return LP2P_ERR_NOMEM;
    info->listen_addrs = pa;
    size_t *pl = realloc(info->listen_addr_lens, total * sizeof(*pl));
    if (!pl)
        return LP2P_ERR_NOMEM;
    info->listen_addr_lens = pl;
    for (size_t i = 0; i < n; i++) {
        uint8_t *d = dup_bytes(a[i].data, a[i].len);
        if (!d)
            return LP2P_ERR_NOMEM;
        info->listen_addrs[info->n_listen_addrs] = d;
        info->listen_addr_lens[info->n_listen_addrs] = a[i].len;
        info->n_listen_addrs++;
    }
    info->fields |= LP2P_IDF_LISTEN_ADDRS;
    return 0;
}

static int append_protocols(lp2p_identify_info *info, char **p, size_t n)
{
    if (n == 0)
        return 0;
    size_t total = info->n_protocols + n;
    char **pp = realloc(info->protocols, total * sizeof(*pp));
    if (!pp)
        return LP2P_ERR_NOMEM;
    info->protocols = pp;
    for (size_t i = 0; i < n; i++) {
        char *d = strdup(p[i]);
        if (!d)
            return LP2P_ERR_NOMEM;
        info->protocols[info->n_protocols++] = d;
    }
    info->fields |= LP2P_IDF_PROTOCOLS;
    return 0;
}

int lp2p_identify_decode(const uint8_t *msg, size_t len, lp2p_identify_info *info)
{
    if (len > LP2P_IDENTIFY_RECV_MAX)
        return LP2P_ERR_TOO_LARGE;
    Identify__Pb__Identify *m = identify__pb__identify__unpack(NULL, len, msg);
    if (!m)
        return LP2P_ERR_DECODE;
    int rc = 0;
    if (m->has_publickey) {
        if ((rc = set_bytes(&info->public_key, &info->public_key_len, &m->publickey)))
            goto done;
        info->fields |= LP2P_IDF_PUBLIC_KEY;
    }
    if ((rc = append_addrs(info, m->listenaddrs, m->n_listenaddrs)))
        goto done;
    if ((rc = append_protocols(info, m->protocols, m->n_protocols)))
        goto done;
    if (m->has_observedaddr) {
        if ((rc = set_bytes(&info->observed_addr, &info->observed_addr_len, &m->observedaddr)))
            goto done;
        info->fields |= LP2P_IDF_OBSERVED_ADDR;
    }
    if (m->protocolversion) {
        if ((rc = set_str(&info->protocol_version, m->protocolversion)))
            goto done;
        info->fields |= LP2P_IDF_PROTOCOL_VERSION;
    }
    if (m->agentversion) {
        if ((rc = set_str(&info->agent_version, m->agentversion)))
            goto done;
        info->fields |= LP2P_IDF_AGENT_VERSION;
    }
    if (m->has_signedpeerrecord) {
        if ((rc = set_bytes(&info->signed_peer_record, &info->signed_peer_record_len,
                            &m->signedpeerrecord)))
            goto done;
        info->fields |= LP2P_IDF_SIGNED_RECORD;
    }
done:
    identify__pb__identify__free_unpacked(m, NULL);
    return rc;
}

/* ---- verify ----------------------------------------------------------------------------- */

static void drop_record(lp2p_identify_info *info)
{
    free(info->signed_peer_record);
    info->signed_peer_record = NULL;
    info->signed_peer_record_len = 0;
    info->fields &= ~LP2P_IDF_SIGNED_RECORD;
}

int lp2p_identify_verify(lp2p_identify_info *info, const lp2p_peer_id *remote,
                         const lp2p_trace *trace)
{
    /* The peer's name is needed only for a warning: spelled out there, not per connection. */
    char idstr[LP2P_PEER_ID_STR_MAX] = "?";
    if (info->public_key) {
        lp2p_peer_id from_key;
        int rc = lp2p_peer_id_from_pubkey(info->public_key, info->public_key_len, &from_key);
        if (rc < 0 || !lp2p_peer_id_equal(&from_key, remote)) {
            lp2p_peer_id_to_string(remote, idstr, sizeof(idstr));
            lp2p_emit(trace, LP2P_WARN, "identify_key_mismatch", LF_S("peer", idstr),
                      LF_S("reason", rc < 0 ? "bad public key" : "key is not the peer's"));
            return LP2P_ERR_PEER_ID_MISMATCH;
        }
    }
    info->record_verified = 0;
    if (!info->signed_peer_record)
        return 0;

    lp2p_peer_record rec;
    memset(&rec, 0, sizeof(rec));
    int rc = lp2p_peer_record_open(info->signed_peer_record, info->signed_peer_record_len, &rec);
    if (rc < 0 || !lp2p_peer_id_equal(&rec.peer, remote)) {
        lp2p_peer_id_to_string(remote, idstr, sizeof(idstr));
        lp2p_emit(trace, LP2P_WARN, "identify_bad_record", LF_S("peer", idstr),
                  LF_S("reason", rc < 0 ? lp2p_strerror(rc) : "record of another peer"));
        if (rc >= 0)
            lp2p_peer_record_free(&rec);
        drop_record(info);
        return 0;
    }
    /* The signed addresses win over the unsigned listenAddrs: take the record's arrays. */
    free_addrs(info);
    info->listen_addrs = rec.addrs;
    info->listen_addr_lens = rec.addr_lens;
    info->n_listen_addrs = rec.naddrs;
    rec.addrs = NULL;
    rec.addr_lens = NULL;
    rec.naddrs = 0;
    if (info->n_listen_addrs)
        info->fields |= LP2P_IDF_LISTEN_ADDRS;
    info->record_verified = 1;
    info->record_seq = rec.seq;
    lp2p_peer_record_free(&rec);
    return 0;
}

/* ---- push ---------------------------------------------------------------------------- */

#define MOVE_FIELD(dst, src, f)                                                                    \
    do {                                                                                           \
        free((dst)->f);                                                                            \
        (dst)->f = (src)->f;                                                                       \
        (src)->f = NULL;                                                                           \
    } while (0)

void lp2p_identify_apply_push(lp2p_identify_info *known, lp2p_identify_info *push)
{
    unsigned f = push->fields;
    /* A signed record older than the one we hold is stale (RFC 0003: seq only grows); its
     * addresses must not replace newer signed ones. */
    if (known->record_verified && push->record_verified && push->record_seq < known->record_seq)
        f &= ~(LP2P_IDF_LISTEN_ADDRS | LP2P_IDF_SIGNED_RECORD);
    if (f & LP2P_IDF_PUBLIC_KEY) {
        MOVE_FIELD(known, push, public_key);
        known->public_key_len = push->public_key_len;
    }
    if (f & LP2P_IDF_LISTEN_ADDRS) {
        free_addrs(known);
        known->listen_addrs = push->listen_addrs;
        known->listen_addr_lens = push->listen_addr_lens;
        known->n_listen_addrs = push->n_listen_addrs;
        known->record_verified = push->record_verified;
        known->record_seq = push->record_seq;
        push->listen_addrs = NULL;
        push->listen_addr_lens = NULL;
        push->n_listen_addrs = 0;
    }
    if (f & LP2P_IDF_PROTOCOLS) {
        free_protocols(known);
        known->protocols = push->protocols;
        known->n_protocols = push->n_protocols;
        push->protocols = NULL;
        push->n_protocols = 0;
    }
    if (f & LP2P_IDF_OBSERVED_ADDR) {
        MOVE_FIELD(known, push, observed_addr);
        known->observed_addr_len = push->observed_addr_len;
    }
    if (f & LP2P_IDF_PROTOCOL_VERSION)
        MOVE_FIELD(known, push, protocol_version);
    if (f & LP2P_IDF_AGENT_VERSION)
        MOVE_FIELD(known, push, agent_version);
    if (f & LP2P_IDF_SIGNED_RECORD) {
        MOVE_FIELD(known, push, signed_peer_record);
        known->signed_peer_record_len = push->signed_peer_record_len;
    }
    known->fields |= f;
    lp2p_identify_info_free(push);
}

/* ---- stream reader ------------------------------------------------------------------------ */

void lp2p_identify_reader_init(lp2p_identify_reader *r, uint64_t now_ms, uint64_t timeout_ms)
{
    memset(r, 0, sizeof(*r));
    lp2p_lpm_init(&r->rd, LP2P_IDENTIFY_RECV_MAX);
    lp2p_identify_info_init(&r->info);
    r->deadline_ms = now_ms + (timeout_ms ? timeout_ms : LP2P_IDENTIFY_TIMEOUT_MS);
}

void lp2p_identify_reader_free(lp2p_identify_reader *r)
{
    lp2p_lpm_free(&r->rd);
    lp2p_identify_info_free(&r->info);
    r->deadline_ms = UINT64_MAX;
}

static int reader_fail(lp2p_identify_reader *r, int rc, const char *why)
{
    r->failed = 1;
    r->deadline_ms = UINT64_MAX;
    lp2p_emit(&r->trace, LP2P_WARN, "identify_rejected", LF_S("reason", why),
              LF_S("err", lp2p_err_name(rc)));
    return rc;
}

int lp2p_identify_reader_recv(lp2p_identify_reader *r, const uint8_t *in, size_t len,
                              uint64_t now_ms)
{
    if (r->failed || r->deadline_ms == UINT64_MAX)
        return LP2P_ERR_STATE;
    while (len > 0) {
        size_t used;
        lp2p_view msg;
        int rc = lp2p_lpm_read(&r->rd, in, len, &used, &msg);
        in += used;
        len -= used;
        if (rc == LP2P_ERR_TOO_LARGE)
            return reader_fail(r, rc, "message above 8 KiB");
        if (rc < 0)
            return reader_fail(r, rc, "bad length prefix");
        if (rc == 0)
            break;
        if (r->nmsgs == LP2P_IDENTIFY_MAX_MSGS)
            return reader_fail(r, LP2P_ERR_LIMIT, "more than 10 messages");
        rc = lp2p_identify_decode(msg.ptr, msg.len, &r->info);
        if (rc < 0)
            return reader_fail(r, rc, "bad protobuf");
        r->nmsgs++;
    }
    return 0;
}

int lp2p_identify_reader_finish(lp2p_identify_reader *r, const lp2p_peer_id *remote,
                                lp2p_identify_info *out)
{
    if (r->failed || r->deadline_ms == UINT64_MAX)
        return LP2P_ERR_STATE;
    if (lp2p_lpm_pending(&r->rd))
        return reader_fail(r, LP2P_ERR_DECODE, "stream ended inside a message");
    if (r->nmsgs == 0)
        return reader_fail(r, LP2P_ERR_DECODE, "stream ended without a message");
    int rc = lp2p_identify_verify(&r->info, remote, &r->trace);
    if (rc < 0)
        return reader_fail(r, rc, "public key does not match the peer ID");
    *out = r->info;
    lp2p_identify_info_init(&r->info);
    r->deadline_ms = UINT64_MAX;
    return 0;
}

uint64_t lp2p_identify_reader_next_deadline(const lp2p_identify_reader *r)
{
    return r->deadline_ms;
}

int lp2p_identify_reader_tick(lp2p_identify_reader *r, uint64_t now_ms)
{
    if (r->deadline_ms != UINT64_MAX && now_ms >= r->deadline_ms)
        return reader_fail(r, LP2P_ERR_TIMEOUT, "no complete identify before the deadline");
    return 0;
}
