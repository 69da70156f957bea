// SPDX-License-Identifier: MIT
/*
 * The scenario interpreter: runs a checked file against a fresh host, line
 * by line, checks the host's invariants after every line and every
 * expectation where it stands.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/arm64/sea.h"
#include "arch/x86/kvm.h"
#include "arch/x86/mce.h"
#include "base/alloc.h"
#include "base/err.h"
#include "kho/kho.h"
#include "mm/memory-failure.h"
#include "scn/internal.h"
#include "sim/sched.h"

struct scn_obj {
	char *name;
	enum scn_sym_kind kind;
	struct task_struct *task;	/* process, thread; a mapping's process */
	struct file *file;
	struct kvm_gmem *gmem;		/* a guest_memfd file */
	struct kvm *kvm;
	struct kvm_vcpu *vcpu;
	struct cgroup *cgroup;
	/* VM: the VMM's error policy (vmm_policy): distinct error gpas and a threshold */
	u64 err_gpa[32];
	int nr_err;
	int err_threshold;
	bool evicted;
	struct folio *folio;		/* kernel allocation, pin */
	unsigned long pfn;		/* kernel allocation's first pfn */
	unsigned long addr;		/* mapping */
	u64 len;
};

/*
 * A userfault bitmap in the VMM's memory: one bit per gfn of a memslot,
 * which the VMM writes (`userfault`) and KVM reads. Kept until the host is
 * gone, since a memslot may still point at it.
 */
struct vmm_ufbitmap {
	struct kvm *kvm;
	u32 slot;			/* as_id << 16 | id */
	gfn_t base_gfn;
	unsigned long npages;
	unsigned long *bits;
};

struct scn_ctx {
	const struct scn_file *f;
	const struct scn_run_opts *opts;
	const char *vary_val;
	struct trace trace;
	struct host *host;
	struct host_config cfg;
	struct scn_obj *objs;
	int nobjs, objs_cap;
	struct host_race races[8];
	unsigned long race_pfn[8];
	unsigned int race_order[8];
	bool race_mf[8];		/* the action: memory_failure(), not alloc */
	int race_flags[8];
	bool race_waiting[8];		/* memory_failure() waits for the folio lock */
	struct folio *race_folio[8];	/* the reference it holds meanwhile */
	int nraces;
	unsigned long op_ev;		/* first trace event of the last operation */
	const struct scn_stmt *op;	/* the last operation */
	bool has_ret;
	long last_ret;
	enum access_result last_access;
	bool has_access;
	bool has_exit;
	struct kvm_run last_run;	/* of the last guest access */
	u64 error_offset;		/* of the last set_attributes2 */
	int expectations;
	bool failed;
	int failed_line;
	char failure[512];
	bool halted;
	struct mf_outcome outcome;	/* the last action result of the run */
	struct vmm_ufbitmap *ufb;	/* the VMM's KVM Userfault bitmaps */
	int nufb;
	/* Live update: the LUO session on this host, what the last kexec handed over. */
	enum kho_poison_policy kho_poison;
	struct kho_session kho;
	bool kho_active;
	struct kho_image kho_in;	/* the image as the new host parsed it */
	bool kho_kexeced;
	void *kho_blob;			/* the handed-over blob (gmf kho save) */
	size_t kho_len;
	/* The concurrent block. */
	bool in_block;
	unsigned long block_warnings;	/* host->nr_warnings when the block started */
	/* Frames of the block's at=/pfn= locations, resolved when it starts. */
	unsigned long *at_pfn;		/* by statement index; ULONG_MAX: none */
	int sched_outcome;
	bool abandon;			/* a deadlock parked threads on this host */
	struct task_struct *thr_current[SCN_MAX_THREADS];
	int thr_line[SCN_MAX_THREADS];
};

/* ---- helpers --------------------------------------------------------------- */

static int fail(struct scn_ctx *c, const struct scn_stmt *st, const char *fmt, ...) __printf(3, 4);

static int fail(struct scn_ctx *c, const struct scn_stmt *st, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return -1;
	c->failed = true;
	c->failed_line = st->line;
	va_start(ap, fmt);
	vsnprintf(c->failure, sizeof(c->failure), fmt, ap);
	va_end(ap);
	return -1;
}

/* The newest object of that name (kho_retrieve defines a file again). */
static struct scn_obj *obj_find(struct scn_ctx *c, const char *name)
{
	for (int i = c->nobjs - 1; i >= 0; i--)
		if (!strcmp(c->objs[i].name, name))
			return &c->objs[i];
	return NULL;
}

/* Room for @more objects without moving the array (the concurrent block's threads hold pointers). */
static void obj_reserve(struct scn_ctx *c, int more)
{
	if (c->nobjs + more <= c->objs_cap)
		return;
	c->objs_cap = max(c->nobjs + more, 2 * c->objs_cap);
	c->objs = krealloc_array(c->objs, (size_t)c->objs_cap, sizeof(*c->objs), __GFP_NOFAIL);
}

static struct scn_obj *obj_add(struct scn_ctx *c, const char *name, enum scn_sym_kind kind)
{
	struct scn_obj *n;

	obj_reserve(c, 1);
	n = c->objs;
	memset(&n[c->nobjs], 0, sizeof(*n));
	n[c->nobjs].name = kstrdup(name, __GFP_NOFAIL);
	n[c->nobjs].kind = kind;
	return &n[c->nobjs++];
}

/* An object a line needs; its defining line may have failed at run time. */
static struct scn_obj *need(struct scn_ctx *c, const struct scn_stmt *st, const char *name)
{
	struct scn_obj *o = obj_find(c, name);

	if (!o || o->kind == SYM_NONE)
		fail(c, st, "'%s' does not exist (the line that made it failed, or it was closed)", name);
	return o && o->kind != SYM_NONE ? o : NULL;
}

static struct task_struct *need_task(struct scn_ctx *c, const struct scn_stmt *st, const char *name)
{
	struct scn_obj *o = need(c, st, name);

	return o ? o->task : NULL;
}

static bool isdigit_str(const char *s)
{
	return s[0] >= '0' && s[0] <= '9';
}

static u64 num(const char *s, u64 dflt)
{
	u64 v;

	return s && !scn_parse_num(s, &v) ? v : dflt;
}

static const char *pos_val(const struct scn_stmt *st, int i)
{
	const struct scn_arg *a = scn_pos(st, i);

	return a ? a->val : NULL;
}

static bool yes(const char *v)
{
	return v && !strcmp(v, "yes");
}

static int apply_vary(struct scn_ctx *c, const struct scn_stmt *st);

/* Make the host on first use, from the host line's values or the defaults. */
static int ensure_host(struct scn_ctx *c, const struct scn_stmt *st)
{
	if (c->host)
		return 0;
	if (c->opts->max_host_bytes && c->cfg.memory_bytes > c->opts->max_host_bytes)
		return fail(c, st, "the host is larger than this run allows");
	c->host = host_create(&c->cfg, &c->trace);
	if (IS_ERR(c->host)) {
		int e = (int)PTR_ERR(c->host);

		c->host = NULL;
		return fail(c, st, "cannot create the host (%s): memory must be a multiple of "
			    "nodes x 4M, reserved smaller than a node, and the HugeTLB pools must fit",
			    errno_name(e));
	}
	/* The varied switch is in force from the start. */
	return apply_vary(c, st);
}

/*
 * kho:TOKEN+OFF: the pfn of file offset OFF of the file preserved under
 * TOKEN, from the image the new host read (after kho_kexec) or the
 * session's (before).
 */
static int kho_resolve(struct scn_ctx *c, const struct scn_stmt *st, u64 token, u64 off,
		       unsigned long *pfnp)
{
	const struct kho_image *img = c->kho_kexeced ? &c->kho_in : c->kho_active ? &c->kho.img : NULL;
	u64 idx = off >> PAGE_SHIFT;

	for (size_t i = 0; img && i < img->nr_files; i++) {
		const struct kho_gmem *f = &img->files[i];

		if (f->token != token)
			continue;
		for (size_t j = 0; j < f->nr_folios; j++) {
			const struct kho_folio *fo = &f->folios[j];

			if (idx >= fo->index && idx < fo->index + (1ULL << fo->order)) {
				*pfnp = (unsigned long)(fo->pfn + idx - fo->index);
				return 0;
			}
		}
		return fail(c, st, "the file preserved under token %#llx has no page at offset %#llx",
			    (unsigned long long)token, (unsigned long long)off);
	}
	return fail(c, st, "no file is preserved under token %#llx%s", (unsigned long long)token,
		    img ? "" : " (no kho_preserve or kho_kexec yet)");
}

/*
 * Resolve a location to a pfn (and, for a mapping, the user address).
 * Mappings resolve to the page mapped there now, files to the page cached
 * at the offset, kernel allocations to their pages.
 */
static int resolve(struct scn_ctx *c, const struct scn_stmt *st, const char *v,
		   unsigned long *pfnp, unsigned long *addrp, struct task_struct **taskp)
{
	char name[64];
	const char *plus = strchr(v, '+');
	size_t nl = plus ? (size_t)(plus - v) : strlen(v);
	u64 off = plus ? num(plus + 1, 0) : 0;
	struct scn_obj *o;

	if (addrp)
		*addrp = 0;
	if (taskp)
		*taskp = NULL;
	/*
	 * In the concurrent block an error names a physical page: where the
	 * location was when the block started, whatever another thread is doing
	 * to the page cache meanwhile.
	 */
	if (c->in_block && c->at_pfn && pfnp && !addrp && !taskp && scn_arg(st, "at") &&
	    !strcmp(scn_arg(st, "at"), v) && c->at_pfn[st - c->f->stmts] != ULONG_MAX) {
		*pfnp = c->at_pfn[st - c->f->stmts];
		return 0;
	}
	if (v[0] >= '0' && v[0] <= '9') {
		if (!pfnp)
			return fail(c, st, "'%s' has no user address: give a mapping location", v);
		*pfnp = (unsigned long)num(v, 0);
		return 0;
	}
	if (nl >= sizeof(name))
		return fail(c, st, "location '%.*s...' names nothing defined (a name is at most %zu characters)",
			    20, v, sizeof(name) - 1);
	memcpy(name, v, nl);
	name[nl] = '\0';
	o = obj_find(c, name);
	if (!pfnp && (!o || o->kind != SYM_MAPPING))
		return fail(c, st, "'%s' has no user address: give a mapping location", v);
	if (!strncmp(name, "kho:", 4))
		return kho_resolve(c, st, num(name + 4, 0), off, pfnp);
	if (!strcmp(name, "free")) {
		/* The first free page above the reserved range, on node 0. */
		struct range_node *n = rangemap_first(&c->host->nodes[0].free_blocks);

		if (!n)
			return fail(c, st, "no free page on node 0 for 'free'");
		*pfnp = n->start + (unsigned long)(off >> PAGE_SHIFT);
		return 0;
	}
	if (!strcmp(name, "hugepage-2M") || !strcmp(name, "hugepage-1G")) {
		struct hstate *h = &c->host->hstates[name[9] == '2' ? 0 : 1];
		struct folio *f = list_first_entry_or_null(&h->hugepage_freelists[0], struct folio, lru);

		if (!f)
			return fail(c, st, "no free %s page on node 0", name + 9);
		*pfnp = folio_pfn(f) + (unsigned long)(off >> PAGE_SHIFT);
		return 0;
	}
	if (!o)
		return fail(c, st, "'%s' does not exist any more", name);
	switch (o->kind) {
	case SYM_MAPPING: {
		struct pte_entry *pte;

		if (off >= o->len)
			return fail(c, st, "offset %#llx is outside mapping %s (%#llx bytes)",
				    (unsigned long long)off, name, (unsigned long long)o->len);
		if (addrp)
			*addrp = o->addr + (unsigned long)off;
		if (taskp)
			*taskp = o->task;
		if (!pfnp)
			return 0;
		pte = o->task->mm ? pte_lookup(o->task->mm, o->addr + (unsigned long)off) : NULL;
		if (!pte)
			return fail(c, st, "nothing is mapped at %s (touch it with read or write first)", v);
		*pfnp = pte->pfn + ((o->addr + (unsigned long)off - pte->addr) >> PAGE_SHIFT);
		return 0;
	}
	case SYM_FILE: {
		struct folio *f;

		if (!pfnp)
			return 0;
		f = filemap_get_folio(&o->file->f_mapping, (pgoff_t)(off >> PAGE_SHIFT));
		if (!f)
			return fail(c, st, "no page of %s is cached at offset %#llx", name,
				    (unsigned long long)off);
		*pfnp = folio_pfn(f) + ((pgoff_t)(off >> PAGE_SHIFT) - f->index);
		return 0;
	}
	case SYM_KERNEL:
		*pfnp = o->pfn + (unsigned long)(off >> PAGE_SHIFT);
		return 0;
	default:
		return fail(c, st, "'%s' is a %s, not a location", name, scn_sym_kind_names[o->kind]);
	}
}

/* The user address of a MAPPING+OFF location, or 0 for any other location. */
static unsigned long loc_user_addr(struct scn_ctx *c, const char *v)
{
	char name[64];
	const char *plus = strchr(v, '+');
	size_t nl = plus ? (size_t)(plus - v) : strlen(v);
	struct scn_obj *o;

	if (nl >= sizeof(name))
		return 0;
	memcpy(name, v, nl);
	name[nl] = '\0';
	o = obj_find(c, name);
	if (!o || o->kind != SYM_MAPPING)
		return 0;
	return o->addr + (unsigned long)(plus ? num(plus + 1, 0) : 0);
}

/* The location of an operation: at=LOC or pfn=N. */
static int op_pfn(struct scn_ctx *c, const struct scn_stmt *st, unsigned long *pfnp)
{
	const char *at = scn_arg(st, "at"), *pfn = scn_arg(st, "pfn");

	if (at)
		return resolve(c, st, at, pfnp, NULL, NULL);
	if (pfn) {
		*pfnp = (unsigned long)num(pfn, 0);
		return 0;
	}
	return fail(c, st, "%s needs at=LOCATION or pfn=N", st->verb);
}

static const struct { const char *name; int flag; } mf_flag_names[] = {
	{ "MF_COUNT_INCREASED", MF_COUNT_INCREASED }, { "MF_ACTION_REQUIRED", MF_ACTION_REQUIRED },
	{ "MF_MUST_KILL", MF_MUST_KILL }, { "MF_SOFT_OFFLINE", MF_SOFT_OFFLINE },
	{ "MF_UNPOISON", MF_UNPOISON }, { "MF_SW_SIMULATED", MF_SW_SIMULATED },
	{ "MF_NO_RETRY", MF_NO_RETRY },
};

static int parse_mf_flags(const char *s, int *flags)
{
	char buf[256];
	char *tok, *save;

	*flags = 0;
	if (!s)
		return 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(mf_flag_names); i++)
			if (!strcmp(tok, mf_flag_names[i].name))
				break;
		if (i == ARRAY_SIZE(mf_flag_names))
			return -EINVAL;
		*flags |= mf_flag_names[i].flag;
	}
	return 0;
}

static void record_ret(struct scn_ctx *c, const char *op, long ret)
{
	struct trace_event e = { .kind = TRACE_RETURN, .has = TF_OP | TF_RET, .op = op, .ret = ret };

	c->has_ret = true;
	c->last_ret = ret;
	trace_emit(&c->trace, &e);
}

/* ---- setup verbs ----------------------------------------------------------------- */

static int run_host(struct scn_ctx *c, const struct scn_stmt *st)
{
	c->cfg.memory_bytes = num(scn_arg(st, "memory"), c->cfg.memory_bytes);
	c->cfg.nr_nodes = (int)num(scn_arg(st, "nodes"), (u64)c->cfg.nr_nodes);
	c->cfg.nr_cpus = (int)num(scn_arg(st, "cpus"), (u64)c->cfg.nr_cpus);
	c->cfg.reserved_bytes = num(scn_arg(st, "reserved"), c->cfg.reserved_bytes);
	c->cfg.hugepages[0] = (unsigned long)num(scn_arg(st, "hugepages-2M"), c->cfg.hugepages[0]);
	c->cfg.hugepages[1] = (unsigned long)num(scn_arg(st, "hugepages-1G"), c->cfg.hugepages[1]);
	if (ensure_host(c, st))
		return -1;
	if (scn_arg(st, "arch"))
		c->host->arch = strcmp(scn_arg(st, "arch"), "arm64") ? ARCH_X86 : ARCH_ARM64;
	if (scn_arg(st, "ras"))
		c->host->arm64.feat_ras = yes(scn_arg(st, "ras"));
	if (scn_arg(st, "apei"))
		c->host->arm64.apei = yes(scn_arg(st, "apei"));
	return apply_vary(c, st);
}

static int run_vary(struct scn_ctx *c, const struct scn_stmt *st)
{
	return 0;
}

static int set_switch(struct scn_ctx *c, const struct scn_stmt *st, const char *key, const char *val)
{
	const struct scn_switch *sw = scn_switch_find(key);
	char vals[128];
	int v;

	if (!sw)
		return fail(c, st, "unknown switch '%s' (known: panic_rule, mf_delayed_fix, gmem_mf_stage, "
			    "gmem_mf_kill, tdx_bug, split_poison, kho_poison)", key);
	v = scn_switch_value(sw, val);
	if (v < 0)
		return fail(c, st, "%s must be %s, not '%s'", key, scn_switch_values(sw, vals, sizeof(vals)),
			    val);
	switch ((enum scn_switch_id)(sw - scn_switches)) {
	case SCN_SW_PANIC_RULE:
		c->host->sysctl.panic_rule = (enum mf_panic_rule)v;
		break;
	case SCN_SW_MF_DELAYED_FIX:
		c->host->sysctl.mf_delayed_fix = v;
		break;
	case SCN_SW_GMEM_MF_STAGE:
		kvm_state(c->host)->gmem_mf_stage = (enum gmem_mf_stage)v;
		break;
	case SCN_SW_GMEM_MF_KILL:
		kvm_state(c->host)->gmem_mf_kill = (enum gmem_mf_kill)v;
		break;
	case SCN_SW_TDX_BUG:
		kvm_state(c->host)->tdx_bug_policy = (enum tdx_bug_policy)v;
		break;
	case SCN_SW_SPLIT_POISON:
		c->host->sysctl.guestmem_split_poison = v;
		break;
	case SCN_SW_KHO_POISON:
		c->kho_poison = (enum kho_poison_policy)v;
		if (c->kho_active)
			c->kho.poison = c->kho_poison;
		break;
	case __NR_SCN_SWITCHES:
		break;
	}
	return 0;
}

