// SPDX-License-Identifier: MIT
/*
 * Live update of guest_memfd: preserve (freeze, check, serialize), kexec
 * into a new host over the same memory, retrieve, finish. kho.h has the
 * flow; docs/divergences.md the simplifications.
 *
 * Models: kernel/liveupdate/kexec_handover.c (kho_preserve_folio(),
 * kho_restore_folio(): a preserved page is reserved memory whose head
 * carries KHO_PAGE_MAGIC until it is claimed), kernel/liveupdate/luo_file.c
 * (preserve, freeze, retrieve, finish), mm/memfd_luo.c (folios back into the
 * page cache at their index with their dirty and uptodate flags) and the
 * guest_memfd LUO series v4 [P] (freeze with -EPERM, -EHWPOISON on a
 * poisoned file, vm_token).
 *
 * MODEL: the image carries more than the series: attributes, bindings,
 * HugeTLB split pages and, under KHO_POISON_CARRY, poison
 * (kernel-semantics.md 6.5). The host-wide poison list is carried under
 * both policies, so that nothing poisoned is handed out by the new host.
 */
#include <stdlib.h>
#include <string.h>

#include "kho/kho.h"
#include "kvm/attr.h"

const char *const kho_poison_policy_names[__NR_KHO_POISON_POLICIES] = {
	[KHO_POISON_REFUSE] = "refuse",
	[KHO_POISON_CARRY] = "carry",
};

/* ---- sorted pfn sets ------------------------------------------------------- */

struct u64vec {
	u64 *v;
	size_t n, cap;
};

static int vec_push(struct u64vec *vec, u64 x)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? 2 * vec->cap : 16;
		u64 *v = krealloc_array(vec->v, cap, sizeof(*v), GFP_KERNEL);

		if (!v)
			return -ENOMEM;
		vec->v = v;
		vec->cap = cap;
	}
	vec->v[vec->n++] = x;
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static void vec_sort_uniq(struct u64vec *vec)
{
	size_t j = 0;

	if (!vec->n)
		return;
	qsort(vec->v, vec->n, sizeof(*vec->v), u64_cmp);
	for (size_t i = 1; i < vec->n; i++)
		if (vec->v[i] != vec->v[j])
			vec->v[++j] = vec->v[i];
	vec->n = j + 1;
}

/* The first index of sorted @v whose value is >= @x. */
static size_t lower_bound(const u64 *v, size_t n, u64 x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool pfn_in(const u64 *v, size_t n, u64 pfn)
{
	size_t i = lower_bound(v, n, pfn);

	return i < n && v[i] == pfn;
}

/* Copy the members of sorted @set within [first, first + nr) into a new array. */
static int pfns_in_range(const struct u64vec *set, u64 first, u64 nr, u64 **out, size_t *nout)
{
	size_t lo = lower_bound(set->v, set->n, first), hi = lower_bound(set->v, set->n, first + nr);

	*out = NULL;
	*nout = hi - lo;
	if (!*nout)
		return 0;
	*out = kcalloc(*nout, sizeof(u64), GFP_KERNEL);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, set->v + lo, *nout * sizeof(u64));
	return 0;
}

/*
 * Every poisoned raw page of @host, as validate_poison() counts them: the
 * PG_hwpoison pages, but a HugeTLB folio's raw list rather than its head
 * flag, and a copy-head split's stash rather than its copies.
 * MODEL: a raw list that became unreliable is carried as what it holds.
 */
static int collect_host_poison(struct host *host, struct u64vec *out)
{
	struct range_node *n;
	struct raw_hwp_page *r;
	int ret = 0;

	for (n = rangemap_first(&host->pages); n && !ret; n = rangemap_next(n)) {
		const struct page *p = container_of(n, struct page, node);
		const struct folio *f = pfn_folio_lookup(host, n->start);
		const struct guestmem_split *gs = guestmem_split_lookup(host, n->start);

		if (!PageHWPoison(p) || (f && folio_test_hugetlb(f) && folio_pfn(f) == n->start) ||
		    (gs && gs->hwpoison))
			continue;
		ret = vec_push(out, n->start);
	}
	for (n = rangemap_first(&host->memmap); n && !ret; n = rangemap_next(n)) {
		struct folio *f = container_of(n, struct folio, pfn_node);

		if (!folio_test_hugetlb(f) || !folio_test_hwpoison(f))
			continue;
		list_for_each_entry(r, &f->raw_hwp_list, node)
			if (!ret)
				ret = vec_push(out, page_to_pfn(r->page));
	}
	for (n = rangemap_first(&host->guestmem_splits); n && !ret; n = rangemap_next(n)) {
		struct guestmem_split *gs = container_of(n, struct guestmem_split, node);

		if (!gs->hwpoison)
			continue;
		list_for_each_entry(r, &gs->raw_hwp_list, node)
			if (!ret)
				ret = vec_push(out, page_to_pfn(r->page));
	}
	vec_sort_uniq(out);
	return ret;
}

/* ---- serialize ------------------------------------------------------------- */

static void kho_gmem_free(struct kho_gmem *f)
{
	for (size_t j = 0; j < f->nr_splits; j++) {
		kfree(f->splits[j].memcg);
		kfree(f->splits[j].hugetlb_cg);
		kfree(f->splits[j].raw_poison);
	}
	kfree(f->splits);
	kfree(f->bindings);
	kfree(f->attrs);
	kfree(f->folios);
	kfree(f->poison);
	memset(f, 0, sizeof(*f));
}

static bool kho_gmem_poisoned(const struct kho_gmem *f)
{
	if (f->nr_poison)
		return true;
	for (size_t i = 0; i < f->nr_splits; i++)
		if (f->splits[i].nr_raw_poison)
			return true;
	return false;
}

