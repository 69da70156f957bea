// SPDX-License-Identifier: MIT
/* errno names for traces, tests and scenario files. */
#include <stdio.h>
#include <string.h>

#include "base/err.h"

static const struct {
	int err;
	const char *name;
} errnos[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" },
	{ EINTR, "EINTR" }, { EIO, "EIO" }, { ENXIO, "ENXIO" },
	{ E2BIG, "E2BIG" }, { EBADF, "EBADF" }, { EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { ENODEV, "ENODEV" },
	{ EINVAL, "EINVAL" }, { ENOSPC, "ENOSPC" }, { ESPIPE, "ESPIPE" },
	{ ERANGE, "ERANGE" }, { ENOSYS, "ENOSYS" }, { EOPNOTSUPP, "EOPNOTSUPP" },
	{ ENOTRECOVERABLE, "ENOTRECOVERABLE" }, { EHWPOISON, "EHWPOISON" },
	{ ENOTSUPP, "ENOTSUPP" }, { EOVERFLOW, "EOVERFLOW" },
	{ ENOTTY, "ENOTTY" }, { EFBIG, "EFBIG" },
};

const char *errno_name(int err)
{
	static char unknown[32];

	if (err < 0)
		err = -err;
	for (size_t i = 0; i < ARRAY_SIZE(errnos); i++)
		if (errnos[i].err == err)
			return errnos[i].name;
	snprintf(unknown, sizeof(unknown), "E%d", err);
	return unknown;
}

int errno_parse(const char *s, int *err)
{
	if (*s == '-')
		s++;
	for (size_t i = 0; i < ARRAY_SIZE(errnos); i++)
		if (!strcmp(errnos[i].name, s)) {
			*err = -errnos[i].err;
			return 0;
		}
	return 1;
}
