// SPDX-License-Identifier: MIT
/*
 * gmf vmm: the small VMM on real KVM (vmm/vm.c) with its memory-error intake
 * (vmm/intake.c) and poison record (vmm/record.c).
 *
 *   run     start the VM and the intake, fence the recorded pages (log them),
 *           listen on a control socket, run for --seconds or until SIGTERM,
 *           SIGINT or the intake's fatal/evict request (exit 71 or 75);
 *   inject  send a running `gmf vmm run` a memory error for a guest page over
 *           its control socket: the run side raises a real SIGBUS through the
 *           intake's path (AR: rt_tgsigqueueinfo by vCPU 0's thread to itself,
 *           the only way the kernel lets a BUS_MCEERR_AR be queued; AO:
 *           rt_sigqueueinfo to its own process from its main thread);
 *   reset   reset the guest of a running `gmf vmm run` over its control
 *           socket: stop the vCPUs, punch every poisoned page out of the guest
 *           memory file (FALLOC_FL_PUNCH_HOLE: a fresh page on next touch),
 *           mark it repaired in the record, forget it in the intake, reset
 *           the vCPUs to the payload's entry and start them again; with
 *           --from-guest the guest is asked to reset itself (port 0xcf9,
 *           port 0x64 or a triple fault) and the VMM resets because of it;
 *   status  print the pages of a poison record.
 *
 * Live update (issue 8 §5): `run --live-update-after S` backs the guest with
 * a memfd and, S seconds in, stops the vCPUs, keeps a copy of the memory fd
 * without FD_CLOEXEC, closes the record and execs /proc/self/exe as
 * `gmf vmm run ... --inherit-fd N` with the same options. The new process
 * (same pid, same control socket path) builds a new VM on that fd without
 * loading anything into it, reopens the record, fences every recorded page
 * again and starts the vCPUs at the payload's entry: its workload resumes
 * from the pass counter it keeps in guest memory. A guest_memfd cannot be
 * bound to another VM (docs/divergences.md), hence the memfd.
 *
 * A reset the guest asks for (issue 8: a triple fault, KVM_EXIT_SHUTDOWN; an
 * OUT to port 0xcf9 with RST_CPU; 0xfe to port 0x64) goes the same way as
 * `gmf vmm reset`, as QEMU makes them a system reset: the vCPU thread logs
 * it and wakes the main loop, which does the reset (intake_system_reset()).
 *
 * The control socket is $XDG_RUNTIME_DIR/gmf-vmm-PID.sock (/tmp without it);
 * one request a connection, "inject GPA ar|ao\n", "inject vmm ar|ao\n" (the
 * VMM's own memory), "reset\n" or "reset guest cf9|kbc|triple-fault\n"; the
 * reply is lines of text and a last line "status N", N the exit status of
 * `gmf vmm inject` or `gmf vmm reset`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "cli/cli.h"
#include "cli/vmm_model.h"
#include "vmm/guest/layout.h"
#include "vmm/intake.h"
#include "vmm/record.h"
#include "vmm/vm.h"

#define VMM_EXIT_SKIP	77
#define VMM_WAIT_MS	3000
#define VMM_REQ_MAX	128

/* ---- usage ------------------------------------------------------------------ */

static void vmm_usage(FILE *f)
{
	fprintf(f, "usage: gmf vmm run [--record DB] [--log FILE] [--memory SIZE] [--vcpus N]\n"
		"                   [--threshold N --window SECONDS] [--seconds S] [--local]\n"
		"                   [--vendor intel|amd] [--live-update-after S]\n"
		"                   [--errors-from FILE.scn]\n"
		"       gmf vmm inject --pid P (--gpa GPA | --vmm-memory) [--ao]\n"
		"       gmf vmm reset --pid P [--from-guest[=cf9|kbc|triple-fault]]\n"
		"       gmf vmm status --record DB\n\n"
		"The small VMM on real KVM, its memory-error intake and its poison record:\n"
		"  run     start the VM (guest_memfd, or memfd where the kernel has none) and\n"
		"          the intake; fence the pages the record holds; serve 'inject', 'reset'\n"
		"  inject  send the running VMM with pid P a memory error (AR, or AO with --ao)\n"
		"          for guest physical address GPA (or in its own memory), print the\n"
		"          intake's event and the guest's report of its #MC\n"
		"  reset   reset the guest of the running VMM with pid P, replacing every\n"
		"          poisoned page (punched out of the guest memory file); a reset\n"
		"          the guest asks for (triple fault, port 0xcf9, port 0x64) does too\n"
		"  status  print the pages of the poison record DB\n\n"
		"'gmf vmm COMMAND --help' has the options. Exit status: 0 success, 1 a\n"
		"failure, 2 usage or a bad record, 71 an AR in the VMM's own memory, 75\n"
		"eviction (the record's threshold), 77 no /dev/kvm.\n");
}

static void run_usage(FILE *f)
{
	fprintf(f, "usage: gmf vmm run [--record DB] [--log FILE] [--memory SIZE] [--vcpus N]\n"
		"                   [--threshold N --window SECONDS] [--seconds S] [--local]\n"
		"                   [--vendor intel|amd] [--live-update-after S]\n"
		"                   [--errors-from FILE.scn]\n\n"
		"  --record DB       the poison record (SQLite; created if missing); its pages\n"
		"                    are fenced again on start\n"
		"  --log FILE        the JSON Lines event log (docs/vmm-record.md); needs --record\n"
		"  --memory SIZE     guest memory, a multiple of 2M from 4M to 1G (K, M, G\n"
		"                    suffixes; default 4M)\n"
		"  --vcpus N         1 to %d vCPUs (default 1)\n"
		"  --threshold N     evict (exit 75) when N distinct pages were first seen\n"
		"  --window SECONDS  within SECONDS; both or neither; needs --record\n"
		"  --seconds S       stop after S seconds (default: at SIGTERM or SIGINT)\n"
		"  --local           a local machine check: no broadcast #MC to the other\n"
		"                    vCPUs; on Intel MCG_CAP has MCG_LMCE_P (KVM must offer\n"
		"                    it, else exit 1) and MCG_STATUS carries MCG_STATUS_LMCES\n"
		"  --vendor V        the #MC's form: intel (default) or amd (MCi_STATUS with\n"
		"                    POISON, no AO injected, no broadcast)\n"
		"  --live-update-after S\n"
		"                    guest memory on a memfd; after S seconds re-exec the VMM\n"
		"                    keeping the guest memory and the record: the new process\n"
		"                    fences the recorded pages again and continues the guest\n"
		"                    from its entry on the kept memory (once; --seconds counts\n"
		"                    again from the re-exec)\n"
		"  --inherit-fd N    (used by the live update) the guest memory is the memfd N\n"
		"  --errors-from FILE.scn\n"
		"                    run the scenario in the model and deliver the SIGBUS and\n"
		"                    memory-fault exits it gives the VMM (docs/vmm-model.md)\n\n"
		"Prints 'gmf vmm: pid P, guest memory 0x0..END, KIND' and the intake's lines on\n"
		"stdout. Exit status: 0 a clean stop, 1 a failure, 2 usage or a bad record,\n"
		"71 an AR in the VMM's own memory, 75 eviction, 77 no /dev/kvm.\n", VMM_MAX_VCPUS);
}

