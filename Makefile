# SPDX-License-Identifier: MIT
# gmemfail: one non-recursive Makefile. `make help` lists the targets.

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:

# Build on every core unless the caller chose (make -jN): `make test` as the
# README says is then as fast as CI needs. Our machines have 2 cores.
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

include mk/flags.mk
include mk/sources.mk
include mk/guest.mk

BUILD      ?= build
TBUILD     := $(BUILD)/test
GMF        := $(BUILD)/gmf
TGMF       := $(TBUILD)/gmf
PBUILD     := $(BUILD)/planted
PGMF       := $(PBUILD)/gmf

# The guest payload (mk/guest.mk) is data in the library, built from source.
LIB_OBJS   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS)) $(BUILD)/vmm/guest/blob.o
TLIB_OBJS  := $(patsubst %.c,$(TBUILD)/%.o,$(LIB_SRCS)) $(TBUILD)/vmm/guest/blob.o
CLI_OBJS   := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRCS))
TCLI_OBJS  := $(patsubst %.c,$(TBUILD)/%.o,$(CLI_SRCS))
HARN_OBJS  := $(patsubst %.c,$(TBUILD)/%.o,$(HARNESS_SRCS))
# One binary per test file: tests/unit/mm/test_hugetlb.c -> build/test/tests/mm/test_hugetlb
SUITES     := $(patsubst tests/unit/%.c,$(TBUILD)/tests/%,$(TEST_SRCS))
BENCHES    := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

# Planted race bugs (base/plant.h): the files that include it, compiled again
# with GMF_PLANT_BUGS and linked with the test build's other objects.
PLANT_SRCS := $(shell grep -l '"base/plant.h"' $(LIB_SRCS) $(CLI_SRCS))
PLANT_OBJS := $(patsubst %.c,$(PBUILD)/%.o,$(PLANT_SRCS))
PGMF_OBJS  := $(PLANT_OBJS) $(filter-out $(patsubst %.c,$(TBUILD)/%.o,$(PLANT_SRCS)),$(TCLI_OBJS) $(TLIB_OBJS))

FUZZERS    := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRCS))
FUZZ_REPLAY := $(foreach f,$(FUZZERS),$(TBUILD)/tests/fuzz/$(f))

.PHONY: all deps run test bench fuzz clean help planted

all: $(GMF)

help:
	@echo "make           build $(GMF)"
	@echo "make run       the main job: the scenario library's outcome table"
	@echo "make test      build with ASan+UBSan and run every test"
	@echo "make bench     run the benchmarks (figures, not assertions)"
	@echo "make planted   $(PGMF): the test build with the planted race bugs (gmf explore --plant)"
	@echo "make clean     remove $(BUILD)/"
	@echo "variables: CC=clang  V=1  WERROR=0  SEED=n"

deps:
	@scripts/deps.sh

run: deps $(GMF)
	@echo "gmemfail: the scenario library, one row per scenario and policy (build/gmf demo for a walk-through)"
	@$(GMF) run --summary $(sort $(wildcard scenarios/*.scn))

test: deps $(TGMF) $(PGMF) $(SUITES) $(FUZZ_REPLAY)
	@GMF=$(TGMF) PGMF=$(PGMF) TBUILD=$(TBUILD) FUZZ_REPLAY="$(FUZZ_REPLAY)" tests/run-tests.sh $(SUITES)

planted: deps $(PGMF)

# libFuzzer builds (clang): make fuzz FUZZER=fuzz_scn SECONDS=60
FUZZER  ?= fuzz_scn
SECONDS ?= 60
fuzz: deps $(BUILD)/vmm/guest/blob.o
	@mkdir -p $(BUILD)/fuzz
	clang $(filter-out -Werror,$(CFLAGS)) -O1 -g -DFUZZ_LIBFUZZER -fsanitize=fuzzer,address,undefined \
		-o $(BUILD)/fuzz/$(FUZZER) tests/fuzz/$(FUZZER).c tests/fuzz/driver.c $(LIB_SRCS) \
		$(BUILD)/vmm/guest/blob.o $(LDLIBS)
	mkdir -p $(BUILD)/fuzz/corpus-$(FUZZER) && $(BUILD)/fuzz/$(FUZZER) -max_total_time=$(SECONDS) \
		-max_len=4096 $(BUILD)/fuzz/corpus-$(FUZZER) tests/fuzz/corpus/$(patsubst fuzz_%,%,$(FUZZER))

bench: deps $(BENCHES)
	@for b in $(BENCHES); do $$b || exit 1; done

clean:
	rm -rf $(BUILD)

# ---- release build ----------------------------------------------------------
$(eval $(call guest_rules,$(BUILD)))
$(eval $(call guest_rules,$(TBUILD)))

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(Q_CC)$(CC) $(CFLAGS) $(OPTFLAGS) -c $< -o $@

$(BUILD)/libgmf.a: $(LIB_OBJS)
	$(Q_AR)rm -f $@ && $(AR) rcs $@ $^

$(GMF): $(CLI_OBJS) $(BUILD)/libgmf.a
	$(Q_LD)$(CC) $(CFLAGS) $(OPTFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libgmf.a
	@mkdir -p $(@D)
	$(Q_CC)$(CC) $(CFLAGS) $(OPTFLAGS) -o $@ $< $(BUILD)/libgmf.a $(LDLIBS)

# ---- test build: ASan + UBSan ------------------------------------------------
$(TBUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(Q_CC)$(CC) $(CFLAGS) $(SANFLAGS) -c $< -o $@

$(TBUILD)/libgmf.a: $(TLIB_OBJS)
	$(Q_AR)rm -f $@ && $(AR) rcs $@ $^

$(TGMF): $(TCLI_OBJS) $(TBUILD)/libgmf.a
	$(Q_LD)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LDLIBS)

.SECONDARY:
$(TBUILD)/tests/%: $(TBUILD)/tests/unit/%.o $(HARN_OBJS) $(TBUILD)/libgmf.a
	@mkdir -p $(@D)
	$(Q_LD)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LDLIBS)

$(TBUILD)/tests/fuzz/%: $(TBUILD)/tests/fuzz/%.o $(TBUILD)/tests/fuzz/driver.o $(TBUILD)/libgmf.a
	@mkdir -p $(@D)
	$(Q_LD)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LDLIBS)

# ---- planted build: the test build with GMF_PLANT_BUGS ------------------------
$(PBUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(Q_CC)$(CC) $(CFLAGS) $(SANFLAGS) -DGMF_PLANT_BUGS -c $< -o $@

$(PGMF): $(PGMF_OBJS)
	$(Q_LD)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LDLIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