static char *cgroup_name_dup(const char *name)
{
	return kstrdup(name, GFP_KERNEL);
}

static int serialize_attrs(struct kvm_gmem *g, struct kho_gmem *f)
{
	unsigned long pages = (unsigned long)(f->size >> PAGE_SHIFT), idx = 0;
	size_t cap = 0;

	while (idx < pages) {
		bool priv = attr_test(&g->private, idx);
		unsigned long next = attr_first_not(&g->private, idx, pages - 1, priv);

		if (f->nr_attrs == cap) {
			struct kho_attr_run *a;

			cap = cap ? 2 * cap : 8;
			a = krealloc_array(f->attrs, cap, sizeof(*a), GFP_KERNEL);
			if (!a)
				return -ENOMEM;
			f->attrs = a;
		}
		f->attrs[f->nr_attrs++] = (struct kho_attr_run){ idx, next - idx, priv };
		idx = next;
	}
	return 0;
}

static int serialize_folios(struct kvm_gmem *g, const struct u64vec *hp, struct kho_gmem *f)
{
	struct address_space *mapping = &g->file->f_mapping;
	struct u64vec poison = { 0 };
	struct range_node *n;
	size_t nr = 0;
	int ret = 0;

	for (n = rangemap_first(&mapping->i_pages); n; n = rangemap_next(n))
		nr++;
	f->folios = kcalloc(nr ? nr : 1, sizeof(*f->folios), GFP_KERNEL);
	if (!f->folios)
		return -ENOMEM;
	for (n = rangemap_first(&mapping->i_pages); n && !ret; n = rangemap_next(n)) {
		const struct folio *fo = container_of(n, struct folio, cache_node);
		u64 pfn = folio_pfn(fo), end = pfn + folio_nr_pages(fo);
		u32 flags = (folio_test_uptodate(fo) ? KHO_FOLIO_UPTODATE : 0) |
			    (folio_test_dirty(fo) ? KHO_FOLIO_DIRTY : 0);

		f->folios[f->nr_folios++] = (struct kho_folio){ fo->index, pfn, fo->order, flags };
		for (size_t i = lower_bound(hp->v, hp->n, pfn); i < hp->n && hp->v[i] < end && !ret; i++)
			ret = vec_push(&poison, hp->v[i]);
	}
	vec_sort_uniq(&poison);
	f->poison = poison.v;
	f->nr_poison = poison.n;
	return ret;
}

static int serialize_splits(struct kvm_gmem *g, const struct u64vec *hp, struct kho_gmem *f)
{
	struct address_space *mapping = &g->file->f_mapping;
	struct range_node *n;
	size_t nr = 0;
	int ret = 0;

	for (n = rangemap_first(&mapping->guestmem_splits); n; n = rangemap_next(n))
		nr++;
	if (!nr)
		return 0;
	f->splits = kcalloc(nr, sizeof(*f->splits), GFP_KERNEL);
	if (!f->splits)
		return -ENOMEM;
	for (n = rangemap_first(&mapping->guestmem_splits); n && !ret; n = rangemap_next(n)) {
		const struct guestmem_split *gs = container_of(n, struct guestmem_split, file_node);
		struct kho_split *s = &f->splits[f->nr_splits++];

		s->head_pfn = gs->node.start;
		s->order = gs->order;
		s->subpool_resv = gs->spool ? 1 : 0;
		/* The root's memcg is never charged (NULL); its hugetlb group is "". */
		if (gs->memcg)
			s->memcg = cgroup_name_dup(container_of(gs->memcg, struct cgroup, memcg)->name);
		if (gs->h_cg)
			s->hugetlb_cg = cgroup_name_dup(container_of(gs->h_cg, struct cgroup, h_cg)->name);
		if ((gs->memcg && !s->memcg) || (gs->h_cg && !s->hugetlb_cg))
			ret = -ENOMEM;
		if (!ret)
			ret = pfns_in_range(hp, s->head_pfn, 1ULL << s->order, &s->raw_poison,
					    &s->nr_raw_poison);
	}
	return ret;
}

/* Describe @g as the image has it, with @hp the host's poisoned pfns (sorted). */
static int kho_serialize(struct kvm_gmem *g, u64 token, u64 vm_token, const struct u64vec *hp,
			 struct kho_gmem *f)
{
	const u64 known = KHO_GMEM_FLAG_MMAP | KHO_GMEM_FLAG_INIT_SHARED | KHO_GMEM_HUGETLB_MASK;
	struct kvm_memory_slot *slot;
	size_t nr = 0;
	int ret;

	BUILD_BUG_ON(KHO_GMEM_FLAG_MMAP != GUEST_MEMFD_FLAG_MMAP);
	BUILD_BUG_ON(KHO_GMEM_FLAG_INIT_SHARED != GUEST_MEMFD_FLAG_INIT_SHARED);
	BUILD_BUG_ON(KHO_GMEM_HUGETLB_SHIFT != GUESTMEM_HUGETLB_FLAG_SHIFT);
	memset(f, 0, sizeof(*f));
	f->token = token;
	f->size = g->file->i_size;
	f->flags = g->flags & known;
	f->page_order = g->h ? g->h->order : 0;
	f->vm_token = vm_token;
	/* The model's policy is a 64-node mask: the first word of the image's. */
	BUILD_BUG_ON(KHO_MPOL_BIND != MPOL_BIND || KHO_MPOL_INTERLEAVE != MPOL_INTERLEAVE);
	BUILD_BUG_ON(MAX_NUMNODES > 64);
	f->policy.mode = g->policy.mode;
	f->policy.nodemask[0] = g->policy.nodes;

