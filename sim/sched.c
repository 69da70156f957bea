// SPDX-License-Identifier: MIT
/* The race explorer's deterministic scheduler: see sched.h. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/prng.h"
#include "base/sync.h"
#include "sim/sched.h"

const char *const sched_strategy_names[] = {
	[SCHED_DFS] = "dfs", [SCHED_RANDOM] = "random", [SCHED_PCT] = "pct", [SCHED_REPLAY] = "replay",
};

enum tstate { T_READY, T_BLOCKED, T_DONE };

struct mthread {
	pthread_t th;
	struct explorer *x;
	int id;
	enum tstate state;
	const void *blocked_on;
	const char *blocked_name;
	/* Where it stopped last, formatted only for a switch's note. */
	enum { AT_OP, AT_BLOCKED, AT_END } at;
	enum sync_op at_op;
	const char *at_name;
	int prio;			/* pct */
};

/* A decision point of the last execution, for dfs backtracking. */
struct dpoint {
	u8 chosen;
	u8 enabled;			/* mask */
	u8 tried;			/* mask, dfs */
	s8 cur;				/* the running thread, -1 if it cannot go on */
	int preemptions;		/* before this point */
};

struct deviation {
	unsigned long step;
	int tid;
};

struct explorer {
	struct sched_opts o;
	int n;
	char **names;
	struct prng rng;
	unsigned long executions;
	bool started, exhausted;
	bool parked;			/* a deadlock left threads waiting on this explorer */
	bool last_parked;		/* the last execution did */
	unsigned int held_before;	/* locks held when the execution started (parked threads') */

	/* The execution. */
	const struct sched_thread_ops *ops;
	struct mthread t[SCHED_MAX_THREADS];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int running;			/* the baton: a thread id, or -1 */
	bool finished;			/* every thread ended, or the execution stopped */
	enum sched_outcome outcome;
	char why[512];
	int preemptions;

	/* The points of this execution (and the dfs stack). */
	struct dpoint *pts;
	unsigned long npts, cap;
	/* dfs: replay pts[0..forced) as chosen; replay/others: deviations. */
	unsigned long forced;
	struct deviation *dev;
	int ndev;
	int next_dev;
	/* pct */
	unsigned long change[8];
	int nchange;
	unsigned long pct_k;

	char *sched_str;
	size_t sched_len;
	const struct sync_hooks *old_hooks;
	struct sync_hooks hooks;
};

/*
 * The scheduler is no model code: its memory comes from libc, outside the
 * instrumented allocator's fault injection and per-test leak count (an
 * explorer with parked threads is kept for good).
 */
static void *xrealloc(void *p, size_t n, size_t size)
{
	size_t bytes = n * size;
	void *q = n && size > SIZE_MAX / n ? NULL : realloc(p, bytes > 0 ? bytes : 1);

	if (!q) {
		fprintf(stderr, "gmf: explore: out of memory\n");
		abort();
	}
	return q;
}

static void *xzalloc(size_t size)
{
	void *p = xrealloc(NULL, 1, size);

	memset(p, 0, size);
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xrealloc(NULL, 1, n), s, n);
}

/* The thread running now: the one the pthread is (a thread-local). */
static __thread struct mthread *self;
/* Inside the caller's check, whose own atomics are no decision points. */
static __thread bool in_check;

/* ---- schedule strings ---------------------------------------------------------- */

static int thread_by_name(const char *s, size_t len, int n, const char *const *names)
{
	char *end;
	long v;

	for (int i = 0; i < n; i++)
		if (names && strlen(names[i]) == len && !strncmp(names[i], s, len))
			return i;
	v = strtol(s, &end, 10);
	if (end == s + len && len && v >= 0 && v < n)
		return (int)v;
	return -1;
}

