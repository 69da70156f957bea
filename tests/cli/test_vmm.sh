#!/usr/bin/env bash
# gmf vmm on real KVM: run with a record and an event log, inject an AR and
# an AO over the control socket (the run side raises real SIGBUS
# BUS_MCEERR_AR/AO), check the guest's #MC, the log's MEMORY_FAILURE lines
# and the record (gmf vmm status), kill -9 the VMM and check the record
# still holds the pages, restart on it and check the re-fence; bad flags and
# a bad record. Skips (77) without /dev/kvm. TAP, then the summary line.
#   tests/cli/test_vmm.sh GMF WORKDIR
set -u
GMF=$1
dir=$2
mkdir -p "$dir"
n=0 pass=0 fail=0 skip=0
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done' EXIT

check() {
	local what=$1; shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n $what"; pass=$((pass + 1))
	else
		echo "not ok $n $what"; fail=$((fail + 1))
	fi
}

# Usage errors first: they need no KVM.
out=$("$GMF" vmm run --vcpus 9 2>&1); rc=$?
check "run --vcpus 9 exits 2" test $rc -eq 2
check "naming the flag and what it expects" grep -q "^gmf vmm run: --vcpus '9': expected a number of vCPUs from 1 to 4" <<<"$out"
out=$("$GMF" vmm run --memory 3M 2>&1); rc=$?
check "run --memory 3M exits 2 naming the flag" bash -c '[ $1 -eq 2 ] && grep -q -- "--memory .3M.: expected a size" <<<"$2"' _ $rc "$out"
out=$("$GMF" vmm run --threshold 3 --record "$dir/x.db" 2>&1); rc=$?
check "run --threshold without --window exits 2" bash -c '[ $1 -eq 2 ] && grep -q "go together" <<<"$2"' _ $rc "$out"
out=$("$GMF" vmm run --bogus 2>&1); rc=$?
check "run --bogus exits 2 naming it" bash -c '[ $1 -eq 2 ] && grep -q "unknown option .--bogus." <<<"$2"' _ $rc "$out"
out=$("$GMF" vmm inject --pid 1 2>&1); rc=$?
check "inject without --gpa exits 2" bash -c '[ $1 -eq 2 ] && grep -q -- "--gpa GPA is required" <<<"$2"' _ $rc "$out"
out=$("$GMF" vmm inject --pid x --gpa 0 2>&1); rc=$?
check "inject --pid x exits 2 naming the flag" bash -c '[ $1 -eq 2 ] && grep -q -- "--pid .x.: expected" <<<"$2"' _ $rc "$out"
out=$("$GMF" vmm status 2>&1); rc=$?
check "status without --record exits 2" test $rc -eq 2
printf 'this is not a database, not at all, but long enough for sqlite to look\n' >"$dir/bad.db"
out=$("$GMF" vmm status --record "$dir/bad.db" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "status of a non-record exits 2" test $rc -eq 2
check "with the record's message naming the file" grep -q "bad.db.*not a SQLite database" <<<"$out"
out=$("$GMF" vmm status --record "$dir/missing.db" 2>&1); rc=$?
check "status of a missing record exits 2" bash -c '[ $1 -eq 2 ] && grep -q "missing.db: No such file" <<<"$2"' _ $rc "$out"
check "and does not create it" test ! -e "$dir/missing.db"
"$GMF" vmm --help >/dev/null; rc=$?
check "vmm --help exits 0" test $rc -eq 0
"$GMF" vmm >/dev/null 2>&1; rc=$?
check "vmm alone exits 2" test $rc -eq 2

if [ ! -e /dev/kvm ]; then
	"$GMF" vmm run --seconds 1 >/dev/null 2>&1; rc=$?
	check "run without /dev/kvm exits 77" test $rc -eq 77
	for what in "AR and AO injection" "record after kill -9" "re-fence on restart"; do
		n=$((n + 1)); skip=$((skip + 1)); echo "ok $n $what # SKIP no /dev/kvm"
	done
	echo "# cli-vmm: $pass passed, $fail failed, $skip skipped"
	[ $fail -eq 0 ]
	exit
fi

db=$dir/record.db log=$dir/events.jsonl out1=$dir/run1.out out2=$dir/run2.out
rm -f "$db" "$db"-wal "$db"-shm "$log"

# Start `gmf vmm run` in the background (its pid in $pid, its output in
# $1); wait for its pid line, at most 10 s.
start_run() {
	local out=$1; shift
	"$GMF" vmm run "$@" >"$out" 2>&1 &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 100); do
		grep -q '^gmf vmm: pid ' "$out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
}

