// SPDX-License-Identifier: MIT
/*
 * gmf kho: KHO images on disk. save runs a scenario and writes the image its
 * frozen session hands over; restore boots a fresh model host from an image
 * (kexec), retrieves every file into a new VM, rebinds and checks it; dump
 * prints an image in words. docs/kho-image.md has the format.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "cli/cli.h"
#include "kho/kho.h"
#include "scn/scn.h"

#define KHO_MAX_VARY	16
#define KHO_MAX_FILE	(64u << 20)

static void kho_usage(FILE *f)
{
	fprintf(f, "usage: gmf kho save SCENARIO IMAGE\n"
		"       gmf kho restore IMAGE\n"
		"       gmf kho dump IMAGE\n\n"
		"KHO images (docs/kho-image.md):\n"
		"  save     run SCENARIO, which must preserve and freeze a live-update session\n"
		"           (kho_preserve, kho_freeze or kho_kexec), and write its image to IMAGE\n"
		"  restore  kexec a fresh model host from IMAGE, retrieve every file into a new\n"
		"           VM, rebind its memslots, finish, check the invariants, print a summary\n"
		"  dump     print IMAGE in words\n\n"
		"Exit status: 0 success, 1 the scenario or the restore failed, 2 usage, an\n"
		"unreadable file or an image that does not parse.\n");
}

static int kho_save(const char *scn_path, const char *img_path)
{
	struct scn_run_opts opts = { .out = NULL, .quiet = true, .seed = 1, .kho_image = true };
	struct scn_result res[KHO_MAX_VARY];
	const struct scn_result *got = NULL;
	struct scn_error err;
	struct scn_file *f;
	size_t len;
	char *text = cli_read_file(scn_path, CLI_SCENARIO_MAX, &len);
	int n, status = 0;
	FILE *out;

	if (!text) {
		fprintf(stderr, "gmf kho save: cannot read %s: %s\n", scn_path, strerror(errno));
		return 2;
	}
	if (scn_parse(scn_path, text, len, &f, &err)) {
		fprintf(stderr, "%s:%d:%d: error: %s\n", scn_path, err.line, err.col, err.msg);
		free(text);
		return 2;
	}
	free(text);
	n = scn_run(f, &opts, res, KHO_MAX_VARY);
	for (int i = 0; i < n; i++) {
		if (!res[i].passed) {
			fprintf(stderr, "gmf kho save: FAIL %s:%d%s%s%s: %s\n", scn_path, res[i].failed_line,
				res[i].vary_val ? " [" : "", res[i].vary_val ? res[i].vary_val : "",
				res[i].vary_val ? "]" : "", res[i].failure);
			status = 1;
		}
		if (!got && res[i].kho_blob)
			got = &res[i];
	}
	if (n <= 0) {
		fprintf(stderr, "gmf kho save: %s: could not run\n", scn_path);
		status = 1;
	} else if (!status && !got) {
		fprintf(stderr, "gmf kho save: %s froze no live-update session (kho_freeze or kho_kexec)\n",
			scn_path);
		status = 1;
	}
	if (!status) {
		out = fopen(img_path, "wb");
		if (!out || fwrite(got->kho_blob, 1, got->kho_len, out) != got->kho_len || fclose(out)) {
			fprintf(stderr, "gmf kho save: cannot write %s: %s\n", img_path, strerror(errno));
			status = 2;
		} else {
			printf("gmf kho save: %s: %zu bytes, the image of %s%s%s%s\n", img_path, got->kho_len,
			       scn_path, got->vary_val ? " [" : "", got->vary_val ? got->vary_val : "",
			       got->vary_val ? "]" : "");
		}
	}
	for (int i = 0; i < n; i++)
		scn_result_free(&res[i]);
	scn_file_free(f);
	return status;
}

static int kho_dump(const char *path)
{
	struct kho_error err;
	size_t len;
	void *blob = cli_read_file(path, KHO_MAX_FILE, &len);
	int ret;

	if (!blob) {
		fprintf(stderr, "gmf kho dump: cannot read %s: %s\n", path, strerror(errno));
		return 2;
	}
	ret = kho_image_dump(blob, len, stdout, &err);
	free(blob);
	if (ret) {
		fprintf(stderr, "gmf kho dump: %s: %s (%s)\n", path, err.msg, errno_name(ret));
		return 2;
	}
	return 0;
}

/* The huge pages of @img's files by pool (2M, 1G): the new host's boot pools. */
static void kho_count_huge(const struct kho_image *img, unsigned long huge[HUGE_MAX_HSTATE])
{
	for (size_t i = 0; i < img->nr_files; i++) {
		const struct kho_gmem *f = &img->files[i];
		int idx = f->page_order == PUD_ORDER ? 1 : 0;

		if (!f->page_order)
			continue;
		for (size_t j = 0; j < f->nr_folios; j++)
			huge[idx] += f->folios[j].order == f->page_order;
		huge[idx] += f->nr_splits;
	}
}