static void inject_usage(FILE *f)
{
	fprintf(f, "usage: gmf vmm inject --pid P (--gpa GPA | --vmm-memory) [--ao]\n\n"
		"Send the 'gmf vmm run' with pid P a memory error for the guest page at GPA\n"
		"(hex with 0x, or decimal): an action-required error consumed by vCPU 0\n"
		"(SIGBUS BUS_MCEERR_AR on its thread), or with --ao an action-optional one\n"
		"(BUS_MCEERR_AO to the process). Prints the intake's event and the guest's\n"
		"report of the #MC. With --vmm-memory the error is in the VMM's own memory\n"
		"(a word of its data, raised on its main thread): an AO there is ignored,\n"
		"an AR is fatal and the VMM exits with status 71. Exit status: 0 handled,\n"
		"1 not handled or no such VMM, 2 usage or a gpa beyond guest memory,\n"
		"77 no /dev/kvm.\n");
}

static void reset_usage(FILE *f)
{
	fprintf(f, "usage: gmf vmm reset --pid P [--from-guest[=cf9|kbc|triple-fault]]\n\n"
		"Reset the guest of the 'gmf vmm run' with pid P: its vCPUs stop; every\n"
		"poisoned page (the errors it handled and the pages fenced from its record)\n"
		"is punched out of the guest memory file (FALLOC_FL_PUNCH_HOLE |\n"
		"FALLOC_FL_KEEP_SIZE on the guest_memfd or memfd: a fresh page on next\n"
		"touch), marked repaired in the record and forgotten by the intake (a new\n"
		"error on it is injected again); the vCPUs restart at the payload's entry.\n"
		"A reset the guest asks for itself goes the same way: a triple fault\n"
		"(KVM_EXIT_SHUTDOWN), an OUT to port 0xcf9 with bit 2 (RST_CPU) set, an OUT\n"
		"of 0xfe to port 0x64 (keyboard controller pulse reset).\n\n"
		"  --from-guest[=HOW]  ask the guest (vCPU 0's payload) to reset itself and\n"
		"                      wait for the VMM to reset because of it: cf9 (the\n"
		"                      default) writes 0x06 to port 0xcf9, kbc 0xfe to port\n"
		"                      0x64, triple-fault loads an empty IDT and faults\n\n"
		"Prints one line per page and the restarted guest's progress. Exit status:\n"
		"0 done, 1 a page not replaced, the guest not restarted (or, --from-guest,\n"
		"it did not ask) or no such VMM, 2 usage, 77 no /dev/kvm.\n");
}

static void status_usage(FILE *f)
{
	fprintf(f, "usage: gmf vmm status --record DB\n\n"
		"Print one line per page of the record DB (gpa, offset, kind of the first\n"
		"sighting, action of the last, sightings, first and last time, UTC, and its\n"
		"state: poisoned, or repaired at a guest reset) and a summary. Exit status:\n"
		"0, 1 the integrity check failed, 2 usage or a missing or bad record.\n");
}

static bool is_help(const char *s)
{
	return !strcmp(s, "--help") || !strcmp(s, "-h");
}

/* ---- option parsing ---------------------------------------------------------- */

static bool parse_size(const char *s, u64 *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	if (*end) {
		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return false;
		}
		if (end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB"))
			return false;
	}
	if (v > (ULLONG_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400.0 * 365)
		return false;
	*out = v;
	return true;
}

/* ---- status ------------------------------------------------------------------ */

static void fmt_time(char *buf, size_t len, s64 ns)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, len, "%lld", (long long)ns);
		return;
	}
	snprintf(buf + strlen(buf), len - strlen(buf), ".%03dZ", (int)(ns % 1000000000 / 1000000));
}

static int vmm_status(int argc, char **argv)
{
	const char *db = NULL;
	struct record *rec;
	struct record_page *pages = NULL;
	size_t nr = 0, kinds[3] = { 0 }, repaired = 0;
	unsigned long sightings = 0;
	char err[512], msg[256];
	struct stat st;
	int ret, status = 0;

	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			status_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--record")) {
			if (++i >= argc)
				return cli_bad_flag("vmm status", "--record", NULL, "the poison record's path");
			db = argv[i];
		} else {
			fprintf(stderr, "gmf vmm status: unknown option '%s' (see gmf vmm status --help)\n",
				argv[i]);
			return 2;
		}
	}
	if (!db) {
		fprintf(stderr, "gmf vmm status: --record DB is required\n");
		status_usage(stderr);
		return 2;
	}
	/* record_open() would create a missing record: status only reads one. */
	if (stat(db, &st)) {
		fprintf(stderr, "gmf vmm status: %s: %s\n", db, strerror(errno));
		return 2;
	}
	ret = record_open(db, NULL, &rec, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "gmf vmm status: %s\n", err);
		return 2;
	}
	ret = record_load(rec, &pages, &nr);
	if (ret) {
		fprintf(stderr, "gmf vmm status: %s: cannot read the record: %s\n", db, strerror(-ret));
		record_close(rec);
		return 2;
	}
	printf("poison record %s: %zu page%s\n", db, nr, nr == 1 ? "" : "s");
	if (nr)
		printf("  %-12s %-12s %-12s %-13s %5s  %-24s  %-24s  %s\n", "gpa", "offset", "kind",
		       "action", "count", "first (UTC)", "last (UTC)", "state");
	for (size_t i = 0; i < nr; i++) {
		const struct record_page *p = &pages[i];
		char first[48], last[48];

		fmt_time(first, sizeof(first), p->first_ns);
		fmt_time(last, sizeof(last), p->last_ns);
		printf("  %#-12" PRIx64 " %#-12" PRIx64 " %-12s %-13s %5u  %-24s  %-24s  %s", p->gpa,
		       p->offset, record_kind_name(p->kind), p->action, p->count, first, last,
		       p->repaired ? "repaired" : "poisoned");
		if (p->repairs) {
			char at[48];

			fmt_time(at, sizeof(at), p->repaired_ns);
			printf(" (repaired %u time%s, last %s)", p->repairs, p->repairs == 1 ? "" : "s",
			       at);
		}
		printf("\n");
		if (p->repaired)
			repaired++;
		else if ((unsigned int)p->kind < 3)
			kinds[p->kind]++;
		sightings += p->count;
	}
	ret = record_check(rec, msg, sizeof(msg));
	printf("%zu poisoned page%s (%zu AR, %zu AO, %zu memory-fault), %lu sighting%s, %zu repaired, integrity %s\n",
	       nr - repaired, nr - repaired == 1 ? "" : "s", kinds[RECORD_AR], kinds[RECORD_AO],
	       kinds[RECORD_MEMORY_FAULT], sightings, sightings == 1 ? "" : "s", repaired,
	       ret ? msg : "ok");
	if (ret)
		status = 1;
	kfree(pages);
	record_close(rec);
	return status;
}

