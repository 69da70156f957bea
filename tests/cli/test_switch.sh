#!/usr/bin/env bash
# Scenario switches: `switch` and `vary` take exactly each switch's own
# values (one table, scn/switch.c); anything else is a parse error naming
# the line, the column and the values expected, exit 2. TAP, then the
# summary line.
#   tests/cli/test_switch.sh GMF WORKDIR
set -u
GMF=$1
dir=$2
mkdir -p "$dir"

. "$(dirname "$0")/tap.sh"

# refused: LINE, expected message
refused() {
	local body=$1 msg=$2 out rc
	printf 'host memory=1G\n%s\n' "$body" > "$dir/s.scn"
	out=$("$GMF" run --quiet "$dir/s.scn" 2>&1); rc=$?
	check "refused: $body" bash -c '[ $1 -eq 2 ] && grep -qF -- "$2" <<<"$3"' _ $rc "$msg" "$out"
}

accepted() {
	printf 'host memory=1G\n%s\n' "$1" > "$dir/s.scn"
	check "accepted: $1" bash -c '"$1" run --quiet "$2" >/dev/null 2>&1' _ "$GMF" "$dir/s.scn"
}

refused 'vary split_poison=distribute,on' "s.scn:2:6: error: split_poison must be distribute or copy_head, not 'on'"
refused 'switch mf_delayed_fix=maybe' "error: mf_delayed_fix must be off or on, not 'maybe'"
refused 'switch panic_rule=v5' "error: panic_rule must be mainline, v4 or v9, not 'v5'"
refused 'vary kho_poison=carry,sigbus' "error: kho_poison must be refuse or carry, not 'sigbus'"
refused 'switch no_such=1' "error: unknown switch 'no_such'"
accepted 'vary split_poison=distribute,copy_head'
accepted 'switch mf_delayed_fix=on gmem_mf_stage=initial gmem_mf_kill=sigkill_current tdx_bug=buggy_cleanup kho_poison=carry panic_rule=v9'

echo "# cli-switch: $pass passed, $fail failed, 0 skipped"
[ $fail -eq 0 ]
