#!/usr/bin/env bash
# Run every test and print one line per suite, then the total:
#   N passed, N failed, N skipped
# A suite is a unit-test binary (TAP, ending in "# NAME: N passed, N failed,
# N skipped") or a scenario file run by gmf. Exit 77 means skipped; a binary
# that dies before its summary counts as one failure more than it reported.
set -u

TIMEOUT=${TIMEOUT:-300}
GMF=${GMF:-build/test/gmf}
TBUILD=${TBUILD:-build/test}
logdir=$TBUILD/logs
mkdir -p "$logdir"

total_p=0 total_f=0 total_s=0
failed_names=()

run_suite() {
	local name=$1; shift
	local log=$logdir/${name//\//-}.log rc p=0 f=0 s=0 summary start end
	start=$(date +%s.%N)
	timeout "$TIMEOUT" "$@" >"$log" 2>&1
	rc=$?
	end=$(date +%s.%N)
	summary=$(grep -E '^(# [^:]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n 1)
	if [ -n "$summary" ]; then
		p=$(sed -E 's/^(# [^:]+: )?([0-9]+) passed.*/\2/' <<<"$summary")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$summary")
		s=$(sed -nE 's/.* ([0-9]+) skipped$/\1/p' <<<"$summary")
		s=${s:-0}
	fi
	if [ -z "$summary" ]; then
		# Died before its summary: count what it reported, then the death.
		p=$(grep -cE '^ok [0-9]+ [^#]*$' "$log")
		s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$log")
		f=$(grep -cE '^not ok ' "$log")
	fi
	if [ $rc -eq 77 ] && [ -z "$summary" ] && [ "$p" -eq 0 ]; then
		s=1
	elif [ $rc -ne 0 ] && [ $rc -ne 77 ] && { [ "$f" -eq 0 ] || [ -z "$summary" ]; }; then
		f=$((f + 1))
	fi
	local status=ok
	[ "$f" -gt 0 ] && status=FAIL && failed_names+=("$name")
	[ $rc -eq 124 ] && status=TIMEOUT
	[ "$f" -eq 0 ] && [ "$p" -eq 0 ] && [ "$s" -gt 0 ] && status=skip
	printf '%-7s %-40s %4d passed %3d failed %3d skipped  %5.1f s\n' \
		"$status" "$name" "$p" "$f" "$s" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')"
	if [ "$f" -gt 0 ]; then
		grep -vE '^ok ' "$log" | grep -v ' passed, ' | head -n 40 | sed 's/^/        /'
	fi
	total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
}

# Unit-test suites given on the command line.
for bin in "$@"; do
	run_suite "$(basename "$(dirname "$bin")")/$(basename "$bin")" "$bin"
done

# Scenario files: each is a test (one per value of the switch it varies).
for scn in scenarios/*.scn; do
	[ -e "$scn" ] || continue
	run_suite "$scn" "$GMF" run --quiet "$scn"
done

# Fuzz corpora, replayed under the sanitizers.
for bin in ${FUZZ_REPLAY:-}; do
	name=$(basename "$bin")
	run_suite "fuzz/${name#fuzz_}" "$bin" "fuzz/${name#fuzz_}" "tests/fuzz/corpus/${name#fuzz_}"
done

# guest_memfd uAPI cases on the model and on real KVM (gmf conformance): each
# compared case is a test, "same" passes and "DIFF" fails; model-only cases
# are not counted; exit 77 (no /dev/kvm or guest_memfd) skips.
conformance_suite() {
	local out rc
	out=$("$1" conformance)
	rc=$?
	awk '
	/^conformance: [0-9]+ same, [0-9]+ different, [0-9]+ model-only$/ {
		print "# " $0
		printf "# conformance: %d passed, %d failed, 0 skipped\n", $2, $4
		next
	}
	$NF == "same" { printf "ok %d %s\n", ++n, $1; next }
	$NF == "DIFF" { $NF = ""; printf "not ok %d %s\n", ++n, $0; next }
	/^( |#)/ { print; next }
	{ print "# " $0 }' <<<"$out"
	return $rc
}
export -f conformance_suite
run_suite conformance bash -c 'conformance_suite "$1"' conformance "$GMF"

# gmf kho: save, dump and restore images, and refuse invalid ones.
run_suite cli/kho tests/cli/test_kho.sh "$GMF" "$TBUILD/cli-kho"
# Scenario switches: each takes only its own values, in switch and vary.
run_suite cli/switch tests/cli/test_switch.sh "$GMF" "$TBUILD/cli-switch"

# gmf vmm on real KVM: run, inject, status, kill -9, re-fence; 77 without /dev/kvm.
run_suite cli/vmm tests/cli/test_vmm.sh "$GMF" "$TBUILD/cli-vmm"

# gmf vmm live update: re-exec keeping guest memory and record, re-fence; 77 without /dev/kvm.
run_suite cli/vmm-update tests/cli/test_vmm_update.sh "$GMF" "$TBUILD/cli-vmm-update"

# gmf vmm run --errors-from: the model's errors on the real VMM; 77 without /dev/kvm.
run_suite cli/vmm-model tests/cli/test_vmm_model.sh "$GMF" "$TBUILD/cli-vmm-model"

# The race explorer: gmf explore/replay, the concurrent block, planted bugs (make planted).
run_suite cli/explore tests/cli/test_explore.sh "$GMF" "$TBUILD/cli-explore" "${PGMF:-}"

# Checks of the tree itself.
run_suite layering scripts/check-layering.sh
run_suite cross/aarch64 scripts/check-aarch64.sh

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]
