// SPDX-License-Identifier: MIT
/*
 * gmf: the command-line tool of gmemfail. Exit status: 0 success, 1 an
 * expectation or check did not hold, 2 usage or input errors; gmf vmm also
 * 71 and 75 (the intake's fatal and eviction statuses) and 77 (no KVM).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "conformance", cmd_conformance, "guest_memfd uAPI cases on the model and on real KVM, compared" },
	{ "demo", cmd_demo, "a built-in demonstration: memory failures of different kinds" },
	{ "explore", cmd_explore, "explore a scenario's concurrent block: every interleaving, or random ones" },
	{ "kho", cmd_kho, "KHO images: save one from a scenario, restore it on a new host, dump it" },
	{ "replay", cmd_replay, "replay one schedule of a concurrent block, printing its trace" },
	{ "run", cmd_run, "run scenario files and check their expectations" },
	{ "vmm", cmd_vmm, "the small VMM on real KVM: run it, inject memory errors, read its record" },
};

int cli_bad_flag(const char *cmd, const char *flag, const char *val, const char *expected)
{
	if (val)
		fprintf(stderr, "gmf %s: %s '%s': expected %s\n", cmd, flag, val, expected);
	else
		fprintf(stderr, "gmf %s: %s needs a value: %s\n", cmd, flag, expected);
	return 2;
}

bool cli_parse_u64(const char *s, u64 *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

char *cli_read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t got;

		if (n + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = (cap ? cap * 2 : 8192));

			if (!nb) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
		if (n > max) {
			free(buf);
			fclose(f);
			errno = EFBIG;
			return NULL;
		}
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: gmf [--help] [--version] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'gmf COMMAND --help' describes a command; 'man docs/gmf.1' has the details.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("gmf %s\n", GMF_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "gmf: unknown command '%s' (see gmf --help)\n", argv[1]);
	return 2;
}
