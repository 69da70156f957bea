#!/usr/bin/env bash
# gmf vmm run --errors-from: the model decides, the real VMM receives
# (docs/vmm-model.md). Runs the scenarios/vmm-model-*.scn files on the real
# VMM and checks each model event's counterpart: an AR on the vCPU thread,
# an AO to the process, an AR on the main thread and memory-fault exits,
# each with the guest's #MC at MCi_ADDR = the model's gpa; the record; and
# that bad input (a task that is not the VMM, an address outside guest
# memory, a signal with no counterpart, a model VM larger than the real
# one, a varied, failing or unparsable scenario) is refused naming the line,
# exit 2, before anything is delivered. Skips (77) without /dev/kvm. TAP,
# then the summary line.
#   tests/cli/test_vmm_model.sh GMF WORKDIR
set -u
GMF=$1
dir=$2
mkdir -p "$dir"
n=0 pass=0 fail=0 skip=0

. "$(dirname "$0")/tap.sh"

if [ ! -e /dev/kvm ]; then
	"$GMF" vmm run --errors-from scenarios/vmm-model-early-kill-ao.scn --seconds 1 >/dev/null 2>&1
	rc=$?
	check "run --errors-from without /dev/kvm exits 77" test $rc -eq 77
	n=$((n + 1)); skip=$((skip + 1)); echo "ok $n the model's errors on the real VMM # SKIP no /dev/kvm"
	echo "# cli-vmm-model: $pass passed, $fail failed, $skip skipped"
	[ $fail -eq 0 ] && exit 77
	exit 1
fi

