// SPDX-License-Identifier: MIT
/*
 * Scenario lexer, parser and checker: a file is tokenized into statements,
 * each statement is checked against its verb (arguments, keys, value types,
 * names defined before use), and only a file without errors is handed to
 * the interpreter.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "scn/internal.h"

const char *const scn_sym_kind_names[__NR_SYMS] = {
	[SYM_NONE] = "nothing", [SYM_PROCESS] = "process", [SYM_THREAD] = "thread",
	[SYM_MAPPING] = "mapping", [SYM_FILE] = "file", [SYM_KERNEL] = "kernel allocation",
	[SYM_PIN] = "pin", [SYM_VM] = "VM", [SYM_VCPU] = "vCPU", [SYM_CGROUP] = "cgroup",
};

#define errorf scn_errorf

int scn_errorf(struct scn_error *err, int line, int col, const char *fmt, ...)
{
	va_list ap;

	err->line = line;
	err->col = col;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int scn_parse_num(const char *s, u64 *out)
{
	u64 v = 0, mult = 1, digit;
	int base = 10;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
		if (!*p)
			return -EINVAL;
	}
	for (; *p; p++) {
		if (base == 16 && isxdigit((unsigned char)*p))
			digit = (u64)(isdigit((unsigned char)*p) ? *p - '0' : (tolower(*p) - 'a' + 10));
		else if (base == 10 && isdigit((unsigned char)*p))
			digit = (u64)(*p - '0');
		else
			break;
		if (v > (~0ULL - digit) / (u64)base)
			return -ERANGE;
		v = v * (u64)base + digit;
	}
	if (*p) {
		switch (*p) {
		case 'K': case 'k': mult = 1ULL << 10; break;
		case 'M': case 'm': mult = 1ULL << 20; break;
		case 'G': case 'g': mult = 1ULL << 30; break;
		case 'T': case 't': mult = 1ULL << 40; break;
		default: return -EINVAL;
		}
		if (p[1] && !(p[1] == 'B' && !p[2]) && !(p[1] == 'i' && p[2] == 'B' && !p[3]))
			return -EINVAL;
		if (v && mult > ~0ULL / v)
			return -ERANGE;
	}
	*out = v * mult;
	return 0;
}

bool scn_valid_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

const struct scn_arg *scn_arg_find(const struct scn_stmt *st, const char *key)
{
	for (int i = 0; i < st->nargs; i++)
		if (st->args[i].key && !strcmp(st->args[i].key, key))
			return &st->args[i];
	return NULL;
}

const char *scn_arg(const struct scn_stmt *st, const char *key)
{
	const struct scn_arg *a = scn_arg_find(st, key);

	return a ? a->val : NULL;
}

const struct scn_arg *scn_pos(const struct scn_stmt *st, int i)
{
	for (int k = 0; k < st->nargs; k++)
		if (!st->args[k].key && i-- == 0)
			return &st->args[k];
	return NULL;
}

/* ---- tokens --------------------------------------------------------------- */

struct tok {
	char *text;	/* owned; unescaped */
	int col;
	bool quoted;
	int eq;		/* index of the first '=' outside quotes, or -1 */
	int val_col;
};

struct line_toks {
	struct tok *t;
	int n, cap;
};

static void toks_free(struct line_toks *lt)
{
	for (int i = 0; i < lt->n; i++)
		kfree(lt->t[i].text);
	kfree(lt->t);
	lt->t = NULL;
	lt->n = lt->cap = 0;
}

static int toks_push(struct line_toks *lt, struct tok t)
{
	if (lt->n == lt->cap) {
		int cap = lt->cap ? lt->cap * 2 : 8;
		struct tok *nt = krealloc_array(lt->t, (size_t)cap, sizeof(*nt), GFP_KERNEL);

		if (!nt)
			return -ENOMEM;
		lt->t = nt;
		lt->cap = cap;
	}
	lt->t[lt->n++] = t;
	return 0;
}

/* Split one line into words; "..." strings may hold spaces, \" and \\. */
static int tokenize(const char *s, size_t len, int lineno, struct line_toks *lt,
		    struct scn_error *err)
{
	size_t i = 0;

	while (i < len) {
		struct tok t = { .eq = -1 };
		char *buf;
		size_t o = 0, start;

		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i >= len || s[i] == '#')
			break;
		start = i;
		t.col = (int)i + 1;
		buf = kmalloc(len - i + 1, GFP_KERNEL);
		if (!buf)
			return -ENOMEM;
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
			char c = s[i];