/* ---- the control socket ------------------------------------------------------- */

static int sock_path(pid_t pid, char *buf, size_t len)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	int n;

	if (!dir || !*dir)
		dir = "/tmp";
	n = snprintf(buf, len, "%s/gmf-vmm-%d.sock", dir, (int)pid);
	return n > 0 && (size_t)n < sizeof(((struct sockaddr_un *)0)->sun_path) && (size_t)n < len ?
	       0 : -ENAMETOOLONG;
}

static int sock_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static bool kvm_present(void)
{
	return access("/dev/kvm", F_OK) == 0;
}

/* ---- run ---------------------------------------------------------------------- */

struct vmm_run {
	struct vm *vm;
	struct intake *in;
	struct record *rec;		/* NULL without --record */
	int wake[2];		/* the fatal callback, a guest's reset -> the main loop */
	int fatal_status;	/* 0, or the status the intake asked for */
	bool reset_failed;	/* a reset left the guest stopped */
	FILE *reply;
	/* A `gmf vmm reset --from-guest` waiting for the reset (guest_reset()). */
	FILE *held_reply;
	unsigned int held_how;	/* its from_guest[] */
};

static void wake_main(struct vmm_run *r)
{
	char c = 1;

	if (write(r->wake[1], &c, 1) < 0) {
		/* The pipe is non-blocking and a byte is already there. */
	}
}

/* "triple fault (KVM_EXIT_SHUTDOWN)", "OUT 0x6 to port 0xcf9 (reset control register)". */
static void reset_what(const struct vm_reset_request *req, char *buf, size_t len)
{
	if (req->cause == VM_RESET_PORT_CF9 || req->cause == VM_RESET_PORT_KBC)
		snprintf(buf, len, "OUT %#x to %s", req->value, vm_reset_cause_name(req->cause));
	else
		snprintf(buf, len, "%s", vm_reset_cause_name(req->cause));
}

/*
 * The reset handler, on the vCPU thread that took the guest's request (its
 * last act): log it, wake the main loop, which does the reset.
 */
static void on_guest_reset(void *arg, const struct vm_reset_request *req)
{
	char what[96];

	reset_what(req, what, sizeof(what));
	printf("gmf vmm: vCPU %d: %s: guest reset\n", req->vcpu, what);
	fflush(stdout);
	wake_main(arg);
}

static void on_fatal(void *arg, int status)
{
	struct vmm_run *r = arg;

	__atomic_store_n(&r->fatal_status, status, __ATOMIC_SEQ_CST);
	wake_main(r);
}

static int send_sigbus(pid_t tid, int code, void *addr)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = SIGBUS;
	si.si_code = code;
	si.si_addr = addr;
	si.si_addr_lsb = 12;
	if (tid)
		return (int)syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, SIGBUS, &si);
	return (int)syscall(SYS_rt_sigqueueinfo, getpid(), SIGBUS, &si);
}

struct sig_req {
	void *addr;
	int ret;
};

/* On vCPU 0's thread: a thread may queue BUS_MCEERR_AR only to itself. */
static void sig_self_ar(void *arg)
{
	struct sig_req *q = arg;

	q->ret = send_sigbus((pid_t)syscall(SYS_gettid), BUS_MCEERR_AR, q->addr) ? -errno : 0;
}

static __printf(2, 3) void reply(struct vmm_run *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->reply)
		return;
	va_start(ap, fmt);
	vfprintf(r->reply, fmt, ap);
	va_end(ap);
}

/*
 * Wait for the intake to handle the error raised after its @before-th
 * event and fetch it: 0 with *@ev, 1 (replied) when it did not in time, 2
 * (replied) when it is beyond the events the intake keeps.
 */
static int next_event(struct vmm_run *r, unsigned int before, struct intake_event *ev)
{
	static struct intake_event evs[INTAKE_MAX_EVENTS];

	if (intake_wait_events(r->in, before + 1, VMM_WAIT_MS)) {
		reply(r, "the intake did not handle the error within %d ms\n", VMM_WAIT_MS);
		return 1;
	}
	if (before >= INTAKE_MAX_EVENTS) {
		reply(r, "intake: event %u handled (beyond the %d kept)\n", before + 1, INTAKE_MAX_EVENTS);
		return 2;
	}
	intake_events(r->in, evs, INTAKE_MAX_EVENTS);
	*ev = evs[before];
	return 0;
}

/* Raise one error through the intake, as a real one comes; reply with what happened. */
static int serve_inject(struct vmm_run *r, u64 gpa, bool ao)
{
	unsigned int before = intake_events(r->in, NULL, 0), nr_rep[VMM_MAX_VCPUS];
	u8 *addr = (u8 *)vm_mem(r->vm) + gpa;
	struct intake_event ev;
	struct vmm_mce_report rep;
	int ret;

	if (gpa >= vm_mem_size(r->vm)) {
		reply(r, "gpa %#" PRIx64 " is beyond guest memory 0x0..%#" PRIx64 "\n", gpa,
		      vm_mem_size(r->vm) - 1);
		return 2;
	}
	for (int i = 0; i < vm_nr_vcpus(r->vm); i++)
		nr_rep[i] = vm_vcpu_nr_mce_reports(vm_vcpu(r->vm, i));
	if (ao) {
		/* From the main thread to the process, as the kernel's AO comes. */
		ret = send_sigbus(0, BUS_MCEERR_AO, addr) ? -errno : 0;
	} else {
		struct sig_req q = { .addr = addr, .ret = -EINVAL };

		ret = intake_run_on_vcpu(r->in, 0, sig_self_ar, &q, VMM_WAIT_MS);
		if (!ret)
			ret = q.ret;
	}
	if (ret) {
		reply(r, "raising SIGBUS %s at gpa %#" PRIx64 " failed: %s\n",
		      ao ? "BUS_MCEERR_AO" : "BUS_MCEERR_AR", gpa, strerror(-ret));
		return 1;
	}
	ret = next_event(r, before, &ev);
	if (ret)
		return ret == 2 ? 0 : 1;
	reply(r, "intake: %s at gpa %#" PRIx64 ", offset %#" PRIx64 ": %s", intake_kind_name(ev.kind),
	      ev.gpa, ev.offset, intake_action_name(ev.action));
	if (ev.action == INTAKE_INJECTED)
		reply(r, " into vCPU %d, bank %u, MCi_STATUS %#" PRIx64 ", MCi_ADDR %#" PRIx64
		      ", MCi_MISC %#" PRIx64 ", MCG_STATUS %#" PRIx64 "%s", ev.target, ev.bank,
		      ev.status, ev.addr, ev.misc, ev.mcg_status, ev.recursive ? " (recursive)" : "");
	if (ev.record_ret)
		reply(r, "; NOT recorded: %s", strerror(-ev.record_ret));
	reply(r, "\n");
	if (ev.action != INTAKE_INJECTED)
		return ev.action == INTAKE_DUPLICATE || ev.action == INTAKE_IGNORED ? 0 : 1;
	ret = vm_wait_mce_report(vm_vcpu(r->vm, ev.target), nr_rep[ev.target], &rep, VMM_WAIT_MS);
	if (ret) {
		reply(r, "guest: no #MC report from vCPU %d: %s\n", ev.target, strerror(-ret));
		return 1;
	}
	reply(r, "guest: #MC on vCPU %d: MCG_STATUS %#" PRIx64, ev.target, rep.mcg_status);
	if (ev.bank < rep.nr_banks)
		reply(r, ", bank %u MCi_STATUS %#" PRIx64 " MCi_ADDR %#" PRIx64 " MCi_MISC %#" PRIx64,
		      ev.bank, rep.bank[ev.bank].status, rep.bank[ev.bank].addr, rep.bank[ev.bank].misc);
	reply(r, "\n");
	if (ev.bank < rep.nr_banks && rep.bank[ev.bank].addr != gpa) {
		reply(r, "guest: MCi_ADDR %#" PRIx64 " is not the gpa %#" PRIx64 "\n",
		      rep.bank[ev.bank].addr, gpa);
		return 1;
	}
	return 0;
}

