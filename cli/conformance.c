// SPDX-License-Identifier: MIT
/*
 * gmf conformance: the guest_memfd uAPI cases of vmm/gmem_probe run twice,
 * on the model (kvm/, mm/) and on the real kernel's /dev/kvm, and every
 * result is compared (issue #4, section 6).
 *
 * This is the one place where the two halves meet. Both run the rows of the
 * probe's table (gmem_probe_table, vmm/gmem_probe.h): the real side with
 * gmem_probe_run(), the model side with the function below that mirrors the
 * row's kind (model_fns[]). Both give a struct gmem_case_result; ret, errno,
 * signal and si_code must agree, notes are for people.
 *
 * A fresh host, VMM process and VM per case, so cases cannot see each other;
 * each case is checked for broken invariants and leaked objects at teardown.
 *
 * Cases the real kernel cannot run (in-place conversion) run on the model
 * only and are listed as such; they never fail the command.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/trace.h"
#include "cli/cli.h"
#include "kvm/kvm.h"
#include "vmm/gmem_probe.h"

#define GMEM_SIZE	(2 * SZ_1M)

/* ---- the model's side of one case ------------------------------------------- */

struct mcase {
	struct gmem_case_result *r;
	struct trace trace;
	struct host *host;
	struct task_struct *vmm;	/* the process running the probe */
	/*
	 * MODEL: the model keeps no page contents. The probe reads back what it
	 * wrote, so the last byte written through a mapping is kept here with
	 * the pfn it went to. It stays readable while the VMM's page table or
	 * the page cache still holds that pfn at that place; once neither does
	 * (after a hole punch), the next fault gets a new, zeroed page. A user
	 * mapping left behind by mistake would still read the old byte, as it
	 * would for real, so such a bug shows as a difference.
	 */
	struct {
		bool valid;
		unsigned long addr;
		struct file *file;
		pgoff_t index;
		unsigned long pfn;
		u8 val;
	} shadow;
};

/* A setup step (not the step under test) failed: say which, return -err. */
static int setup_fail(struct mcase *m, const char *what, int err)
{
	m->r->ret = -1;
	m->r->err = err < 0 ? -err : err;
	snprintf(m->r->note, sizeof(m->r->note), "setup: %s: %s", what, errno_name(err));
	return -m->r->err;
}

/* A model call's 0 / -errno as the step under test. */
static void record(struct gmem_case_result *r, long rv)
{
	r->ret = rv < 0 ? -1 : rv;
	r->err = rv < 0 ? (int)-rv : 0;
}

static struct kvm *new_vm(struct mcase *m, int *errp)
{
	struct kvm *kvm = kvm_create_vm(m->host, m->vmm, KVM_X86_DEFAULT_VM, errp);

	if (!kvm)
		*errp = setup_fail(m, "KVM_CREATE_VM", *errp);
	return kvm;
}

static struct kvm_gmem *new_gmem(struct mcase *m, struct kvm *kvm, u64 size, u64 flags, int *errp)
{
	struct kvm_gmem *g = kvm_gmem_create(kvm, size, flags, errp);

	if (!g)
		*errp = setup_fail(m, "KVM_CREATE_GUEST_MEMFD", *errp);
	return g;
}

/* mmap(2) with the probe's MAP_* flags, read-write. */
static unsigned long model_mmap(struct mcase *m, struct file *file, u64 len, int map_flags,
				int *errp)
{
	unsigned long vm = VM_READ | VM_WRITE | ((map_flags & MAP_SHARED) ? VM_SHARED : 0);

	return do_mmap(m->vmm, file, 0, len, vm, 0, errp);
}

struct touch {
	long val;	/* byte read back, -1 when a signal stopped the access */
	int sig;
	int code;
	unsigned long addr;
};

/* One access; a signal it raised is taken from the trace (the first one to the VMM). */
static enum access_result model_access(struct mcase *m, unsigned long addr, bool write,
				       struct touch *t, unsigned long *pfnp)
{
	unsigned long first = m->trace.nr;
	enum access_result ar = handle_user_access(m->vmm, addr, write, pfnp);

	for (unsigned long i = first; i < m->trace.nr; i++) {
		const struct trace_event *e = &m->trace.ev[i];

		if (e->kind == TRACE_SIGNAL && e->pid == m->vmm->pid) {
			t->sig = e->signal;
			t->code = e->code;
			t->addr = (unsigned long)e->addr;
			break;
		}
	}
	return ar;
}