	list_for_each_entry(slot, &g->bindings, gmem_node)
		nr++;
	if (nr) {
		f->bindings = kcalloc(nr, sizeof(*f->bindings), GFP_KERNEL);
		if (!f->bindings)
			return -ENOMEM;
	}
	list_for_each_entry(slot, &g->bindings, gmem_node)
		f->bindings[f->nr_bindings++] = (struct kho_binding){
			.slot = (u64)slot->as_id << 16 | slot->id, .base_gfn = slot->base_gfn,
			.npages = slot->npages, .pgoff = slot->gmem.pgoff,
		};
	ret = serialize_attrs(g, f);
	if (!ret)
		ret = serialize_folios(g, hp, f);
	if (!ret)
		ret = serialize_splits(g, hp, f);
	if (ret)
		kho_gmem_free(f);
	return ret;
}

/* ---- the session on the old host ------------------------------------------ */

void kho_session_init(struct kho_session *s, struct host *host, enum kho_poison_policy poison)
{
	memset(s, 0, sizeof(*s));
	s->host = host;
	s->poison = poison;
	s->img.memory_pages = host->max_pfn;
}

int kho_preserve(struct kho_session *s, struct kvm_gmem *gmem, u64 token, u64 vm_token)
{
	struct u64vec hp = { 0 };
	struct kho_gmem f;
	size_t n = s->img.nr_files;
	void *p;
	int ret;

	if (s->frozen)
		return -EBUSY;
	for (size_t i = 0; i < n; i++)
		if (s->img.files[i].token == token || s->gmems[i] == gmem)
			return -EEXIST;
	ret = collect_host_poison(s->host, &hp);
	if (!ret)
		ret = kho_serialize(gmem, token, vm_token, &hp, &f);
	kfree(hp.v);
	if (ret)
		return ret;
	if (s->poison == KHO_POISON_REFUSE && kho_gmem_poisoned(&f)) {
		trace_note(s->host->trace, "kho: guest_memfd token %#llx holds a poisoned page: not preserved",
			   (unsigned long long)token);
		kho_gmem_free(&f);
		return -EHWPOISON;
	}
	p = krealloc_array(s->img.files, n + 1, sizeof(*s->img.files), GFP_KERNEL);
	if (p)
		s->img.files = p;
	p = p ? krealloc_array(s->gmems, n + 1, sizeof(*s->gmems), GFP_KERNEL) : NULL;
	if (p)
		s->gmems = p;
	p = p ? krealloc_array(s->vm_tokens, n + 1, sizeof(*s->vm_tokens), GFP_KERNEL) : NULL;
	if (!p) {
		kho_gmem_free(&f);
		if (!n) {
			/* Nothing preserved yet: what this call allocated goes too. */
			kfree(s->img.files);
			s->img.files = NULL;
			kfree(s->gmems);
			s->gmems = NULL;
		}
		return -ENOMEM;
	}
	s->vm_tokens = p;
	s->img.files[n] = f;
	s->gmems[n] = gmem;
	s->vm_tokens[n] = vm_token;
	s->img.nr_files = n + 1;
	gmem->frozen = true;
	trace_note(s->host->trace, "kho: guest_memfd preserved as token %#llx: %zu folios, %zu split pages, %zu poisoned pages",
		   (unsigned long long)token, f.nr_folios, f.nr_splits, f.nr_poison);
	return 0;
}

int kho_freeze(struct kho_session *s)
{
	size_t n = s->img.nr_files;
	struct u64vec hp = { 0 };
	struct kho_gmem *files;
	struct kho_error err;
	void *blob;
	size_t len, i;
	int ret;

	if (s->frozen)
		return 0;
	files = kcalloc(n ? n : 1, sizeof(*files), GFP_KERNEL);
	if (!files)
		return -ENOMEM;
	ret = collect_host_poison(s->host, &hp);
	for (i = 0; !ret && i < n; i++) {
		ret = kho_serialize(s->gmems[i], s->img.files[i].token, s->vm_tokens[i], &hp, &files[i]);
		if (!ret && s->poison == KHO_POISON_REFUSE && kho_gmem_poisoned(&files[i])) {
			trace_note(s->host->trace, "kho: guest_memfd token %#llx was poisoned after preserve: kexec aborted",
				   (unsigned long long)files[i].token);
			ret = -EHWPOISON;
		}
	}
	if (!ret) {
		/* Checked before it replaces the session's image: a failed freeze changes nothing. */
		struct kho_image next = {
			.memory_pages = s->host->max_pfn, .files = files, .nr_files = n,
			.poison = hp.v, .nr_poison = hp.n,
		};

		ret = kho_image_build(&next, &blob, &len, &err);
		if (ret)
			trace_note(s->host->trace, "kho: image refused: %s", err.msg);
		else
			kfree(blob);
	}
	if (ret) {
		/* The loop stepped past the failed file; a failed serialize left it empty. */
		while (i--)
			kho_gmem_free(&files[i]);
		kfree(files);
		kfree(hp.v);
		return ret;
	}
	for (i = 0; i < n; i++) {
		kho_gmem_free(&s->img.files[i]);
		s->img.files[i] = files[i];
	}
	kfree(files);
	kfree(s->img.poison);
	s->img.poison = hp.v;
	s->img.nr_poison = hp.n;
	s->img.memory_pages = s->host->max_pfn;
	s->frozen = true;
	trace_note(s->host->trace, "kho: frozen: %zu files, %zu poisoned pfns, a %zu-byte image",
		   n, hp.n, len);
	return 0;
}

void kho_session_destroy(struct kho_session *s)
{
	kho_image_free(&s->img);
	kfree(s->gmems);
	kfree(s->vm_tokens);
	memset(s, 0, sizeof(*s));
}