static int parse_devs(const char *s, int n, const char *const *names, struct deviation **out,
		      int *nout, char *why, size_t len)
{
	struct deviation *d = NULL;
	int nd = 0;
	unsigned long last = 0;
	const char *p = s;

	while (*p) {
		const char *comma = strchr(p, ','), *colon;
		size_t elen = comma ? (size_t)(comma - p) : strlen(p);
		char *end;
		unsigned long step;
		int tid;

		colon = memchr(p, ':', elen);
		step = strtoul(p, &end, 10);
		if (!colon || end != colon || colon == p) {
			snprintf(why, len, "schedule element %d ('%.*s'): expected STEP:THREAD",
				 nd + 1, (int)elen, p);
			goto bad;
		}
		tid = thread_by_name(colon + 1, elen - (size_t)(colon + 1 - p), n, names);
		if (tid < 0) {
			snprintf(why, len, "schedule element %d ('%.*s'): no thread '%.*s'", nd + 1,
				 (int)elen, p, (int)(elen - (size_t)(colon + 1 - p)), colon + 1);
			goto bad;
		}
		if (nd && step <= last) {
			snprintf(why, len, "schedule element %d ('%.*s'): steps must increase", nd + 1,
				 (int)elen, p);
			goto bad;
		}
		d = xrealloc(d, (size_t)nd + 1, sizeof(*d));
		d[nd].step = step;
		d[nd].tid = tid;
		nd++;
		last = step;
		p += elen;
		if (*p == ',') {
			p++;
			if (!*p) {
				snprintf(why, len, "schedule ends with ','");
				goto bad;
			}
		}
	}
	if (out)
		*out = d;
	else
		free(d);
	if (nout)
		*nout = nd;
	return 0;
bad:
	free(d);
	return -EINVAL;
}

int sched_parse(const char *s, int n, const char *const *names, char *why, size_t len)
{
	return parse_devs(s, n, names, NULL, NULL, why, len);
}

/* ---- the explorer --------------------------------------------------------------- */

struct explorer *explorer_new(const struct sched_opts *o, int n, const char *const *names,
			      char *why, size_t len)
{
	struct explorer *x;

	if (n < 1 || n > SCHED_MAX_THREADS) {
		snprintf(why, len, "%d threads: between 1 and %d", n, SCHED_MAX_THREADS);
		return NULL;
	}
	if (o->strategy == SCHED_DFS && (o->bound < 0 || o->bound > 64)) {
		snprintf(why, len, "bound %d: between 0 and 64", o->bound);
		return NULL;
	}
	if (o->strategy == SCHED_PCT && (o->depth < 1 || o->depth > 8)) {
		snprintf(why, len, "depth %d: between 1 and 8", o->depth);
		return NULL;
	}
	x = xzalloc(sizeof(*x));
	x->o = *o;
	x->o.schedule = NULL;
	x->n = n;
	x->names = xzalloc((size_t)n * sizeof(*x->names));
	for (int i = 0; i < n; i++) {
		char num[16];

		snprintf(num, sizeof(num), "%d", i);
		x->names[i] = xstrdup(names ? names[i] : num);
	}
	if (o->strategy == SCHED_REPLAY &&
	    parse_devs(o->schedule ? o->schedule : "", n, (const char *const *)x->names, &x->dev,
		       &x->ndev, why, len)) {
		explorer_free(x);
		return NULL;
	}
	prng_seed(&x->rng, o->seed);
	x->pct_k = 64;
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
	return x;
}

/* Explorers with parked threads: never freed, kept reachable. */
static struct explorer **kept;
static size_t nkept;

void explorer_free(struct explorer *x)
{
	if (!x)
		return;
	if (x->parked) {
		kept = xrealloc(kept, nkept + 1, sizeof(*kept));
		kept[nkept++] = x;
		return;
	}
	for (int i = 0; i < x->n; i++)
		free(x->names[i]);
	free(x->names);
	free(x->pts);
	free(x->dev);
	free(x->sched_str);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
	free(x);
}

/* dfs: the next prefix, or false when every schedule within the bound ran. */
static bool dfs_backtrack(struct explorer *x)
{
	while (x->npts) {
		struct dpoint *p = &x->pts[x->npts - 1];

		for (int a = 0; a < x->n; a++) {
			int cost;

			if (!(p->enabled & (1u << a)) || (p->tried & (1u << a)))
				continue;
			cost = p->cur >= 0 && a != p->cur;
			if (p->preemptions + cost > x->o.bound)
				continue;
			p->tried |= 1u << a;
			p->chosen = (u8)a;
			x->forced = x->npts;
			return true;
		}
		x->npts--;
	}
	return false;
}

