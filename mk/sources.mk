# SPDX-License-Identifier: MIT
# Explicit, sorted source lists: adding a file is a reviewed change.

BASE_SRCS := \
	base/alloc.c \
	base/errno.c \
	base/plant.c \
	base/prng.c \
	base/rangemap.c \
	base/sync.c \
	base/trace.c

MM_SRCS := \
	mm/filemap.c \
	mm/guestmem_hugetlb.c \
	mm/host.c \
	mm/hugetlb.c \
	mm/hugetlb_cgroup.c \
	mm/madvise.c \
	mm/memcontrol.c \
	mm/memory-failure.c \
	mm/memory.c \
	mm/page_alloc.c \
	mm/swap.c \
	mm/task.c \
	mm/validate.c

KVM_SRCS := \
	kvm/attr.c \
	kvm/guest_memfd.c \
	kvm/kvm_main.c \
	kvm/mmu.c \
	kvm/validate.c

ARCH_SRCS := \
	arch/arm64/sea.c \
	arch/x86/kvm.c \
	arch/x86/mce.c

KHO_SRCS := \
	kho/image.c \
	kho/kho.c

# The race explorer's scheduler: base/ only.
SIM_SRCS := \
	sim/sched.c

SCN_SRCS := \
	scn/interp.c \
	scn/parse.c \
	scn/switch.c

# The real KVM side: base/ and system headers only (scripts/check-layering.sh).
VMM_SRCS := \
	vmm/gmem_probe.c \
	vmm/intake.c \
	vmm/record.c \
	vmm/vm.c

LIB_SRCS := $(BASE_SRCS) $(MM_SRCS) $(KVM_SRCS) $(ARCH_SRCS) $(KHO_SRCS) $(SIM_SRCS) $(SCN_SRCS) $(VMM_SRCS)

CLI_SRCS := \
	cli/conformance.c \
	cli/demo.c \
	cli/explore.c \
	cli/kho.c \
	cli/main.c \
	cli/run.c \
	cli/vmm.c \
	cli/vmm_model.c

HARNESS_SRCS := \
	tests/harness/t_main.c \
	tests/harness/t_model.c

# Unit tests: every tests/unit/<module>/test_*.c is a suite binary of its own.
TEST_SRCS := $(sort $(wildcard tests/unit/*/test_*.c))

# Fuzz targets: tests/fuzz/fuzz_NAME.c replays tests/fuzz/corpus/NAME/ in make test.
FUZZ_SRCS := \
	tests/fuzz/fuzz_kho.c \
	tests/fuzz/fuzz_scn.c

BENCH_SRCS := \
	bench/bench_explore.c \
	bench/bench_gmem.c \
	bench/bench_mm.c \
	bench/bench_vmm.c