			if ((unsigned char)c < 0x20 || c == 0x7f) {
				kfree(buf);
				return errorf(err, lineno, (int)i + 1, "control character %#x in the line",
					      (unsigned char)c);
			}
			if (c == '#' && !t.quoted)
				break;
			if (c == '"') {
				if (t.eq < 0 && o != 0) {
					kfree(buf);
					return errorf(err, lineno, (int)i + 1,
						      "a quote may only open a word or a value after '='");
				}
				t.quoted = true;
				t.val_col = (int)i + 2;
				i++;
				while (i < len && s[i] != '"') {
					if (s[i] == '\\' && i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\'))
						i++;
					else if ((unsigned char)s[i] < 0x20) {
						kfree(buf);
						return errorf(err, lineno, (int)i + 1,
							      "control character in a string");
					}
					buf[o++] = s[i++];
				}
				if (i >= len) {
					kfree(buf);
					return errorf(err, lineno, t.col, "unterminated string (expected a closing '\"')");
				}
				i++;
				if (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#') {
					kfree(buf);
					return errorf(err, lineno, (int)i + 1,
						      "expected a space after the closing quote");
				}
				break;
			}
			if (c == '=' && t.eq < 0 && o > 0) {
				t.eq = (int)o;
				t.val_col = (int)i + 2;
			}
			buf[o++] = c;
			i++;
		}
		buf[o] = '\0';
		t.text = buf;
		if (toks_push(lt, t)) {
			kfree(buf);
			return -ENOMEM;
		}
		(void)start;
	}
	return 0;
}

/* ---- statements ------------------------------------------------------------ */

static void stmt_free(struct scn_stmt *st)
{
	for (int i = 0; i < st->nargs; i++) {
		kfree(st->args[i].key);
		kfree(st->args[i].val);
	}
	kfree(st->args);
	kfree(st->verb);
	kfree(st->guard_key);
	for (int i = 0; i < st->nguard; i++)
		kfree(st->guard_vals[i]);
	kfree(st->guard_vals);
	kfree(st->thread);
	if (st->inline_expect) {
		stmt_free(st->inline_expect);
		kfree(st->inline_expect);
	}
}

void scn_file_free(struct scn_file *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++)
		stmt_free(&f->stmts[i]);
	kfree(f->stmts);
	kfree(f->path);
	kfree(f->vary_key);
	for (int i = 0; i < f->nvary; i++)
		kfree(f->vary_vals[i]);
	kfree(f->vary_vals);
	for (int i = 0; i < f->nthreads; i++)
		kfree(f->threads[i]);
	kfree(f->threads);
	for (int i = 0; i < f->nblock_names; i++)
		kfree(f->block_names[i]);
	kfree(f->block_names);
	kfree(f);
}

/* Split "a,b,c" into owned strings. */
static int split_list(const char *s, char ***out, int *n)
{
	char **v = NULL;
	int cnt = 0;
	const char *p = s;

	for (;;) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		char **nv = krealloc_array(v, (size_t)cnt + 1, sizeof(*v), GFP_KERNEL);
		char *item;

		if (!nv)
			goto nomem;
		v = nv;
		item = kmalloc(l + 1, GFP_KERNEL);
		if (!item)
			goto nomem;
		memcpy(item, p, l);
		item[l] = '\0';
		v[cnt++] = item;
		if (!c)
			break;
		p = c + 1;
	}
	*out = v;
	*n = cnt;
	return 0;
nomem:
	for (int i = 0; i < cnt; i++)
		kfree(v[i]);
	kfree(v);
	return -ENOMEM;
}