/* Does the VMM's page table, or the page cache, still hold the pfn the last write went to? */
static bool shadow_visible(struct mcase *m)
{
	struct pte_entry *pte = m->vmm->mm ? pte_lookup(m->vmm->mm, m->shadow.addr) : NULL;
	struct folio *folio = filemap_get_folio(&m->shadow.file->f_mapping, m->shadow.index);

	if (pte && pte->kind == PTE_PRESENT &&
	    pte->pfn + ((m->shadow.addr - pte->addr) >> PAGE_SHIFT) == m->shadow.pfn)
		return true;
	return folio && folio_pfn(folio) + (m->shadow.index - folio->index) == m->shadow.pfn;
}

/*
 * The probe's touch(): write @val at @base + @off first when @write, then
 * read the byte back; a signal stops it. @file is the mapped file (page
 * offset 0 at @base).
 */
static void model_touch(struct mcase *m, unsigned long base, u64 off, struct file *file,
			bool write, u8 val, struct touch *t)
{
	unsigned long addr = (unsigned long)(base + off), pfn = 0;
	enum access_result ar;

	memset(t, 0, sizeof(*t));
	t->val = -1;
	if (write) {
		ar = model_access(m, addr, true, t, &pfn);
		if (ar != ACCESS_OK || t->sig)
			return;
		m->shadow.valid = true;
		m->shadow.addr = addr & PAGE_MASK;
		m->shadow.file = file;
		m->shadow.index = (pgoff_t)(off >> PAGE_SHIFT);
		m->shadow.pfn = pfn;
		m->shadow.val = val;
	}
	if (m->shadow.valid && !shadow_visible(m))
		m->shadow.valid = false;
	ar = model_access(m, addr, false, t, &pfn);
	if (ar != ACCESS_OK || t->sig)
		return;
	t->val = m->shadow.valid && m->shadow.addr == (addr & PAGE_MASK) && m->shadow.pfn == pfn ?
		 m->shadow.val : 0;
}

static void record_touch(struct gmem_case_result *r, const struct touch *t, unsigned long base,
			 u64 off)
{
	r->ret = t->val;
	r->err = 0;
	r->sig = t->sig;
	r->si_code = t->code;
	if (t->sig)
		snprintf(r->note, sizeof(r->note), "off=%#llx si_addr=base%+lld",
			 (unsigned long long)off, (long long)(t->addr - base));
	else
		snprintf(r->note, sizeof(r->note), "off=%#llx read=%#lx", (unsigned long long)off,
			 (unsigned long)t->val);
}

/* ---- the cases: each mirrors the probe's function of the same name -------------- */

/*
 * One function a kind of case, given a row of the probe's table
 * (enum gmem_case_kind in vmm/gmem_probe.h says what a, b, c, d mean); and
 * one a kind of the model-only cases, given a row of conversion_cases[].
 */
typedef int (*model_case_fn)(struct mcase *m, const struct gmem_case *c);

/* a = size, b = flags. */
static int case_create(struct mcase *m, const struct gmem_case *c)
{
	struct kvm_gmem *g;
	struct kvm *kvm;
	int err;

	if (!(kvm = new_vm(m, &err)))
		return err;
	g = kvm_gmem_create(kvm, c->a, c->b, &err);
	record(m->r, g ? 0 : err);
	snprintf(m->r->note, sizeof(m->r->note), "size=%#llx flags=%#llx",
		 (unsigned long long)c->a, (unsigned long long)c->b);
	return 0;
}

/* a = gmem flags, b = mmap flags. A 2M gmem mapped whole, read-write. */
static int case_mmap(struct mcase *m, const struct gmem_case *c)
{
	struct kvm_gmem *g;
	struct kvm *kvm;
	int err;

	if (!(kvm = new_vm(m, &err)) || !(g = new_gmem(m, kvm, GMEM_SIZE, c->a, &err)))
		return err;
	(void)model_mmap(m, g->file, GMEM_SIZE, (int)c->b, &err);
	record(m->r, err);
	snprintf(m->r->note, sizeof(m->r->note), "gmem_flags=%#llx %s",
		 (unsigned long long)c->a, c->b == MAP_SHARED ? "MAP_SHARED" : "MAP_PRIVATE");
	return 0;
}

