// SPDX-License-Identifier: MIT
/* gmf: the command-line tool. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("usage: gmf COMMAND [ARGS]\n");
		return argc < 2 ? 2 : 0;
	}
	fprintf(stderr, "gmf: unknown command '%s' (see gmf --help)\n", argv[1]);
	return 2;
}
