// SPDX-License-Identifier: MIT
/*
 * guest_memfd conformance cases on real KVM (see gmem_probe.h).
 *
 * Each case opens /dev/kvm, creates what it needs, runs one uAPI step and
 * records what the kernel answered. Every fd and mapping a case makes is
 * registered in its struct probe and released when the case ends, on every
 * path, so a case cannot leak; signal handlers are installed only around one
 * access and the previous ones are put back.
 */
#define _GNU_SOURCE	/* fallocate() */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/kvm.h>

#include "base/compiler.h"
#include "base/err.h"
#include "base/types.h"
#include "vmm/gmem_probe.h"
#include "vmm/kvm_uapi.h"

#define GMEM_SIZE	(2 * SZ_1M)

/* ---- per-case resources ------------------------------------------------- */

#define PROBE_MAX_FDS	8
#define PROBE_MAX_MAPS	4

struct probe {
	struct gmem_case_result *r;
	int kvm;
	int fds[PROBE_MAX_FDS];
	int nfds;
	struct {
		void *addr;
		size_t len;
	} maps[PROBE_MAX_MAPS];
	int nmaps;
};

/* A setup step (not the step under test) failed: say which, return -err. */
static int setup_fail(struct probe *p, const char *what, int err)
{
	p->r->ret = -1;
	p->r->err = err;
	snprintf(p->r->note, sizeof(p->r->note), "setup: %s: %s", what, errno_name(err));
	return -err;
}

/* Record a syscall's outcome as the step under test. */
static void record(struct gmem_case_result *r, long rv, int err)
{
	r->ret = rv < 0 ? -1 : rv;
	r->err = rv < 0 ? err : 0;
}

static int track_fd(struct probe *p, int fd)
{
	if (fd < 0)
		return fd;
	if (p->nfds == PROBE_MAX_FDS) {
		close(fd);
		return -EMFILE;
	}
	p->fds[p->nfds++] = fd;
	return fd;
}

static void untrack_close(struct probe *p, int fd)
{
	for (int i = 0; i < p->nfds; i++) {
		if (p->fds[i] == fd) {
			p->fds[i] = p->fds[--p->nfds];
			close(fd);
			return;
		}
	}
}

static void *track_mmap(struct probe *p, size_t len, int prot, int flags, int fd, off_t off)
{
	void *addr;

	if (p->nmaps == PROBE_MAX_MAPS) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	addr = mmap(NULL, len, prot, flags, fd, off);
	if (addr != MAP_FAILED) {
		p->maps[p->nmaps].addr = addr;
		p->maps[p->nmaps].len = len;
		p->nmaps++;
	}
	return addr;
}

static void probe_release(struct probe *p)
{
	while (p->nmaps) {
		p->nmaps--;
		munmap(p->maps[p->nmaps].addr, p->maps[p->nmaps].len);
	}
	/* gmem files before their VMs is not required (a gmem holds its VM), but tidy. */
	while (p->nfds)
		close(p->fds[--p->nfds]);
	if (p->kvm >= 0)
		close(p->kvm);
	p->kvm = -1;
}

/* ---- uAPI steps ---------------------------------------------------------- */

static int open_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* KVM_CREATE_VM can fail transiently with EINTR; the selftests retry too. */
static int create_vm_raw(int kvm)
{
	int fd, tries = 0;

	do {
		fd = ioctl(kvm, KVM_CREATE_VM, KVM_X86_DEFAULT_VM);
	} while (fd < 0 && errno == EINTR && ++tries < 10);
	return fd < 0 ? -errno : fd;
}

static int new_vm(struct probe *p)
{
	int fd = create_vm_raw(p->kvm);

	if (fd < 0)
		return setup_fail(p, "KVM_CREATE_VM", -fd);
	fd = track_fd(p, fd);
	if (fd < 0)
		return setup_fail(p, "too many fds", -fd);
	return fd;
}

