/* Length-prefixed message reader. Byte 0 picks the bound and byte 1 the read size; the
 * rest is the stream. Invariants: reading in chunks yields exactly the messages (and the
 * error) of reading everything at once; no message exceeds the bound; consumed <= len. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lp2p/err.h"
#include "wire/lpm.h"

#define MAXMSGS 4096

typedef struct result {
    size_t n;
    size_t off[MAXMSGS], len[MAXMSGS]; /* message hashes would do; offsets are simpler */
    uint32_t sum[MAXMSGS];
    int rc;
} result;

static uint32_t sum(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void run(const uint8_t *d, size_t n, size_t max, size_t chunk, result *r)
{
    lp2p_lpm rd;
    lp2p_lpm_init(&rd, max);
    memset(r, 0, sizeof(*r));
    size_t pos = 0;
    while (pos < n && r->n < MAXMSGS) {
        size_t len = n - pos < chunk ? n - pos : chunk, q = 0;
        while (q < len && r->n < MAXMSGS) {
            size_t used;
            lp2p_view m;
            int rc = lp2p_lpm_read(&rd, d + pos + q, len - q, &used, &m);
            if (used > len - q)
                abort();
            q += used;
            if (rc < 0) {
                r->rc = rc;
                lp2p_lpm_free(&rd);
                return;
            }
            if (rc == 0) {
                if (q != len)
                    abort();
                break;
            }
            if (m.len > max)
                abort();
            r->len[r->n] = m.len;
            r->sum[r->n] = sum(m.ptr, m.len);
            r->off[r->n] = pos + q;
            r->n++;
        }
        pos += len;
    }
    lp2p_lpm_free(&rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static result whole, chunked;
    if (size < 2)
        return 0;
    static const size_t maxes[] = {0, 1, 16, 1024, 4096, 8192};
    size_t max = maxes[data[0] % 6];
    size_t chunk = (size_t)data[1] % 17 + 1;
    data += 2, size -= 2;
    run(data, size, max, size ? size : 1, &whole);
    run(data, size, max, chunk, &chunked);
    if (whole.n != chunked.n || whole.rc != chunked.rc)
        abort();
    for (size_t i = 0; i < whole.n; i++)
        if (whole.len[i] != chunked.len[i] || whole.sum[i] != chunked.sum[i] ||
            whole.off[i] != chunked.off[i])
            abort();
    return 0;
}