static int run_switch(struct scn_ctx *c, const struct scn_stmt *st)
{
	for (int i = 0; i < st->nargs; i++)
		if (set_switch(c, st, st->args[i].key, st->args[i].val))
			return -1;
	return 0;
}

static int run_sysctl(struct scn_ctx *c, const struct scn_stmt *st)
{
	static const struct { const char *name; size_t off; } sysctls[] = {
		{ "vm.memory_failure_early_kill", offsetof(struct mf_sysctl, memory_failure_early_kill) },
		{ "vm.memory_failure_recovery", offsetof(struct mf_sysctl, memory_failure_recovery) },
		{ "vm.enable_soft_offline", offsetof(struct mf_sysctl, enable_soft_offline) },
		{ "vm.panic_on_unrecoverable_memory_failure",
		  offsetof(struct mf_sysctl, panic_on_unrecoverable_memory_failure) },
	};

	for (int i = 0; i < st->nargs; i++) {
		const struct scn_arg *a = &st->args[i];
		size_t k;
		u64 v;

		for (k = 0; k < ARRAY_SIZE(sysctls); k++)
			if (!strcmp(a->key, sysctls[k].name))
				break;
		if (k == ARRAY_SIZE(sysctls))
			return fail(c, st, "unknown sysctl '%s'", a->key);
		if (k == 3 && c->host->sysctl.panic_rule == MF_PANIC_RULE_MAINLINE) {
			/* The sysctl does not exist in today's kernel. */
			record_ret(c, "sysctl", -ENOENT);
			continue;
		}
		/* proc_dointvec_minmax with 0..1 */
		if (scn_parse_num(a->val, &v) || v > 1) {
			record_ret(c, "sysctl", -EINVAL);
			continue;
		}
		*(int *)((char *)&c->host->sysctl + sysctls[k].off) = (int)v;
		record_ret(c, "sysctl", 0);
	}
	return 0;
}

/* ---- objects ------------------------------------------------------------------- */

static int run_process(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct task_struct *t = task_create(c->host, pos_val(st, 0), NULL);
	struct scn_obj *o;

	if (!t)
		return fail(c, st, "task_create failed (out of memory)");
	t->sigbus_handler = yes(scn_arg(st, "handler"));
	if (scn_arg(st, "cgroup")) {
		struct scn_obj *cg = need(c, st, scn_arg(st, "cgroup"));

		if (!cg)
			return -1;
		cgroup_attach_task(cg->cgroup, t);
	}
	o = obj_add(c, pos_val(st, 0), SYM_PROCESS);
	o->task = t;
	return 0;
}

/*
 * The cgroup files the scenario language knows, with their page counters:
 * memory.current, memory.max, hugetlb.<2MB|1GB>.current, hugetlb.<2MB|1GB>.max.
 */
static struct page_counter *cgroup_file(struct cgroup *cgrp, const char *file, bool *is_max)
{
	/* host->hstates[]: 2M, then 1G; the kernel names them by size in the files. */
	static const char *const hsizes[HUGE_MAX_HSTATE] = { "hugetlb.2MB.", "hugetlb.1GB." };
	const char *leaf = file;
	struct page_counter *pc = NULL;

	if (!strncmp(file, "memory.", 7)) {
		pc = &cgrp->memcg.memory;
		leaf = file + 7;
	}
	for (int i = 0; i < HUGE_MAX_HSTATE; i++)
		if (!strncmp(file, hsizes[i], strlen(hsizes[i]))) {
			pc = &cgrp->h_cg.hugepage[i];
			leaf = file + strlen(hsizes[i]);
		}
	*is_max = !strcmp(leaf, "max");
	return pc && (*is_max || !strcmp(leaf, "current")) ? pc : NULL;
}

/* mkdir in the cgroup2 hierarchy, then writes to its .max files. */
static int run_cgroup(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct cgroup *cgrp = cgroup_create(c->host, pos_val(st, 0));
	struct scn_obj *o;

	if (IS_ERR(cgrp))
		return fail(c, st, "cannot create cgroup %s: %s", pos_val(st, 0),
			    errno_name((int)PTR_ERR(cgrp)));
	for (int i = 0; i < st->nargs; i++) {
		const struct scn_arg *a = &st->args[i];
		struct page_counter *pc;
		bool is_max;

		if (!a->key)
			continue;
		pc = cgroup_file(cgrp, a->key, &is_max);
		/* The kernel rounds a limit down to whole pages. */
		pc->max = (unsigned long)(num(a->val, 0) >> PAGE_SHIFT);
	}
	o = obj_add(c, pos_val(st, 0), SYM_CGROUP);
	o->cgroup = cgrp;
	return 0;
}

/* echo PID > cgroup.procs: the thread group moves; its charges stay where they were taken. */
static int run_cgroup_attach(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *cg = need(c, st, pos_val(st, 0));
	struct task_struct *t = need_task(c, st, pos_val(st, 1));

	if (!cg || !t)
		return -1;
	if (t->exited)
		return fail(c, st, "task %s:%d has exited", t->comm, t->pid);
	cgroup_attach_task(cg->cgroup, t);
	return 0;
}

static int run_thread(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *leader = need(c, st, pos_val(st, 1)), *o;
	struct task_struct *t;

	if (!leader)
		return -1;
	if (leader->task->exited)
		return fail(c, st, "process %s has exited", leader->name);
	t = task_create(c->host, pos_val(st, 0), leader->task);
	if (!t)
		return fail(c, st, "task_create failed (out of memory)");
	o = obj_add(c, pos_val(st, 0), SYM_THREAD);
	o->task = t;
	return 0;
}

static int run_prctl(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *o = need(c, st, pos_val(st, 0));

	if (!o)
		return -1;
	const char *mode = scn_arg(st, "mce_kill");
	long ret;

	if (mode) {
		static const struct { const char *m; unsigned long a2, a3; } modes[] = {
			{ "early", 1, 1 }, { "late", 1, 0 }, { "default", 1, 2 }, { "clear", 0, 0 },
		};
		size_t i;

		for (i = 0; i < ARRAY_SIZE(modes); i++)
			if (!strcmp(modes[i].m, mode))
				break;
		if (i == ARRAY_SIZE(modes))
			return fail(c, st, "mce_kill must be early, late, default or clear");
		ret = task_prctl_mce_kill(o->task, modes[i].a2, modes[i].a3);
	} else if (scn_arg(st, "arg2")) {
		ret = task_prctl_mce_kill(o->task, (unsigned long)num(scn_arg(st, "arg2"), 0),
					  (unsigned long)num(scn_arg(st, "arg3"), 0));
	} else {
		ret = task_prctl_mce_kill_get(o->task);
	}
	record_ret(c, "prctl", ret);
	return 0;
}

static int run_file(struct scn_ctx *c, const struct scn_stmt *st)
{
	static const char *const kinds[] = { "shmem", "hugetlbfs", "regular" };
	static const enum file_kind fk[] = { FILE_SHMEM, FILE_HUGETLBFS, FILE_REGULAR };
	const char *kind = pos_val(st, 1);
	struct hstate *h = NULL;
	struct file *f;
	struct scn_obj *o;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(kinds[i], kind))
			break;
	if (fk[i] == FILE_HUGETLBFS) {
		h = size_to_hstate(c->host, (unsigned long)num(scn_arg(st, "pagesize"), PMD_SIZE));
		if (!h)
			return fail(c, st, "pagesize must be 2M or 1G");
	}
	f = file_create(c->host, fk[i], pos_val(st, 0), num(scn_arg(st, "size"), 0), h);
	if (IS_ERR(f)) {
		record_ret(c, "file", PTR_ERR(f));
		return fail(c, st, "cannot create %s: %s", pos_val(st, 0), errno_name((int)PTR_ERR(f)));
	}
	o = obj_add(c, pos_val(st, 0), SYM_FILE);
	o->file = f;
	if (yes(scn_arg(st, "unevictable")))
		set_bit(AS_UNEVICTABLE, &f->f_mapping.flags);
	return 0;
}

static int run_mmap(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *p = need(c, st, pos_val(st, 0)), *o, *fo = NULL;
	const char *flags = scn_arg(st, "flags");
	unsigned long vm = VM_READ | VM_WRITE, addr;
	u64 len = num(scn_arg(st, "size"), 0);
	int err;

	if (!p)
		return -1;
	if (scn_arg(st, "file")) {
		fo = need(c, st, scn_arg(st, "file"));
		if (!fo || !fo->file)
			return fail(c, st, "%s is closed", fo->name);
		vm |= VM_SHARED;
	}
	if (flags) {
		if (strstr(flags, "private"))
			vm &= ~VM_SHARED;
		if (strstr(flags, "thp"))
			vm |= VM_HUGEPAGE;
		if (strstr(flags, "hugetlb"))
			vm |= VM_HUGETLB;
		if (strstr(flags, "locked"))
			vm |= VM_LOCKED;
		if (strstr(flags, "readonly"))
			vm &= ~VM_WRITE;
	}
	addr = do_mmap(p->task, fo ? fo->file : NULL, 0, len, vm,
		       (pgoff_t)(num(scn_arg(st, "offset"), 0) >> PAGE_SHIFT), &err);
	record_ret(c, "mmap", err);
	if (err)
		return 0;
	{
		struct task_struct *t = p->task;	/* obj_add() may move the objects */

		o = obj_add(c, pos_val(st, 1), SYM_MAPPING);
		o->task = t;
	}
	o->addr = addr;
	o->len = len;
	return 0;
}

static int run_munmap(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *o = need(c, st, pos_val(st, 0));

	if (!o)
		return -1;

	if (!o->task->mm)
		return fail(c, st, "the process of %s has exited", o->name);
	record_ret(c, "munmap", do_munmap(o->task->mm, o->addr, o->len));
	return 0;
}

/* A user access; consuming poison runs the x86 machine-check path. */
static int run_access(struct scn_ctx *c, const struct scn_stmt *st)
{
	bool write = !strcmp(st->verb, "write");
	struct task_struct *t = NULL;
	unsigned long addr, pfn = 0;
	enum access_result r;

	if (resolve(c, st, pos_val(st, 0), NULL, &addr, &t))
		return -1;
	if (!t)
		return fail(c, st, "read and write take a mapping location (MAPPING+OFFSET)");
	if (scn_arg(st, "task"))
		t = need_task(c, st, scn_arg(st, "task"));
	if (!t)
		return -1;
	if (t->exited)
		return fail(c, st, "task %s:%d has exited", t->comm, t->pid);
	r = handle_user_access(t, addr, write, &pfn);
	c->has_access = true;
	c->last_access = r;
	if (r == ACCESS_CONSUMED_POISON && c->host->arch == ARCH_ARM64)
		record_ret(c, "sea", arm64_user_sea(t, pfn, addr));
	else if (r == ACCESS_CONSUMED_POISON)
		record_ret(c, "mce", mce_kill_me_maybe(t, pfn, addr, !scn_arg(st, "ripv") ||
						    yes(scn_arg(st, "ripv"))));
	return 0;
}

static int run_fileop(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *o = need(c, st, pos_val(st, 0));

	if (!o)
		return -1;
	u64 off = num(scn_arg(st, "offset"), 0), len = num(scn_arg(st, "len"), PAGE_SIZE);
	long ret;

	if (!o->file)
		return fail(c, st, "%s is closed", o->name);
	if (!strcmp(st->verb, "fwrite"))
		ret = file_write(o->file, off, len);
	else if (!strcmp(st->verb, "fread"))
		ret = file_read(o->file, off, len);
	else if (!strcmp(st->verb, "fsync"))
		ret = file_fsync(o->file);
	else
		ret = file_fallocate_punch(o->file, off, len);
	record_ret(c, st->verb, ret);
	return 0;
}

static int run_close(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *o = need(c, st, pos_val(st, 0));

	if (!o)
		return -1;

	if (!o->file)
		return fail(c, st, "%s is already closed", o->name);
	if (o->gmem)
		kvm_gmem_close(o->gmem);
	else
		fput(o->file);
	o->file = NULL;
	o->kind = SYM_NONE;
	return 0;
}

static int run_kernel(struct scn_ctx *c, const struct scn_stmt *st)
{
	static const struct { const char *kind; enum pagetype pt; enum folio_owner owner; } kinds[] = {
		{ "slab", PGTY_slab, FOLIO_OWNER_KERNEL },
		{ "pagetable", PGTY_table, FOLIO_OWNER_KERNEL },
		{ "large_kmalloc", PGTY_large_kmalloc, FOLIO_OWNER_KERNEL },
		{ "high_order", PGTY_none, FOLIO_OWNER_KERNEL_HIGH_ORDER },
		{ "driver", PGTY_none, FOLIO_OWNER_DRIVER },
		{ "inflight", PGTY_none, FOLIO_OWNER_DRIVER },
	};
	const char *kind = pos_val(st, 1);
	unsigned int order = (unsigned int)num(scn_arg(st, "order"), 0);
	int nid = (int)num(scn_arg(st, "node"), 0);
	struct scn_obj *o;
	struct folio *f;
	size_t i;

	if (!strcmp(kind, "reserved")) {
		o = obj_add(c, pos_val(st, 0), SYM_KERNEL);
		o->pfn = 0;
		if (!c->cfg.reserved_bytes)
			return fail(c, st, "the host has no reserved memory (host reserved=...)");
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(kinds[i].kind, kind))
			break;
	if (nid >= c->host->nr_nodes || order > MAX_PAGE_ORDER)
		return fail(c, st, "node must be below %d and order at most %d", c->host->nr_nodes,
			    MAX_PAGE_ORDER);
	f = alloc_kernel_pages(c->host, nid, order, kinds[i].pt, kinds[i].owner);
	if (!f)
		return fail(c, st, "no free memory for a %s allocation of order %u", kind, order);
	if (!strcmp(kind, "inflight")) {
		/* Off the free lists, refcount not yet set (before post_alloc_hook). */
		atomic_set(&f->_refcount, 0);
		f->extra_refs = 0;
	}
	o = obj_add(c, pos_val(st, 0), SYM_KERNEL);
	o->folio = f;
	o->pfn = folio_pfn(f);
	return 0;
}

static int run_free(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *o = need(c, st, pos_val(st, 0));

	if (!o)
		return -1;
	struct folio *f = o->folio;

	if (!f || f->extra_refs <= 0)
		return fail(c, st, "%s holds no reference to free", o->name);
	f->extra_refs--;
	folio_put(f);
	o->folio = NULL;
	return 0;
}

static int run_pin(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct task_struct *t;
	unsigned long addr;
	struct folio *f;
	struct scn_obj *o;
	int ret;

	if (resolve(c, st, pos_val(st, 1), NULL, &addr, &t))
		return -1;
	if (!t)
		return fail(c, st, "pin takes a mapping location");
	ret = pin_user_page(t, addr, &f);
	record_ret(c, "pin", ret);
	if (ret)
		return 0;
	o = obj_add(c, pos_val(st, 0), SYM_PIN);
	o->folio = f;
	return 0;
}

static int run_unpin(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *o = need(c, st, pos_val(st, 0));

	if (!o)
		return -1;

	if (!o->folio)
		return fail(c, st, "%s is not pinned", o->name);
	unpin_user_page(o->folio);
	o->folio = NULL;
	return 0;
}

static int run_swapcache(struct scn_ctx *c, const struct scn_stmt *st)
{
	unsigned long pfn;

	if (resolve(c, st, pos_val(st, 0), &pfn, NULL, NULL))
		return -1;
	if (!pfn_folio_lookup(c->host, pfn))
		return fail(c, st, "no page is allocated at %s", pos_val(st, 0));
	record_ret(c, "swapcache", swap_cache_add_folio(pfn_folio_lookup(c->host, pfn)));
	return 0;
}

static int run_exit(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct task_struct *t = need_task(c, st, pos_val(st, 0));

	if (!t)
		return -1;
	do_exit(t, 0);
	return 0;
}

static int run_nr_hugepages(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct hstate *h = size_to_hstate(c->host, (unsigned long)num(scn_arg(st, "pagesize"), 0));
	int nid = (int)num(scn_arg(st, "node"), 0);

	if (!h || nid >= c->host->nr_nodes)
		return fail(c, st, "pagesize must be 2M or 1G and node an existing node");
	if (scn_arg(st, "overcommit"))
		h->nr_overcommit_huge_pages = (unsigned long)num(scn_arg(st, "overcommit"), 0);
	if (scn_arg(st, "count"))
		record_ret(c, "nr_hugepages",
			   set_max_huge_pages(h, c->host, (unsigned long)num(scn_arg(st, "count"), 0), nid));
	return 0;
}

static const char *const race_points[] = {
	"memory_failure:after_get_hwpoison_page", "memory_failure:before_take_page_off_buddy",
	"guestmem_hugetlb_split:locked", "guestmem_hugetlb_merge:locked", NULL,
};
static const char *const race_words[] = {
	"memory_failure:after_get_hwpoison_page", "memory_failure:before_take_page_off_buddy",
	"guestmem_hugetlb_split:locked", "guestmem_hugetlb_merge:locked", "alloc", "memory_failure",
	NULL,
};

static const char *race_point(const char *w)
{
	for (int i = 0; race_points[i]; i++)
		if (!strcmp(w, race_points[i]))
			return race_points[i];
	return NULL;
}

static void race_alloc(struct scn_ctx *c, int i)
{
	struct host *host = c->host;
	unsigned long nr = 1UL << c->race_order[i], pfn = ALIGN_DOWN(c->race_pfn[i], nr);
	struct folio *f;

	if (alloc_contig_pfn_range(host, pfn, nr)) {
		trace_note(host->trace, "race: %#lx..%#lx is not free; nothing allocated", pfn,
			   pfn + nr - 1);
		return;
	}
	/* A non-compound high-order kernel allocation now owns it. */
	f = folio_new(host, pfn, c->race_order[i], FOLIO_OWNER_KERNEL_HIGH_ORDER, __GFP_NOFAIL);
	atomic_set(&f->_refcount, 1);
	f->extra_refs = 1;
	trace_note(host->trace, "race: pfn %#lx..%#lx allocated (order %u)", pfn, pfn + nr - 1,
		   c->race_order[i]);
}