/* Build a statement from tokens [from, to). */
static int build_stmt(struct scn_stmt *st, struct line_toks *lt, int from, int to, int lineno,
		      struct scn_error *err)
{
	st->line = lineno;
	st->col = lt->t[from].col;
	st->verb = lt->t[from].text;
	lt->t[from].text = NULL;
	if (lt->t[from].quoted || lt->t[from].eq >= 0)
		return errorf(err, lineno, st->col, "expected a verb, found '%s'", st->verb);
	st->args = kcalloc((size_t)(to - from), sizeof(*st->args), GFP_KERNEL);
	if (!st->args)
		return -ENOMEM;
	for (int i = from + 1; i < to; i++) {
		struct tok *t = &lt->t[i];
		struct scn_arg *a = &st->args[st->nargs++];

		a->col = t->col;
		a->quoted = t->quoted;
		if (t->eq >= 0) {
			a->key = kmalloc((size_t)t->eq + 1, GFP_KERNEL);
			if (!a->key)
				return -ENOMEM;
			memcpy(a->key, t->text, (size_t)t->eq);
			a->key[t->eq] = '\0';
			a->val = kstrdup(t->text + t->eq + 1, GFP_KERNEL);
			if (!a->val)
				return -ENOMEM;
			if (!a->val[0] && !t->quoted)
				return errorf(err, lineno, t->val_col, "expected a value after '%s='", a->key);
		} else {
			a->val = t->text;
			t->text = NULL;
		}
	}
	return 0;
}

static int parse_line(struct scn_file *f, const char *s, size_t len, int lineno,
		      struct scn_error *err)
{
	struct line_toks lt = { 0 };
	struct scn_stmt *st, *nst;
	int first = 0, arrow = -1, ret;

	ret = tokenize(s, len, lineno, &lt, err);
	if (ret || !lt.n)
		goto out;
	nst = krealloc_array(f->stmts, (size_t)f->n + 1, sizeof(*f->stmts), GFP_KERNEL);
	if (!nst) {
		ret = -ENOMEM;
		goto out;
	}
	f->stmts = nst;
	st = &f->stmts[f->n++];
	memset(st, 0, sizeof(*st));
	st->line = lineno;

	/* A guard: [key=v1,v2] */
	if (lt.t[0].text[0] == '[' && !lt.t[0].quoted) {
		char *g = lt.t[0].text;
		size_t gl = strlen(g);
		char *eq = strchr(g, '=');

		if (gl < 4 || g[gl - 1] != ']' || !eq) {
			ret = errorf(err, lineno, lt.t[0].col,
				     "expected a guard like [panic_rule=v4,v9]");
			goto out;
		}
		g[gl - 1] = '\0';
		*eq = '\0';
		st->guard_key = kstrdup(g + 1, GFP_KERNEL);
		if (!st->guard_key || split_list(eq + 1, &st->guard_vals, &st->nguard)) {
			ret = -ENOMEM;
			goto out;
		}
		first = 1;
		if (lt.n == 1) {
			ret = errorf(err, lineno, lt.t[0].col + (int)gl, "expected a verb after the guard");
			goto out;
		}
	}
	/* A thread label in a concurrent block: "mf: memory_failure ..." */
	if (first < lt.n && !lt.t[first].quoted && lt.t[first].eq < 0) {
		size_t tl = strlen(lt.t[first].text);

		if (tl > 1 && lt.t[first].text[tl - 1] == ':') {
			lt.t[first].text[tl - 1] = '\0';
			if (!scn_valid_name(lt.t[first].text)) {
				ret = errorf(err, lineno, lt.t[first].col,
					     "expected a thread name before ':', found '%s'", lt.t[first].text);
				goto out;
			}
			st->thread = lt.t[first].text;
			st->thread_col = lt.t[first].col;
			lt.t[first].text = NULL;
			first++;
			if (first == lt.n) {
				ret = errorf(err, lineno, lt.t[first - 1].col + (int)tl,
					     "expected an operation after '%s:'", st->thread);
				goto out;
			}
		}
	}
	for (int i = first; i < lt.n; i++)
		if (!lt.t[i].quoted && !strcmp(lt.t[i].text, "=>")) {
			if (arrow >= 0) {
				ret = errorf(err, lineno, lt.t[i].col, "a second '=>' on one line");
				goto out;
			}
			arrow = i;
		}
	ret = build_stmt(st, &lt, first, arrow >= 0 ? arrow : lt.n, lineno, err);
	if (ret)
		goto out;
	if (arrow >= 0) {
		struct scn_stmt *e;

		if (arrow + 1 == lt.n) {
			ret = errorf(err, lineno, lt.t[arrow].col + 2, "expected expectations after '=>'");
			goto out;
		}
		e = kzalloc(sizeof(*e), GFP_KERNEL);
		if (!e) {
			ret = -ENOMEM;
			goto out;
		}
		st->inline_expect = e;
		/* Reuse the arrow token as the verb "expect". */
		kfree(lt.t[arrow].text);
		lt.t[arrow].text = kstrdup("expect", GFP_KERNEL);
		if (!lt.t[arrow].text) {
			ret = -ENOMEM;
			goto out;
		}
		ret = build_stmt(e, &lt, arrow, lt.n, lineno, err);
	}
out:
	toks_free(&lt);
	return ret;
}

