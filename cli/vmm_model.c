// SPDX-License-Identifier: MIT
/*
 * gmf vmm run --errors-from FILE.scn: the model decides which memory errors
 * the VMM sees, the real VMM receives them (issue 8; docs/vmm-model.md).
 *
 * Load (before the real VM exists):
 *   - the scenario is parsed and run in the model (scn_run()); it must vary
 *     nothing and pass;
 *   - the run's observer (scn_run_opts.on_event) is told each signal, KVM
 *     exit and panic as the model makes it, with the model's own answer of
 *     what it is: the target task, whether it is the VMM and which vCPU it
 *     runs, the signal's address as a gpa of the VM (kvm_uaddr_to_gpa():
 *     the VMA there, the memslots that map its file offset or user range)
 *     and the VM's shape at that moment (vCPUs, memslots);
 *   - every event is checked and turned into an event for the real VMM:
 *     SIGBUS BUS_MCEERR_AR/AO to the VMM with an address in its guest
 *     memory, and KVM_EXIT_MEMORY_FAULT with EHWPOISON. Anything else that
 *     reaches a task (another signal, a task that is not the VMM, an address
 *     outside guest memory, another exit, a panic) and a model VM larger
 *     than the real one is an error naming the line: nothing is delivered.
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
#include "cli/cli.h"
#include "cli/vmm_model.h"
#include "scn/scn.h"
#include "vmm/guest/layout.h"
#include "vmm/intake.h"
#include "vmm/vm.h"

#define MODEL_EXIT_BAD	2
#define MODEL_WAIT_MS	3000
#define MODEL_READY_MS	10000

/* ---- what the model did -------------------------------------------------------- */

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
	char where[160];	/* the model's guest memory there */
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
	u64 real_mem;
	int real_vcpus;
	struct vmm_model *m;
	/* The first event refused while the model ran: reported once it passed. */
	int refused;
	int refused_line;
	char why[768];
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

/* Keep the first refusal of an event; bad() reports it after the run. */
static __printf(3, 4) int refuse(struct mctx *c, int line, const char *fmt, ...)
{
	va_list ap;

	if (c->refused)
		return MODEL_EXIT_BAD;
	c->refused = MODEL_EXIT_BAD;
	c->refused_line = line;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return MODEL_EXIT_BAD;
}

/* The event as gmf run prints it (base/trace.c), without indent or newline. */
static void trace_text(const struct trace_event *e, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");
	char *s;

	buf[0] = '\0';
	if (!f)
		return;
	trace_print_text(f, e);
	fclose(f);
	buf[len - 1] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	s = buf + strspn(buf, " ");
	memmove(buf, s, strlen(s) + 1);
}

/* ---- load: the model's events for the VMM ------------------------------------------ */

static struct mev *mev_add(struct mctx *c, const struct scn_event *ev)
{
	struct vmm_model *m = c->m;
	struct mev *n = krealloc_array(m->ev, (size_t)m->nr + 1, sizeof(*n), GFP_KERNEL);

	if (!n)
		return NULL;
	m->ev = n;
	n = &m->ev[m->nr++];
	memset(n, 0, sizeof(*n));
	n->line = ev->line;
	n->vcpu = -1;
	trace_text(ev->trace, n->trace, sizeof(n->trace));
	return n;
}

/* The VM the event concerns, as it is now, must be one the real VMM can be. */
static int check_vm(struct mctx *c, const struct scn_event *ev)
{
	const struct scn_event_vm *v = &ev->vm;

	if (v->id < 0)
		return 0;
	if (ev->nr_vms > 1)
		return refuse(c, ev->line, "the model host has %d VMs (%s among them): the real VMM "
			      "runs one: expected one VM", ev->nr_vms, v->name ? v->name : "?");
	if (!v->vmm_handler)
		return refuse(c, ev->line, "the VMM process %s has no SIGBUS handler, the real VMM has "
			      "one: expected 'process %s handler=yes'", v->vmm, v->vmm);
	if (v->max_vcpu_id >= c->real_vcpus)
		return refuse(c, ev->line, "vCPU %s has id %d, the real VMM has %d vCPU%s: expected a "
			      "model VM no larger than the real one (--vcpus %d)",
			      v->max_vcpu ? v->max_vcpu : "?", v->max_vcpu_id, c->real_vcpus,
			      c->real_vcpus == 1 ? "" : "s", v->max_vcpu_id + 1);
	if (v->nr_smm_slots)
		return refuse(c, ev->line, "a memslot of %s in address space 1 (SMM): the real VMM has "
			      "one address space: expected as=0", v->name);
	if (v->mem_end > c->real_mem)
		return refuse(c, ev->line, "the model VM's memory reaches gpa %#" PRIx64 ", beyond the "
			      "real guest memory 0x0..%#" PRIx64 ": expected a model VM no larger than "
			      "the real one (--memory %lluM)", v->mem_end - 1, c->real_mem - 1,
			      (unsigned long long)(ALIGN(v->mem_end, 2ULL << 20) >> 20));
	snprintf(c->m->vm_desc, sizeof(c->m->vm_desc), "model VM %s of %s: %d vCPU%s, %d memslot%s "
		 "(%d on guest_memfd)", v->name, v->vmm, v->nr_vcpus, v->nr_vcpus == 1 ? "" : "s",
		 v->nr_slots, v->nr_slots == 1 ? "" : "s", v->nr_gmem_slots);
	return 0;
}