void kho_session_abort(struct kho_session *s)
{
	for (size_t i = 0; i < s->img.nr_files; i++)
		s->gmems[i]->frozen = false;
	kho_session_destroy(s);
}

/* ---- kexec: the new host -------------------------------------------------- */

/*
 * Keep [pfn, pfn + 2^order) out of the allocator as the new kernel does
 * with a preserved folio: memblock-reserved memory, KHO_PAGE_MAGIC on its
 * head, until kho_restore_folio() or the finish.
 */
static void kho_reserve_folio(struct host *host, u64 pfn, unsigned int order)
{
	struct folio *f = folio_new(host, (unsigned long)pfn, order, FOLIO_OWNER_RESERVED, __GFP_NOFAIL);

	folio_set_reserved(f);
	atomic_set(&f->_refcount, 1);
	f->extra_refs = 1;
	pfn_to_page(host, (unsigned long)pfn)->private = KHO_PAGE_MAGIC;
}

static int kho_reserve(struct host *host, u64 pfn, unsigned int order)
{
	if (alloc_contig_pfn_range(host, (unsigned long)pfn, 1UL << order))
		return -EINVAL;
	kho_reserve_folio(host, pfn, order);
	return 0;
}

static struct folio *kho_preserved(struct host *host, u64 pfn, unsigned int order)
{
	struct folio *f = pfn_folio_lookup(host, (unsigned long)pfn);
	struct page *p = page_lookup(host, (unsigned long)pfn);

	if (!f || f->owner != FOLIO_OWNER_RESERVED || folio_pfn(f) != pfn ||
	    folio_nr_pages(f) != 1UL << order || !p || p->private != KHO_PAGE_MAGIC)
		return NULL;
	return f;
}

/*
 * Poison @pfn again on the new host, as memory_failure() left it on the
 * old one: a free page is taken off buddy and pinned; a page in reserved
 * or preserved memory keeps its owner. Counted in HardwareCorrupted.
 */
static int kho_poison_pfn(struct host *host, unsigned long pfn)
{
	struct page *p;

	if (!pfn_valid(host, pfn))
		return -EINVAL;
	p = pfn_to_page(host, pfn);
	if (!pfn_folio_lookup(host, pfn)) {
		struct folio *f;

		if (alloc_contig_pfn_range(host, pfn, 1))
			return -EINVAL;
		f = folio_new(host, pfn, 0, FOLIO_OWNER_HWPOISON, __GFP_NOFAIL);
		if (!f)
			return -EINVAL;
		atomic_set(&f->_refcount, 1);
		f->mf_pins = 1;
		p->private = MAGIC_HWPOISON;
	}
	hwpoison_mark_page(p);
	p->mf_handled = true;
	p->mf_unmapped = true;
	return 0;
}

static int hstate_idx_of_order(struct host *host, unsigned int order)
{
	struct hstate *h = order ? hstate_of_order(host, order) : NULL;

	return h ? hstate_index(host, h) : -1;
}

struct host *kho_kexec(struct host *old, const struct kho_image *img, struct trace *trace)
{
	unsigned long preserved_huge[HUGE_MAX_HSTATE] = { 0 }, reserved = 0;
	struct u64vec late = { 0 };
	size_t nr_late = 0;
	struct host_config cfg = old->config;
	struct kho_error err;
	struct host *host;
	void *blob;
	size_t len;
	int ret, i;

	ret = kho_image_build(img, &blob, &len, &err);
	if (ret) {
		trace_note(old->trace, "kho: image refused: %s", err.msg);
		return ERR_PTR(ret);
	}
	kfree(blob);
	if (img->memory_pages != old->max_pfn)
		return ERR_PTR(-EINVAL);
	/* The boot pool comes after the preserved pages are set aside. */
	memset(cfg.hugepages, 0, sizeof(cfg.hugepages));
	host = host_create(&cfg, trace);
	if (IS_ERR(host))
		return host;
	memcpy(host->config.hugepages, old->config.hugepages, sizeof(cfg.hugepages));
	/* Same kernel, same command line and sysctl.conf: the same switches. */
	host->sysctl = old->sysctl;
	host->arch = old->arch;
	host->arm64.feat_ras = old->arm64.feat_ras;
	host->arm64.apei = old->arm64.apei;
	host->memory_hugetlb_accounting = old->memory_hugetlb_accounting;
	if (old->kvm_state) {
		struct kvm_state *ks = kvm_state(host), *oks = old->kvm_state;

		ks->gmem_mf_stage = oks->gmem_mf_stage;
		ks->gmem_mf_kill = oks->gmem_mf_kill;
		ks->tdx_bug_policy = oks->tdx_bug_policy;
	}
	/*
	 * The same physical memory: a bad cell stays bad (page->hw_bad), though
	 * the new kernel knows only the poison the image names; an error the
	 * image missed is found again when the page is consumed.
	 */
	for (struct range_node *n = rangemap_first(&old->pages); n; n = rangemap_next(n))
		if (container_of(n, struct page, node)->hw_bad)
			pfn_to_page(host, n->start)->hw_bad = true;

