// SPDX-License-Identifier: MIT
/*
 * Files and the page cache: shmem/memfd, hugetlbfs and a disk-backed file
 * with writeback, each with its address_space_operations.
 *
 * Models: mm/filemap.c (__filemap_add_folio(), filemap_remove_folio()),
 * mm/truncate.c (truncate_inode_folio(), mapping_evict_folio(),
 * generic_error_remove_folio()), mm/shmem.c (shmem_error_remove_folio(),
 * the EIO on reading a poisoned folio), fs/hugetlbfs/inode.c
 * (hugetlbfs_error_remove_folio(), the short read at a raw poisoned page).
 *
 * MODEL: no data. A regular file's clean pages can always be read back from
 * "disk"; writeback is instantaneous at fsync and is not otherwise modelled.
 */
#include <stdio.h>
#include <string.h>

#include "mm/memory-failure.h"
#include "mm/mm.h"

const char *const file_kind_names[__NR_FILE_KINDS] = {
	[FILE_SHMEM] = "shmem",
	[FILE_HUGETLBFS] = "hugetlbfs",
	[FILE_REGULAR] = "regular",
	[FILE_GUEST_MEMFD] = "guest_memfd",
};

unsigned long folio_lock_pfn(const struct folio *folio)
{
	const struct guestmem_split *gs;

	if (folio->page_type == PGTY_guestmem_hugetlb &&
	    (gs = guestmem_split_lookup(folio->host, folio_pfn(folio))))
		return gs->node.start;
	return folio_pfn(folio);
}

static struct page *lock_page_of(struct folio *folio)
{
	return pfn_to_page(folio->host, folio_lock_pfn(folio));
}

void folio_lock(struct folio *folio)
{
	struct page *p = lock_page_of(folio);

	sync_lock_bit(&p->flags, PG_locked, p, "folio_lock");
}

void folio_unlock_pfn(struct host *host, unsigned long pfn)
{
	struct page *p = pfn_to_page(host, pfn);

	sync_unlock_bit(&p->flags, PG_locked, p, "folio_lock");
}

/* shmem keeps a poisoned folio in the page cache so that later reads fail. */
static int shmem_error_remove_folio(struct address_space *mapping, struct folio *folio)
{
	return 0;
}

/* hugetlbfs keeps it too: reads stop short at the raw poisoned page. */
static int hugetlbfs_error_remove_folio(struct address_space *mapping, struct folio *folio)
{
	return 0;
}

static int generic_error_remove_folio(struct address_space *mapping, struct folio *folio)
{
	if (!mapping)
		return -EINVAL;
	return truncate_inode_folio(mapping, folio);
}

static const struct address_space_operations shmem_aops = {
	.name = "shmem",
	.error_remove_folio = shmem_error_remove_folio,
};

static const struct address_space_operations hugetlbfs_aops = {
	.name = "hugetlbfs",
	.error_remove_folio = hugetlbfs_error_remove_folio,
};

static const struct address_space_operations regular_aops = {
	.name = "regular",
	.error_remove_folio = generic_error_remove_folio,
};

bool shmem_mapping(const struct address_space *mapping)
{
	return mapping && mapping->a_ops == &shmem_aops;
}

bool mapping_can_writeback(const struct address_space *mapping)
{
	return mapping->can_writeback;
}

void mapping_set_error(struct address_space *mapping, int error)
{
	if (!error)
		return;
	mapping->wb_err++;
	set_bit(error == -ENOSPC ? AS_ENOSPC : AS_EIO, &mapping->flags);
}

struct file *file_create(struct host *host, enum file_kind kind, const char *name,
			 u64 size, struct hstate *h)
{
	struct file *file;

	if (kind == FILE_HUGETLBFS && (!h || size % (PAGE_SIZE << h->order)))
		return ERR_PTR(-EINVAL);
	file = kzalloc(sizeof(*file), GFP_KERNEL);
	if (!file)
		return ERR_PTR(-ENOMEM);
	if (kind == FILE_HUGETLBFS) {
		file->spool = hugepage_new_subpool(h, -1, -1);
		if (!file->spool) {
			kfree(file);
			return ERR_PTR(-ENOMEM);
		}
	}
	file->kind = kind;
	snprintf(file->name, sizeof(file->name), "%s", name);
	file->i_size = size;
	file->hstate = h;
	file->refs = 1;
	file->f_mapping.host = host;
	rangemap_init(&file->f_mapping.i_pages);
	rangemap_init(&file->f_mapping.guestmem_splits);
	INIT_LIST_HEAD(&file->f_mapping.i_mmap);
	init_rwsem(&file->f_mapping.i_mmap_rwsem, "i_mmap_rwsem");
	init_rwsem(&file->f_mapping.invalidate_lock, "invalidate_lock");
	switch (kind) {
	case FILE_SHMEM:
		file->f_mapping.a_ops = &shmem_aops;
		break;
	case FILE_HUGETLBFS:
		file->f_mapping.a_ops = &hugetlbfs_aops;
		break;
	case FILE_REGULAR:
		file->f_mapping.a_ops = &regular_aops;
		file->f_mapping.can_writeback = true;
		break;
	case FILE_GUEST_MEMFD:
	case __NR_FILE_KINDS:
		break;
	}
	list_add_tail(&file->list, &host->files);
	return file;
}