/*
 * memory_failure() on another CPU, started at a lock point of a guest_memfd
 * restructuring that holds the folio lock. What it does before it needs
 * the folio lock happens now: on a folio it can take a reference on, it
 * takes one and waits (the rest runs when the operation has returned, see
 * race_resume()); on a HugeTLB folio that is not migratable it takes the
 * RETRY path, which needs no folio lock, and finishes now.
 */
static void race_memory_failure(struct scn_ctx *c, int i)
{
	struct host *host = c->host;
	unsigned long pfn = c->race_pfn[i];
	struct folio *f = pfn_valid(host, pfn) ? pfn_folio_lookup(host, pfn) : NULL;

	if (pfn_valid(host, pfn))
		pfn_to_page(host, pfn)->hw_bad = true;
	/* Only an LRU or in-use HugeTLB folio gets a reference and the folio lock. */
	if (!f || !(folio_test_lru(f) || (folio_test_hugetlb(f) && folio_test_hugetlb_migratable(f))) ||
	    !folio_try_get(f)) {
		trace_note(host->trace, "race: memory_failure(%#lx) needs no folio lock here; it runs now", pfn);
		(void)memory_failure(host, pfn, c->race_flags[i]);
		return;
	}
	c->race_folio[i] = f;
	trace_note(host->trace, "race: memory_failure(%#lx) holds a reference and waits for the folio lock", pfn);
	c->race_waiting[i] = true;
}

/* The operation has dropped its locks: waiting memory_failure() calls go on. */
static void race_resume(struct scn_ctx *c)
{
	for (int i = 0; i < c->nraces; i++) {
		struct folio *f = c->race_folio[i];
		int flags = c->race_flags[i];

		if (!c->race_waiting[i])
			continue;
		c->race_waiting[i] = false;
		c->race_folio[i] = NULL;
		trace_note(c->host->trace, "race: memory_failure(%#lx) goes on", c->race_pfn[i]);
		if (f) {
			f->mf_pins++;	/* memory_failure() adopts its reference */
			flags |= MF_COUNT_INCREASED;
		}
		(void)memory_failure(c->host, c->race_pfn[i], flags);
	}
}

static void race_fire(struct host *host, void *arg)
{
	struct scn_ctx *c = arg;

	(void)host;
	/* host_race_point() has taken the firing race off the list. */
	for (int i = 0; i < c->nraces; i++) {
		if (!c->races[i].fn || !list_empty(&c->races[i].node))
			continue;
		c->races[i].fn = NULL;
		if (c->race_mf[i])
			race_memory_failure(c, i);
		else
			race_alloc(c, i);
		return;
	}
}

static int run_race(struct scn_ctx *c, const struct scn_stmt *st)
{
	unsigned long pfn;
	int i = c->nraces, flags;

	if (i == (int)ARRAY_SIZE(c->races))
		return fail(c, st, "at most %zu races per scenario", ARRAY_SIZE(c->races));
	if (resolve(c, st, scn_arg(st, "at"), &pfn, NULL, NULL))
		return -1;
	if (parse_mf_flags(scn_arg(st, "flags"), &flags))
		return fail(c, st, "bad flags '%s'", scn_arg(st, "flags"));
	if (!pfn_valid(c->host, pfn))
		return fail(c, st, "pfn %#lx is outside memory", pfn);
	c->race_pfn[i] = pfn;
	c->race_order[i] = (unsigned int)num(scn_arg(st, "order"), 0);
	c->race_mf[i] = !strcmp(pos_val(st, 1), "memory_failure");
	c->race_flags[i] = flags;
	c->races[i].label = race_point(pos_val(st, 0));
	c->races[i].fn = race_fire;
	c->races[i].arg = c;
	c->nraces++;
	host_add_race(c->host, &c->races[i]);
	return 0;
}

static int run_hwerror(struct scn_ctx *c, const struct scn_stmt *st)
{
	unsigned long pfn;

	if (op_pfn(c, st, &pfn))
		return -1;
	if (!pfn_valid(c->host, pfn))
		return fail(c, st, "pfn %#lx is outside memory", pfn);
	pfn_to_page(c->host, pfn)->hw_bad = true;
	return 0;
}

/* ---- errors ------------------------------------------------------------------------ */

static int run_memory_failure(struct scn_ctx *c, const struct scn_stmt *st)
{
	unsigned long pfn;
	int flags, ret;
	struct task_struct *saved = c->host->current;

	if (op_pfn(c, st, &pfn))
		return -1;
	if (parse_mf_flags(scn_arg(st, "flags"), &flags))
		return fail(c, st, "bad flags '%s'", scn_arg(st, "flags"));
	if (scn_arg(st, "task") && !(c->host->current = need_task(c, st, scn_arg(st, "task")))) {
		c->host->current = saved;
		return -1;
	}
	if (pfn_valid(c->host, pfn))
		pfn_to_page(c->host, pfn)->hw_bad = true;
	ret = memory_failure(c->host, pfn, flags);
	c->host->current = saved;
	record_ret(c, "memory_failure", ret);
	return 0;
}

/*
 * An uncorrected memory error seen by the x86 #MC handler. SRAR in user mode
 * queues task work (kill_me_maybe) that runs on return to user, unless
 * defer=yes keeps the task in the kernel (for the repeated-#MC rules); in
 * kernel context it is a recoverable copy (kill_me_never). SRAO and UCNA go
 * to memory_failure() from the MCE log.
 */
static int run_mce(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct task_struct *t = need_task(c, st, pos_val(st, 0));
	const char *sev = scn_arg(st, "severity"), *ctx = scn_arg(st, "context");
	unsigned long pfn, addr = 0;
	int ret;

	if (!t)
		return -1;
	if (resolve(c, st, pos_val(st, 1), &pfn, NULL, NULL))
		return -1;
	if (!pfn_valid(c->host, pfn))
		return fail(c, st, "pfn %#lx is outside memory", pfn);
	pfn_to_page(c->host, pfn)->hw_bad = true;
	if (sev && strcmp(sev, "srar")) {
		record_ret(c, "mce", mce_async_error(c->host, strcmp(sev, "srao") ? MCE_UCNA : MCE_SRAO, pfn));
		return 0;
	}
	if (ctx && !strcmp(ctx, "kernel")) {
		record_ret(c, "mce", mce_kill_me_never(c->host, pfn));
		return 0;
	}
	addr = loc_user_addr(c, pos_val(st, 1));
	ret = mce_queue_task_work(t, pfn, addr, !scn_arg(st, "ripv") || yes(scn_arg(st, "ripv")));
	if (!ret && !yes(scn_arg(st, "defer")))
		ret = mce_task_work_run(t);
	record_ret(c, "mce", ret);
	return 0;
}

static int run_resume(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct task_struct *t = need_task(c, st, pos_val(st, 0));

	if (!t)
		return -1;
	record_ret(c, "resume", mce_task_work_run(t));
	return 0;
}

static int run_queue(struct scn_ctx *c, const struct scn_stmt *st)
{
	unsigned long pfn;
	int flags;

	if (op_pfn(c, st, &pfn))
		return -1;
	if (parse_mf_flags(scn_arg(st, "flags"), &flags))
		return fail(c, st, "bad flags '%s'", scn_arg(st, "flags"));
	memory_failure_queue(c->host, (int)num(scn_arg(st, "cpu"), 0), pfn, flags);
	return 0;
}

static int run_kick(struct scn_ctx *c, const struct scn_stmt *st)
{
	memory_failure_queue_kick(c->host, scn_arg(st, "cpu") ? (int)num(scn_arg(st, "cpu"), 0) : -1);
	return 0;
}

static int run_madvise(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct task_struct *t = need_task(c, st, pos_val(st, 0));
	unsigned long addr;
	u64 len = num(scn_arg(st, "len"), PAGE_SIZE);
	long ret;

	if (!t)
		return -1;
	if (resolve(c, st, pos_val(st, 1), NULL, &addr, NULL))
		return -1;
	if (!addr)
		return fail(c, st, "madvise takes a mapping location");
	if (!strcmp(pos_val(st, 2), "MADV_HWPOISON"))
		ret = madvise_hwpoison(t, addr, len);
	else
		ret = madvise_soft_offline(t, addr, len);
	record_ret(c, "madvise", ret);
	return 0;
}

static int run_pfn_op(struct scn_ctx *c, const struct scn_stmt *st)
{
	unsigned long pfn;
	int flags = 0;
	long ret;

	if (op_pfn(c, st, &pfn))
		return -1;
	if (!strcmp(st->verb, "corrupt_pfn"))
		ret = hwpoison_inject(c->host, pfn);
	else if (!strcmp(st->verb, "unpoison"))
		ret = unpoison_memory(c->host, pfn);
	else {
		if (parse_mf_flags(scn_arg(st, "flags"), &flags))
			return fail(c, st, "bad flags '%s'", scn_arg(st, "flags"));
		ret = soft_offline_page(c->host, pfn, flags);
	}
	record_ret(c, st->verb, ret);
	return 0;
}


/* ---- KVM and guest_memfd ------------------------------------------------------------ */

static const char *const vm_types[] = { "default", "sw_protected", "snp", "tdx", NULL };
static const unsigned long vm_type_vals[] = {
	KVM_X86_DEFAULT_VM, KVM_X86_SW_PROTECTED_VM, KVM_X86_SNP_VM, KVM_X86_TDX_VM,
};

static int run_vm(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct task_struct *vmm = need_task(c, st, pos_val(st, 1));
	const char *type = scn_arg(st, "type");
	unsigned long tv = KVM_X86_DEFAULT_VM;
	struct scn_obj *o;
	struct kvm *kvm;
	int err;

	if (!vmm)
		return -1;
	for (int i = 0; type && vm_types[i]; i++)
		if (!strcmp(vm_types[i], type))
			tv = vm_type_vals[i];
	kvm = kvm_create_vm(c->host, vmm, tv, &err);
	record_ret(c, "KVM_CREATE_VM", err);
	if (!kvm)
		return 0;
	o = obj_add(c, pos_val(st, 0), SYM_VM);
	o->kvm = kvm;
	o->task = vmm;
	return 0;
}

static int run_vcpu(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *vm = need(c, st, pos_val(st, 1));
	struct task_struct *t = need_task(c, st, pos_val(st, 2));
	struct kvm_vcpu *v;
	struct scn_obj *o;
	int err;

	if (!vm || !t)
		return -1;
	if (t->tgid != vm->task->tgid)
		return fail(c, st, "a vCPU runs in a thread of its VM's process (%s)", vm->task->comm);
	v = kvm_create_vcpu(vm->kvm, (int)num(scn_arg(st, "id"), (u64)vm->kvm->nr_vcpus), t, &err);
	record_ret(c, "KVM_CREATE_VCPU", err);
	if (!v)
		return 0;
	o = obj_add(c, pos_val(st, 0), SYM_VCPU);
	o->vcpu = v;
	o->task = t;
	return 0;
}

static int run_gmem(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *vm = need(c, st, pos_val(st, 1)), *o;
	const char *fl = scn_arg(st, "flags");
	u64 flags = num(scn_arg(st, "rawflags"), 0);
	struct kvm_gmem *g;
	int err;

	if (!vm)
		return -1;
	if (fl && strstr(fl, "mmap"))
		flags |= GUEST_MEMFD_FLAG_MMAP;
	if (fl && strstr(fl, "init_shared"))
		flags |= GUEST_MEMFD_FLAG_INIT_SHARED;
	if (scn_arg(st, "pagesize")) {
		u64 ps = num(scn_arg(st, "pagesize"), 0);

		if (ps != PMD_SIZE && ps != PUD_SIZE)
			return fail(c, st, "pagesize must be 2M or 1G");
		flags |= (ps == PMD_SIZE ? GUESTMEM_HUGETLB_FLAG_2MB : GUESTMEM_HUGETLB_FLAG_1GB);
	}
	g = kvm_gmem_create(vm->kvm, num(scn_arg(st, "size"), 0), flags, &err);
	record_ret(c, "KVM_CREATE_GUEST_MEMFD", err);
	if (!g)
		return 0;
	o = obj_add(c, pos_val(st, 0), SYM_FILE);
	o->file = g->file;
	o->gmem = g;
	return 0;
}

static struct kvm_gmem *need_gmem(struct scn_ctx *c, const struct scn_stmt *st, const char *name)
{
	struct scn_obj *o = need(c, st, name);

	if (!o)
		return NULL;
	if (!o->gmem || !o->file) {
		fail(c, st, "%s is not an open guest_memfd", name);
		return NULL;
	}
	return o->gmem;
}

/* Where the VMM's userfault bitmaps live in its address space (never mapped in the model). */
#define VMM_UFBITMAP_BASE	0x7e0000000000ULL

static struct vmm_ufbitmap *vmm_ufbitmap_find(struct scn_ctx *c, struct kvm *kvm, u32 slot)
{
	for (int i = c->nufb - 1; i >= 0; i--)
		if (c->ufb[i].kvm == kvm && c->ufb[i].slot == slot)
			return &c->ufb[i];
	return NULL;
}

/*
 * The VMM's bitmap for a slot of @npages at @base_gfn: the existing one
 * when it covers the slot (so that the bits survive clearing and setting
 * KVM_MEM_USERFAULT), a new zeroed one otherwise.
 */
static struct vmm_ufbitmap *vmm_ufbitmap_get(struct scn_ctx *c, struct kvm *kvm, u32 slot, gfn_t base_gfn,
					     unsigned long npages)
{
	struct vmm_ufbitmap *b = vmm_ufbitmap_find(c, kvm, slot);

	if (b && b->base_gfn == base_gfn && b->npages >= npages)
		return b;
	c->ufb = krealloc_array(c->ufb, (size_t)c->nufb + 1, sizeof(*c->ufb), __GFP_NOFAIL);
	b = &c->ufb[c->nufb++];
	b->kvm = kvm;
	b->slot = slot;
	b->base_gfn = base_gfn;
	b->npages = npages;
	b->bits = kcalloc((npages + BITS_PER_LONG - 1) / BITS_PER_LONG, sizeof(long), __GFP_NOFAIL);
	return b;
}

/* Its user address: one 1G window per slot above the VMM's mappings. */
static u64 vmm_ufbitmap_addr(const struct scn_ctx *c, const struct vmm_ufbitmap *b)
{
	return VMM_UFBITMAP_BASE + ((u64)(b - c->ufb) << 30);
}

static const char *const memslot_flag_names[] = { "log_dirty_pages", "readonly", "userfault", NULL };
static const u32 memslot_flag_bits[] = { KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, KVM_MEM_USERFAULT };

/* flags=A,B of memslot: the KVM_MEM_* bits, or -1 for an unknown name. */
static long memslot_flags(const char *v, const char **bad, size_t *badlen)
{
	long flags = 0;

	while (v && *v) {
		size_t n = strcspn(v, ",");
		int i;

		for (i = 0; memslot_flag_names[i]; i++)
			if (strlen(memslot_flag_names[i]) == n && !strncmp(memslot_flag_names[i], v, n))
				break;
		if (!memslot_flag_names[i]) {
			*bad = v;
			*badlen = n;
			return -1;
		}
		flags |= memslot_flag_bits[i];
		v += n + (v[n] == ',');
	}
	return flags;
}

static int run_memslot(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *vm = need(c, st, pos_val(st, 0));
	struct kvm_userspace_memory_region2 mem = { 0 };
	const char *g = scn_arg(st, "gmem"), *ua = scn_arg(st, "uaddr");
	const char *bad;
	size_t badlen;

	if (!vm)
		return -1;
	mem.slot = (u32)num(scn_arg(st, "slot"), 0) | ((u32)num(scn_arg(st, "as"), 0) << 16);
	mem.guest_phys_addr = num(scn_arg(st, "gpa"), 0);
	mem.memory_size = num(scn_arg(st, "size"), 0);
	mem.flags = (u32)num(scn_arg(st, "rawflags"), 0) |
		    (u32)memslot_flags(scn_arg(st, "flags"), &bad, &badlen);
	if (mem.flags & KVM_MEM_USERFAULT) {
		/*
		 * The VMM's own bitmap for this slot by default; userfault_bitmap=
		 * gives a raw address instead, where nothing is mapped.
		 */
		if (scn_arg(st, "userfault_bitmap")) {
			mem.userfault_bitmap = num(scn_arg(st, "userfault_bitmap"), 0);
		} else {
			struct vmm_ufbitmap *b = vmm_ufbitmap_get(c, vm->kvm, mem.slot,
								   mem.guest_phys_addr >> PAGE_SHIFT,
								   (unsigned long)(mem.memory_size >> PAGE_SHIFT));

			mem.userfault_bitmap = vmm_ufbitmap_addr(c, b);
			mem.userfault_bitmap_mem = b->bits;
		}
	}
	if (ua) {
		unsigned long addr;

		if (isdigit_str(ua))
			addr = (unsigned long)num(ua, 0);
		else if (resolve(c, st, ua, NULL, &addr, NULL))
			return -1;
		mem.userspace_addr = addr;
	}
	if (g) {
		struct scn_obj *o = need(c, st, g);

		if (!o)
			return -1;
		mem.flags |= KVM_MEM_GUEST_MEMFD;
		/* A closed file is a bad fd (EBADF); a file that is not a guest_memfd, EINVAL. */
		mem.guest_memfd = o->file;
		mem.guest_memfd_valid = o->file != NULL;
		mem.guest_memfd_offset = num(scn_arg(st, "offset"), 0);
	}
	record_ret(c, "KVM_SET_USER_MEMORY_REGION2", kvm_set_user_memory_region2(vm->kvm, &mem));
	return 0;
}

/*
 * The VMM sets or clears the bits of [gpa, gpa + size) in its userfault
 * bitmap for the memslot holding gpa: plain stores to its own memory, no
 * ioctl. KVM reads the bits on its next faults; a page mapped already
 * stays mapped until KVM_MEM_USERFAULT is cleared and set again.
 */
