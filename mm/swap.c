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

/*
 * A piece of a split guest_memfd HugeTLB page that only memory_failure()
 * still holds is done with, under the distribute policy: its poison is
 * summarized when the huge page returns to HugeTLB, instead of the pin
 * keeping the whole huge page from ever returning.
 */
static void guestmem_piece_check(struct folio *folio)
{
	if (folio->page_type == PGTY_guestmem_hugetlb && folio->mf_pins && !folio->mapping &&
	    folio->owner == FOLIO_OWNER_FILE && folio_ref_count(folio) == folio->mf_pins &&
	    folio->host->sysctl.guestmem_split_poison == GUESTMEM_POISON_DISTRIBUTE)
		guestmem_hugetlb_free_piece(folio);
}

void folio_put(struct folio *folio)
{
	if (atomic_dec_and_test(&folio->_refcount))
		__folio_put(folio);
	else
		guestmem_piece_check(folio);
}

void folio_ref_add(struct folio *folio, int nr)
{
	atomic_add(nr, &folio->_refcount);
}

void folio_ref_sub(struct folio *folio, int nr)
{
	if (atomic_add_return(-nr, &folio->_refcount) == 0)
		__folio_put(folio);
	else
		guestmem_piece_check(folio);
}
