/* SPDX-License-Identifier: MIT */
/*
 * memory_failure() and its friends: flags, result and page-type enums with
 * the kernel's strings, and the entry points (hwpoison injection, unpoison,
 * soft offline, the deferred queue).
 *
 * Models: include/linux/mm.h, mm/memory-failure.c (mm-new @004449ba).
 */
#ifndef GMF_MM_MEMORY_FAILURE_H
#define GMF_MM_MEMORY_FAILURE_H

#include "mm/mm.h"

enum mf_flags {
	MF_COUNT_INCREASED = 1 << 0,
	MF_ACTION_REQUIRED = 1 << 1,
	MF_MUST_KILL = 1 << 2,
	MF_SOFT_OFFLINE = 1 << 3,
	MF_UNPOISON = 1 << 4,
	MF_SW_SIMULATED = 1 << 5,
	MF_NO_RETRY = 1 << 6,
	MF_MEM_PRE_REMOVE = 1 << 7,
};

enum mf_result {
	MF_IGNORED,
	MF_FAILED,
	MF_DELAYED,
	MF_RECOVERED,
	__NR_MF_RESULTS,
};

/* Declaration order of mm-new (MF_MSG_DIFFERENT_COMPOUND removed). */
enum mf_action_page_type {
	MF_MSG_KERNEL,
	MF_MSG_KERNEL_HIGH_ORDER,
	MF_MSG_HUGE,
	MF_MSG_FREE_HUGE,
	MF_MSG_GET_HWPOISON,
	MF_MSG_UNMAP_FAILED,
	MF_MSG_DIRTY_SWAPCACHE,
	MF_MSG_CLEAN_SWAPCACHE,
	MF_MSG_DIRTY_MLOCKED_LRU,
	MF_MSG_CLEAN_MLOCKED_LRU,
	MF_MSG_DIRTY_UNEVICTABLE_LRU,
	MF_MSG_CLEAN_UNEVICTABLE_LRU,
	MF_MSG_DIRTY_LRU,
	MF_MSG_CLEAN_LRU,
	MF_MSG_TRUNCATED_LRU,
	MF_MSG_BUDDY,
	MF_MSG_DAX,
	MF_MSG_UNSPLIT_THP,
	MF_MSG_ALREADY_POISONED,
	MF_MSG_PFN_MAP,
	MF_MSG_UNKNOWN,
	__NR_MF_MSGS,
};

extern const char *const action_name[__NR_MF_RESULTS];
extern const char *const action_page_types[__NR_MF_MSGS];
/* Enumerator names ("MF_MSG_BUDDY", "MF_RECOVERED") for scenarios and JSON. */
extern const char *const mf_msg_enum_names[__NR_MF_MSGS];
extern const char *const mf_result_enum_names[__NR_MF_RESULTS];

/*
 * The outcome of the last memory_failure()-family call, for tests and
 * scenario expectations: what action_result() saw and what was returned.
 */
struct mf_outcome {
	bool has_result;
	enum mf_action_page_type type;
	enum mf_result result;
	int ret;
	unsigned int error_state;	/* index of the error_states[] row hit, or ~0 */
};

int memory_failure(struct host *host, unsigned long pfn, int flags);
void memory_failure_queue(struct host *host, int cpu, unsigned long pfn, int flags);
/* Run the deferred work of @cpu (or of every cpu with -1). */
void memory_failure_queue_kick(struct host *host, int cpu);
int unpoison_memory(struct host *host, unsigned long pfn);
int soft_offline_page(struct host *host, unsigned long pfn, int flags);
bool is_raw_hwpoison_page_in_hugepage(struct folio *folio, const struct page *page);
/* The last outcome recorded on @host. */
struct mf_outcome mf_last_outcome(const struct host *host);

/* mm/madvise.c and mm/hwpoison-inject.c */
int madvise_hwpoison(struct task_struct *t, unsigned long start, u64 len);
int madvise_soft_offline(struct task_struct *t, unsigned long start, u64 len);
int hwpoison_inject(struct host *host, unsigned long pfn);	/* corrupt-pfn */
int hwpoison_unpoison(struct host *host, unsigned long pfn);	/* unpoison-pfn */

#endif