static int run_userfault(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *vm = need(c, st, pos_val(st, 0));
	u64 gpa = num(scn_arg(st, "gpa"), 0), size = num(scn_arg(st, "size"), PAGE_SIZE);
	bool on = !strcmp(pos_val(st, 1), "on");
	struct kvm_memory_slot *slot;
	struct vmm_ufbitmap *b;
	gfn_t gfn, end;

	if (!vm)
		return -1;
	if ((gpa | size) & (PAGE_SIZE - 1) || !size || gpa + size < gpa)
		return fail(c, st, "userfault: gpa=%#llx size=%#llx is not a page-aligned, non-empty range",
			    (unsigned long long)gpa, (unsigned long long)size);
	slot = gfn_to_memslot(vm->kvm, gpa >> PAGE_SHIFT);
	if (!slot)
		return fail(c, st, "userfault: no memslot holds gpa %#llx: a userfault bitmap covers one memslot",
			    (unsigned long long)gpa);
	gfn = gpa >> PAGE_SHIFT;
	end = (gpa + size) >> PAGE_SHIFT;
	if (end > slot->base_gfn + slot->npages)
		return fail(c, st, "userfault: gpa %#llx-%#llx runs past the end of slot %u (gpa %#llx-%#llx), "
			    "the bitmap's last bit", (unsigned long long)gpa, (unsigned long long)(gpa + size - 1),
			    slot->id, (unsigned long long)(slot->base_gfn << PAGE_SHIFT),
			    (unsigned long long)(((slot->base_gfn + slot->npages) << PAGE_SHIFT) - 1));
	b = vmm_ufbitmap_get(c, vm->kvm, (u32)slot->as_id << 16 | slot->id, slot->base_gfn, slot->npages);
	for (; gfn < end; gfn++) {
		unsigned long off = (unsigned long)(gfn - b->base_gfn);

		if (on)
			set_bit((unsigned int)(off % BITS_PER_LONG), &b->bits[off / BITS_PER_LONG]);
		else
			clear_bit((unsigned int)(off % BITS_PER_LONG), &b->bits[off / BITS_PER_LONG]);
	}
	trace_note(&c->trace, "VMM: userfault bitmap of vm%d slot %u: gpa %#llx-%#llx %s", vm->kvm->id,
		   slot->id, (unsigned long long)gpa, (unsigned long long)(gpa + size - 1), on ? "set" : "cleared");
	return 0;
}

static int run_set_attributes(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *vm = need(c, st, pos_val(st, 0));

	if (!vm)
		return -1;
	record_ret(c, "KVM_SET_MEMORY_ATTRIBUTES",
		   kvm_vm_set_mem_attributes(vm->kvm, num(scn_arg(st, "gpa"), 0), num(scn_arg(st, "size"), 0),
					     yes(scn_arg(st, "private")) ? KVM_MEMORY_ATTRIBUTE_PRIVATE :
					     num(scn_arg(st, "rawattributes"), 0),
					     num(scn_arg(st, "flags"), 0)));
	return 0;
}

/* A guest_memfd syscall runs in the VMM process that created its VM. */
static struct task_struct *gmem_syscall_enter(struct scn_ctx *c, struct kvm_gmem *g)
{
	struct task_struct *saved = c->host->current;

	if (g->kvm->vmm && !g->kvm->vmm->exited)
		c->host->current = g->kvm->vmm;
	return saved;
}

static void gmem_syscall_exit(struct scn_ctx *c, struct task_struct *saved)
{
	c->host->current = saved;
}

static int run_set_attributes2(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct kvm_gmem *g = need_gmem(c, st, pos_val(st, 0));
	struct task_struct *saved;

	if (!g)
		return -1;
	c->error_offset = num(scn_arg(st, "error_offset"), 0);
	saved = gmem_syscall_enter(c, g);
	record_ret(c, "KVM_SET_MEMORY_ATTRIBUTES2",
		   kvm_gmem_set_attributes(g, num(scn_arg(st, "offset"), 0), num(scn_arg(st, "size"), 0),
					   yes(scn_arg(st, "private")) ? KVM_MEMORY_ATTRIBUTE_PRIVATE :
					   num(scn_arg(st, "rawattributes"), 0),
					   num(scn_arg(st, "flags"), 0), &c->error_offset));
	gmem_syscall_exit(c, saved);
	return 0;
}

static int run_fallocate(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct kvm_gmem *g = need_gmem(c, st, pos_val(st, 0));
	const char *mode = scn_arg(st, "mode");
	struct task_struct *saved;
	int m;

	if (!g)
		return -1;
	if (!mode || !strcmp(mode, "allocate"))
		m = FALLOC_FL_KEEP_SIZE;
	else if (!strcmp(mode, "punch"))
		m = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;
	else
		m = (int)num(mode, 0);
	saved = gmem_syscall_enter(c, g);
	record_ret(c, "fallocate", kvm_gmem_fallocate(g, m, num(scn_arg(st, "offset"), 0),
						      num(scn_arg(st, "len"), 0)));
	gmem_syscall_exit(c, saved);
	return 0;
}

/*
 * The VMM's policy the seeds name: count distinct memory errors per VM and
 * move the VM elsewhere past a threshold.
 */
static void vmm_note_error(struct scn_ctx *c, struct kvm *kvm, u64 gpa, int ret)
{
	struct scn_obj *vm = NULL;

	if (c->last_run.exit_reason == KVM_EXIT_MEMORY_FAULT && ret != -EHWPOISON)
		return;
	for (int i = 0; i < c->nobjs; i++)
		if (c->objs[i].kind == SYM_VM && c->objs[i].kvm == kvm)
			vm = &c->objs[i];
	if (!vm)
		return;
	for (int i = 0; i < vm->nr_err; i++)
		if (vm->err_gpa[i] == (gpa & PAGE_MASK))
			return;
	if (vm->nr_err < (int)ARRAY_SIZE(vm->err_gpa))
		vm->err_gpa[vm->nr_err++] = gpa & PAGE_MASK;
	if (vm->err_threshold && vm->nr_err >= vm->err_threshold && !vm->evicted) {
		vm->evicted = true;
		trace_note(&c->trace, "VMM: %d distinct memory errors in vm%d: evicting it to another host",
			   vm->nr_err, kvm->id);
	}
}

static const char *exit_reason_name(u32 r)
{
	switch (r) {
	case KVM_EXIT_UNKNOWN: return "none";
	case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
	case KVM_EXIT_INTR: return "KVM_EXIT_INTR";
	case KVM_EXIT_MEMORY_FAULT: return "KVM_EXIT_MEMORY_FAULT";
	case KVM_EXIT_ARM_SEA: return "KVM_EXIT_ARM_SEA";
	default: return "KVM_EXIT_?";
	}
}

static int run_guest(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *o = need(c, st, pos_val(st, 0));
	const char *priv = scn_arg(st, "private");
	struct trace_event e = { .kind = TRACE_EXIT, .has = TF_VM | TF_RET | TF_EXIT };
	int ret;

	if (!o)
		return -1;
	if (c->host->arch == ARCH_ARM64)
		ret = arm64_vcpu_access(o->vcpu, num(scn_arg(st, "gpa"), 0), num(scn_arg(st, "gva"), 0),
					!strcmp(pos_val(st, 1), "write"), priv ? yes(priv) : -1,
					yes(scn_arg(st, "s1ptw")));
	else
		ret = x86_vcpu_access(o->vcpu, num(scn_arg(st, "gpa"), 0), !strcmp(pos_val(st, 1), "write"),
				      priv ? yes(priv) : -1);
	c->last_run = o->vcpu->run;
	if (o->vcpu->run.exit_reason == KVM_EXIT_ARM_SEA || o->vcpu->run.exit_reason == KVM_EXIT_MEMORY_FAULT)
		vmm_note_error(c, o->vcpu->kvm, o->vcpu->run.exit_reason == KVM_EXIT_ARM_SEA ?
			       o->vcpu->run.arm_sea.gpa : o->vcpu->run.memory_fault.gpa, ret);
	c->has_exit = true;
	c->last_run = o->vcpu->run;
	e.vm = o->vcpu->kvm->id;
	e.vcpu = o->vcpu->vcpu_id;
	e.ret = ret;
	e.exit_reason = exit_reason_name(o->vcpu->run.exit_reason);
	if (o->vcpu->run.exit_reason == KVM_EXIT_ARM_SEA) {
		e.has |= TF_GPA;
		e.gpa = o->vcpu->run.arm_sea.gpa;
		e.size = 0;
		e.flags = o->vcpu->run.arm_sea.flags;
	}
	if (o->vcpu->run.exit_reason == KVM_EXIT_MEMORY_FAULT) {
		e.has |= TF_GPA;
		e.gpa = o->vcpu->run.memory_fault.gpa;
		e.size = o->vcpu->run.memory_fault.size;
		e.flags = o->vcpu->run.memory_fault.flags;
	}
	trace_emit(&c->trace, &e);
	c->has_ret = true;
	c->last_ret = ret;
	return 0;
}

static int run_kvm_bug(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *vm = need(c, st, pos_val(st, 0));

	if (!vm)
		return -1;
	kvm_vm_bugged(vm->kvm);
	return 0;
}

static int run_vm_close(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *vm = need(c, st, pos_val(st, 0));

	if (!vm)
		return -1;
	kvm_vm_close(vm->kvm);
	vm->kind = SYM_NONE;
	return 0;
}


static int run_enable_cap(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *vm = need(c, st, pos_val(st, 0));
	const char *cap = pos_val(st, 1);

	if (!vm)
		return -1;
	record_ret(c, "KVM_ENABLE_CAP",
		   kvm_vm_enable_cap(vm->kvm, !strcmp(cap, "KVM_CAP_ARM_SEA_TO_USER") ? KVM_CAP_ARM_SEA_TO_USER :
				     !strcmp(cap, "KVM_CAP_USERFAULT") ? KVM_CAP_USERFAULT : (u32)num(cap, 0),
				     num(scn_arg(st, "flags"), 0)));
	return 0;
}

static int run_set_vcpu_events(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *o = need(c, st, pos_val(st, 0));

	if (!o)
		return -1;
	if (c->host->arch != ARCH_ARM64) {
		record_ret(c, "KVM_SET_VCPU_EVENTS", -EINVAL);
		return 0;
	}
	record_ret(c, "KVM_SET_VCPU_EVENTS",
		   arm64_set_vcpu_events(o->vcpu, yes(scn_arg(st, "serror")), yes(scn_arg(st, "ext_dabt"))));
	return 0;
}

static int run_ghes(struct scn_ctx *c, const struct scn_stmt *st)
{
	unsigned long pfn;

	if (op_pfn(c, st, &pfn))
		return -1;
	if (pfn_valid(c->host, pfn))
		pfn_to_page(c->host, pfn)->hw_bad = true;
	arm64_ghes_async(c->host, pfn);
	return 0;
}

static int run_vmm_policy(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *vm = need(c, st, pos_val(st, 0));

	if (!vm)
		return -1;
	vm->err_threshold = (int)num(scn_arg(st, "threshold"), 0);
	return 0;
}

/* ---- live update (KHO and LUO) -------------------------------------------------------- */

/* The LUO session of this host, made on first use with the kho_poison switch's value. */
static struct kho_session *kho_session(struct scn_ctx *c)
{
	if (!c->kho_active) {
		kho_session_init(&c->kho, c->host, c->kho_poison);
		c->kho_active = true;
	}
	return &c->kho;
}

static int run_kho_preserve(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct kvm_gmem *g = need_gmem(c, st, pos_val(st, 0));

	if (!g)
		return -1;
	record_ret(c, "LIVEUPDATE_SESSION_PRESERVE_FD",
		   kho_preserve(kho_session(c), g, num(scn_arg(st, "token"), 0),
				num(scn_arg(st, "vm_token"), 0)));
	return 0;
}

static int run_kho_freeze(struct scn_ctx *c, const struct scn_stmt *st)
{
	record_ret(c, "kho_freeze", kho_freeze(kho_session(c)));
	return 0;
}

static int run_kho_abort(struct scn_ctx *c, const struct scn_stmt *st)
{
	if (c->kho_active)
		kho_session_abort(&c->kho);
	c->kho_active = false;
	trace_note(&c->trace, "kho: session aborted: its files are unfrozen");
	return 0;
}

/*
 * The old host is gone: its tasks, VMs, files and cgroups with it, and
 * every scenario object that named them (the parser has made sure that no
 * later line names one).
 */
static void kho_drop_old_host(struct scn_ctx *c, struct host *old)
{
	for (int i = 0; i < c->nraces; i++)
		list_del_init(&c->races[i].node);
	c->nraces = 0;
	if (c->kho_active)
		kho_session_destroy(&c->kho);
	c->kho_active = false;
	for (int i = 0; i < c->nobjs; i++)
		kfree(c->objs[i].name);
	kfree(c->objs);
	c->objs = NULL;
	c->nobjs = 0;
	c->objs_cap = 0;
	for (int i = 0; i < c->nufb; i++)
		kfree(c->ufb[i].bits);
	kfree(c->ufb);
	c->ufb = NULL;
	c->nufb = 0;
	c->has_exit = false;
	kvm_host_teardown(old);
	host_destroy(old);
}

/*
 * reboot(LINUX_REBOOT_CMD_KEXEC): freeze the session (its last chance to
 * fail, which aborts the kexec), hand the image over as a blob, and boot
 * the new host from what it parses.
 */
static int run_kho_kexec(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct host *old = c->host, *nh;
	struct kho_error err;
	void *blob;
	size_t len;
	int ret;

	ret = kho_freeze(kho_session(c));
	if (ret) {
		trace_note(&c->trace, "kho: freeze failed (%s): kexec aborted, the old host runs on",
			   errno_name(ret));
		record_ret(c, "kexec", ret);
		return 0;
	}
	ret = kho_image_build(&c->kho.img, &blob, &len, &err);
	if (ret)
		return fail(c, st, "the frozen image does not build: %s", err.msg);
	kho_image_free(&c->kho_in);
	c->kho_kexeced = false;
	ret = kho_image_parse(blob, len, &c->kho_in, &err);
	if (ret) {
		kfree(blob);
		return fail(c, st, "the new host cannot parse the image: %s", err.msg);
	}
	nh = kho_kexec(old, &c->kho_in, &c->trace);
	if (IS_ERR(nh)) {
		kfree(blob);
		record_ret(c, "kexec", PTR_ERR(nh));
		return 0;
	}
	kfree(c->kho_blob);
	c->kho_blob = blob;
	c->kho_len = len;
	kho_drop_old_host(c, old);
	c->host = nh;
	c->kho_kexeced = true;
	record_ret(c, "kexec", 0);
	return 0;
}

static int run_kho_retrieve(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *vm = need(c, st, pos_val(st, 1)), *o;
	struct task_struct *saved = c->host->current;
	struct kvm_gmem *g;
	int err;

	if (!vm)
		return -1;
	if (!c->kho_kexeced) {
		/* No incoming session: LIVEUPDATE_IOCTL_RETRIEVE_SESSION fails. */
		record_ret(c, "LIVEUPDATE_SESSION_RETRIEVE_FD", -ENOENT);
		return 0;
	}
	if (vm->task && !vm->task->exited)
		c->host->current = vm->task;
	g = kho_retrieve(vm->kvm, &c->kho_in, num(scn_arg(st, "token"), 0), &err);
	c->host->current = saved;
	record_ret(c, "LIVEUPDATE_SESSION_RETRIEVE_FD", err);
	if (!g)
		return 0;
	o = obj_add(c, pos_val(st, 0), SYM_FILE);
	o->file = g->file;
	o->gmem = g;
	return 0;
}

static int run_kho_finish(struct scn_ctx *c, const struct scn_stmt *st)
{
	record_ret(c, "LIVEUPDATE_SESSION_FINISH", (long)kho_finish(c->host));
	return 0;
}

/* Is @pfn in preserved memory not claimed yet (reserved, KHO_PAGE_MAGIC on its head)? */
static bool kho_page_preserved(struct host *host, unsigned long pfn)
{
	struct folio *f = pfn_folio_lookup(host, pfn);
	struct page *head = f ? page_lookup(host, folio_pfn(f)) : NULL;

	return f && f->owner == FOLIO_OWNER_RESERVED && head && head->private == KHO_PAGE_MAGIC;
}

/* expect kho files=N reserved=N poisoned=N frozen=yes|no */
static int expect_kho(struct scn_ctx *c, const struct scn_stmt *st)
{
	const struct kho_image *img = c->kho_kexeced ? &c->kho_in : c->kho_active ? &c->kho.img : NULL;

	for (int i = 0; i < st->nargs; i++) {
		const struct scn_arg *a = &st->args[i];
		unsigned long got = 0;

		if (!a->key)
			continue;
		if (!strcmp(a->key, "files")) {
			got = img ? img->nr_files : 0;
		} else if (!strcmp(a->key, "poisoned")) {
			got = img ? img->nr_poison : 0;
		} else if (!strcmp(a->key, "reserved")) {
			for (struct range_node *n = rangemap_first(&c->host->memmap); n; n = rangemap_next(n)) {
				struct folio *f = container_of(n, struct folio, pfn_node);

				if (kho_page_preserved(c->host, folio_pfn(f)))
					got += folio_nr_pages(f);
			}
		} else if (!strcmp(a->key, "frozen")) {
			bool frozen = c->kho_active && c->kho.frozen;

			if (frozen != yes(a->val))
				return fail(c, st, "expected the session %sfrozen", yes(a->val) ? "" : "not ");
			continue;
		} else {
			return fail(c, st, "unknown kho property '%s' (files, reserved, poisoned, frozen)", a->key);
		}
		if (got != num(a->val, ~0ULL))
			return fail(c, st, "expected kho %s=%s, got %lu", a->key, a->val, got);
	}
	return 0;
}

static int check_host(const struct scn_stmt *st, const void *syms, struct scn_error *err)
{
	const struct scn_arg *a = scn_arg_find(st, "arch");

	if (a && strcmp(a->val, "x86") && strcmp(a->val, "arm64"))
		return scn_errorf(err, st->line, a->col + 5, "arch must be x86 or arm64");
	return 0;
}

/* ---- expectations ------------------------------------------------------------------ */

static const char *const sig_names[] = { [SIGBUS] = "SIGBUS", [SIGKILL] = "SIGKILL",
					 [SIGSEGV] = "SIGSEGV" };

static const struct { const char *name; int code; } si_codes[] = {
	{ "BUS_MCEERR_AR", BUS_MCEERR_AR }, { "BUS_MCEERR_AO", BUS_MCEERR_AO },
	{ "BUS_ADRERR", BUS_ADRERR }, { "BUS_OBJERR", 3 }, { "SI_KERNEL", SI_KERNEL },
	{ "SEGV_MAPERR", SEGV_MAPERR },
};