bool explorer_next(struct explorer *x)
{
	if (x->exhausted)
		return false;
	if (!x->started) {
		x->started = true;
		x->npts = 0;
		x->forced = 0;
	} else {
		switch (x->o.strategy) {
		case SCHED_DFS:
			if (!dfs_backtrack(x)) {
				x->exhausted = true;
				return false;
			}
			break;
		case SCHED_REPLAY:
			x->exhausted = true;
			return false;
		default:
			break;
		}
	}
	if (x->o.strategy != SCHED_DFS) {
		x->npts = 0;
		x->forced = 0;
	}
	if (x->o.strategy == SCHED_PCT) {
		/* Priorities depth .. depth + n - 1 in a random order; change points below. */
		int perm[SCHED_MAX_THREADS];

		for (int i = 0; i < x->n; i++)
			perm[i] = i;
		for (int i = x->n - 1; i > 0; i--) {
			int j = (int)prng_below(&x->rng, (u64)i + 1), t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
		}
		for (int i = 0; i < x->n; i++)
			x->t[perm[i]].prio = x->o.depth + i;
		x->nchange = x->o.depth - 1;
		for (int i = 0; i < x->nchange; i++)
			x->change[i] = prng_below(&x->rng, x->pct_k);
	}
	x->next_dev = 0;
	x->executions++;
	return true;
}

static int default_choice(const struct explorer *x, int cur, unsigned int enabled)
{
	if (cur >= 0 && (enabled & (1u << cur)))
		return cur;
	for (int i = 0; i < x->n; i++)
		if (enabled & (1u << i))
			return i;
	return -1;
}

/* Pick the next thread at a decision point; -1 with the outcome set when none may. */
static int choose(struct explorer *x, int cur)
{
	unsigned int enabled = 0;
	unsigned long step = x->npts;
	struct dpoint *p;
	int c = -1;

	for (int i = 0; i < x->n; i++)
		if (x->t[i].state == T_READY)
			enabled |= 1u << i;
	if (cur >= 0 && x->t[cur].state != T_READY)
		cur = -1;
	if (!enabled)
		return -1;
	if (step < x->forced) {
		c = x->pts[step].chosen;
		if (!(enabled & (1u << c)) || x->pts[step].enabled != enabled) {
			/* The model is not deterministic: the same prefix went elsewhere. */
			x->outcome = SCHED_BAD_SCHEDULE;
			snprintf(x->why, sizeof(x->why),
				 "step %lu: the replayed prefix no longer fits (the model is not deterministic)",
				 step);
			return -1;
		}
		goto record;
	}
	switch (x->o.strategy) {
	case SCHED_DFS:
		c = default_choice(x, cur, enabled);
		break;
	case SCHED_RANDOM: {
		int k = (int)prng_below(&x->rng, (u64)__builtin_popcount(enabled));

		for (int i = 0; i < x->n; i++)
			if ((enabled & (1u << i)) && !k--) {
				c = i;
				break;
			}
		break;
	}
	case SCHED_PCT:
		for (int i = 0; i < x->nchange; i++)
			if (x->change[i] == step && cur >= 0)
				x->t[cur].prio = x->o.depth - 1 - i;
		for (int i = 0; i < x->n; i++)
			if ((enabled & (1u << i)) && (c < 0 || x->t[i].prio > x->t[c].prio))
				c = i;
		break;
	case SCHED_REPLAY:
		c = default_choice(x, cur, enabled);
		if (x->next_dev < x->ndev && x->dev[x->next_dev].step == step) {
			c = x->dev[x->next_dev++].tid;
			if (!(enabled & (1u << c))) {
				x->outcome = SCHED_BAD_SCHEDULE;
				snprintf(x->why, sizeof(x->why),
					 "schedule: at step %lu thread '%s' cannot run (%s)", step,
					 x->names[c], x->t[c].state == T_DONE ? "it has ended" :
					 "it is blocked");
				return -1;
			}
		}
		break;
	}
record:
	if (step >= x->cap) {
		x->cap = x->cap ? x->cap * 2 : 256;
		x->pts = xrealloc(x->pts, x->cap, sizeof(*x->pts));
	}
	p = &x->pts[step];
	if (step >= x->forced) {
		p->enabled = (u8)enabled;
		p->tried = (u8)(1u << c);
		p->cur = (s8)cur;
		p->preemptions = x->preemptions;
	}
	p->chosen = (u8)c;
	if (cur >= 0 && c != cur)
		x->preemptions++;
	x->npts = step + 1;
	return c;
}

