/* multistream-select 1.0 state machines. See mss.h for the exchange. */
#include "proto/mss.h"

#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"

enum {
    ST_WAIT_HEADER = 0, /* both roles: the peer's /multistream/1.0.0 */
    ST_WAIT_REPLY,      /* dialer: echo or na for protos[cur] */
    ST_WAIT_PROPOSAL,   /* listener: a protocol id or ls */
    ST_DONE,
    ST_FAILED,
};

/*   uvarint(len(s) + 1) ‖ s ‖ '\n' */
int lp2p_mss_write_line(lp2p_buf *out, const char *s)
{
    size_t n = strlen(s);
    int rc = lp2p_buf_append_uvarint(out, n + 1);
    if (!rc)
        rc = lp2p_buf_append(out, s, n);
    if (!rc)
        rc = lp2p_buf_append_byte(out, '\n');
    return rc;
}

static int fail(lp2p_mss *m, int err, const char *why)
{
    m->state = ST_FAILED;
    m->err = err;
    m->why = why;
    return err;
}

static void common_init(lp2p_mss *m)
{
    memset(m, 0, sizeof(*m));
    lp2p_buf_init(&m->out);
    lp2p_lpm_init(&m->rd, LP2P_MSS_MAX_LINE);
    m->why = "";
}

static int valid_proto(const char *p)
{
    size_t n = strlen(p);
    return n > 0 && n + 1 <= LP2P_MSS_MAX_LINE && !strchr(p, '\n') && strcmp(p, "na") != 0 &&
           strcmp(p, "ls") != 0;
}

int lp2p_mss_init_dialer(lp2p_mss *m, const char *const *protos, size_t n, int lazy)
{
    common_init(m);
    m->protos = protos;
    m->nprotos = n;
    m->lazy = lazy && n == 1; /* 0-RTT only makes sense with a single offer */
    if (n == 0)
        return fail(m, LP2P_ERR_INVAL, "no protocol to propose");
    for (size_t i = 0; i < n; i++)
        if (!protos[i] || !valid_proto(protos[i]))
            return fail(m, LP2P_ERR_INVAL, "invalid protocol id");
    /* Pipelined: header and first proposal in one write. */
    int rc = lp2p_mss_write_line(&m->out, LP2P_MSS_PROTOCOL);
    if (!rc)
        rc = lp2p_mss_write_line(&m->out, protos[0]);
    if (rc)
        return fail(m, rc, "out of memory");
    return 0;
}

int lp2p_mss_init_listener(lp2p_mss *m, lp2p_mss_supports_fn supports, void *user)
{
    common_init(m);
    m->listener = 1;
    m->supports = supports;
    m->user = user;
    if (!supports)
        return fail(m, LP2P_ERR_INVAL, "no supports callback");
    return 0;
}

void lp2p_mss_set_ls(lp2p_mss *m, const char *const *protos, size_t n)
{
    m->ls = protos;
    m->nls = n;
}

void lp2p_mss_free(lp2p_mss *m)
{
    lp2p_buf_free(&m->out);
    lp2p_lpm_free(&m->rd);
    if (m->listener)
        free(m->selected);
    m->selected = NULL;
}

const char *lp2p_mss_selected(const lp2p_mss *m)
{
    return m->state == ST_DONE ? m->selected : NULL;
}

int lp2p_mss_done(const lp2p_mss *m)
{
    return m->state == ST_DONE;
}

int lp2p_mss_may_send(const lp2p_mss *m)
{
    if (m->state == ST_DONE)
        return 1;
    return !m->listener && m->lazy && m->state != ST_FAILED;
}

const char *lp2p_mss_error_reason(const lp2p_mss *m)
{
    return m->why ? m->why : "";
}

/* `ls` answer, one message whose body is the list:
 *   uvarint(total) ‖ { uvarint(len(p) + 1) ‖ p ‖ '\n' }* ‖ '\n' */
static int write_ls(lp2p_mss *m)
{
    lp2p_buf body;
    lp2p_buf_init(&body);
    int rc = 0;
    for (size_t i = 0; i < m->nls && !rc; i++)
        rc = lp2p_mss_write_line(&body, m->ls[i]);
    if (!rc)
        rc = lp2p_buf_append_byte(&body, '\n');
    if (!rc)
        rc = lp2p_lpm_encode(&m->out, lp2p_buf_head(&body), lp2p_buf_size(&body));
    lp2p_buf_free(&body);
    return rc;
}