static const char *const expect_kinds[] = {
	"signal", "no-signal", "panic", "no-panic", "log", "no-log", "counter", "page",
	"hugepages", "task", "buddy", "stage2", "vcpu", "vmm", "cgroup", "kho", NULL,
};

static bool ev_in_op(struct scn_ctx *c, unsigned long i)
{
	return i >= c->op_ev;
}

static int expect_signal(struct scn_ctx *c, const struct scn_stmt *st, bool none)
{
	const char *tname = pos_val(st, 1), *sig = pos_val(st, 2);
	const char *code = scn_arg(st, "code"), *addr = scn_arg(st, "addr"), *lsb = scn_arg(st, "lsb");
	struct task_struct *t = tname ? need_task(c, st, tname) : NULL;
	unsigned long want_addr = 0;

	if (tname && !t)
		return -1;
	int seen = 0;
	const struct trace_event *match = NULL, *other = NULL;

	if (addr && resolve(c, st, addr, NULL, &want_addr, NULL))
		return -1;
	if (addr && !want_addr)
		want_addr = (unsigned long)num(addr, 0);
	for (unsigned long i = c->op_ev; i < c->trace.nr; i++) {
		const struct trace_event *e = &c->trace.ev[i];
		bool ok = true;

		if (e->kind != TRACE_SIGNAL || (t && e->pid != t->pid))
			continue;
		seen++;
		if (sig && (e->signal >= (int)ARRAY_SIZE(sig_names) || !sig_names[e->signal] ||
			    strcmp(sig_names[e->signal], sig)))
			ok = false;
		if (code) {
			int want = -1;

			for (size_t k = 0; k < ARRAY_SIZE(si_codes); k++)
				if (!strcmp(si_codes[k].name, code))
					want = si_codes[k].code;
			if (want < 0 && scn_parse_num(code, (u64 *)&(u64){0}) == 0)
				want = (int)num(code, 0);
			if (e->code != want)
				ok = false;
		}
		if (addr && (!(e->has & TF_ADDR) || e->addr != want_addr))
			ok = false;
		if (lsb && (!(e->has & TF_LSB) || e->lsb != (int)num(lsb, 0)))
			ok = false;
		if (ok && !match)
			match = e;
		else if (!other)
			other = e;
	}
	(void)ev_in_op;
	if (none) {
		/* With filters (SIGNAL, code=, addr=, lsb=) only a matching signal counts. */
		if (match)
			return fail(c, st, "expected no such signal%s%s, but %s:%d got %s code=%d",
				    t ? " to " : "", t ? t->comm : "", match->task, match->pid,
				    sig_names[match->signal] ? sig_names[match->signal] : "a signal",
				    match->code);
		return 0;
	}
	if (match)
		return 0;
	if (!seen)
		return fail(c, st, "expected a signal to %s:%d, but it got none", t->comm, t->pid);
	return fail(c, st, "expected %s%s%s%s to %s:%d; got code=%d addr=%#llx lsb=%d",
		    sig ? sig : "a signal", code ? " code=" : "", code ? code : "",
		    addr ? " at the address" : "", t->comm, t->pid, other->code,
		    (unsigned long long)other->addr, other->lsb);
}

static int expect_log(struct scn_ctx *c, const struct scn_stmt *st, bool none)
{
	const char *want = pos_val(st, 1);
	char buf[512];
	const char *p;
	size_t o = 0;

	/* ${pfn} stands for the pfn of the last result, as the kernel prints it (%#lx). */
	for (p = want; *p && o < sizeof(buf) - 24; p++) {
		if (!strncmp(p, "${pfn}", 6)) {
			struct mf_outcome m = mf_last_outcome(c->host);
			unsigned long pfn = 0;

			(void)m;
			for (unsigned long i = c->trace.nr; i-- > 0;)
				if (c->trace.ev[i].kind == TRACE_RESULT) {
					pfn = c->trace.ev[i].pfn;
					break;
				}
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%#lx", pfn);
			p += 5;
			continue;
		}
		buf[o++] = *p;
	}
	buf[o] = '\0';
	for (unsigned long i = none ? 0 : c->op_ev; i < c->trace.nr; i++) {
		const struct trace_event *e = &c->trace.ev[i];

		if ((e->kind == TRACE_LOG || e->kind == TRACE_PANIC) &&
		    (none ? strstr(e->message, buf) != NULL : !strcmp(e->message, buf))) {
			if (none)
				return fail(c, st, "expected no log line containing \"%s\", found \"%s\"",
					    buf, e->message);
			return 0;
		}
	}
	if (none)
		return 0;
	return fail(c, st, "expected the log line \"%s\"; it was not printed by the last operation",
		    buf);
}

static long counter_value(struct scn_ctx *c, const char *name, bool *found)
{
	int nid;
	char what[32];

	*found = true;
	if (!strcmp(name, "HardwareCorrupted"))
		return atomic_long_read(&c->host->num_poisoned_pages) * (long)(PAGE_SIZE / 1024);
	if (!strcmp(name, "num_poisoned_pages"))
		return atomic_long_read(&c->host->num_poisoned_pages);
	if (sscanf(name, "node%d.memory_failure.%31s", &nid, what) == 2 && nid >= 0 &&
	    nid < c->host->nr_nodes) {
		const struct memory_failure_stats *s = &c->host->nodes[nid].mf_stats;

		if (!strcmp(what, "total")) return (long)s->total;
		if (!strcmp(what, "ignored")) return (long)s->ignored;
		if (!strcmp(what, "failed")) return (long)s->failed;
		if (!strcmp(what, "delayed")) return (long)s->delayed;
		if (!strcmp(what, "recovered")) return (long)s->recovered;
	}
	*found = false;
	return 0;
}

static int expect_counter(struct scn_ctx *c, const struct scn_stmt *st)
{
	for (int i = 0; i < st->nargs; i++) {
		const struct scn_arg *a = &st->args[i];
		bool found;
		long v;

		if (!a->key)
			continue;
		v = counter_value(c, a->key, &found);
		if (!found)
			return fail(c, st, "unknown counter '%s' (HardwareCorrupted, num_poisoned_pages, "
				    "nodeN.memory_failure.{total,ignored,failed,delayed,recovered})", a->key);
		if (v != (long)num(a->val, 0))
			return fail(c, st, "expected %s=%s, got %ld", a->key, a->val, v);
	}
	return 0;
}

static bool page_is_mapped(struct host *host, unsigned long pfn)
{
	struct folio *f = pfn_folio_lookup(host, pfn);
	struct pte_entry *pte;

	if (!f)
		return false;
	list_for_each_entry(pte, &f->rmap, rmap)
		if (pfn >= pte->pfn && pfn < pte->pfn + (1UL << (pte->shift - PAGE_SHIFT)))
			return true;
	return false;
}

static int expect_page(struct scn_ctx *c, const struct scn_stmt *st)
{
	unsigned long pfn;
	struct page *p;
	struct folio *f;

	if (resolve(c, st, pos_val(st, 1), &pfn, NULL, NULL))
		return -1;
	if (!pfn_valid(c->host, pfn))
		return fail(c, st, "pfn %#lx is outside memory", pfn);
	p = pfn_to_page(c->host, pfn);
	f = page_folio(p);
	for (int i = 0; i < st->nargs; i++) {
		const struct scn_arg *a = &st->args[i];
		long got, want;

		if (!a->key)
			continue;
		if (!strcmp(a->key, "refcount")) {
			got = page_count(p);
			want = (long)num(a->val, 0);
		} else if (!strcmp(a->key, "order")) {
			got = f ? (long)f->order : -1;
			want = (long)num(a->val, 0);
		} else {
			if (!strcmp(a->key, "poisoned"))
				got = PageHWPoison(p) || (f && folio_test_hugetlb(f) && folio_test_hwpoison(f) &&
							  is_raw_hwpoison_page_in_hugepage(f, p));
			else if (!strcmp(a->key, "mapped"))
				got = page_is_mapped(c->host, pfn);
			else if (!strcmp(a->key, "cached"))
				got = f && f->mapping;
			else if (!strcmp(a->key, "free"))
				got = is_free_buddy_page(p);
			else if (!strcmp(a->key, "huge"))
				got = f && folio_test_hugetlb(f);
			else if (!strcmp(a->key, "split"))
				got = guestmem_split_lookup(c->host, pfn) != NULL;
			else if (!strcmp(a->key, "preserved"))
				got = kho_page_preserved(c->host, pfn);
			else
				return fail(c, st, "unknown page property '%s' (poisoned, mapped, cached, free, "
					    "huge, split, preserved, order, refcount)", a->key);
			want = yes(a->val);
		}
		if (got != want) {
			char gs[24];

			snprintf(gs, sizeof(gs), "%ld", got);
			return fail(c, st, "expected page %#lx %s=%s, got %s", pfn, a->key, a->val,
				    !strcmp(a->key, "refcount") || !strcmp(a->key, "order") ? gs :
				    got ? "yes" : "no");
		}
	}
	return 0;
}

static int expect_hugepages(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct hstate *h = size_to_hstate(c->host, (unsigned long)num(pos_val(st, 1), 0));

	if (!h)
		return fail(c, st, "hugepages takes a page size: 2M or 1G");
	for (int i = 0; i < st->nargs; i++) {
		const struct scn_arg *a = &st->args[i];
		unsigned long got;

		if (!a->key)
			continue;
		if (!strcmp(a->key, "total"))
			got = h->nr_huge_pages;
		else if (!strcmp(a->key, "free"))
			got = h->free_huge_pages;
		else if (!strcmp(a->key, "resv"))
			got = h->resv_huge_pages;
		else if (!strcmp(a->key, "surplus"))
			got = h->surplus_huge_pages;
		else
			return fail(c, st, "unknown pool count '%s' (total, free, resv, surplus)", a->key);
		if (got != num(a->val, 0))
			return fail(c, st, "expected %s %s=%s, got %lu", h->name, a->key, a->val, got);
	}
	return 0;
}

static int expect_task(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *o = need(c, st, pos_val(st, 1));

	if (!o)
		return -1;
	const char *state = pos_val(st, 2), *sig = scn_arg(st, "signal");
	struct task_struct *t = o->task;

	if (!state || (strcmp(state, "alive") && strcmp(state, "killed")))
		return fail(c, st, "expect task NAME alive|killed [signal=SIGBUS]");
	if (!strcmp(state, "alive") == t->exited)
		return fail(c, st, "expected %s:%d %s, but it is %s", t->comm, t->pid, state,
			    t->exited ? "dead" : "alive");
	if (sig && (t->exit_signal >= (int)ARRAY_SIZE(sig_names) || !sig_names[t->exit_signal] ||
		    strcmp(sig_names[t->exit_signal], sig)))
		return fail(c, st, "expected %s:%d killed by %s", t->comm, t->pid, sig);
	return 0;
}

/* expect cgroup NAME memory.current=SIZE hugetlb.2MB.current=SIZE ...: bytes, as the files show. */
static int expect_cgroup(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct scn_obj *o = need(c, st, pos_val(st, 1));

	if (!o)
		return -1;
	for (int i = 0; i < st->nargs; i++) {
		const struct scn_arg *a = &st->args[i];
		struct page_counter *pc;
		unsigned long have;
		bool is_max;

		if (!a->key)
			continue;
		pc = cgroup_file(o->cgroup, a->key, &is_max);
		have = is_max ? pc->max : pc->usage;
		if (have << PAGE_SHIFT != num(a->val, 0))
			return fail(c, st, "expected cgroup %s %s=%s, got %lu (%luK)", o->name, a->key,
				    a->val, have << PAGE_SHIFT, have << (PAGE_SHIFT - 10));
	}
	return 0;
}

static const char *const exit_flag_names[] = {
	"KVM_MEMORY_EXIT_FLAG_PRIVATE", "KVM_MEMORY_EXIT_FLAG_USERFAULT", NULL,
};
static const u64 exit_flag_bits[] = { KVM_MEMORY_EXIT_FLAG_PRIVATE, KVM_MEMORY_EXIT_FLAG_USERFAULT };

/* exit_flags=A|B (KVM_MEMORY_EXIT_FLAG_* names) or a number; ~0 when unknown. */
static u64 exit_flags_parse(const char *v)
{
	u64 flags = 0;

	if (!strncmp(v, "KVM_", 4)) {
		while (*v) {
			size_t n = strcspn(v, "|");
			int i;

			for (i = 0; exit_flag_names[i]; i++)
				if (strlen(exit_flag_names[i]) == n && !strncmp(exit_flag_names[i], v, n))
					break;
			if (!exit_flag_names[i])
				return ~0ULL;
			flags |= exit_flag_bits[i];
			v += n + (v[n] == '|');
		}
		return flags;
	}
	return num(v, ~0ULL);
}

static int expect_plain(struct scn_ctx *c, const struct scn_stmt *st)
{
	struct mf_outcome m = mf_last_outcome(c->host);

	for (int i = 0; i < st->nargs; i++) {
		const struct scn_arg *a = &st->args[i];

		if (!a->key)
			continue;
		if (!strcmp(a->key, "ret")) {
			long want;
			int e;

			if (!c->has_ret)
				return fail(c, st, "expected ret=%s, but no operation returned a value", a->val);
			if (!errno_parse(a->val, &e))
				want = e;
			else if (a->val[0] == '-')
				want = -(long)num(a->val + 1, 0);
			else
				want = (long)num(a->val, 0);
			if (c->last_ret != want) {
				char gs[32];

				if (c->last_ret < 0)
					snprintf(gs, sizeof(gs), "-%s", errno_name((int)c->last_ret));
				else
					snprintf(gs, sizeof(gs), "%ld", c->last_ret);
				return fail(c, st, "expected ret=%s, got %s", a->val, gs);
			}
		} else if (!strcmp(a->key, "type")) {
			if (!m.has_result)
				return fail(c, st, "expected type=%s, but there was no action result", a->val);
			if (strcmp(mf_msg_enum_names[m.type], a->val))
				return fail(c, st, "expected type=%s, got %s (\"%s\")", a->val,
					    mf_msg_enum_names[m.type], action_page_types[m.type]);
		} else if (!strcmp(a->key, "result")) {
			if (!m.has_result)
				return fail(c, st, "expected result=%s, but there was no action result", a->val);
			if (strcmp(mf_result_enum_names[m.result], a->val))
				return fail(c, st, "expected result=%s, got %s", a->val,
					    mf_result_enum_names[m.result]);
		} else if (!strcmp(a->key, "esr") || !strcmp(a->key, "gva") || !strcmp(a->key, "sea_flags")) {
			u64 got;

			if (!c->has_exit || c->last_run.exit_reason != KVM_EXIT_ARM_SEA)
				return fail(c, st, "expected %s=%s, but the last exit is not KVM_EXIT_ARM_SEA", a->key,
					    a->val);
			got = !strcmp(a->key, "esr") ? c->last_run.arm_sea.esr :
			      !strcmp(a->key, "gva") ? c->last_run.arm_sea.gva : c->last_run.arm_sea.flags;
			if (got != num(a->val, ~0ULL))
				return fail(c, st, "expected %s=%s, got %#llx", a->key, a->val, (unsigned long long)got);
		} else if (!strcmp(a->key, "exit") || !strcmp(a->key, "gpa") || !strcmp(a->key, "size") ||
			   !strcmp(a->key, "exit_flags")) {
			u64 got, want;

			if (!c->has_exit)
				return fail(c, st, "expected %s=%s, but no guest access ran", a->key, a->val);
			if (!strcmp(a->key, "exit")) {
				if (strcmp(exit_reason_name(c->last_run.exit_reason), a->val))
					return fail(c, st, "expected exit=%s, got %s", a->val,
						    exit_reason_name(c->last_run.exit_reason));
				continue;
			}
			if (!strcmp(a->key, "gpa")) {
				got = c->last_run.exit_reason == KVM_EXIT_ARM_SEA ? c->last_run.arm_sea.gpa :
				      c->last_run.memory_fault.gpa;
			} else if (!strcmp(a->key, "size")) {
				got = c->last_run.memory_fault.size;
			} else {
				got = c->last_run.memory_fault.flags;
			}
			want = !strcmp(a->key, "exit_flags") ? exit_flags_parse(a->val) : num(a->val, ~0ULL);
			if (got != want)
				return fail(c, st, "expected %s=%s, got %#llx", a->key, a->val,
					    (unsigned long long)got);
		} else if (!strcmp(a->key, "error_offset")) {
			if (c->error_offset != num(a->val, ~0ULL))
				return fail(c, st, "expected error_offset=%s, got %#llx", a->val,
					    (unsigned long long)c->error_offset);
		} else if (!strcmp(a->key, "access")) {
			if (!c->has_access || strcmp(access_result_names[c->last_access], a->val))
				return fail(c, st, "expected access=%s, got %s", a->val,
					    c->has_access ? access_result_names[c->last_access] : "no access");
		} else {
			return fail(c, st, "unknown expectation '%s' (ret, type, result, access, exit, gpa, size, "
				    "exit_flags, error_offset, esr, gva, sea_flags)", a->key);
		}
	}
	return 0;
}

