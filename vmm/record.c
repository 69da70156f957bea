// SPDX-License-Identifier: MIT
/*
 * The poison record and the event log (see record.h).
 *
 * Opening never writes before it knows the file is a record of our version,
 * of version 1 (upgraded, see below) or an empty/new database: the header read
 * by PRAGMA user_version comes first, then journal_mode=WAL, then the schema
 * or the upgrade in one transaction.
 *
 * Version 1 -> 2 (repair on guest reset): three columns added with defaults
 * that say what a version 1 row is (poisoned, never repaired), so every old
 * row reads back as it was; done under BEGIN IMMEDIATE, the version checked
 * again under the lock, user_version set in the same transaction.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/alloc.h"
#include "base/compiler.h"
#include "base/types.h"
#include "vmm/record.h"

#define PAGE_MASK_4K	(~(u64)0xfff)
#define BUSY_MS		5000

struct record {
	sqlite3 *db;
	char *path;
	struct record_config cfg;
	int log_fd;
	bool own_log;
	bool evicting;
	sqlite3_stmt *add, *count, *window, *repair;
};

static const char *const schema =
	"CREATE TABLE IF NOT EXISTS poison ("
	" gpa INTEGER NOT NULL UNIQUE,"
	" offset INTEGER NOT NULL,"
	" kind TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" first_ns INTEGER NOT NULL,"
	" last_ns INTEGER NOT NULL,"
	" count INTEGER NOT NULL,"
	" state TEXT NOT NULL DEFAULT 'poisoned',"
	" repaired_ns INTEGER,"
	" repairs INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS poison_first ON poison(first_ns);";

/* Version 1 -> 2: the columns version 1 lacks, with what its rows are. */
static const char *const upgrade_1_2 =
	"ALTER TABLE poison ADD COLUMN state TEXT NOT NULL DEFAULT 'poisoned';"
	"ALTER TABLE poison ADD COLUMN repaired_ns INTEGER;"
	"ALTER TABLE poison ADD COLUMN repairs INTEGER NOT NULL DEFAULT 0;";

const char *record_kind_name(enum record_kind kind)
{
	static const char *const names[] = { "AR", "AO", "memory-fault" };

	return (unsigned int)kind < ARRAY_SIZE(names) ? names[kind] : "?";
}

const char *record_recipient_name(enum record_recipient r)
{
	return r == RECORD_TO_GUEST ? "guest" : "hypervisor";
}

const char *record_mf_action_name(enum record_mf_action a)
{
	static const char *const names[] = { "ignore", "inject", "fatal", "reset" };

	return (unsigned int)a < ARRAY_SIZE(names) ? names[a] : "?";
}

static enum record_kind kind_from_name(const char *s)
{
	for (int k = RECORD_AR; k <= RECORD_MEMORY_FAULT; k++)
		if (s && !strcmp(s, record_kind_name(k)))
			return k;
	return RECORD_AR;
}

static s64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (s64)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static __printf(3, 4) void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static int sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EINVAL;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return -EACCES;
	default:
		return -EIO;
	}
}

/* A failed step or prepare: never 0. */
static int sqlite_fail(int rc)
{
	int ret = sqlite_errno(rc);

	return ret ? ret : -EIO;
}

