#!/usr/bin/env bash
# The real VMM's arm64 intake (KVM_EXIT_ARM_SEA, under __aarch64__) and the
# code it builds on, compiled for an arm64 host with the cross compiler
# (syntax and types only: the VMM itself is x86-only, docs/divergences.md).
# TAP, then the summary line.
set -u
cd "$(dirname "$0")/.."
CC=aarch64-linux-gnu-gcc
if ! command -v $CC >/dev/null; then
	echo "# $CC is missing (scripts/deps.sh installs gcc-aarch64-linux-gnu)"
	echo "# cross/aarch64: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
flags=$(sed -n 's/^WARNINGS := //p; s/^            \(-W.*\)$/\1/p' mk/flags.mk | tr -d '\\\n')
n=0 bad=0
for f in vmm/intake.c vmm/record.c vmm/gmem_probe.c base/*.c; do
	n=$((n + 1))
	if out=$($CC -std=gnu17 -I. $flags -Werror -fsyntax-only "$f" 2>&1); then
		echo "ok $n $f compiles for aarch64"
	else
		echo "not ok $n $f compiles for aarch64"
		sed 's/^/# /' <<<"$out" | head -20
		bad=$((bad + 1))
	fi
done
# The aarch64 branch is there to be compiled at all.
n=$((n + 1))
if grep -q '__aarch64__' vmm/intake.c; then
	echo "ok $n vmm/intake.c has its aarch64 (KVM_EXIT_ARM_SEA) branch"
else
	echo "not ok $n vmm/intake.c has its aarch64 (KVM_EXIT_ARM_SEA) branch"
	bad=$((bad + 1))
fi
echo "# cross/aarch64: $((n - bad)) passed, $bad failed, 0 skipped"
[ $bad -eq 0 ]
