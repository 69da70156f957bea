/* SPDX-License-Identifier: MIT */
/*
 * Sets of index ranges, for memory attributes: the VM-level private gfns and
 * a guest_memfd's private offsets. Built on base/rangemap; adjacent ranges
 * are merged, so a file that is all private is one range.
 */
#ifndef GMF_KVM_ATTR_H
#define GMF_KVM_ATTR_H

#include "base/rangemap.h"

/* Make [first, last] set (@on) or clear. 0 or -ENOMEM, with nothing changed on failure. */
int __must_check attr_set_range(struct rangemap *m, unsigned long first, unsigned long last, bool on);
bool attr_test(const struct rangemap *m, unsigned long index);
/* The first index in [first, last] whose state differs from @on, or last + 1. */
unsigned long attr_first_not(const struct rangemap *m, unsigned long first, unsigned long last, bool on);
void attr_clear_all(struct rangemap *m);

#endif
