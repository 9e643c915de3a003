/* The text parsers of operator input that the other targets do not reach: Kaspa node IDs
 * (--node-id, 32 hex digits), Kaspa addresses (HOST:PORT, [v6]:PORT) and log levels. Any
 * bytes (NUL-terminated here, as a flag or config value is); invariants: no crash, and an
 * address that parses formats to text that parses to the same address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kaspa/session.h"
#include "lp2p/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    uint8_t id[KASPA_NODE_ID_LEN];
    (void)kaspa_node_id_parse(s, id);
    (void)lp2p_log_level_parse(s);
    kaspa_addr a, b;
    if (kaspa_addr_parse(s, &a) == 0) {
        char text[128];
        if (kaspa_addr_format(&a, text, sizeof text) < 0 || kaspa_addr_parse(text, &b) != 0 ||
            memcmp(&a, &b, sizeof a) != 0)
            abort();
    }
    free(s);
    return 0;
}