static int run_expect(struct scn_ctx *c, const struct scn_stmt *st)
{
	const char *kind = pos_val(st, 0);
	int ret;

	c->expectations++;
	if (!kind)
		ret = expect_plain(c, st);
	else if (!strcmp(kind, "signal") || !strcmp(kind, "no-signal"))
		ret = expect_signal(c, st, kind[0] == 'n');
	else if (!strcmp(kind, "panic") || !strcmp(kind, "no-panic")) {
		bool want = kind[0] == 'p';
		const char *msg = pos_val(st, 1);

		if (c->host->panicked != want)
			ret = fail(c, st, "expected %s, but the host %s", want ? "a panic" : "no panic",
				   c->host->panicked ? "panicked" : "did not panic");
		else if (want && msg && strcmp(msg, c->host->panic_msg))
			ret = fail(c, st, "expected panic \"%s\", got \"%s\"", msg, c->host->panic_msg);
		else
			ret = 0;
	} else if (!strcmp(kind, "log") || !strcmp(kind, "no-log"))
		ret = expect_log(c, st, kind[0] == 'n');
	else if (!strcmp(kind, "counter"))
		ret = expect_counter(c, st);
	else if (!strcmp(kind, "page"))
		ret = expect_page(c, st);
	else if (!strcmp(kind, "hugepages"))
		ret = expect_hugepages(c, st);
	else if (!strcmp(kind, "task"))
		ret = expect_task(c, st);
	else if (!strcmp(kind, "cgroup"))
		ret = expect_cgroup(c, st);
	else if (!strcmp(kind, "kho"))
		ret = expect_kho(c, st);
	else if (!strcmp(kind, "vcpu")) {
		struct scn_obj *o = need(c, st, pos_val(st, 1));

		if (!o)
			return -1;
		ret = 0;
		if (scn_arg(st, "aborts") && o->vcpu->guest_aborts != num(scn_arg(st, "aborts"), 0))
			ret = fail(c, st, "expected the guest to have taken %s external aborts, got %lu",
				   scn_arg(st, "aborts"), o->vcpu->guest_aborts);
		else if (scn_arg(st, "serrors") && o->vcpu->guest_serrors + o->vcpu->serror_pending !=
			 num(scn_arg(st, "serrors"), 0))
			ret = fail(c, st, "expected %s virtual SErrors (taken or pending), got %lu",
				   scn_arg(st, "serrors"), o->vcpu->guest_serrors + o->vcpu->serror_pending);
	} else if (!strcmp(kind, "vmm")) {
		struct scn_obj *vm = need(c, st, pos_val(st, 1));

		if (!vm)
			return -1;
		ret = 0;
		if (scn_arg(st, "errors") && vm->nr_err != (int)num(scn_arg(st, "errors"), 0))
			ret = fail(c, st, "expected %s distinct errors in the VM, got %d", scn_arg(st, "errors"),
				   vm->nr_err);
		else if (scn_arg(st, "evicted") && vm->evicted != yes(scn_arg(st, "evicted")))
			ret = fail(c, st, "expected the VM %sevicted", yes(scn_arg(st, "evicted")) ? "" : "not ");
	} else if (!strcmp(kind, "stage2")) {
		struct scn_obj *vm = need(c, st, pos_val(st, 1));
		struct kvm_spte *sp;
		const char *mapped = scn_arg(st, "mapped");

		if (!vm)
			return -1;
		sp = kvm_spte_lookup(vm->kvm, num(scn_arg(st, "gpa"), 0) >> PAGE_SHIFT);
		if (mapped && yes(mapped) != (sp != NULL))
			return fail(c, st, "expected gpa %s %smapped in stage-2", scn_arg(st, "gpa"),
				    yes(mapped) ? "" : "not ");
		if (sp && scn_arg(st, "private") && yes(scn_arg(st, "private")) != sp->private)
			return fail(c, st, "expected the stage-2 entry to be %s", yes(scn_arg(st, "private")) ?
				    "private" : "shared");
		if (sp && scn_arg(st, "order") && sp->order != num(scn_arg(st, "order"), 0))
			return fail(c, st, "expected a stage-2 entry of order %s, got %u", scn_arg(st, "order"),
				    sp->order);
		ret = 0;
	}
	else {
		unsigned long want = (unsigned long)num(scn_arg(st, "free"), 0);
		int nid = (int)num(scn_arg(st, "node"), 0);

		if (nid >= c->host->nr_nodes)
			return fail(c, st, "node %d does not exist", nid);
		ret = node_free_pages(c->host, nid) == want ? 0 :
			fail(c, st, "expected %lu free pages on node %d, got %lu", want, nid,
			     node_free_pages(c->host, nid));
	}
	return ret;
}

/* Parse-time checks of an expectation's shape. */
static int check_expect(const struct scn_stmt *st, const void *syms, struct scn_error *err)
{
	const struct scn_arg *k = scn_pos(st, 0), *a1 = scn_pos(st, 1);
	size_t i;

	if (!k)
		return 0;
	for (i = 0; expect_kinds[i]; i++)
		if (!strcmp(expect_kinds[i], k->val))
			break;
	if (!expect_kinds[i])
		return scn_errorf(err, st->line, k->col,
				  "unknown expectation '%s' (signal, no-signal, panic, no-panic, log, "
				  "no-log, counter, page, hugepages, task, buddy, stage2, vcpu, vmm, cgroup, kho, or keys ret= type= "
				  "result= access= exit= gpa= size= exit_flags= error_offset= esr= gva= sea_flags=)",
				  k->val);
	if ((!strcmp(k->val, "signal") || !strcmp(k->val, "task")) && !a1)
		return scn_errorf(err, st->line, k->col, "expect %s needs a task name", k->val);
	if (a1 && (!strcmp(k->val, "signal") || !strcmp(k->val, "no-signal") || !strcmp(k->val, "task"))) {
		enum scn_sym_kind sk = scn_check_name(syms, a1->val);

		if (sk != SYM_PROCESS && sk != SYM_THREAD)
			return scn_errorf(err, st->line, a1->col, "expected a task, found '%s'", a1->val);
	}
	if ((!strcmp(k->val, "log") || !strcmp(k->val, "no-log")) && (!a1 || !a1->quoted))
		return scn_errorf(err, st->line, k->col, "expect %s needs a quoted line", k->val);
	if (!strcmp(k->val, "page")) {
		if (!a1)
			return scn_errorf(err, st->line, k->col, "expect page needs a location");
		return scn_check_location(syms, a1->val, st->line, a1->col, err);
	}
	if ((!strcmp(k->val, "stage2") || !strcmp(k->val, "vmm")) &&
	    (!a1 || scn_check_name(syms, a1->val) != SYM_VM))
		return scn_errorf(err, st->line, k->col, "expect %s needs a VM", k->val);
	if (!strcmp(k->val, "vcpu") && (!a1 || scn_check_name(syms, a1->val) != SYM_VCPU))
		return scn_errorf(err, st->line, k->col, "expect vcpu needs a vCPU");
	if (!strcmp(k->val, "cgroup")) {
		if (!a1 || scn_check_name(syms, a1->val) != SYM_CGROUP)
			return scn_errorf(err, st->line, k->col, "expect cgroup needs a cgroup");
		for (int j = 0; j < st->nargs; j++) {
			const struct scn_arg *a = &st->args[j];
			u64 v;

			if (!a->key)
				continue;
			if (strcmp(a->key, "memory.current") && strcmp(a->key, "hugetlb.2MB.current") &&
			    strcmp(a->key, "hugetlb.1GB.current") && strcmp(a->key, "memory.max") &&
			    strcmp(a->key, "hugetlb.2MB.max") && strcmp(a->key, "hugetlb.1GB.max"))
				return scn_errorf(err, st->line, a->col,
						  "unknown cgroup file '%s' (memory.current, memory.max, "
						  "hugetlb.2MB.current, hugetlb.2MB.max, hugetlb.1GB.current, "
						  "hugetlb.1GB.max)", a->key);
			if (scn_parse_num(a->val, &v))
				return scn_errorf(err, st->line, a->col + (int)strlen(a->key) + 1,
						  "expected a size for %s, found '%s'", a->key, a->val);
		}
		return 0;
	}
	if (!strcmp(k->val, "hugepages") && (!a1 || (strcmp(a1->val, "2M") && strcmp(a1->val, "1G"))))
		return scn_errorf(err, st->line, k->col, "expect hugepages needs 2M or 1G");
	for (int j = 0; j < st->nargs; j++) {
		const struct scn_arg *a = &st->args[j];

		if (a->key && !strcmp(a->key, "addr") &&
		    scn_check_location(syms, a->val, st->line, a->col + 5, err))
			return -EINVAL;
	}
	return 0;
}

static int check_mce(const struct scn_stmt *st, const void *syms, struct scn_error *err)
{
	const struct scn_arg *sev = scn_arg_find(st, "severity"), *ctx = scn_arg_find(st, "context");

	if (sev && strcmp(sev->val, "srar") && strcmp(sev->val, "srao") && strcmp(sev->val, "ucna"))
		return scn_errorf(err, st->line, sev->col + 9, "severity must be srar, srao or ucna");
	if (ctx && strcmp(ctx->val, "user") && strcmp(ctx->val, "kernel"))
		return scn_errorf(err, st->line, ctx->col + 8, "context must be user or kernel");
	return 0;
}

static int check_sysctl(const struct scn_stmt *st, const void *syms, struct scn_error *err)
{
	static const char *const known[] = {
		"vm.memory_failure_early_kill", "vm.memory_failure_recovery", "vm.enable_soft_offline",
		"vm.panic_on_unrecoverable_memory_failure",
	};

	if (!st->nargs)
		return scn_errorf(err, st->line, st->col, "sysctl needs NAME=VALUE");
	for (int i = 0; i < st->nargs; i++) {
		const struct scn_arg *a = &st->args[i];
		size_t k;
		u64 v;

		if (!a->key)
			return scn_errorf(err, st->line, a->col, "expected NAME=VALUE, found '%s'", a->val);
		for (k = 0; k < ARRAY_SIZE(known); k++)
			if (!strcmp(known[k], a->key))
				break;
		if (k == ARRAY_SIZE(known))
			return scn_errorf(err, st->line, a->col,
					  "unknown sysctl '%s' (vm.memory_failure_early_kill, "
					  "vm.memory_failure_recovery, vm.enable_soft_offline, "
					  "vm.panic_on_unrecoverable_memory_failure)", a->key);
		if (scn_parse_num(a->val, &v))
			return scn_errorf(err, st->line, a->col + (int)strlen(a->key) + 1,
					  "expected a number, found '%s'", a->val);
	}
	return 0;
}

static int check_flags(const struct scn_stmt *st, const void *syms, struct scn_error *err)
{
	const struct scn_arg *a = scn_arg_find(st, "flags");
	int flags;

	if (a && parse_mf_flags(a->val, &flags))
		return scn_errorf(err, st->line, a->col + 6,
				  "expected flags like MF_ACTION_REQUIRED|MF_MUST_KILL, found '%s'", a->val);
	if (!scn_arg(st, "at") && !scn_arg(st, "pfn") && strcmp(st->verb, "kick") &&
	    strcmp(st->verb, "race"))
		return scn_errorf(err, st->line, st->col, "%s needs at=LOCATION or pfn=N", st->verb);
	if (scn_arg(st, "at") && scn_arg(st, "pfn"))
		return scn_errorf(err, st->line, st->col, "give at= or pfn=, not both");
	return 0;
}

static int check_switch(const struct scn_stmt *st, const void *syms, struct scn_error *err)
{
	for (int i = 0; i < st->nargs; i++) {
		const struct scn_arg *a = &st->args[i];
		const struct scn_switch *sw = a->key ? scn_switch_find(a->key) : NULL;
		char vals[128];

		if (!sw)
			return scn_errorf(err, st->line, a->col,
					  "unknown switch '%s' (known: panic_rule, mf_delayed_fix, gmem_mf_stage, "
					  "gmem_mf_kill, tdx_bug, split_poison, kho_poison)",
					  a->key ? a->key : a->val);
		if (scn_switch_value(sw, a->val) < 0)
			return scn_errorf(err, st->line, a->col + (int)strlen(a->key) + 1,
					  "%s must be %s, not '%s'", a->key,
					  scn_switch_values(sw, vals, sizeof(vals)), a->val);
	}
	return 0;
}

/* ---- the verb table ------------------------------------------------------------------ */

static const struct scn_key host_keys[] = {
	{ "memory", 'n', false }, { "nodes", 'n', false }, { "cpus", 'n', false },
	{ "reserved", 'n', false }, { "hugepages-2M", 'n', false }, { "hugepages-1G", 'n', false },
	{ "arch", 'w', false }, { "ras", 'b', false }, { "apei", 'b', false }, { NULL, 0, false },
};
static const struct scn_key process_keys[] = {
	{ "handler", 'b', false }, { "cgroup", 'G', false }, { NULL, 0, false },
};
static const struct scn_key cgroup_keys[] = {
	{ "memory.max", 'n', false }, { "hugetlb.2MB.max", 'n', false }, { "hugetlb.1GB.max", 'n', false },
	{ NULL, 0, false },
};
static const struct scn_key prctl_keys[] = {
	{ "mce_kill", 'w', false }, { "arg2", 'n', false }, { "arg3", 'n', false }, { NULL, 0, false },
};
static const struct scn_key file_keys[] = {
	{ "size", 'n', true }, { "pagesize", 'n', false }, { "unevictable", 'b', false },
	{ NULL, 0, false },
};
static const char *const file_kinds[] = { "shmem", "hugetlbfs", "regular", NULL };
static const struct scn_key mmap_keys[] = {
	{ "size", 'n', true }, { "file", 'F', false }, { "offset", 'n', false }, { "flags", 'w', false },
	{ NULL, 0, false },
};
static const struct scn_key access_keys[] = {
	{ "task", 'T', false }, { "ripv", 'b', false }, { NULL, 0, false },
};
static const struct scn_key fileop_keys[] = {
	{ "offset", 'n', false }, { "len", 'n', false }, { NULL, 0, false },
};
static const struct scn_key kernel_keys[] = {
	{ "order", 'n', false }, { "node", 'n', false }, { NULL, 0, false },
};
static const char *const kernel_kinds[] = {
	"slab", "pagetable", "large_kmalloc", "high_order", "driver", "inflight", "reserved", NULL,
};
static const struct scn_key hugepages_keys[] = {
	{ "pagesize", 'n', true }, { "count", 'n', false }, { "node", 'n', false },
	{ "overcommit", 'n', false }, { NULL, 0, false },
};
static const struct scn_key race_keys[] = {
	{ "at", 'l', true }, { "order", 'n', false }, { "flags", 'w', false }, { NULL, 0, false },
};

static int check_race(const struct scn_stmt *st, const void *syms, struct scn_error *err)
{
	const struct scn_arg *p = scn_pos(st, 0), *a = scn_pos(st, 1);
	bool mf_point = !strncmp(p->val, "memory_failure:", 15);

	if (!race_point(p->val))
		return scn_errorf(err, st->line, p->col,
				  "expected a race point (%s, %s, %s or %s), found '%s'", race_points[0],
				  race_points[1], race_points[2], race_points[3], p->val);
	if (strcmp(a->val, "alloc") && strcmp(a->val, "memory_failure"))
		return scn_errorf(err, st->line, a->col,
				  "expected the action alloc or memory_failure, found '%s'", a->val);
	if (!strcmp(a->val, "memory_failure") && mf_point)
		return scn_errorf(err, st->line, a->col,
				  "memory_failure cannot race at %s: a second memory_failure() waits for mf_mutex",
				  p->val);
	if (strcmp(a->val, "memory_failure") && scn_arg(st, "flags"))
		return scn_errorf(err, st->line, a->col, "flags= goes with the action memory_failure");
	if (strcmp(a->val, "alloc") && scn_arg(st, "order"))
		return scn_errorf(err, st->line, a->col, "order= goes with the action alloc");
	return check_flags(st, syms, err);
}
static const struct scn_key loc_keys[] = { { "at", 'l', false }, { "pfn", 'n', false }, { NULL, 0, false } };
static const struct scn_key mf_keys[] = {
	{ "at", 'l', false }, { "pfn", 'n', false }, { "flags", 'w', false }, { "task", 'T', false },
	{ NULL, 0, false },
};
static const struct scn_key queue_keys[] = {
	{ "at", 'l', false }, { "pfn", 'n', false }, { "flags", 'w', false }, { "cpu", 'n', false },
	{ NULL, 0, false },
};
static const struct scn_key kick_keys[] = { { "cpu", 'n', false }, { NULL, 0, false } };
static const struct scn_key mce_keys[] = {
	{ "ripv", 'b', false }, { "defer", 'b', false }, { "severity", 'w', false },
	{ "context", 'w', false }, { NULL, 0, false },
};
static const struct scn_key madvise_keys[] = { { "len", 'n', false }, { NULL, 0, false } };
static const char *const madvise_advice[] = { "MADV_HWPOISON", "MADV_SOFT_OFFLINE", NULL };
static const struct scn_key soft_keys[] = {
	{ "at", 'l', false }, { "pfn", 'n', false }, { "flags", 'w', false }, { NULL, 0, false },
};

static const struct scn_key vm_keys[] = { { "type", 'w', false }, { NULL, 0, false } };
static const struct scn_key vcpu_keys[] = { { "id", 'n', false }, { NULL, 0, false } };
static const struct scn_key gmem_keys[] = {
	{ "size", 'n', true }, { "flags", 'w', false }, { "rawflags", 'n', false },
	{ "pagesize", 'n', false }, { NULL, 0, false },
};
static const struct scn_key memslot_keys[] = {
	{ "slot", 'n', true }, { "as", 'n', false }, { "gpa", 'n', false }, { "size", 'n', true },
	{ "gmem", 'F', false }, { "offset", 'n', false }, { "uaddr", 'w', false },
	{ "rawflags", 'n', false }, { "flags", 'w', false }, { "userfault_bitmap", 'n', false },
	{ NULL, 0, false },
};

static int check_memslot(const struct scn_stmt *st, const void *syms, struct scn_error *err)
{
	const struct scn_arg *a = scn_arg_find(st, "flags");
	const char *bad;
	size_t badlen;

	if (a && memslot_flags(a->val, &bad, &badlen) < 0)
		return scn_errorf(err, st->line, a->col + 6 + (int)(bad - a->val),
				  "unknown memslot flag '%.*s' (log_dirty_pages, readonly, userfault)",
				  (int)badlen, bad);
	if (scn_arg(st, "userfault_bitmap") && (!a || !strstr(a->val, "userfault")) &&
	    !scn_arg(st, "rawflags"))
		return scn_errorf(err, st->line, scn_arg_find(st, "userfault_bitmap")->col,
				  "userfault_bitmap= goes with flags=userfault");
	return 0;
}

