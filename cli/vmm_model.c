// SPDX-License-Identifier: MIT
/*
 * gmf vmm run --errors-from FILE.scn: the model decides which memory errors
 * the VMM sees, the real VMM receives them (issue 8; docs/vmm-model.md).
 *
 * Load (before the real VM exists):
 *   - the scenario is parsed and run in the model (scn_run(), its trace as
 *     JSON Lines, docs/trace-format.md); it must vary nothing and pass;
 *   - its set-up lines are followed to know the VMM: the one VM, its
 *     process and vCPU threads, its memslots (guest_memfd files, offsets,
 *     user addresses) and the VMM's mappings, so a model host address
 *     becomes a gpa as it was when the event happened;
 *   - every signal and KVM exit of the trace is checked and turned into an
 *     event for the real VMM: SIGBUS BUS_MCEERR_AR/AO to the VMM with an
 *     address in its guest memory, and KVM_EXIT_MEMORY_FAULT with EHWPOISON.
 *     Anything else that reaches a task (another signal, a task that is not
 *     the VMM, an address outside guest memory, another exit, a panic) and
 *     a model VM larger than the real one is an error naming the line:
 *     nothing is delivered.
 *
 * Deliver (the VM and the intake running), each event in order:
 *   AR to a vCPU thread     that vCPU's thread queues SIGBUS BUS_MCEERR_AR to
 *                           itself (rt_tgsigqueueinfo: the kernel accepts an
 *                           si_code >= 0 only from a thread to itself);
 *   AR to the VMM process   the main thread queues it to itself;
 *   AO to the VMM process   the main thread queues it to the process
 *                           (rt_sigqueueinfo), as the kernel's AO comes;
 *   AO to a vCPU thread     that vCPU's thread queues it to itself;
 *   memory-fault exit       that vCPU's thread posts it to the intake
 *                           (intake_post_memory_fault()), as its KVM_RUN
 *                           loop does on -1/EHWPOISON;
 * with si_addr the real guest memory mapping at the model's gpa (the real
 * memslot is gpa 0 at file offset 0). Then the intake's event and, for an
 * injection, the guest's #MC report: MCi_ADDR must be the model's gpa.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/compiler.h"
#include "base/trace.h"
#include "cli/vmm_model.h"
#include "scn/scn.h"
#include "vmm/guest/layout.h"
#include "vmm/intake.h"
#include "vmm/vm.h"

#define MODEL_EXIT_BAD	2
#define MODEL_WAIT_MS	3000
#define MODEL_READY_MS	10000
#define MODEL_FILE_MAX	(16u << 20)

/*
 * MODEL: where the model's do_mmap() (mm/memory.c) puts a mapping: from
 * TASK_UNMAPPED_BASE up, per process, each at a 1G (PUD) boundary. The
 * trace does not carry a mapping's address, so the VMM's mappings are
 * placed here the same way (a drift shows as "not guest memory" errors).
 */
#define MODEL_MMAP_BASE		0x7f0000000000ULL
#define MODEL_MMAP_ALIGN	(1ULL << 30)
#define MODEL_COMM_LEN		15	/* TASK_COMM_LEN - 1 */

/* ---- what the model did -------------------------------------------------------- */

enum mobj_kind {
	MO_PROCESS,
	MO_THREAD,
	MO_VM,
	MO_VCPU,
	MO_FILE,	/* any file, guest_memfd included */
	MO_MAPPING,
};

struct mobj {
	char *name;
	enum mobj_kind kind;
	int line;
	int proc;		/* thread, mapping, VM: its process */
	int vm;			/* vCPU, guest_memfd: its VM (-1: not a guest_memfd) */
	int thread;		/* vCPU: the task running it */
	int id;			/* vCPU id */
	int nr_vcpus;		/* VM: vCPUs created (the next default id) */
	int file;		/* mapping: its file, -1 anonymous */
	u64 addr, len, offset;	/* mapping */
	u64 mmap_base;		/* process: where the next mapping goes */
	bool handler;		/* process: catches SIGBUS */
	bool gone;		/* mapping unmapped */
};

struct mslot {
	u32 slot;		/* as << 16 | id */
	int line;
	u64 gpa, size;
	int gmem;		/* the guest_memfd, or -1 */
	u64 gmem_off;
	bool has_uaddr;
	u64 uaddr;
};

/* One event of the model's trace, from its JSON Lines. */
struct jev {
	int kind;		/* enum trace_kind, -1 another (a verdict) */
	int line;
	char op[48];
	long ret;
	char err[24];		/* errno name */
	char task[32];
	int pid;
	char signal[16];
	int code;
	u64 addr;
	int lsb;
	int vm, vcpu;
	char exit_reason[32];
	u64 gpa, size, flags;
	char message[256];
	unsigned int has;	/* TF_* of what it carries */
};

enum mev_to {
	TO_VCPU,		/* a vCPU's thread */
	TO_MAIN,		/* the VMM's main thread */
	TO_PROCESS,		/* the VMM process */
};

/* One event for the real VMM. */
struct mev {
	int line;
	char trace[320];	/* the model's trace line */
	bool exit;		/* a memory-fault exit, else a SIGBUS */
	int code;		/* BUS_MCEERR_AR or BUS_MCEERR_AO */
	int lsb;
	enum mev_to to;
	int vcpu;		/* TO_VCPU, and the exit's */
	char task[32];		/* the model task it went to */
	u64 model_addr;
	u64 gpa;
	u64 size, flags;	/* the exit's */
	char where[96];		/* the model's guest memory there */
};

struct vmm_model {
	char *path;
	struct mev *ev;
	int nr;
	u64 real_mem;
	int real_vcpus;
	char vm_desc[160];
};

