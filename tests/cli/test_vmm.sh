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

. "$(dirname "$0")/tap.sh"

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
	for what in "AR and AO injection" "record after kill -9" "re-fence on restart" \
		"guest-caused reset (port 0xcf9, port 0x64, triple fault)"; do
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
	grep -q '^2 poisoned pages (1 AR, 1 AO, 0 memory-fault), 2 sightings, 0 repaired, integrity ok$' <<<"$out"

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

# Guest reset (repair): an AR and an AO, the AO again (a duplicate), a reset
# over the control socket punches both pages out and marks them repaired;
# after it the same errors are news again: injected, not duplicates.
db4=$dir/reset.db log4=$dir/reset.jsonl out4=$dir/run4.out
rm -f "$db4" "$db4"-wal "$db4"-shm "$log4"
start_run "$out4" --record "$db4" --log "$log4" --vcpus 2 --seconds 30
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x207000 2>&1); rc=$?
check "reset: the AR before it is injected" \
	bash -c '[ $1 -eq 0 ] && grep -q "^intake: AR at gpa 0x207000, offset 0x207000: injected" <<<"$2"' _ $rc "$out"
"$GMF" vmm inject --pid "$pid" --gpa 0x208000 --ao >/dev/null 2>&1
"$GMF" vmm inject --pid "$pid" --gpa 0x3fe000 --ao >/dev/null 2>&1
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x208000 --ao 2>&1)
check "reset: before it an AO on a poisoned page is a duplicate" \
	grep -q '^intake: AO at gpa 0x208000, offset 0x208000: duplicate' <<<"$out"