/* a = gmem flags, b = offset touched, c = mapping length, d = 1 to write 0x5a first. */
static int case_access(struct mcase *m, const struct gmem_case *c)
{
	struct kvm_gmem *g;
	struct touch t;
	unsigned long base;
	struct kvm *kvm;
	int err;

	if (!(kvm = new_vm(m, &err)) || !(g = new_gmem(m, kvm, GMEM_SIZE, c->a, &err)))
		return err;
	base = model_mmap(m, g->file, c->c, MAP_SHARED, &err);
	if (err)
		return setup_fail(m, "mmap", err);
	model_touch(m, base, c->b, g->file, c->d, 0x5a, &t);
	record_touch(m->r, &t, base, c->b);
	return 0;
}

/* a = mode, b = offset, c = len, on a 2M gmem without flags. */
static int case_fallocate(struct mcase *m, const struct gmem_case *c)
{
	struct kvm_gmem *g;
	struct kvm *kvm;
	int err;

	if (!(kvm = new_vm(m, &err)) || !(g = new_gmem(m, kvm, GMEM_SIZE, 0, &err)))
		return err;
	record(m->r, kvm_gmem_fallocate(g, (int)c->a, c->b, c->c));
	snprintf(m->r->note, sizeof(m->r->note), "mode=%#llx off=%#llx len=%#llx",
		 (unsigned long long)c->a, (unsigned long long)c->b, (unsigned long long)c->c);
	return 0;
}

/* Write 0xab to page 0 through the mapping, punch page 0, read it back. */
static int case_punch_then_read(struct mcase *m, const struct gmem_case *c)
{
	struct kvm_gmem *g;
	struct touch t;
	unsigned long base;
	struct kvm *kvm;
	int err, rv;

	if (!(kvm = new_vm(m, &err)) ||
	    !(g = new_gmem(m, kvm, GMEM_SIZE, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED,
			   &err)))
		return err;
	base = model_mmap(m, g->file, GMEM_SIZE, MAP_SHARED, &err);
	if (err)
		return setup_fail(m, "mmap", err);
	model_touch(m, base, 0, g->file, true, 0xab, &t);
	if (t.sig || t.val != 0xab)
		return setup_fail(m, t.sig ? "write 0xab: signal" : "write 0xab: read back differs",
				  -EIO);
	rv = kvm_gmem_fallocate(g, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, PAGE_SIZE);
	if (rv < 0) {
		record(m->r, rv);
		snprintf(m->r->note, sizeof(m->r->note), "punch failed");
		return 0;
	}
	model_touch(m, base, 0, g->file, false, 0, &t);
	record_touch(m->r, &t, base, 0);
	return 0;
}

/* a = 0 for read(2), 1 for write(2), 16 bytes at the fd's position (0). */
static int case_rw(struct mcase *m, const struct gmem_case *c)
{
	struct kvm_gmem *g;
	struct kvm *kvm;
	int err;

	if (!(kvm = new_vm(m, &err)) || !(g = new_gmem(m, kvm, GMEM_SIZE, 0, &err)))
		return err;
	record(m->r, c->a ? file_write(g->file, 0, 16) : file_read(g->file, 0, 16));
	snprintf(m->r->note, sizeof(m->r->note), "%s 16 bytes", c->a ? "write" : "read");
	return 0;
}

static int bind_slot(struct kvm *kvm, u32 slot, u64 gpa, u64 size, unsigned long uaddr,
		     struct kvm_gmem *gmem, bool fd_valid, u64 off)
{
	struct kvm_userspace_memory_region2 mem = {
		.slot = slot,
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = uaddr,
		.guest_memfd_offset = off,
		.guest_memfd = gmem ? gmem->file : NULL,
		.guest_memfd_valid = fd_valid,
	};

	return kvm_set_user_memory_region2(kvm, &mem);
}

/* An anonymous private mapping for userspace_addr (the gmem has no MMAP flag). */
static unsigned long anon_mmap(struct mcase *m, u64 len, int *errp)
{
	return model_mmap(m, NULL, ALIGN(len, PAGE_SIZE), MAP_PRIVATE | MAP_ANONYMOUS, errp);
}