struct mctx {
	const char *path;
	struct mobj *o;
	int no;
	struct mslot *s;
	int ns;
	struct jev *ev;
	int nev;
	int vm;			/* the model VM, -1 before it exists */
	u64 real_mem;
	int real_vcpus;
	struct vmm_model *m;
};

static __printf(3, 4) int bad(const struct mctx *c, int line, const char *fmt, ...)
{
	va_list ap;

	if (line > 0)
		fprintf(stderr, "gmf vmm run: %s:%d: ", c->path, line);
	else
		fprintf(stderr, "gmf vmm run: %s: ", c->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return MODEL_EXIT_BAD;
}

/* ---- the scenario's lines -------------------------------------------------------- */

static const char *arg(const struct scn_stmt *st, const char *key)
{
	for (int i = 0; i < st->nargs; i++)
		if (st->args[i].key && !strcmp(st->args[i].key, key))
			return st->args[i].val;
	return NULL;
}

static const char *pos(const struct scn_stmt *st, int n)
{
	for (int i = 0; i < st->nargs; i++)
		if (!st->args[i].key && n-- == 0)
			return st->args[i].val;
	return NULL;
}

/* The scenario language's numbers: 0x1f, 4096, 64K, 2M, 1G (checked by the parser). */
static u64 num(const char *s, u64 dflt)
{
	unsigned long long v;
	char *end;

	if (!s)
		return dflt;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return dflt;
	switch (*end) {
	case 'K': case 'k': return v << 10;
	case 'M': case 'm': return v << 20;
	case 'G': case 'g': return v << 30;
	case 'T': case 't': return v << 40;
	default: return v;
	}
}

/* The newest object of that name. */
static int obj_find(const struct mctx *c, const char *name)
{
	for (int i = c->no - 1; i >= 0 && name; i--)
		if (!strcmp(c->o[i].name, name))
			return i;
	return -1;
}

static struct mobj *obj_add(struct mctx *c, const char *name, enum mobj_kind kind, int line)
{
	struct mobj *n = krealloc_array(c->o, (size_t)c->no + 1, sizeof(*n), GFP_KERNEL);

	if (!n)
		return NULL;
	c->o = n;
	n = &c->o[c->no];
	memset(n, 0, sizeof(*n));
	n->name = kstrdup(name ? name : "?", GFP_KERNEL);
	if (!n->name)
		return NULL;
	n->kind = kind;
	n->line = line;
	n->proc = n->vm = n->thread = n->file = -1;
	c->no++;
	return n;
}

/* The process of a task (itself for a process). */
static int proc_of(const struct mctx *c, int t)
{
	return t < 0 ? -1 : c->o[t].kind == MO_PROCESS ? t : c->o[t].proc;
}

/* The return value the model recorded for @op on @line: true when it ran and returned 0. */
static bool op_ok(const struct mctx *c, int line, const char *op)
{
	for (int i = 0; i < c->nev; i++)
		if (c->ev[i].kind == TRACE_RETURN && c->ev[i].line == line && !strcmp(c->ev[i].op, op))
			return c->ev[i].ret == 0;
	return false;
}

/* MAPPING+OFF -> the model's user address; 0 when it is no mapping of ours. */
static u64 loc_addr(const struct mctx *c, const char *v)
{
	char name[64];
	const char *plus = strchr(v, '+');
	size_t nl = plus ? (size_t)(plus - v) : strlen(v);
	int i;

	if (nl >= sizeof(name))
		return 0;
	memcpy(name, v, nl);
	name[nl] = '\0';
	i = obj_find(c, name);
	if (i < 0 || c->o[i].kind != MO_MAPPING)
		return 0;
	return c->o[i].addr + (plus ? num(plus + 1, 0) : 0);
}

static int run_memslot(struct mctx *c, const struct scn_stmt *st)
{
	struct mslot s = { .line = st->line, .gmem = -1 };
	const char *ua = arg(st, "uaddr");
	int i;

	if (!op_ok(c, st->line, "KVM_SET_USER_MEMORY_REGION2") || obj_find(c, pos(st, 0)) != c->vm)
		return 0;
	s.slot = (u32)num(arg(st, "slot"), 0) | ((u32)num(arg(st, "as"), 0) << 16);
	s.gpa = num(arg(st, "gpa"), 0);
	s.size = num(arg(st, "size"), 0);
	if (arg(st, "gmem")) {
		s.gmem = obj_find(c, arg(st, "gmem"));
		s.gmem_off = num(arg(st, "offset"), 0);
	}
	if (ua) {
		s.has_uaddr = true;
		s.uaddr = ua[0] >= '0' && ua[0] <= '9' ? num(ua, 0) : loc_addr(c, ua);
	}
	for (i = 0; i < c->ns; i++)
		if (c->s[i].slot == s.slot)
			break;
	if (!s.size) {
		/* Deleted. */
		if (i < c->ns)
			c->s[i] = c->s[--c->ns];
		return 0;
	}
	if (s.slot >> 16)
		return bad(c, st->line, "memslot in address space %u (SMM): the real VMM has one "
			   "address space: expected as=0", s.slot >> 16);
	if (s.gpa + s.size > c->real_mem)
		return bad(c, st->line, "the model VM's memory reaches gpa %#" PRIx64 ", beyond the real "
			   "guest memory 0x0..%#" PRIx64 ": expected a model VM no larger than the real "
			   "one (--memory %lluM)", s.gpa + s.size - 1, c->real_mem - 1,
			   (unsigned long long)(ALIGN(s.gpa + s.size, 2ULL << 20) >> 20));
	if (i == c->ns) {
		struct mslot *n = krealloc_array(c->s, (size_t)c->ns + 1, sizeof(*n), GFP_KERNEL);

		if (!n)
			return bad(c, st->line, "out of memory");
		c->s = n;
		c->ns++;
	}
	c->s[i] = s;
	return 0;
}

/* Follow one set-up line as the model ran it. 0 or an exit status. */
static int follow(struct mctx *c, const struct scn_stmt *st)
{
	const char *v = st->verb;
	struct mobj *o;
	int p, t;

	if (!strcmp(v, "host")) {
		if (arg(st, "arch") && strcmp(arg(st, "arch"), "x86"))
			return bad(c, st->line, "an %s host: the real VMM runs on x86 (KVM_X86_SET_MCE): "
				   "expected arch=x86", arg(st, "arch"));
	} else if (!strcmp(v, "kho_kexec")) {
		return bad(c, st->line, "a kexec in the model (kho_kexec): the real VMM's live update is "
			   "--live-update-after: expected a scenario on one host");
	} else if (!strcmp(v, "process")) {
		o = obj_add(c, pos(st, 0), MO_PROCESS, st->line);
		if (!o)
			return bad(c, st->line, "out of memory");
		o->handler = arg(st, "handler") && !strcmp(arg(st, "handler"), "yes");
		o->mmap_base = MODEL_MMAP_BASE;
	} else if (!strcmp(v, "thread")) {
		p = obj_find(c, pos(st, 1));
		o = obj_add(c, pos(st, 0), MO_THREAD, st->line);
		if (!o)
			return bad(c, st->line, "out of memory");
		o->proc = p;
	} else if (!strcmp(v, "vm")) {
		if (!op_ok(c, st->line, "KVM_CREATE_VM"))
			return 0;
		if (c->vm >= 0)
			return bad(c, st->line, "a second VM (%s): the real VMM runs one: expected one VM "
				   "(%s, line %d)", pos(st, 0), c->o[c->vm].name, c->o[c->vm].line);
		p = obj_find(c, pos(st, 1));
		o = obj_add(c, pos(st, 0), MO_VM, st->line);
		if (!o)
			return bad(c, st->line, "out of memory");
		o->proc = p;
		c->vm = c->no - 1;
		if (p >= 0 && !c->o[p].handler)
			return bad(c, c->o[p].line, "the VMM process %s has no SIGBUS handler, the real VMM "
				   "has one: expected 'process %s handler=yes'", c->o[p].name, c->o[p].name);
	} else if (!strcmp(v, "vcpu")) {
		int vm = obj_find(c, pos(st, 1));

		if (!op_ok(c, st->line, "KVM_CREATE_VCPU") || vm < 0)
			return 0;
		t = obj_find(c, pos(st, 2));
		o = obj_add(c, pos(st, 0), MO_VCPU, st->line);
		if (!o)
			return bad(c, st->line, "out of memory");
		o->vm = vm;
		o->thread = t;
		o->id = (int)num(arg(st, "id"), (u64)c->o[vm].nr_vcpus);
		c->o[vm].nr_vcpus++;
		if (vm == c->vm && o->id >= c->real_vcpus)
			return bad(c, st->line, "vCPU %s has id %d, the real VMM has %d vCPU%s: expected a "
				   "model VM no larger than the real one (--vcpus %d)", o->name, o->id,
				   c->real_vcpus, c->real_vcpus == 1 ? "" : "s", o->id + 1);
	} else if (!strcmp(v, "gmem")) {
		if (!op_ok(c, st->line, "KVM_CREATE_GUEST_MEMFD"))
			return 0;
		p = obj_find(c, pos(st, 1));
		o = obj_add(c, pos(st, 0), MO_FILE, st->line);
		if (!o)
			return bad(c, st->line, "out of memory");
		o->vm = p;
	} else if (!strcmp(v, "file")) {
		if (!obj_add(c, pos(st, 0), MO_FILE, st->line))
			return bad(c, st->line, "out of memory");
	} else if (!strcmp(v, "mmap")) {
		if (!op_ok(c, st->line, "mmap"))
			return 0;
		p = obj_find(c, pos(st, 0));
		t = obj_find(c, arg(st, "file"));
		o = obj_add(c, pos(st, 1), MO_MAPPING, st->line);
		if (!o || p < 0)
			return bad(c, st->line, "out of memory");
		o->proc = p;
		o->file = t;
		o->len = num(arg(st, "size"), 0);
		o->offset = num(arg(st, "offset"), 0);
		o->addr = ALIGN(c->o[p].mmap_base, MODEL_MMAP_ALIGN);
		c->o[p].mmap_base = o->addr + o->len;
	} else if (!strcmp(v, "munmap")) {
		t = obj_find(c, pos(st, 0));
		if (t >= 0 && op_ok(c, st->line, "munmap"))
			c->o[t].gone = true;
	} else if (!strcmp(v, "memslot")) {
		return run_memslot(c, st);
	}
	return 0;
}

/*
 * The model's host address @a in the VMM's address space -> gpa, through
 * the memslots now: a user address range (uaddr), or a guest_memfd file
 * offset the VMM maps. False when no memslot holds it.
 */
static bool model_gpa(const struct mctx *c, u64 a, u64 *gpa, char *where, size_t len)
{
	int vmm = c->o[c->vm].proc;

	for (int i = 0; i < c->ns; i++) {
		const struct mslot *s = &c->s[i];

		if (s->has_uaddr && a >= s->uaddr && a - s->uaddr < s->size) {
			*gpa = s->gpa + (a - s->uaddr);
			snprintf(where, len, "memslot %u (line %d), user address +%#" PRIx64,
				 s->slot, s->line, a - s->uaddr);
			return true;
		}
		if (s->gmem < 0)
			continue;
		for (int m = 0; m < c->no; m++) {
			const struct mobj *o = &c->o[m];
			u64 off;

			if (o->kind != MO_MAPPING || o->gone || o->proc != vmm || o->file != s->gmem ||
			    a < o->addr || a - o->addr >= o->len)
				continue;
			off = o->offset + (a - o->addr);
			if (off < s->gmem_off || off - s->gmem_off >= s->size)
				continue;
			*gpa = s->gpa + (off - s->gmem_off);
			snprintf(where, len, "guest_memfd %s offset %#" PRIx64 " (mapping %s, memslot %u)",
				 c->o[s->gmem].name, off, o->name, s->slot);
			return true;
		}
	}
	return false;
}

/* ---- the model's trace (JSON Lines) ---------------------------------------------- */

static const struct { const char *name; int code; } code_names[] = {
	{ "BUS_ADRALN", 1 }, { "BUS_ADRERR", 2 }, { "BUS_OBJERR", 3 },
	{ "BUS_MCEERR_AR", BUS_MCEERR_AR }, { "BUS_MCEERR_AO", BUS_MCEERR_AO },
	{ "SI_KERNEL", 0x80 },
};

/* @src into @dst, cut to fit. */
static void copy(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A JSON string at @p into @out; the character after it, or NULL. */
static const char *json_string(const char *p, char *out, size_t len)
{
	size_t n = 0;

	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		char ch = *p++;

		if (ch == '\\') {
			ch = *p++;
			if (ch == 'n') {
				ch = '\n';
			} else if (ch == 't') {
				ch = '\t';
			} else if (ch == 'u') {
				unsigned int u;

				if (sscanf(p, "%4x", &u) != 1)
					return NULL;
				p += 4;
				ch = u < 0x80 ? (char)u : '?';
			} else if (!ch) {
				return NULL;
			}
		}
		if (n + 1 < len)
			out[n++] = ch;
	}
	if (*p != '"')
		return NULL;
	out[n] = '\0';
	return p + 1;
}

/* One flat object of the trace (docs/trace-format.md). 0 or -EINVAL. */
static int json_event(const char *p, struct jev *e)
{
	char key[32], val[512];

	memset(e, 0, sizeof(*e));
	e->kind = -1;
	if (*p++ != '{')
		return -EINVAL;
	while (*p && *p != '}') {
		p = json_string(p, key, sizeof(key));
		if (!p || *p++ != ':')
			return -EINVAL;
		if (*p == '"') {
			p = json_string(p, val, sizeof(val));
			if (!p)
				return -EINVAL;
		} else {
			size_t n = strcspn(p, ",}");

			if (n >= sizeof(val))
				return -EINVAL;
			memcpy(val, p, n);
			val[n] = '\0';
			p += n;
		}
		if (!strcmp(key, "event")) {
			for (int k = 0; k < TRACE_NR_KINDS; k++)
				if (!strcmp(val, trace_kind_names[k]))
					e->kind = k;
		} else if (!strcmp(key, "line")) {
			e->line = atoi(val);
		} else if (!strcmp(key, "op")) {
			copy(e->op, sizeof(e->op), val);
			e->has |= TF_OP;
		} else if (!strcmp(key, "ret")) {
			e->ret = strtol(val, NULL, 0);
			e->has |= TF_RET;
		} else if (!strcmp(key, "errno")) {
			copy(e->err, sizeof(e->err), val);
		} else if (!strcmp(key, "task")) {
			copy(e->task, sizeof(e->task), val);
			e->has |= TF_TASK;
		} else if (!strcmp(key, "pid")) {
			e->pid = atoi(val);
		} else if (!strcmp(key, "signal")) {
			copy(e->signal, sizeof(e->signal), val);
			e->has |= TF_SIGNAL;
		} else if (!strcmp(key, "code")) {
			e->code = (int)strtol(val, NULL, 0);
			for (size_t k = 0; k < ARRAY_SIZE(code_names); k++)
				if (!strcmp(val, code_names[k].name))
					e->code = code_names[k].code;
			e->has |= TF_CODE;
		} else if (!strcmp(key, "addr")) {
			e->addr = strtoull(val, NULL, 0);
			e->has |= TF_ADDR;
		} else if (!strcmp(key, "lsb")) {
			e->lsb = atoi(val);
			e->has |= TF_LSB;
		} else if (!strcmp(key, "vm")) {
			e->vm = atoi(val);
			e->has |= TF_VM;
		} else if (!strcmp(key, "vcpu")) {
			e->vcpu = atoi(val);
		} else if (!strcmp(key, "exit_reason")) {
			copy(e->exit_reason, sizeof(e->exit_reason), val);
			e->has |= TF_EXIT;
		} else if (!strcmp(key, "gpa")) {
			e->gpa = strtoull(val, NULL, 0);
			e->has |= TF_GPA;
		} else if (!strcmp(key, "size")) {
			e->size = strtoull(val, NULL, 0);
		} else if (!strcmp(key, "flags")) {
			e->flags = strtoull(val, NULL, 0);
		} else if (!strcmp(key, "message")) {
			copy(e->message, sizeof(e->message), val);
			e->has |= TF_MESSAGE;
		}
		if (*p == ',')
			p++;
	}
	return *p == '}' ? 0 : -EINVAL;
}

static int signal_number(const char *name)
{
	return !strcmp(name, "SIGBUS") ? 7 : !strcmp(name, "SIGKILL") ? 9 :
	       !strcmp(name, "SIGSEGV") ? 11 : 0;
}

/* The event as gmf run prints it (base/trace.c), without indent or newline. */
static void trace_text(const struct jev *j, char *buf, size_t len)
{
	struct trace_event e = {
		.kind = (enum trace_kind)j->kind, .has = j->has, .line = j->line, .ret = j->ret,
		.pid = j->pid, .signal = signal_number(j->signal), .code = j->code, .addr = j->addr,
		.lsb = j->lsb, .vm = j->vm, .vcpu = j->vcpu, .exit_reason = j->exit_reason,
		.gpa = j->gpa, .size = j->size, .flags = j->flags, .op = j->op,
		.message = (char *)j->message,
	};
	FILE *f = fmemopen(buf, len, "w");
	char *s;

	buf[0] = '\0';
	copy(e.task, sizeof(e.task), j->task);
	if (!f)
		return;
	trace_print_text(f, &e);
	fclose(f);
	buf[len - 1] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	s = buf + strspn(buf, " ");
	memmove(buf, s, strlen(s) + 1);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = kmalloc(MODEL_FILE_MAX + 1, GFP_KERNEL);
	if (!buf) {
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	n = fread(buf, 1, MODEL_FILE_MAX + 1, f);
	if (ferror(f) || n > MODEL_FILE_MAX) {
		int err = ferror(f) ? EIO : EFBIG;

		kfree(buf);
		fclose(f);
		errno = err;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Run the file in the model; its trace events in c->ev. 0 or an exit status. */
static int model_run(struct mctx *c, struct scn_file *f)
{
	struct scn_run_opts opts = { .json = true };
	struct scn_result res;
	char *out = NULL, *line, *save = NULL;
	size_t outlen = 0;
	int n, status = 0;

	opts.out = open_memstream(&out, &outlen);
	if (!opts.out)
		return bad(c, 0, "%s", strerror(errno));
	n = scn_run(f, &opts, &res, 1);
	fclose(opts.out);
	if (n != 1) {
		free(out);
		return bad(c, 0, "the model could not run it");
	}
	if (!res.passed) {
		status = bad(c, res.failed_line, "the scenario fails in the model: %s: expected a "
			     "scenario that passes (see gmf run %s)", res.failure, c->path);
		goto out;
	}
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct jev *ev;

		if (!(c->nev & 63)) {
			ev = krealloc_array(c->ev, (size_t)c->nev + 64, sizeof(*ev), GFP_KERNEL);
			if (!ev) {
				status = bad(c, 0, "out of memory");
				goto out;
			}
			c->ev = ev;
		}
		if (json_event(line, &c->ev[c->nev])) {
			status = bad(c, 0, "cannot read the model's trace line '%.80s'", line);
			goto out;
		}
		if (c->ev[c->nev].kind >= 0)
			c->nev++;
	}
out:
	kfree(res.vary_val);
	kfree(res.kho_blob);
	free(out);
	return status;
}

/* ---- load: the model's events for the VMM ------------------------------------------ */

static struct mev *mev_add(struct mctx *c, const struct jev *j)
{
	struct vmm_model *m = c->m;
	struct mev *n = krealloc_array(m->ev, (size_t)m->nr + 1, sizeof(*n), GFP_KERNEL);

	if (!n)
		return NULL;
	m->ev = n;
	n = &m->ev[m->nr++];
	memset(n, 0, sizeof(*n));
	n->line = j->line;
	n->vcpu = -1;
	trace_text(j, n->trace, sizeof(n->trace));
	return n;
}

/* The task a signal went to: by comm, among those defined so far. */
static int task_find(const struct mctx *c, const char *comm, int *nr)
{
	int found = -1;

	*nr = 0;
	for (int i = 0; i < c->no; i++)
		if ((c->o[i].kind == MO_PROCESS || c->o[i].kind == MO_THREAD) &&
		    !strncmp(c->o[i].name, comm, MODEL_COMM_LEN) &&
		    strlen(comm) == min(strlen(c->o[i].name), (size_t)MODEL_COMM_LEN)) {
			found = i;
			(*nr)++;
		}
	return found;
}

static int take_signal(struct mctx *c, const struct jev *j)
{
	char text[320], where[96];
	int t, nr, vmm, vcpu = -1, nvcpu = 0;
	struct mev *e;
	u64 gpa;

	trace_text(j, text, sizeof(text));
	t = task_find(c, j->task, &nr);
	vmm = c->vm >= 0 ? c->o[c->vm].proc : -1;
	if (t < 0 || nr != 1)
		return bad(c, j->line, "the model signalled %s:%d (%s): %s", j->task, j->pid, text,
			   t < 0 ? "no task of the scenario has that name" :
			   "several tasks share that name's first 15 characters");
	if (vmm < 0 || proc_of(c, t) != vmm)
		return bad(c, j->line, "the model signalled %s:%d, which is not the VMM (%s): %s: "
			   "expected signals to the VM's process or its vCPU threads only",
			   j->task, j->pid, vmm < 0 ? "no VM yet" : c->o[vmm].name, text);
	if (strcmp(j->signal, "SIGBUS") || !(j->has & TF_CODE) ||
	    (j->code != BUS_MCEERR_AR && j->code != BUS_MCEERR_AO))
		return bad(c, j->line, "%s: the real VMM has no counterpart: expected SIGBUS with "
			   "BUS_MCEERR_AR or BUS_MCEERR_AO", text);
	if (!(j->has & TF_ADDR) || !model_gpa(c, j->addr, &gpa, where, sizeof(where)))
		return bad(c, j->line, "%s: si_addr %#" PRIx64 " is not in the guest memory of %s "
			   "(no memslot maps it): expected an address in the VM's guest memory",
			   text, j->addr, c->o[c->vm].name);
	if (gpa >= c->real_mem)
		return bad(c, j->line, "%s: gpa %#" PRIx64 " is beyond the real guest memory "
			   "0x0..%#" PRIx64 " (--memory)", text, gpa, c->real_mem - 1);
	for (int i = 0; i < c->no; i++)
		if (c->o[i].kind == MO_VCPU && c->o[i].vm == c->vm && c->o[i].thread == t) {
			vcpu = c->o[i].id;
			nvcpu++;
		}
	if (nvcpu > 1)
		return bad(c, j->line, "%s: %s runs %d vCPUs: expected one vCPU a thread", text,
			   c->o[t].name, nvcpu);
	if (vcpu < 0 && t != vmm)
		return bad(c, j->line, "%s: %s is neither the VMM's main thread nor a vCPU's: the real "
			   "VMM has no such thread", text, c->o[t].name);
	e = mev_add(c, j);
	if (!e)
		return bad(c, j->line, "out of memory");
	e->code = j->code;
	e->lsb = j->has & TF_LSB ? j->lsb : 12;
	e->model_addr = j->addr;
	e->gpa = gpa;
	snprintf(e->task, sizeof(e->task), "%s", c->o[t].name);
	snprintf(e->where, sizeof(e->where), "%s", where);
	if (j->code == BUS_MCEERR_AO && t == vmm)
		e->to = TO_PROCESS;
	else if (vcpu >= 0)
		e->to = TO_VCPU;
	else
		e->to = TO_MAIN;
	e->vcpu = vcpu;
	return 0;
}

static int take_exit(struct mctx *c, const struct jev *j)
{
	char text[320];
	struct mev *e;

	trace_text(j, text, sizeof(text));
	if (!strcmp(j->exit_reason, "none") && j->ret == 0)
		return 0;	/* the guest went on */
	if (!strcmp(j->exit_reason, "KVM_EXIT_INTR") && !strcmp(j->err, "EINTR"))
		return 0;	/* a signal is pending: the signal is the event */
	if (strcmp(j->exit_reason, "KVM_EXIT_MEMORY_FAULT") || strcmp(j->err, "EHWPOISON"))
		return bad(c, j->line, "%s: the real VMM has no counterpart: expected "
			   "KVM_EXIT_MEMORY_FAULT with EHWPOISON", text);
	if (j->vcpu >= c->real_vcpus)
		return bad(c, j->line, "%s: vCPU %d: the real VMM has %d vCPU%s (--vcpus)", text,
			   j->vcpu, c->real_vcpus, c->real_vcpus == 1 ? "" : "s");
	if (j->gpa >= c->real_mem)
		return bad(c, j->line, "%s: gpa %#" PRIx64 " is beyond the real guest memory "
			   "0x0..%#" PRIx64 " (--memory)", text, j->gpa, c->real_mem - 1);
	e = mev_add(c, j);
	if (!e)
		return bad(c, j->line, "out of memory");
	e->exit = true;
	e->vcpu = j->vcpu;
	e->to = TO_VCPU;
	e->gpa = j->gpa;
	e->size = j->size;
	e->flags = j->flags;
	e->lsb = 12;
	snprintf(e->where, sizeof(e->where), "vCPU %d", j->vcpu);
	return 0;
}

static int take_event(struct mctx *c, const struct jev *j)
{
	char text[320];

	switch (j->kind) {
	case TRACE_PANIC:
		trace_text(j, text, sizeof(text));
		return bad(c, j->line, "the model host panicked (%s): the real VMM has no "
			   "counterpart: expected a scenario without a panic", text);
	case TRACE_SIGNAL:
		return take_signal(c, j);
	case TRACE_EXIT:
		return take_exit(c, j);
	default:
		return 0;
	}
}

void vmm_model_free(struct vmm_model *m)
{
	if (!m)
		return;
	kfree(m->path);
	kfree(m->ev);
	kfree(m);
}

int vmm_model_load(const char *path, const struct vm_config *cfg, bool live_update,
		   struct vmm_model **out)
{
	struct mctx c = { .path = path, .vm = -1 };
	struct scn_file *f = NULL;
	struct scn_error perr;
	char *text;
	size_t len = 0;
	int status = 0, e = 0;

	*out = NULL;
	c.real_mem = cfg->mem_size ? cfg->mem_size : GUEST_MEM_MIN;
	c.real_vcpus = cfg->nr_vcpus ? cfg->nr_vcpus : 1;
	if (live_update)
		return bad(&c, 0, "--errors-from and a live update (--live-update-after, --inherit-fd) "
			   "do not go together: the new process would deliver the errors again");
	text = read_all(path, &len);
	if (!text)
		return bad(&c, 0, "%s", strerror(errno));
	memset(&perr, 0, sizeof(perr));
	if (scn_parse(path, text, len, &f, &perr)) {
		fprintf(stderr, "gmf vmm run: %s:%d:%d: error: %s\n", path, perr.line, perr.col,
			perr.msg);
		kfree(text);
		return MODEL_EXIT_BAD;
	}
	kfree(text);
	c.m = kzalloc(sizeof(*c.m), GFP_KERNEL);
	if (!c.m || !(c.m->path = kstrdup(path, GFP_KERNEL))) {
		status = bad(&c, 0, "out of memory");
		goto out;
	}
	if (f->vary_key) {
		status = bad(&c, f->vary_line, "the scenario varies %s (%d runs): expected a scenario "
			     "that runs once, so that the model decides one set of errors",
			     f->vary_key, f->nvary);
		goto out;
	}
	status = model_run(&c, f);
	if (status)
		goto out;
	/* The lines in order, each followed by the events it caused. */
	for (int i = 0; i < f->n && !status; i++) {
		const struct scn_stmt *st = &f->stmts[i];

		if (!st->guard_key)
			status = follow(&c, st);
		for (; !status && e < c.nev && c.ev[e].line <= st->line; e++)
			status = take_event(&c, &c.ev[e]);
	}
	for (; !status && e < c.nev; e++)
		status = take_event(&c, &c.ev[e]);
	if (status)
		goto out;
	if (c.vm < 0) {
		status = bad(&c, 0, "no VM: expected a 'vm' line (with vCPUs, guest_memfd memory and "
			     "memslots) for the VMM");
		goto out;
	}
	if (!c.m->nr) {
		status = bad(&c, 0, "no memory error reached the VMM in the model: expected at least "
			     "one SIGBUS BUS_MCEERR_AR/AO to it or KVM_EXIT_MEMORY_FAULT with EHWPOISON");
		goto out;
	}
	c.m->real_mem = c.real_mem;
	c.m->real_vcpus = c.real_vcpus;
	{
		int gm = 0;

		for (int i = 0; i < c.ns; i++)
			gm += c.s[i].gmem >= 0;
		snprintf(c.m->vm_desc, sizeof(c.m->vm_desc), "model VM %s of %s: %d vCPU%s, %d memslot%s (%d on guest_memfd)",
			 c.o[c.vm].name, c.o[c.o[c.vm].proc].name, c.o[c.vm].nr_vcpus,
			 c.o[c.vm].nr_vcpus == 1 ? "" : "s", c.ns, c.ns == 1 ? "" : "s", gm);
	}
	*out = c.m;
	c.m = NULL;
out:
	for (int i = 0; i < c.no; i++)
		kfree(c.o[i].name);
	kfree(c.o);
	kfree(c.s);
	kfree(c.ev);
	vmm_model_free(c.m);
	scn_file_free(f);
	return status;
}

/* ---- deliver: the real VMM receives them ------------------------------------------- */

struct sig_call {
	int code, lsb;
	void *addr;
	int ret;
};

static int queue_sigbus(pid_t tid, int code, int lsb, void *addr)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = SIGBUS;
	si.si_code = code;
	si.si_addr = addr;
	si.si_addr_lsb = (short)lsb;
	if (tid)
		return syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, SIGBUS, &si) ? -errno : 0;
	return syscall(SYS_rt_sigqueueinfo, getpid(), SIGBUS, &si) ? -errno : 0;
}

/* On the receiving thread: it queues the signal to itself. */
static void sig_self(void *arg)
{
	struct sig_call *q = arg;

	q->ret = queue_sigbus((pid_t)syscall(SYS_gettid), q->code, q->lsb, q->addr);
}

struct fault_call {
	struct intake *in;
	const struct mev *e;
	int ret;
};

/* On the vCPU's thread, between two KVM_RUNs: as its loop posts an EHWPOISON exit. */
static void fault_self(void *arg)
{
	struct fault_call *q = arg;

	q->ret = intake_post_memory_fault(q->in, q->e->vcpu, q->e->flags, q->e->gpa, q->e->size);
}

static const char *to_name(const struct mev *e, char *buf, size_t len)
{
	if (e->to == TO_PROCESS)
		snprintf(buf, len, "the VMM process (rt_sigqueueinfo from the main thread)");
	else if (e->to == TO_MAIN)
		snprintf(buf, len, "the main thread (rt_tgsigqueueinfo to itself)");
	else
		snprintf(buf, len, "vCPU %d's thread (rt_tgsigqueueinfo to itself)", e->vcpu);
	return buf;
}

/* Raise @e for real; 0 or -errno. */
static int raise_one(const struct mev *e, struct vm *vm, struct intake *in)
{
	u8 *addr = (u8 *)vm_mem(vm) + e->gpa;
	int ret;

	if (e->exit) {
		struct fault_call q = { .in = in, .e = e, .ret = -EINVAL };

		ret = intake_run_on_vcpu(in, e->vcpu, fault_self, &q, MODEL_WAIT_MS);
		return ret ? ret : q.ret;
	}
	if (e->to == TO_PROCESS)
		return queue_sigbus(0, e->code, e->lsb, addr);
	if (e->to == TO_MAIN)
		return queue_sigbus((pid_t)syscall(SYS_gettid), e->code, e->lsb, addr);
	{
		struct sig_call q = { .code = e->code, .lsb = e->lsb, .addr = addr, .ret = -EINVAL };

		ret = intake_run_on_vcpu(in, e->vcpu, sig_self, &q, MODEL_WAIT_MS);
		return ret ? ret : q.ret;
	}
}

/* What the intake did with it and what the guest saw. 0, 1 not as the model said, 2 stop. */
static int check_one(const struct vmm_model *m, const struct mev *e, struct vm *vm,
		     const struct intake_event *ev, const unsigned int *nr_rep)
{
	struct vmm_mce_report rep;
	int ret;

	printf("gmf vmm: intake: %s at gpa %#" PRIx64 ", offset %#" PRIx64 ": %s",
	       intake_kind_name(ev->kind), ev->gpa, ev->offset, intake_action_name(ev->action));
	if (ev->action == INTAKE_INJECTED)
		printf(" into vCPU %d, bank %u, MCi_STATUS %#" PRIx64 ", MCi_ADDR %#" PRIx64
		       ", MCi_MISC %#" PRIx64 ", MCG_STATUS %#" PRIx64 "%s", ev->target, ev->bank,
		       ev->status, ev->addr, ev->misc, ev->mcg_status,
		       ev->recursive ? " (recursive)" : "");
	if (ev->record_ret)
		printf("; NOT recorded: %s", strerror(-ev->record_ret));
	printf("\n");
	if (!ev->in_guest || ev->gpa != e->gpa) {
		printf("gmf vmm: the intake saw gpa %#" PRIx64 ", the model %#" PRIx64 "\n", ev->gpa,
		       e->gpa);
		return 1;
	}
	if (ev->action == INTAKE_FATAL || ev->evict)
		return 2;
	if (ev->action != INTAKE_INJECTED)
		return ev->action == INTAKE_DUPLICATE || ev->action == INTAKE_IGNORED ? 0 : 1;
	ret = vm_wait_mce_report(vm_vcpu(vm, ev->target), nr_rep[ev->target], &rep, MODEL_WAIT_MS);
	if (ret) {
		printf("gmf vmm: guest: no #MC report from vCPU %d: %s\n", ev->target, strerror(-ret));
		return 1;
	}
	printf("gmf vmm: guest: #MC on vCPU %d: MCG_STATUS %#" PRIx64, ev->target, rep.mcg_status);
	if (ev->bank < rep.nr_banks)
		printf(", bank %u MCi_STATUS %#" PRIx64 " MCi_ADDR %#" PRIx64 " MCi_MISC %#" PRIx64,
		       ev->bank, rep.bank[ev->bank].status, rep.bank[ev->bank].addr,
		       rep.bank[ev->bank].misc);
	if (ev->bank >= rep.nr_banks || rep.bank[ev->bank].addr != e->gpa) {
		printf("; MCi_ADDR is NOT the model's gpa %#" PRIx64 "\n", e->gpa);
		return 1;
	}
	printf(" = the model's gpa (%s:%d)\n", m->path, e->line);
	return 0;
}

int vmm_model_deliver(struct vmm_model *m, struct vm *vm, struct intake *in)
{
	struct intake_event *evs;
	unsigned int nr_rep[VMM_MAX_VCPUS];
	int status = 0, done = 0, mces = 0;
	char to[96];

	/* The VM is the one the events were checked against: nothing delivered otherwise. */
	if (vm_mem_size(vm) < m->real_mem || vm_nr_vcpus(vm) < m->real_vcpus) {
		printf("gmf vmm: errors from %s: checked for %#" PRIx64 " bytes and %d vCPUs, the VM has "
		       "%#" PRIx64 " and %d: nothing delivered\n", m->path, m->real_mem, m->real_vcpus,
		       vm_mem_size(vm), vm_nr_vcpus(vm));
		return 1;
	}
	/* The guest takes a #MC only once its IDT and CR4.MCE are set: its workload runs. */
	for (int v = 0; v < vm_nr_vcpus(vm); v++) {
		int ret = vm_wait_progress(vm_vcpu(vm, v), 2, MODEL_READY_MS);

		if (ret) {
			printf("gmf vmm: errors from %s: vCPU %d's guest did not start its workload: %s; "
			       "nothing delivered\n", m->path, v, strerror(-ret));
			return 1;
		}
	}
	evs = kcalloc(INTAKE_MAX_EVENTS, sizeof(*evs), GFP_KERNEL);
	if (!evs)
		return 1;
	printf("gmf vmm: errors from %s: %d event%s for the VMM (%s)\n", m->path, m->nr,
	       m->nr == 1 ? "" : "s", m->vm_desc);
	fflush(stdout);
	for (int i = 0; i < m->nr && !status; i++) {
		const struct mev *e = &m->ev[i];
		unsigned int before = intake_events(in, NULL, 0);
		u8 *addr = (u8 *)vm_mem(vm) + e->gpa;
		int ret = 0;

		/*
		 * Every vCPU finished the #MCs of the last event (the broadcast
		 * ones too): its workload went on past them. A #MC into a vCPU
		 * still in its handler would be a triple fault.
		 */
		for (int v = 0; v < vm_nr_vcpus(vm) && !status; v++) {
			struct vcpu *vc = vm_vcpu(vm, v);

			ret = vm_wait_progress(vc, vm_vcpu_progress(vc) + 2, MODEL_WAIT_MS);
			if (ret) {
				printf("gmf vmm: vCPU %d's guest does not go on: %s\n", v, strerror(-ret));
				status = 1;
			}
			nr_rep[v] = vm_vcpu_nr_mce_reports(vc);
		}
		if (status)
			break;
		printf("gmf vmm: model %s:%d: %s\n", m->path, e->line, e->trace);
		if (e->exit)
			printf("gmf vmm: real: KVM_EXIT_MEMORY_FAULT/EHWPOISON on vCPU %d (tid %d), gpa %#"
			       PRIx64 " size %#" PRIx64 " flags %#" PRIx64 ", posted by its thread as its "
			       "KVM_RUN loop does\n", e->vcpu, (int)intake_vcpu_tid(in, e->vcpu), e->gpa,
			       e->size, e->flags);
		else
			printf("gmf vmm: real: SIGBUS %s to %s, si_addr %p (model %#" PRIx64 " in %s: gpa %#"
			       PRIx64 ")\n", e->code == BUS_MCEERR_AR ? "BUS_MCEERR_AR" : "BUS_MCEERR_AO",
			       to_name(e, to, sizeof(to)), (void *)addr, e->model_addr, e->where, e->gpa);
		fflush(stdout);
		ret = raise_one(e, vm, in);
		if (ret) {
			printf("gmf vmm: raising it failed: %s\n", strerror(-ret));
			status = 1;
			break;
		}
		if (intake_wait_events(in, before + 1, MODEL_WAIT_MS)) {
			printf("gmf vmm: the intake did not handle it within %d ms\n", MODEL_WAIT_MS);
			status = 1;
			break;
		}
		if (before >= INTAKE_MAX_EVENTS) {
			printf("gmf vmm: intake: event %u handled (beyond the %d kept)\n", before + 1,
			       INTAKE_MAX_EVENTS);
			done++;
			continue;
		}
		intake_events(in, evs, INTAKE_MAX_EVENTS);
		ret = check_one(m, e, vm, &evs[before], nr_rep);
		fflush(stdout);
		if (ret == 2) {
			/* Fatal or eviction: the run loop stops with the intake's status. */
			printf("gmf vmm: errors from %s: the intake asked to stop after %d of %d\n",
			       m->path, done + 1, m->nr);
			kfree(evs);
			return 0;
		}
		if (ret)
			status = 1;
		done++;
		mces += !ret && evs[before].action == INTAKE_INJECTED;
	}
	printf("gmf vmm: errors from %s: %d of %d delivered, %d #MC in the guest with MCi_ADDR = the "
	       "model's gpa%s\n", m->path, done, m->nr, mces, status ? "; NOT all as the model said" : "");
	fflush(stdout);
	kfree(evs);
	return status;
}
