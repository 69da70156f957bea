/* SPDX-License-Identifier: MIT */
/*
 * A fuzz target defines fuzz_one(). driver.c turns it into a libFuzzer
 * target (make fuzz, clang) or into a corpus replayer (make test).
 */
#ifndef GMF_TESTS_FUZZ_H
#define GMF_TESTS_FUZZ_H

#include <stddef.h>
#include <stdio.h>

#include "base/types.h"

int fuzz_one(const u8 *data, size_t len);

#endif