/* ---- checking --------------------------------------------------------------- */

struct sym {
	char *name;
	enum scn_sym_kind kind;
	int gone_line;		/* the kho_kexec line that ended its host, or 0 */
};

struct symtab {
	struct sym *s;
	int n;
};

/* The live definition of @name: the newest, unless a kho_kexec ended its host. */
static enum scn_sym_kind sym_kind(const struct symtab *t, const char *name)
{
	for (int i = t->n - 1; i >= 0; i--)
		if (!strcmp(t->s[i].name, name))
			return t->s[i].gone_line ? SYM_NONE : t->s[i].kind;
	return SYM_NONE;
}

/* The kho_kexec line that ended the host of @name, or 0. */
static int sym_gone_line(const struct symtab *t, const char *name)
{
	for (int i = t->n - 1; i >= 0; i--)
		if (!strcmp(t->s[i].name, name))
			return t->s[i].gone_line;
	return 0;
}

/* Why @name is not what a line needs: undefined, or left behind by a kexec. */
static const char *sym_why(const struct symtab *t, const char *name, char *buf, size_t len)
{
	int gone = sym_gone_line(t, name);

	if (gone)
		snprintf(buf, len, ", which belonged to the host before kho_kexec (line %d): define it again "
			 "on the new host", gone);
	else if (sym_kind(t, name) == SYM_NONE)
		snprintf(buf, len, ", which is not defined");
	else
		buf[0] = '\0';
	return buf;
}

/* kho_kexec: every object so far belonged to the old host; its names may be defined again. */
static void symtab_kexec(struct symtab *t, int line)
{
	for (int i = 0; i < t->n; i++)
		if (!t->s[i].gone_line)
			t->s[i].gone_line = line;
}

static int sym_add(struct symtab *t, const char *name, enum scn_sym_kind kind)
{
	struct sym *ns = krealloc_array(t->s, (size_t)t->n + 1, sizeof(*ns), GFP_KERNEL);

	if (!ns)
		return -ENOMEM;
	t->s = ns;
	t->s[t->n].name = kstrdup(name, GFP_KERNEL);
	if (!t->s[t->n].name)
		return -ENOMEM;
	t->s[t->n].gone_line = 0;
	t->s[t->n++].kind = kind;
	return 0;
}

static void symtab_free(struct symtab *t)
{
	for (int i = 0; i < t->n; i++)
		kfree(t->s[i].name);
	kfree(t->s);
}

enum scn_sym_kind scn_check_name(const void *symtab, const char *name)
{
	return sym_kind(symtab, name);
}

/* Built-in location names. */
static const char *const builtin_locations[] = { "free", "hugepage-2M", "hugepage-1G" };

/* NAME[+OFF] where NAME is a mapping, file, kernel allocation or a built-in; or a bare number. */
static int check_location(const struct symtab *t, const char *v, int line, int col,
			  struct scn_error *err)
{
	char name[64];
	const char *plus = strchr(v, '+');
	size_t nl = plus ? (size_t)(plus - v) : strlen(v);
	u64 off;
	enum scn_sym_kind k;
	char why[160];

	if (isdigit((unsigned char)v[0]))
		return scn_parse_num(v, &off) ?
			errorf(err, line, col, "'%s' is not a number", v) : 0;
	if (nl >= sizeof(name))
		return errorf(err, line, col, "name too long in location '%s'", v);
	memcpy(name, v, nl);
	name[nl] = '\0';
	if (plus && scn_parse_num(plus + 1, &off))
		return errorf(err, line, col + (int)nl + 1, "expected an offset after '+', found '%s'",
			      plus + 1);
	for (size_t i = 0; i < ARRAY_SIZE(builtin_locations); i++)
		if (!strcmp(name, builtin_locations[i]))
			return 0;
	/* kho:TOKEN+OFF: a page of the file preserved under TOKEN. */
	if (!strncmp(name, "kho:", 4))
		return scn_parse_num(name + 4, &off) ?
			errorf(err, line, col, "expected kho:TOKEN[+OFFSET], found '%s'", v) : 0;
	k = sym_kind(t, name);
	if (k != SYM_MAPPING && k != SYM_FILE && k != SYM_KERNEL)
		return errorf(err, line, col,
			      "expected a location (a mapping, file or kernel allocation, with +OFFSET), "
			      "found '%s'%s", name, sym_why(t, name, why, sizeof(why)));
	return 0;
}