/* One slot: a = gmem size, b = gpa, c = memory_size, d = guest_memfd_offset. */
static int case_bind(struct mcase *m, const struct gmem_case *c)
{
	struct kvm_gmem *g;
	unsigned long uaddr;
	struct kvm *kvm;
	int err;

	if (!(kvm = new_vm(m, &err)) || !(g = new_gmem(m, kvm, c->a, 0, &err)))
		return err;
	uaddr = anon_mmap(m, c->c, &err);
	if (err)
		return setup_fail(m, "mmap anon", err);
	record(m->r, bind_slot(kvm, 0, c->b, c->c, uaddr, g, true, c->d));
	snprintf(m->r->note, sizeof(m->r->note), "file=%#llx gpa=%#llx size=%#llx off=%#llx",
		 (unsigned long long)c->a, (unsigned long long)c->b, (unsigned long long)c->c,
		 (unsigned long long)c->d);
	return 0;
}

/* Two slots on one 4M gmem: slot 0 at gpa 0, 2M, offset 0; slot 1 at b, size c, offset d. */
static int case_bind_second(struct mcase *m, const struct gmem_case *c)
{
	struct kvm_gmem *g;
	unsigned long uaddr;
	struct kvm *kvm;
	int err;

	if (!(kvm = new_vm(m, &err)) || !(g = new_gmem(m, kvm, 2 * GMEM_SIZE, 0, &err)))
		return err;
	uaddr = anon_mmap(m, 4 * GMEM_SIZE, &err);
	if (err)
		return setup_fail(m, "mmap anon", err);
	err = bind_slot(kvm, 0, 0, GMEM_SIZE, uaddr, g, true, 0);
	if (err)
		return setup_fail(m, "bind slot 0", err);
	record(m->r, bind_slot(kvm, 1, c->b, c->c, uaddr + 2 * GMEM_SIZE, g, true, c->d));
	snprintf(m->r->note, sizeof(m->r->note),
		 "slot0 gpa=0 size=%#lx off=0; slot1 gpa=%#llx size=%#llx off=%#llx",
		 GMEM_SIZE, (unsigned long long)c->b, (unsigned long long)c->c,
		 (unsigned long long)c->d);
	return 0;
}

/*
 * a = what to pass as guest_memfd (enum gmem_bind_fd); slot 0, gpa 0, 2M, offset 0.
 *
 * The model's memslot takes a guest_memfd, not an fd number
 * (docs/divergences.md), so the fd is resolved here as scn/interp.c does:
 * a closed fd is an invalid one, which the model answers with EBADF; an open
 * file is refused with EINVAL when kvm_gmem_of_mapping() finds no
 * guest_memfd behind it, the check kvm_gmem_bind() makes on the file's
 * operations.
 */
static int case_bind_fd(struct mcase *m, const struct gmem_case *c)
{
	struct kvm_gmem *g = NULL;
	struct file *file = NULL;
	struct kvm *kvm, *other;
	unsigned long uaddr;
	const char *what;
	bool valid = true;
	int err;

	if (!(kvm = new_vm(m, &err)))
		return err;
	switch (c->a) {
	case GMEM_BIND_DEV_NULL:
		what = "/dev/null";
		file = file_create(m->host, FILE_SHMEM, "null", 0, NULL);
		if (IS_ERR(file))
			return setup_fail(m, "open /dev/null", (int)PTR_ERR(file));
		break;
	case GMEM_BIND_CLOSED_FD:
		what = "closed fd";
		if (!(g = new_gmem(m, kvm, GMEM_SIZE, 0, &err)))
			return err;
		kvm_gmem_close(g);	/* the last reference: the file is gone */
		g = NULL;
		valid = false;
		break;
	default:
		what = "gmem of another VM";
		if (!(other = new_vm(m, &err)) || !(g = new_gmem(m, other, GMEM_SIZE, 0, &err)))
			return err;
		break;
	}
	uaddr = anon_mmap(m, GMEM_SIZE, &err);
	if (err) {
		if (file)
			fput(file);
		return setup_fail(m, "mmap anon", err);
	}
	if (file) {
		struct kvm_userspace_memory_region2 mem = {
			.flags = KVM_MEM_GUEST_MEMFD, .memory_size = GMEM_SIZE, .userspace_addr = uaddr,
			.guest_memfd = file, .guest_memfd_valid = true,
		};

		/* kvm_gmem_bind() finds no guest_memfd behind the file: EINVAL. */
		record(m->r, kvm_set_user_memory_region2(kvm, &mem));
		fput(file);
	} else {
		record(m->r, bind_slot(kvm, 0, 0, GMEM_SIZE, uaddr, g, valid, 0));
	}
	snprintf(m->r->note, sizeof(m->r->note), "guest_memfd=%s", what);
	return 0;
}