/* KVM_CREATE_GUEST_MEMFD: the new (tracked) fd, or -errno. */
static int gmem_create(struct probe *p, int vm, u64 size, u64 flags)
{
	struct uapi_create_guest_memfd args = { .size = size, .flags = flags };
	int fd = ioctl(vm, KVM_CREATE_GUEST_MEMFD, &args);

	if (fd < 0)
		return -errno;
	return track_fd(p, fd);
}

static int new_gmem(struct probe *p, int vm, u64 size, u64 flags)
{
	int fd = gmem_create(p, vm, size, flags);

	return fd < 0 ? setup_fail(p, "KVM_CREATE_GUEST_MEMFD", -fd) : fd;
}

/* KVM_SET_USER_MEMORY_REGION2 with KVM_MEM_GUEST_MEMFD: 0 or -errno. */
static int bind_slot(int vm, u32 slot, u64 gpa, u64 size, void *uaddr, int gmem, u64 off)
{
	struct uapi_userspace_memory_region2 region = {
		.slot = slot,
		.flags = KVM_MEM_GUEST_MEMFD,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (u64)(unsigned long)uaddr,
		.guest_memfd_offset = off,
		.guest_memfd = (u32)gmem,
	};

	return ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &region) < 0 ? -errno : 0;
}

/* ---- touching a mapping under a SIGBUS/SIGSEGV catcher ------------------- */

struct touch {
	long val;	/* byte read back, -1 when a signal stopped the access */
	int sig;
	int code;
	void *addr;
};

static sigjmp_buf touch_jmp;
static volatile sig_atomic_t touch_sig, touch_code;
static void *volatile touch_addr;

static void touch_handler(int sig, siginfo_t *si, void *uc)
{
	touch_sig = sig;
	touch_code = si->si_code;
	touch_addr = si->si_addr;
	siglongjmp(touch_jmp, 1);
}