# Run `gmf vmm run --errors-from FILE ARGS...` to its end: output in $out, status in $rc.
run_model() {
	out=$("$GMF" vmm run --errors-from "$@" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/# /'
}

# The guest consumes a shared page: AR on vCPU 0's thread, then the memory fault.
scn=scenarios/vmm-model-guest-consumes-shared.scn
run_model "$scn" --seconds 1
check "guest-consumes: exits 0" test $rc -eq 0
check "the model's AR to the vCPU thread is logged with its line" \
	grep -q "^gmf vmm: model $scn:[0-9]*: -> SIGBUS to vcpu0:[0-9]* si_code=BUS_MCEERR_AR si_addr=0x7f0000205000 si_addr_lsb=12$" <<<"$out"
check "the real VMM raises it on vCPU 0's thread at gpa 0x205000" \
	grep -q "^gmf vmm: real: SIGBUS BUS_MCEERR_AR to vCPU 0's thread (rt_tgsigqueueinfo to itself), si_addr .*: gpa 0x205000)$" <<<"$out"
check "the intake's own line: injected into vCPU 0 as AR" \
	grep -q "^intake: guest MCE memory error at host addr .*, gpa 0x205000, offset 0x205000, BUS_MCEERR_AR, injected into vCPU 0 as AR$" <<<"$out"
check "the guest's #MC for the AR has MCi_ADDR = the model's gpa" \
	grep -q "^gmf vmm: guest: #MC on vCPU 0: MCG_STATUS 0x7, bank 9 .* MCi_ADDR 0x205000 .* = the model's gpa ($scn:[0-9]*)$" <<<"$out"
check "the model's memory-fault exit is logged" \
	grep -q "^gmf vmm: model $scn:[0-9]*: <= KVM_RUN vm0 vcpu0 = -1 errno=EHWPOISON exit_reason=KVM_EXIT_MEMORY_FAULT gpa=0x205000 size=0x1000 flags=0$" <<<"$out"
check "and posted on vCPU 0 for real" \
	grep -q "^gmf vmm: real: KVM_EXIT_MEMORY_FAULT/EHWPOISON on vCPU 0 (tid [0-9]*), gpa 0x205000 size 0x1000 flags 0, posted by its thread" <<<"$out"
check "the intake injects it again (the guest touched it again)" \
	grep -q "^intake: .*gpa 0x205000, .*KVM_EXIT_MEMORY_FAULT/EHWPOISON, injected into vCPU 0 as AR (again" <<<"$out"
check "both events delivered, two #MC with the model's gpa" \
	grep -q "^gmf vmm: errors from $scn: 2 of 2 delivered, 2 #MC in the guest with MCi_ADDR = the model's gpa$" <<<"$out"

# Early kill: AO to the process, then the VMM's own read: AR on the main thread.
scn=scenarios/vmm-model-early-kill-ao.scn db=$dir/ao.db
rm -f "$db" "$db"-wal "$db"-shm
run_model "$scn" --record "$db" --seconds 1
check "early-kill: exits 0" test $rc -eq 0
check "the model's AO to the VMM process is logged" \
	grep -q "^gmf vmm: model $scn:[0-9]*: -> SIGBUS to qemu:[0-9]* si_code=BUS_MCEERR_AO si_addr=0x7f00003ff000" <<<"$out"
check "the real VMM queues the AO to its process" \
	grep -q "^gmf vmm: real: SIGBUS BUS_MCEERR_AO to the VMM process (rt_sigqueueinfo from the main thread), .*gpa 0x3ff000)$" <<<"$out"
check "the intake injects the AO into vCPU 0 as AO" \
	grep -q "^gmf vmm: intake: AO at gpa 0x3ff000, offset 0x3ff000: injected into vCPU 0, .*MCG_STATUS 0x5$" <<<"$out"
check "the guest's #MC for the AO: MCG_STATUS 0x5 (no EIPV), MCi_ADDR = gpa" \
	grep -q "^gmf vmm: guest: #MC on vCPU 0: MCG_STATUS 0x5, bank 9 MCi_STATUS 0xbd000000000000c0 MCi_ADDR 0x3ff000 .* = the model's gpa" <<<"$out"
check "the model's AR to the main thread goes to the real main thread" \
	grep -q "^gmf vmm: real: SIGBUS BUS_MCEERR_AR to the main thread (rt_tgsigqueueinfo to itself), .*gpa 0x3ff000)$" <<<"$out"
check "which no vCPU consumed: injected as AO" \
	grep -q "^intake: .*gpa 0x3ff000, offset 0x3ff000, BUS_MCEERR_AR, injected into vCPU 0 as AO" <<<"$out"
out=$("$GMF" vmm status --record "$db" 2>&1)
echo "$out" | sed 's/^/# /'
check "the record holds the page as AO, seen twice" grep -qE '^  0x3ff000 +0x3ff000 +AO +injected +2 ' <<<"$out"

# Private memory, two vCPUs: the exits on the vCPU that faulted.
scn=scenarios/vmm-model-private-exits.scn
run_model "$scn" --vcpus 2 --seconds 1
check "private-exits: exits 0" test $rc -eq 0
check "vCPU 1's exit goes to real vCPU 1, #MC there at the gpa" \
	grep -q "^gmf vmm: guest: #MC on vCPU 1: MCG_STATUS 0x7, .*MCi_ADDR 0x210000 .* = the model's gpa" <<<"$out"
check "vCPU 0's to real vCPU 0" \
	grep -q "^gmf vmm: guest: #MC on vCPU 0: MCG_STATUS 0x7, .*MCi_ADDR 0x210000 .* = the model's gpa" <<<"$out"
check "the exit's private flag is passed on" \
	grep -q "^gmf vmm: real: KVM_EXIT_MEMORY_FAULT/EHWPOISON on vCPU 1 .*flags 0x8," <<<"$out"

# Bad input: exit 2 naming the line and what was expected; nothing delivered (no VM started).
refused() {
	local what=$1 pattern=$2; shift 2
	run_model "$@" --seconds 1
	check "$what: exits 2" test $rc -eq 2
	check "$what: says why" grep -q -- "$pattern" <<<"$out"
	check "$what: nothing started or delivered" \
		bash -c '! grep -qE "^gmf vmm: (pid|model|real)" <<<"$1"' _ "$out"
}
refused "a model VM with more vCPUs" \
	"^gmf vmm run: scenarios/vmm-model-private-exits.scn:[0-9]*: vCPU cpu1 has id 1, the real VMM has 1 vCPU: expected a model VM no larger than the real one (--vcpus 2)$" \
	scenarios/vmm-model-private-exits.scn
sed 's/size=4M/size=8M/g' scenarios/vmm-model-private-exits.scn >"$dir/big.scn"
refused "a model VM with more memory" \
	"^gmf vmm run: $dir/big.scn:[0-9]*: the model VM's memory reaches gpa 0x7fffff, beyond the real guest memory 0x0..0x3fffff: expected a model VM no larger than the real one (--memory 8M)$" \
	"$dir/big.scn" --vcpus 2
grep -v '^switch mf_delayed_fix=on$' scenarios/vmm-model-guest-consumes-shared.scn >"$dir/si-kernel.scn"
refused "a signal with no counterpart (SI_KERNEL)" \
	"^gmf vmm run: $dir/si-kernel.scn:[0-9]*: -> SIGBUS to vcpu0:[0-9]* si_code=SI_KERNEL: the real VMM has no counterpart: expected SIGBUS with BUS_MCEERR_AR or BUS_MCEERR_AO$" \
	"$dir/si-kernel.scn"
cat >"$dir/helper.scn" <<'EOF'
host memory=4G
switch mf_delayed_fix=on
process qemu handler=yes
thread vcpu0 qemu
process helper handler=yes
prctl helper mce_kill=early => ret=0
vm vm0 qemu type=default => ret=0
vcpu cpu0 vm0 vcpu0 => ret=0
gmem g vm0 size=4M flags=mmap,init_shared => ret=0
memslot vm0 slot=0 gpa=0 size=4M gmem=g offset=0 => ret=0
mmap qemu gm size=4M file=g => ret=0
mmap helper hm size=4M file=g => ret=0
write hm+0x205000
memory_failure at=hm+0x205000
expect signal helper SIGBUS code=BUS_MCEERR_AO addr=hm+0x205000
EOF
refused "a signal to a task that is not the VMM" \
	"^gmf vmm run: $dir/helper.scn:14: the model signalled helper:[0-9]*, which is not the VMM (qemu): .*expected signals to the VM's process or its vCPU threads only$" \
	"$dir/helper.scn"
cat >"$dir/anon.scn" <<'EOF'
host memory=4G
process qemu handler=yes
prctl qemu mce_kill=early => ret=0
thread vcpu0 qemu
vm vm0 qemu type=default => ret=0
vcpu cpu0 vm0 vcpu0 => ret=0
gmem g vm0 size=4M flags=mmap,init_shared => ret=0
memslot vm0 slot=0 gpa=0 size=4M gmem=g offset=0 => ret=0
mmap qemu heap size=64K => ret=0
write heap+0x5000
memory_failure at=heap+0x5000 => ret=0 type=MF_MSG_DIRTY_LRU result=MF_RECOVERED
expect signal qemu SIGBUS code=BUS_MCEERR_AO addr=heap+0x5000
EOF
refused "an address outside guest memory" \
	"^gmf vmm run: $dir/anon.scn:11: .*si_addr 0x7f0000005000 is not in the guest memory of vm0 (no memslot maps it): expected an address in the VM's guest memory$" \
	"$dir/anon.scn"
refused "a scenario that varies a switch" \
	"^gmf vmm run: scenarios/gmem-stage-private-fault-ehwpoison.scn:[0-9]*: the scenario varies gmem_mf_stage (2 runs): expected a scenario that runs once" \
	scenarios/gmem-stage-private-fault-ehwpoison.scn
printf 'host memory=4G\nprocess qemu handler=yes\nexpect task qemu killed\n' >"$dir/fails.scn"
refused "a scenario that fails in the model" \
	"^gmf vmm run: $dir/fails.scn:3: the scenario fails in the model: expected qemu:100 killed, but it is alive" \
	"$dir/fails.scn"
printf 'host memory=4G\nbogus x\n' >"$dir/parse.scn"
refused "a scenario that does not parse" "^gmf vmm run: $dir/parse.scn:2:1: error: unknown verb 'bogus'" \
	"$dir/parse.scn"
printf 'host memory=4G\nprocess qemu handler=yes\n' >"$dir/novm.scn"
refused "a scenario without a VM" "^gmf vmm run: $dir/novm.scn: no VM: expected a 'vm' line" \
	"$dir/novm.scn"
refused "a missing file" "^gmf vmm run: $dir/missing.scn: No such file or directory$" "$dir/missing.scn"
refused "with a live update" "do not go together" scenarios/vmm-model-early-kill-ao.scn \
	--live-update-after 1
out=$("$GMF" vmm run --errors-from 2>&1); rc=$?
check "--errors-from without a file exits 2 naming the flag" \
	bash -c '[ $1 -eq 2 ] && grep -q -- "--errors-from needs a value" <<<"$2"' _ $rc "$out"

echo "# cli-vmm-model: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
