// SPDX-License-Identifier: MIT
/* Sets of index ranges: see attr.h. */
#include <errno.h>

#include "base/alloc.h"
#include "kvm/attr.h"

struct attr_range {
	struct range_node node;
};

bool attr_test(const struct rangemap *m, unsigned long index)
{
	return rangemap_find(m, index) != NULL;
}

unsigned long attr_first_not(const struct rangemap *m, unsigned long first, unsigned long last, bool on)
{
	unsigned long i = first;

	while (i <= last) {
		struct range_node *n = rangemap_find(m, i);

		if (on != (n != NULL))
			return i;
		if (n) {
			if (n->last >= last)
				return last + 1;
			i = n->last + 1;
		} else {
			struct range_node *next = rangemap_lower(m, i);

			if (!next || next->start > last)
				return last + 1;
			i = next->start;
		}
	}
	return last + 1;
}

int attr_set_range(struct rangemap *m, unsigned long first, unsigned long last, bool on)
{
	struct attr_range *a = kzalloc(sizeof(*a), GFP_KERNEL);
	struct attr_range *b = kzalloc(sizeof(*b), GFP_KERNEL);
	struct range_node *n, *tmp;
	unsigned long lo = first, hi = last;

	if (!a || !b) {
		kfree(a);
		kfree(b);
		return -ENOMEM;
	}
	/* Take out every range that touches [first - 1, last + 1], keeping its outside parts. */
	rangemap_for_each_in(m, n, tmp, first ? first - 1 : 0, last == ~0UL ? last : last + 1) {
		unsigned long s = n->start, e = n->last;

		rangemap_erase(m, n);
		kfree(container_of(n, struct attr_range, node));
		if (on) {
			lo = min(lo, s);
			hi = max(hi, e);
			continue;
		}
		if (s < first) {
			struct attr_range *l = a ? a : kzalloc(sizeof(*l), __GFP_NOFAIL);

			a = NULL;
			l->node.start = s;
			l->node.last = first - 1;
			(void)!rangemap_insert(m, &l->node);
		}
		if (e > last) {
			struct attr_range *r = b ? b : kzalloc(sizeof(*r), __GFP_NOFAIL);

			b = NULL;
			r->node.start = last + 1;
			r->node.last = e;
			(void)!rangemap_insert(m, &r->node);
		}
	}
	if (on) {
		a->node.start = lo;
		a->node.last = hi;
		(void)!rangemap_insert(m, &a->node);
		a = NULL;
	}
	kfree(a);
	kfree(b);
	return 0;
}

void attr_clear_all(struct rangemap *m)
{
	struct range_node *n, *tmp;

	rangemap_for_each(m, n, tmp) {
		rangemap_erase(m, n);
		kfree(container_of(n, struct attr_range, node));
	}
}