static int take_signal(struct mctx *c, const struct scn_event *ev)
{
	char text[320];
	struct mev *e;

	trace_text(ev->trace, text, sizeof(text));
	if (!ev->vmm)
		return refuse(c, ev->line, "the model signalled %s:%d, which is not the VMM (%s): %s: "
			      "expected signals to the VM's process or its vCPU threads only",
			      ev->task, ev->pid, ev->vm.id < 0 ? "no VM yet" : ev->vm.vmm, text);
	if (ev->signal != SIGBUS || (ev->code != BUS_MCEERR_AR && ev->code != BUS_MCEERR_AO))
		return refuse(c, ev->line, "%s: the real VMM has no counterpart: expected SIGBUS with "
			      "BUS_MCEERR_AR or BUS_MCEERR_AO", text);
	if (!ev->has_addr || !ev->guest || ev->gpa_vm != ev->vm.id)
		return refuse(c, ev->line, "%s: si_addr %#" PRIx64 " is not in the guest memory of %s "
			      "(no memslot maps it): expected an address in the VM's guest memory",
			      text, ev->addr, ev->vm.name);
	if (ev->gpa >= c->real_mem)
		return refuse(c, ev->line, "%s: gpa %#" PRIx64 " is beyond the real guest memory "
			      "0x0..%#" PRIx64 " (--memory)", text, ev->gpa, c->real_mem - 1);
	if (ev->nr_vcpus_run > 1)
		return refuse(c, ev->line, "%s: %s runs %d vCPUs: expected one vCPU a thread", text,
			      ev->task, ev->nr_vcpus_run);
	if (ev->vcpu < 0 && !ev->main_thread)
		return refuse(c, ev->line, "%s: %s is neither the VMM's main thread nor a vCPU's: the "
			      "real VMM has no such thread", text, ev->task);
	e = mev_add(c, ev);
	if (!e)
		return refuse(c, ev->line, "out of memory");
	e->code = ev->code;
	e->lsb = ev->lsb ? ev->lsb : 12;
	e->model_addr = ev->addr;
	e->gpa = ev->gpa;
	snprintf(e->task, sizeof(e->task), "%s", ev->task);
	if (ev->gmem)
		snprintf(e->where, sizeof(e->where), "guest_memfd %s offset %#" PRIx64 " (%s%s%s"
			 "memslot %u%s)", ev->file, ev->offset, ev->mapping ? "mapping " : "",
			 ev->mapping ? ev->mapping : "", ev->mapping ? ", " : "", ev->slot,
			 ev->private ? ", private" : "");
	else
		snprintf(e->where, sizeof(e->where), "user memory of memslot %u (%s%s%s)", ev->slot,
			 ev->mapping ? "mapping " : "", ev->mapping ? ev->mapping : "",
			 ev->private ? ", private" : "");
	if (ev->code == BUS_MCEERR_AO && ev->main_thread)
		e->to = TO_PROCESS;
	else if (ev->vcpu >= 0)
		e->to = TO_VCPU;
	else
		e->to = TO_MAIN;
	e->vcpu = ev->vcpu;
	return 0;
}