static u64 pass_counter(struct vm *vm, int vcpu)
{
	return __atomic_load_n((u64 *)((u8 *)vm_mem(vm) + GUEST_PASS_GPA) + vcpu, __ATOMIC_RELAXED);
}

/* A word of the VMM's own data: where --vmm-memory's errors are. */
static u64 vmm_own_word;

/*
 * An error in the VMM's own memory, raised on the main thread as one would
 * come when it consumed that word (AR) or as the kernel reports a page of it
 * (AO). The intake ignores the AO and asks the VMM to exit 71 at the AR
 * (on_fatal(): the main loop stops after this reply).
 */
static int serve_inject_vmm(struct vmm_run *r, bool ao)
{
	unsigned int before = intake_events(r->in, NULL, 0);
	struct intake_event ev;
	int ret;

	ret = send_sigbus(ao ? 0 : (pid_t)syscall(SYS_gettid), ao ? BUS_MCEERR_AO : BUS_MCEERR_AR,
			  &vmm_own_word) ? -errno : 0;
	if (ret) {
		reply(r, "raising SIGBUS in the VMM's own memory failed: %s\n", strerror(-ret));
		return 1;
	}
	ret = next_event(r, before, &ev);
	if (ret)
		return ret == 2 ? 0 : 1;
	reply(r, "intake: %s at host addr %#" PRIx64 " (the VMM's own memory): %s", intake_kind_name(ev.kind),
	      ev.hva, intake_action_name(ev.action));
	if (ev.action == INTAKE_FATAL)
		reply(r, ": the VMM exits with status %d", INTAKE_EXIT_VMM_MEMORY);
	reply(r, "\n");
	return ev.in_guest ? 1 : 0;
}

/*
 * Guest reset (the issue's "on guest reset, punch out and replace poisoned
 * pages"), whoever asked (@cause: NULL for the operator, else what the guest
 * did): stop the vCPUs, replace every poisoned page through the intake,
 * reset the vCPUs, start them (intake_system_reset()), wait for the workload
 * to report a pass. Replies when a control request is served, and logs the
 * outcome on stdout.
 */
static int do_reset(struct vmm_run *r, const char *cause)
{
	static struct intake_repair reps[256];
	const char *file = vm_mem_kind(r->vm) == VMM_MEM_GUEST_MEMFD ? "guest_memfd" : "memfd";
	u64 before[VMM_MAX_VCPUS];
	unsigned int failed = 0;
	char why[256] = "";
	int nr, status = 0;

	/* Read before the stop: the guest may still be running its pass. */
	for (int i = 0; i < vm_nr_vcpus(r->vm); i++)
		before[i] = pass_counter(r->vm, i);
	nr = intake_system_reset(r->in, reps, ARRAY_SIZE(reps), why, sizeof(why));
	if (nr < 0) {
		reply(r, "reset: %s\n", why[0] ? why : strerror(-nr));
		printf("gmf vmm: reset%s: the guest did not restart: %s\n",
		       cause ? " (the guest's)" : "", why[0] ? why : strerror(-nr));
		fflush(stdout);
		r->reset_failed = true;
		return 1;
	}
	for (int i = 0; i < nr; i++) {
		const struct intake_repair *p = &reps[i];

		if (i >= (int)ARRAY_SIZE(reps)) {
			reply(r, "reset: %d more pages (not listed)\n", nr - i);
			break;
		}
		if (p->punch_ret) {
			failed++;
			reply(r, "reset: gpa %#" PRIx64 ", offset %#" PRIx64 ": punching out of the %s failed: %s; still poisoned\n",
			      p->gpa, p->offset, file, strerror(-p->punch_ret));
			continue;
		}
		reply(r, "reset: gpa %#" PRIx64 ", offset %#" PRIx64 " punched out of the %s, a fresh page on next touch",
		      p->gpa, p->offset, file);
		if (r->rec)
			reply(r, p->record_ret ? "; NOT marked repaired in the record: %s" :
			      "; marked repaired in the record%s", p->record_ret ? strerror(-p->record_ret) : "");
		reply(r, "\n");
		if (p->record_ret)
			failed++;
	}
	reply(r, "reset: %d poisoned page%s, %d replaced\n", nr, nr == 1 ? "" : "s",
	      nr - (int)failed);
	for (int i = 0; i < vm_nr_vcpus(r->vm); i++) {
		struct vcpu *v = vm_vcpu(r->vm, i);
		int ret = vm_wait_progress(v, 1, VMM_WAIT_MS);

		if (ret) {
			reply(r, "guest: vCPU %d made no progress after the reset: %s\n", i, strerror(-ret));
			printf("gmf vmm: reset: vCPU %d made no progress after it: %s\n", i,
			       strerror(-ret));
			status = 1;
			continue;
		}
		reply(r, "guest: restarted at its entry: vCPU %d pass %" PRIu64 " (pass counter %" PRIu64
		      " before the reset)\n", i, vm_vcpu_progress(v), before[i]);
	}
	printf("gmf vmm: reset done%s: %d poisoned page%s, %d replaced\n",
	       cause ? " (the guest's)" : "", nr, nr == 1 ? "" : "s", nr - (int)failed);
	fflush(stdout);
	return failed ? 1 : status;
}

/* The operator's reset, over the control socket. */
static int serve_reset(struct vmm_run *r)
{
	return do_reset(r, NULL);
}

static const struct {
	const char *name;
	u64 req;
	enum vm_reset_cause cause;
} from_guest[] = {
	{ "cf9", GUEST_REQ_RESET_CF9, VM_RESET_PORT_CF9 },
	{ "kbc", GUEST_REQ_RESET_KBC, VM_RESET_PORT_KBC },
	{ "triple-fault", GUEST_REQ_TRIPLE_FAULT, VM_RESET_TRIPLE_FAULT },
};