/* Write @val at @p first when @write, then read the byte at @p back. */
static void touch(volatile u8 *p, bool write, u8 val, struct touch *t)
{
	struct sigaction sa, old_bus, old_segv;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = touch_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	t->val = -1;
	touch_sig = 0;
	touch_code = 0;
	touch_addr = NULL;
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	if (!sigsetjmp(touch_jmp, 1)) {
		long v;

		if (write)
			*p = val;
		v = *p;
		t->val = v;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	t->sig = touch_sig;
	t->code = touch_code;
	t->addr = touch_addr;
}

/* Record an access as the step under test; the note gives si_addr relative to @base. */
static void record_touch(struct gmem_case_result *r, const struct touch *t, const void *base,
			 u64 off)
{
	r->ret = t->val;
	r->err = 0;
	r->sig = t->sig;
	r->si_code = t->code;
	if (t->sig)
		snprintf(r->note, sizeof(r->note), "off=%#llx si_addr=base%+lld",
			 (unsigned long long)off,
			 (long long)((const char *)t->addr - (const char *)base));
	else
		snprintf(r->note, sizeof(r->note), "off=%#llx read=%#lx", (unsigned long long)off,
			 (unsigned long)t->val);
}

/* ---- the cases ------------------------------------------------------------ */

/*
 * One function a kind of case (enum gmem_case_kind says what a, b, c, d
 * mean), private to this file: only the table's rows are exported.
 */

/* a = size, b = flags. */
static int case_create(struct probe *p, const struct gmem_case *c)
{
	int vm = new_vm(p), fd;

	if (vm < 0)
		return vm;
	fd = gmem_create(p, vm, c->a, c->b);
	record(p->r, fd < 0 ? -1 : 0, -fd);
	snprintf(p->r->note, sizeof(p->r->note), "size=%#llx flags=%#llx fd=%d",
		 (unsigned long long)c->a, (unsigned long long)c->b, fd < 0 ? -1 : fd);
	return 0;
}

/* a = gmem flags, b = mmap flags. A 2M gmem mapped whole, read-write. */
static int case_mmap(struct probe *p, const struct gmem_case *c)
{
	int vm = new_vm(p), fd;
	void *addr;

	if (vm < 0)
		return vm;
	fd = new_gmem(p, vm, GMEM_SIZE, c->a);
	if (fd < 0)
		return fd;
	addr = track_mmap(p, GMEM_SIZE, PROT_READ | PROT_WRITE, (int)c->b, fd, 0);
	record(p->r, addr == MAP_FAILED ? -1 : 0, errno);
	snprintf(p->r->note, sizeof(p->r->note), "gmem_flags=%#llx %s",
		 (unsigned long long)c->a, c->b == MAP_SHARED ? "MAP_SHARED" : "MAP_PRIVATE");
	return 0;
}

/*
 * a = gmem flags, b = offset touched, c = mapping length (may exceed the 2M
 * file), d = 1 to write 0x5a before reading back.
 */
static int case_access(struct probe *p, const struct gmem_case *c)
{
	int vm = new_vm(p), fd;
	struct touch t;
	u8 *base;

	if (vm < 0)
		return vm;
	fd = new_gmem(p, vm, GMEM_SIZE, c->a);
	if (fd < 0)
		return fd;
	base = track_mmap(p, c->c, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return setup_fail(p, "mmap", errno);
	touch(base + c->b, c->d, 0x5a, &t);
	record_touch(p->r, &t, base, c->b);
	return 0;
}

/* a = mode, b = offset, c = len, on a 2M gmem without flags. */
static int case_fallocate(struct probe *p, const struct gmem_case *c)
{
	int vm = new_vm(p), fd, rv;

	if (vm < 0)
		return vm;
	fd = new_gmem(p, vm, GMEM_SIZE, 0);
	if (fd < 0)
		return fd;
	rv = fallocate(fd, (int)c->a, (off_t)c->b, (off_t)c->c);
	record(p->r, rv, errno);
	snprintf(p->r->note, sizeof(p->r->note), "mode=%#llx off=%#llx len=%#llx",
		 (unsigned long long)c->a, (unsigned long long)c->b, (unsigned long long)c->c);
	return 0;
}

/* Write 0xab to page 0 through the mapping, punch page 0, read it back. */
static int case_punch_then_read(struct probe *p, const struct gmem_case *c)
{
	int vm = new_vm(p), fd, rv;
	struct touch t;
	u8 *base;

	if (vm < 0)
		return vm;
	fd = new_gmem(p, vm, GMEM_SIZE, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
	if (fd < 0)
		return fd;
	base = track_mmap(p, GMEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return setup_fail(p, "mmap", errno);
	touch(base, true, 0xab, &t);
	if (t.sig || t.val != 0xab)
		return setup_fail(p, t.sig ? "write 0xab: signal" : "write 0xab: read back differs",
				  EIO);
	rv = fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, PAGE_SIZE);
	if (rv < 0) {
		record(p->r, rv, errno);
		snprintf(p->r->note, sizeof(p->r->note), "punch failed");
		return 0;
	}
	touch(base, false, 0, &t);
	record_touch(p->r, &t, base, 0);
	return 0;
}

/* a = 0 for read(2), 1 for write(2), 16 bytes at the fd's position. */
static int case_rw(struct probe *p, const struct gmem_case *c)
{
	int vm = new_vm(p), fd;
	char buf[16] = "gmemfail probe";
	ssize_t rv;

	if (vm < 0)
		return vm;
	fd = new_gmem(p, vm, GMEM_SIZE, 0);
	if (fd < 0)
		return fd;
	rv = c->a ? write(fd, buf, sizeof(buf)) : read(fd, buf, sizeof(buf));
	record(p->r, rv, errno);
	snprintf(p->r->note, sizeof(p->r->note), "%s 16 bytes", c->a ? "write" : "read");
	return 0;
}

/*
 * One slot: a = gmem size, b = gpa, c = memory_size, d = guest_memfd_offset.
 * userspace_addr is an anonymous mapping (the gmem has no MMAP flag).
 */
static int case_bind(struct probe *p, const struct gmem_case *c)
{
	int vm = new_vm(p), fd, rv;
	void *uaddr;

	if (vm < 0)
		return vm;
	fd = new_gmem(p, vm, c->a, 0);
	if (fd < 0)
		return fd;
	uaddr = track_mmap(p, ALIGN(c->c, PAGE_SIZE), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (uaddr == MAP_FAILED)
		return setup_fail(p, "mmap anon", errno);
	rv = bind_slot(vm, 0, c->b, c->c, uaddr, fd, c->d);
	record(p->r, rv, -rv);
	snprintf(p->r->note, sizeof(p->r->note), "file=%#llx gpa=%#llx size=%#llx off=%#llx",
		 (unsigned long long)c->a, (unsigned long long)c->b, (unsigned long long)c->c,
		 (unsigned long long)c->d);
	return 0;
}

/*
 * Two slots on one 4M gmem: slot 0 at gpa 0, 2M, offset 0 (setup), then
 * slot 1 at gpa b, size c, offset d (the step under test).
 */
static int case_bind_second(struct probe *p, const struct gmem_case *c)
{
	int vm = new_vm(p), fd, rv;
	u8 *uaddr;

	if (vm < 0)
		return vm;
	fd = new_gmem(p, vm, 2 * GMEM_SIZE, 0);
	if (fd < 0)
		return fd;
	uaddr = track_mmap(p, 4 * GMEM_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (uaddr == MAP_FAILED)
		return setup_fail(p, "mmap anon", errno);
	rv = bind_slot(vm, 0, 0, GMEM_SIZE, uaddr, fd, 0);
	if (rv)
		return setup_fail(p, "bind slot 0", -rv);
	rv = bind_slot(vm, 1, c->b, c->c, uaddr + 2 * GMEM_SIZE, fd, c->d);
	record(p->r, rv, -rv);
	snprintf(p->r->note, sizeof(p->r->note),
		 "slot0 gpa=0 size=%#lx off=0; slot1 gpa=%#llx size=%#llx off=%#llx",
		 GMEM_SIZE, (unsigned long long)c->b, (unsigned long long)c->c,
		 (unsigned long long)c->d);
	return 0;
}

/* a = what to pass as guest_memfd (enum gmem_bind_fd); slot 0, gpa 0, 2M, offset 0. */
static int case_bind_fd(struct probe *p, const struct gmem_case *c)
{
	int vm = new_vm(p), fd, rv;
	const char *what;
	void *uaddr;

	if (vm < 0)
		return vm;
	switch (c->a) {
	case GMEM_BIND_DEV_NULL:
		what = "/dev/null";
		fd = track_fd(p, open("/dev/null", O_RDWR | O_CLOEXEC));
		if (fd < 0)
			return setup_fail(p, "open /dev/null", errno);
		break;
	case GMEM_BIND_CLOSED_FD:
		/* A number that was an fd a moment ago and is now closed. */
		what = "closed fd";
		fd = new_gmem(p, vm, GMEM_SIZE, 0);
		if (fd < 0)
			return fd;
		untrack_close(p, fd);
		if (fcntl(fd, F_GETFD) != -1)
			return setup_fail(p, "fd reopened", EBUSY);
		break;
	default: {
		int other = new_vm(p);

		what = "gmem of another VM";
		if (other < 0)
			return other;
		fd = new_gmem(p, other, GMEM_SIZE, 0);
		if (fd < 0)
			return fd;
		break;
	}
	}
	uaddr = track_mmap(p, GMEM_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (uaddr == MAP_FAILED)
		return setup_fail(p, "mmap anon", errno);
	rv = bind_slot(vm, 0, 0, GMEM_SIZE, uaddr, fd, 0);
	record(p->r, rv, -rv);
	snprintf(p->r->note, sizeof(p->r->note), "guest_memfd=%s", what);
	return 0;
}

static int case_fstat(struct probe *p, const struct gmem_case *c)
{
	int vm = new_vm(p), fd, rv;
	struct stat st;

	if (vm < 0)
		return vm;
	fd = new_gmem(p, vm, GMEM_SIZE, 0);
	if (fd < 0)
		return fd;
	rv = fstat(fd, &st);
	if (rv < 0) {
		record(p->r, rv, errno);
		return 0;
	}
	record(p->r, (long)st.st_size, 0);
	snprintf(p->r->note, sizeof(p->r->note), "st_size=%lld st_blksize=%ld",
		 (long long)st.st_size, (long)st.st_blksize);
	return 0;
}

#define MMAP_F		GUEST_MEMFD_FLAG_MMAP
#define SHARED_F	GUEST_MEMFD_FLAG_INIT_SHARED
#define KEEP		FALLOC_FL_KEEP_SIZE
#define PUNCH		(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)
#define ZERO		FALLOC_FL_ZERO_RANGE

/*
 * The one table of cases: gmem_probe_run() runs its rows on /dev/kvm and
 * cli/conformance.c runs the same rows on the model.
 */
const struct gmem_case gmem_probe_table[] = {
	{ "create_size_0",			GMEM_CASE_CREATE, .a = 0 },
	{ "create_size_1",			GMEM_CASE_CREATE, .a = 1 },
	{ "create_size_4095",			GMEM_CASE_CREATE, .a = PAGE_SIZE - 1 },
	{ "create_size_4097",			GMEM_CASE_CREATE, .a = PAGE_SIZE + 1 },
	{ "create_size_4096",			GMEM_CASE_CREATE, .a = PAGE_SIZE },
	{ "create_size_2M",			GMEM_CASE_CREATE, .a = GMEM_SIZE },
	{ "create_flags_mmap",			GMEM_CASE_CREATE, .a = GMEM_SIZE, .b = MMAP_F,
	  .needs = MMAP_F },
	{ "create_flags_init_shared",		GMEM_CASE_CREATE, .a = GMEM_SIZE, .b = SHARED_F,
	  .needs = SHARED_F },
	{ "create_flags_mmap_init_shared",	GMEM_CASE_CREATE,
	  .a = GMEM_SIZE, .b = MMAP_F | SHARED_F, .needs = MMAP_F | SHARED_F },
	{ "create_flags_unknown_bit_2",		GMEM_CASE_CREATE, .a = GMEM_SIZE, .b = 1ULL << 2 },
	{ "create_flags_unknown_bit_63",	GMEM_CASE_CREATE, .a = GMEM_SIZE, .b = 1ULL << 63 },
	{ "mmap_without_mmap_flag",		GMEM_CASE_MMAP, .a = 0, .b = MAP_SHARED },
	{ "mmap_private",			GMEM_CASE_MMAP, .a = MMAP_F, .b = MAP_PRIVATE,
	  .needs = MMAP_F },
	{ "mmap_shared_ok",			GMEM_CASE_MMAP, .a = MMAP_F, .b = MAP_SHARED,
	  .needs = MMAP_F },
	{ "user_access_shared",			GMEM_CASE_ACCESS,
	  .a = MMAP_F | SHARED_F, .b = 3 * PAGE_SIZE, .c = GMEM_SIZE, .d = 1,
	  .needs = MMAP_F | SHARED_F },
	{ "user_access_private",		GMEM_CASE_ACCESS,
	  .a = MMAP_F, .b = 0, .c = GMEM_SIZE, .needs = MMAP_F },
	{ "user_access_past_eof",		GMEM_CASE_ACCESS,
	  .a = MMAP_F | SHARED_F, .b = GMEM_SIZE, .c = 2 * GMEM_SIZE,
	  .needs = MMAP_F | SHARED_F },
	{ "fallocate_allocate_aligned",		GMEM_CASE_FALLOCATE,
	  .a = KEEP, .b = 0, .c = GMEM_SIZE },
	{ "fallocate_allocate_unaligned_offset", GMEM_CASE_FALLOCATE,
	  .a = KEEP, .b = 1, .c = PAGE_SIZE },
	{ "fallocate_allocate_unaligned_len",	GMEM_CASE_FALLOCATE,
	  .a = KEEP, .b = 0, .c = PAGE_SIZE - 1 },
	{ "fallocate_allocate_beyond_size",	GMEM_CASE_FALLOCATE,
	  .a = KEEP, .b = GMEM_SIZE, .c = PAGE_SIZE },
	{ "fallocate_punch_aligned",		GMEM_CASE_FALLOCATE,
	  .a = PUNCH, .b = 0, .c = PAGE_SIZE },
	{ "fallocate_punch_unaligned",		GMEM_CASE_FALLOCATE,
	  .a = PUNCH, .b = 1, .c = PAGE_SIZE },
	{ "fallocate_no_keep_size",		GMEM_CASE_FALLOCATE,
	  .a = 0, .b = 0, .c = PAGE_SIZE },
	{ "fallocate_zero_range",		GMEM_CASE_FALLOCATE,
	  .a = KEEP | ZERO, .b = 0, .c = PAGE_SIZE },
	{ "punch_then_read_zero",		GMEM_CASE_PUNCH_THEN_READ,
	  .needs = MMAP_F | SHARED_F },
	{ "read_fd",				GMEM_CASE_RW, .a = 0 },
	{ "write_fd",				GMEM_CASE_RW, .a = 1 },
	{ "bind_ok",				GMEM_CASE_BIND,
	  .a = GMEM_SIZE, .b = 0, .c = GMEM_SIZE, .d = 0 },
	{ "bind_offset_unaligned",		GMEM_CASE_BIND,
	  .a = 2 * GMEM_SIZE, .b = 0, .c = GMEM_SIZE, .d = PAGE_SIZE - 1 },
	{ "bind_offset_beyond",			GMEM_CASE_BIND,
	  .a = GMEM_SIZE, .b = 0, .c = GMEM_SIZE, .d = PAGE_SIZE },
	{ "bind_size_unaligned",		GMEM_CASE_BIND,
	  .a = GMEM_SIZE, .b = 0, .c = PAGE_SIZE + 1, .d = 0 },
	{ "bind_gpa_unaligned",			GMEM_CASE_BIND,
	  .a = GMEM_SIZE, .b = PAGE_SIZE - 1, .c = GMEM_SIZE, .d = 0 },
	{ "bind_overlap_same_file",		GMEM_CASE_BIND_SECOND,
	  .b = 2 * GMEM_SIZE, .c = GMEM_SIZE, .d = SZ_1M },
	{ "bind_gpa_overlap",			GMEM_CASE_BIND_SECOND,
	  .b = SZ_1M, .c = GMEM_SIZE, .d = GMEM_SIZE },
	/* The control of the two above: same file, disjoint GPAs and offsets. */
	{ "bind_second_slot_ok",		GMEM_CASE_BIND_SECOND,
	  .b = 2 * GMEM_SIZE, .c = GMEM_SIZE, .d = GMEM_SIZE },
	{ "bind_bad_fd",			GMEM_CASE_BIND_FD, .a = GMEM_BIND_DEV_NULL },
	{ "bind_closed_fd",			GMEM_CASE_BIND_FD, .a = GMEM_BIND_CLOSED_FD },
	{ "bind_other_vm",			GMEM_CASE_BIND_FD, .a = GMEM_BIND_OTHER_VM },
	{ "fstat_size",				GMEM_CASE_FSTAT, .a = 0 },
};

const size_t gmem_probe_nr_cases = ARRAY_SIZE(gmem_probe_table);

static int (*const case_fns[GMEM_CASE_NR_KINDS])(struct probe *p, const struct gmem_case *c) = {
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

/* ---- entry points ------------------------------------------------------------ */

const char *const *gmem_probe_cases(void)
{
	static const char *names[ARRAY_SIZE(gmem_probe_table) + 1];

	if (!names[0])
		for (size_t i = 0; i < ARRAY_SIZE(gmem_probe_table); i++)
			names[i] = gmem_probe_table[i].name;
	return names;
}

static __printf(4, 5) int say(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -err;
}

int gmem_probe_available(char *why, size_t len)
{
	int kvm, vm, ret = 0;
	long v;

	kvm = open_kvm();
	if (kvm < 0)
		return say(why, len, -kvm, "cannot open /dev/kvm: %s", errno_name(kvm));
	v = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		close(kvm);
		return say(why, len, ENODEV, "KVM_GET_API_VERSION is %ld, not %d", v,
			   KVM_API_VERSION);
	}
	vm = create_vm_raw(kvm);
	if (vm < 0) {
		close(kvm);
		return say(why, len, -vm, "KVM_CREATE_VM(KVM_X86_DEFAULT_VM): %s", errno_name(vm));
	}
	if (ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY2) <= 0)
		ret = say(why, len, EOPNOTSUPP, "no KVM_CAP_USER_MEMORY2");
	else if (ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD) <= 0)
		ret = say(why, len, EOPNOTSUPP, "no KVM_CAP_GUEST_MEMFD");
	else if (v = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS),
		 v < 0 || !(v & GUEST_MEMFD_FLAG_MMAP))
		ret = say(why, len, EOPNOTSUPP,
			  "GUEST_MEMFD_FLAG_MMAP not in KVM_CAP_GUEST_MEMFD_FLAGS (%#lx)", v);
	close(vm);
	close(kvm);
	return ret;
}

long gmem_probe_supported_flags(void)
{
	int kvm = open_kvm(), vm;
	long v;

	if (kvm < 0)
		return kvm;
	vm = create_vm_raw(kvm);
	if (vm < 0) {
		close(kvm);
		return vm;
	}
	v = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_GUEST_MEMFD_FLAGS);
	if (v < 0)
		v = -errno;
	close(vm);
	close(kvm);
	return v;
}

int gmem_probe_run(const char *name, struct gmem_case_result *r)
{
	const struct gmem_case *c = NULL;
	struct probe p = { .r = r, .kvm = -1 };
	int ret;

	for (size_t i = 0; i < ARRAY_SIZE(gmem_probe_table); i++)
		if (!strcmp(gmem_probe_table[i].name, name))
			c = &gmem_probe_table[i];
	memset(r, 0, sizeof(*r));
	if (!c) {
		r->name = NULL;
		return -ENOENT;
	}
	r->name = c->name;
	p.kvm = open_kvm();
	if (p.kvm < 0)
		return setup_fail(&p, "open /dev/kvm", -p.kvm);
	ret = case_fns[c->kind](&p, c);
	probe_release(&p);
	return ret;
}

int gmem_probe_print_all(FILE *out)
{
	const char *const *names = gmem_probe_cases();
	struct gmem_case_result r;
	int failed = 0, ret;
	char why[128];

	ret = gmem_probe_available(why, sizeof(why));
	if (ret) {
		fprintf(out, "# gmem_probe: unavailable: %s\n", why);
		return ret;
	}
	for (; *names; names++) {
		if (gmem_probe_run(*names, &r))
			failed++;
		fprintf(out, "%s ret=%ld errno=%s sig=%d si_code=%d %s\n", *names, r.ret,
			r.err ? errno_name(r.err) : "0", r.sig, r.si_code, r.note);
	}
	return failed;
}
