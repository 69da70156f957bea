// SPDX-License-Identifier: MIT
/*
 * The fuzz driver. With FUZZ_LIBFUZZER it is libFuzzer's entry point;
 * otherwise main() replays every file of the directories it is given, one
 * test per file, and ends with "# NAME: N passed, N failed, N skipped".
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"

#ifdef FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const u8 *data, size_t len);

int LLVMFuzzerTestOneInput(const u8 *data, size_t len)
{
	return fuzz_one(data, len);
}
#else
static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	unsigned long passed = 0, failed = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: %s NAME DIR...\n", argv[0]);
		return 2;
	}
	for (int d = 2; d < argc; d++) {
		DIR *dir = opendir(argv[d]);
		struct dirent *de;
		char **names = NULL;
		size_t n = 0;

		if (!dir) {
			printf("not ok %lu %s # cannot open\n", passed + failed + 1, argv[d]);
			failed++;
			continue;
		}
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.')
				continue;
			names = realloc(names, (n + 1) * sizeof(*names));
			names[n++] = strdup(de->d_name);
		}
		closedir(dir);
		qsort(names, n, sizeof(*names), cmp);
		for (size_t i = 0; i < n; i++) {
			char path[4096];
			FILE *f;
			u8 *buf;
			long len;

			snprintf(path, sizeof(path), "%s/%s", argv[d], names[i]);
			f = fopen(path, "rb");
			if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
				printf("not ok %lu %s # cannot read\n", passed + failed + 1, path);
				failed++;
				if (f)
					fclose(f);
				continue;
			}
			buf = malloc((size_t)len + 1);
			if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
				printf("not ok %lu %s # short read\n", passed + failed + 1, path);
				failed++;
			} else {
				/* A crash, a leak or a sanitizer report ends the process here. */
				fuzz_one(buf, (size_t)len);
				printf("ok %lu %s\n", passed + failed + 1, path);
				passed++;
			}
			fflush(stdout);
			free(buf);
			fclose(f);
			free(names[i]);
		}
		free(names);
	}
	printf("# %s: %lu passed, %lu failed, 0 skipped\n", argv[1], passed, failed);
	return failed ? 1 : 0;
}
#endif