int scn_check_location(const void *symtab, const char *v, int line, int col, struct scn_error *err)
{
	return check_location(symtab, v, line, col, err);
}

static int check_value(const struct symtab *t, char type, const struct scn_arg *a, int line,
		       struct scn_error *err)
{
	u64 n;
	int e;
	int col = a->col + (a->key ? (int)strlen(a->key) + 1 : 0);
	char why[160];

	switch (type) {
	case 'n':
		if (scn_parse_num(a->val, &n))
			return errorf(err, line, col, "expected a number or size for %s, found '%s'",
				      a->key ? a->key : "the argument", a->val);
		return 0;
	case 'e':
		if (!errno_parse(a->val, &e) || !strcmp(a->val, "0"))
			return 0;
		if (a->val[0] == '-' && !scn_parse_num(a->val + 1, &n))
			return 0;
		if (!scn_parse_num(a->val, &n))
			return 0;
		return errorf(err, line, col, "expected a return value (0, a number or -EBUSY), found '%s'",
			      a->val);
	case 'b':
		if (!strcmp(a->val, "yes") || !strcmp(a->val, "no"))
			return 0;
		return errorf(err, line, col, "expected yes or no for %s, found '%s'", a->key, a->val);
	case 'l':
		return check_location(t, a->val, line, col, err);
	case 'F':
		if (sym_kind(t, a->val) != SYM_FILE)
			return errorf(err, line, col, "expected a file for %s, found '%s'%s", a->key, a->val,
				      sym_why(t, a->val, why, sizeof(why)));
		return 0;
	case 'T':
		if (sym_kind(t, a->val) != SYM_PROCESS && sym_kind(t, a->val) != SYM_THREAD)
			return errorf(err, line, col, "expected a task for %s, found '%s'%s", a->key, a->val,
				      sym_why(t, a->val, why, sizeof(why)));
		return 0;
	case 'V':
		if (sym_kind(t, a->val) != SYM_VM)
			return errorf(err, line, col, "expected a VM for %s, found '%s'%s", a->key, a->val,
				      sym_why(t, a->val, why, sizeof(why)));
		return 0;
	case 'G':
		if (sym_kind(t, a->val) != SYM_CGROUP)
			return errorf(err, line, col, "expected a cgroup for %s, found '%s'%s", a->key, a->val,
				      sym_why(t, a->val, why, sizeof(why)));
		return 0;
	default:
		return 0;
	}
}

static int check_positional(const struct scn_verb *v, struct symtab *t, char kind,
			    const struct scn_arg *a, int line, struct scn_error *err)
{
	enum scn_sym_kind k;
	char why[160];

	if (a->quoted && kind != 'S' && kind != 'X')
		return errorf(err, line, a->col, "expected a name, found a string");
	switch (kind) {
	case 'N':
		if (!scn_valid_name(a->val))
			return errorf(err, line, a->col,
				      "'%s' is not a valid name (letters, digits, '_' and '-', not first a digit)",
				      a->val);
		if (sym_kind(t, a->val) != SYM_NONE)
			return errorf(err, line, a->col, "'%s' is already defined", a->val);
		for (size_t i = 0; i < ARRAY_SIZE(builtin_locations); i++)
			if (!strcmp(a->val, builtin_locations[i]))
				return errorf(err, line, a->col, "'%s' is a reserved name", a->val);
		return sym_add(t, a->val, v->defines);
	case 'P': case 'T': case 'M': case 'F': case 'K': case 'I': case 'V': case 'C': case 'G': {
		static const struct { char c; enum scn_sym_kind k; const char *what; } want[] = {
			{ 'P', SYM_PROCESS, "a process" }, { 'T', SYM_PROCESS, "a task" },
			{ 'M', SYM_MAPPING, "a mapping" }, { 'F', SYM_FILE, "a file" },
			{ 'K', SYM_KERNEL, "a kernel allocation" }, { 'I', SYM_PIN, "a pin" },
			{ 'V', SYM_VM, "a VM" }, { 'C', SYM_VCPU, "a vCPU" },
			{ 'G', SYM_CGROUP, "a cgroup" },
		};

		k = sym_kind(t, a->val);
		for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
			if (want[i].c != kind)
				continue;
			if (k == want[i].k || (kind == 'T' && k == SYM_THREAD))
				return 0;
			return errorf(err, line, a->col, "expected %s, found '%s'%s", want[i].what, a->val,
				      sym_why(t, a->val, why, sizeof(why)));
		}
		return 0;
	}
	case 'L':
		return check_location(t, a->val, line, a->col, err);
	case 'W':
		for (int i = 0; v->words && v->words[i]; i++)
			if (!strcmp(v->words[i], a->val))
				return 0;
		{
			char list[200] = "";

			for (int i = 0; v->words && v->words[i]; i++) {
				strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
				strncat(list, v->words[i], sizeof(list) - strlen(list) - 1);
			}
			return errorf(err, line, a->col, "expected one of %s, found '%s'", list, a->val);
		}
	default:
		return 0;
	}
}

