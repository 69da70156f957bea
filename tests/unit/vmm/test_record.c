// SPDX-License-Identifier: MIT
/*
 * Tests of vmm/record: the poison record (round trip, duplicates, refused
 * files), the JSON Lines event log (parsed back, exact keys), the eviction
 * threshold, a crash loop (a child adding records is killed with SIGKILL at
 * random moments; every acknowledged gpa must be in the record and the
 * database intact) and the intake's hook on real KVM (skipped without
 * /dev/kvm). Files go to a fresh directory under $TMPDIR (or /tmp).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/alloc.h"
#include "base/prng.h"
#include "base/types.h"
#include "tests/harness/t.h"
#include "vmm/guest/layout.h"
#include "vmm/intake.h"
#include "vmm/record.h"
#include "vmm/vm.h"

#define NS	1000000000LL

static char dir[256];

static void rm_dir(void)
{
	rmdir(dir);	/* empty unless a test failed: then its files are kept */
}

static void path_of(char *buf, size_t len, const char *name)
{
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");

		snprintf(dir, sizeof(dir), "%s/gmf-record-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir))
			t_fail(__FILE__, __LINE__, __func__, true, "mkdtemp %s: %s", dir,
			       strerror(errno));
		atexit(rm_dir);
	}
	snprintf(buf, len, "%s/%s", dir, name);
}

static void remove_db(const char *path)
{
	char p[320];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-journal", path);
	unlink(p);
}

/* A fresh database path named @name. */
static void fresh(char *buf, size_t len, const char *name)
{
	path_of(buf, len, name);
	remove_db(buf);
}

static struct record_error err_at(u64 gpa, enum record_kind kind, s64 t)
{
	struct record_error e = {
		.time_ns = t,
		.gpa = gpa,
		.offset = gpa + 0x100000,
		.kind = kind,
		.action = "injected",
		.recipient = RECORD_TO_GUEST,
		.mf_action = RECORD_MF_INJECT,
		.action_required = kind != RECORD_AO,
	};

	return e;
}

static size_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	return (size_t)n;
}

TEST(round_trip)
{
	static const struct { u64 gpa; enum record_kind kind; } in[] = {
		{ 0x7000, RECORD_MEMORY_FAULT }, { 0x1000, RECORD_AR }, { 0x3000, RECORD_AO },
	};
	struct record_page *pages;
	struct record *r;
	char path[320], err[256];
	size_t nr;

	fresh(path, sizeof(path), "round.db");
	ASSERT_OK(record_open(path, NULL, &r, err, sizeof(err)));
	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		struct record_error e = err_at(in[i].gpa + 0x123, in[i].kind, (s64)(i + 1) * NS);

		ASSERT_OK(record_add(r, &e, NULL));
	}
	record_close(r);

	ASSERT_OK(record_open(path, NULL, &r, err, sizeof(err)));
	ASSERT_OK(record_load(r, &pages, &nr));
	ASSERT_EQ(nr, 3);
	/* By gpa, page-aligned. */
	EXPECT_EQ(pages[0].gpa, 0x1000);
	EXPECT_EQ(pages[0].kind, RECORD_AR);
	EXPECT_EQ(pages[0].offset, 0x101000);
	EXPECT_EQ(pages[0].first_ns, 2 * NS);
	EXPECT_EQ(pages[1].gpa, 0x3000);
	EXPECT_EQ(pages[1].kind, RECORD_AO);
	EXPECT_EQ(pages[2].gpa, 0x7000);
	EXPECT_EQ(pages[2].kind, RECORD_MEMORY_FAULT);
	EXPECT_EQ(pages[2].first_ns, 1 * NS);
	for (size_t i = 0; i < nr; i++) {
		EXPECT_EQ(pages[i].count, 1);
		EXPECT_STREQ(pages[i].action, "injected");
	}
	ASSERT_OK(record_check(r, err, sizeof(err)));
	EXPECT_STREQ(err, "ok");
	kfree(pages);
	record_close(r);
	remove_db(path);
}

