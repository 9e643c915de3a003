/* Subcommands of `holepunch`. Each parses its own flags and returns the exit code. */
#ifndef HOLEPUNCH_CMDS_H
#define HOLEPUNCH_CMDS_H

int cmd_keygen(int argc, char **argv);
int cmd_id(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_perf(int argc, char **argv);
int cmd_echo(int argc, char **argv);
int cmd_relay(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_bridge(int argc, char **argv);

#endif
