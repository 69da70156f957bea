// SPDX-License-Identifier: MIT
/* The sync layer's out-of-line parts: see sync.h. */
#include <stdio.h>

#include "base/sync.h"

const char *const sync_op_names[SYNC_NR_OPS] = {
	[SYNC_LOCK] = "lock",
	[SYNC_LOCK_READ] = "lock_read",
	[SYNC_UNLOCK] = "unlock",
	[SYNC_ATOMIC] = "atomic",
	[SYNC_ATOMIC_READ] = "atomic_read",
	[SYNC_YIELD] = "yield",
};

const struct sync_hooks *sync_hooks_installed;
static unsigned long findings;
static unsigned int held;

unsigned int sync_locks_held(void) { return held; }

const struct sync_hooks *sync_set_hooks(const struct sync_hooks *hooks)
{
	const struct sync_hooks *old = sync_hooks_installed;

	sync_hooks_installed = hooks;
	return old;
}

unsigned long sync_findings(void) { return findings; }
void sync_findings_reset(void) { findings = 0; }

void __sync_point(enum sync_op op, const void *obj, const char *name)
{
	const struct sync_hooks *h = sync_hooks_installed;

	h->point(h->ctx, op, obj, name);
}

unsigned long __sync_self(void)
{
	const struct sync_hooks *h = sync_hooks_installed;

	return h ? h->self(h->ctx) : 1;
}

/* Wait until @obj may have changed. Returns false when nobody else can run. */
static bool wait_for(const void *obj, const char *name)
{
	const struct sync_hooks *h = sync_hooks_installed;

	if (!h) {
		findings++;
		fprintf(stderr, "gmf: sync: %s would block forever (self-deadlock)\n", name);
		return false;
	}
	h->block(h->ctx, obj, name);
	return true;
}

void __sync_block(const void *obj, const char *name)
{
	(void)wait_for(obj, name);
}

void mutex_lock(struct mutex *m)
{
	sync_point(SYNC_LOCK, m, m->name);
	while (m->owner)
		if (!wait_for(m, m->name))
			break;
	m->owner = __sync_self();
	held++;
}

bool mutex_trylock(struct mutex *m)
{
	sync_point(SYNC_LOCK, m, m->name);
	if (m->owner)
		return false;
	m->owner = __sync_self();
	held++;
	return true;
}

void mutex_unlock(struct mutex *m)
{
	if (!m->owner) {
		findings++;
		fprintf(stderr, "gmf: sync: unlock of %s, which is not locked\n", m->name);
	} else {
		held--;
	}
	m->owner = 0;
	sync_point(SYNC_UNLOCK, m, m->name);
}

bool mutex_is_locked(const struct mutex *m)
{
	return m->owner != 0;
}

void down_read(struct rw_semaphore *s)
{
	sync_point(SYNC_LOCK_READ, s, s->name);
	while (s->writer)
		if (!wait_for(s, s->name))
			break;
	s->readers++;
	held++;
}

void up_read(struct rw_semaphore *s)
{
	if (!s->readers) {
		findings++;
	} else {
		s->readers--;
		held--;
	}
	sync_point(SYNC_UNLOCK, s, s->name);
}

void down_write(struct rw_semaphore *s)
{
	sync_point(SYNC_LOCK, s, s->name);
	while (s->writer || s->readers)
		if (!wait_for(s, s->name))
			break;
	s->writer = __sync_self();
	held++;
}

void up_write(struct rw_semaphore *s)
{
	if (!s->writer)
		findings++;
	else
		held--;
	s->writer = 0;
	sync_point(SYNC_UNLOCK, s, s->name);
}

void sync_lock_bit(unsigned long *word, unsigned int bit, const void *obj, const char *name)
{
	sync_point(SYNC_LOCK, obj, name);
	while (*word & (1UL << bit))
		if (!wait_for(obj, name))
			break;
	*word |= 1UL << bit;
	held++;
}

void sync_unlock_bit(unsigned long *word, unsigned int bit, const void *obj, const char *name)
{
	if (!(*word & (1UL << bit))) {
		findings++;
		fprintf(stderr, "gmf: sync: unlock of %s, which is not locked\n", name);
	} else {
		held--;
	}
	*word &= ~(1UL << bit);
	sync_point(SYNC_UNLOCK, obj, name);
}