static int take_exit(struct mctx *c, const struct scn_event *ev)
{
	char text[320];
	struct mev *e;

	trace_text(ev->trace, text, sizeof(text));
	if (!strcmp(ev->exit_reason, "none") && ev->ret == 0)
		return 0;	/* the guest went on */
	if (!strcmp(ev->exit_reason, "KVM_EXIT_INTR") && ev->ret == -EINTR)
		return 0;	/* a signal is pending: the signal is the event */
	if (strcmp(ev->exit_reason, "KVM_EXIT_MEMORY_FAULT") || ev->ret != -EHWPOISON || !ev->has_gpa)
		return refuse(c, ev->line, "%s: the real VMM has no counterpart: expected "
			      "KVM_EXIT_MEMORY_FAULT with EHWPOISON", text);
	if (ev->vcpu >= c->real_vcpus)
		return refuse(c, ev->line, "%s: vCPU %d: the real VMM has %d vCPU%s (--vcpus)", text,
			      ev->vcpu, c->real_vcpus, c->real_vcpus == 1 ? "" : "s");
	if (ev->gpa >= c->real_mem)
		return refuse(c, ev->line, "%s: gpa %#" PRIx64 " is beyond the real guest memory "
			      "0x0..%#" PRIx64 " (--memory)", text, ev->gpa, c->real_mem - 1);
	e = mev_add(c, ev);
	if (!e)
		return refuse(c, ev->line, "out of memory");
	e->exit = true;
	e->vcpu = ev->vcpu;
	e->to = TO_VCPU;
	e->gpa = ev->gpa;
	e->size = ev->size;
	e->flags = ev->flags;
	e->lsb = 12;
	snprintf(e->where, sizeof(e->where), "vCPU %d", ev->vcpu);
	return 0;
}

/* The run's observer: each event as the model makes it. */
static void take_event(void *arg, const struct scn_event *ev)
{
	struct mctx *c = arg;
	char text[320];

	if (c->refused)
		return;
	if (ev->kind == SCN_EV_PANIC) {
		trace_text(ev->trace, text, sizeof(text));
		refuse(c, ev->line, "the model host panicked (%s): the real VMM has no counterpart: "
		       "expected a scenario without a panic", text);
		return;
	}
	if (check_vm(c, ev))
		return;
	if (ev->kind == SCN_EV_SIGNAL)
		take_signal(c, ev);
	else
		take_exit(c, ev);
}

/* Run the file in the model, its observer taking the events. 0 or an exit status. */
static int model_run(struct mctx *c, struct scn_file *f)
{
	struct scn_run_opts opts = { .on_event = take_event, .on_event_arg = c };
	struct scn_result res;
	int status = 0;

	if (scn_run(f, &opts, &res, 1) != 1)
		return bad(c, 0, "the model could not run it");
	if (!res.passed)
		status = bad(c, res.failed_line, "the scenario fails in the model: %s: expected a "
			     "scenario that passes (see gmf run %s)", res.failure, c->path);
	scn_result_free(&res);
	return status;
}

/* What the file itself says the real VMM cannot be. 0 or an exit status. */
static int check_file(struct mctx *c, const struct scn_file *f, bool *has_vm)
{
	*has_vm = false;
	for (int i = 0; i < f->n; i++) {
		const struct scn_stmt *st = &f->stmts[i];

		if (!strcmp(st->verb, "host")) {
			for (int a = 0; a < st->nargs; a++)
				if (st->args[a].key && !strcmp(st->args[a].key, "arch") &&
				    strcmp(st->args[a].val, "x86"))
					return bad(c, st->line, "an %s host: the real VMM runs on x86 "
						   "(KVM_X86_SET_MCE): expected arch=x86", st->args[a].val);
		} else if (!strcmp(st->verb, "kho_kexec")) {
			return bad(c, st->line, "a kexec in the model (kho_kexec): the real VMM's live "
				   "update is --live-update-after: expected a scenario on one host");
		} else if (!strcmp(st->verb, "vm")) {
			*has_vm = true;
		}
	}
	return 0;
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
	struct mctx c = { .path = path };
	struct scn_file *f = NULL;
	struct scn_error perr;
	char *text;
	size_t len = 0;
	bool has_vm;
	int status = 0;

	*out = NULL;
	c.real_mem = cfg->mem_size ? cfg->mem_size : GUEST_MEM_MIN;
	c.real_vcpus = cfg->nr_vcpus ? cfg->nr_vcpus : 1;
	if (live_update)
		return bad(&c, 0, "--errors-from and a live update (--live-update-after, --inherit-fd) "
			   "do not go together: the new process would deliver the errors again");
	text = cli_read_file(path, CLI_SCENARIO_MAX, &len);
	if (!text)
		return bad(&c, 0, "%s", strerror(errno));
	memset(&perr, 0, sizeof(perr));
	if (scn_parse(path, text, len, &f, &perr)) {
		fprintf(stderr, "gmf vmm run: %s:%d:%d: error: %s\n", path, perr.line, perr.col,
			perr.msg);
		free(text);
		return MODEL_EXIT_BAD;
	}
	free(text);
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
	if (!status)
		status = check_file(&c, f, &has_vm);
	if (!status && c.refused)
		status = bad(&c, c.refused_line, "%s", c.why);
	if (status)
		goto out;
	if (!has_vm) {
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
	*out = c.m;
	c.m = NULL;
out:
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