void fput(struct file *file)
{
	if (--file->refs > 0)
		return;
	if (file->f_op && file->f_op->release)
		file->f_op->release(file);
	truncate_inode_pages_range(&file->f_mapping, 0, U64_MAX);
	hugetlb_unreserve_pages(file);
	if (file->spool) {
		file->spool->resv_owner = NULL;	/* pages freed later are not the file's */
		hugepage_put_subpool(file->spool);
	}
	list_del(&file->list);
	kfree(file);
}

struct folio *filemap_get_folio(struct address_space *mapping, pgoff_t index)
{
	struct range_node *n = rangemap_find(&mapping->i_pages, index);

	return n ? container_of(n, struct folio, cache_node) : NULL;
}

int filemap_add_folio(struct address_space *mapping, struct folio *folio, pgoff_t index)
{
	int ret;

	folio->cache_node.start = index;
	folio->cache_node.last = index + folio_nr_pages(folio) - 1;
	ret = rangemap_insert(&mapping->i_pages, &folio->cache_node);
	if (ret)
		return ret;
	folio->mapping = mapping;
	folio->index = index;
	folio_ref_add(folio, (int)folio_nr_pages(folio));
	mapping->nrpages += folio_nr_pages(folio);
	folio_set_uptodate(folio);
	if (!folio_test_hugetlb(folio)) {
		folio_set_lru(folio);
		if (test_bit(AS_UNEVICTABLE, &mapping->flags))
			folio_set_unevictable(folio);
		if (shmem_mapping(mapping))
			folio_set_swapbacked(folio);
	} else {
		folio_set_hugetlb_migratable(folio);
	}
	return 0;
}

/*
 * Remove @folio from its mapping and drop the page cache's references. It
 * stays on the LRU until its last reference goes (__folio_put()).
 */
void filemap_remove_folio(struct folio *folio)
{
	struct address_space *mapping = folio->mapping;

	rangemap_erase(&mapping->i_pages, &folio->cache_node);
	mapping->nrpages -= folio_nr_pages(folio);
	folio->mapping = NULL;
	folio_ref_sub(folio, (int)folio_nr_pages(folio));
}

int truncate_inode_folio(struct address_space *mapping, struct folio *folio)
{
	if (folio->mapping != mapping)
		return -EIO;
	try_to_unmap(folio, false);
	filemap_remove_folio(folio);
	return 0;
}

void truncate_inode_pages_range(struct address_space *mapping, u64 lstart, u64 lend)
{
	pgoff_t first = (pgoff_t)(lstart >> PAGE_SHIFT);
	pgoff_t last = lend == U64_MAX ? ~0UL : (pgoff_t)(lend >> PAGE_SHIFT);
	struct range_node *n;
	pgoff_t index = first;

	/*
	 * Each folio is locked while it goes: hold a reference, wait for its
	 * lock, then look again (memory_failure() may have held it meanwhile).
	 */
	while (index <= last && (n = rangemap_lower(&mapping->i_pages, index)) && n->start <= last) {
		struct folio *folio = container_of(n, struct folio, cache_node);
		unsigned long lock_pfn;

		index = n->last + 1;
		/* Only whole folios are dropped, as for HugeTLB hole punching. */
		if (n->start < first || n->last > last) {
			if (!index)
				break;
			continue;
		}
		folio_get(folio);
		lock_pfn = folio_lock_pfn(folio);
		folio_lock(folio);
		if (folio->mapping == mapping)
			truncate_inode_folio(mapping, folio);
		folio_unlock_pfn(mapping->host, lock_pfn);
		folio_put(folio);
		if (!index)
			break;
	}
}