static int check_stmt(struct scn_stmt *st, struct symtab *t, bool *ops_seen, struct scn_error *err)
{
	const struct scn_verb *v = scn_find_verb(st->verb);
	int npos = 0, nreq, nopt, ret;

	if (!v)
		return errorf(err, st->line, st->col, "unknown verb '%s' (see docs/scenario-language.md)",
			      st->verb);
	st->v = v;
	if (st->guard_key && v->defines != SYM_NONE)
		return errorf(err, st->line, st->col,
			      "a guarded line cannot define a name: define %s on every run", v->name);
	if (st->guard_key && v->kexec)
		return errorf(err, st->line, st->col, "a guarded line cannot be %s: it ends the host's names on every run",
			      v->name);
	if (v->setup && *ops_seen)
		return errorf(err, st->line, st->col, "'%s' must come before the first operation", v->name);
	if (!v->setup)
		*ops_seen = true;
	nreq = (int)strlen(v->pos);
	nopt = v->opt_pos ? (int)strlen(v->opt_pos) : 0;
	for (int i = 0; i < st->nargs; i++) {
		const struct scn_arg *a = &st->args[i];
		const struct scn_key *k;

		if (!a->key) {
			char kind;

			if (npos >= nreq + nopt)
				return errorf(err, st->line, a->col, "unexpected argument '%s' for %s", a->val,
					      v->name);
			kind = npos < nreq ? v->pos[npos] : v->opt_pos[npos - nreq];
			ret = check_positional(v, t, kind, a, st->line, err);
			if (ret)
				return ret;
			npos++;
			continue;
		}
		for (k = v->keys; k && k->name; k++)
			if (!strcmp(k->name, a->key))
				break;
		if (!k || !k->name) {
			/* Expectations take open-ended keys (counters, sysctls); the run checks them. */
			if (v->expectation || v->open_keys)
				continue;
			return errorf(err, st->line, a->col, "unknown key '%s' for %s", a->key, v->name);
		}
		for (int j = 0; j < i; j++)
			if (st->args[j].key && !strcmp(st->args[j].key, a->key))
				return errorf(err, st->line, a->col, "'%s' given twice", a->key);
		ret = check_value(t, k->type, a, st->line, err);
		if (ret)
			return ret;
	}
	if (npos < nreq)
		return errorf(err, st->line, st->col + (int)strlen(st->verb) + 1,
			      "%s needs %d argument%s (%s), found %d", v->name, nreq, nreq > 1 ? "s" : "",
			      v->help, npos);
	for (const struct scn_key *k = v->keys; k && k->name; k++)
		if (k->required && !scn_arg_find(st, k->name))
			return errorf(err, st->line, st->col, "%s needs %s=", v->name, k->name);
	if (v->check) {
		ret = v->check(st, t, err);
		if (ret)
			return ret;
	}
	if (st->inline_expect) {
		if (v->expectation || v->setup)
			return errorf(err, st->line, st->inline_expect->col, "'=>' only follows an operation");
		ret = check_stmt(st->inline_expect, t, ops_seen, err);
		if (ret)
			return ret;
	}
	/* After the expectations on its line, which still see the old host's names. */
	if (v->kexec)
		symtab_kexec(t, st->line);
	return 0;
}

