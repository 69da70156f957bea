// SPDX-License-Identifier: MIT
/*
 * Tasks, thread groups, PR_MCE_KILL, signals and exit.
 *
 * Models: kernel/sys.c (prctl PR_MCE_KILL, PR_MCE_KILL_GET),
 * kernel/signal.c (send_sig_mceerr(), force_sig_mceerr(), force_sig()),
 * kernel/exit.c (do_exit, exit_mm).
 *
 * MODEL: a signal is queued at once and acted on at the next "return to
 * user" (signals_deliver()): a SIGBUS kills the thread group unless the
 * process has a handler; SIGKILL always does. Blocking and ignoring are not
 * modelled (force_sig_mceerr() would override them anyway).
 */
#include <stdio.h>
#include <string.h>

#include "mm/mm.h"

#define PR_MCE_KILL		33
#define PR_MCE_KILL_CLEAR	0
#define PR_MCE_KILL_SET		1
#define PR_MCE_KILL_LATE	0
#define PR_MCE_KILL_EARLY	1
#define PR_MCE_KILL_DEFAULT	2

struct mm_struct *mm_alloc(struct host *host);
void mmput(struct mm_struct *mm);

struct task_struct *task_create(struct host *host, const char *comm, struct task_struct *leader)
{
	struct task_struct *t = kzalloc(sizeof(*t), GFP_KERNEL);

	if (!t)
		return NULL;
	INIT_LIST_HEAD(&t->pending);
	INIT_LIST_HEAD(&t->thread_list);
	snprintf(t->comm, sizeof(t->comm), "%s", comm);
	t->pid = host->next_pid++;
	if (leader) {
		if (leader->exited) {
			kfree(t);
			return NULL;
		}
		t->group_leader = leader;
		t->tgid = leader->pid;
		t->mm = leader->mm;
		t->mm->mm_users++;
		/* clone() copies current->flags, PF_MCE_* included. */
		t->flags = leader->flags & (PF_MCE_PROCESS | PF_MCE_EARLY);
		t->sigbus_handler = leader->sigbus_handler;
		t->cgroup = leader->cgroup;
	} else {
		t->mm = mm_alloc(host);
		if (!t->mm) {
			kfree(t);
			return NULL;
		}
		t->group_leader = t;
		t->tgid = t->pid;
		/* MODEL: no parent to inherit from: a new process starts in the root. */
		t->cgroup = &host->root_cgroup;
	}
	list_add_tail(&t->thread_node, &t->group_leader->thread_list);
	list_add_tail(&t->tasks, &host->tasks);
	return t;
}

struct task_struct *find_task_by_pid(struct host *host, int pid)
{
	struct task_struct *t;

	list_for_each_entry(t, &host->tasks, tasks)
		if (t->pid == pid)
			return t;
	return NULL;
}