/*
 * A reset the guest asked for (the vCPU thread logged it, on_guest_reset()):
 * from the main loop, the same reset as the operator's. A `gmf vmm reset
 * --from-guest` waiting for it (r->held_reply) gets the reply and its status.
 */
static void guest_reset(struct vmm_run *r, const struct vm_reset_request *req)
{
	char what[96];
	int status;

	reset_what(req, what, sizeof(what));
	r->reply = r->held_reply;
	status = do_reset(r, what);
	if (!r->reply)
		return;
	if (req->cause != from_guest[r->held_how].cause) {
		reply(r, "guest: that was not the %s asked for\n", from_guest[r->held_how].name);
		status = 1;
	}
	reply(r, "status %d\n", status);
	fclose(r->reply);
	r->reply = r->held_reply = NULL;
}

/*
 * `gmf vmm reset --from-guest`: ask the payload on vCPU 0 to reset the
 * machine itself (its request qword) and wait for its request to reach the
 * VMM (the I/O exit or KVM_EXIT_SHUTDOWN). The reset is then the main loop's,
 * as for any reset the guest asks for (guest_reset()), which replies: -1, the
 * connection is held. Or the status of a guest that did not ask.
 */
static int serve_reset_from_guest(struct vmm_run *r, unsigned int how)
{
	struct vm_reset_request req;
	char what[96];
	int ret = 0;

	if (r->held_reply) {
		reply(r, "guest: another reset --from-guest is waiting for its reset\n");
		return 1;
	}
	if (!vm_reset_request(r->vm, NULL)) {
		ret = vm_guest_request(r->vm, 0, from_guest[how].req);
		if (!ret)
			ret = vm_wait_reset_request(r->vm, NULL, VMM_WAIT_MS);
	}
	if (ret) {
		/* Withdrawn: the guest must not reset later on its own. */
		if (vm_guest_request(r->vm, 0, GUEST_REQ_NONE)) {
			/* vCPU 0 always exists. */
		}
		reply(r, "guest: asked to reset through %s, it did not within %d ms: %s\n",
		      from_guest[how].name, VMM_WAIT_MS, strerror(-ret));
		return 1;
	}
	if (vm_reset_request(r->vm, &req)) {
		reset_what(&req, what, sizeof(what));
		reply(r, "guest: vCPU %d: %s: guest reset\n", req.vcpu, what);
	}
	r->held_reply = r->reply;
	r->held_how = how;
	return -1;
}

static void serve(struct vmm_run *r, int lfd)
{
	char req[VMM_REQ_MAX], mode[16];
	struct pollfd p;
	size_t n = 0;
	int fd, status = 2;
	u64 gpa;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* One line, within a second. */
	p.fd = fd;
	p.events = POLLIN;
	while (n < sizeof(req) - 1 && poll(&p, 1, 1000) > 0) {
		ssize_t got = read(fd, req + n, sizeof(req) - 1 - n);

		if (got <= 0)
			break;
		n += (size_t)got;
		if (memchr(req, '\n', n))
			break;
	}
	req[n] = '\0';
	r->reply = fdopen(fd, "w");
	if (!r->reply) {
		close(fd);
		return;
	}
	if (sscanf(req, "inject vmm %15s", mode) == 1 &&
	    (!strcmp(mode, "ar") || !strcmp(mode, "ao"))) {
		printf("gmf vmm: inject %s in the VMM's own memory (control socket)\n", mode);
		fflush(stdout);
		status = serve_inject_vmm(r, !strcmp(mode, "ao"));
	} else if (!strcmp(req, "reset\n")) {
		printf("gmf vmm: reset (control socket)\n");
		fflush(stdout);
		status = serve_reset(r);
	} else if (sscanf(req, "reset guest %15s", mode) == 1) {
		unsigned int how = ARRAY_SIZE(from_guest);

		for (unsigned int i = 0; i < ARRAY_SIZE(from_guest); i++)
			if (!strcmp(mode, from_guest[i].name))
				how = i;
		if (how < ARRAY_SIZE(from_guest)) {
			printf("gmf vmm: reset --from-guest=%s: asking the guest (vCPU 0) to reset itself (control socket)\n",
			       mode);
			fflush(stdout);
			status = serve_reset_from_guest(r, how);
		} else {
			reply(r, "bad request\n");
		}
	} else if (sscanf(req, "inject %" SCNx64 " %15s", &gpa, mode) == 2 &&
	    (!strcmp(mode, "ar") || !strcmp(mode, "ao"))) {
		printf("gmf vmm: inject %s at gpa %#" PRIx64 " (control socket)\n", mode, gpa);
		fflush(stdout);
		status = serve_inject(r, gpa, !strcmp(mode, "ao"));
	} else {
		reply(r, "bad request\n");
	}
	if (status >= 0) {
		reply(r, "status %d\n", status);
		fclose(r->reply);
	}
	r->reply = NULL;
}

/* Fence again every page the record holds (issue 8 §5): log each one. */
static void refence(struct vmm_run *r, struct record *rec, const char *db)
{
	struct record_page *pages = NULL;
	size_t nr = 0, fenced;
	int ret = record_load(rec, &pages, &nr);

	if (ret) {
		printf("gmf vmm: %s: cannot load the recorded pages: %s\n", db, strerror(-ret));
		return;
	}
	fenced = nr;
	for (size_t i = 0; i < nr; i++) {
		const struct record_page *p = &pages[i];
		bool beyond;

		if (p->repaired) {
			printf("gmf vmm: not fenced: gpa %#" PRIx64 ", offset %#" PRIx64
			       " was replaced at a guest reset (repaired, no error since)\n", p->gpa,
			       p->offset);
			fenced--;
			continue;
		}
		beyond = intake_mark_poisoned(r->in, p->gpa) != 0;

		printf("gmf vmm: fenced from the record: gpa %#" PRIx64 ", offset %#" PRIx64
		       ", %s, %s, seen %u time%s%s\n", p->gpa, p->offset, record_kind_name(p->kind),
		       p->action, p->count, p->count == 1 ? "" : "s",
		       beyond ? " (beyond this guest's memory)" : "");
	}
	/*
	 * Known to the intake again: an AO on one of these pages is a
	 * duplicate; an AR (the guest touched it) is injected, as before.
	 */
	printf("gmf vmm: %zu recorded page%s fenced from %s (marked poisoned; nothing injected)\n",
	       fenced, fenced == 1 ? "" : "s", db);
	fflush(stdout);
	kfree(pages);
}

/*
 * Re-exec as `gmf vmm run ARGS --inherit-fd FD`, ARGS the options of this
 * run without --live-update-after and --inherit-fd. Returns only on failure.
 */
