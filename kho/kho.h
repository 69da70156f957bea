/* SPDX-License-Identifier: MIT */
/*
 * Live update of guest_memfd over the model: a LUO session freezes and
 * serializes guest_memfd files into a struct kho_image, kexec builds a new
 * host over the same physical memory that holds the preserved folios out
 * of its allocators, and the VMM retrieves each file by its token.
 *
 *   old host                          new host
 *   --------                          --------
 *   kho_session_init()
 *   kho_preserve(gmem, token)   freeze, check, serialize
 *   kho_freeze()                last check, host-wide poison list
 *   kho_kexec(old, img)  ---->  host_create(), preserved folios reserved
 *                               (PG_reserved, KHO_PAGE_MAGIC), poison again
 *                               kho_retrieve(kvm, img, token): the file back
 *                               kho_finish(): unclaimed pages freed
 *
 * Models: kernel/liveupdate/kexec_handover.c (kho_preserve_folio(),
 * kho_restore_folio(), the magic in page->private), kernel/liveupdate/
 * luo_file.c (preserve, freeze, retrieve, finish) and Tarun Sahu's
 * guest_memfd LUO series (v4, Jul 2026) [P]; what the series does not keep
 * (attributes, bindings, HugeTLB splits, poison) follows
 * kernel-semantics.md 6.5. docs/divergences.md lists the differences.
 */
#ifndef GMF_KHO_KHO_H
#define GMF_KHO_KHO_H

#include "kho/image.h"
#include "kvm/kvm.h"

/* page->private of the head page of a preserved, unclaimed folio ('KHOP'). */
#define KHO_PAGE_MAGIC	0x4b484f50U

/* What preservation does with a file that holds a poisoned page. */
enum kho_poison_policy {
	KHO_POISON_REFUSE,	/* the LUO series: -EHWPOISON, nothing preserved */
	KHO_POISON_CARRY,	/* the poisoned pfns go in the image and are poisoned again */
	__NR_KHO_POISON_POLICIES,
};

extern const char *const kho_poison_policy_names[__NR_KHO_POISON_POLICIES];

/* A LUO session on the outgoing host. */
struct kho_session {
	struct host *host;
	enum kho_poison_policy poison;
	struct kho_image img;		/* files[i] is gmems[i]'s */
	struct kvm_gmem **gmems;
	u64 *vm_tokens;
	bool frozen;			/* kho_freeze() succeeded: the image is final */
};

void kho_session_init(struct kho_session *s, struct host *host, enum kho_poison_policy poison);
/*
 * PRESERVE_FD: freeze @gmem and serialize it under @token. 0, -EEXIST (the
 * token is taken, or the file is preserved already), -EHWPOISON (refuse: a
 * poisoned page; nothing is frozen), -EBUSY (the session is frozen), -ENOMEM.
 */
int __must_check kho_preserve(struct kho_session *s, struct kvm_gmem *gmem, u64 token, u64 vm_token);
/*
 * The reboot point: serialize every file again (a memory error since
 * preserve may have split a page) and the host's poisoned pfns, and check
 * the image. -EHWPOISON under refuse when a file was poisoned meanwhile,
 * -EINVAL when the image does not check, -ENOMEM.
 */
int __must_check kho_freeze(struct kho_session *s);
/* Abort: unfreeze the files and free the image. */
void kho_session_abort(struct kho_session *s);
/* After kexec: free the image (the files stay frozen: their host is gone). */
void kho_session_destroy(struct kho_session *s);

/*
 * kexec into a new host over @old's memory with @old's configuration.
 * The preserved folios (and split pages) are reserved memory until
 * retrieved or kho_finish(); every pfn of img->poison is poisoned again.
 * Pages the hardware found bad on @old stay bad (page->hw_bad, the same
 * physical memory) whether or not the image names them. The HugeTLB boot pool is the configured one less the preserved huge
 * pages. ERR_PTR(-EINVAL) when @img does not check or does not fit the
 * memory, -ENOMEM.
 */
struct host *kho_kexec(struct host *old, const struct kho_image *img, struct trace *trace);

/*
 * RETRIEVE_FD: recreate the file preserved under @token in @kvm (the VM the
 * VMM got back for its vm_token), with its folios at the same pfns and
 * indexes, attributes, split pages, poison and mempolicy. NULL with
 * *errp: -ENOENT (no such token), -EINVAL (its pages are not preserved
 * here: retrieved already, or another image; or a mempolicy the model's
 * guest_memfd cannot hold), -ENOMEM, or kvm_gmem_create()'s errors. All or
 * nothing: on failure every page stays preserved and a retry can succeed.
 */
struct kvm_gmem *kho_retrieve(struct kvm *kvm, const struct kho_image *img, u64 token, int *errp);

/*
 * FINISH: free the preserved pages nobody retrieved (a huge page to its
 * HugeTLB pool, poisoned pages kept out) and lift the rebinding check.
 * Returns the number of pages released.
 */
unsigned long kho_finish(struct host *host);

#endif
