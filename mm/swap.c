// SPDX-License-Identifier: MIT
/*
 * Folio references and the free path a last reference takes.
 *
 * Models: mm/swap.c (__folio_put(), folios_put), include/linux/mm.h
 * (folio_put(), folio_ref_add()).
 */
#include "mm/mm.h"

static void __folio_put(struct folio *folio)
{
	if (folio_test_hugetlb(folio)) {
		free_huge_folio(folio);
		return;
	}
	free_frozen_pages(folio);
}

void folio_put(struct folio *folio)
{
	if (atomic_dec_and_test(&folio->_refcount))
		__folio_put(folio);
}

void folio_ref_add(struct folio *folio, int nr)
{
	atomic_add(nr, &folio->_refcount);
}

void folio_ref_sub(struct folio *folio, int nr)
{
	if (atomic_add_return(-nr, &folio->_refcount) == 0)
		__folio_put(folio);
}