static const struct scn_key userfault_keys[] = {
	{ "gpa", 'n', true }, { "size", 'n', false }, { NULL, 0, false },
};
static const char *const userfault_words[] = { "on", "off", NULL };
static const struct scn_key attr_keys[] = {
	{ "gpa", 'n', true }, { "size", 'n', true }, { "private", 'b', false },
	{ "rawattributes", 'n', false }, { "flags", 'n', false }, { NULL, 0, false },
};
static const struct scn_key attr2_keys[] = {
	{ "offset", 'n', true }, { "size", 'n', true }, { "private", 'b', false },
	{ "rawattributes", 'n', false }, { "flags", 'n', false }, { "error_offset", 'n', false },
	{ NULL, 0, false },
};
static const struct scn_key falloc_keys[] = {
	{ "mode", 'w', false }, { "offset", 'n', false }, { "len", 'n', true }, { NULL, 0, false },
};
static const struct scn_key guest_keys[] = {
	{ "gpa", 'n', true }, { "private", 'b', false }, { "gva", 'n', false }, { "s1ptw", 'b', false },
	{ NULL, 0, false },
};
static const char *const guest_words[] = { "read", "write", NULL };
static const struct scn_key cap_keys[] = { { "flags", 'n', false }, { NULL, 0, false } };
static const struct scn_key events_keys[] = {
	{ "ext_dabt", 'b', false }, { "serror", 'b', false }, { NULL, 0, false },
};
static const struct scn_key policy_keys[] = { { "threshold", 'n', true }, { NULL, 0, false } };
static const struct scn_key kho_preserve_keys[] = {
	{ "token", 'n', true }, { "vm_token", 'n', false }, { NULL, 0, false },
};
static const struct scn_key kho_retrieve_keys[] = { { "token", 'n', true }, { NULL, 0, false } };

static int run_concurrent(struct scn_ctx *c, const struct scn_stmt *st);
static int run_end(struct scn_ctx *c, const struct scn_stmt *st);

const struct scn_verb scn_verbs[] = {
	/* set-up */
	{ .name = "host", .pos = "", .keys = host_keys, .setup = true, .run = run_host,
	  .help = "host memory=SIZE nodes=N cpus=N reserved=SIZE hugepages-2M=N hugepages-1G=N "
		  "arch=x86|arm64 ras=yes|no apei=yes|no", .check = check_host },
	{ .name = "vary", .pos = "", .setup = true, .open_keys = true, .run = run_vary,
	  .help = "vary KEY=V1,V2,..." },
	{ .name = "sysctl", .pos = "", .open_keys = true, .run = run_sysctl, .check = check_sysctl,
	  .help = "sysctl vm.NAME=VALUE" },
	{ .name = "switch", .pos = "", .open_keys = true, .run = run_switch, .check = check_switch,
	  .help = "switch panic_rule=mainline|v4|v9" },
	/* objects */
	{ .name = "cgroup", .pos = "N", .keys = cgroup_keys, .defines = SYM_CGROUP, .run = run_cgroup,
	  .help = "cgroup NAME [memory.max=SIZE] [hugetlb.2MB.max=SIZE] [hugetlb.1GB.max=SIZE]" },
	{ .name = "process", .pos = "N", .keys = process_keys, .defines = SYM_PROCESS,
	  .run = run_process, .help = "process NAME [handler=yes] [cgroup=CGROUP]" },
	{ .name = "cgroup_attach", .pos = "GP", .run = run_cgroup_attach,
	  .help = "cgroup_attach CGROUP PROCESS" },
	{ .name = "thread", .pos = "NP", .defines = SYM_THREAD, .run = run_thread,
	  .help = "thread NAME PROCESS" },
	{ .name = "prctl", .pos = "T", .keys = prctl_keys, .run = run_prctl,
	  .help = "prctl TASK mce_kill=early|late|default|clear" },
	{ .name = "file", .pos = "NW", .keys = file_keys, .words = file_kinds, .defines = SYM_FILE,
	  .run = run_file, .help = "file NAME shmem|hugetlbfs|regular size=SIZE [pagesize=2M|1G]" },
	{ .name = "mmap", .pos = "PN", .keys = mmap_keys, .defines = SYM_MAPPING, .run = run_mmap,
	  .help = "mmap PROCESS NAME size=SIZE [file=FILE offset=OFF] [flags=thp,hugetlb,locked,private,readonly]" },
	{ .name = "munmap", .pos = "M", .run = run_munmap, .help = "munmap MAPPING" },
	{ .name = "read", .pos = "L", .keys = access_keys, .run = run_access,
	  .help = "read MAPPING+OFFSET [task=TASK] [ripv=yes|no]" },
	{ .name = "write", .pos = "L", .keys = access_keys, .run = run_access,
	  .help = "write MAPPING+OFFSET [task=TASK] [ripv=yes|no]" },
	{ .name = "fread", .pos = "F", .keys = fileop_keys, .run = run_fileop,
	  .help = "fread FILE offset=OFF len=LEN" },
	{ .name = "fwrite", .pos = "F", .keys = fileop_keys, .run = run_fileop,
	  .help = "fwrite FILE offset=OFF len=LEN" },
	{ .name = "fsync", .pos = "F", .run = run_fileop, .help = "fsync FILE" },
	{ .name = "punch", .pos = "F", .keys = fileop_keys, .run = run_fileop,
	  .help = "punch FILE offset=OFF len=LEN" },
	{ .name = "close", .pos = "F", .run = run_close, .help = "close FILE" },
	{ .name = "kernel", .pos = "NW", .keys = kernel_keys, .words = kernel_kinds,
	  .defines = SYM_KERNEL, .run = run_kernel,
	  .help = "kernel NAME slab|pagetable|large_kmalloc|high_order|driver|inflight|reserved [order=N] [node=N]" },
	{ .name = "free", .pos = "K", .run = run_free, .help = "free KERNEL_ALLOCATION" },
	{ .name = "pin", .pos = "NL", .defines = SYM_PIN, .run = run_pin, .help = "pin NAME MAPPING+OFFSET" },
	{ .name = "unpin", .pos = "I", .run = run_unpin, .help = "unpin PIN" },
	{ .name = "swapcache", .pos = "L", .run = run_swapcache, .help = "swapcache MAPPING+OFFSET" },
	{ .name = "exit", .pos = "P", .run = run_exit, .help = "exit PROCESS" },
	{ .name = "nr_hugepages", .pos = "", .keys = hugepages_keys, .run = run_nr_hugepages,
	  .help = "nr_hugepages pagesize=2M|1G [count=N] [node=N] [overcommit=N]" },
	{ .name = "race", .pos = "WW", .keys = race_keys, .words = race_words, .run = run_race,
	  .check = check_race,
	  .help = "race POINT alloc at=LOCATION [order=N] | race POINT memory_failure at=LOCATION [flags=F]" },
	{ .name = "hwerror", .pos = "", .keys = loc_keys, .run = run_hwerror, .check = check_flags,
	  .help = "hwerror at=LOCATION|pfn=N" },
	/* errors */
	{ .name = "memory_failure", .pos = "", .keys = mf_keys, .run = run_memory_failure,
	  .check = check_flags, .help = "memory_failure at=LOCATION|pfn=N [flags=MF_...] [task=TASK]" },
	{ .name = "mce", .pos = "TL", .keys = mce_keys, .run = run_mce, .check = check_mce,
	  .help = "mce TASK LOCATION [ripv=yes|no] [defer=yes] [severity=srar|srao|ucna] [context=user|kernel]" },
	{ .name = "resume", .pos = "T", .run = run_resume, .help = "resume TASK" },
	{ .name = "memory_failure_queue", .pos = "", .keys = queue_keys, .run = run_queue,
	  .check = check_flags, .help = "memory_failure_queue at=LOCATION|pfn=N [flags=] [cpu=N]" },
	{ .name = "kick", .pos = "", .keys = kick_keys, .run = run_kick, .help = "kick [cpu=N]" },
	{ .name = "madvise", .pos = "TLW", .keys = madvise_keys, .words = madvise_advice,
	  .run = run_madvise, .help = "madvise TASK MAPPING+OFFSET MADV_HWPOISON|MADV_SOFT_OFFLINE [len=LEN]" },
	{ .name = "corrupt_pfn", .pos = "", .keys = loc_keys, .run = run_pfn_op, .check = check_flags,
	  .help = "corrupt_pfn at=LOCATION|pfn=N" },
	{ .name = "unpoison", .pos = "", .keys = loc_keys, .run = run_pfn_op, .check = check_flags,
	  .help = "unpoison at=LOCATION|pfn=N" },
	{ .name = "soft_offline", .pos = "", .keys = soft_keys, .run = run_pfn_op, .check = check_flags,
	  .help = "soft_offline at=LOCATION|pfn=N [flags=]" },
	/* KVM and guest_memfd */
	{ .name = "vm", .pos = "NP", .keys = vm_keys, .defines = SYM_VM, .run = run_vm,
	  .help = "vm NAME PROCESS [type=default|sw_protected|snp|tdx]" },
	{ .name = "vm_close", .pos = "V", .run = run_vm_close, .help = "vm_close VM" },
	{ .name = "vcpu", .pos = "NVT", .keys = vcpu_keys, .defines = SYM_VCPU, .run = run_vcpu,
	  .help = "vcpu NAME VM THREAD [id=N]" },
	{ .name = "gmem", .pos = "NV", .keys = gmem_keys, .defines = SYM_FILE, .run = run_gmem,
	  .help = "gmem NAME VM size=SIZE [flags=mmap,init_shared] [pagesize=2M|1G] [rawflags=N]" },
	{ .name = "memslot", .pos = "V", .keys = memslot_keys, .run = run_memslot, .check = check_memslot,
	  .help = "memslot VM slot=N gpa=ADDR size=SIZE [gmem=FILE offset=OFF] [uaddr=MAPPING+OFF] "
		  "[flags=log_dirty_pages,readonly,userfault] [userfault_bitmap=N]" },
	{ .name = "userfault", .pos = "VW", .keys = userfault_keys, .words = userfault_words,
	  .run = run_userfault, .help = "userfault VM gpa=ADDR [size=SIZE] on|off" },
	{ .name = "set_attributes", .pos = "V", .keys = attr_keys, .run = run_set_attributes,
	  .help = "set_attributes VM gpa=ADDR size=SIZE private=yes|no" },
	{ .name = "set_attributes2", .pos = "F", .keys = attr2_keys, .run = run_set_attributes2,
	  .help = "set_attributes2 GMEM offset=OFF size=SIZE private=yes|no" },
	{ .name = "fallocate", .pos = "F", .keys = falloc_keys, .run = run_fallocate,
	  .help = "fallocate GMEM mode=allocate|punch|N offset=OFF len=LEN" },
	{ .name = "guest", .pos = "CW", .keys = guest_keys, .words = guest_words, .run = run_guest,
	  .help = "guest VCPU read|write gpa=ADDR [private=yes|no] [gva=ADDR] [s1ptw=yes]" },
	{ .name = "kvm_bug", .pos = "V", .run = run_kvm_bug, .help = "kvm_bug VM" },
	{ .name = "enable_cap", .pos = "VX", .keys = cap_keys, .run = run_enable_cap,
	  .help = "enable_cap VM KVM_CAP_ARM_SEA_TO_USER|KVM_CAP_USERFAULT|N [flags=N]" },
	{ .name = "set_vcpu_events", .pos = "C", .keys = events_keys, .run = run_set_vcpu_events,
	  .help = "set_vcpu_events VCPU [ext_dabt=yes] [serror=yes]" },
	{ .name = "ghes", .pos = "", .keys = loc_keys, .run = run_ghes, .check = check_flags,
	  .help = "ghes at=LOCATION|pfn=N" },
	{ .name = "vmm_policy", .pos = "V", .keys = policy_keys, .run = run_vmm_policy,
	  .help = "vmm_policy VM threshold=N" },
	/* live update */
	{ .name = "kho_preserve", .pos = "F", .keys = kho_preserve_keys, .run = run_kho_preserve,
	  .help = "kho_preserve GMEM token=N [vm_token=N]" },
	{ .name = "kho_freeze", .pos = "", .run = run_kho_freeze, .help = "kho_freeze" },
	{ .name = "kho_abort", .pos = "", .run = run_kho_abort, .help = "kho_abort" },
	{ .name = "kho_kexec", .pos = "", .kexec = true, .run = run_kho_kexec, .help = "kho_kexec" },
	{ .name = "kho_retrieve", .pos = "NV", .keys = kho_retrieve_keys, .defines = SYM_FILE,
	  .run = run_kho_retrieve, .help = "kho_retrieve NAME VM token=N" },
	{ .name = "kho_finish", .pos = "", .run = run_kho_finish, .help = "kho_finish" },
	/* the race explorer's block */
	{ .name = "concurrent", .pos = "", .run = run_concurrent, .help = "concurrent" },
	{ .name = "end", .pos = "", .run = run_end, .help = "end" },
	/* expectations */
	{ .name = "expect", .pos = "", .opt_pos = "XXXX", .expectation = true, .run = run_expect,
	  .check = check_expect, .help = "expect [KIND ...] [KEY=VALUE ...]" },
};

const int scn_nr_verbs = (int)ARRAY_SIZE(scn_verbs);

const struct scn_verb *scn_find_verb(const char *name)
{
	for (int i = 0; i < scn_nr_verbs; i++)
		if (!strcmp(scn_verbs[i].name, name))
			return &scn_verbs[i];
	return NULL;
}

/* ---- running a file ------------------------------------------------------------------- */

static bool guard_open(const struct scn_ctx *c, const struct scn_stmt *st)
{
	if (!st->guard_key)
		return true;
	for (int i = 0; i < st->nguard; i++)
		if (c->vary_val && !strcmp(st->guard_vals[i], c->vary_val))
			return true;
	return false;
}

static void print_stmt(struct scn_ctx *c, const struct scn_stmt *st)
{
	FILE *out = c->opts->out;

	if (!out || c->opts->quiet || c->opts->json)
		return;
	if (st->thread)
		fprintf(out, ">> %d [%s]: %s", st->line, st->thread, st->verb);
	else
		fprintf(out, ">> %d: %s", st->line, st->verb);
	for (int i = 0; i < st->nargs; i++) {
		const struct scn_arg *a = &st->args[i];

		if (a->key)
			fprintf(out, a->quoted ? " %s=\"%s\"" : " %s=%s", a->key, a->val);
		else
			fprintf(out, a->quoted ? " \"%s\"" : " %s", a->val);
	}
	fputc('\n', out);
}

static int apply_vary(struct scn_ctx *c, const struct scn_stmt *st)
{
	const char *key = c->f->vary_key;
	u64 v;

	if (!key)
		return 0;
	if (!strcmp(key, "arch")) {
		c->host->arch = strcmp(c->vary_val, "arm64") ? ARCH_X86 : ARCH_ARM64;
		return 0;
	}
	if (!strcmp(key, "apei")) {
		c->host->arm64.apei = yes(c->vary_val);
		return 0;
	}
	if (!strcmp(key, "panic_rule") || !strcmp(key, "mf_delayed_fix") || !strcmp(key, "gmem_mf_stage") ||
	    !strcmp(key, "gmem_mf_kill") || !strcmp(key, "tdx_bug") || !strcmp(key, "split_poison") ||
	    !strcmp(key, "kho_poison"))
		return set_switch(c, st, key, c->vary_val);
	if (!strcmp(key, "vm.memory_failure_early_kill") && !scn_parse_num(c->vary_val, &v))
		c->host->sysctl.memory_failure_early_kill = (int)v;
	else if (!strcmp(key, "vm.memory_failure_recovery") && !scn_parse_num(c->vary_val, &v))
		c->host->sysctl.memory_failure_recovery = (int)v;
	else if (!strcmp(key, "vm.enable_soft_offline") && !scn_parse_num(c->vary_val, &v))
		c->host->sysctl.enable_soft_offline = (int)v;
	else if (!strcmp(key, "vm.panic_on_unrecoverable_memory_failure") && !scn_parse_num(c->vary_val, &v))
		c->host->sysctl.panic_on_unrecoverable_memory_failure = (int)v;
	else
		return fail(c, st, "cannot vary '%s' (panic_rule or a vm.* sysctl with numeric values)", key);
	return 0;
}

static bool invariants_broken(struct scn_ctx *c)
{
	return host_validate(c->host) || kvm_validate_all(c->host);
}

/* The message of the last "invariant broken: " note. */
static const char *invariant_why(const struct scn_ctx *c)
{
	for (unsigned long i = c->trace.nr; i-- > 0;)
		if (c->trace.ev[i].kind == TRACE_NOTE &&
		    !strncmp(c->trace.ev[i].message, "invariant broken: ", 18))
			return c->trace.ev[i].message;
	return "an invariant";
}

static int run_stmt(struct scn_ctx *c, const struct scn_stmt *st);

/* ---- the concurrent block ----------------------------------------------------- */

/* Hosts a deadlocked execution left to parked threads: never freed. */
static struct host **abandoned;
static int nabandoned;

static void conc_thread(void *arg, int tid)
{
	struct scn_ctx *c = arg;
	const struct scn_file *f = c->f;

	for (int i = 0; i < f->n && !c->failed; i++) {
		const struct scn_stmt *st = &f->stmts[i];

		if (st->thread && st->thread_idx == tid)
			(void)run_stmt(c, st);
	}
}

/* Each model thread is a CPU: its own `current` and scenario line. */
static void conc_switch_in(void *arg, int tid)
{
	struct scn_ctx *c = arg;

	c->host->current = c->thr_current[tid];
	c->trace.line = c->thr_line[tid];
}

static void conc_switch_out(void *arg, int tid)
{
	struct scn_ctx *c = arg;

	c->thr_current[tid] = c->host->current;
	c->thr_line[tid] = c->trace.line;
}

static void conc_switched(void *arg, unsigned long step, int from, int to, const char *what)
{
	struct scn_ctx *c = arg;

	trace_note(&c->trace, "explorer: step %lu: %s runs (%s at %s)", step, c->f->threads[to],
		   c->f->threads[from], what);
}

static int conc_check(void *arg, bool locked, char *why, size_t len)
{
	struct scn_ctx *c = arg;

	if (c->host->nr_warnings != c->block_warnings) {
		/* A WARN_ON() in the model: a state the code says cannot happen. */
		for (unsigned long i = c->trace.nr; i-- > 0;)
			if (c->trace.ev[i].kind == TRACE_LOG && c->trace.ev[i].message &&
			    !strncmp(c->trace.ev[i].message, "WARNING: ", 9)) {
				snprintf(why, len, "%s", c->trace.ev[i].message);
				return -1;
			}
		snprintf(why, len, "a WARN_ON() fired");
		return -1;
	}
	if (locked || (!host_validate_step(c->host) && !kvm_validate_all(c->host)))
		return 0;
	snprintf(why, len, "%s", invariant_why(c));
	return -1;
}