static void live_update_exec(int argc, char **argv, int fd)
{
	static char gmf[] = "gmf", vmm[] = "vmm", run[] = "run", inherit[] = "--inherit-fd";
	char **nargv, fdbuf[16];
	int n = 0;

	nargv = kcalloc((size_t)argc + 5, sizeof(*nargv), GFP_KERNEL);
	if (!nargv) {
		fprintf(stderr, "gmf vmm run: live update: no memory\n");
		return;
	}
	snprintf(fdbuf, sizeof(fdbuf), "%d", fd);
	nargv[n++] = gmf;
	nargv[n++] = vmm;
	nargv[n++] = run;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--live-update-after") || !strcmp(argv[i], "--inherit-fd")) {
			i++;
			continue;
		}
		nargv[n++] = argv[i];
	}
	nargv[n++] = inherit;
	nargv[n++] = fdbuf;
	nargv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	execv("/proc/self/exe", nargv);
	fprintf(stderr, "gmf vmm run: live update: exec /proc/self/exe: %s\n", strerror(errno));
	kfree(nargv);
}

static int vmm_run(int argc, char **argv)
{
	const char *db = NULL, *log = NULL, *errors_from = NULL;
	struct vmm_model *model = NULL;
	struct vm_config vcfg = { .mem = VMM_MEM_AUTO };
	struct record_config rcfg = { .log_fd = -1 };
	struct intake_config icfg = { .log = stdout, .vendor = INTAKE_INTEL };
	struct vmm_run r = { .wake = { -1, -1 } };
	struct record *rec = NULL;
	bool have_thr = false, have_win = false;
	double seconds = 0, update_after = 0;
	int inherit_fd = -1, update_fd = -1;
	struct timespec update_at = { 0 };
	char why[256], err[512], path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un sa;
	struct timespec end = { 0 };
	sigset_t mask, old;
	int ret, status = 0, sfd = -1, lfd = -1;
	u64 v;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (is_help(a)) {
			run_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--local")) {
			icfg.local = true;
			continue;
		} else if (strcmp(a, "--record") && strcmp(a, "--log") && strcmp(a, "--memory") &&
			   strcmp(a, "--vcpus") && strcmp(a, "--threshold") && strcmp(a, "--window") &&
			   strcmp(a, "--seconds") && strcmp(a, "--live-update-after") &&
			   strcmp(a, "--inherit-fd") && strcmp(a, "--vendor") &&
			   strcmp(a, "--errors-from")) {
			fprintf(stderr, "gmf vmm run: unknown option '%s' (see gmf vmm run --help)\n", a);
			return 2;
		}
		if (!strcmp(a, "--record")) {
			if (!val)
				return cli_bad_flag("vmm run", a, NULL, "the poison record's path");
			db = val;
		} else if (!strcmp(a, "--log")) {
			if (!val)
				return cli_bad_flag("vmm run", a, NULL, "the event log's path");
			log = val;
		} else if (!strcmp(a, "--memory")) {
			if (!val || !parse_size(val, &v) || v < GUEST_MEM_MIN || v > (1ULL << 30) ||
			    v % (2ULL << 20))
				return cli_bad_flag("vmm run", a, val, "a size, a multiple of 2M from 4M to 1G (e.g. 8M)");
			vcfg.mem_size = v;
		} else if (!strcmp(a, "--vcpus")) {
			if (!val || !cli_parse_u64(val, &v) || v < 1 || v > VMM_MAX_VCPUS)
				return cli_bad_flag("vmm run", a, val, "a number of vCPUs from 1 to 4");
			vcfg.nr_vcpus = (int)v;
		} else if (!strcmp(a, "--threshold")) {
			if (!val || !cli_parse_u64(val, &v) || v < 1 || v > UINT_MAX)
				return cli_bad_flag("vmm run", a, val, "a number of pages, 1 or more");
			rcfg.evict_pages = (unsigned int)v;
			have_thr = true;
		} else if (!strcmp(a, "--window")) {
			if (!val || !cli_parse_u64(val, &v) || v < 1 || v > UINT_MAX)
				return cli_bad_flag("vmm run", a, val, "a number of seconds, 1 or more");
			rcfg.evict_window_s = (unsigned int)v;
			have_win = true;
		} else if (!strcmp(a, "--live-update-after")) {
			if (!val || !parse_seconds(val, &update_after))
				return cli_bad_flag("vmm run", a, val, "a number of seconds greater than 0");
		} else if (!strcmp(a, "--errors-from")) {
			if (!val)
				return cli_bad_flag("vmm run", a, NULL, "a scenario file (docs/vmm-model.md)");
			errors_from = val;
		} else if (!strcmp(a, "--vendor")) {
			if (!val || (strcmp(val, "intel") && strcmp(val, "amd")))
				return cli_bad_flag("vmm run", a, val, "intel or amd");
			icfg.vendor = !strcmp(val, "amd") ? INTAKE_AMD : INTAKE_INTEL;
		} else if (!strcmp(a, "--inherit-fd")) {
			if (!val || !cli_parse_u64(val, &v) || v < 3 || v > INT_MAX ||
			    fcntl((int)v, F_GETFD) < 0)
				return cli_bad_flag("vmm run", a, val, "an open memfd inherited across exec");
			inherit_fd = (int)v;
		} else {
			if (!val || !parse_seconds(val, &seconds))
				return cli_bad_flag("vmm run", a, val, "a number of seconds greater than 0");
		}
		i++;
	}
	if (have_thr != have_win) {
		fprintf(stderr, "gmf vmm run: --threshold and --window go together\n");
		return 2;
	}
	if ((log || have_thr) && !db) {
		fprintf(stderr, "gmf vmm run: %s needs --record DB\n", log ? "--log" : "--threshold");
		return 2;
	}
	if (!kvm_present()) {
		fprintf(stderr, "gmf vmm run: /dev/kvm is missing: no KVM on this machine (skipped)\n");
		return VMM_EXIT_SKIP;
	}
	/* The model's errors, all checked before anything starts. */
	if (errors_from && (status = vmm_model_load(errors_from, &vcfg, update_after > 0 ||
						    inherit_fd >= 0, &model)))
		return status;
	rcfg.log_path = log;
	/* A local #MC on Intel is an LMCE: MCG_CAP must say so (vm_create() checks KVM). */
	vcfg.lmce = icfg.local && icfg.vendor == INTAKE_INTEL;
	if (update_after > 0)
		vcfg.mem = VMM_MEM_MEMFD;	/* a guest_memfd cannot move to a new VM */
	if (inherit_fd >= 0) {
		vcfg.mem = VMM_MEM_MEMFD;
		vcfg.inherit = true;
		vcfg.mem_fd = inherit_fd;
	}

	/* SIGTERM and SIGINT by signalfd; blocked before any thread starts. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || pipe2(r.wake, O_CLOEXEC | O_NONBLOCK)) {
		fprintf(stderr, "gmf vmm run: %s\n", strerror(errno));
		status = 1;
		goto out_sig;
	}

	if (db) {
		ret = record_open(db, &rcfg, &rec, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "gmf vmm run: %s\n", err);
			status = 2;
			goto out_sig;
		}
	}
	ret = vm_create(&vcfg, &r.vm, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "gmf vmm run: cannot create the VM: %s\n", why);
		status = ret == -ENODEV ? VMM_EXIT_SKIP : 1;
		goto out_rec;
	}
	if (inherit_fd >= 0) {
		printf("gmf vmm: live update: guest memory from inherited memfd %d, kept as it was",
		       inherit_fd);
		for (int i = 0; i < vm_nr_vcpus(r.vm); i++)
			printf("; vCPU %d pass counter %" PRIu64, i, pass_counter(r.vm, i));
		printf("\n");
		fflush(stdout);
	}
	icfg.record = rec;
	r.rec = rec;
	icfg.fatal = on_fatal;
	icfg.fatal_arg = &r;
	ret = intake_start(r.vm, &icfg, &r.in);
	if (ret) {
		fprintf(stderr, "gmf vmm run: cannot start the intake: %s\n", strerror(-ret));
		status = 1;
		goto out_vm;
	}
	vm_set_reset_handler(r.vm, on_guest_reset, &r);
	ret = vm_start(r.vm);
	if (ret) {
		fprintf(stderr, "gmf vmm run: cannot start the vCPUs: %s\n", strerror(-ret));
		status = 1;
		goto out_intake;
	}

	if (sock_path(getpid(), path, sizeof(path)) || sock_addr(path, &sa)) {
		fprintf(stderr, "gmf vmm run: the control socket's path is too long\n");
		status = 1;
		goto out_intake;
	}
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);	/* a stale one of an earlier process with this pid */
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    listen(lfd, 4)) {
		fprintf(stderr, "gmf vmm run: control socket %s: %s\n", path, strerror(errno));
		status = 1;
		goto out_sock;
	}

	printf("gmf vmm: pid %d, guest memory 0x0..%#" PRIx64 ", %s, %d vCPU%s, control socket %s\n",
	       (int)getpid(), vm_mem_size(r.vm) - 1,
	       vm_mem_kind(r.vm) == VMM_MEM_GUEST_MEMFD ? "guest_memfd" : "memfd",
	       vm_nr_vcpus(r.vm), vm_nr_vcpus(r.vm) == 1 ? "" : "s", path);
	fflush(stdout);
	if (rec)
		refence(&r, rec, db);
	if (model && vmm_model_deliver(model, r.vm, r.in))
		status = 1;

	if (update_after > 0) {
		clock_gettime(CLOCK_MONOTONIC, &update_at);
		update_at.tv_sec += (time_t)update_after;
		update_at.tv_nsec += (long)((update_after - (double)(time_t)update_after) * 1e9);
		if (update_at.tv_nsec >= 1000000000) {
			update_at.tv_sec++;
			update_at.tv_nsec -= 1000000000;
		}
	}
	if (seconds > 0) {
		clock_gettime(CLOCK_MONOTONIC, &end);
		end.tv_sec += (time_t)seconds;
		end.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
		if (end.tv_nsec >= 1000000000) {
			end.tv_sec++;
			end.tv_nsec -= 1000000000;
		}
	}
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = r.wake[0], .events = POLLIN },
			{ .fd = lfd, .events = POLLIN },
		};
		struct vm_reset_request req;
		int timeout = -1;

		/* A reset the guest asked for (on_guest_reset() woke us): before anything else. */
		if (!__atomic_load_n(&r.fatal_status, __ATOMIC_SEQ_CST) && !r.reset_failed &&
		    vm_reset_request(r.vm, &req)) {
			guest_reset(&r, &req);
			if (r.reset_failed)
				break;	/* no guest left to run */
		}

		if (seconds > 0) {
			struct timespec now;
			s64 ms;

			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (s64)(end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
			if (ms <= 0) {
				printf("gmf vmm: %g seconds passed, stopping\n", seconds);
				break;
			}
			timeout = ms > INT_MAX ? INT_MAX : (int)ms;
		}
		if (update_after > 0) {
			struct timespec now;
			s64 ms;

			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (s64)(update_at.tv_sec - now.tv_sec) * 1000 +
			     (update_at.tv_nsec - now.tv_nsec) / 1000000;
			if (ms <= 0) {
				update_fd = dup(vm_mem_fd(r.vm));	/* FD_CLOEXEC clear */
				if (update_fd < 0 || fcntl(update_fd, F_SETFD, 0) < 0) {
					fprintf(stderr, "gmf vmm run: live update: %s\n", strerror(errno));
					status = 1;
					break;
				}
				/* The counters are read with the guest stopped: nothing runs after. */
				vm_stop(r.vm);
				printf("gmf vmm: live update after %g seconds: memfd %d kept", update_after,
				       update_fd);
				for (int i = 0; i < vm_nr_vcpus(r.vm); i++)
					printf("; vCPU %d pass counter %" PRIu64, i, pass_counter(r.vm, i));
				printf(", re-exec\n");
				break;
			}
			if (timeout < 0 || ms < timeout)
				timeout = (int)min(ms, (s64)INT_MAX);
		}
		if (__atomic_load_n(&r.fatal_status, __ATOMIC_SEQ_CST))
			break;
		if (poll(p, 3, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "gmf vmm run: poll: %s\n", strerror(errno));
			status = 1;
			break;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				printf("gmf vmm: %s, stopping\n", strsignal((int)si.ssi_signo));
				break;
			}
		}
		if (p[1].revents & POLLIN) {
			char buf[16];

			while (read(r.wake[0], buf, sizeof(buf)) > 0)
				;	/* what woke us is looked at next round */
		}
		if (p[2].revents & POLLIN)
			serve(&r, lfd);
	}
	if (r.held_reply) {
		fprintf(r.held_reply, "reset: the VMM stopped first\nstatus 1\n");
		fclose(r.held_reply);
	}
	if (r.reset_failed && !status)
		status = 1;
	if (r.fatal_status) {
		status = r.fatal_status;
		printf("gmf vmm: the intake asked to stop: exit status %d (%s)\n", status,
		       status == RECORD_EXIT_EVICT ? "eviction" : "an AR in the VMM's own memory");
	}
	for (int i = 0; i < vm_nr_vcpus(r.vm); i++) {
		u32 reason = 0;
		enum vcpu_stop why_stop = vm_vcpu_stop_reason(vm_vcpu(r.vm, i), &reason);

		if (why_stop == VCPU_RESET && !r.reset_failed) {
			printf("gmf vmm: vCPU %d stopped for a guest reset, not done: the VMM stops\n", i);
			continue;
		}
		if (why_stop != VCPU_RUNNING && why_stop != VCPU_STOPPED) {
			printf("gmf vmm: vCPU %d stopped early (reason %d, exit %u)\n", i, (int)why_stop,
			       reason);
			if (!status)
				status = 1;
		}
	}
	if (inherit_fd >= 0) {
		printf("gmf vmm: live update: after it");
		for (int i = 0; i < vm_nr_vcpus(r.vm); i++)
			printf("; vCPU %d pass counter %" PRIu64, i, pass_counter(r.vm, i));
		printf("\n");
	}
	printf("gmf vmm: %u error%s handled\n", intake_events(r.in, NULL, 0),
	       intake_events(r.in, NULL, 0) == 1 ? "" : "s");
	fflush(stdout);