static int case_fstat(struct mcase *m, const struct gmem_case *c)
{
	struct kvm_gmem *g;
	struct kvm *kvm;
	int err;

	if (!(kvm = new_vm(m, &err)) || !(g = new_gmem(m, kvm, GMEM_SIZE, 0, &err)))
		return err;
	record(m->r, (long)g->file->i_size);
	snprintf(m->r->note, sizeof(m->r->note), "st_size=%llu",
		 (unsigned long long)g->file->i_size);
	return 0;
}

/*
 * Model only: KVM_SET_MEMORY_ATTRIBUTES2 on a 2M gmem with the MMAP flag.
 * a = more gmem flags, b = offset, c = size, d = attributes.
 */
static int case_convert(struct mcase *m, const struct gmem_case *c)
{
	struct kvm_gmem *g;
	struct kvm *kvm;
	u64 error_offset = 0;
	int err;

	if (!(kvm = new_vm(m, &err)) ||
	    !(g = new_gmem(m, kvm, GMEM_SIZE, GUEST_MEMFD_FLAG_MMAP | c->a, &err)))
		return err;
	record(m->r, kvm_gmem_set_attributes(g, c->b, c->c, c->d, 0, &error_offset));
	snprintf(m->r->note, sizeof(m->r->note), "off=%#llx size=%#llx attributes=%#llx",
		 (unsigned long long)c->b, (unsigned long long)c->c, (unsigned long long)c->d);
	return 0;
}

/*
 * Model only: a 2M gmem (MMAP | a) mapped whole; write 0xab to page 0 when
 * it starts shared; convert page 0 to attributes d; then touch page 0
 * (c = 1: write 0x5a first) as the step under test.
 */
static int case_convert_access(struct mcase *m, const struct gmem_case *c)
{
	struct kvm_gmem *g;
	struct touch t;
	unsigned long base;
	struct kvm *kvm;
	u64 error_offset = 0;
	int err;

	if (!(kvm = new_vm(m, &err)) ||
	    !(g = new_gmem(m, kvm, GMEM_SIZE, GUEST_MEMFD_FLAG_MMAP | c->a, &err)))
		return err;
	base = model_mmap(m, g->file, GMEM_SIZE, MAP_SHARED, &err);
	if (err)
		return setup_fail(m, "mmap", err);
	if (c->a & GUEST_MEMFD_FLAG_INIT_SHARED) {
		model_touch(m, base, 0, g->file, true, 0xab, &t);
		if (t.sig || t.val != 0xab)
			return setup_fail(m, "write 0xab", -EIO);
	}
	err = kvm_gmem_set_attributes(g, 0, PAGE_SIZE, c->d, 0, &error_offset);
	if (err)
		return setup_fail(m, "KVM_SET_MEMORY_ATTRIBUTES2", err);
	model_touch(m, base, 0, g->file, c->c, 0x5a, &t);
	record_touch(m->r, &t, base, 0);
	return 0;
}

/* Model only: page 0 of a shared 2M gmem is pinned (GUP); convert it to private. */
static int case_convert_pinned(struct mcase *m, const struct gmem_case *c)
{
	struct folio *folio;
	struct kvm_gmem *g;
	unsigned long base;
	struct kvm *kvm;
	u64 error_offset = 0;
	int err;

	if (!(kvm = new_vm(m, &err)) ||
	    !(g = new_gmem(m, kvm, GMEM_SIZE,
			   GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED, &err)))
		return err;
	base = model_mmap(m, g->file, GMEM_SIZE, MAP_SHARED, &err);
	if (err)
		return setup_fail(m, "mmap", err);
	err = pin_user_page(m->vmm, base, &folio);
	if (err)
		return setup_fail(m, "pin page 0", err);
	record(m->r, kvm_gmem_set_attributes(g, 0, PAGE_SIZE, KVM_MEMORY_ATTRIBUTE_PRIVATE, 0,
					     &error_offset));
	snprintf(m->r->note, sizeof(m->r->note), "error_offset=%#llx",
		 (unsigned long long)error_offset);
	unpin_user_page(folio);
	return 0;
}

