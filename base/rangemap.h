/* SPDX-License-Identifier: MIT */
/*
 * An ordered map of disjoint ranges [start, last] of unsigned long keys, with
 * the nodes embedded in the objects they index (like struct rb_node). The
 * model uses it wherever the kernel has a sparse index over a huge key space:
 * the pfn -> folio map of a 16 TiB host, free buddy ranges, page-cache
 * indexes, VMAs and page-table entries. Its size grows with the number of
 * ranges, never with the size of the key space.
 *
 * A treap whose priorities are a hash of the start key: the shape depends
 * only on the keys, so runs are deterministic; operations are O(log n)
 * expected. Insertion never allocates, so it cannot fail for lack of memory.
 */
#ifndef GMF_BASE_RANGEMAP_H
#define GMF_BASE_RANGEMAP_H

#include <stdbool.h>
#include "base/compiler.h"
#include "base/types.h"

struct range_node {
	unsigned long start, last;	/* inclusive */
	struct range_node *left, *right, *parent;
	u64 prio;
};

struct rangemap {
	struct range_node *root;
	unsigned long nr;
};

#define RANGEMAP_INIT { NULL, 0 }

static inline void rangemap_init(struct rangemap *m)
{
	m->root = NULL;
	m->nr = 0;
}

static inline bool rangemap_empty(const struct rangemap *m) { return !m->root; }

/* Insert @n with n->start and n->last set; -EEXIST if it overlaps a node. */
int __must_check rangemap_insert(struct rangemap *m, struct range_node *n);
void rangemap_erase(struct rangemap *m, struct range_node *n);
/* The node containing @key, or NULL. */
struct range_node *rangemap_find(const struct rangemap *m, unsigned long key);
/* The first node whose last >= @key (it may start after @key), or NULL. */
struct range_node *rangemap_lower(const struct rangemap *m, unsigned long key);
/* The last node whose start <= @key, or NULL. */
struct range_node *rangemap_upper(const struct rangemap *m, unsigned long key);
struct range_node *rangemap_first(const struct rangemap *m);
struct range_node *rangemap_last(const struct rangemap *m);
struct range_node *rangemap_next(const struct range_node *n);
struct range_node *rangemap_prev(const struct range_node *n);
/* Check the ordering, parent links, heap property and count. 0 or -EUCLEAN. */
int rangemap_validate(const struct rangemap *m);

/* Visit the nodes that intersect [first, last] in order; safe against erasing @n. */
#define rangemap_for_each_in(map, n, tmp, first, last)				\
	for (n = rangemap_lower(map, first), tmp = n ? rangemap_next(n) : NULL;	\
	     n && n->start <= (last);						\
	     n = tmp, tmp = n ? rangemap_next(n) : NULL)

#define rangemap_for_each(map, n, tmp)						\
	for (n = rangemap_first(map), tmp = n ? rangemap_next(n) : NULL;	\
	     n; n = tmp, tmp = n ? rangemap_next(n) : NULL)

#endif