TEST(duplicate_gpa)
{
	struct record_error e = err_at(0x5000, RECORD_AO, 10 * NS);
	struct record_page *pages;
	struct record *r;
	char path[320];
	size_t nr;

	fresh(path, sizeof(path), "dup.db");
	ASSERT_OK(record_open(path, NULL, &r, NULL, 0));
	ASSERT_OK(record_add(r, &e, NULL));
	e.gpa = 0x5ff8;		/* the same page */
	e.time_ns = 11 * NS;
	e.action = "duplicate";
	ASSERT_OK(record_add(r, &e, NULL));
	ASSERT_OK(record_load(r, &pages, &nr));
	ASSERT_EQ(nr, 1);
	EXPECT_EQ(pages[0].gpa, 0x5000);
	EXPECT_EQ(pages[0].count, 2);
	EXPECT_EQ(pages[0].first_ns, 10 * NS);
	EXPECT_EQ(pages[0].last_ns, 11 * NS);
	EXPECT_STREQ(pages[0].action, "duplicate");
	kfree(pages);
	record_close(r);
	remove_db(path);
}

/* Bad files are refused with the file's name and what was expected, untouched. */
enum bad { BAD_GARBAGE, BAD_VERSION, BAD_FOREIGN };

static void make_bad(const char *path, enum bad how)
{
	sqlite3 *db;
	int fd;

	if (how == BAD_GARBAGE) {
		char junk[4096];

		memset(junk, 'x', sizeof(junk));
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(write(fd, junk, sizeof(junk)), sizeof(junk));
		close(fd);
		return;
	}
	ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL, NULL,
			       NULL), SQLITE_OK);
	if (how == BAD_VERSION)
		ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
			  SQLITE_OK);
	sqlite3_close(db);
}

