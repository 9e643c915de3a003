/* The config file of every holepunch command: `--config FILE` (or HOLEPUNCH_CONFIG).
 *
 * One flag per line as `name = value`, the flag's long name without "--"; `#` starts a
 * comment line; a list flag (listen, relay, peer, remote, announce) repeats its key. The file
 * is parsed by libinih and turned into flag words placed before the command's own arguments,
 * so every command reads it through the parser it already has. Precedence (DESIGN.md):
 * flags, then the environment, then the file: an entry whose key the command line or its
 * environment variable already gives is dropped, so a list on the command line replaces the
 * file's list instead of adding to it. */
#ifndef HOLEPUNCH_CONFIG_FILE_H
#define HOLEPUNCH_CONFIG_FILE_H

#include <stddef.h>

/* Runs `run` (a command's entry point, argv[0] = the command's name) with the config file's
 * entries in front of argv. An unreadable file, a bad line, an unknown key or a value the
 * command refuses is explained on stderr as FILE:LINE with what to write instead, and
 * returns 2 without running the command. */
int config_file_run(int (*run)(int argc, char **argv), int argc, char **argv);

/* SIGHUP: reads the file given at start again and calls apply(key, value, ud) for each
 * entry whose key is in `keys` (NULL-ended) and not given on the command line or by its
 * environment variable (those still win). Returns 0 (nothing to reload without a file, or
 * all applied), or -1 with the reason in why when the file no longer parses or apply
 * refused a value; apply should then stage, and the caller commit only on 0. */
int config_file_reload(const char *const *keys,
                       int (*apply)(const char *key, const char *value, void *ud), void *ud,
                       char *why, size_t whylen);
/* The config file the process started with, or NULL. */
const char *config_file_path(void);

#endif