sleep 0.3
out=$("$GMF" vmm reset --pid "$pid" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "reset exits 0" test $rc -eq 0
check "it names the AR page punched out" \
	grep -qE '^reset: gpa 0x207000, offset 0x207000 punched out of the (guest_memfd|memfd), a fresh page on next touch; marked repaired in the record$' <<<"$out"
check "and the AO page" grep -qE '^reset: gpa 0x208000, offset 0x208000 punched out of the ' <<<"$out"
check "3 pages, 3 replaced" grep -q '^reset: 3 poisoned pages, 3 replaced$' <<<"$out"
before=$(sed -n 's/^guest: restarted at its entry: vCPU 0 pass \([0-9]*\) (pass counter \([0-9]*\) before the reset)$/\2 \1/p' <<<"$out")
echo "# vCPU 0 pass counter before the reset, pass after: $before"
check "the guest restarted from its entry (its pass counter started over)" \
	bash -c 'set -- $1; [ -n "$2" ] && [ "$1" -gt 10 ] && [ "$2" -lt "$1" ]' _ "$before"
check "both vCPUs run again" grep -q '^guest: restarted at its entry: vCPU 1 pass ' <<<"$out"
check "the run's log line names the page and the punch" \
	grep -qE '^intake: reset: gpa 0x207000, offset 0x207000 punched out of the (guest_memfd|memfd) \(FALLOC_FL_PUNCH_HOLE\|FALLOC_FL_KEEP_SIZE\)' "$out4"
check "the event log has a REPAIR line for it" \
	grep -q '^{"event":"REPAIR","time_ns":[0-9]*,"action":"punch-hole","gpa":"0x207000","offset":"0x207000","repairs":1}$' "$log4"
out=$("$GMF" vmm status --record "$db4" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "status shows the AR page repaired, its history kept" \
	grep -qE '^  0x207000 +0x207000 +AR +injected +1 .* repaired \(repaired 1 time, last ' <<<"$out"
check "and the AO page (2 sightings)" grep -qE '^  0x208000 +0x208000 +AO +duplicate +2 .* repaired ' <<<"$out"
check "none poisoned, 3 repaired" \
	grep -q '^0 poisoned pages (0 AR, 0 AO, 0 memory-fault), 4 sightings, 3 repaired, integrity ok$' <<<"$out"
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x207000 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "after the reset a new AR at the same gpa is injected again" \
	bash -c '[ $1 -eq 0 ] && grep -q "^intake: AR at gpa 0x207000, offset 0x207000: injected into vCPU 0" <<<"$2"' _ $rc "$out"
check "and reaches the guest" grep -q '^guest: #MC on vCPU 0: .*MCi_ADDR 0x207000 ' <<<"$out"
check "as a first sighting since the repair (not 'again')" \
	bash -c '[ "$(grep -c "gpa 0x207000, offset 0x207000, BUS_MCEERR_AR, injected into vCPU 0 as AR$" "$1")" -eq 2 ] && ! grep -q "gpa 0x207000.*again" "$1"' _ "$out4"
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x208000 --ao 2>&1)
check "an AO on the repaired page is injected, not a duplicate" \
	grep -q '^intake: AO at gpa 0x208000, offset 0x208000: injected' <<<"$out"
out=$("$GMF" vmm status --record "$db4" 2>&1)
echo "$out" | sed 's/^/# /'
check "status: poisoned again, sightings counted on" \
	grep -qE '^  0x207000 +0x207000 +AR +injected +2 .* poisoned \(repaired 1 time, ' <<<"$out"
kill -TERM "$pid"; wait "$pid"; rc=$?
check "the reset VMM exits 0 on SIGTERM" test $rc -eq 0
start_run "$out4.2" --record "$db4" --seconds 20
kill -TERM "$pid"; wait "$pid"
cat "$out4.2" | sed 's/^/# /'
check "a restart fences the pages poisoned again" \
	grep -q '^gmf vmm: fenced from the record: gpa 0x207000, ' "$out4.2"
check "but not the page repaired and clean since" \
	grep -q '^gmf vmm: not fenced: gpa 0x3fe000, offset 0x3fe000 was replaced at a guest reset' "$out4.2"
check "2 fenced" grep -q '^gmf vmm: 2 recorded pages fenced from ' "$out4.2"
out=$("$GMF" vmm reset --pid x 2>&1); rc=$?
check "reset --pid x exits 2 naming the flag" bash -c '[ $1 -eq 2 ] && grep -q -- "--pid .x.: expected" <<<"$2"' _ $rc "$out"
out=$("$GMF" vmm reset --pid 999999999 2>&1); rc=$?
check "reset of no such VMM exits 1" bash -c '[ $1 -eq 1 ] && grep -q "no .gmf vmm run. with pid 999999999" <<<"$2"' _ $rc "$out"
out=$("$GMF" vmm reset 2>&1); rc=$?
check "reset without --pid exits 2" bash -c '[ $1 -eq 2 ] && grep -q -- "--pid P is required" <<<"$2"' _ $rc "$out"

# A reset the guest causes (issue 8) goes the same way: `reset --from-guest`
# has the payload write 0x06 to port 0xcf9 itself; the VMM sees the I/O exit,
# logs it and resets because of it: the poisoned page is punched out and
# repaired, and a new AR at that gpa is injected again (not a duplicate).
# Then the keyboard controller's pulse reset (port 0x64) and a triple fault
# (KVM_EXIT_SHUTDOWN) from the guest, each a reset with its repair.
db8=$dir/guest-reset.db log8=$dir/guest-reset.jsonl out8=$dir/run8.out
rm -f "$db8" "$db8"-wal "$db8"-shm "$log8"
start_run "$out8" --record "$db8" --log "$log8" --vcpus 2 --seconds 40
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x20d000 2>&1); rc=$?
check "guest reset: the AR before it is injected" \
	bash -c '[ $1 -eq 0 ] && grep -q "^intake: AR at gpa 0x20d000, offset 0x20d000: injected into vCPU 0" <<<"$2"' _ $rc "$out"
