/* SPDX-License-Identifier: MIT */
/*
 * guest_memfd conformance probe on real KVM: a table of named cases, each a
 * short guest_memfd uAPI sequence run on a fresh VM (KVM_X86_DEFAULT_VM), whose
 * outcome is reported as a plain record. The model runs the same names and
 * the two sets of records are compared (issue #4).
 *
 * What the fields of a record mean:
 *   ret      the result of the step under test. A call that makes a new fd
 *            gives 0 on success (the fd number is not part of the contract;
 *            it is in note); other calls give their return value; -1 when the
 *            call failed. An access through a mapping gives the byte it read
 *            back, or -1 when a signal stopped it. fstat_size gives st_size.
 *   err      errno of the failed step (positive), 0 when it succeeded.
 *   sig      the signal caught during the step (SIGBUS), 0 when none.
 *   si_code  that signal's si_code (BUS_ADRERR = 2, BUS_MCEERR_AR = 4), 0.
 *   note     parameters and details (fd, si_addr offset, st_blksize, ...).
 *
 * Not thread-safe: a case catches SIGBUS/SIGSEGV with process-wide handlers
 * for the duration of one access and restores the previous ones afterwards.
 */
#ifndef GMF_VMM_GMEM_PROBE_H
#define GMF_VMM_GMEM_PROBE_H

#include <stddef.h>
#include <stdio.h>

#include "base/types.h"

struct gmem_case_result {
	const char *name;
	long ret;
	int err;	/* errno, 0 if none */
	int sig;	/* signal caught, 0 */
	int si_code;
	char note[128];
};

/*
 * What a case does and what its parameters a, b, c, d mean. Each kind is one
 * procedure: the probe runs it on /dev/kvm with a private function of its own,
 * and a mirror of the cases (the model's side of cli/conformance.c) runs it
 * with one of its own. "A 2M gmem" is a guest_memfd of 2 MiB on a fresh VM.
 *
 *   CREATE           KVM_CREATE_GUEST_MEMFD: a = size, b = flags.
 *   MMAP             a 2M gmem with flags a, mapped whole read-write with
 *                    MAP_* flags b.
 *   ACCESS           a 2M gmem with flags a, mapped MAP_SHARED for c bytes
 *                    (may exceed the file); offset b is read, after 0x5a is
 *                    written there when d = 1.
 *   FALLOCATE        fallocate(mode a, offset b, len c) on a 2M gmem without
 *                    flags.
 *   PUNCH_THEN_READ  a shared, mapped 2M gmem: write 0xab to page 0, punch
 *                    page 0, read it back. No parameters.
 *   RW               read(2) (a = 0) or write(2) (a = 1) of 16 bytes at the
 *                    position of a 2M gmem without flags.
 *   BIND             one slot: a = gmem size, b = gpa, c = memory_size,
 *                    d = guest_memfd_offset; userspace_addr is anonymous.
 *   BIND_SECOND      a 4M gmem; slot 0 at gpa 0, 2M, offset 0 (setup), then
 *                    slot 1 at gpa b, size c, offset d.
 *   BIND_FD          slot 0 at gpa 0, 2M, offset 0, with guest_memfd the
 *                    file a names (enum gmem_bind_fd).
 *   FSTAT            fstat(2) of a 2M gmem without flags: st_size.
 */
enum gmem_case_kind {
	GMEM_CASE_CREATE,
	GMEM_CASE_MMAP,
	GMEM_CASE_ACCESS,
	GMEM_CASE_FALLOCATE,
	GMEM_CASE_PUNCH_THEN_READ,
	GMEM_CASE_RW,
	GMEM_CASE_BIND,
	GMEM_CASE_BIND_SECOND,
	GMEM_CASE_BIND_FD,
	GMEM_CASE_FSTAT,
	GMEM_CASE_NR_KINDS,
};

/* Parameter a of GMEM_CASE_BIND_FD: what is passed as guest_memfd. */
enum gmem_bind_fd {
	GMEM_BIND_DEV_NULL,	/* an open file that is not a guest_memfd */
	GMEM_BIND_CLOSED_FD,	/* a guest_memfd's fd, closed before the bind */
	GMEM_BIND_OTHER_VM,	/* a guest_memfd of another VM */
};

/* One row of the probe's table: a named case, its kind and parameters. */
struct gmem_case {
	const char *name;
	enum gmem_case_kind kind;
	u64 a, b, c, d;		/* meaning per kind, see above */
	u64 needs;		/* GUEST_MEMFD_FLAG_* it needs in KVM_CAP_GUEST_MEMFD_FLAGS */
};

/*
 * The cases, in the order they run and are reported: the one list of them.
 * gmem_probe_run() runs any of them by name.
 */
extern const struct gmem_case gmem_probe_table[];
extern const size_t gmem_probe_nr_cases;

/*
 * 0 when /dev/kvm opens, a default VM can be created, and it reports
 * KVM_CAP_GUEST_MEMFD and GUEST_MEMFD_FLAG_MMAP in KVM_CAP_GUEST_MEMFD_FLAGS.
 * Otherwise -errno (-ENODEV, -EOPNOTSUPP, or the failing call's) and @why
 * says what is missing.
 */
int gmem_probe_available(char *why, size_t len);

/*
 * KVM_CAP_GUEST_MEMFD_FLAGS of a default VM: the flags KVM_CREATE_GUEST_MEMFD
 * accepts (bit 0 MMAP, bit 1 INIT_SHARED), or -errno.
 */
long gmem_probe_supported_flags(void);

/* The case names, NULL-terminated, in table order. */
const char *const *gmem_probe_cases(void);

/*
 * Run one case and fill @r. 0 when the case ran (whatever the kernel said);
 * -ENOENT for an unknown name; -errno when a setup step (not the step under
 * test) failed, which note describes. Every fd and mapping is released.
 */
int gmem_probe_run(const char *name, struct gmem_case_result *r);

/*
 * Run every case and print one line per case:
 *   NAME ret=R errno=NAME sig=N si_code=N note
 * (errno=0 when none). Returns 0, the number of cases whose setup failed, or
 * -errno from gmem_probe_available() after printing why on one '#' line.
 */
int gmem_probe_print_all(FILE *out);

#endif
