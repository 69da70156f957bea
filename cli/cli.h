/* SPDX-License-Identifier: MIT */
/* gmf's subcommands. Each returns the process exit status. */
#ifndef GMF_CLI_CLI_H
#define GMF_CLI_CLI_H

#define GMF_VERSION "0.1.0"

int cmd_conformance(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_kho(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_vmm(int argc, char **argv);

#endif
