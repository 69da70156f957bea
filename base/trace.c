// SPDX-License-Identifier: MIT
/* The trace sink: see trace.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/trace.h"

const char *const trace_kind_names[TRACE_NR_KINDS] = {
	[TRACE_LOG] = "log",
	[TRACE_SIGNAL] = "signal",
	[TRACE_COUNTER] = "counter",
	[TRACE_PANIC] = "panic",
	[TRACE_RESULT] = "result",
	[TRACE_RETURN] = "return",
	[TRACE_NOTE] = "note",
	[TRACE_EXIT] = "exit",
};

void trace_init(struct trace *t, bool store)
{
	memset(t, 0, sizeof(*t));
	t->store = store;
}

void trace_clear(struct trace *t)
{
	for (unsigned long i = 0; i < t->nr; i++)
		kfree(t->ev[i].message);
	t->nr = 0;
}

void trace_destroy(struct trace *t)
{
	trace_clear(t);
	kfree(t->ev);
	t->ev = NULL;
	t->cap = 0;
}

struct trace_event *trace_emit(struct trace *t, const struct trace_event *e)
{
	struct trace_event *s, tmp;

	/* Tracing is observation, not model: it never fails (__GFP_NOFAIL). */
	tmp = *e;
	tmp.seq = ++t->seq;
	tmp.line = t->line;
	tmp.message = e->message ? kstrdup(e->message, __GFP_NOFAIL) : NULL;
	if (t->out) {
		if (t->format == TRACE_JSON)
			trace_print_json(t->out, &tmp);
		else
			trace_print_text(t->out, &tmp);
	}
	if (!t->store) {
		if (t->sink)
			t->sink(t->sink_arg, &tmp);
		kfree(tmp.message);
		return NULL;
	}
	if (t->nr == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->ev = krealloc_array(t->ev, t->cap, sizeof(*t->ev), __GFP_NOFAIL);
	}
	s = &t->ev[t->nr++];
	*s = tmp;
	if (t->sink)
		t->sink(t->sink_arg, s);
	return s;
}

static __printf(1, 0) char *vformat(const char *fmt, va_list ap)
{
	va_list aq;
	int n;
	char *buf;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	buf = kmalloc((size_t)n + 1, __GFP_NOFAIL);
	vsnprintf(buf, (size_t)n + 1, fmt, ap);
	/* printk lines end in \n; the trace stores the line without it. */
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return buf;
}

void trace_log(struct trace *t, int level, const char *fmt, ...)
{
	struct trace_event e = { .kind = TRACE_LOG, .has = TF_MESSAGE | TF_LEVEL, .level = level };
	va_list ap;

	if (!t->store && !t->out && !t->sink)
		return;
	va_start(ap, fmt);
	e.message = vformat(fmt, ap);
	va_end(ap);
	trace_emit(t, &e);
	kfree(e.message);
}

void trace_note(struct trace *t, const char *fmt, ...)
{
	struct trace_event e = { .kind = TRACE_NOTE, .has = TF_MESSAGE };
	va_list ap;

	if (!t->store && !t->out && !t->sink)
		return;
	va_start(ap, fmt);
	e.message = vformat(fmt, ap);
	va_end(ap);
	trace_emit(t, &e);
	kfree(e.message);
}

static const char *const signal_names[] = {
	[7] = "SIGBUS", [9] = "SIGKILL", [11] = "SIGSEGV",
};

static const char *signame(int sig)
{
	if (sig > 0 && (size_t)sig < ARRAY_SIZE(signal_names) && signal_names[sig])
		return signal_names[sig];
	return "SIG?";
}

/* si_code names for SIGBUS, and SI_KERNEL. */
static const char *sicode_name(int sig, int code)
{
	if (code == 0x80)
		return "SI_KERNEL";
	if (sig == 7) {
		switch (code) {
		case 1: return "BUS_ADRALN";
		case 2: return "BUS_ADRERR";
		case 3: return "BUS_OBJERR";
		case 4: return "BUS_MCEERR_AR";
		case 5: return "BUS_MCEERR_AO";
		}
	}
	return NULL;
}

