// SPDX-License-Identifier: MIT
/*
 * Tests of vmm/gmem_probe: every guest_memfd conformance case runs on real KVM
 * and gives what the kernel documents (virt/kvm/guest_memfd.c, api.rst,
 * tools/testing/selftests/kvm/guest_memfd_test.c; kernel-semantics.md 2.3-2.6,
 * 7.1). Without /dev/kvm or guest_memfd mmap support every test skips and the
 * binary exits 77.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/types.h"
#include "tests/harness/t.h"
#include "vmm/gmem_probe.h"

#ifndef BUS_ADRERR
#define BUS_ADRERR	2
#endif

/* guest_memfd creation flags (include/uapi/linux/kvm.h) a case depends on. */
#define MMAP		(1ULL << 0)
#define INIT_SHARED	(1ULL << 1)

#define ANY_ERR		(-1)	/* any nonzero errno: the kernel documents only failure */

/*
 * What each case must give. @needs: creation flags the case depends on; when
 * this kernel does not support them, a create case must fail with EINVAL and
 * any other case cannot set up (-EINVAL from gmem_probe_run).
 */
static const struct expect {
	const char *name;
	u64 needs;
	long ret;
	int err;
	int sig;
	int si_code;
} expects[] = {
	/* 2.3: size <= 0 or not page-aligned -> EINVAL. */
	{ "create_size_0",			0, -1, EINVAL, 0, 0 },
	{ "create_size_1",			0, -1, EINVAL, 0, 0 },
	{ "create_size_4095",			0, -1, EINVAL, 0, 0 },
	{ "create_size_4097",			0, -1, EINVAL, 0, 0 },
	{ "create_size_4096",			0, 0, 0, 0, 0 },
	{ "create_size_2M",			0, 0, 0, 0, 0 },
	/* 2.3: every flag in KVM_CAP_GUEST_MEMFD_FLAGS is accepted, others EINVAL. */
	{ "create_flags_mmap",			MMAP, 0, 0, 0, 0 },
	{ "create_flags_init_shared",		INIT_SHARED, 0, 0, 0, 0 },
	{ "create_flags_mmap_init_shared",	MMAP | INIT_SHARED, 0, 0, 0, 0 },
	{ "create_flags_unknown_bit_2",		1ULL << 2, 0, 0, 0, 0 },
	{ "create_flags_unknown_bit_63",	1ULL << 63, 0, 0, 0, 0 },
	/* 2.6: mmap needs the MMAP flag (ENODEV) and MAP_SHARED (EINVAL). */
	{ "mmap_without_mmap_flag",		0, -1, ENODEV, 0, 0 },
	{ "mmap_private",			MMAP, -1, EINVAL, 0, 0 },
	{ "mmap_shared_ok",			MMAP, 0, 0, 0, 0 },
	/* 2.6: shared memory is faultable; private memory and past EOF give SIGBUS. */
	{ "user_access_shared",			MMAP | INIT_SHARED, 0x5a, 0, 0, 0 },
	{ "user_access_private",		MMAP, -1, 0, SIGBUS, BUS_ADRERR },
	{ "user_access_past_eof",		MMAP | INIT_SHARED, -1, 0, SIGBUS, BUS_ADRERR },
	/* 2.5: KEEP_SIZE required, only PUNCH_HOLE besides, page-aligned, inside i_size. */
	{ "fallocate_allocate_aligned",		0, 0, 0, 0, 0 },
	{ "fallocate_allocate_unaligned_offset", 0, -1, EINVAL, 0, 0 },
	{ "fallocate_allocate_unaligned_len",	0, -1, EINVAL, 0, 0 },
	{ "fallocate_allocate_beyond_size",	0, -1, EINVAL, 0, 0 },
	{ "fallocate_punch_aligned",		0, 0, 0, 0, 0 },
	{ "fallocate_punch_unaligned",		0, -1, EINVAL, 0, 0 },
	{ "fallocate_no_keep_size",		0, -1, EOPNOTSUPP, 0, 0 },
	{ "fallocate_zero_range",		0, -1, EOPNOTSUPP, 0, 0 },
	/* 2.5: a punched page reads back as zeros. */
	{ "punch_then_read_zero",		MMAP | INIT_SHARED, 0, 0, 0, 0 },
	/* 2.6: no read_iter/write_iter. */
	{ "read_fd",				0, -1, ANY_ERR, 0, 0 },
	{ "write_fd",				0, -1, ANY_ERR, 0, 0 },
	/* 2.4: kvm_gmem_bind and the generic memslot checks. */
	{ "bind_ok",				0, 0, 0, 0, 0 },
	{ "bind_offset_unaligned",		0, -1, EINVAL, 0, 0 },
	{ "bind_offset_beyond",			0, -1, EINVAL, 0, 0 },
	{ "bind_size_unaligned",		0, -1, EINVAL, 0, 0 },
	{ "bind_gpa_unaligned",			0, -1, EINVAL, 0, 0 },
	{ "bind_overlap_same_file",		0, -1, EINVAL, 0, 0 },
	{ "bind_gpa_overlap",			0, -1, EEXIST, 0, 0 },
	{ "bind_second_slot_ok",		0, 0, 0, 0, 0 },
	{ "bind_bad_fd",			0, -1, EINVAL, 0, 0 },
	{ "bind_closed_fd",			0, -1, EBADF, 0, 0 },
	{ "bind_other_vm",			0, -1, EINVAL, 0, 0 },
	/* 2.3 post-condition: st_size == size (st_blksize is checked below). */
	{ "fstat_size",				0, 2 * SZ_1M, 0, 0, 0 },
};