out_sock:
	if (lfd >= 0) {
		close(lfd);
		unlink(path);
	}
out_intake:
	intake_stop(r.in);
out_vm:
	vm_destroy(r.vm);
	if (r.in)
		intake_destroy(r.in);
out_rec:
	if (rec)
		record_close(rec);
out_sig:
	if (sfd >= 0)
		close(sfd);
	if (r.wake[0] >= 0) {
		close(r.wake[0]);
		close(r.wake[1]);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	vmm_model_free(model);
	if (update_fd >= 0) {
		if (!status) {
			/* The vCPUs stopped, the record closed: exec the new VMM. */
			live_update_exec(argc, argv, update_fd);
			status = 1;
		}
		close(update_fd);
	}
	return status;
}

/* ---- inject ------------------------------------------------------------------- */

/*
 * Send @req to the 'gmf vmm run' with pid @pid and copy its reply to stdout
 * (stderr when the status says it failed): the reply's status, or 1.
 */
static int ctl_request(const char *cmd, long long pid, const char *req)
{
	struct sockaddr_un sa;
	char path[sizeof(sa.sun_path)], line[512];
	int fd, status;
	FILE *f, *out;

	if (sock_path((pid_t)pid, path, sizeof(path)) || sock_addr(path, &sa)) {
		fprintf(stderr, "gmf vmm %s: the control socket's path is too long\n", cmd);
		return 1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "gmf vmm %s: no 'gmf vmm run' with pid %lld (control socket %s: %s)\n",
			cmd, pid, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		fprintf(stderr, "gmf vmm %s: %s: %s\n", cmd, path, strerror(errno));
		close(fd);
		return 1;
	}
	shutdown(fd, SHUT_WR);
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return 1;
	}
	/* The reply goes to stdout, or to stderr when the status says it failed. */
	out = tmpfile();
	status = -1;
	while (fgets(line, sizeof(line), f)) {
		int st;

		if (sscanf(line, "status %d", &st) == 1) {
			status = st;
			break;
		}
		fputs(line, out ? out : stdout);
	}
	fclose(f);
	if (out) {
		rewind(out);
		while (fgets(line, sizeof(line), out))
			fputs(line, status ? stderr : stdout);
		fclose(out);
	}
	if (status < 0) {
		fprintf(stderr, "gmf vmm %s: pid %lld closed the connection without a status\n", cmd,
			pid);
		return 1;
	}
	return status;
}