#define SHARED_F	GUEST_MEMFD_FLAG_INIT_SHARED
#define PRIVATE		KVM_MEMORY_ATTRIBUTE_PRIVATE
#define CONVERSION	"in-place conversion (KVM_SET_MEMORY_ATTRIBUTES2)"
#define HUGETLB		"HugeTLB-backed guest_memfd"

/* The model's mirror of each kind of the probe's cases. */
static const model_case_fn model_fns[GMEM_CASE_NR_KINDS] = {
	[GMEM_CASE_CREATE]		= case_create,
	[GMEM_CASE_MMAP]		= case_mmap,
	[GMEM_CASE_ACCESS]		= case_access,
	[GMEM_CASE_FALLOCATE]		= case_fallocate,
	[GMEM_CASE_PUNCH_THEN_READ]	= case_punch_then_read,
	[GMEM_CASE_RW]			= case_rw,
	[GMEM_CASE_BIND]		= case_bind,
	[GMEM_CASE_BIND_SECOND]		= case_bind_second,
	[GMEM_CASE_BIND_FD]		= case_bind_fd,
	[GMEM_CASE_FSTAT]		= case_fstat,
};

/*
 * The cases only the model runs, after the probe's: in-place conversion,
 * which no kernel has yet. They stay here rather than in the probe's table
 * (vmm/gmem_probe.c), which holds only what gmem_probe_run() can run on
 * /dev/kvm: the probe has no procedure, nor the uAPI, for these. Each is a
 * row of the same shape, whose kind is not used, and the model function that
 * runs it. When a kernel gains the uAPI, the probe gets the kinds and the
 * rows move to its table.
 */
static const struct {
	struct gmem_case row;
	model_case_fn fn;
} conversion_cases[] = {
	{ { .name = "convert_to_private_then_read", .a = SHARED_F, .c = 0, .d = PRIVATE },
	  case_convert_access },
	{ { .name = "convert_to_shared_then_write", .a = 0, .c = 1, .d = 0 },
	  case_convert_access },
	{ { .name = "convert_pinned_to_private" },
	  case_convert_pinned },
	{ { .name = "convert_unaligned_offset",
	    .a = SHARED_F, .b = 1, .c = PAGE_SIZE, .d = PRIVATE },
	  case_convert },
	{ { .name = "convert_beyond_size",
	    .a = SHARED_F, .b = GMEM_SIZE, .c = PAGE_SIZE, .d = PRIVATE },
	  case_convert },
};

/* A small host: the cases use a few MiB. */
static const struct host_config conf_host = {
	.memory_bytes = 1ULL << 30,
	.nr_nodes = 1,
	.nr_cpus = 1,
	.reserved_bytes = 16ULL << 20,
};

/*
 * Run @c on a fresh model host. 0 when the case ran; -errno when a setup
 * step failed, the host's invariants broke, or objects leaked (note says).
 */
static int model_run(const struct gmem_case *c, model_case_fn fn, struct gmem_case_result *r)
{
	struct mcase m = { .r = r };
	long live = kmalloc_live();
	int ret, bad;

	memset(r, 0, sizeof(*r));
	r->name = c->name;
	trace_init(&m.trace, true);
	m.host = host_create(&conf_host, &m.trace);
	if (IS_ERR(m.host)) {
		ret = setup_fail(&m, "host_create", (int)PTR_ERR(m.host));
		trace_destroy(&m.trace);
		return ret;
	}
	m.vmm = task_create(m.host, "vmm", NULL);
	if (!m.vmm) {
		ret = setup_fail(&m, "task_create", -ENOMEM);
	} else {
		m.vmm->sigbus_handler = true;	/* the probe catches SIGBUS */
		ret = fn(&m, c);
	}
	bad = host_validate(m.host);
	if (!bad)
		bad = kvm_validate_all(m.host);
	kvm_host_teardown(m.host);
	host_destroy(m.host);
	trace_destroy(&m.trace);
	if (!ret && bad) {
		snprintf(r->note, sizeof(r->note), "model invariants broken: %s", errno_name(bad));
		ret = bad;
	}
	if (!ret && kmalloc_live() != live) {
		snprintf(r->note, sizeof(r->note), "model leaked %ld objects", kmalloc_live() - live);
		ret = -EUCLEAN;
	}
	return ret;
}

/* ---- comparing and printing -------------------------------------------------------- */

enum verdict { V_SAME, V_DIFF, V_MODEL_ONLY };

