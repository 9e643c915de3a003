/* Identity key file: exactly the libp2p PrivateKey protobuf (what go-libp2p's
 * crypto.MarshalPrivateKey and js-libp2p's privateKeyToProtobuf write), so keys move
 * between implementations unchanged.
 *
 * Safety rules: an existing file is never overwritten (a corrupt one is an error the user
 * must resolve: silently replacing it would change the node's peer ID); a new file is
 * written to a temporary name, fsync'd, then renamed without replacement, so a crash never
 * leaves half a key; file mode 0600, new parent directories 0700. */
#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lp2p/err.h"
#include "lp2p/identity.h"
#include "util/log.h"

#define KEYFILE_PATH_MAX 4096

static int fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static const char *key_type_name(int t)
{
    switch (t) {
    case LP2P_KEY_RSA:
        return "RSA";
    case LP2P_KEY_ED25519:
        return "Ed25519";
    case LP2P_KEY_SECP256K1:
        return "secp256k1";
    case LP2P_KEY_ECDSA:
        return "ECDSA";
    default:
        return "unknown";
    }
}

/* Reads the whole file (at most LP2P_PRIVKEY_PB_LIMIT bytes) into buf. */
static int read_keyfile(const char *path, uint8_t *buf, size_t cap, size_t *n, char *errbuf,
                        size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return fail(errbuf, errlen, e == ENOENT ? LP2P_ERR_NOT_FOUND : LP2P_ERR_IO,
                    "cannot open key file %s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(errbuf, errlen, LP2P_ERR_INVAL, "key file %s is not a regular file", path);
    }
    if (st.st_mode & 077)
        lp2p_log(LP2P_WARN, "keyfile_permissions", LF_S("path", path),
                 LF_S("reason", "key file is readable by group or others; chmod 600 it"));
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return fail(errbuf, errlen, LP2P_ERR_IO, "cannot read key file %s: %s", path,
                        strerror(e));
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got == cap) {
            close(fd);
            return fail(errbuf, errlen, LP2P_ERR_DECODE,
                        "key file %s is corrupt: larger than any libp2p private key (%zu+ "
                        "bytes)",
                        path, cap);
        }
    }
    close(fd);
    *n = got;
    return 0;
}

int lp2p_keyfile_load(const char *path, lp2p_keypair **out, char *errbuf, size_t errlen)
{
    if (!path || !out)
        return fail(errbuf, errlen, LP2P_ERR_INVAL, "no key file path given");
    uint8_t *buf = malloc(LP2P_PRIVKEY_PB_LIMIT);
    if (!buf)
        return fail(errbuf, errlen, LP2P_ERR_NOMEM, "out of memory");
    size_t n = 0;
    int rc = read_keyfile(path, buf, LP2P_PRIVKEY_PB_LIMIT, &n, errbuf, errlen);
    if (rc == 0 && n == 0)
        rc = fail(errbuf, errlen, LP2P_ERR_DECODE, "key file %s is empty", path);
    if (rc == 0) {
        rc = lp2p_keypair_from_private_pb(buf, n, out);
        if (rc == LP2P_ERR_UNSUPPORTED) {
            /* The parser accepted the protobuf, so it starts with field 1: 08 <KeyType>. */
            rc = fail(errbuf, errlen, LP2P_ERR_UNSUPPORTED,
                      "key file %s holds a %s private key; only Ed25519 identities are "
                      "supported",
                      path, n >= 2 && buf[0] == 0x08 ? key_type_name(buf[1]) : "non-Ed25519");
        } else if (rc != 0) {
            rc = fail(errbuf, errlen, rc,
                      "key file %s is corrupt: not a libp2p PrivateKey protobuf holding a "
                      "consistent Ed25519 key (%zu bytes)",
                      path, n);
        }
    }
    OPENSSL_cleanse(buf, LP2P_PRIVKEY_PB_LIMIT);
    free(buf);
    return rc;
}