/* One VM per vm_token, made on first use; a file with INIT_SHARED needs one without private memory. */
struct restore_vm {
	u64 vm_token;
	struct kvm *kvm;
	struct task_struct *vmm;
};

static struct restore_vm *restore_vm_get(struct host *host, struct restore_vm *vms, size_t *nvms,
					 const struct kho_gmem *f, int *errp)
{
	unsigned long type = f->flags & KHO_GMEM_FLAG_INIT_SHARED ? KVM_X86_DEFAULT_VM :
			     KVM_X86_SW_PROTECTED_VM;
	struct restore_vm *v;

	for (size_t i = 0; i < *nvms; i++)
		if (vms[i].vm_token == f->vm_token)
			return &vms[i];
	v = &vms[(*nvms)++];
	v->vm_token = f->vm_token;
	v->vmm = task_create(host, "vmm", NULL);
	if (!v->vmm) {
		*errp = -ENOMEM;
		return NULL;
	}
	v->vmm->sigbus_handler = true;
	v->kvm = kvm_create_vm(host, v->vmm, type, errp);
	return v->kvm ? v : NULL;
}

static const char *page_size_name(u32 order)
{
	return order == PUD_ORDER ? "1G" : order == PMD_ORDER ? "2M" : "4K";
}

static int kho_restore(const char *path)
{
	struct host_config cfg = {
		.nr_nodes = 1, .nr_cpus = 1, .reserved_bytes = 16ULL << 20,
	};
	struct restore_vm *vms = NULL;
	struct kho_image img = { 0 };
	struct kho_error err;
	struct host *old, *host;
	struct trace trace;
	size_t len, nvms = 0;
	unsigned long released;
	int ret, status = 0;
	void *blob = cli_read_file(path, KHO_MAX_FILE, &len);

	if (!blob) {
		fprintf(stderr, "gmf kho restore: cannot read %s: %s\n", path, strerror(errno));
		return 2;
	}
	ret = kho_image_parse(blob, len, &img, &err);
	free(blob);
	if (ret) {
		fprintf(stderr, "gmf kho restore: %s: %s (%s); nothing restored\n", path, err.msg,
			errno_name(ret));
		return 2;
	}
	/*
	 * The machine the image came from: its memory size, one node, the
	 * default 16M reserved, and boot pools of exactly the preserved huge
	 * pages (the image records no other configuration).
	 */
	cfg.memory_bytes = img.memory_pages << PAGE_SHIFT;
	kho_count_huge(&img, cfg.hugepages);
	trace_init(&trace, true);
	trace.out = NULL;
	old = host_create(&cfg, &trace);
	if (IS_ERR(old)) {
		fprintf(stderr, "gmf kho restore: %s: no model host of %llu pages with %lu 2M and %lu 1G pages "
			"(%s); nothing restored\n", path, (unsigned long long)img.memory_pages, cfg.hugepages[0],
			cfg.hugepages[1], errno_name((int)PTR_ERR(old)));
		status = 1;
		goto out_trace;
	}
	host = kho_kexec(old, &img, &trace);
	kvm_host_teardown(old);
	host_destroy(old);
	if (IS_ERR(host)) {
		fprintf(stderr, "gmf kho restore: %s: kexec failed (%s): the image does not fit a host of "
			"%llu pages with 16M reserved; nothing restored\n", path, errno_name((int)PTR_ERR(host)),
			(unsigned long long)img.memory_pages);
		status = 1;
		goto out_trace;
	}
	printf("kho restore: %s: %llu pages (%llu MiB), %zu file%s, %zu poisoned pfn%s\n", path,
	       (unsigned long long)img.memory_pages, (unsigned long long)(img.memory_pages >> 8),
	       img.nr_files, img.nr_files == 1 ? "" : "s", img.nr_poison, img.nr_poison == 1 ? "" : "s");
	printf("  kexec: boot pools 2M %lu, 1G %lu; %lu kB HardwareCorrupted\n", cfg.hugepages[0],
	       cfg.hugepages[1], atomic_long_read(&host->num_poisoned_pages) * (long)(PAGE_SIZE / 1024));
	vms = kcalloc(img.nr_files ? img.nr_files : 1, sizeof(*vms), GFP_KERNEL);
	if (!vms) {
		status = 1;
		goto out_host;
	}
	for (size_t i = 0; i < img.nr_files; i++) {
		const struct kho_gmem *f = &img.files[i];
		struct restore_vm *v = restore_vm_get(host, vms, &nvms, f, &ret);
		struct kvm_gmem *g = NULL;
		size_t rebound = 0;

		printf("  guest_memfd token %#llx (vm-token %#llx): %llu bytes of %s pages, %zu folios, "
		       "%zu split pages, %zu poisoned: ", (unsigned long long)f->token,
		       (unsigned long long)f->vm_token, (unsigned long long)f->size,
		       page_size_name(f->page_order), f->nr_folios, f->nr_splits, f->nr_poison);
		if (v) {
			host->current = v->vmm;
			g = kho_retrieve(v->kvm, &img, f->token, &ret);
			host->current = NULL;
		}
		if (!g) {
			printf("NOT retrieved (%s)\n", errno_name(ret));
			status = 1;
			continue;
		}
		for (size_t j = 0; j < f->nr_bindings; j++) {
			const struct kho_binding *b = &f->bindings[j];
			struct kvm_userspace_memory_region2 m = {
				.slot = (u32)b->slot, .flags = KVM_MEM_GUEST_MEMFD,
				.guest_phys_addr = b->base_gfn << PAGE_SHIFT, .memory_size = b->npages << PAGE_SHIFT,
				.guest_memfd = g->file, .guest_memfd_valid = true,
				.guest_memfd_offset = b->pgoff << PAGE_SHIFT,
			};

			ret = kvm_set_user_memory_region2(v->kvm, &m);
			if (ret) {
				printf("\n    binding slot %llu gfn %#llx: KVM_SET_USER_MEMORY_REGION2 = %s",
				       (unsigned long long)b->slot, (unsigned long long)b->base_gfn, errno_name(ret));
				status = 1;
				continue;
			}
			rebound++;
		}
		printf("%sretrieved into vm%d, %zu of %zu bindings rebound\n", rebound == f->nr_bindings ? "" : "\n    ",
		       v->kvm->id, rebound, f->nr_bindings);
	}
	released = kho_finish(host);
	printf("  finish: %lu unclaimed pages released\n", released);
	printf("  host: HardwareCorrupted %ld kB, buddy %lu free pages", atomic_long_read(&host->num_poisoned_pages) *
	       (long)(PAGE_SIZE / 1024), node_free_pages(host, 0));
	for (int i = 0; i < HUGE_MAX_HSTATE; i++)
		if (host->hstates[i].nr_huge_pages)
			printf(", %s total %lu free %lu", host->hstates[i].name, host->hstates[i].nr_huge_pages,
			       host->hstates[i].free_huge_pages);
	printf("\n");
	if (host_validate(host) || kvm_validate_all(host)) {
		const char *why = "an invariant";

		for (unsigned long i = trace.nr; i-- > 0;)
			if (trace.ev[i].kind == TRACE_NOTE && !strncmp(trace.ev[i].message, "invariant broken: ", 18)) {
				why = trace.ev[i].message;
				break;
			}
		printf("  invariants: FAIL: %s\n", why);
		status = 1;
	} else {
		printf("  invariants: ok\n");
	}
out_host:
	kvm_host_teardown(host);
	host_destroy(host);
	kfree(vms);
out_trace:
	trace_destroy(&trace);
	kho_image_free(&img);
	return status;
}

int cmd_kho(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		kho_usage(stdout);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "save"))
		return kho_save(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "restore"))
		return kho_restore(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "dump"))
		return kho_dump(argv[2]);
	kho_usage(stderr);
	return 2;
}
