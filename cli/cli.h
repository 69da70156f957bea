/* SPDX-License-Identifier: MIT */
/* gmf's subcommands. Each returns the process exit status. */
#ifndef GMF_CLI_CLI_H
#define GMF_CLI_CLI_H

#define GMF_VERSION "0.1.0"

#include <stddef.h>

int cmd_conformance(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_explore(int argc, char **argv);
int cmd_kho(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_vmm(int argc, char **argv);

/* A whole file (at most 16 MiB), NUL-terminated; NULL with errno set. */
char *cli_read_file(const char *path, size_t *len);

#endif
