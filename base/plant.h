/* SPDX-License-Identifier: MIT */
/*
 * Planted race bugs: known-wrong variants of model code, compiled in only
 * with -DGMF_PLANT_BUGS (make planted: build/planted/gmf) and switched on
 * one at a time (gmf explore --plant NAME). They prove that the race
 * explorer finds what it is for; tests/cli/test_explore.sh runs it on each
 * with a stated budget. In every other build PLANTED() is 0 and the
 * compiler drops the wrong variants.
 */
#ifndef GMF_BASE_PLANT_H
#define GMF_BASE_PLANT_H

#include <stdbool.h>

enum plant_bug {
	/* guestmem_hugetlb_merge() checks poison and references before it takes the lock. */
	PLANT_MERGE_CHECKS_UNLOCKED,
	/* A conversion to private unmaps and checks references before the invalidate lock. */
	PLANT_CONVERSION_CHECKS_UNLOCKED,
	__NR_PLANT_BUGS,
};

extern const char *const plant_bug_names[__NR_PLANT_BUGS];

#ifdef GMF_PLANT_BUGS
extern unsigned long plant_bugs;
#define PLANTED(bug)	((plant_bugs >> (bug)) & 1)
#define PLANT_BUGS_BUILT	true
#else
#define PLANTED(bug)	0
#define PLANT_BUGS_BUILT	false
#endif

/* Switch on the bug named @name (planted build only): 0 or -EINVAL. */
int plant_enable(const char *name);

#endif