static int run_concurrent(struct scn_ctx *c, const struct scn_stmt *st)
{
	const struct sched_thread_ops ops = {
		.run = conc_thread, .switch_in = conc_switch_in, .switch_out = conc_switch_out,
		.switched = conc_switched, .check = conc_check, .arg = c,
	};
	struct task_struct *saved = c->host->current;
	enum sched_outcome o;

	c->at_pfn = kcalloc((size_t)c->f->n, sizeof(*c->at_pfn), __GFP_NOFAIL);
	for (int i = 0; i < c->f->n; i++) {
		const struct scn_stmt *s = &c->f->stmts[i];

		c->at_pfn[i] = ULONG_MAX;
		if (s->thread && scn_arg(s, "at") &&
		    resolve(c, s, scn_arg(s, "at"), &c->at_pfn[i], NULL, NULL))
			return -1;
	}
	obj_reserve(c, c->f->nblock_names);
	c->in_block = true;
	if (!c->opts->explorer) {
		/* gmf run: one thread after the other, in the order they appear. */
		for (int t = 0; t < c->f->nthreads && !c->failed; t++)
			conc_thread(c, t);
		c->in_block = false;
		return c->failed ? -1 : 0;
	}
	for (int t = 0; t < c->f->nthreads; t++) {
		c->thr_current[t] = saved;
		c->thr_line[t] = st->line;
	}
	c->block_warnings = c->host->nr_warnings;
	o = explorer_run(c->opts->explorer, &ops);
	c->in_block = false;
	c->host->current = saved;
	c->sched_outcome = (int)o;
	if (explorer_parked(c->opts->explorer)) {
		/* Threads are parked mid-operation on this host: never touch it again. */
		c->abandon = true;
		c->halted = true;
	}
	if (o != SCHED_OK) {
		c->failed = false;	/* the schedule's verdict comes first */
		return fail(c, st, "%s", explorer_why(c->opts->explorer));
	}
	if (c->failed)
		return -1;
	if (invariants_broken(c))
		return fail(c, st, "after the concurrent block: %s", invariant_why(c));
	return 0;
}

static int run_end(struct scn_ctx *c, const struct scn_stmt *st)
{
	(void)c;
	(void)st;
	return 0;
}

static int run_stmt(struct scn_ctx *c, const struct scn_stmt *st)
{
	int ret;

	if (!guard_open(c, st) || (st->thread && !c->in_block))
		return 0;
	c->trace.line = st->line;
	print_stmt(c, st);
	if (!st->v->setup && !st->v->expectation) {
		if (ensure_host(c, st))
			return -1;
		if (c->halted) {
			trace_note(&c->trace, "the host has panicked: line %d is not run", st->line);
			return 0;
		}
		c->op_ev = c->trace.nr;
		c->op = st;
		c->has_ret = false;
		c->has_access = false;
		c->host->mf_has_result = false;
	}
	if (st->v->expectation && ensure_host(c, st))
		return -1;
	ret = st->v->run(c, st);
	if (c->host && !st->v->expectation)
		race_resume(c);
	if (c->host && c->host->mf_has_result && !st->v->expectation)
		c->outcome = mf_last_outcome(c->host);
	if (ret || c->failed)
		return -1;
	if (c->host && !st->v->expectation) {
		signals_deliver(c->host);
		if (c->host->panicked)
			c->halted = true;
		/* Under the explorer, other threads may be mid-operation: it checks. */
		if (!(c->in_block && c->opts->explorer) && invariants_broken(c))
			return fail(c, st, "%s", invariant_why(c));
	}
	if (st->inline_expect)
		return run_stmt(c, st->inline_expect);
	return 0;
}

static void summarize(struct scn_ctx *c, struct scn_result *r)
{
	struct mf_outcome m = c->outcome;
	unsigned long sigs = 0;

	for (unsigned long i = 0; i < c->trace.nr; i++)
		sigs += c->trace.ev[i].kind == TRACE_SIGNAL;
	if (c->host && c->host->panicked)
		snprintf(r->summary, sizeof(r->summary), "panic");
	else if (m.has_result)
		snprintf(r->summary, sizeof(r->summary), "%s/%s, %lu signal%s", action_page_types[m.type],
			 action_name[m.result], sigs, sigs == 1 ? "" : "s");
	else
		snprintf(r->summary, sizeof(r->summary), "%lu signal%s", sigs, sigs == 1 ? "" : "s");
}

static u64 fnv(u64 h, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * What the run did, as a sum of one hash per event (notes of race points
 * aside): the same events in another order give the same digest.
 */
static u64 digest(const struct scn_ctx *c)
{
	u64 sum = 0;

	for (unsigned long i = 0; i < c->trace.nr; i++) {
		const struct trace_event *e = &c->trace.ev[i];
		u64 h = 0xcbf29ce484222325ULL;

		if (e->kind == TRACE_COUNTER)
			continue;	/* the final values are in the expectations */
		if (e->kind == TRACE_NOTE && e->message && !strncmp(e->message, "explorer: ", 10))
			continue;	/* the schedule itself */
		h = fnv(h, &e->kind, sizeof(e->kind));
		h = fnv(h, &e->line, sizeof(e->line));
		if (e->message)
			h = fnv(h, e->message, strlen(e->message));
		h = fnv(h, &e->pfn, sizeof(e->pfn));
		h = fnv(h, &e->ret, sizeof(e->ret));
		h = fnv(h, e->task, strnlen(e->task, sizeof(e->task)));
		h = fnv(h, &e->signal, sizeof(e->signal));
		h = fnv(h, &e->code, sizeof(e->code));
		h = fnv(h, &e->addr, sizeof(e->addr));
		if (e->type)
			h = fnv(h, e->type, strlen(e->type));
		if (e->result)
			h = fnv(h, e->result, strlen(e->result));
		if (e->exit_reason)
			h = fnv(h, e->exit_reason, strlen(e->exit_reason));
		sum += h;
	}
	if (c->failed)
		sum += fnv(0xcbf29ce484222325ULL, c->failure, strlen(c->failure));
	return sum;
}

/* ---- the observer (scn_run_opts.on_event) ------------------------------------------ */

/* The scenario's name for a model object: the newest object of @kind holding it. */
static const char *obs_name(const struct scn_ctx *c, enum scn_sym_kind kind, const void *p)
{
	for (int i = c->nobjs - 1; i >= 0 && p; i--) {
		const struct scn_obj *o = &c->objs[i];
		const void *q;

		if (o->kind != kind && !(kind == SYM_PROCESS && o->kind == SYM_THREAD))
			continue;
		switch (o->kind) {
		case SYM_PROCESS:
		case SYM_THREAD:	q = o->task; break;
		case SYM_VM:		q = o->kvm; break;
		case SYM_VCPU:		q = o->vcpu; break;
		case SYM_FILE:		q = o->file; break;
		default:		q = NULL; break;
		}
		if (q == p)
			return o->name;
	}
	return NULL;
}

static struct kvm *obs_vm_by_id(const struct scn_ctx *c, int id)
{
	struct kvm_state *ks = c->host ? c->host->kvm_state : NULL;
	struct kvm *kvm;

	if (!ks)
		return NULL;
	list_for_each_entry(kvm, &ks->vms, node)
		if (kvm->id == id)
			return kvm;
	return NULL;
}

/* The VM @t's process created (the first), or NULL. */
static struct kvm *obs_vm_of(const struct scn_ctx *c, const struct task_struct *t)
{
	struct kvm_state *ks = c->host ? c->host->kvm_state : NULL;
	struct kvm *kvm;

	if (!ks || !t)
		return NULL;
	list_for_each_entry(kvm, &ks->vms, node)
		if (kvm->vmm == t->group_leader)
			return kvm;
	return NULL;
}

static void obs_vm(const struct scn_ctx *c, struct kvm *kvm, struct scn_event_vm *v)
{
	struct kvm_vcpu *vcpu;

	v->id = -1;
	v->max_vcpu_id = -1;
	if (!kvm)
		return;
	v->id = kvm->id;
	v->name = obs_name(c, SYM_VM, kvm);
	if (!v->name)
		v->name = "?";
	v->vmm = "?";
	if (kvm->vmm) {
		v->vmm = obs_name(c, SYM_PROCESS, kvm->vmm);
		if (!v->vmm)
			v->vmm = kvm->vmm->comm;
		v->vmm_handler = kvm->vmm->sigbus_handler;
	}
	list_for_each_entry(vcpu, &kvm->vcpus, node) {
		v->nr_vcpus++;
		if (vcpu->vcpu_id > v->max_vcpu_id) {
			v->max_vcpu_id = vcpu->vcpu_id;
			v->max_vcpu = obs_name(c, SYM_VCPU, vcpu);
		}
	}
	for (int as = 0; as < KVM_ADDRESS_SPACE_NUM; as++)
		for (int id = 0; id < 64; id++) {
			const struct kvm_memory_slot *slot = kvm->slots[as][id];

			if (!slot)
				continue;
			v->nr_slots++;
			v->nr_gmem_slots += !!(slot->flags & KVM_MEM_GUEST_MEMFD);
			v->nr_smm_slots += as != 0;
			v->mem_end = max(v->mem_end, (u64)(slot->base_gfn + slot->npages) << PAGE_SHIFT);
		}
	if (v->max_vcpu_id >= 0 && !v->max_vcpu)
		v->max_vcpu = "?";
}

static void obs_signal(const struct scn_ctx *c, const struct trace_event *e, struct scn_event *ev)
{
	struct task_struct *t = c->host ? find_task_by_pid(c->host, e->pid) : NULL;
	struct kvm_uaddr_gpa r[8];
	struct kvm *kvm = NULL;
	struct kvm_vcpu *vcpu;
	int n = -ENOENT, pick = 0;

	ev->kind = SCN_EV_SIGNAL;
	ev->task = t ? obs_name(c, SYM_PROCESS, t) : NULL;
	if (!ev->task)
		ev->task = e->task;
	ev->pid = e->pid;
	ev->signal = e->signal;
	ev->code = e->code;
	ev->has_addr = e->has & TF_ADDR;
	ev->addr = e->addr;
	ev->lsb = e->has & TF_LSB ? e->lsb : 0;
	ev->main_thread = t && t->group_leader == t;
	if (t && ev->has_addr)
		n = kvm_uaddr_to_gpa(t, (unsigned long)e->addr, r, (int)ARRAY_SIZE(r));
	kvm = obs_vm_of(c, t);
	if (n > 0) {
		n = min(n, (int)ARRAY_SIZE(r));
		for (int i = 0; i < n && kvm; i++)
			if (r[i].kvm == kvm) {
				pick = i;
				break;
			}
		if (!kvm)
			kvm = r[0].kvm;
		ev->guest = true;
		ev->gpa_vm = r[pick].kvm->id;
		ev->gpa = r[pick].gpa;
		ev->private = r[pick].private;
		ev->gmem = r[pick].gmem;
		ev->slot = (u32)r[pick].slot->as_id << 16 | r[pick].slot->id;
		ev->offset = r[pick].offset;
		if (r[pick].file) {
			ev->file = obs_name(c, SYM_FILE, r[pick].file);
			if (!ev->file)
				ev->file = r[pick].file->name;
		}
	}
	if (!kvm && c->host && c->host->kvm_state) {
		struct kvm_state *ks = c->host->kvm_state;

		kvm = list_first_entry_or_null(&ks->vms, struct kvm, node);
	}
	obs_vm(c, kvm, &ev->vm);
	ev->vcpu = -1;
	ev->vmm = t && kvm && kvm->vmm == t->group_leader;
	if (kvm && t)
		list_for_each_entry(vcpu, &kvm->vcpus, node)
			if (vcpu->thread == t) {
				if (ev->vcpu < 0)
					ev->vcpu = vcpu->vcpu_id;
				ev->nr_vcpus_run++;
			}
	for (int i = c->nobjs - 1; i >= 0 && t && t->mm && ev->has_addr; i--) {
		const struct scn_obj *o = &c->objs[i];

		if (o->kind == SYM_MAPPING && o->task && o->task->mm == t->mm &&
		    e->addr >= o->addr && e->addr - o->addr < o->len) {
			ev->mapping = o->name;
			break;
		}
	}
}

static void obs_exit(const struct scn_ctx *c, const struct trace_event *e, struct scn_event *ev)
{
	ev->kind = SCN_EV_EXIT;
	obs_vm(c, obs_vm_by_id(c, e->vm), &ev->vm);
	ev->vm.id = e->vm;
	ev->vcpu = e->vcpu;
	ev->ret = e->ret;
	ev->exit_reason = e->exit_reason;
	ev->has_gpa = e->has & TF_GPA;
	ev->gpa = e->gpa;
	ev->size = e->size;
	ev->flags = e->flags;
}

/* The trace's sink: the model state that made @e is live. */
static void obs_sink(void *arg, const struct trace_event *e)
{
	struct scn_ctx *c = arg;
	struct scn_event ev = { .line = e->line, .trace = e, .vcpu = -1, .gpa_vm = -1 };
	struct kvm_state *ks = c->host ? c->host->kvm_state : NULL;
	struct kvm *kvm;

	switch (e->kind) {
	case TRACE_SIGNAL:
		obs_signal(c, e, &ev);
		break;
	case TRACE_EXIT:
		obs_exit(c, e, &ev);
		break;
	case TRACE_PANIC:
		ev.kind = SCN_EV_PANIC;
		obs_vm(c, NULL, &ev.vm);
		break;
	default:
		return;
	}
	if (ks)
		list_for_each_entry(kvm, &ks->vms, node)
			ev.nr_vms++;
	c->opts->on_event(c->opts->on_event_arg, &ev);
}

static int run_once(struct scn_file *f, const struct scn_run_opts *opts, const char *vary_val,
		    struct scn_result *r)
{
	struct scn_ctx c = {
		.f = f, .opts = opts, .vary_val = vary_val,
		.cfg = {
			.memory_bytes = 4ULL << 30, .nr_nodes = 1, .nr_cpus = 1,
			.reserved_bytes = 16ULL << 20, .hugepages = { 0, 0 },
		},
	};
	FILE *out = opts->out;

	trace_init(&c.trace, true);
	c.trace.out = opts->quiet ? NULL : out;
	c.trace.format = opts->json ? TRACE_JSON : TRACE_TEXT;
	if (opts->on_event) {
		c.trace.sink = obs_sink;
		c.trace.sink_arg = &c;
	}
	if (out && !opts->quiet && !opts->json)
		fprintf(out, "== %s%s%s%s\n", f->path, vary_val ? " [" : "",
			vary_val ? f->vary_key : "", vary_val ? "]" : "");
	if (out && !opts->quiet && !opts->json && vary_val)
		fprintf(out, "   %s=%s\n", f->vary_key, vary_val);
	for (int i = 0; i < f->n && !c.failed; i++) {
		const struct scn_stmt *st = &f->stmts[i];

		if (run_stmt(&c, st))
			break;
	}
	/* What the host's teardown records is not the scenario's. */
	c.trace.sink = NULL;
	memset(r, 0, sizeof(*r));
	r->vary_val = vary_val ? kstrdup(vary_val, __GFP_NOFAIL) : NULL;
	r->passed = !c.failed;
	r->expectations = c.expectations;
	r->failed_line = c.failed_line;
	r->panicked = c.host && c.host->panicked;
	snprintf(r->failure, sizeof(r->failure), "%s", c.failure);
	summarize(&c, r);
	r->sched_outcome = c.sched_outcome;
	r->digest = digest(&c);
	if (out && opts->json) {
		fprintf(out, "{\"event\":\"verdict\",\"file\":");
		json_print_string(out, f->path);
		if (vary_val) {
			fprintf(out, ",\"vary\":");
			json_print_string(out, f->vary_key);
			fprintf(out, ",\"value\":");
			json_print_string(out, vary_val);
		}
		fprintf(out, ",\"passed\":%s,\"expectations\":%d", r->passed ? "true" : "false",
			r->expectations);
		if (!r->passed) {
			fprintf(out, ",\"line\":%d,\"message\":", r->failed_line);
			json_print_string(out, r->failure);
		}
		fputs("}\n", out);
	}
	kfree(c.at_pfn);
	for (int i = 0; i < c.nobjs; i++)
		kfree(c.objs[i].name);
	kfree(c.objs);
	if (c.host && c.abandon) {
		/* Deadlocked threads are parked on it for good: keep it reachable. */
		abandoned = krealloc_array(abandoned, (size_t)nabandoned + 1, sizeof(*abandoned),
					   __GFP_NOFAIL);
		abandoned[nabandoned++] = c.host;
	} else if (c.host) {
		/* Races not reached stay on the host's list: take them off first. */
		for (int i = 0; i < c.nraces; i++)
			list_del_init(&c.races[i].node);
		kvm_host_teardown(c.host);
		host_destroy(c.host);
	}
	for (int i = 0; i < c.nufb; i++)
		kfree(c.ufb[i].bits);
	kfree(c.ufb);
	if (opts->kho_image && c.kho_active && c.kho.frozen) {
		/* A frozen session not kexec'd yet: its image is the handover. */
		struct kho_error err;
		void *blob;
		size_t len;

		if (!kho_image_build(&c.kho.img, &blob, &len, &err)) {
			kfree(c.kho_blob);
			c.kho_blob = blob;
			c.kho_len = len;
		}
	}
	if (c.kho_active)
		kho_session_destroy(&c.kho);
	kho_image_free(&c.kho_in);
	if (opts->kho_image && c.kho_blob) {
		r->kho_blob = c.kho_blob;
		r->kho_len = c.kho_len;
	} else {
		kfree(c.kho_blob);
	}
	trace_destroy(&c.trace);
	return 0;
}

void scn_result_free(struct scn_result *r)
{
	kfree(r->vary_val);
	kfree(r->kho_blob);
	r->vary_val = NULL;
	r->kho_blob = NULL;
}

int scn_run_one(struct scn_file *f, const struct scn_run_opts *opts, const char *vary,
		struct scn_result *result)
{
	return run_once(f, opts, vary, result);
}

int scn_run(struct scn_file *f, const struct scn_run_opts *opts, struct scn_result *results, int max)
{
	int n = 0;

	if (!f->vary_key)
		return max > 0 && !run_once(f, opts, NULL, &results[n]) ? 1 : 0;
	for (int i = 0; i < f->nvary && n < max; i++)
		if (!run_once(f, opts, f->vary_vals[i], &results[n]))
			n++;
	return n;
}
