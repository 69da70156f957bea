/* SPDX-License-Identifier: MIT */
/*
 * The trace sink: every observable event of the model (a log line, a signal,
 * a counter change, a panic, an action result) is recorded here, in order,
 * and can be printed for humans (in the kernel's words) or as JSON Lines.
 *
 * DOC: the JSON Lines record is a user interface (docs/trace-format.md).
 * Each record has "event" and "seq"; the other fields appear only when the
 * event carries them. Add fields compatibly; never rename one.
 */
#ifndef GMF_BASE_TRACE_H
#define GMF_BASE_TRACE_H

#include <stdio.h>
#include "base/compiler.h"
#include "base/types.h"

enum trace_kind {
	TRACE_LOG,	/* a printk line: message, level */
	TRACE_SIGNAL,	/* a signal sent: task, pid, signal, code, addr, lsb */
	TRACE_COUNTER,	/* a counter changed: counter, value, delta */
	TRACE_PANIC,	/* panic(): message */
	TRACE_RESULT,	/* action_result(): pfn, type, result */
	TRACE_RETURN,	/* an operation's return value: op, ret */
	TRACE_NOTE,	/* anything else worth seeing: message */
	TRACE_EXIT,	/* KVM_RUN returned: vm, vcpu, ret, exit_reason, gpa, size, flags */
	TRACE_NR_KINDS,
};

extern const char *const trace_kind_names[TRACE_NR_KINDS];

/* Printk levels, as KERN_* */
enum { LOGLEVEL_EMERG, LOGLEVEL_ALERT, LOGLEVEL_CRIT, LOGLEVEL_ERR,
       LOGLEVEL_WARNING, LOGLEVEL_NOTICE, LOGLEVEL_INFO, LOGLEVEL_DEBUG };

/* Which optional fields an event carries. */
enum {
	TF_PFN = 1u << 0,
	TF_TYPE = 1u << 1,
	TF_RESULT = 1u << 2,
	TF_RET = 1u << 3,
	TF_TASK = 1u << 4,
	TF_SIGNAL = 1u << 5,
	TF_CODE = 1u << 6,
	TF_ADDR = 1u << 7,
	TF_LSB = 1u << 8,
	TF_MESSAGE = 1u << 9,
	TF_COUNTER = 1u << 10,
	TF_OP = 1u << 11,
	TF_LEVEL = 1u << 12,
	TF_VM = 1u << 13,	/* vm, vcpu */
	TF_EXIT = 1u << 14,	/* exit_reason */
	TF_GPA = 1u << 15,	/* gpa, size, flags */
};

struct trace_event {
	enum trace_kind kind;
	unsigned int has;
	unsigned long seq;
	int line;		/* scenario line, 0 when none */
	int level;
	unsigned long pfn;
	const char *type;	/* static strings only */
	const char *result;
	const char *op;
	const char *counter;
	long ret;
	char task[16];
	int pid;
	int signal;
	int code;
	u64 addr;
	int lsb;
	long value, delta;
	int vm, vcpu;
	const char *exit_reason;	/* static string */
	u64 gpa, size, flags;
	char *message;		/* owned */
};

enum trace_format { TRACE_TEXT, TRACE_JSON };

struct trace {
	struct trace_event *ev;
	unsigned long nr, cap;
	unsigned long seq;
	bool store;		/* keep events for later inspection */
	FILE *out;		/* print each event as it happens, or NULL */
	enum trace_format format;
	int line;		/* stamped on every event */
	const char *file;	/* for text output only */
	/*
	 * Called with each event as it is recorded (the stored copy when the
	 * trace stores), while the model state that made it is still live, or
	 * NULL. An observer: it must not change the model.
	 */
	void (*sink)(void *arg, const struct trace_event *e);
	void *sink_arg;
};

void trace_init(struct trace *t, bool store);
void trace_destroy(struct trace *t);
/* Drop the stored events (keeps settings). */
void trace_clear(struct trace *t);

/*
 * Record @e (copied; message duplicated), print it and hand it to the sink.
 * Returns the stored copy or NULL.
 */
struct trace_event *trace_emit(struct trace *t, const struct trace_event *e);
void trace_log(struct trace *t, int level, const char *fmt, ...) __printf(3, 4);
void trace_note(struct trace *t, const char *fmt, ...) __printf(2, 3);

/* Format one event. */
void trace_print_text(FILE *f, const struct trace_event *e);
void trace_print_json(FILE *f, const struct trace_event *e);
/* Write @s as a JSON string literal. */
void json_print_string(FILE *f, const char *s);

#endif