void trace_print_text(FILE *f, const struct trace_event *e)
{
	const char *cn;

	switch (e->kind) {
	case TRACE_LOG:
		fprintf(f, "%s\n", e->message);
		break;
	case TRACE_PANIC:
		fprintf(f, "Kernel panic - not syncing: %s\n", e->message);
		break;
	case TRACE_SIGNAL:
		fprintf(f, "  -> %s to %s:%d", signame(e->signal), e->task, e->pid);
		if (e->has & TF_CODE) {
			cn = sicode_name(e->signal, e->code);
			if (cn)
				fprintf(f, " si_code=%s", cn);
			else
				fprintf(f, " si_code=%d", e->code);
		}
		if (e->has & TF_ADDR)
			fprintf(f, " si_addr=%#llx", (unsigned long long)e->addr);
		if (e->has & TF_LSB)
			fprintf(f, " si_addr_lsb=%d", e->lsb);
		fputc('\n', f);
		break;
	case TRACE_COUNTER:
		fprintf(f, "  .. %s = %ld (%+ld)\n", e->counter, e->value, e->delta);
		break;
	case TRACE_RESULT:
		/* action_result()'s pr_err carries the same facts. */
		break;
	case TRACE_RETURN:
		if (e->ret < 0)
			fprintf(f, "  <- %s = -%s\n", e->op, errno_name((int)e->ret));
		else
			fprintf(f, "  <- %s = %ld\n", e->op, e->ret);
		break;
	case TRACE_NOTE:
		fprintf(f, "  # %s\n", e->message);
		break;
	case TRACE_EXIT:
		fprintf(f, "  <= KVM_RUN vm%d vcpu%d = ", e->vm, e->vcpu);
		if (e->ret < 0)
			fprintf(f, "-1 errno=%s", errno_name((int)e->ret));
		else
			fprintf(f, "%ld", e->ret);
		if (e->has & TF_EXIT)
			fprintf(f, " exit_reason=%s", e->exit_reason);
		if (e->has & TF_GPA)
			fprintf(f, " gpa=%#llx size=%#llx flags=%#llx", (unsigned long long)e->gpa,
				(unsigned long long)e->size, (unsigned long long)e->flags);
		fputc('\n', f);
		break;
	case TRACE_NR_KINDS:
		break;
	}
}

void json_print_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void trace_print_json(FILE *f, const struct trace_event *e)
{
	const char *cn;

	fprintf(f, "{\"event\":\"%s\",\"seq\":%lu", trace_kind_names[e->kind], e->seq);
	if (e->line)
		fprintf(f, ",\"line\":%d", e->line);
	if (e->has & TF_OP) {
		fputs(",\"op\":", f);
		json_print_string(f, e->op);
	}
	if (e->has & TF_PFN)
		fprintf(f, ",\"pfn\":\"%#lx\"", e->pfn);
	if (e->has & TF_TYPE) {
		fputs(",\"type\":", f);
		json_print_string(f, e->type);
	}
	if (e->has & TF_RESULT) {
		fputs(",\"result\":", f);
		json_print_string(f, e->result);
	}
	if (e->has & TF_RET) {
		fprintf(f, ",\"ret\":%ld", e->ret);
		if (e->ret < 0)
			fprintf(f, ",\"errno\":\"%s\"", errno_name((int)e->ret));
	}
	if (e->has & TF_TASK) {
		fputs(",\"task\":", f);
		json_print_string(f, e->task);
		fprintf(f, ",\"pid\":%d", e->pid);
	}
	if (e->has & TF_SIGNAL)
		fprintf(f, ",\"signal\":\"%s\"", signame(e->signal));
	if (e->has & TF_CODE) {
		cn = sicode_name(e->signal, e->code);
		if (cn)
			fprintf(f, ",\"code\":\"%s\"", cn);
		else
			fprintf(f, ",\"code\":%d", e->code);
	}
	if (e->has & TF_ADDR)
		fprintf(f, ",\"addr\":\"%#llx\"", (unsigned long long)e->addr);
	if (e->has & TF_LSB)
		fprintf(f, ",\"lsb\":%d", e->lsb);
	if (e->has & TF_COUNTER) {
		fputs(",\"counter\":", f);
		json_print_string(f, e->counter);
		fprintf(f, ",\"value\":%ld,\"delta\":%ld", e->value, e->delta);
	}
	if (e->has & TF_VM)
		fprintf(f, ",\"vm\":%d,\"vcpu\":%d", e->vm, e->vcpu);
	if (e->has & TF_EXIT)
		fprintf(f, ",\"exit_reason\":\"%s\"", e->exit_reason);
	if (e->has & TF_GPA)
		fprintf(f, ",\"gpa\":\"%#llx\",\"size\":%llu,\"flags\":\"%#llx\"",
			(unsigned long long)e->gpa, (unsigned long long)e->size,
			(unsigned long long)e->flags);
	if (e->has & TF_LEVEL)
		fprintf(f, ",\"level\":%d", e->level);
	if (e->has & TF_MESSAGE) {
		fputs(",\"message\":", f);
		json_print_string(f, e->message);
	}
	fputs("}\n", f);
}
