/* SPDX-License-Identifier: MIT */
/*
 * The VMM's crash-safe poison record and its event log.
 *
 *   intake thread: error handled -> record_add() -> INSERT/UPDATE, COMMIT   (the acknowledgement)
 *                                                -> one JSON line, write(2) (the event log)
 *                                                -> threshold check        (eviction request)
 *
 * The record is a SQLite database, one row per poisoned guest page:
 *
 *   CREATE TABLE poison (gpa INTEGER NOT NULL UNIQUE, offset INTEGER NOT NULL,
 *                        kind TEXT NOT NULL, action TEXT NOT NULL,
 *                        first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,
 *                        count INTEGER NOT NULL,
 *                        state TEXT NOT NULL DEFAULT 'poisoned',
 *                        repaired_ns INTEGER, repairs INTEGER NOT NULL DEFAULT 0);
 *                                                       PRAGMA user_version = 2
 *
 * Times are CLOCK_REALTIME in ns; count is how many times the page was seen.
 * state is 'poisoned', or 'repaired' once a guest reset punched the page out
 * and replaced it (record_repair(); the row and its history stay, a new
 * error on the page makes it 'poisoned' again). A version 1 record (no state,
 * repaired_ns, repairs) is upgraded to version 2 when opened (record.c).
 *
 * Durability: journal_mode=WAL with synchronous=FULL. An error is
 * acknowledged (the guest page is known poisoned) only when record_add()
 * returned 0, and that must hold after kill -9 and after a power loss: a
 * restarted or live-updated VMM fences every recorded page, and a page
 * forgotten would be handed to the guest again. In WAL mode synchronous=NORMAL
 * survives a process kill (the WAL is in the page cache) but can lose the last
 * commits on power loss; FULL fsyncs the WAL at every COMMIT. Errors are rare,
 * so one fsync each costs nothing that matters.
 *
 * The event log (JSON Lines, docs/vmm-events.md) is for operators: opened
 * O_APPEND, one write(2) per line so that concurrent writers never interleave
 * a line; fsync'd after each line only when cfg->log_fsync is set (the
 * database, not the log, is the durable state).
 *
 * Eviction: cfg->evict_pages distinct pages first seen within the last
 * cfg->evict_window_s seconds (counted in the database, so a restart does not
 * reset it) request eviction once: an "EVICT" event and RECORD_EXIT_EVICT,
 * the exit status of a VMM that stops so that its guest is restarted
 * elsewhere.
 *
 * One thread at a time per struct record; one struct record per process and
 * database file is the intended use (SQLite locks against others).
 */
#ifndef GMF_VMM_RECORD_H
#define GMF_VMM_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/compiler.h"
#include "base/types.h"

#define RECORD_SCHEMA_VERSION	2

/* EX_TEMPFAIL (sysexits.h): not this host's guest any more, retry elsewhere. */
#define RECORD_EXIT_EVICT	75

enum record_kind {
	RECORD_AR,		/* SIGBUS BUS_MCEERR_AR */
	RECORD_AO,		/* SIGBUS BUS_MCEERR_AO */
	RECORD_MEMORY_FAULT,	/* KVM_EXIT_MEMORY_FAULT with EHWPOISON */
};

/* QEMU's MEMORY_FAILURE event (qapi/run-state.json). */
enum record_recipient {
	RECORD_TO_HYPERVISOR,	/* the VMM's own memory */
	RECORD_TO_GUEST,
};

enum record_mf_action {
	RECORD_MF_IGNORE,
	RECORD_MF_INJECT,
	RECORD_MF_FATAL,
	RECORD_MF_RESET,
};

/* One error, as record_add() and record_event() take it. */
struct record_error {
	s64 time_ns;			/* CLOCK_REALTIME; 0: now */
	u64 gpa, offset;		/* guest page (any address inside it) */
	enum record_kind kind;
	const char *action;		/* what the VMM did ("injected", ...); stored */
	enum record_recipient recipient;
	enum record_mf_action mf_action;
	bool action_required, recursive;	/* QEMU's flags */
};

/* One recorded page. */
struct record_page {
	u64 gpa, offset;		/* gpa and offset page-aligned */
	enum record_kind kind;		/* of the first sighting */
	char action[24];		/* of the last sighting */
	s64 first_ns, last_ns;
	unsigned int count;		/* sightings */
	bool repaired;			/* replaced at a guest reset since its last error */
	s64 repaired_ns;		/* the last repair, 0 if never */
	unsigned int repairs;		/* times repaired */
};

struct record_config {
	int log_fd;			/* the event log; -1: log_path or none */
	const char *log_path;		/* opened O_WRONLY|O_APPEND|O_CREAT */
	bool log_fsync;			/* fsync the log after each line */
	unsigned int evict_pages;	/* 0: no eviction policy */
	unsigned int evict_window_s;
};

struct record;

/*
 * Open or create the record at @path (@cfg may be NULL: no log, no policy).
 * A file that is not SQLite, a SQLite database that is not a record, or a
 * record of a user_version other than 1 (upgraded to 2 in place) and 2 is
 * refused (-EINVAL, -EOPNOTSUPP) untouched,
 * with a message naming the file in @err (when not NULL).
 */
int __must_check record_open(const char *path, const struct record_config *cfg,
			     struct record **out, char *err, size_t errlen);
void record_close(struct record *r);

/*
 * Record one sighting of the page at @e->gpa (a second one adds to its
 * count), then log the event and apply the policy. Returns 0 only after the
 * COMMIT reached the disk; *@evict (may be NULL) is set when this error
 * crossed the threshold. -EIO (or -ENOSPC, -EBUSY) when not recorded.
 */
int __must_check record_add(struct record *r, const struct record_error *e, bool *evict);

/*
 * The page at @gpa was punched out of the guest memory file at @offset and
 * will be a fresh page on next touch (a guest reset): mark its row repaired
 * (kept, with its history), commit, log a "REPAIR" event. 0 after COMMIT,
 * -ENOENT when the record has no poisoned row for @gpa.
 */
int __must_check record_repair(struct record *r, u64 gpa, u64 offset, s64 time_ns);

/* Log an error that has no page to record (the VMM's own memory). */
int __must_check record_event(struct record *r, const struct record_error *e);

/* All recorded pages, by gpa: *@out (kfree it) and *@nr. */
int __must_check record_load(struct record *r, struct record_page **out, size_t *nr);

/* PRAGMA integrity_check: 0 when "ok", else -EIO with the first line in @msg. */
int __must_check record_check(struct record *r, char *msg, size_t len);

bool record_evicting(const struct record *r);

/* Format the JSON line of @e (no newline): its length, or -ENOSPC. */
int record_format_event(char *buf, size_t len, const struct record_error *e,
			unsigned int count);

const char *record_kind_name(enum record_kind kind);
const char *record_recipient_name(enum record_recipient r);
const char *record_mf_action_name(enum record_mf_action a);

#endif