start_run "$out1" --record "$db" --log "$log" --vcpus 2 --seconds 20
cat "$out1" | sed 's/^/# /'
check "run prints its pid and guest memory layout" \
	grep -qE '^gmf vmm: pid [0-9]+, guest memory 0x0\.\.0x3fffff, (guest_memfd|memfd), 2 vCPUs' "$out1"
if ! grep -q "^gmf vmm: pid $pid," "$out1"; then
	echo "# cli-vmm: $pass passed, $((fail + 1)) failed, $skip skipped"
	exit 1
fi
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x205000 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "inject AR exits 0" test $rc -eq 0
check "the intake injected it into vCPU 0 as AR" grep -q '^intake: AR at gpa 0x205000, offset 0x205000: injected into vCPU 0' <<<"$out"
check "the guest's #MC has MCi_ADDR = gpa" grep -q '^guest: #MC on vCPU 0: .*MCi_ADDR 0x205000 ' <<<"$out"
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x3ff000 --ao 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "inject AO exits 0" test $rc -eq 0
check "the guest's #MC of the AO has MCi_ADDR = gpa" grep -q '^guest: #MC on vCPU 0: MCG_STATUS 0x5, .*MCi_ADDR 0x3ff000 ' <<<"$out"
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x400000 2>&1); rc=$?
check "inject beyond guest memory exits 2" bash -c '[ $1 -eq 2 ] && grep -q "beyond guest memory 0x0..0x3fffff" <<<"$2"' _ $rc "$out"
check "the log has the AR's MEMORY_FAILURE line" \
	grep -q '"event":"MEMORY_FAILURE".*"action-required":true.*"gpa":"0x205000".*"kind":"AR"' "$log"
check "and the AO's" grep -q '"event":"MEMORY_FAILURE".*"action-required":false.*"gpa":"0x3ff000".*"kind":"AO"' "$log"
out=$("$GMF" vmm status --record "$db" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "status of the live record exits 0" test $rc -eq 0
check "status lists the AR page" grep -qE '^  0x205000 +0x205000 +AR +injected +1 ' <<<"$out"
check "status lists the AO page" grep -qE '^  0x3ff000 +0x3ff000 +AO +injected +1 ' <<<"$out"

kill -9 "$pid"; wait "$pid" 2>/dev/null
rm -f "${XDG_RUNTIME_DIR:-/tmp}/gmf-vmm-$pid.sock"	# left behind by kill -9
out=$("$GMF" vmm status --record "$db" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "after kill -9 the record still lists both pages" \
	grep -q '^2 poisoned pages (1 AR, 1 AO, 0 memory-fault), 2 sightings, integrity ok$' <<<"$out"

start_run "$out2" --record "$db" --log "$log" --seconds 20
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x3ff000 --ao 2>&1)
echo "$out" | sed 's/^/# /'
check "after the restart an AO on a recorded page is a duplicate" \
	grep -q '^intake: AO at gpa 0x3ff000, offset 0x3ff000: duplicate' <<<"$out"
kill -TERM "$pid"; wait "$pid"; rc=$?
cat "$out2" | sed 's/^/# /'
check "a restart on the record exits 0 on SIGTERM" test $rc -eq 0
check "it fences the AR page from the record" grep -q '^gmf vmm: fenced from the record: gpa 0x205000, offset 0x205000, AR' "$out2"
check "and the AO page" grep -q '^gmf vmm: fenced from the record: gpa 0x3ff000, offset 0x3ff000, AO' "$out2"
check "2 pages in all" grep -q '^gmf vmm: 2 recorded pages fenced from ' "$out2"
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x205000 2>&1); rc=$?
check "inject to a VMM that stopped exits 1" bash -c '[ $1 -eq 1 ] && grep -q "no .gmf vmm run. with pid" <<<"$2"' _ $rc "$out"
out=$("$GMF" vmm run --record "$dir/bad.db" --seconds 1 2>&1); rc=$?
check "run on a non-record exits 2 with the record's message" \
	bash -c '[ $1 -eq 2 ] && grep -q "bad.db.*not a SQLite database" <<<"$2"' _ $rc "$out"

db3=$dir/evict.db out3=$dir/run3.out
rm -f "$db3" "$db3"-wal "$db3"-shm
start_run "$out3" --record "$db3" --threshold 1 --window 60 --seconds 20
"$GMF" vmm inject --pid "$pid" --gpa 0x210000 >/dev/null 2>&1
wait "$pid"; rc=$?
cat "$out3" | sed 's/^/# /'
check "past the threshold run exits 75 (eviction)" test $rc -eq 75

echo "# cli-vmm: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
