// SPDX-License-Identifier: MIT
/* A treap of disjoint ranges: see rangemap.h. */
#include <errno.h>

#include "base/rangemap.h"

#ifndef EUCLEAN
#define EUCLEAN 117
#endif

static u64 prio_of(unsigned long key)
{
	u64 z = (u64)key + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void replace_child(struct rangemap *m, struct range_node *parent,
			  struct range_node *old, struct range_node *new)
{
	if (!parent)
		m->root = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
	if (new)
		new->parent = parent;
}

/* Rotate @n above its parent. */
static void rotate_up(struct rangemap *m, struct range_node *n)
{
	struct range_node *p = n->parent, *g = p->parent;

	if (p->left == n) {
		p->left = n->right;
		if (n->right)
			n->right->parent = p;
		n->right = p;
	} else {
		p->right = n->left;
		if (n->left)
			n->left->parent = p;
		n->left = p;
	}
	p->parent = n;
	replace_child(m, g, p, n);
}

int rangemap_insert(struct rangemap *m, struct range_node *n)
{
	struct range_node **link = &m->root, *parent = NULL, *prev, *next;

	if (n->last < n->start)
		return -EINVAL;
	prev = rangemap_upper(m, n->start);
	if (prev && prev->last >= n->start)
		return -EEXIST;
	next = rangemap_lower(m, n->start);
	if (next && next->start <= n->last)
		return -EEXIST;

	while (*link) {
		parent = *link;
		link = n->start < parent->start ? &parent->left : &parent->right;
	}
	n->left = n->right = NULL;
	n->parent = parent;
	n->prio = prio_of(n->start);
	*link = n;
	while (n->parent && n->parent->prio < n->prio)
		rotate_up(m, n);
	m->nr++;
	return 0;
}

void rangemap_erase(struct rangemap *m, struct range_node *n)
{
	/* Rotate @n down below its higher-priority child until it is a leaf. */
	while (n->left || n->right) {
		struct range_node *c;

		if (!n->left)
			c = n->right;
		else if (!n->right)
			c = n->left;
		else
			c = n->left->prio > n->right->prio ? n->left : n->right;
		rotate_up(m, c);
	}
	replace_child(m, n->parent, n, NULL);
	n->parent = n->left = n->right = NULL;
	m->nr--;
}

struct range_node *rangemap_upper(const struct rangemap *m, unsigned long key)
{
	struct range_node *n = m->root, *best = NULL;

	while (n) {
		if (n->start <= key) {
			best = n;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	return best;
}

struct range_node *rangemap_find(const struct rangemap *m, unsigned long key)
{
	struct range_node *n = rangemap_upper(m, key);

	return n && n->last >= key ? n : NULL;
}

struct range_node *rangemap_lower(const struct rangemap *m, unsigned long key)
{
	struct range_node *n = rangemap_upper(m, key);

	if (n && n->last >= key)
		return n;
	return n ? rangemap_next(n) : rangemap_first(m);
}

struct range_node *rangemap_first(const struct rangemap *m)
{
	struct range_node *n = m->root;

	while (n && n->left)
		n = n->left;
	return n;
}

struct range_node *rangemap_last(const struct rangemap *m)
{
	struct range_node *n = m->root;

	while (n && n->right)
		n = n->right;
	return n;
}

struct range_node *rangemap_next(const struct range_node *n)
{
	const struct range_node *p;

	if (n->right) {
		n = n->right;
		while (n->left)
			n = n->left;
		return (struct range_node *)n;
	}
	for (p = n->parent; p && p->right == n; n = p, p = p->parent)
		;
	return (struct range_node *)p;
}

struct range_node *rangemap_prev(const struct range_node *n)
{
	const struct range_node *p;

	if (n->left) {
		n = n->left;
		while (n->right)
			n = n->right;
		return (struct range_node *)n;
	}
	for (p = n->parent; p && p->left == n; n = p, p = p->parent)
		;
	return (struct range_node *)p;
}

static int validate_subtree(const struct range_node *n, unsigned long *count)
{
	int ret;

	if (!n)
		return 0;
	(*count)++;
	if (n->last < n->start)
		return -EUCLEAN;
	if (n->left && (n->left->parent != n || n->left->prio > n->prio ||
			n->left->start > n->start))
		return -EUCLEAN;
	if (n->right && (n->right->parent != n || n->right->prio > n->prio ||
			 n->right->start < n->start))
		return -EUCLEAN;
	ret = validate_subtree(n->left, count);
	return ret ? ret : validate_subtree(n->right, count);
}

int rangemap_validate(const struct rangemap *m)
{
	const struct range_node *n, *prev = NULL;
	unsigned long count = 0;
	int ret;

	if (m->root && m->root->parent)
		return -EUCLEAN;
	ret = validate_subtree(m->root, &count);
	if (ret)
		return ret;
	if (count != m->nr)
		return -EUCLEAN;
	for (n = rangemap_first(m); n; prev = n, n = rangemap_next(n))
		if (prev && prev->last >= n->start)
			return -EUCLEAN;
	return 0;
}