	for (size_t fi = 0; fi < img->nr_files; fi++) {
		const struct kho_gmem *f = &img->files[fi];

		for (size_t j = 0; j < f->nr_folios; j++) {
			const struct kho_folio *fo = &f->folios[j];

			if (fo->order != f->page_order)
				continue;	/* a piece: its split page is reserved whole */
			ret = kho_reserve(host, fo->pfn, fo->order);
			if (ret)
				goto fail;
			reserved += 1UL << fo->order;
			i = hstate_idx_of_order(host, fo->order);
			if (i >= 0)
				preserved_huge[i]++;
		}
		for (size_t j = 0; j < f->nr_splits; j++) {
			ret = kho_reserve(host, f->splits[j].head_pfn, f->splits[j].order);
			if (ret)
				goto fail;
			reserved += 1UL << f->splits[j].order;
			i = hstate_idx_of_order(host, f->splits[j].order);
			if (i >= 0)
				preserved_huge[i]++;
		}
	}
	for (size_t j = 0; j < img->nr_poison; j++) {
		ret = kho_poison_pfn(host, (unsigned long)img->poison[j]);
		if (ret)
			goto fail;
	}
	/*
	 * An error handled after the freeze is not in the image, but the old
	 * kernel still knows it at the kexec point: the host-wide poison list
	 * is the last thing it hands over, so the new kernel learns of it too.
	 */
	ret = collect_host_poison(old, &late);
	if (ret)
		goto fail;
	for (size_t j = 0; j < late.n; j++) {
		if (pfn_in(img->poison, img->nr_poison, late.v[j]))
			continue;
		ret = kho_poison_pfn(host, (unsigned long)late.v[j]);
		if (ret)
			goto fail;
		nr_late++;
		trace_note(host->trace, "kho: kexec: pfn %#llx was poisoned after the freeze: poisoned again",
			   (unsigned long long)late.v[j]);
	}
	kfree(late.v);
	late.v = NULL;
	/*
	 * hugepages=N counts the preserved huge pages: the pool gets the rest
	 * now, the preserved ones join it in use at retrieve or free at finish.
	 */
	for (i = HUGE_MAX_HSTATE - 1; i >= 0; i--) {
		struct hstate *h = &host->hstates[i];
		unsigned long want = old->config.hugepages[i];

		want = want > preserved_huge[i] ? want - preserved_huge[i] : 0;
		for (unsigned long n = 0; n < want; n++) {
			int nid = (int)(n % (unsigned long)host->nr_nodes);

			if (set_max_huge_pages(h, host, h->nr_huge_pages_node[nid] + 1, nid)) {
				trace_note(host->trace, "kho: %s: only %lu of %lu boot pages", h->name,
					   h->nr_huge_pages, want);
				break;
			}
		}
	}
	trace_note(host->trace, "kho: kexec: %zu files, %lu preserved pages reserved, %zu poisoned pfns poisoned again",
		   img->nr_files, reserved, img->nr_poison + nr_late);
	return host;
fail:
	kfree(late.v);
	trace_note(old->trace, "kho: the image does not fit the new host's memory");
	kvm_host_teardown(host);
	host_destroy(host);
	return ERR_PTR(ret);
}

/* ---- retrieve ---------------------------------------------------------------- */

/* kho_restore_folio(): the reserved range becomes a folio of @owner, refcount 1. */
static struct folio *kho_claim(struct host *host, u64 pfn, unsigned int order, enum folio_owner owner)
{
	struct folio *r = kho_preserved(host, pfn, order), *f;

	pfn_to_page(host, (unsigned long)pfn)->private = 0;
	folio_destroy(r);
	f = folio_new(host, (unsigned long)pfn, order, owner, __GFP_NOFAIL);
	atomic_set(&f->_refcount, 1);
	return f;
}

static void kho_folio_flags(struct folio *folio, u32 flags)
{
	if (flags & KHO_FOLIO_UPTODATE)
		folio_set_uptodate(folio);
	else
		folio_clear_uptodate(folio);
	if (flags & KHO_FOLIO_DIRTY)
		folio_set_dirty(folio);
	else
		folio_clear_dirty(folio);
}

/* memory_failure()'s reference on a poisoned page it handled: it stays forever. */
static void kho_mf_pin(struct folio *folio)
{
	folio->mf_pins++;
	folio_get(folio);
}

/*
 * The charges of a restored HugeTLB page: the group of that name if the new
 * host has it, else the retrieving task's.
 * MODEL: forced (the page is in use already); the kernel would charge at
 * retrieve and could fail.
 */
static void kho_charge(struct host *host, struct hstate *h, const char *memcg_name,
		       const char *hcg_name, struct mem_cgroup **memcg, struct hugetlb_cgroup **h_cg)
{
	struct cgroup *cur = task_cgroup(host, host->current), *mc = cur, *hc = cur, *c;
	unsigned long nr = pages_per_huge_page(h);

	if (memcg_name && *memcg_name && (c = cgroup_find(host, memcg_name)))
		mc = c;
	if (hcg_name && *hcg_name && (c = cgroup_find(host, hcg_name)))
		hc = c;
	hc->h_cg.hugepage[hstate_index(host, h)].usage += nr;
	*h_cg = &hc->h_cg;
	*memcg = NULL;
	if (host->memory_hugetlb_accounting && mc != &host->root_cgroup) {
		mc->memcg.memory.usage += nr;
		*memcg = &mc->memcg;
	}
}

/* A preserved huge page back as an in-use HugeTLB folio of @g at @index. */
static struct folio *kho_restore_huge(struct kvm_gmem *g, u64 pfn, pgoff_t index, const char *memcg,
				      const char *hcg)
{
	struct host *host = g->kvm->host;
	struct hstate *h = g->h;
	struct file *file = g->file;
	struct folio *folio = kho_claim(host, pfn, h->order, FOLIO_OWNER_HUGETLB);

	folio->page_type = PGTY_hugetlb;
	folio->hstate = h;
	h->nr_huge_pages++;
	h->nr_huge_pages_node[folio->nid]++;
	list_add_tail(&folio->lru, &h->hugepage_activelist);
	kho_charge(host, h, memcg, hcg, &folio->memcg, &folio->h_cg);
	file->spool->used_hpages++;
	file->spool->count++;
	folio->spool = file->spool;
	WARN_ON(host, filemap_add_folio(&file->f_mapping, folio, index));
	folio_put(folio);	/* the page cache holds it now */
	if (kvm_state(host)->gmem_mf_stage == GMEM_MF_INITIAL)
		folio_clear_hugetlb_migratable(folio);
	return folio;
}

