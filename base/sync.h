/* SPDX-License-Identifier: MIT */
/*
 * The sync layer: every lock and atomic of model code goes through here.
 *
 * Model threads never run truly in parallel: at most one runs at a time
 * (the explorer passes a baton between them), so the operations below need
 * no hardware atomics. What they do need is a hook before each one, where a
 * scheduler may switch to another model thread; that is where interleavings
 * happen. With no hooks installed (the default) each operation is a plain
 * memory access plus one predictable branch.
 *
 * A lock that is held by another model thread makes the caller block through
 * the hooks; with no hooks installed there is only one thread, so finding a
 * lock held is a self-deadlock, recorded as a finding (sync_findings()).
 */
#ifndef GMF_BASE_SYNC_H
#define GMF_BASE_SYNC_H

#include <stdbool.h>
#include "base/compiler.h"
#include "base/types.h"

enum sync_op {
	SYNC_LOCK,		/* mutex_lock, spin_lock, down_write */
	SYNC_LOCK_READ,		/* down_read */
	SYNC_UNLOCK,		/* mutex_unlock, spin_unlock, up_write, up_read */
	SYNC_ATOMIC,		/* an atomic read-modify-write */
	SYNC_ATOMIC_READ,	/* an atomic load */
	SYNC_YIELD,		/* an explicit sync_yield("label") */
	SYNC_NR_OPS,
};

extern const char *const sync_op_names[SYNC_NR_OPS];

struct sync_hooks {
	/* Called before each operation; may switch to another model thread. */
	void (*point)(void *ctx, enum sync_op op, const void *obj, const char *name);
	/* The caller cannot take @obj: run others until it may have been released. */
	void (*block)(void *ctx, const void *obj, const char *name);
	/* An identifier of the running model thread, never 0. */
	unsigned long (*self)(void *ctx);
	void *ctx;
};

/* Install (or with NULL remove) the hooks. Returns the previous ones. */
const struct sync_hooks *sync_set_hooks(const struct sync_hooks *hooks);
extern const struct sync_hooks *sync_hooks_installed;

/* Locks held now, by any model thread (the explorer checks invariants at 0). */
unsigned int sync_locks_held(void);

/* Self-deadlocks and unbalanced unlocks seen with no scheduler installed. */
unsigned long sync_findings(void);
void sync_findings_reset(void);

void __sync_point(enum sync_op op, const void *obj, const char *name);
void __sync_block(const void *obj, const char *name);
unsigned long __sync_self(void);

static inline void sync_point(enum sync_op op, const void *obj, const char *name)
{
	if (unlikely(sync_hooks_installed))
		__sync_point(op, obj, name);
}

static inline void sync_yield(const char *label)
{
	sync_point(SYNC_YIELD, label, label);
}

/* ---- sleeping and spinning locks ----------------------------------------- */

struct mutex {
	unsigned long owner;	/* model thread id, 0 when free */
	const char *name;
};

typedef struct mutex spinlock_t;

#define DEFINE_MUTEX_INIT(n) { .owner = 0, .name = (n) }

static inline void mutex_init(struct mutex *m, const char *name)
{
	m->owner = 0;
	m->name = name;
}

void mutex_lock(struct mutex *m);
bool mutex_trylock(struct mutex *m);
void mutex_unlock(struct mutex *m);
bool mutex_is_locked(const struct mutex *m);

#define spin_lock_init(l, n)	mutex_init(l, n)
#define spin_lock(l)		mutex_lock(l)
#define spin_unlock(l)		mutex_unlock(l)

struct rw_semaphore {
	unsigned long writer;	/* model thread id, 0 when no writer */
	unsigned int readers;
	const char *name;
};

static inline void init_rwsem(struct rw_semaphore *s, const char *name)
{
	s->writer = 0;
	s->readers = 0;
	s->name = name;
}

void down_read(struct rw_semaphore *s);
void up_read(struct rw_semaphore *s);
void down_write(struct rw_semaphore *s);
void up_write(struct rw_semaphore *s);

/*
 * A sleeping lock that is one bit of a word (the folio lock: PG_locked).
 * @obj names it to the scheduler; it must outlive every waiter.
 */
