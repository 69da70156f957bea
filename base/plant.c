// SPDX-License-Identifier: MIT
/* Planted race bugs: see plant.h. */
#include <errno.h>
#include <string.h>

#include "base/plant.h"

const char *const plant_bug_names[__NR_PLANT_BUGS] = {
	[PLANT_MERGE_CHECKS_UNLOCKED] = "merge_checks_unlocked",
	[PLANT_CONVERSION_CHECKS_UNLOCKED] = "conversion_checks_unlocked",
};

#ifdef GMF_PLANT_BUGS
unsigned long plant_bugs;
#endif

int plant_enable(const char *name)
{
	for (int i = 0; i < __NR_PLANT_BUGS; i++)
		if (!strcmp(name, plant_bug_names[i])) {
#ifdef GMF_PLANT_BUGS
			plant_bugs |= 1UL << i;
			return 0;
#endif
		}
	return -EINVAL;
}
