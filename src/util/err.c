#include "lp2p/err.h"

const char *lp2p_strerror(int err)
{
    switch (err) {
#define XX(name, code, msg)                                                                        \
    case code:                                                                                     \
        return msg;
        LP2P_ERR_MAP(XX)
#undef XX
    }
    return "unknown error";
}

const char *lp2p_err_name(int err)
{
    switch (err) {
#define XX(name, code, msg)                                                                        \
    case code:                                                                                     \
        return #name;
        LP2P_ERR_MAP(XX)
#undef XX
    }
    return "UNKNOWN";
}