static long supported_flags;

static void require_gmem(void)
{
	static int avail = 1;	/* 1: not asked yet */
	static char why[128];

	if (avail == 1) {
		avail = gmem_probe_available(why, sizeof(why));
		if (!avail)
			supported_flags = gmem_probe_supported_flags();
	}
	if (avail)
		T_SKIP(why);
}

static const struct expect *find_expect(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(expects); i++)
		if (!strcmp(expects[i].name, name))
			return &expects[i];
	return NULL;
}

static bool is_create(const char *name)
{
	return !strncmp(name, "create_", 7);
}

/* Run every case whose name starts with @prefix and check it against its row. */
static void check_cases(const char *prefix)
{
	const char *const *names = gmem_probe_cases();
	int n = 0;

	require_gmem();
	for (; *names; names++) {
		const struct expect *e;
		struct gmem_case_result r;
		int rc;

		if (strncmp(*names, prefix, strlen(prefix)))
			continue;
		n++;
		e = find_expect(*names);
		if (!e) {
			t_fail(__FILE__, __LINE__, __func__, false, "%s: no expectation", *names);
			continue;
		}
		rc = gmem_probe_run(*names, &r);
		if (e->needs & ~(u64)supported_flags) {
			/* Flags this kernel does not offer: creation refuses them. */
			if (is_create(*names)) {
				EXPECT_EQ(rc, 0);
				EXPECT_EQ(r.ret, -1);
				EXPECT_EQ(r.err, EINVAL);
			} else {
				EXPECT_EQ(rc, -EINVAL);
			}
			continue;
		}
		if (rc)
			fprintf(stderr, "# %s: %s\n", *names, r.note);
		EXPECT_EQ(rc, 0);
		EXPECT_STREQ(r.name, *names);
		if (r.ret != e->ret || (e->err == ANY_ERR ? !r.err : r.err != e->err) ||
		    r.sig != e->sig || r.si_code != e->si_code)
			t_fail(__FILE__, __LINE__, __func__, false,
			       "%s: ret=%ld errno=%s sig=%d si_code=%d (%s), want ret=%ld errno=%s "
			       "sig=%d si_code=%d", *names, r.ret, r.err ? errno_name(r.err) : "0",
			       r.sig, r.si_code, r.note, e->ret,
			       e->err == ANY_ERR ? "any" : e->err ? errno_name(e->err) : "0",
			       e->sig, e->si_code);
	}
	EXPECT_GT(n, 0);
}

TEST(create_sizes)
{
	check_cases("create_size_");
}

TEST(create_flags)
{
	check_cases("create_flags_");
}

TEST(mmap_needs_flag_and_map_shared)
{
	check_cases("mmap_");
}

TEST(user_access_shared_ok_private_and_past_eof_sigbus)
{
	check_cases("user_access_");
}

TEST(fallocate_modes_and_alignment)
{
	check_cases("fallocate_");
}

