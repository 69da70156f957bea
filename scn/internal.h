/* SPDX-License-Identifier: MIT */
/* Shared between the scenario parser, checker and interpreter. */
#ifndef GMF_SCN_INTERNAL_H
#define GMF_SCN_INTERNAL_H

#include "scn/scn.h"

/* Kinds of named objects a scenario defines. */
enum scn_sym_kind {
	SYM_NONE,
	SYM_PROCESS,
	SYM_THREAD,
	SYM_MAPPING,
	SYM_FILE,
	SYM_KERNEL,	/* a kernel-owned allocation */
	SYM_PIN,
	SYM_VM,
	SYM_VCPU,
	SYM_CGROUP,
	__NR_SYMS,
};

extern const char *const scn_sym_kind_names[__NR_SYMS];

/*
 * Positional argument kinds of a verb, one letter each:
 *   N  a new name (defines a symbol; its kind is the verb's defines)
 *   P  a process          T  a task (process or thread)
 *   M  a mapping          F  a file          K  a kernel allocation
 *   I  a pin              L  a location      W  a word from the verb's words list
 *   V  a VM               C  a vCPU          G  a cgroup
 *   S  a string           X  any word
 * Key types: n number/size, l location, w word, s string, e errno or number,
 * b yes/no, f flag list (A|B), F a file, T a task, G a cgroup.
 */
struct scn_key {
	const char *name;
	char type;
	bool required;
};

struct scn_ctx;

struct scn_verb {
	const char *name;
	const char *pos;		/* required positional kinds */
	const char *opt_pos;		/* optional positional kinds after them */
	const struct scn_key *keys;
	const char *const *words;	/* allowed values for W positionals */
	enum scn_sym_kind defines;	/* kind of the N positional */
	bool setup;			/* host, vary: before any operation */
	bool expectation;
	bool open_keys;		/* any key; the check hook validates them */
	bool kexec;		/* ends the host: later lines cannot name its objects */
	int (*run)(struct scn_ctx *ctx, const struct scn_stmt *st);
	/* Extra parse-time checks; names are looked up with scn_check_name(). */
	int (*check)(const struct scn_stmt *st, const void *symtab, struct scn_error *err);
	const char *help;
};

const struct scn_verb *scn_find_verb(const char *name);
extern const struct scn_verb scn_verbs[];
extern const int scn_nr_verbs;

const char *scn_arg(const struct scn_stmt *st, const char *key);
const struct scn_arg *scn_arg_find(const struct scn_stmt *st, const char *key);
/* The i-th positional argument, or NULL. */
const struct scn_arg *scn_pos(const struct scn_stmt *st, int i);

/* Parse-time lookups for verbs' check hooks. */
enum scn_sym_kind scn_check_name(const void *symtab, const char *name);
int scn_check_location(const void *symtab, const char *v, int line, int col, struct scn_error *err);
int scn_errorf(struct scn_error *err, int line, int col, const char *fmt, ...) __printf(4, 5);

/* Numbers: 0x1f, 4096, 64K, 2M, 1G, 16T. 0 or -EINVAL. */
int scn_parse_num(const char *s, u64 *out);
bool scn_valid_name(const char *s);

/* switch.c: the switches `switch` sets and `vary` varies. */
enum scn_switch_id {
	SCN_SW_PANIC_RULE,
	SCN_SW_MF_DELAYED_FIX,
	SCN_SW_GMEM_MF_STAGE,
	SCN_SW_GMEM_MF_KILL,
	SCN_SW_TDX_BUG,
	SCN_SW_SPLIT_POISON,
	SCN_SW_KHO_POISON,
	__NR_SCN_SWITCHES,
};

struct scn_switch {
	const char *key;
	const char *const *vals;	/* index = the model's enum value */
	int nvals;
};

extern const struct scn_switch scn_switches[__NR_SCN_SWITCHES];
const struct scn_switch *scn_switch_find(const char *key);
/* The index of @val among @sw's values, or -1. */
int scn_switch_value(const struct scn_switch *sw, const char *val);
/* "a, b or c" into @buf. */
const char *scn_switch_values(const struct scn_switch *sw, char *buf, size_t len);

#endif
