#!/usr/bin/env bash
# gmf vmm live update (issue 8 §5) on real KVM: run with a record and
# --live-update-after, inject an AR, let the VMM re-exec itself keeping the
# guest memory (a memfd) and the record; check the new process re-fences the
# page, that guest memory survived (the workload's pass counter, kept in
# guest memory, goes on from where it was instead of restarting at 0), that
# an AO on the recorded page is a duplicate and that the guest still takes a
# #MC. Skips (77) without /dev/kvm. TAP, then the summary line.
#   tests/cli/test_vmm_update.sh GMF WORKDIR
set -u
GMF=$1
dir=$2
mkdir -p "$dir"
n=0 pass=0 fail=0 skip=0
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null' EXIT

. "$(dirname "$0")/tap.sh"

out=$("$GMF" vmm run --live-update-after 0 2>&1); rc=$?
check "run --live-update-after 0 exits 2 naming the flag" \
	bash -c '[ $1 -eq 2 ] && grep -q -- "--live-update-after .0.: expected" <<<"$2"' _ $rc "$out"
out=$("$GMF" vmm run --inherit-fd 99 2>&1); rc=$?
check "run --inherit-fd of a closed fd exits 2" \
	bash -c '[ $1 -eq 2 ] && grep -q -- "--inherit-fd .99.: expected" <<<"$2"' _ $rc "$out"

if [ ! -e /dev/kvm ]; then
	n=$((n + 1)); skip=$((skip + 1)); echo "ok $n live update # SKIP no /dev/kvm"
	echo "# cli-vmm-update: $pass passed, $fail failed, $skip skipped"
	exit 77
fi

db=$dir/record.db log=$dir/events.jsonl out1=$dir/run.out
rm -f "$db" "$db"-wal "$db"-shm "$log"

# Wait (at most 10 s) for a line matching $1 in the run's output.
wait_line() {
	for _ in $(seq 100); do
		grep -q "$1" "$out1" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

"$GMF" vmm run --record "$db" --log "$log" --vcpus 2 --live-update-after 3 --seconds 20 \
	>"$out1" 2>&1 &
pid=$!
vmpid=$pid
wait_line '^gmf vmm: pid '
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x205000 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "before the update an AR is injected" \
	bash -c '[ $1 -eq 0 ] && grep -q "^intake: AR at gpa 0x205000, offset 0x205000: injected" <<<"$2"' _ $rc "$out"
wait_line '^gmf vmm: 1 recorded page fenced'; rc=$?
check "the VMM re-execs itself and fences again" test $rc -eq 0
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x205000 --ao 2>&1)
echo "$out" | sed 's/^/# /'
check "after the update an AO on the recorded page is a duplicate" \
	grep -q '^intake: AO at gpa 0x205000, offset 0x205000: duplicate' <<<"$out"
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x206000 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "and the guest runs: a new AR reaches its #MC handler" \
	bash -c '[ $1 -eq 0 ] && grep -q "^guest: #MC on vCPU 0: .*MCi_ADDR 0x206000 " <<<"$2"' _ $rc "$out"
sleep 0.5
kill -TERM "$pid"; wait "$pid"; rc=$?
pid=
cat "$out1" | sed 's/^/# /'
check "the updated VMM exits 0 on SIGTERM" test $rc -eq 0
check "one process (same pid) printed its start twice" \
	test "$(grep -c "^gmf vmm: pid $vmpid, " "$out1")" -eq 2
check "the guest memory is a memfd" grep -q '^gmf vmm: pid [0-9]*, guest memory 0x0\.\.0x3fffff, memfd, 2 vCPUs' "$out1"
check "the new process logs the re-fence of the AR page" \
	grep -q '^gmf vmm: fenced from the record: gpa 0x205000, offset 0x205000, AR' "$out1"
before=$(sed -n 's/^gmf vmm: live update after .*vCPU 0 pass counter \([0-9]*\);.*/\1/p' "$out1")
kept=$(sed -n 's/^gmf vmm: live update: guest memory from inherited memfd .*vCPU 0 pass counter \([0-9]*\);.*/\1/p' "$out1")
after=$(sed -n 's/^gmf vmm: live update: after it; vCPU 0 pass counter \([0-9]*\);.*/\1/p' "$out1")
echo "# vCPU 0 pass counter: $before at the update, $kept in the new process, $after at the end"
check "the guest's pass counter was counting before the update" test "${before:-0}" -gt 0
check "the new process finds it in the kept guest memory" test "${kept:--1}" = "$before"
check "and the guest goes on counting from it" test "${after:-0}" -gt "${kept:-0}"
check "the new process took 2 errors, no stop" grep -q '^gmf vmm: 2 errors handled' "$out1"
check "the log has the re-fenced page's AO as a duplicate" \
	grep -q '"gpa":"0x205000".*"kind":"AO"' "$log"

echo "# cli-vmm-update: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