/*
 * The concurrent block: "concurrent", then lines "THREAD: operation", then
 * "end". Each thread's lines run in order; the explorer interleaves them.
 */
static int check_block(struct scn_file *f, struct scn_stmt *st, bool *in_block, struct scn_error *err)
{
	const char *v = st->verb;
	int i;

	if (!strcmp(v, "concurrent")) {
		if (*in_block)
			return errorf(err, st->line, st->col, "a concurrent block inside another (line %d)",
				      f->conc_line);
		if (f->conc_line)
			return errorf(err, st->line, st->col,
				      "only one concurrent block per file (the first is at line %d)",
				      f->conc_line);
		if (st->guard_key)
			return errorf(err, st->line, st->col, "a concurrent block cannot be guarded");
		f->conc_line = st->line;
		*in_block = true;
		return 0;
	}
	if (!strcmp(v, "end")) {
		if (!*in_block)
			return errorf(err, st->line, st->col, "'end' without 'concurrent'");
		if (st->guard_key)
			return errorf(err, st->line, st->col, "'end' cannot be guarded");
		if (f->nthreads < 2)
			return errorf(err, st->line, st->col,
				      "a concurrent block needs at least two threads, found %d", f->nthreads);
		*in_block = false;
		return 0;
	}
	if (!*in_block) {
		if (st->thread)
			return errorf(err, st->line, st->thread_col,
				      "'%s:' names a model thread: only inside concurrent ... end", st->thread);
		return 0;
	}
	if (!st->thread)
		return errorf(err, st->line, st->col,
			      "expected 'THREAD: %s ...' inside the concurrent block (line %d)", v, f->conc_line);
	if (st->v->setup || st->v->expectation || st->v->kexec)
		return errorf(err, st->line, st->col,
			      "'%s' cannot run in a concurrent block: only operations%s", v,
			      st->v->kexec ? " (and not a kexec)" : "");
	/*
	 * A name defined in the block exists only once its thread got there:
	 * no line of the block may use it (the lines after end may).
	 */
	for (int a = 0, npos = 0; a < st->nargs; a++) {
		const char *val = st->args[a].val;
		size_t vl = strcspn(val, "+");

		if (!st->args[a].key && npos++ < (int)strlen(st->v->pos) && st->v->pos[npos - 1] == 'N') {
			/* The name it defines. */
			f->block_names = krealloc_array(f->block_names, (size_t)f->nblock_names + 1,
							sizeof(*f->block_names), __GFP_NOFAIL);
			f->block_names[f->nblock_names++] = kstrdup(val, __GFP_NOFAIL);
			continue;
		}
		for (int b = 0; b < f->nblock_names; b++)
			if (strlen(f->block_names[b]) == vl && !strncmp(f->block_names[b], val, vl))
				return errorf(err, st->line, st->args[a].col,
					      "'%s' is defined inside the concurrent block: use it after 'end'",
					      f->block_names[b]);
	}
	if (st->inline_expect)
		return errorf(err, st->line, st->inline_expect->col,
			      "no '=>' in a concurrent block: its outcome depends on the schedule; "
			      "state what must hold after 'end'");
	if (st->guard_key)
		return errorf(err, st->line, st->col, "a line in a concurrent block cannot be guarded");
	for (i = 0; i < f->nthreads; i++)
		if (!strcmp(f->threads[i], st->thread))
			break;
	if (i == f->nthreads) {
		if (f->nthreads == SCN_MAX_THREADS)
			return errorf(err, st->line, st->col, "at most %d threads in a concurrent block",
				      SCN_MAX_THREADS);
		f->threads = krealloc_array(f->threads, (size_t)f->nthreads + 1, sizeof(*f->threads),
					    __GFP_NOFAIL);
		f->threads[f->nthreads++] = kstrdup(st->thread, __GFP_NOFAIL);
	}
	st->thread_idx = i;
	return 0;
}

int scn_parse(const char *path, const char *text, size_t len, struct scn_file **out,
	      struct scn_error *err)
{
	struct scn_file *f = kzalloc(sizeof(*f), GFP_KERNEL);
	struct symtab syms = { 0 };
	bool ops_seen = false, in_block = false;
	size_t pos = 0;
	int lineno = 0, ret = 0;

