/* SPDX-License-Identifier: MIT */
/* ERR_PTR and friends, as in include/linux/err.h. */
#ifndef GMF_BASE_ERR_H
#define GMF_BASE_ERR_H

#include <errno.h>
#include <stdbool.h>
#include "base/compiler.h"

#define MAX_ERRNO	4095

/* Kernel-internal errno values that userspace headers do not define. */
#ifndef ENOTSUPP
#define ENOTSUPP	524
#endif

#define IS_ERR_VALUE(x) unlikely((unsigned long)(void *)(x) >= (unsigned long)-MAX_ERRNO)

static inline void *ERR_PTR(long error) { return (void *)error; }
static inline long PTR_ERR(const void *ptr) { return (long)ptr; }
static inline bool IS_ERR(const void *ptr) { return IS_ERR_VALUE((unsigned long)ptr); }
static inline bool IS_ERR_OR_NULL(const void *ptr) { return !ptr || IS_ERR(ptr); }

/* errno_name(-EBUSY) == "EBUSY"; for traces, tests and scenario output. */
const char *errno_name(int err);
/* Parse "EBUSY" or "-EBUSY" into -EBUSY; returns 1 when @s is not a known name. */
int errno_parse(const char *s, int *err);

#endif