/* The caller's note of a switch from @from, which is where it stopped last. */
static void switched(struct explorer *x, int from, int to)
{
	const struct mthread *t = &x->t[from];
	char what[96];

	if (t->at == AT_OP)
		snprintf(what, sizeof(what), "%s %s", sync_op_names[t->at_op], t->at_name);
	else if (t->at == AT_BLOCKED)
		snprintf(what, sizeof(what), "blocked on %s", t->at_name);
	else
		snprintf(what, sizeof(what), "its end");
	x->ops->switched(x->ops->arg, x->npts - 1, from, to, what);
}

/* Called with x->mu held by the thread giving up the baton (or main: from -1). */
static void hand_over(struct explorer *x, int from)
{
	int next = choose(x, from);

	if (from >= 0 && x->ops->switch_out && next != from)
		x->ops->switch_out(x->ops->arg, from);
	if (next < 0) {
		bool left = false;

		for (int i = 0; i < x->n; i++)
			left |= x->t[i].state != T_DONE;
		if (left && x->outcome == SCHED_OK) {
			size_t o = 0;

			x->outcome = SCHED_DEADLOCK;
			o += (size_t)snprintf(x->why, sizeof(x->why), "deadlock:");
			for (int i = 0, k = 0; i < x->n && o < sizeof(x->why); i++)
				if (x->t[i].state == T_BLOCKED)
					o += (size_t)snprintf(x->why + o, sizeof(x->why) - o,
							      "%s %s waits for %s", k++ ? ";" : "",
							      x->names[i], x->t[i].blocked_name);
		}
		x->finished = true;
		x->running = -1;
		pthread_cond_broadcast(&x->cv);
		return;
	}
	x->running = next;
	if (next != from && from >= 0 && x->ops->switched)
		switched(x, from, next);
	if (next != from) {
		if (x->ops->switch_in)
			x->ops->switch_in(x->ops->arg, next);
		pthread_cond_broadcast(&x->cv);
	}
}

/* Wait for the baton. A stopped execution parks the thread for good. */
static void wait_turn(struct explorer *x, struct mthread *t)
{
	while (x->running != t->id || x->finished)
		pthread_cond_wait(&x->cv, &x->mu);
}

static void hook_point(void *ctx, enum sync_op op, const void *obj, const char *name)
{
	struct explorer *x = ctx;
	struct mthread *t = self;

	if (!t || in_check)
		return;		/* the main thread, outside the execution; or the check */
	pthread_mutex_lock(&x->mu);
	t->at = AT_OP;
	t->at_op = op;
	t->at_name = name;
	if (op == SYNC_UNLOCK)
		for (int i = 0; i < x->n; i++)
			if (x->t[i].state == T_BLOCKED && x->t[i].blocked_on == obj)
				x->t[i].state = T_READY;
	if (x->outcome == SCHED_OK && x->ops->check) {
		char why[400] = "";
		int broken;

		in_check = true;
		broken = x->ops->check(x->ops->arg, sync_locks_held() != x->held_before, why,
				       sizeof(why));
		in_check = false;
		if (broken) {
			x->outcome = SCHED_CHECK_FAILED;
			snprintf(x->why, sizeof(x->why), "at step %lu: %s", x->npts, why);
		}
	}
	if (x->outcome != SCHED_OK) {
		/*
		 * A broken invariant: going on could crash the model (a folio
		 * freed under a thread's reference, say). Every thread stays
		 * where it is, parked, as after a deadlock.
		 */
		x->finished = true;
		x->running = -1;
		pthread_cond_broadcast(&x->cv);
	} else {
		hand_over(x, t->id);
	}
	wait_turn(x, t);
	pthread_mutex_unlock(&x->mu);
}

static void hook_block(void *ctx, const void *obj, const char *name)
{
	struct explorer *x = ctx;
	struct mthread *t = self;

	pthread_mutex_lock(&x->mu);
	t->at = AT_BLOCKED;
	t->at_name = name;
	t->state = T_BLOCKED;
	t->blocked_on = obj;
	t->blocked_name = name;
	hand_over(x, t->id);
	wait_turn(x, t);
	pthread_mutex_unlock(&x->mu);
}