static const char *const verdict_names[] = {
	[V_SAME] = "same", [V_DIFF] = "DIFF", [V_MODEL_ONLY] = "model-only",
};

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGBUS: return "SIGBUS";
	case SIGSEGV: return "SIGSEGV";
	case SIGKILL: return "SIGKILL";
	default: return NULL;
	}
}

static const char *si_code_name(int sig, int code)
{
	if (sig == SIGBUS) {
		switch (code) {
		case BUS_ADRERR: return "BUS_ADRERR";
		case BUS_MCEERR_AR: return "BUS_MCEERR_AR";
		case BUS_MCEERR_AO: return "BUS_MCEERR_AO";
		}
	} else if (sig == SIGSEGV && code == SEGV_MAPERR) {
		return "SEGV_MAPERR";
	}
	return NULL;
}

/* "ret=-1 EINVAL", "ret=-1 SIGBUS/BUS_ADRERR", "ret=90"; "setup failed" when it did not run. */
static void format_result(char *buf, size_t len, const struct gmem_case_result *r, int rc)
{
	int n;

	if (rc) {
		snprintf(buf, len, "error (%s)", errno_name(rc));
		return;
	}
	n = snprintf(buf, len, "ret=%ld", r->ret);
	if (r->err && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " %s", errno_name(r->err));
	if (r->sig && n > 0 && (size_t)n < len) {
		const char *s = signal_name(r->sig), *code = si_code_name(r->sig, r->si_code);

		if (s && code)
			snprintf(buf + n, len - (size_t)n, " %s/%s", s, code);
		else
			snprintf(buf + n, len - (size_t)n, " sig=%d/si_code=%d", r->sig, r->si_code);
	}
}

static bool same_result(const struct gmem_case_result *a, const struct gmem_case_result *b)
{
	return a->ret == b->ret && a->err == b->err && a->sig == b->sig && a->si_code == b->si_code;
}

static void json_result(const struct gmem_case_result *r, int rc)
{
	printf("{\"ret\":%ld,\"errno\":", r->ret);
	if (r->err)
		json_print_string(stdout, errno_name(r->err));
	else
		fputs("null", stdout);
	printf(",\"signal\":%d,\"si_code\":%d,\"ok\":%s,\"note\":", r->sig, r->si_code,
	       rc ? "false" : "true");
	json_print_string(stdout, r->note);
	putchar('}');
}

struct conf_totals {
	int same, diff, model_only;
};

/*
 * Run @c on the model with @fn and, when the real kernel can, on /dev/kvm;
 * print one row. @model_only: the real-kernel feature it needs, which no
 * kernel has yet, or NULL.
 */
static void conf_one(const struct gmem_case *c, model_case_fn fn, const char *model_only,
		     bool json, int width, long flags, struct conf_totals *tot)
{
	const char *name = c->name, *reason = NULL;
	struct gmem_case_result mr, rr;
	char mbuf[64], rbuf[64];
	int mrc, rrc = 0;
	enum verdict v;

	memset(&rr, 0, sizeof(rr));
	if (!fn) {
		/* A probe kind without a model mirror: add one to model_fns[]. */
		memset(&mr, 0, sizeof(mr));
		snprintf(mr.note, sizeof(mr.note), "no model mirror of this probe case");
		mrc = -ENOENT;
	} else {
		mrc = model_run(c, fn, &mr);
	}
	if (model_only) {
		v = V_MODEL_ONLY;
		reason = model_only;
	} else if (c->needs & ~(u64)flags) {
		v = V_MODEL_ONLY;
		reason = "a guest_memfd flag missing from KVM_CAP_GUEST_MEMFD_FLAGS";
	} else {
		rrc = gmem_probe_run(name, &rr);
		v = !mrc && !rrc && same_result(&mr, &rr) ? V_SAME : V_DIFF;
	}
	tot->same += v == V_SAME;
	tot->diff += v == V_DIFF;
	tot->model_only += v == V_MODEL_ONLY;
	if (json) {
		fputs("{\"event\":\"case\",\"case\":", stdout);
		json_print_string(stdout, name);
		fputs(",\"model\":", stdout);
		json_result(&mr, mrc);
		fputs(",\"real\":", stdout);
		if (v == V_MODEL_ONLY)
			fputs("null", stdout);
		else
			json_result(&rr, rrc);
		printf(",\"verdict\":\"%s\"", v == V_DIFF ? "different" : verdict_names[v]);
		if (reason) {
			fputs(",\"reason\":", stdout);
			json_print_string(stdout, reason);
		}
		fputs("}\n", stdout);
		return;
	}
	format_result(mbuf, sizeof(mbuf), &mr, mrc);
	if (v == V_MODEL_ONLY)
		snprintf(rbuf, sizeof(rbuf), "-");
	else
		format_result(rbuf, sizeof(rbuf), &rr, rrc);
	printf("%-*s  %-28s %-28s %s\n", width, name, mbuf, rbuf, verdict_names[v]);
	if (v == V_DIFF)
		printf("%-*s    model: %s (%s)\n%-*s    real:  %s (%s)\n", width, "", mbuf, mr.note,
		       width, "", rbuf, rr.note);
}