/* mkdir -p for the directory part of path; only directories we create get 0700. */
static int make_parent_dirs(const char *path, char *errbuf, size_t errlen)
{
    char dir[KEYFILE_PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof(dir))
        return fail(errbuf, errlen, LP2P_ERR_INVAL, "key file path too long");
    memcpy(dir, path, len + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0; /* relative name in the current directory, or a file in / */
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return fail(errbuf, errlen, LP2P_ERR_IO, "cannot create directory %s: %s", dir,
                        strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fail(errbuf, errlen, LP2P_ERR_IO, "cannot create directory %s: %s", dir,
                    strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return fail(errbuf, errlen, LP2P_ERR_IO, "%s is not a directory", dir);
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Moves tmp to path unless path exists. renameat2(RENAME_NOREPLACE) is atomic; where the
 * filesystem lacks it, link()+unlink() gives the same no-replace guarantee. */
static int publish_no_replace(const char *tmp, const char *path)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != EPERM)
        return -1;
    if (link(tmp, path) != 0)
        return -1;
    unlink(tmp);
    return 0;
}

static void fsync_parent(const char *path)
{
    char dir[KEYFILE_PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof(dir))
        return;
    memcpy(dir, path, len + 1);
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* makes the rename durable */
        close(fd);
    }
}

int lp2p_keyfile_write(const char *path, const lp2p_keypair *kp, char *errbuf, size_t errlen)
{
    if (!path || !*path || !kp)
        return fail(errbuf, errlen, LP2P_ERR_INVAL, "no key file path given");
    uint8_t pb[LP2P_PRIVKEY_PB_MAX];
    size_t n = sizeof(pb);
    int rc = lp2p_keypair_to_private_pb(kp, pb, &n);
    if (rc != 0)
        return fail(errbuf, errlen, rc, "cannot serialize the private key");
    rc = make_parent_dirs(path, errbuf, errlen);
    if (rc != 0)
        goto out;
    char tmp[KEYFILE_PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp)) {
        rc = fail(errbuf, errlen, LP2P_ERR_INVAL, "key file path too long");
        goto out;
    }
    int fd = mkstemp(tmp); /* mode 0600, O_EXCL */
    if (fd < 0) {
        rc = fail(errbuf, errlen, LP2P_ERR_IO, "cannot create a file next to %s: %s", path,
                  strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0600) != 0 || write_all(fd, pb, n) != 0 || fsync(fd) != 0) {
        rc =
            fail(errbuf, errlen, LP2P_ERR_IO, "cannot write key file %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0) {
        rc =
            fail(errbuf, errlen, LP2P_ERR_IO, "cannot write key file %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (publish_no_replace(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        rc = fail(errbuf, errlen, e == EEXIST ? LP2P_ERR_EXISTS : LP2P_ERR_IO,
                  e == EEXIST ? "key file %s already exists; not overwriting it"
                              : "cannot create key file %s: %s",
                  path, strerror(e));
        goto out;
    }
    fsync_parent(path);
out:
    OPENSSL_cleanse(pb, sizeof(pb));
    return rc;
}

int lp2p_keyfile_load_or_create(const char *path, lp2p_keypair **out, int *created, char *errbuf,
                                size_t errlen)
{
    if (created)
        *created = 0;
    if (!path || !*path || !out)
        return fail(errbuf, errlen, LP2P_ERR_INVAL, "no key file path given");
    int rc = lp2p_keyfile_load(path, out, errbuf, errlen);
    if (rc != LP2P_ERR_NOT_FOUND)
        return rc; /* loaded, or an existing file we must not touch */
    lp2p_keypair *kp;
    rc = lp2p_keypair_generate(&kp);
    if (rc != 0)
        return fail(errbuf, errlen, rc, "cannot generate an Ed25519 key");
    rc = lp2p_keyfile_write(path, kp, errbuf, errlen);
    if (rc == LP2P_ERR_EXISTS) {
        /* Another process created it between our load and write: use theirs. */
        lp2p_keypair_del(kp);
        return lp2p_keyfile_load(path, out, errbuf, errlen);
    }
    if (rc != 0) {
        lp2p_keypair_del(kp);
        return rc;
    }
    char idstr[LP2P_PEER_ID_STR_MAX];
    if (lp2p_peer_id_to_string(lp2p_keypair_peer_id(kp), idstr, sizeof(idstr)) == 0)
        lp2p_log(LP2P_INFO, "keyfile_created", LF_S("path", path), LF_S("peer", idstr));
    if (created)
        *created = 1;
    *out = kp;
    return 0;
}

int lp2p_keyfile_peer_id(const char *path, lp2p_peer_id *out, lp2p_key_type *type_out, char *errbuf,
                         size_t errlen)
{
    if (!path || !out)
        return fail(errbuf, errlen, LP2P_ERR_INVAL, "no key file path given");
    uint8_t *buf = malloc(LP2P_PRIVKEY_PB_LIMIT);
    uint8_t *pub = malloc(LP2P_PUBKEY_PB_ANY_MAX);
    int rc = buf && pub ? 0 : fail(errbuf, errlen, LP2P_ERR_NOMEM, "out of memory");
    size_t n = 0, publen = LP2P_PUBKEY_PB_ANY_MAX;
    if (rc == 0)
        rc = read_keyfile(path, buf, LP2P_PRIVKEY_PB_LIMIT, &n, errbuf, errlen);
    if (rc == 0 && n == 0)
        rc = fail(errbuf, errlen, LP2P_ERR_DECODE, "key file %s is empty", path);
    if (rc == 0) {
        rc = lp2p_private_pb_public_key(buf, n, pub, &publen, type_out);
        if (rc == LP2P_ERR_UNSUPPORTED)
            rc =
                fail(errbuf, errlen, rc,
                     "key file %s holds a key of an unknown type or outside the size limits", path);
        else if (rc != 0)
            rc = fail(errbuf, errlen, rc,
                      "key file %s is corrupt: not a libp2p PrivateKey protobuf (%zu bytes)", path,
                      n);
    }
    if (rc == 0 && (rc = lp2p_peer_id_from_pubkey(pub, publen, out)) != 0)
        rc = fail(errbuf, errlen, rc, "key file %s: cannot derive a peer ID", path);
    if (buf)
        OPENSSL_cleanse(buf, LP2P_PRIVKEY_PB_LIMIT);
    free(buf);
    free(pub);
    return rc;
}

int lp2p_keyfile_default_path(char *out, size_t outlen)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    /* XDG base-directory spec: a relative XDG_CONFIG_HOME is invalid and ignored. */
    if (xdg && xdg[0] == '/')
        n = snprintf(out, outlen, "%s/kaspa-holepunch/identity.key", xdg);
    else if (home && home[0])
        n = snprintf(out, outlen, "%s/.config/kaspa-holepunch/identity.key", home);
    else
        return LP2P_ERR_NOT_FOUND;
    if (n < 0 || (size_t)n >= outlen)
        return LP2P_ERR_TOO_LARGE;
    return 0;
}
