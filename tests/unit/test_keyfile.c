/* Key file: libp2p's PrivateKey protobuf on disk, created once with safe permissions and
 * never overwritten; a file written by go-/js-libp2p (spec vector) loads as is. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lp2p/err.h"
#include "lp2p/identity.h"

static char tmpdir[256];

static int setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/lp2p-keyfile-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void vector_path(char *path, size_t cap, const char *name)
{
    const char *src = getenv("SRC_DIR");
    if (src) {
        snprintf(path, cap, "%s/tests/vectors/keys/%s", src, name);
    } else {
        const char *f = __FILE__, *p = strstr(f, "tests/unit/");
        assert_non_null(p);
        snprintf(path, cap, "%.*stests/vectors/keys/%s", (int)(p - f), f, name);
    }
}

static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void put(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void expect_id(const lp2p_keypair *kp, const char *want)
{
    char s[LP2P_PEER_ID_STR_MAX];
    assert_int_equal(lp2p_peer_id_to_string(lp2p_keypair_peer_id(kp), s, sizeof(s)), 0);
    assert_string_equal(s, want);
}

/* The spec's Ed25519 PrivateKey, byte for byte what crypto.MarshalPrivateKey (go) and
 * privateKeyToProtobuf (js) write to a key file. */
static void test_load_libp2p_key_file(void **state)
{
    char path[4096];
    vector_path(path, sizeof(path), "ed25519_private.key");
    lp2p_keypair *kp = NULL;
    char err[256] = "";
    assert_int_equal(lp2p_keyfile_load(path, &kp, err, sizeof(err)), 0);
    expect_id(kp, "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
    lp2p_keypair_del(kp);

    /* the same key through load_or_create: loaded, not created, file untouched */
    char copy[512];
    snprintf(copy, sizeof(copy), "%s/go.key", tmpdir);
    uint8_t buf[128];
    size_t n = slurp(path, buf, sizeof(buf));
    assert_int_equal(n, 68);
    put(copy, buf, n);
    int created = -1;
    assert_int_equal(lp2p_keyfile_load_or_create(copy, &kp, &created, err, sizeof(err)), 0);
    assert_int_equal(created, 0);
    expect_id(kp, "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
    lp2p_keypair_del(kp);

    /* legacy 96-byte form (old go-libp2p) */
    uint8_t legacy[100];
    memcpy(legacy, buf, 68);
    legacy[3] = 0x60;
    memcpy(legacy + 68, buf + 36, 32);
    snprintf(copy, sizeof(copy), "%s/legacy.key", tmpdir);
    put(copy, legacy, sizeof(legacy));
    assert_int_equal(lp2p_keyfile_load(copy, &kp, err, sizeof(err)), 0);
    expect_id(kp, "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq");
    lp2p_keypair_del(kp);
}

static void test_create_then_reload(void **state)
{
    char path[600], dir[512];
    snprintf(dir, sizeof(dir), "%s/cfg/kaspa-holepunch", tmpdir);
    snprintf(path, sizeof(path), "%s/identity.key", dir);
    lp2p_keypair *kp = NULL, *kp2 = NULL;
    int created = -1;
    char err[256] = "";
    assert_int_equal(lp2p_keyfile_load_or_create(path, &kp, &created, err, sizeof(err)), 0);
    assert_int_equal(created, 1);

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char parent[512];
    snprintf(parent, sizeof(parent), "%s/cfg", tmpdir);
    assert_int_equal(stat(parent, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    /* content: exactly the PrivateKey protobuf of the key we got */
    uint8_t buf[256], pb[LP2P_PRIVKEY_PB_MAX];
    size_t n = slurp(path, buf, sizeof(buf)), pn = sizeof(pb);
    assert_int_equal(n, 68);
    assert_memory_equal(buf, "\x08\x01\x12\x40", 4);
    assert_int_equal(lp2p_keypair_to_private_pb(kp, pb, &pn), 0);
    assert_memory_equal(buf, pb, n);

    /* no temporary file left behind */
    DIR *d = opendir(dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            entries++;
    closedir(d);
    assert_int_equal(entries, 1);

    /* second run: the same identity, nothing created */
    assert_int_equal(lp2p_keyfile_load_or_create(path, &kp2, &created, err, sizeof(err)), 0);
    assert_int_equal(created, 0);
    assert_true(lp2p_peer_id_equal(lp2p_keypair_peer_id(kp), lp2p_keypair_peer_id(kp2)));
    lp2p_keypair_del(kp2);

    /* keyfile_write never replaces an existing file */
    lp2p_keypair *other;
    assert_int_equal(lp2p_keypair_generate(&other), 0);
    assert_int_equal(lp2p_keyfile_write(path, other, err, sizeof(err)), LP2P_ERR_EXISTS);
    assert_non_null(strstr(err, "already exists"));
    uint8_t after[256];
    assert_int_equal(slurp(path, after, sizeof(after)), n);
    assert_memory_equal(after, buf, n);
    lp2p_keypair_del(other);
    lp2p_keypair_del(kp);
}

/* A bad file is an error with an explanation, and it is left exactly as it was. */
static void expect_refused(const char *name, const void *content, size_t n, int want_rc,
                           const char *want_text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    put(path, content, n);
    lp2p_keypair *kp = NULL;
    int created = -1;
    char err[256] = "";
    int rc = lp2p_keyfile_load_or_create(path, &kp, &created, err, sizeof(err));
    assert_int_equal(rc, want_rc);
    assert_null(kp);
    assert_int_equal(created, 0);
    if (!strstr(err, want_text))
        fail_msg("error text '%s' lacks '%s'", err, want_text);
    assert_non_null(strstr(err, path));
    uint8_t after[4096];
    assert_int_equal(slurp(path, after, sizeof(after)), n);
    if (n)
        assert_memory_equal(after, content, n);
}

static void test_bad_files_are_never_overwritten(void **state)
{
    expect_refused("garbage.key", "not a key at all\n", 17, LP2P_ERR_DECODE, "corrupt");
    expect_refused("empty.key", "", 0, LP2P_ERR_DECODE, "empty");

    char path[4096];
    uint8_t buf[4096];
    vector_path(path, sizeof(path), "ed25519_private.key");
    size_t n = slurp(path, buf, sizeof(buf));
    expect_refused("truncated.key", buf, n - 1, LP2P_ERR_DECODE, "corrupt");
    buf[n - 1] ^= 0x01; /* public half no longer matches the seed */
    expect_refused("mismatch.key", buf, n, LP2P_ERR_DECODE, "corrupt");

    vector_path(path, sizeof(path), "rsa_private.key");
    n = slurp(path, buf, sizeof(buf));
    expect_refused("rsa.key", buf, n, LP2P_ERR_UNSUPPORTED, "RSA");
    vector_path(path, sizeof(path), "secp256k1_private.key");
    n = slurp(path, buf, sizeof(buf));
    expect_refused("k1.key", buf, n, LP2P_ERR_UNSUPPORTED, "secp256k1");
}

static void test_unusable_paths(void **state)
{
    char path[512];
    lp2p_keypair *kp = NULL;
    int created = -1;
    char err[256] = "";
    /* a directory where the key should be */
    snprintf(path, sizeof(path), "%s/adir", tmpdir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(lp2p_keyfile_load_or_create(path, &kp, &created, err, sizeof(err)),
                     LP2P_ERR_INVAL);
    assert_non_null(strstr(err, "not a regular file"));
    /* a parent that is a file */
    snprintf(path, sizeof(path), "%s/afile", tmpdir);
    put(path, "x", 1);
    snprintf(path, sizeof(path), "%s/afile/identity.key", tmpdir);
    assert_int_equal(lp2p_keyfile_load_or_create(path, &kp, &created, err, sizeof(err)),
                     LP2P_ERR_IO);
    assert_non_null(strstr(err, "afile"));
    assert_null(kp);
    /* unreadable file: an error, and never replaced by a new key. Root reads anything, so
     * as root the check runs in a child that has dropped to uid/gid 65534 (nobody). */
    snprintf(path, sizeof(path), "%s/locked.key", tmpdir);
    put(path, "x", 1);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(chmod(tmpdir, 0711), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(2);
        } else if (chmod(path, 0) != 0) {
            _exit(3);
        }
        int rc = lp2p_keyfile_load_or_create(path, &kp, &created, err, sizeof(err));
        _exit(rc == LP2P_ERR_IO && created == 0 && strstr(err, "Permission denied") ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(chmod(path, 0600), 0);
    uint8_t b[8];
    assert_int_equal(slurp(path, b, sizeof(b)), 1);
    assert_int_equal(b[0], 'x');
    /* a missing file through plain load */
    snprintf(path, sizeof(path), "%s/missing.key", tmpdir);
    assert_int_equal(lp2p_keyfile_load(path, &kp, err, sizeof(err)), LP2P_ERR_NOT_FOUND);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_default_path(void **state)
{
    char out[256];
    setenv("XDG_CONFIG_HOME", "/x/conf", 1);
    setenv("HOME", "/home/u", 1);
    assert_int_equal(lp2p_keyfile_default_path(out, sizeof(out)), 0);
    assert_string_equal(out, "/x/conf/kaspa-holepunch/identity.key");
    assert_int_equal(lp2p_keyfile_default_path(out, 10), LP2P_ERR_TOO_LARGE);
    setenv("XDG_CONFIG_HOME", "relative", 1); /* invalid per the XDG spec: ignored */
    assert_int_equal(lp2p_keyfile_default_path(out, sizeof(out)), 0);
    assert_string_equal(out, "/home/u/.config/kaspa-holepunch/identity.key");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    assert_int_equal(lp2p_keyfile_default_path(out, sizeof(out)), LP2P_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_libp2p_key_file),
        cmocka_unit_test(test_create_then_reload),
        cmocka_unit_test(test_bad_files_are_never_overwritten),
        cmocka_unit_test(test_unusable_paths),
        cmocka_unit_test(test_default_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