static int vmm_inject(int argc, char **argv)
{
	bool ao = false, have_gpa = false, vmm_memory = false;
	long long pid = 0;
	char line[128];
	int status;
	u64 gpa = 0, v;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (is_help(a)) {
			inject_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--ao")) {
			ao = true;
		} else if (!strcmp(a, "--vmm-memory")) {
			vmm_memory = true;
		} else if (!strcmp(a, "--pid")) {
			if (!val || !cli_parse_u64(val, &v) || v < 1 || v > INT_MAX)
				return cli_bad_flag("vmm inject", a, val, "the pid of a running 'gmf vmm run'");
			pid = (long long)v;
			i++;
		} else if (!strcmp(a, "--gpa")) {
			if (!val || !cli_parse_u64(val, &v))
				return cli_bad_flag("vmm inject", a, val, "a guest physical address (0x... or decimal)");
			gpa = v;
			have_gpa = true;
			i++;
		} else {
			fprintf(stderr, "gmf vmm inject: unknown option '%s' (see gmf vmm inject --help)\n", a);
			return 2;
		}
	}
	if (have_gpa && vmm_memory) {
		fprintf(stderr, "gmf vmm inject: --gpa and --vmm-memory exclude each other\n");
		return 2;
	}
	if (!pid || (!have_gpa && !vmm_memory)) {
		fprintf(stderr, "gmf vmm inject: %s\n", !pid ? "--pid P is required" :
			"--gpa GPA is required (or --vmm-memory)");
		return 2;
	}
	if (!kvm_present()) {
		fprintf(stderr, "gmf vmm inject: /dev/kvm is missing: no KVM on this machine (skipped)\n");
		return VMM_EXIT_SKIP;
	}
	if (vmm_memory)
		snprintf(line, sizeof(line), "inject vmm %s\n", ao ? "ao" : "ar");
	else
		snprintf(line, sizeof(line), "inject %#" PRIx64 " %s\n", gpa, ao ? "ao" : "ar");
	status = ctl_request("inject", pid, line);
	if (status && vmm_memory)
		fprintf(stderr, "gmf vmm inject: the VMM's own memory, %s: failed (status %d)\n",
			ao ? "AO" : "AR", status);
	else if (status)
		fprintf(stderr, "gmf vmm inject: gpa %#" PRIx64 " %s: failed (status %d)\n", gpa,
			ao ? "AO" : "AR", status);
	return status;
}

/* ---- reset -------------------------------------------------------------------- */

static int vmm_reset(int argc, char **argv)
{
	const char *how = NULL;
	long long pid = 0;
	char line[64];
	int status;
	u64 v;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (is_help(a)) {
			reset_usage(stdout);
			return 0;
		} else if (!strcmp(a, "--pid")) {
			if (!val || !cli_parse_u64(val, &v) || v < 1 || v > INT_MAX)
				return cli_bad_flag("vmm reset", a, val, "the pid of a running 'gmf vmm run'");
			pid = (long long)v;
			i++;
		} else if (!strcmp(a, "--from-guest")) {
			how = "cf9";
		} else if (!strncmp(a, "--from-guest=", 13)) {
			how = a + 13;
			if (strcmp(how, "cf9") && strcmp(how, "kbc") && strcmp(how, "triple-fault"))
				return cli_bad_flag("vmm reset", "--from-guest", how, "cf9, kbc or triple-fault");
		} else {
			fprintf(stderr, "gmf vmm reset: unknown option '%s' (see gmf vmm reset --help)\n", a);
			return 2;
		}
	}
	if (!pid) {
		fprintf(stderr, "gmf vmm reset: --pid P is required\n");
		return 2;
	}
	if (!kvm_present()) {
		fprintf(stderr, "gmf vmm reset: /dev/kvm is missing: no KVM on this machine (skipped)\n");
		return VMM_EXIT_SKIP;
	}
	if (how)
		snprintf(line, sizeof(line), "reset guest %s\n", how);
	else
		snprintf(line, sizeof(line), "reset\n");
	status = ctl_request("reset", pid, line);
	if (status)
		fprintf(stderr, "gmf vmm reset: pid %lld%s%s: failed (status %d)\n", pid,
			how ? ", from the guest by " : "", how ? how : "", status);
	return status;
}

int cmd_vmm(int argc, char **argv)
{
	if (argc >= 2 && is_help(argv[1])) {
		vmm_usage(stdout);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return vmm_run(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "inject"))
		return vmm_inject(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "status"))
		return vmm_status(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "reset"))
		return vmm_reset(argc - 1, argv + 1);
	if (argc >= 2)
		fprintf(stderr, "gmf vmm: unknown command '%s'\n", argv[1]);
	vmm_usage(stderr);
	return 2;
}