bool mapping_evict_folio(struct address_space *mapping, struct folio *folio)
{
	if (!mapping || folio_test_dirty(folio) || folio_test_writeback(folio))
		return false;
	/* The page cache's references, plus the caller's. */
	if (folio_ref_count(folio) > (int)folio_nr_pages(folio) + 1)
		return false;
	if (folio_mapped(folio))
		return false;
	filemap_remove_folio(folio);
	return true;
}

struct folio *filemap_grab_folio(struct file *file, pgoff_t index, int *errp)
{
	struct address_space *mapping = &file->f_mapping;
	struct host *host = mapping->host;
	struct folio *folio;
	int ret;

	*errp = 0;
	if ((u64)index << PAGE_SHIFT >= file->i_size) {
		*errp = -EFAULT;
		return NULL;
	}
	folio = filemap_get_folio(mapping, index);
	if (folio)
		return folio;
	if (file->kind == FILE_HUGETLBFS) {
		folio = alloc_hugetlb_folio(host, file->hstate, 0, file->spool, &file->resv_hpages);
		if (IS_ERR(folio)) {
			*errp = (int)PTR_ERR(folio);
			return NULL;
		}
		index = ALIGN_DOWN(index, pages_per_huge_page(file->hstate));
	} else {
		folio = folio_alloc_node(host, 0, 0, FOLIO_OWNER_FILE);
		if (!folio) {
			*errp = -ENOMEM;
			return NULL;
		}
	}
	ret = filemap_add_folio(mapping, folio, index);
	/* The allocation's reference is handed over to the page cache. */
	folio_put(folio);
	if (ret) {
		*errp = ret;
		return NULL;
	}
	return folio;
}

/* Is the raw page at @index poisoned, as a read or write would find it? */
static bool index_hwpoisoned(struct folio *folio, pgoff_t index)
{
	struct page *p = page_lookup(folio->host, folio_pfn(folio) + (index - folio->index));

	if (folio_test_hugetlb(folio))
		return is_raw_hwpoison_page_in_hugepage(folio, p);
	return (p && PageHWPoison(p)) || folio_test_hwpoison(folio);
}

int file_write(struct file *file, u64 pos, u64 len)
{
	pgoff_t index;
	int err;

	if (file->f_op && file->f_op->write)
		return (int)file->f_op->write(file, pos, len);
	if (!len)
		return 0;
	if (pos + len > file->i_size)
		return -EFBIG;
	for (index = (pgoff_t)(pos >> PAGE_SHIFT); (u64)index << PAGE_SHIFT < pos + len; index++) {
		struct folio *folio = filemap_grab_folio(file, index, &err);

		if (!folio)
			return err;
		if (index_hwpoisoned(folio, index))
			return -EIO;
		folio_set_dirty(folio);
	}
	return 0;
}

long file_read(struct file *file, u64 pos, u64 len)
{
	u64 done = 0;
	pgoff_t index;
	int err;

	if (file->f_op && file->f_op->read)
		return file->f_op->read(file, pos, len);
	if (pos >= file->i_size)
		return 0;
	len = min(len, file->i_size - pos);
	for (index = (pgoff_t)(pos >> PAGE_SHIFT); done < len; index++) {
		struct folio *folio = filemap_grab_folio(file, index, &err);
		u64 chunk = min(len - done, PAGE_SIZE - ((pos + done) & (PAGE_SIZE - 1)));

		if (!folio)
			return done ? (long)done : err;
		if (index_hwpoisoned(folio, index))
			return done ? (long)done : -EIO;
		done += chunk;
	}
	return (long)done;
}

int file_fsync(struct file *file)
{
	struct range_node *n, *tmp;

	/* tmpfs and hugetlbfs have noop_fsync: no writeback, no error to report. */
	if (!mapping_can_writeback(&file->f_mapping))
		return 0;
	rangemap_for_each(&file->f_mapping.i_pages, n, tmp)
		folio_clear_dirty(container_of(n, struct folio, cache_node));
	if (file->f_err != file->f_mapping.wb_err) {
		file->f_err = file->f_mapping.wb_err;
		return -EIO;
	}
	return 0;
}

int file_fallocate_punch(struct file *file, u64 offset, u64 len)
{
	u64 align = file->kind == FILE_HUGETLBFS ? PAGE_SIZE << file->hstate->order : PAGE_SIZE;
	u64 start = ALIGN(offset, align), end = ALIGN_DOWN(offset + len, align);

	if (file->f_op && file->f_op->fallocate)
		return file->f_op->fallocate(file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
	if (end > start)
		truncate_inode_pages_range(&file->f_mapping, start, end - 1);
	return 0;
}