int task_prctl_mce_kill(struct task_struct *t, unsigned long arg2, unsigned long arg3)
{
	switch (arg2) {
	case PR_MCE_KILL_CLEAR:
		if (arg3)
			return -EINVAL;
		t->flags &= ~PF_MCE_PROCESS;
		return 0;
	case PR_MCE_KILL_SET:
		t->flags |= PF_MCE_PROCESS;
		if (arg3 == PR_MCE_KILL_EARLY)
			t->flags |= PF_MCE_EARLY;
		else if (arg3 == PR_MCE_KILL_LATE)
			t->flags &= ~PF_MCE_EARLY;
		else if (arg3 == PR_MCE_KILL_DEFAULT)
			t->flags &= ~(PF_MCE_EARLY | PF_MCE_PROCESS);
		else
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

int task_prctl_mce_kill_get(const struct task_struct *t)
{
	if (t->flags & PF_MCE_PROCESS)
		return (t->flags & PF_MCE_EARLY) ? PR_MCE_KILL_EARLY : PR_MCE_KILL_LATE;
	return PR_MCE_KILL_DEFAULT;
}

static struct host *task_host(const struct task_struct *t)
{
	return t->group_leader->mm ? t->group_leader->mm->host : NULL;
}

static int queue_signal(struct host *host, struct task_struct *t, int sig, int code,
			unsigned long addr, short lsb, bool has_addr, bool forced)
{
	struct trace_event e = { .kind = TRACE_SIGNAL, .has = TF_TASK | TF_SIGNAL | TF_CODE };
	struct kernel_siginfo *si;

	if (t->exited)
		return -ESRCH;
	/* Signal bookkeeping is the task's own sigqueue; it is not made to fail. */
	si = kzalloc(sizeof(*si), __GFP_NOFAIL);
	si->si_signo = sig;
	si->si_code = code;
	si->si_addr = addr;
	si->si_addr_lsb = lsb;
	si->forced = forced;
	list_add_tail(&si->node, &t->pending);
	t->nr_signals++;

	snprintf(e.task, sizeof(e.task), "%s", t->comm);
	e.pid = t->pid;
	e.signal = sig;
	e.code = code;
	if (has_addr) {
		e.has |= TF_ADDR | TF_LSB;
		e.addr = addr;
		e.lsb = lsb;
	}
	trace_emit(host->trace, &e);
	return 0;
}

int send_sig_mceerr(int code, unsigned long addr, short lsb, struct task_struct *t)
{
	struct host *host = task_host(t);

	if (!host)
		return -ESRCH;
	return queue_signal(host, t, SIGBUS, code, addr, lsb, true, false);
}

/* To current, which cannot block or ignore it. */
int force_sig_mceerr(struct host *host, int code, unsigned long addr, short lsb)
{
	if (!host->current)
		return -ESRCH;
	return queue_signal(host, host->current, SIGBUS, code, addr, lsb, true, true);
}

/* A plain signal to current: si_code SI_KERNEL and no address (kill_me_now). */
void force_sig(struct host *host, int sig)
{
	if (host->current)
		(void)queue_signal(host, host->current, sig, SI_KERNEL, 0, 0, false, true);
}

/* A fault-type signal with an address: SIGBUS BUS_ADRERR, SIGSEGV SEGV_MAPERR. */
int force_sig_fault(struct task_struct *t, int sig, int code, unsigned long addr)
{
	struct host *host = task_host(t);

	if (!host)
		return -ESRCH;
	return queue_signal(host, t, sig, code, addr, 0, true, true);
}

void do_send_sig_info(int sig, struct task_struct *t)
{
	struct host *host = task_host(t);

	if (host)
		(void)queue_signal(host, t, sig, sig == SIGSEGV ? SEGV_MAPERR : SI_KERNEL,
				   0, 0, false, false);
}

/* Models do_exit() of a whole thread group: its mappings go, pending signals stay recorded. */
void do_exit(struct task_struct *t, int signal)
{
	struct task_struct *leader = t->group_leader, *th;
	struct host *host = task_host(t);
	struct mm_struct *mm = leader->mm;

	if (leader->exited)
		return;
	for_each_thread(leader, th) {
		th->exited = true;
		th->flags |= PF_EXITING;
		th->exit_signal = signal;
		th->mm = NULL;
	}
	if (host && signal)
		trace_note(host->trace, "%s:%d killed by %s", leader->comm, leader->pid,
			   signal == SIGKILL ? "SIGKILL" : signal == SIGBUS ? "SIGBUS" : "a signal");
	/* Each thread held a user of the mm. */
	for_each_thread(leader, th)
		mmput(mm);
	if (host && host->current && host->current->group_leader == leader)
		host->current = NULL;
}

void signals_deliver(struct host *host)
{
	struct task_struct *t;

	list_for_each_entry(t, &host->tasks, tasks) {
		struct kernel_siginfo *si;

		list_for_each_entry(si, &t->pending, node) {
			bool fatal;

			if (si->delivered)
				continue;
			si->delivered = true;
			if (t->exited)
				continue;
			fatal = si->si_signo == SIGKILL ||
				(si->si_signo == SIGBUS && !t->sigbus_handler) ||
				(si->si_signo == SIGSEGV);
			if (fatal)
				do_exit(t, si->si_signo);
		}
	}
}