	memset(err, 0, sizeof(*err));
	if (!f)
		return -ENOMEM;
	f->path = kstrdup(path, GFP_KERNEL);
	if (!f->path) {
		ret = -ENOMEM;
		goto fail;
	}
	if (memchr(text, '\0', len)) {
		ret = errorf(err, 1, 1, "the file contains a NUL byte (expected text)");
		goto fail;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		if (l > 4096) {
			ret = errorf(err, lineno, 4097, "line longer than 4096 characters");
			goto fail;
		}
		ret = parse_line(f, text + pos, l, lineno, err);
		if (ret)
			goto fail;
		pos += l + (nl ? 1 : 0);
	}
	for (int i = 0; i < f->n; i++) {
		struct scn_stmt *st = &f->stmts[i];

		if (!strcmp(st->verb, "vary")) {
			const struct scn_arg *a = st->nargs == 1 ? &st->args[0] : NULL;

			if (f->vary_key) {
				ret = errorf(err, st->line, st->col, "only one 'vary' per file");
				goto fail;
			}
			if (!a || !a->key) {
				ret = errorf(err, st->line, st->col,
					     "expected vary KEY=V1,V2 (e.g. vary panic_rule=mainline,v4,v9)");
				goto fail;
			}
			f->vary_key = kstrdup(a->key, GFP_KERNEL);
			if (!f->vary_key || split_list(a->val, &f->vary_vals, &f->nvary)) {
				ret = -ENOMEM;
				goto fail;
			}
			f->vary_line = st->line;
			if (scn_switch_find(f->vary_key)) {
				const struct scn_switch *sw = scn_switch_find(f->vary_key);
				char vals[128];

				for (int k = 0; k < f->nvary; k++) {
					if (scn_switch_value(sw, f->vary_vals[k]) >= 0)
						continue;
					ret = errorf(err, st->line, a->col, "%s must be %s, not '%s'", f->vary_key,
						     scn_switch_values(sw, vals, sizeof(vals)), f->vary_vals[k]);
					goto fail;
				}
			} else if (!strcmp(f->vary_key, "arch") || !strcmp(f->vary_key, "apei")) {
				for (int k = 0; k < f->nvary; k++)
					if (strcmp(f->vary_vals[k], "x86") && strcmp(f->vary_vals[k], "arm64") &&
					    strcmp(f->vary_vals[k], "yes") && strcmp(f->vary_vals[k], "no")) {
						ret = errorf(err, st->line, a->col, "unknown value '%s' for %s",
							     f->vary_vals[k], f->vary_key);
						goto fail;
					}
			} else if (strncmp(f->vary_key, "vm.", 3)) {
				ret = errorf(err, st->line, a->col,
					     "vary takes panic_rule, mf_delayed_fix, gmem_mf_stage, gmem_mf_kill, tdx_bug, split_poison, "
					     "kho_poison, arch, apei "
					     "or a vm.* sysctl, not '%s'",
					     f->vary_key);
				goto fail;
			}
			if (f->nvary > 16) {
				ret = errorf(err, st->line, a->col, "at most 16 values to vary");
				goto fail;
			}
		}
		ret = check_stmt(st, &syms, &ops_seen, err);
		if (ret)
			goto fail;
		ret = check_block(f, st, &in_block, err);
		if (ret)
			goto fail;
		if (st->guard_key && (!f->vary_key || strcmp(st->guard_key, f->vary_key))) {
			ret = errorf(err, st->line, 1, "the guard [%s=...] needs 'vary %s=...' before it",
				     st->guard_key, st->guard_key);
			goto fail;
		}
		for (int g = 0; g < st->nguard; g++) {
			bool known = false;

			for (int k = 0; k < f->nvary; k++)
				known |= !strcmp(st->guard_vals[g], f->vary_vals[k]);
			if (!known) {
				ret = errorf(err, st->line, 2, "'%s' is not one of the values of vary %s",
					     st->guard_vals[g], f->vary_key);
				goto fail;
			}
		}
	}
	if (in_block) {
		ret = errorf(err, f->conc_line, 1, "the concurrent block has no 'end'");
		goto fail;
	}
	symtab_free(&syms);
	*out = f;
	return 0;
fail:
	symtab_free(&syms);
	scn_file_free(f);
	if (ret == -ENOMEM && !err->msg[0])
		errorf(err, lineno, 1, "out of memory");
	return ret ? ret : -EINVAL;
}