TEST(bad_files)
{
	static const struct {
		enum bad how;
		int ret;
		const char *msg;
	} cases[] = {
		{ BAD_GARBAGE, -EINVAL, "not a SQLite database" },
		{ BAD_VERSION, -EOPNOTSUPP, "schema version 99: expected version 2 (or 1, upgraded on open)" },
		{ BAD_FOREIGN, -EINVAL, "expected a gmemfail poison record" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		static char before[65536], after[65536];
		struct record *r = NULL;
		char path[320], err[512];
		size_t n1, n2;

		fresh(path, sizeof(path), "bad.db");
		make_bad(path, cases[i].how);
		n1 = read_file(path, before, sizeof(before));
		EXPECT_ERR(record_open(path, NULL, &r, err, sizeof(err)), cases[i].ret);
		printf("# %s\n", err);
		EXPECT_TRUE(r == NULL);
		EXPECT_TRUE(strstr(err, path) != NULL);
		EXPECT_TRUE(strstr(err, cases[i].msg) != NULL);
		n2 = read_file(path, after, sizeof(after));
		EXPECT_EQ(n1, n2);
		EXPECT_TRUE(n1 == n2 && !memcmp(before, after, n1));
		remove_db(path);
	}
}

/* ---- a tiny JSON checker: one object per line, flat but for one nested object -- */

struct kv {
	char key[32];
	char val[96];		/* strings unquoted, objects as their raw text */
};

static const char *skip_ws(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

static const char *parse_string(const char *p, char *out, size_t len)
{
	size_t n = 0;

	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		if (*p == '\\' || (unsigned char)*p < 0x20)
			return NULL;	/* we never emit escapes */
		if (n + 1 < len)
			out[n++] = *p;
		p++;
	}
	out[n] = 0;
	return *p == '"' ? p + 1 : NULL;
}

/* Parse an object at @p into @kv (up to @max); returns the end or NULL. */
static const char *parse_object(const char *p, struct kv *kv, size_t max, size_t *nr)
{
	*nr = 0;
	if (*p++ != '{')
		return NULL;
	p = skip_ws(p);
	if (*p == '}')
		return p + 1;
	for (;;) {
		struct kv dummy, *e = *nr < max ? &kv[*nr] : &dummy;
		const char *start;

		p = parse_string(skip_ws(p), e->key, sizeof(e->key));
		if (!p || *(p = skip_ws(p)) != ':')
			return NULL;
		p = skip_ws(p + 1);
		start = p;
		if (*p == '"') {
			p = parse_string(p, e->val, sizeof(e->val));
		} else if (*p == '{') {
			struct kv sub[8];
			size_t nsub;

			p = parse_object(p, sub, ARRAY_SIZE(sub), &nsub);
			if (p)
				snprintf(e->val, sizeof(e->val), "%.*s", (int)(p - start), start);
		} else if (!strncmp(p, "true", 4) || !strncmp(p, "false", 5)) {
			p += *p == 't' ? 4 : 5;
			snprintf(e->val, sizeof(e->val), "%.*s", (int)(p - start), start);
		} else if (*p == '-' || (*p >= '0' && *p <= '9')) {
			p++;
			while (*p >= '0' && *p <= '9')
				p++;
			snprintf(e->val, sizeof(e->val), "%.*s", (int)(p - start), start);
		} else {
			return NULL;
		}
		if (!p)
			return NULL;
		(*nr)++;
		p = skip_ws(p);
		if (*p == '}')
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

/* Check @line is one object with exactly @keys (comma-separated, in order). */
static void check_line(const char *line, const char *keys, struct kv *kv, size_t max,
		       size_t *nr)
{
	char got[512] = "";
	const char *end = parse_object(line, kv, max, nr);

	ASSERT_TRUE(end != NULL);
	EXPECT_STREQ(end, "");
	for (size_t i = 0; i < *nr && i < max; i++) {
		if (i)
			strcat(got, ",");
		strcat(got, kv[i].key);
	}
	EXPECT_STREQ(got, keys);
}

static const char *val(const struct kv *kv, size_t nr, const char *key)
{
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(kv[i].key, key))
			return kv[i].val;
	return NULL;
}

#define MF_KEYS	"event,time_ns,recipient,action,flags,gpa,offset,kind,vmm_action,count"
#define EV_KEYS	"event,time_ns,action,pages,threshold,window_s,exit_status"

/* Split @buf into lines in place. */
static size_t split_lines(char *buf, char **lines, size_t max)
{
	size_t n = 0;

	for (char *p = buf; *p && n < max;) {
		char *nl = strchr(p, '\n');

		if (!nl)
			break;		/* every line ends with a newline */
		*nl = 0;
		lines[n++] = p;
		p = nl + 1;
	}
	return n;
}

TEST(json_lines)
{
	struct record_config cfg = { .log_fd = -1 };
	struct record_error e = err_at(0x4321, RECORD_AR, 1700000000LL * NS + 5);
	struct record *r;
	char path[320], logp[320], buf[4096], *lines[8];
	struct kv kv[16];
	size_t nr, n;

	fresh(path, sizeof(path), "json.db");
	path_of(logp, sizeof(logp), "json.log");
	unlink(logp);
	cfg.log_path = logp;
	ASSERT_OK(record_open(path, &cfg, &r, NULL, 0));
	ASSERT_OK(record_add(r, &e, NULL));
	e.recursive = true;
	ASSERT_OK(record_add(r, &e, NULL));
	e = err_at(0x7f0000001000ULL, RECORD_AR, 0);
	e.recipient = RECORD_TO_HYPERVISOR;
	e.mf_action = RECORD_MF_FATAL;
	e.action = "fatal";
	ASSERT_OK(record_event(r, &e));
	record_close(r);

	read_file(logp, buf, sizeof(buf));
	n = split_lines(buf, lines, ARRAY_SIZE(lines));
	ASSERT_EQ(n, 3);
	check_line(lines[0], MF_KEYS, kv, ARRAY_SIZE(kv), &nr);
	EXPECT_STREQ(val(kv, nr, "event"), "MEMORY_FAILURE");
	EXPECT_STREQ(val(kv, nr, "time_ns"), "1700000000000000005");
	EXPECT_STREQ(val(kv, nr, "recipient"), "guest");
	EXPECT_STREQ(val(kv, nr, "action"), "inject");
	EXPECT_STREQ(val(kv, nr, "flags"), "{\"action-required\":true,\"recursive\":false}");
	EXPECT_STREQ(val(kv, nr, "gpa"), "0x4000");
	EXPECT_STREQ(val(kv, nr, "offset"), "0x104000");
	EXPECT_STREQ(val(kv, nr, "kind"), "AR");
	EXPECT_STREQ(val(kv, nr, "vmm_action"), "injected");
	EXPECT_STREQ(val(kv, nr, "count"), "1");
	check_line(lines[1], MF_KEYS, kv, ARRAY_SIZE(kv), &nr);
	EXPECT_STREQ(val(kv, nr, "flags"), "{\"action-required\":true,\"recursive\":true}");
	EXPECT_STREQ(val(kv, nr, "count"), "2");
	check_line(lines[2], MF_KEYS, kv, ARRAY_SIZE(kv), &nr);
	EXPECT_STREQ(val(kv, nr, "recipient"), "hypervisor");
	EXPECT_STREQ(val(kv, nr, "action"), "fatal");
	EXPECT_STREQ(val(kv, nr, "gpa"), "0x7f0000001000");
	EXPECT_STREQ(val(kv, nr, "count"), "0");
	remove_db(path);
	unlink(logp);
}

/* N distinct pages within W seconds evict, once; spread out or repeated, not. */
TEST(threshold)
{
	static const struct {
		const char *name;
		u64 gpa[4];
		s64 t[4];
		int evict_at;	/* index of the add that evicts, or -1 */
	} cases[] = {
		{ "within", { 0x1000, 0x2000, 0x3000, 0x4000 }, { 0, 1, 2, 3 }, 2 },
		{ "outside", { 0x1000, 0x2000, 0x3000, 0x4000 }, { 0, 11, 22, 33 }, -1 },
		{ "edge", { 0x1000, 0x2000, 0x3000, 0x4000 }, { 0, 5, 10, 11 }, 2 },
		{ "same page", { 0x1000, 0x1000, 0x1000, 0x2000 }, { 0, 1, 2, 3 }, -1 },
	};

	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		struct record_config cfg = {
			.log_fd = -1, .evict_pages = 3, .evict_window_s = 10,
		};
		struct record *r;
		char path[320], logp[320], buf[8192], *lines[8];
		struct kv kv[16];
		size_t n, nr;

		printf("# %s\n", cases[c].name);
		fresh(path, sizeof(path), "thr.db");
		path_of(logp, sizeof(logp), "thr.log");
		unlink(logp);
		cfg.log_path = logp;
		ASSERT_OK(record_open(path, &cfg, &r, NULL, 0));
		for (int i = 0; i < 4; i++) {
			struct record_error e = err_at(cases[c].gpa[i], RECORD_AR,
						       (1000 + cases[c].t[i]) * NS);
			bool evict = true;

			ASSERT_OK(record_add(r, &e, &evict));
			EXPECT_EQ(evict, i == cases[c].evict_at);
		}
		EXPECT_EQ(record_evicting(r), cases[c].evict_at >= 0);
		record_close(r);
		read_file(logp, buf, sizeof(buf));
		n = split_lines(buf, lines, ARRAY_SIZE(lines));
		ASSERT_EQ(n, cases[c].evict_at >= 0 ? 5 : 4);
		if (cases[c].evict_at >= 0) {
			check_line(lines[cases[c].evict_at + 1], EV_KEYS, kv, ARRAY_SIZE(kv), &nr);
			EXPECT_STREQ(val(kv, nr, "event"), "EVICT");
			EXPECT_STREQ(val(kv, nr, "action"), "evict");
			EXPECT_STREQ(val(kv, nr, "pages"), "3");
			EXPECT_STREQ(val(kv, nr, "exit_status"), "75");
		}
		remove_db(path);
		unlink(logp);
	}
}

/* ---- crash loop ------------------------------------------------------------------ */

#define CRASH_ROUNDS	24
#define CRASH_MAX_ACK	65536

/* The child: add pages forever, writing each acknowledged gpa to @fd. */
static void __noreturn crash_child(const char *path, int fd, unsigned int round)
{
	struct record *r;
	u64 i = 0;

	if (record_open(path, NULL, &r, NULL, 0))
		_exit(2);
	for (;;) {
		/* Every fourth error repeats a page of an earlier round. */
		u64 gpa = i % 4 == 3 ? ((i * 7) % (round * 64 + 1)) << 12 :
				       ((u64)round << 32) + (i << 12);
		struct record_error e = err_at(gpa, RECORD_AR, 0);

		if (record_add(r, &e, NULL))
			_exit(3);
		if (write(fd, &gpa, sizeof(gpa)) != sizeof(gpa))
			_exit(4);
		i++;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static s64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (s64)ts.tv_sec * NS + ts.tv_nsec;
}

/* Read acknowledged gpas from @fd until @deadline (monotonic ns) or EOF. */
static void drain(int fd, u64 *acked, size_t *nr, s64 deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		s64 left = deadline - mono_ns();
		u64 gpa;
		ssize_t n;

		if (deadline && left <= 0)
			return;
		if (poll(&pfd, 1, deadline ? (int)(left / 1000000) + 1 : -1) <= 0)
			return;
		n = read(fd, &gpa, sizeof(gpa));
		if (n <= 0)
			return;
		if (n == sizeof(gpa) && *nr < CRASH_MAX_ACK)
			acked[(*nr)++] = gpa;
	}
}

TEST(crash_loop)
{
	struct prng rng;
	char path[320], msg[256];
	u64 *acked;
	size_t nr_acked = 0, total = 0;

	prng_seed(&rng, t_seed());
	printf("# seed %llu\n", t_seed());
	acked = kcalloc(CRASH_MAX_ACK, sizeof(*acked), GFP_KERNEL);
	ASSERT_TRUE(acked != NULL);
	fresh(path, sizeof(path), "crash.db");
	for (unsigned int round = 1; round <= CRASH_ROUNDS; round++) {
		struct record_page *pages;
		struct record *r;
		int fds[2], status;
		size_t nr, j = 0;
		s64 delay;
		pid_t pid;

		ASSERT_EQ(pipe(fds), 0);
		fflush(NULL);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(path, fds[1], round);
		}
		close(fds[1]);
		/* Anywhere from during record_open() to a few dozen commits in. */
		delay = (s64)prng_below(&rng, 40000) * 1000;
		drain(fds[0], acked, &nr_acked, mono_ns() + delay);
		kill(pid, SIGKILL);
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		drain(fds[0], acked, &nr_acked, 0);	/* to EOF */
		close(fds[0]);

		ASSERT_OK(record_open(path, NULL, &r, msg, sizeof(msg)));
		ASSERT_OK(record_check(r, msg, sizeof(msg)));
		ASSERT_OK(record_load(r, &pages, &nr));
		qsort(acked, nr_acked, sizeof(*acked), cmp_u64);
		/* pages are sorted by gpa: one merge pass. */
		for (size_t i = 0; i < nr_acked; i++) {
			while (j < nr && pages[j].gpa < acked[i])
				j++;
			if (j == nr || pages[j].gpa != acked[i]) {
				t_fail(__FILE__, __LINE__, __func__, false,
				       "round %u: acknowledged gpa %#llx not in the record", round,
				       (unsigned long long)acked[i]);
				break;
			}
		}
		total = nr;
		kfree(pages);
		record_close(r);
	}
	printf("# %u kills, %zu acknowledged, %zu pages recorded\n", CRASH_ROUNDS, nr_acked,
	       total);
	EXPECT_GT(nr_acked, 0);
	kfree(acked);
	remove_db(path);
}

