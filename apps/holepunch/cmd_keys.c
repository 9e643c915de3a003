/* holepunch keygen / id */
#include "cli.h"
#include "cmds.h"

#include "lp2p/err.h"

#include <stdio.h>
#include <string.h>

static const cli_flag k_no_flags[] = {{NULL, 0, NULL, NULL, 0, NULL, NULL}};

/* keygen and id take the key and the logging flags only. */
static int parse_key_flags(cli_common *c, int argc, char **argv, const char *cmd, const char *help,
                           const char *examples)
{
    c->groups = CLI_G_KEY | CLI_G_LOG;
    c->examples = examples;
    return cli_parse_flags(c, argc, argv, cmd, help, k_no_flags);
}

int cmd_keygen(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    int rc = parse_key_flags(&c, argc, argv, "keygen",
                             "usage: holepunch keygen [--key FILE]\n\n"
                             "Writes a new Ed25519 identity key (mode 0600) and prints its peer "
                             "ID.\nRefuses to overwrite an existing file.\n\n",
                             "  holepunch keygen\n"
                             "  holepunch keygen --key=/var/lib/kaspa-holepunch/relay.key\n");
    if (rc != 0) {
        cli_common_free(&c);
        return rc < 0 ? 2 : 0;
    }
    lp2p_keypair *kp = NULL;
    char err[256] = "";
    if ((rc = lp2p_keypair_generate(&kp)) < 0 ||
        (rc = lp2p_keyfile_write(c.key_path, kp, err, sizeof(err))) < 0) {
        fprintf(stderr, "holepunch keygen: %s: %s\n", c.key_path, err[0] ? err : lp2p_strerror(rc));
        lp2p_keypair_del(kp);
        cli_common_free(&c);
        return 1;
    }
    char id[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(lp2p_keypair_peer_id(kp), id, sizeof(id));
    printf("%s\n", id);
    lp2p_keypair_del(kp);
    cli_common_free(&c);
    return 0;
}

int cmd_id(int argc, char **argv)
{
    cli_common c;
    cli_common_init(&c);
    int rc = parse_key_flags(&c, argc, argv, "id",
                             "usage: holepunch id [--key FILE]\n\n"
                             "Prints the peer ID of an existing key file: ours, or one written "
                             "by go-libp2p\nor js-libp2p (protobuf PrivateKey).\n\n",
                             "  holepunch id\n"
                             "  holepunch id --key=/var/lib/kaspa-holepunch/relay.key\n");
    if (rc != 0) {
        cli_common_free(&c);
        return rc < 0 ? 2 : 0;
    }
    /* Any of the four key types names a peer (go and js write RSA/secp256k1/ECDSA too). */
    lp2p_peer_id pid;
    lp2p_key_type type;
    char err[256] = "";
    rc = lp2p_keyfile_peer_id(c.key_path, &pid, &type, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "holepunch id: %s: %s\n", c.key_path, err[0] ? err : lp2p_strerror(rc));
        cli_common_free(&c);
        return 1;
    }
    char id[LP2P_PEER_ID_STR_MAX];
    lp2p_peer_id_to_string(&pid, id, sizeof(id));
    printf("%s\n", id);
    cli_common_free(&c);
    return 0;
}