static void conf_usage(FILE *f)
{
	fprintf(f, "usage: gmf conformance [--json]\n\n"
		"Runs the guest_memfd uAPI cases of the real-KVM probe on the model and on\n"
		"/dev/kvm and compares every result: ret, errno, signal and si_code.\n"
		"Cases that need a feature the real kernel lacks run on the model only.\n\n"
		"  --json     one JSON object per case, then a summary object\n\n"
		"Exit status: 0 every comparable case is the same, 1 one differs,\n"
		"2 usage error, 77 /dev/kvm or guest_memfd is not available.\n");
}

int cmd_conformance(int argc, char **argv)
{
	struct conf_totals tot = { 0 };
	struct utsname uts;
	bool json = false;
	int width = 4;
	char why[160];
	long flags;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			conf_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "gmf conformance: unknown argument '%s' (see gmf conformance --help)\n",
				argv[i]);
			return 2;
		}
	}
	if (gmem_probe_available(why, sizeof(why))) {
		if (json) {
			fputs("{\"event\":\"skip\",\"reason\":", stdout);
			json_print_string(stdout, why);
			fputs("}\n", stdout);
		} else {
			printf("conformance: skipped: %s\n", why);
		}
		return 77;
	}
	/* gmem_probe_available() has seen GUEST_MEMFD_FLAG_MMAP at least. */
	flags = gmem_probe_supported_flags();
	if (flags < 0)
		flags = GUEST_MEMFD_FLAG_MMAP;
	if (uname(&uts))
		snprintf(uts.release, sizeof(uts.release), "?");
	for (size_t i = 0; i < gmem_probe_nr_cases; i++)
		width = max(width, (int)strlen(gmem_probe_table[i].name));
	for (size_t i = 0; i < ARRAY_SIZE(conversion_cases); i++)
		width = max(width, (int)strlen(conversion_cases[i].row.name));
	if (json) {
		fputs("{\"event\":\"kernel\",\"release\":", stdout);
		json_print_string(stdout, uts.release);
		printf(",\"guest_memfd_flags\":%ld}\n", flags);
	} else {
		printf("# guest_memfd uAPI on the model and on real KVM (kernel %s, "
		       "KVM_CAP_GUEST_MEMFD_FLAGS %#lx)\n", uts.release, flags);
		printf("%-*s  %-28s %-28s %s\n", width, "case", "model", "real", "verdict");
	}
	for (size_t i = 0; i < gmem_probe_nr_cases; i++) {
		const struct gmem_case *c = &gmem_probe_table[i];

		conf_one(c, model_fns[c->kind], NULL, json, width, flags, &tot);
	}
	for (size_t i = 0; i < ARRAY_SIZE(conversion_cases); i++)
		conf_one(&conversion_cases[i].row, conversion_cases[i].fn, CONVERSION, json, width,
			 flags, &tot);
	if (json) {
		printf("{\"event\":\"summary\",\"same\":%d,\"different\":%d,\"model_only\":%d,"
		       "\"not_on_real\":[", tot.same, tot.diff, tot.model_only);
		json_print_string(stdout, CONVERSION);
		fputs(",", stdout);
		json_print_string(stdout, HUGETLB);
		fputs("]}\n", stdout);
	} else {
		printf("real kernel lacks %s, not in mainline: the convert_* cases run on "
		       "the model only\n", CONVERSION);
		printf("real kernel lacks %s, no flag for it in KVM_CAP_GUEST_MEMFD_FLAGS: not "
		       "compared, the model has none either\n", HUGETLB);
		printf("conformance: %d same, %d different, %d model-only\n", tot.same, tot.diff,
		       tot.model_only);
	}
	return tot.diff ? 1 : 0;
}