/* ---- the intake's hook (real KVM) -------------------------------------------------- */

static struct {
	int status;
} fatal_cap;

static void cap_fatal(void *arg, int status)
{
	__atomic_store_n(&fatal_cap.status, status, __ATOMIC_SEQ_CST);
}

static void quiet_log(void *arg, const char *line)
{
	printf("# %s\n", line);
}

TEST(intake_records)
{
	struct vm_config cfg = { .mem = VMM_MEM_AUTO, .nr_vcpus = 1 };
	struct record_config rcfg = { .log_fd = -1, .evict_pages = 2, .evict_window_s = 60 };
	struct intake_event evs[4];
	struct vmm_mce_report rep;
	struct record_page *pages;
	struct intake_config icfg = { .log_fn = quiet_log, .fatal = cap_fatal };
	struct intake *in;
	struct record *r;
	struct vm *vm;
	char path[320], why[160] = "";
	u64 gpa = GUEST_DATA_GPA + 0xc000;
	size_t nr;
	int ret;

	fresh(path, sizeof(path), "intake.db");
	ret = vm_create(&cfg, &vm, why, sizeof(why));
	if (ret == -ENODEV || ret == -ENOENT || ret == -EACCES)
		T_SKIP(why);
	ASSERT_OK(ret);
	ASSERT_OK(record_open(path, &rcfg, &r, NULL, 0));
	icfg.record = r;
	fatal_cap.status = 0;
	ASSERT_OK(intake_start(vm, &icfg, &in));
	ASSERT_OK(vm_start(vm));
	ASSERT_OK(vm_wait_progress(vm_vcpu(vm, 0), 2, 10000));
	ASSERT_OK(intake_post_memory_fault(in, 0, 0, gpa, 0x1000));
	ASSERT_OK(intake_wait_events(in, 1, 10000));
	ASSERT_OK(vm_wait_mce_report(vm_vcpu(vm, 0), 0, &rep, 10000));
	ASSERT_OK(intake_post_memory_fault(in, 0, 0, gpa + 0x1000, 0x1000));
	ASSERT_OK(intake_wait_events(in, 2, 10000));
	ASSERT_EQ(intake_events(in, evs, ARRAY_SIZE(evs)), 2);
	intake_stop(in);
	vm_destroy(vm);
	intake_destroy(in);
	EXPECT_EQ(evs[0].record_ret, 0);
	EXPECT_FALSE(evs[0].evict);
	EXPECT_FALSE(evs[1].recursive);
	EXPECT_TRUE(evs[1].evict);
	EXPECT_EQ(fatal_cap.status, RECORD_EXIT_EVICT);
	record_close(r);

	/* What a restarted VMM would fence again. */
	ASSERT_OK(record_open(path, NULL, &r, NULL, 0));
	ASSERT_OK(record_load(r, &pages, &nr));
	ASSERT_EQ(nr, 2);
	EXPECT_EQ(pages[0].gpa, gpa);
	EXPECT_EQ(pages[0].kind, RECORD_MEMORY_FAULT);
	EXPECT_STREQ(pages[0].action, "injected");
	EXPECT_EQ(pages[1].gpa, gpa + 0x1000);
	kfree(pages);
	record_close(r);
	remove_db(path);
}

