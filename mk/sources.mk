# SPDX-License-Identifier: MIT
# Explicit, sorted source lists: adding a file is a reviewed change.

BASE_SRCS := \
	base/alloc.c \
	base/errno.c \
	base/prng.c \
	base/rangemap.c \
	base/sync.c \
	base/trace.c

MM_SRCS :=

LIB_SRCS := $(BASE_SRCS) $(MM_SRCS)

CLI_SRCS := \
	cli/main.c

HARNESS_SRCS := \
	tests/harness/t_main.c

# One suite binary per directory of tests/unit/.
TEST_SUITES := base

BENCH_SRCS :=