static unsigned long hook_self(void *ctx)
{
	(void)ctx;
	return self ? (unsigned long)self->id + 1 : 1000;
}

static void *thread_main(void *arg)
{
	struct mthread *t = arg;
	struct explorer *x = t->x;

	self = t;
	pthread_mutex_lock(&x->mu);
	wait_turn(x, t);
	pthread_mutex_unlock(&x->mu);
	x->ops->run(x->ops->arg, t->id);
	pthread_mutex_lock(&x->mu);
	t->at = AT_END;
	t->state = T_DONE;
	hand_over(x, t->id);
	pthread_mutex_unlock(&x->mu);
	self = NULL;
	return NULL;
}

enum sched_outcome explorer_run(struct explorer *x, const struct sched_thread_ops *ops)
{
	bool parked = false;

	x->ops = ops;
	x->outcome = SCHED_OK;
	x->why[0] = 0;
	x->finished = false;
	x->running = -1;
	/* A forced prefix is replayed from step 0: preemptions are counted again. */
	x->preemptions = 0;
	x->npts = 0;
	x->hooks = (struct sync_hooks){
		.point = hook_point, .block = hook_block, .self = hook_self, .ctx = x,
	};
	for (int i = 0; i < x->n; i++) {
		x->t[i].x = x;
		x->t[i].id = i;
		x->t[i].state = T_READY;
		x->t[i].blocked_on = NULL;
	}
	/* Threads parked by an earlier execution keep their locks: not this one's. */
	x->held_before = sync_locks_held();
	x->old_hooks = sync_set_hooks(&x->hooks);
	for (int i = 0; i < x->n; i++)
		if (pthread_create(&x->t[i].th, NULL, thread_main, &x->t[i])) {
			fprintf(stderr, "gmf: explore: pthread_create failed\n");
			abort();
		}
	pthread_mutex_lock(&x->mu);
	hand_over(x, -1);
	while (!x->finished)
		pthread_cond_wait(&x->cv, &x->mu);
	for (int i = 0; i < x->n; i++)
		parked |= x->t[i].state != T_DONE;
	pthread_mutex_unlock(&x->mu);
	x->parked |= parked;
	x->last_parked = parked;
	for (int i = 0; i < x->n; i++) {
		if (parked)
			pthread_detach(x->t[i].th);
		else
			pthread_join(x->t[i].th, NULL);
	}
	sync_set_hooks(x->old_hooks);
	if (x->o.strategy == SCHED_REPLAY && x->outcome == SCHED_OK && x->next_dev < x->ndev) {
		x->outcome = SCHED_BAD_SCHEDULE;
		snprintf(x->why, sizeof(x->why),
			 "schedule: step %lu is past the end of the execution (%lu decision points)",
			 x->dev[x->next_dev].step, x->npts);
	}
	if (x->o.strategy == SCHED_PCT && x->npts > x->pct_k)
		x->pct_k = x->npts;
	return x->outcome;
}

bool explorer_parked(const struct explorer *x)
{
	return x->last_parked;
}

const char *explorer_why(const struct explorer *x)
{
	return x->why;
}

const char *explorer_schedule(struct explorer *x)
{
	size_t o = 0;

	free(x->sched_str);
	x->sched_len = 64;
	x->sched_str = xzalloc(x->sched_len);
	for (unsigned long s = 0; s < x->npts; s++) {
		const struct dpoint *p = &x->pts[s];
		int def = default_choice(x, p->cur, p->enabled);
		char buf[96];
		int w;

		if (p->chosen != def) {
			w = snprintf(buf, sizeof(buf), "%s%lu:%s", o ? "," : "", s, x->names[p->chosen]);
			while (o + (size_t)w + 1 > x->sched_len) {
				x->sched_len *= 2;
				x->sched_str = xrealloc(x->sched_str, x->sched_len, 1);
			}
			memcpy(x->sched_str + o, buf, (size_t)w + 1);
			o += (size_t)w;
		}
	}
	return x->sched_str;
}

unsigned long explorer_steps(const struct explorer *x)
{
	return x->npts;
}

unsigned long explorer_executions(const struct explorer *x)
{
	return x->executions;
}