/*
 * Poison of an unsplit HugeTLB folio is the head's flag and the raw list,
 * not flags on the raw pages (folio_set_hugetlb_hwpoison()).
 */
static void kho_huge_poison(struct folio *folio, const struct kho_gmem *f)
{
	struct host *host = folio->host;
	u64 pfn = folio_pfn(folio), end = pfn + folio_nr_pages(folio);
	bool any = false;

	for (size_t i = lower_bound(f->poison, f->nr_poison, pfn); i < f->nr_poison && f->poison[i] < end; i++) {
		struct page *p = pfn_to_page(host, (unsigned long)f->poison[i]);
		struct raw_hwp_page *r = kzalloc(sizeof(*r), __GFP_NOFAIL);

		ClearPageHWPoison(p);
		r->page = p;
		list_add_tail(&r->node, &folio->raw_hwp_list);
		any = true;
	}
	if (any)
		(void)folio_test_set_hwpoison(folio);
}

/*
 * A split page: the huge folio is restored whole, split again, its free
 * pieces freed. On failure the huge folio may be left whole in the file:
 * kho_unretrieve() takes it back.
 */
static int kho_restore_split(struct kvm_gmem *g, const struct kho_gmem *f, const struct kho_split *s)
{
	struct host *host = g->kvm->host;
	unsigned long nr = 1UL << s->order;
	const struct kho_folio **pieces;
	struct folio *huge;
	pgoff_t base = 0;
	bool found = false;
	int ret;

	pieces = kcalloc(nr, sizeof(*pieces), GFP_KERNEL);
	if (!pieces)
		return -ENOMEM;
	for (size_t j = 0; j < f->nr_folios; j++) {
		const struct kho_folio *fo = &f->folios[j];

		if (fo->order || fo->pfn < s->head_pfn || fo->pfn >= s->head_pfn + nr)
			continue;
		pieces[fo->pfn - s->head_pfn] = fo;
		base = (pgoff_t)(fo->index - (fo->pfn - s->head_pfn));
		found = true;
	}
	if (!found) {
		/* No piece is in the file: nothing to give back; the finish frees it. */
		kfree(pieces);
		return 0;
	}
	/* The split must not take the raw pages' flags for the head's. */
	for (size_t j = 0; j < s->nr_raw_poison; j++)
		ClearPageHWPoison(pfn_to_page(host, (unsigned long)s->raw_poison[j]));
	huge = kho_restore_huge(g, s->head_pfn, base, s->memcg, s->hugetlb_cg);
	ret = guestmem_hugetlb_split(huge);
	for (size_t j = 0; j < s->nr_raw_poison; j++)
		SetPageHWPoison(pfn_to_page(host, (unsigned long)s->raw_poison[j]));
	if (ret) {
		trace_note(host->trace, "kho: cannot split the page at pfn %#llx again: %d",
			   (unsigned long long)s->head_pfn, ret);
		kfree(pieces);
		return ret;
	}
	for (unsigned long i = 0; i < nr; i++) {
		struct folio *p = pfn_folio_lookup(host, (unsigned long)s->head_pfn + i);
		bool poisoned = pfn_in(s->raw_poison, s->nr_raw_poison, s->head_pfn + i);

		if (pieces[i]) {
			kho_folio_flags(p, pieces[i]->flags);
			if (poisoned)
				kho_mf_pin(p);
			continue;
		}
		/* Not in the file before: a freed piece again (and a pinned one if poisoned). */
		folio_get(p);
		filemap_remove_folio(p);
		folio_put(p);
		if (poisoned)
			kho_mf_pin(p);
	}
	kfree(pieces);
	return 0;
}

/* ---- undoing a retrieve ----------------------------------------------------- */

/*
 * Take @folio out of @mapping's page cache without freeing it: its memory
 * goes back to preserved memory, not to an allocator.
 */
static void kho_uncache(struct address_space *mapping, struct folio *folio)
{
	rangemap_erase(&mapping->i_pages, &folio->cache_node);
	mapping->nrpages -= folio_nr_pages(folio);
	folio->mapping = NULL;
}

/* kho_restore_huge() and kho_huge_poison() undone: reserved with the magic again. */
static void kho_unrestore_huge(struct address_space *mapping, struct folio *folio)
{
	struct host *host = folio->host;
	struct hstate *h = folio->hstate;
	unsigned long pfn = folio_pfn(folio);
	unsigned int order = folio->order;
	struct raw_hwp_page *r, *tmp;

	kho_uncache(mapping, folio);
	list_del_init(&folio->lru);
	h->nr_huge_pages--;
	h->nr_huge_pages_node[folio->nid]--;
	hugetlb_cgroup_uncharge_folio(hstate_index(host, h), pages_per_huge_page(h), folio);
	mem_cgroup_uncharge(folio);
	if (folio->spool) {
		folio->spool->used_hpages--;
		hugepage_put_subpool(folio->spool);
		folio->spool = NULL;
	}
	/* The poison goes back from the raw list to the raw pages, as kexec set it. */
	list_for_each_entry_safe(r, tmp, &folio->raw_hwp_list, node) {
		SetPageHWPoison(r->page);
		list_del(&r->node);
		kfree(r);
	}
	folio_destroy(folio);
	kho_reserve_folio(host, pfn, order);
}