out=$("$GMF" vmm reset --pid "$pid" --from-guest 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "reset --from-guest exits 0" test $rc -eq 0
check "the guest itself wrote 0x06 to port 0xcf9" \
	grep -q '^guest: vCPU 0: OUT 0x6 to port 0xcf9 (reset control register): guest reset$' <<<"$out"
check "the reset it caused punched the AR page out and repaired it" \
	grep -qE '^reset: gpa 0x20d000, offset 0x20d000 punched out of the (guest_memfd|memfd), a fresh page on next touch; marked repaired in the record$' <<<"$out"
check "1 page, 1 replaced" grep -q '^reset: 1 poisoned page, 1 replaced$' <<<"$out"
check "both vCPUs run again from their entry" \
	bash -c 'grep -q "^guest: restarted at its entry: vCPU 0 pass " <<<"$1" && grep -q "^guest: restarted at its entry: vCPU 1 pass " <<<"$1"' _ "$out"
check "the run logs the I/O exit, naming the port, as a guest reset" \
	grep -q '^gmf vmm: vCPU 0: OUT 0x6 to port 0xcf9 (reset control register): guest reset$' "$out8"
check "then the repair, then the reset done" \
	bash -c 'a=$(grep -n "^gmf vmm: vCPU 0: OUT 0x6 to port 0xcf9" "$1" | cut -d: -f1); b=$(grep -n "^intake: reset: gpa 0x20d000, offset 0x20d000 punched out" "$1" | cut -d: -f1); c=$(grep -n "^gmf vmm: reset done (the guest.s): 1 poisoned page, 1 replaced$" "$1" | cut -d: -f1); [ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ] && [ "$a" -lt "$b" ] && [ "$b" -lt "$c" ]' _ "$out8"
check "the event log has its REPAIR line" \
	grep -q '^{"event":"REPAIR","time_ns":[0-9]*,"action":"punch-hole","gpa":"0x20d000","offset":"0x20d000","repairs":1}$' "$log8"
out=$("$GMF" vmm status --record "$db8" 2>&1)
echo "$out" | sed 's/^/# /'
check "status shows the page repaired by the guest's reset" \
	grep -qE '^  0x20d000 +0x20d000 +AR +injected +1 .* repaired \(repaired 1 time, last ' <<<"$out"
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x20d000 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "after it a new AR at that gpa is injected again" \
	bash -c '[ $1 -eq 0 ] && grep -q "^intake: AR at gpa 0x20d000, offset 0x20d000: injected into vCPU 0" <<<"$2"' _ $rc "$out"
check "and reaches the guest" grep -q '^guest: #MC on vCPU 0: .*MCi_ADDR 0x20d000 ' <<<"$out"
check "not as a duplicate or 'again'" \
	bash -c '[ "$(grep -c "gpa 0x20d000, offset 0x20d000, BUS_MCEERR_AR, injected into vCPU 0 as AR$" "$1")" -eq 2 ] && ! grep -q "gpa 0x20d000.*again" "$1"' _ "$out8"
"$GMF" vmm inject --pid "$pid" --gpa 0x20e000 --ao >/dev/null 2>&1
out=$("$GMF" vmm reset --pid "$pid" --from-guest=kbc 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "reset --from-guest=kbc: 0xfe to port 0x64, a reset" \
	bash -c '[ $1 -eq 0 ] && grep -q "^guest: vCPU 0: OUT 0xfe to port 0x64 (keyboard controller pulse reset): guest reset$" <<<"$2"' _ $rc "$out"
check "which repaired both pages poisoned since" grep -q '^reset: 2 poisoned pages, 2 replaced$' <<<"$out"
"$GMF" vmm inject --pid "$pid" --gpa 0x20f000 --ao >/dev/null 2>&1
out=$("$GMF" vmm reset --pid "$pid" --from-guest=triple-fault 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "reset --from-guest=triple-fault: KVM_EXIT_SHUTDOWN, a reset" \
	bash -c '[ $1 -eq 0 ] && grep -q "^guest: vCPU 0: triple fault (KVM_EXIT_SHUTDOWN): guest reset$" <<<"$2"' _ $rc "$out"
check "which repaired the page" grep -qE '^reset: gpa 0x20f000, offset 0x20f000 punched out of the ' <<<"$out"
check "the run logs the triple fault as a guest reset" \
	grep -q '^gmf vmm: vCPU 0: triple fault (KVM_EXIT_SHUTDOWN): guest reset$' "$out8"
out=$("$GMF" vmm status --record "$db8" 2>&1)
echo "$out" | sed 's/^/# /'
check "status: 3 pages repaired, the first twice" \
	bash -c 'grep -q "^0 poisoned pages (0 AR, 0 AO, 0 memory-fault), 4 sightings, 3 repaired, integrity ok$" <<<"$1" && grep -qE "^  0x20d000 .* repaired \(repaired 2 times, " <<<"$1"' _ "$out"
kill -TERM "$pid"; wait "$pid"; rc=$?
cat "$out8" | sed 's/^/# /'
check "the VMM exits 0 on SIGTERM after three guest resets" test $rc -eq 0
check "with no vCPU stopped early" bash -c '! grep -q "stopped early" "$1"' _ "$out8"
out=$("$GMF" vmm reset --pid 1 --from-guest=reboot 2>&1); rc=$?
check "reset --from-guest=reboot exits 2 naming the choices" \
	bash -c '[ $1 -eq 2 ] && grep -q -- "--from-guest .reboot.: expected cf9, kbc or triple-fault" <<<"$2"' _ $rc "$out"

# An error in the VMM's own memory: an AO there is ignored, an AR is fatal
# and the VMM exits 71 (INTAKE_EXIT_VMM_MEMORY), after logging it.
db5=$dir/own.db log5=$dir/own.jsonl out5=$dir/run5.out
rm -f "$db5" "$db5"-wal "$db5"-shm "$log5"
start_run "$out5" --record "$db5" --log "$log5" --seconds 20
out=$("$GMF" vmm inject --pid "$pid" --vmm-memory --ao 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "AO in the VMM's own memory: ignored" \
	bash -c '[ $1 -eq 0 ] && grep -q "^intake: AO at host addr 0x[0-9a-f]* (the VMM.s own memory): ignored$" <<<"$2"' _ $rc "$out"
kill -0 "$pid" 2>/dev/null; rc=$?
check "and the VMM runs on" test $rc -eq 0
out=$("$GMF" vmm inject --pid "$pid" --vmm-memory 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "AR in the VMM's own memory: fatal" \
	grep -q "^intake: AR at host addr 0x[0-9a-f]* (the VMM.s own memory): fatal: the VMM exits with status 71$" <<<"$out"
wait "$pid"; rc=$?
cat "$out5" | sed 's/^/# /'
check "the VMM exits 71" test $rc -eq 71
check "saying why" grep -q "^gmf vmm: the intake asked to stop: exit status 71 (an AR in the VMM's own memory)$" "$out5"
check "after the intake's line" \
	grep -q "^intake: BUS_MCEERR_AR at 0x[0-9a-f]* (tid [0-9]*): the VMM's own memory, the thread cannot go on: exiting with status 71$" "$out5"
check "the event log has it: hypervisor, fatal" \
	grep -q '"recipient":"hypervisor","action":"fatal","flags":{"action-required":true' "$log5"
out=$("$GMF" vmm status --record "$db5" 2>&1)
check "and the record has no page for it" grep -q '^poison record .*: 0 pages$' <<<"$out"
out=$("$GMF" vmm inject --pid 1 --gpa 0 --vmm-memory 2>&1); rc=$?
check "inject --gpa with --vmm-memory exits 2" bash -c '[ $1 -eq 2 ] && grep -q "exclude each other" <<<"$2"' _ $rc "$out"

# Machine-check forms (§3, local or broadcast). --local on Intel is an LMCE:
# KVM must offer MCG_LMCE_P (an Intel host's KVM does, an AMD host's never),
# and the guest's MCG_STATUS has MCG_STATUS_LMCES (bit 3).
out=$("$GMF" vmm run --vendor arm 2>&1); rc=$?
check "run --vendor arm exits 2 naming the flag" \
	bash -c '[ $1 -eq 2 ] && grep -q -- "--vendor .arm.: expected intel or amd" <<<"$2"' _ $rc "$out"
host_vendor=$(sed -n 's/^vendor_id[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "# host CPU vendor: $host_vendor"
out6=$dir/run6.out
start_run "$out6" --local --vcpus 2 --seconds 20
if [ "$host_vendor" = GenuineIntel ]; then
	out=$("$GMF" vmm inject --pid "$pid" --gpa 0x209000 2>&1); rc=$?
	echo "$out" | sed 's/^/# /'
	check "--local on Intel: the intake sends MCG_STATUS with LMCES" \
		bash -c '[ $1 -eq 0 ] && grep -q "^intake: AR at gpa 0x209000.* MCG_STATUS 0xf$" <<<"$2"' _ $rc "$out"
	check "and the guest reads MCG_STATUS 0xf (MCIP|EIPV|RIPV|LMCES)" \
		grep -q '^guest: #MC on vCPU 0: MCG_STATUS 0xf, ' <<<"$out"
	kill -TERM "$pid"; wait "$pid"
else
	wait "$pid"; rc=$?
	cat "$out6" | sed 's/^/# /'
	check "--local (Intel form) where KVM has no LMCE exits 1" test $rc -eq 1
	check "naming MCG_LMCE_P and KVM_X86_GET_MCE_CAP_SUPPORTED" \
		grep -q '^gmf vmm run: cannot create the VM: KVM does not offer MCG_LMCE_P (MCG_CAP bit 27) in KVM_X86_GET_MCE_CAP_SUPPORTED' "$out6"
fi
# The AMD form: the guest reads the MCi_STATUS sent (POISON, no S/AR/MCACOD);
# an AO is not injected (QEMU: AMD guests panic on it). --local needs no LMCE.
out7=$dir/run7.out
start_run "$out7" --vendor amd --local --vcpus 2 --seconds 20
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x20a000 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "AMD AR: the intake sends VAL|UC|EN|MISCV|ADDRV|POISON, MCG_STATUS 0x7" \
	bash -c '[ $1 -eq 0 ] && grep -q "^intake: AR at gpa 0x20a000, offset 0x20a000: injected into vCPU 0, bank 9, MCi_STATUS 0xbc00080000000000, MCi_ADDR 0x20a000, MCi_MISC 0x8c, MCG_STATUS 0x7$" <<<"$2"' _ $rc "$out"
check "and the guest reads exactly that" \
	grep -q '^guest: #MC on vCPU 0: MCG_STATUS 0x7, bank 9 MCi_STATUS 0xbc00080000000000 MCi_ADDR 0x20a000 MCi_MISC 0x8c$' <<<"$out"
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x20b000 --ao 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "AMD AO: ignored, not injected" \
	bash -c '[ $1 -eq 0 ] && grep -q "^intake: AO at gpa 0x20b000, offset 0x20b000: ignored$" <<<"$2" && ! grep -q "^guest:" <<<"$2"' _ $rc "$out"
out=$("$GMF" vmm inject --pid "$pid" --gpa 0x20c000 2>&1)
check "the next AR's #MC report is its own (the AO made no #MC)" \
	grep -q '^guest: #MC on vCPU 0: MCG_STATUS 0x7, bank 9 MCi_STATUS 0xbc00080000000000 MCi_ADDR 0x20c000 ' <<<"$out"
kill -TERM "$pid"; wait "$pid"; rc=$?
cat "$out7" | sed 's/^/# /'
check "the AMD run logged the AO as not injected" grep -q 'BUS_MCEERR_AO at gpa 0x20b000: no AO injection on AMD, ignored' "$out7"
check "and exits 0" test $rc -eq 0

echo "# cli-vmm: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