/* One integer from a one-row statement; -errno on failure. */
static int query_int(sqlite3 *db, const char *sql, s64 *val)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sqlite_errno(rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*val = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : sqlite_fail(rc);
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* Read-only checks: what the file is. */
static int check_file(struct record *r, s64 *version, char *err, size_t errlen)
{
	s64 tables = 0;
	int ret;

	ret = query_int(r->db, "PRAGMA user_version", version);
	if (ret) {
		seterr(err, errlen, "%s: not a SQLite database (%s): expected a gmemfail poison record",
		       r->path, sqlite3_errmsg(r->db));
		return ret == -EINVAL ? -EINVAL : ret;
	}
	if (*version == RECORD_SCHEMA_VERSION || *version == 1)
		return 0;
	if (*version != 0) {
		seterr(err, errlen, "%s: poison record schema version %lld: expected version %d (or 1, upgraded on open)",
		       r->path, (long long)*version, RECORD_SCHEMA_VERSION);
		return -EOPNOTSUPP;
	}
	ret = query_int(r->db, "SELECT count(*) FROM sqlite_master", &tables);
	if (ret) {
		seterr(err, errlen, "%s: reading the schema failed: %s", r->path,
		       sqlite3_errmsg(r->db));
		return ret;
	}
	if (tables) {
		seterr(err, errlen, "%s: a SQLite database with user_version 0 and %lld schema objects: expected a gmemfail poison record (version %d) or an empty file",
		       r->path, (long long)tables, RECORD_SCHEMA_VERSION);
		return -EINVAL;
	}
	return 0;
}

static int setup(struct record *r, s64 version, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	const char *mode;
	int ret, rc;

	rc = sqlite3_prepare_v2(r->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	if (!mode || strcmp(mode, "wal")) {
		sqlite3_finalize(st);
		seterr(err, errlen, "%s: cannot switch to WAL mode (%s)", r->path,
		       mode ? mode : sqlite3_errmsg(r->db));
		return -EIO;
	}
	sqlite3_finalize(st);
	ret = exec(r->db, "PRAGMA synchronous=FULL");
	if (ret)
		goto fail_ret;
	if (version != RECORD_SCHEMA_VERSION) {
		/*
		 * Another process may have created or upgraded it since: check
		 * again under the lock.
		 */
		ret = exec(r->db, "BEGIN IMMEDIATE");
		if (ret)
			goto fail_ret;
		ret = query_int(r->db, "PRAGMA user_version", &version);
		if (!ret && version == 0) {
			ret = exec(r->db, schema);
			if (!ret)
				ret = exec(r->db, "PRAGMA user_version = 2");
		} else if (!ret && version == 1) {
			ret = exec(r->db, upgrade_1_2);
			if (!ret)
				ret = exec(r->db, "PRAGMA user_version = 2");
		} else if (!ret && version != RECORD_SCHEMA_VERSION) {
			ret = -EOPNOTSUPP;
		}
		if (ret) {
			seterr(err, errlen, "%s: %s the poison record failed: %s", r->path,
			       version == 1 ? "upgrading (version 1 -> 2)" : "creating",
			       sqlite3_errmsg(r->db));
			exec(r->db, "ROLLBACK");
			return ret;
		}
		ret = exec(r->db, "COMMIT");
		if (ret)
			goto fail_ret;
	}
	rc = sqlite3_prepare_v2(r->db,
		"INSERT INTO poison (gpa, offset, kind, action, first_ns, last_ns, count)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1)"
		" ON CONFLICT(gpa) DO UPDATE SET count = count + 1, last_ns = excluded.last_ns,"
		" action = excluded.action, state = 'poisoned'",
		-1, &r->add, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(r->db, "SELECT count FROM poison WHERE gpa = ?1", -1,
					&r->count, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(r->db, "SELECT count(*) FROM poison WHERE first_ns >= ?1",
					-1, &r->window, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(r->db,
			"UPDATE poison SET state = 'repaired', repaired_ns = ?2, repairs = repairs + 1"
			" WHERE gpa = ?1 AND state = 'poisoned'", -1, &r->repair, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	return 0;
fail:
	ret = sqlite_fail(rc);
fail_ret:
	seterr(err, errlen, "%s: %s", r->path, sqlite3_errmsg(r->db));
	return ret;
}

int record_open(const char *path, const struct record_config *cfg, struct record **out,
		char *err, size_t errlen)
{
	struct record *r;
	s64 version = 0;
	int ret, rc;

	*out = NULL;
	seterr(err, errlen, "%s", "");
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->log_fd = -1;
	if (cfg)
		r->cfg = *cfg;
	else
		r->cfg.log_fd = -1;
	r->path = kstrdup(path, GFP_KERNEL);
	if (!r->path) {
		kfree(r);
		return -ENOMEM;
	}
	rc = sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		seterr(err, errlen, "%s: cannot open: %s", path,
		       r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc));
		ret = sqlite_fail(rc);
		goto out_free;
	}
	sqlite3_busy_timeout(r->db, BUSY_MS);
	ret = check_file(r, &version, err, errlen);
	if (ret)
		goto out_free;
	ret = setup(r, version, err, errlen);
	if (ret)
		goto out_free;
	if (r->cfg.log_fd >= 0) {
		r->log_fd = r->cfg.log_fd;
	} else if (r->cfg.log_path) {
		r->log_fd = open(r->cfg.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (r->log_fd < 0) {
			ret = -errno;
			seterr(err, errlen, "%s: cannot open the event log: %s", r->cfg.log_path,
			       strerror(-ret));
			goto out_free;
		}
		r->own_log = true;
	}
	r->cfg.log_path = NULL;		/* not ours to keep */
	*out = r;
	return 0;
out_free:
	record_close(r);
	return ret;
}

void record_close(struct record *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->add);
	sqlite3_finalize(r->count);
	sqlite3_finalize(r->window);
	sqlite3_finalize(r->repair);
	if (r->db)
		sqlite3_close(r->db);
	if (r->own_log)
		close(r->log_fd);
	kfree(r->path);
	kfree(r);
}

bool record_evicting(const struct record *r)
{
	return r->evicting;
}

/* ---- the event log ------------------------------------------------------------ */

int record_format_event(char *buf, size_t len, const struct record_error *e,
			unsigned int count)
{
	int n;

	n = snprintf(buf, len,
		     "{\"event\":\"MEMORY_FAILURE\",\"time_ns\":%lld,\"recipient\":\"%s\","
		     "\"action\":\"%s\",\"flags\":{\"action-required\":%s,\"recursive\":%s},"
		     "\"gpa\":\"%#llx\",\"offset\":\"%#llx\",\"kind\":\"%s\","
		     "\"vmm_action\":\"%s\",\"count\":%u}",
		     (long long)(e->time_ns ? e->time_ns : now_ns()),
		     record_recipient_name(e->recipient),
		     record_mf_action_name(e->mf_action), e->action_required ? "true" : "false",
		     e->recursive ? "true" : "false",
		     (unsigned long long)(e->gpa & PAGE_MASK_4K),
		     (unsigned long long)(e->offset & PAGE_MASK_4K), record_kind_name(e->kind),
		     e->action ? e->action : "", count);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

/* One line, one write(2): O_APPEND keeps lines whole between writers. */
static int log_line(struct record *r, char *line, int n)
{
	ssize_t w;

	if (r->log_fd < 0)
		return 0;
	line[n++] = '\n';
	do
		w = write(r->log_fd, line, (size_t)n);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	if (w != n)
		return -EIO;
	if (r->cfg.log_fsync && fsync(r->log_fd) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

int record_event(struct record *r, const struct record_error *e)
{
	char line[512];
	int n;

	n = record_format_event(line, sizeof(line) - 1, e, 0);
	if (n < 0)
		return n;
	return log_line(r, line, n);
}

static int log_evict(struct record *r, s64 t, s64 pages)
{
	char line[256];
	int n;

	n = snprintf(line, sizeof(line) - 1,
		     "{\"event\":\"EVICT\",\"time_ns\":%lld,\"action\":\"evict\","
		     "\"pages\":%lld,\"threshold\":%u,\"window_s\":%u,\"exit_status\":%d}",
		     (long long)t, (long long)pages, r->cfg.evict_pages, r->cfg.evict_window_s, RECORD_EXIT_EVICT);
	return log_line(r, line, n);
}

/* ---- the record ----------------------------------------------------------------- */

static int step_done(struct record *r, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sqlite_fail(rc);
}

static int step_int(sqlite3_stmt *st, s64 *val)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		*val = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : sqlite_fail(rc);
}

int record_add(struct record *r, const struct record_error *e, bool *evict)
{
	struct record_error ev = *e;
	s64 count = 0, pages = 0;
	char line[512];
	int ret, n;

	if (evict)
		*evict = false;
	if (!ev.time_ns)
		ev.time_ns = now_ns();
	ev.gpa &= PAGE_MASK_4K;
	ev.offset &= PAGE_MASK_4K;
	if (ev.gpa > (u64)INT64_MAX || ev.offset > (u64)INT64_MAX)
		return -ERANGE;

	ret = exec(r->db, "BEGIN IMMEDIATE");
	if (ret)
		return ret;
	sqlite3_bind_int64(r->add, 1, (s64)ev.gpa);
	sqlite3_bind_int64(r->add, 2, (s64)ev.offset);
	sqlite3_bind_text(r->add, 3, record_kind_name(ev.kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(r->add, 4, ev.action ? ev.action : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(r->add, 5, ev.time_ns);
	ret = step_done(r, r->add);
	if (!ret) {
		sqlite3_bind_int64(r->count, 1, (s64)ev.gpa);
		ret = step_int(r->count, &count);
	}
	if (!ret && r->cfg.evict_pages) {
		sqlite3_bind_int64(r->window, 1,
				   ev.time_ns - (s64)r->cfg.evict_window_s * 1000000000LL);
		ret = step_int(r->window, &pages);
	}
	if (ret) {
		exec(r->db, "ROLLBACK");
		return ret;
	}
	/* synchronous=FULL: the WAL is on disk when COMMIT returns. */
	ret = exec(r->db, "COMMIT");
	if (ret) {
		exec(r->db, "ROLLBACK");
		return ret;
	}

	/* Acknowledged. The log and the policy cannot un-acknowledge it. */
	n = record_format_event(line, sizeof(line) - 1, &ev, (unsigned int)count);
	if (n > 0)
		(void)log_line(r, line, n);
	if (r->cfg.evict_pages && !r->evicting && pages >= r->cfg.evict_pages) {
		r->evicting = true;
		(void)log_evict(r, ev.time_ns, pages);
		if (evict)
			*evict = true;
	}
	return 0;
}

static int log_repair(struct record *r, s64 t, u64 gpa, u64 offset, unsigned int repairs)
{
	char line[256];
	int n;

	n = snprintf(line, sizeof(line) - 1,
		     "{\"event\":\"REPAIR\",\"time_ns\":%lld,\"action\":\"punch-hole\","
		     "\"gpa\":\"%#llx\",\"offset\":\"%#llx\",\"repairs\":%u}",
		     (long long)t, (unsigned long long)gpa, (unsigned long long)offset, repairs);
	return log_line(r, line, n);
}

int record_repair(struct record *r, u64 gpa, u64 offset, s64 time_ns)
{
	s64 repairs = 0;
	int ret;

	if (!time_ns)
		time_ns = now_ns();
	gpa &= PAGE_MASK_4K;
	offset &= PAGE_MASK_4K;
	if (gpa > (u64)INT64_MAX)
		return -ERANGE;
	ret = exec(r->db, "BEGIN IMMEDIATE");
	if (ret)
		return ret;
	sqlite3_bind_int64(r->repair, 1, (s64)gpa);
	sqlite3_bind_int64(r->repair, 2, time_ns);
	ret = step_done(r, r->repair);
	if (!ret && !sqlite3_changes(r->db))
		ret = -ENOENT;
	if (!ret) {
		sqlite3_stmt *st;
		int rc = sqlite3_prepare_v2(r->db, "SELECT repairs FROM poison WHERE gpa = ?1", -1,
					    &st, NULL);

		if (rc != SQLITE_OK) {
			ret = sqlite_fail(rc);
		} else {
			sqlite3_bind_int64(st, 1, (s64)gpa);
			ret = step_int(st, &repairs);
			sqlite3_finalize(st);
		}
	}
	if (ret) {
		exec(r->db, "ROLLBACK");
		return ret;
	}
	ret = exec(r->db, "COMMIT");
	if (ret) {
		exec(r->db, "ROLLBACK");
		return ret;
	}
	(void)log_repair(r, time_ns, gpa, offset, (unsigned int)repairs);
	return 0;
}

int record_load(struct record *r, struct record_page **out, size_t *nr)
{
	struct record_page *pages = NULL, *p;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*nr = 0;
	rc = sqlite3_prepare_v2(r->db,
		"SELECT gpa, offset, kind, action, first_ns, last_ns, count, state, repaired_ns, repairs"
		" FROM poison ORDER BY gpa",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sqlite_fail(rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *action = (const char *)sqlite3_column_text(st, 3);

		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			p = krealloc_array(pages, cap, sizeof(*pages), GFP_KERNEL);
			if (!p) {
				sqlite3_finalize(st);
				kfree(pages);
				return -ENOMEM;
			}
			pages = p;
		}
		p = &pages[n++];
		memset(p, 0, sizeof(*p));
		p->gpa = (u64)sqlite3_column_int64(st, 0);
		p->offset = (u64)sqlite3_column_int64(st, 1);
		p->kind = kind_from_name((const char *)sqlite3_column_text(st, 2));
		snprintf(p->action, sizeof(p->action), "%s", action ? action : "");
		p->first_ns = sqlite3_column_int64(st, 4);
		p->last_ns = sqlite3_column_int64(st, 5);
		p->count = (unsigned int)sqlite3_column_int64(st, 6);
		p->repaired = !strcmp((const char *)sqlite3_column_text(st, 7) ?: "", "repaired");
		p->repaired_ns = sqlite3_column_int64(st, 8);
		p->repairs = (unsigned int)sqlite3_column_int64(st, 9);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		kfree(pages);
		return sqlite_fail(rc);
	}
	*out = pages;
	*nr = n;
	return 0;
}

int record_check(struct record *r, char *msg, size_t len)
{
	sqlite3_stmt *st;
	const char *res;
	int rc, ret;

	rc = sqlite3_prepare_v2(r->db, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sqlite_fail(rc);
	rc = sqlite3_step(st);
	res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	ret = res && !strcmp(res, "ok") ? 0 : -EIO;
	if (msg && len)
		snprintf(msg, len, "%s", res ? res : sqlite3_errmsg(r->db));
	sqlite3_finalize(st);
	return ret;
}