/*
 * Repair at a guest reset: the row is marked repaired and kept with its
 * history, a REPAIR event is logged; a new error on the page makes it
 * poisoned again (count goes on); a page with no row is -ENOENT; a page
 * repaired twice without an error between is -ENOENT the second time.
 */
TEST(repair)
{
	struct record_config cfg = { .log_fd = -1 };
	struct record_error e = err_at(0x9000, RECORD_AR, 10 * NS);
	struct record_page *pages;
	struct record *r;
	char path[320], logp[320], buf[2048], *lines[8];
	struct kv kv[12];
	size_t nr, nl, nkv;
	s64 t;

	fresh(path, sizeof(path), "repair.db");
	path_of(logp, sizeof(logp), "repair.jsonl");
	unlink(logp);
	cfg.log_path = logp;
	ASSERT_OK(record_open(path, &cfg, &r, NULL, 0));
	ASSERT_OK(record_add(r, &e, NULL));
	ASSERT_OK(record_load(r, &pages, &nr));
	ASSERT_EQ(nr, 1);
	EXPECT_FALSE(pages[0].repaired);
	EXPECT_EQ(pages[0].repairs, 0);
	EXPECT_EQ(pages[0].repaired_ns, 0);
	kfree(pages);

	ASSERT_OK(record_repair(r, 0x9abc, 0x109abc, 20 * NS));
	ASSERT_OK(record_load(r, &pages, &nr));
	ASSERT_EQ(nr, 1);
	EXPECT_TRUE(pages[0].repaired);
	EXPECT_EQ(pages[0].repairs, 1);
	EXPECT_EQ(pages[0].repaired_ns, 20 * NS);
	EXPECT_EQ(pages[0].count, 1);			/* the history stays */
	EXPECT_EQ(pages[0].first_ns, 10 * NS);
	EXPECT_STREQ(pages[0].action, "injected");
	kfree(pages);
	EXPECT_ERR(record_repair(r, 0x9000, 0x109000, 21 * NS), -ENOENT);
	EXPECT_ERR(record_repair(r, 0x1000, 0x101000, 21 * NS), -ENOENT);

	e.time_ns = 30 * NS;
	e.kind = RECORD_AO;
	ASSERT_OK(record_add(r, &e, NULL));
	ASSERT_OK(record_load(r, &pages, &nr));
	ASSERT_EQ(nr, 1);
	EXPECT_FALSE(pages[0].repaired);
	EXPECT_EQ(pages[0].repairs, 1);
	EXPECT_EQ(pages[0].count, 2);
	EXPECT_EQ(pages[0].kind, RECORD_AR);		/* of the first sighting */
	EXPECT_EQ(pages[0].last_ns, 30 * NS);
	kfree(pages);
	ASSERT_OK(record_repair(r, 0x9000, 0x109000, 40 * NS));
	record_close(r);

	read_file(logp, buf, sizeof(buf));
	nl = split_lines(buf, lines, ARRAY_SIZE(lines));
	ASSERT_EQ(nl, 4);
	check_line(lines[1], "event,time_ns,action,gpa,offset,repairs", kv, ARRAY_SIZE(kv), &nkv);
	EXPECT_STREQ(val(kv, nkv, "event"), "REPAIR");
	EXPECT_STREQ(val(kv, nkv, "action"), "punch-hole");
	EXPECT_STREQ(val(kv, nkv, "gpa"), "0x9000");
	EXPECT_STREQ(val(kv, nkv, "offset"), "0x109000");
	EXPECT_STREQ(val(kv, nkv, "repairs"), "1");
	t = strtoll(val(kv, nkv, "time_ns") ?: "0", NULL, 10);
	EXPECT_EQ(t, 20 * NS);
	check_line(lines[3], "event,time_ns,action,gpa,offset,repairs", kv, ARRAY_SIZE(kv), &nkv);
	EXPECT_STREQ(val(kv, nkv, "repairs"), "2");
	unlink(logp);
	remove_db(path);
}