/* kho_restore_split() undone: the pieces and the split's metadata go, the page is reserved again. */
static void kho_unrestore_split(struct address_space *mapping, struct guestmem_split *gs)
{
	struct host *host = mapping->host;
	unsigned long head = gs->node.start, nr = 1UL << gs->order;
	struct raw_hwp_page *r, *tmp;

	for (unsigned long i = 0; i < nr; i++) {
		struct folio *p = pfn_folio_lookup(host, head + i);

		if (p->mapping == mapping)
			kho_uncache(mapping, p);
		folio_destroy(p);
	}
	rangemap_erase(&host->guestmem_splits, &gs->node);
	rangemap_erase(&mapping->guestmem_splits, &gs->file_node);
	if (gs->h_cg)
		page_counter_uncharge(&gs->h_cg->hugepage[hstate_index(host, gs->h)], nr);
	if (gs->memcg)
		page_counter_uncharge(&gs->memcg->memory, nr);
	gs->h->nr_huge_pages--;
	gs->h->nr_huge_pages_node[gs->nid]--;
	if (gs->spool) {
		gs->spool->used_hpages--;
		hugepage_put_subpool(gs->spool);
	}
	/* Nothing is stashed: the restore splits an unpoisoned head. */
	list_for_each_entry_safe(r, tmp, &gs->raw_hwp_list, node) {
		SetPageHWPoison(r->page);
		list_del(&r->node);
		kfree(r);
	}
	kho_reserve_folio(host, head, gs->order);
	kfree(gs);
}

/*
 * A retrieve that failed half-way: every page it claimed is preserved
 * memory again (reserved, KHO_PAGE_MAGIC, its poison on the raw pages) and
 * the new file is closed, so that a later retrieve finds the token as
 * kexec left it. Everything in the file's page cache came from the image.
 */
static void kho_unretrieve(struct kvm_gmem *g, const struct kho_gmem *f)
{
	struct address_space *mapping = &g->file->f_mapping;
	struct host *host = mapping->host;
	struct range_node *n, *tmp;

	for (size_t j = 0; j < f->nr_splits; j++) {
		struct guestmem_split *gs = guestmem_split_lookup(host, (unsigned long)f->splits[j].head_pfn);

		if (gs && gs->mapping == mapping)
			kho_unrestore_split(mapping, gs);
	}
	rangemap_for_each(&mapping->i_pages, n, tmp) {
		struct folio *folio = container_of(n, struct folio, cache_node);
		unsigned long pfn = folio_pfn(folio);

		if (folio_test_hugetlb(folio)) {
			kho_unrestore_huge(mapping, folio);
			continue;
		}
		kho_uncache(mapping, folio);
		folio_destroy(folio);
		kho_reserve_folio(host, pfn, 0);
	}
	kvm_gmem_close(g);
}

struct kvm_gmem *kho_retrieve(struct kvm *kvm, const struct kho_image *img, u64 token, int *errp)
{
	struct host *host = kvm->host;
	const struct kho_gmem *f = NULL;
	struct kvm_gmem_binding *bindings = NULL;
	unsigned long k = 0;
	struct hstate *h = NULL;
	struct kvm_gmem *g;
	int ret = 0;

	*errp = 0;
	for (size_t i = 0; i < img->nr_files && !f; i++)
		if (img->files[i].token == token)
			f = &img->files[i];
	if (!f) {
		*errp = -ENOENT;
		return NULL;
	}
	for (size_t j = 0; j < f->nr_folios; j++)
		if (f->folios[j].order == f->page_order &&
		    !kho_preserved(host, f->folios[j].pfn, f->folios[j].order))
			*errp = -EINVAL;
	for (size_t j = 0; j < f->nr_splits; j++)
		if (!kho_preserved(host, f->splits[j].head_pfn, f->splits[j].order))
			*errp = -EINVAL;
	if (*errp)
		return NULL;
	/* A policy the model's guest_memfd cannot hold, or nodes this host does not have. */
	for (size_t w = 1; w < KHO_NODEMASK_WORDS; w++)
		if (f->policy.nodemask[w])
			*errp = -EINVAL;
	if (f->policy.mode > KHO_MPOL_INTERLEAVE ||
	    f->policy.nodemask[0] & ~((1ULL << host->nr_nodes) - 1) ||
	    (f->policy.mode == KHO_MPOL_DEFAULT) != !f->policy.nodemask[0])
		*errp = -EINVAL;
	if (*errp)
		return NULL;
	if (f->page_order) {
		h = hstate_of_order(host, f->page_order);
		if (!h) {
			*errp = -EINVAL;
			return NULL;
		}
		for (size_t j = 0; j < f->nr_folios; j++)
			k += f->folios[j].order == f->page_order;
		k += f->nr_splits;
	}
	if (f->nr_bindings) {
		bindings = kcalloc(f->nr_bindings, sizeof(*bindings), GFP_KERNEL);
		if (!bindings) {
			*errp = -ENOMEM;
			return NULL;
		}
		for (size_t j = 0; j < f->nr_bindings; j++)
			bindings[j] = (struct kvm_gmem_binding){
				.slot = (u32)f->bindings[j].slot, .base_gfn = f->bindings[j].base_gfn,
				.npages = (unsigned long)f->bindings[j].npages,
				.pgoff = (pgoff_t)f->bindings[j].pgoff,
			};
	}
	/*
	 * MODEL: the file's subpool reserves only the pages it does not have
	 * yet: creation counts the k preserved pages as free for its check,
	 * then gives their reservation back (they are restored in use).
	 */
	if (h)
		h->free_huge_pages += k;
	g = kvm_gmem_create(kvm, f->size, f->flags, errp);
	if (h)
		h->free_huge_pages -= k;
	if (!g) {
		kfree(bindings);
		return NULL;
	}
	if (h) {
		h->resv_huge_pages -= k;
		g->file->resv_hpages -= (long)k;
	}
	g->luo_bindings = bindings;
	g->nr_luo_bindings = f->nr_bindings;
	WARN_ON(host, kvm_gmem_set_policy(g, f->policy.mode, (unsigned long)f->policy.nodemask[0]));
	attr_clear_all(&g->private);
	for (size_t j = 0; j < f->nr_attrs && !ret; j++) {
		const struct kho_attr_run *a = &f->attrs[j];

		if (a->private &&
		    attr_set_range(&g->private, (unsigned long)a->first,
				   (unsigned long)(a->first + a->count - 1), true))
			ret = -ENOMEM;
	}
	if (ret)
		goto undo;