void sync_lock_bit(unsigned long *word, unsigned int bit, const void *obj, const char *name);
void sync_unlock_bit(unsigned long *word, unsigned int bit, const void *obj, const char *name);

/* ---- atomics ------------------------------------------------------------- */

typedef struct { int counter; } atomic_t;
typedef struct { long counter; } atomic_long_t;

#define ATOMIC_INIT(i) { (i) }

static inline int atomic_read(const atomic_t *v)
{
	sync_point(SYNC_ATOMIC_READ, v, "atomic_read");
	return v->counter;
}

static inline void atomic_set(atomic_t *v, int i)
{
	sync_point(SYNC_ATOMIC, v, "atomic_set");
	v->counter = i;
}

static inline int atomic_add_return(int i, atomic_t *v)
{
	sync_point(SYNC_ATOMIC, v, "atomic_add_return");
	return v->counter += i;
}

static inline void atomic_inc(atomic_t *v) { (void)atomic_add_return(1, v); }
static inline void atomic_dec(atomic_t *v) { (void)atomic_add_return(-1, v); }
static inline void atomic_add(int i, atomic_t *v) { (void)atomic_add_return(i, v); }
static inline bool atomic_dec_and_test(atomic_t *v) { return atomic_add_return(-1, v) == 0; }

/* Add @a unless the value is @u; returns whether it added. */
static inline bool atomic_add_unless(atomic_t *v, int a, int u)
{
	sync_point(SYNC_ATOMIC, v, "atomic_add_unless");
	if (v->counter == u)
		return false;
	v->counter += a;
	return true;
}

static inline bool atomic_inc_not_zero(atomic_t *v) { return atomic_add_unless(v, 1, 0); }

static inline int atomic_cmpxchg(atomic_t *v, int old, int new)
{
	int cur;

	sync_point(SYNC_ATOMIC, v, "atomic_cmpxchg");
	cur = v->counter;
	if (cur == old)
		v->counter = new;
	return cur;
}

static inline long atomic_long_read(const atomic_long_t *v)
{
	sync_point(SYNC_ATOMIC_READ, v, "atomic_long_read");
	return v->counter;
}

static inline void atomic_long_set(atomic_long_t *v, long i)
{
	sync_point(SYNC_ATOMIC, v, "atomic_long_set");
	v->counter = i;
}

static inline long atomic_long_add_return(long i, atomic_long_t *v)
{
	sync_point(SYNC_ATOMIC, v, "atomic_long_add_return");
	return v->counter += i;
}

static inline void atomic_long_inc(atomic_long_t *v) { (void)atomic_long_add_return(1, v); }
static inline void atomic_long_dec(atomic_long_t *v) { (void)atomic_long_add_return(-1, v); }
static inline void atomic_long_add(long i, atomic_long_t *v) { (void)atomic_long_add_return(i, v); }
static inline void atomic_long_sub(long i, atomic_long_t *v) { (void)atomic_long_add_return(-i, v); }

/* Atomic bit operations on an unsigned long word (set_bit() and friends). */
static inline void set_bit(unsigned int nr, unsigned long *addr)
{
	sync_point(SYNC_ATOMIC, addr, "set_bit");
	*addr |= 1UL << nr;
}

static inline void clear_bit(unsigned int nr, unsigned long *addr)
{
	sync_point(SYNC_ATOMIC, addr, "clear_bit");
	*addr &= ~(1UL << nr);
}

static inline bool test_and_set_bit(unsigned int nr, unsigned long *addr)
{
	bool old;

	sync_point(SYNC_ATOMIC, addr, "test_and_set_bit");
	old = *addr & (1UL << nr);
	*addr |= 1UL << nr;
	return old;
}

static inline bool test_and_clear_bit(unsigned int nr, unsigned long *addr)
{
	bool old;

	sync_point(SYNC_ATOMIC, addr, "test_and_clear_bit");
	old = *addr & (1UL << nr);
	*addr &= ~(1UL << nr);
	return old;
}

/* A plain read: the kernel's test_bit() is not a read-modify-write either. */
static inline bool test_bit(unsigned int nr, const unsigned long *addr)
{
	return *addr & (1UL << nr);
}

#endif
