// SPDX-License-Identifier: MIT
/* The instrumented allocator: see alloc.h. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

static struct {
	unsigned long calls;	/* attempts that could fail */
	unsigned long failed;
	unsigned long fail_nth;	/* 0: off */
	bool persist;
	long live;
} alloc_state;

void kmalloc_fault_set(unsigned long nth, bool persist)
{
	alloc_state.fail_nth = nth ? alloc_state.calls + nth : 0;
	alloc_state.persist = persist;
}

void kmalloc_fault_reset(void)
{
	alloc_state.calls = 0;
	alloc_state.failed = 0;
	alloc_state.fail_nth = 0;
	alloc_state.persist = false;
}

unsigned long kmalloc_calls(void) { return alloc_state.calls; }
unsigned long kmalloc_failed(void) { return alloc_state.failed; }
long kmalloc_live(void) { return alloc_state.live; }

static bool should_fail(gfp_t gfp)
{
	if (gfp & __GFP_NOFAIL)
		return false;
	alloc_state.calls++;
	if (!alloc_state.fail_nth)
		return false;
	if (alloc_state.calls == alloc_state.fail_nth ||
	    (alloc_state.persist && alloc_state.calls > alloc_state.fail_nth)) {
		alloc_state.failed++;
		return true;
	}
	return false;
}

static void *out_of_memory(size_t size)
{
	/* Real exhaustion of the host running the model: nothing sane to do. */
	fprintf(stderr, "gmf: out of memory allocating %zu bytes\n", size);
	abort();
}

void *kmalloc(size_t size, gfp_t gfp)
{
	void *p;

	if (should_fail(gfp))
		return NULL;
	p = (gfp & __GFP_ZERO) ? calloc(1, size ? size : 1) : malloc(size ? size : 1);
	if (!p)
		return out_of_memory(size);
	alloc_state.live++;
	return p;
}

void *kzalloc(size_t size, gfp_t gfp)
{
	return kmalloc(size, gfp | __GFP_ZERO);
}

void *kcalloc(size_t n, size_t size, gfp_t gfp)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return kzalloc(n * size, gfp);
}

void *krealloc_array(void *p, size_t n, size_t size, gfp_t gfp)
{
	void *q;

	if (size && n > SIZE_MAX / size)
		return NULL;
	if (should_fail(gfp))
		return NULL;
	q = realloc(p, n * size > 0 ? n * size : 1);
	if (!q)
		return out_of_memory(n * size);
	if (!p)
		alloc_state.live++;
	return q;
}

void kfree(const void *p)
{
	if (!p)
		return;
	alloc_state.live--;
	free((void *)p);
}

char *kstrdup(const char *s, gfp_t gfp)
{
	size_t n = strlen(s) + 1;
	char *d = kmalloc(n, gfp);

	if (d)
		memcpy(d, s, n);
	return d;
}