/*
 * A version 1 record (before repair existed), written as version 1 wrote it:
 * opened, it is upgraded to version 2 in place, every row reads back as it
 * was and poisoned, and it takes repairs; integrity ok.
 */
TEST(upgrade_v1)
{
	static const char *const v1 =
		"PRAGMA journal_mode=WAL;"
		"CREATE TABLE poison (gpa INTEGER NOT NULL UNIQUE, offset INTEGER NOT NULL,"
		" kind TEXT NOT NULL, action TEXT NOT NULL, first_ns INTEGER NOT NULL,"
		" last_ns INTEGER NOT NULL, count INTEGER NOT NULL);"
		"CREATE INDEX poison_first ON poison(first_ns);"
		"INSERT INTO poison VALUES (8192, 1056768, 'AO', 'duplicate', 5, 7, 3);"
		"INSERT INTO poison VALUES (4096, 1052672, 'memory-fault', 'injected', 1, 1, 1);"
		"PRAGMA user_version = 1;";
	struct record_page *pages;
	struct record *r;
	char path[320], msg[128];
	sqlite3 *db;
	size_t nr;
	s64 ver = 0;
	sqlite3_stmt *st;

	fresh(path, sizeof(path), "v1.db");
	ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	ASSERT_OK(record_open(path, NULL, &r, NULL, 0));
	ASSERT_OK(record_load(r, &pages, &nr));
	ASSERT_EQ(nr, 2);
	EXPECT_EQ(pages[0].gpa, 0x1000);
	EXPECT_EQ(pages[0].offset, 0x101000);
	EXPECT_EQ(pages[0].kind, RECORD_MEMORY_FAULT);
	EXPECT_EQ(pages[1].gpa, 0x2000);
	EXPECT_EQ(pages[1].kind, RECORD_AO);
	EXPECT_STREQ(pages[1].action, "duplicate");
	EXPECT_EQ(pages[1].first_ns, 5);
	EXPECT_EQ(pages[1].last_ns, 7);
	EXPECT_EQ(pages[1].count, 3);
	for (size_t i = 0; i < nr; i++) {
		EXPECT_FALSE(pages[i].repaired);
		EXPECT_EQ(pages[i].repairs, 0);
	}
	kfree(pages);
	ASSERT_OK(record_repair(r, 0x2000, 0x102000, 9));
	EXPECT_OK(record_check(r, msg, sizeof(msg)));
	record_close(r);

	ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
	ver = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	EXPECT_EQ(ver, RECORD_SCHEMA_VERSION);
	EXPECT_EQ(ver, 2);

	/* Opened again (now version 2): the repair is there. */
	ASSERT_OK(record_open(path, NULL, &r, NULL, 0));
	ASSERT_OK(record_load(r, &pages, &nr));
	ASSERT_EQ(nr, 2);
	EXPECT_FALSE(pages[0].repaired);
	EXPECT_TRUE(pages[1].repaired);
	EXPECT_EQ(pages[1].repaired_ns, 9);
	kfree(pages);
	record_close(r);
	remove_db(path);
}

static const struct t_case cases[] = {
	T(round_trip),
	T(duplicate_gpa),
	T(bad_files),
	T(json_lines),
	T(threshold),
	T(crash_loop),
	T(intake_records),
	T(repair),
	T(upgrade_v1),
};

T_MAIN("vmm/test_record", cases)