/* Returns 0 to continue, 1 when negotiated, negative on error. */
static int on_line(lp2p_mss *m, const char *line)
{
    int rc;
    switch (m->state) {
    case ST_WAIT_HEADER:
        if (strcmp(line, LP2P_MSS_PROTOCOL) != 0)
            return fail(m, LP2P_ERR_PROTO, "first message is not /multistream/1.0.0");
        if (!m->listener) {
            m->state = ST_WAIT_REPLY;
            return 0;
        }
        /* Our header goes out now, so it shares a write with the answer to a proposal that
         * arrived in the same read. */
        if ((rc = lp2p_mss_write_line(&m->out, LP2P_MSS_PROTOCOL)) != 0)
            return fail(m, rc, "out of memory");
        m->state = ST_WAIT_PROPOSAL;
        return 0;

    case ST_WAIT_REPLY:
        if (strcmp(line, m->protos[m->cur]) == 0) {
            m->selected = (char *)m->protos[m->cur];
            m->state = ST_DONE;
            return 1;
        }
        if (strcmp(line, "na") != 0)
            return fail(m, LP2P_ERR_PROTO, "reply is neither our proposal nor na");
        if (m->lazy)
            return fail(m, LP2P_ERR_NA, "peer refused the lazily negotiated protocol");
        if (++m->cur == m->nprotos)
            return fail(m, LP2P_ERR_NA, "peer refused every proposed protocol");
        if ((rc = lp2p_mss_write_line(&m->out, m->protos[m->cur])) != 0)
            return fail(m, rc, "out of memory");
        return 0;

    case ST_WAIT_PROPOSAL:
        if (m->refused >= LP2P_MSS_MAX_PROPOSALS)
            return fail(m, LP2P_ERR_LIMIT, "too many refused proposals");
        if (strcmp(line, "ls") == 0 && m->ls) {
            m->refused++;
            if ((rc = write_ls(m)) != 0)
                return fail(m, rc, "out of memory");
            return 0;
        }
        if (line[0] && strcmp(line, "ls") != 0 && strcmp(line, "na") != 0 &&
            m->supports(m->user, line)) {
            if ((rc = lp2p_mss_write_line(&m->out, line)) != 0)
                return fail(m, rc, "out of memory");
            m->selected = strdup(line);
            if (!m->selected)
                return fail(m, LP2P_ERR_NOMEM, "out of memory");
            m->state = ST_DONE;
            return 1;
        }
        m->refused++;
        if ((rc = lp2p_mss_write_line(&m->out, "na")) != 0)
            return fail(m, rc, "out of memory");
        return 0;

    default:
        return fail(m, LP2P_ERR_STATE, "negotiation is over");
    }
}

int lp2p_mss_recv(lp2p_mss *m, const uint8_t *in, size_t len, size_t *consumed)
{
    size_t off = 0;
    *consumed = 0;
    if (m->state == ST_FAILED)
        return m->err;
    if (m->state == ST_DONE)
        return 1;
    while (off < len) {
        size_t c;
        lp2p_view msg;
        int rc = lp2p_lpm_read(&m->rd, in + off, len - off, &c, &msg);
        off += c;
        *consumed = off;
        if (rc == LP2P_ERR_TOO_LARGE)
            return fail(m, rc, "multistream line longer than 1024 bytes");
        if (rc < 0)
            return fail(m, LP2P_ERR_PROTO, "bad multistream length prefix");
        if (rc == 0)
            break;
        /* A line is text ending in exactly one '\n', with no NUL (we hand out C strings). */
        if (msg.len == 0 || msg.ptr[msg.len - 1] != '\n')
            return fail(m, LP2P_ERR_PROTO, "multistream message does not end in newline");
        size_t n = msg.len - 1;
        if (memchr(msg.ptr, '\n', n) || memchr(msg.ptr, '\0', n))
            return fail(m, LP2P_ERR_PROTO, "multistream line contains newline or NUL");
        char line[LP2P_MSS_MAX_LINE];
        memcpy(line, msg.ptr, n);
        line[n] = '\0';
        rc = on_line(m, line);
        if (rc != 0)
            return rc;
    }
    return 0;
}