	for (size_t j = 0; j < f->nr_folios; j++) {
		const struct kho_folio *fo = &f->folios[j];
		struct folio *folio;

		if (fo->order != f->page_order)
			continue;
		if (h) {
			folio = kho_restore_huge(g, fo->pfn, (pgoff_t)fo->index, NULL, NULL);
			kho_huge_poison(folio, f);
		} else {
			folio = kho_claim(host, fo->pfn, 0, FOLIO_OWNER_FILE);
			WARN_ON(host, filemap_add_folio(&g->file->f_mapping, folio, (pgoff_t)fo->index));
			folio_put(folio);
			if (pfn_in(f->poison, f->nr_poison, fo->pfn))
				kho_mf_pin(folio);
		}
		kho_folio_flags(folio, fo->flags);
	}
	for (size_t j = 0; j < f->nr_splits && !ret; j++)
		ret = kho_restore_split(g, f, &f->splits[j]);
	if (ret)
		goto undo;
	trace_note(host->trace, "kho: guest_memfd token %#llx retrieved in vm%d: %zu folios, %zu split pages, %zu poisoned pages",
		   (unsigned long long)token, kvm->id, f->nr_folios, f->nr_splits, f->nr_poison);
	return g;
undo:
	/* RETRIEVE_FD fails whole: its pages stay preserved for another try. */
	kho_unretrieve(g, f);
	trace_note(host->trace, "kho: guest_memfd token %#llx not retrieved: %d",
		   (unsigned long long)token, ret);
	*errp = ret;
	return NULL;
}

/* ---- finish --------------------------------------------------------------------- */

/* A healthy unclaimed huge page joins its pool as a free page. */
static void kho_release_huge(struct folio *f, struct hstate *h)
{
	struct host *host = f->host;

	f->flags = 0;
	f->owner = FOLIO_OWNER_HUGETLB;
	f->page_type = PGTY_hugetlb;
	f->hstate = h;
	f->extra_refs = 0;
	atomic_set(&f->_refcount, 0);
	h->nr_huge_pages++;
	h->nr_huge_pages_node[f->nid]++;
	free_huge_folio(f);
	(void)host;
}

/* Free to buddy, the poisoned raw pages kept out and pinned as memory_failure() left them. */
static void kho_release_pages(struct folio *f)
{
	struct host *host = f->host;
	unsigned long pfn = folio_pfn(f), nr = folio_nr_pages(f);

	folio_destroy(f);
	free_pfn_range_to_buddy(host, pfn, nr);
	for (unsigned long i = 0; i < nr; i++) {
		struct page *p = page_lookup(host, pfn + i);
		struct folio *bad;

		if (!p || !PageHWPoison(p))
			continue;
		bad = pfn_folio_lookup(host, pfn + i);
		if (WARN_ON(host, !bad || bad->owner != FOLIO_OWNER_LEAKED))
			continue;
		bad->owner = FOLIO_OWNER_HWPOISON;
		host->nr_leaked_pages--;
		atomic_set(&bad->_refcount, 1);
		bad->mf_pins = 1;
		p->private = MAGIC_HWPOISON;
	}
}

unsigned long kho_finish(struct host *host)
{
	struct u64vec todo = { 0 };
	unsigned long released = 0;
	struct range_node *n;

	for (n = rangemap_first(&host->memmap); n; n = rangemap_next(n)) {
		struct folio *f = container_of(n, struct folio, pfn_node);

		if (kho_preserved(host, folio_pfn(f), f->order) && vec_push(&todo, folio_pfn(f)))
			break;	/* MODEL: what is not released now stays reserved */
	}
	for (size_t i = 0; i < todo.n; i++) {
		struct folio *f = pfn_folio_lookup(host, (unsigned long)todo.v[i]);
		struct hstate *h = f->order ? hstate_of_order(host, f->order) : NULL;
		unsigned long nr = folio_nr_pages(f), bad = 0;

		page_lookup(host, folio_pfn(f))->private = 0;
		for (unsigned long j = 0; j < nr; j++) {
			const struct page *p = page_lookup(host, folio_pfn(f) + j);

			bad += p && PageHWPoison(p);
		}
		released += nr - bad;
		if (h && !bad)
			kho_release_huge(f, h);
		else
			kho_release_pages(f);
	}
	kfree(todo.v);
	if (host->kvm_state) {
		struct kvm_state *ks = host->kvm_state;
		struct kvm *kvm;
		struct kvm_gmem *g;

		list_for_each_entry(kvm, &ks->vms, node)
			list_for_each_entry(g, &kvm->gmems, node) {
				kfree(g->luo_bindings);
				g->luo_bindings = NULL;
				g->nr_luo_bindings = 0;
			}
	}
	trace_note(host->trace, "kho: finished: %lu unclaimed pages released", released);
	return released;
}
