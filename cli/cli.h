/* SPDX-License-Identifier: MIT */
/* gmf's subcommands. Each returns the process exit status. */
#ifndef GMF_CLI_CLI_H
#define GMF_CLI_CLI_H

#define GMF_VERSION "0.1.0"

#include <stdbool.h>
#include <stddef.h>

#include "base/types.h"

int cmd_conformance(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_explore(int argc, char **argv);
int cmd_kho(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_vmm(int argc, char **argv);

/*
 * A bad option: "gmf CMD: FLAG 'VAL': expected WHAT", or "gmf CMD: FLAG
 * needs a value: WHAT" when @val is NULL. Returns 2, the usage status.
 */
int cli_bad_flag(const char *cmd, const char *flag, const char *val, const char *expected);
/* A number, decimal or 0x hex, no sign, nothing after it. */
bool cli_parse_u64(const char *s, u64 *out);

/* Scenario files are at most this big. */
#define CLI_SCENARIO_MAX	(16u << 20)

/*
 * A whole file of at most @max bytes, NUL-terminated, for free(); NULL with
 * errno set (EFBIG when it is bigger).
 */
char *cli_read_file(const char *path, size_t max, size_t *len);

#endif
