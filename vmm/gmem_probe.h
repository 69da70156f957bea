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

struct gmem_case_result {
	const char *name;
	long ret;
	int err;	/* errno, 0 if none */
	int sig;	/* signal caught, 0 */
	int si_code;
	char note[128];
};

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
