/* SPDX-License-Identifier: MIT */
/*
 * The one instrumented allocator. Every model allocation goes through it, so
 * that a test can make the n-th allocation fail (once, or from then on) and
 * check at teardown that nothing leaked.
 *
 * MODEL: there is one allocator per process, not one per modelled host. A
 * test or an explored execution resets it with kmalloc_fault_reset() and
 * checks kmalloc_live() at the end.
 */
#ifndef GMF_BASE_ALLOC_H
#define GMF_BASE_ALLOC_H

#include <stddef.h>
#include <stdbool.h>
#include "base/compiler.h"

typedef unsigned int gfp_t;

#define GFP_KERNEL	0x0u
#define GFP_ATOMIC	0x1u
/* Never fails (and is never made to fail): the kernel's __GFP_NOFAIL. */
#define __GFP_NOFAIL	0x2u
#define __GFP_ZERO	0x4u

void *kmalloc(size_t size, gfp_t gfp) __attribute__((malloc));
void *kzalloc(size_t size, gfp_t gfp) __attribute__((malloc));
void *kcalloc(size_t n, size_t size, gfp_t gfp) __attribute__((malloc));
void *krealloc_array(void *p, size_t n, size_t size, gfp_t gfp);
void kfree(const void *p);
char *kstrdup(const char *s, gfp_t gfp);

/*
 * Make the @nth allocation from now on fail (1 = the next one); with
 * @persist, every allocation after it fails too. nth == 0 disables.
 */
void kmalloc_fault_set(unsigned long nth, bool persist);
void kmalloc_fault_reset(void);
/* Allocations attempted since the last reset, and how many were failed. */
unsigned long kmalloc_calls(void);
unsigned long kmalloc_failed(void);
/* Objects allocated and not yet freed. */
long kmalloc_live(void);

#endif