TEST(punch_hole_reads_back_zero)
{
	check_cases("punch_then_read_zero");
}

TEST(read_write_fail)
{
	check_cases("read_fd");
	check_cases("write_fd");
}

TEST(bind_checks)
{
	check_cases("bind_");
}

TEST(fstat_size_and_blksize)
{
	struct gmem_case_result r;

	check_cases("fstat_size");
	ASSERT_OK(gmem_probe_run("fstat_size", &r));
	EXPECT_TRUE(strstr(r.note, "st_blksize=4096") != NULL);
}

/* Every case has a row here and every row a case, so neither list drifts. */
TEST(case_list_matches_expectations)
{
	const char *const *names = gmem_probe_cases();
	size_t n = 0;

	require_gmem();
	for (; names[n]; n++) {
		EXPECT_TRUE(find_expect(names[n]) != NULL);
		for (size_t j = 0; j < n; j++)
			EXPECT_TRUE(strcmp(names[j], names[n]) != 0);
	}
	EXPECT_EQ(n, ARRAY_SIZE(expects));
}

TEST(unknown_case_is_enoent)
{
	struct gmem_case_result r;

	require_gmem();
	EXPECT_ERR(gmem_probe_run("no_such_case", &r), -ENOENT);
	EXPECT_TRUE(r.name == NULL);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int count_gmem_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "[kvm-gmem]") != NULL;
	fclose(f);
	return n;
}

static bool same_action(const struct sigaction *a, const struct sigaction *b)
{
	return a->sa_sigaction == b->sa_sigaction && a->sa_flags == b->sa_flags;
}

/* A case closes its fds, unmaps its mappings and puts the signal handlers back. */
TEST(cases_release_everything)
{
	const char *const *names = gmem_probe_cases();

	require_gmem();
	for (; *names; names++) {
		struct sigaction bus0, segv0, bus1, segv1;
		int fds = count_fds(), maps = count_gmem_maps();
		struct gmem_case_result r;

		sigaction(SIGBUS, NULL, &bus0);
		sigaction(SIGSEGV, NULL, &segv0);
		(void)gmem_probe_run(*names, &r);
		sigaction(SIGBUS, NULL, &bus1);
		sigaction(SIGSEGV, NULL, &segv1);
		if (count_fds() != fds || count_gmem_maps() != maps ||
		    !same_action(&bus0, &bus1) || !same_action(&segv0, &segv1))
			t_fail(__FILE__, __LINE__, __func__, false,
			       "%s: fds %d -> %d, gmem maps %d -> %d, handlers %s", *names, fds,
			       count_fds(), maps, count_gmem_maps(),
			       same_action(&bus0, &bus1) && same_action(&segv0, &segv1) ?
			       "kept" : "changed");
	}
}

/* The command-line table: one line per case, in the documented shape. */
TEST(print_all_one_line_per_case)
{
	const char *const *names = gmem_probe_cases();
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0, n = 0;
	FILE *out;

	require_gmem();
	out = open_memstream(&buf, &len);
	ASSERT_TRUE(out != NULL);
	EXPECT_EQ(gmem_probe_print_all(out), 0);
	fclose(out);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
		char name[64], err[32];
		long ret;
		int sig, code;

		if (!names[n]) {
			t_fail(__FILE__, __LINE__, __func__, false, "extra line: %s", line);
			break;
		}
		EXPECT_EQ(sscanf(line, "%63s ret=%ld errno=%31s sig=%d si_code=%d", name, &ret, err,
				 &sig, &code), 5);
		EXPECT_STREQ(name, names[n]);
	}
	EXPECT_TRUE(names[n] == NULL);
	free(buf);
}

static const struct t_case cases[] = {
	T(create_sizes),
	T(create_flags),
	T(mmap_needs_flag_and_map_shared),
	T(user_access_shared_ok_private_and_past_eof_sigbus),
	T(fallocate_modes_and_alignment),
	T(punch_hole_reads_back_zero),
	T(read_write_fail),
	T(bind_checks),
	T(fstat_size_and_blksize),
	T(case_list_matches_expectations),
	T(unknown_case_is_enoent),
	T(cases_release_everything),
	T(print_all_one_line_per_case),
};

T_MAIN("vmm/test_gmem_probe", cases)
