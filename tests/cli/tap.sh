# TAP helpers for the CLI test scripts: source it, then `check WHAT CMD...`
# runs CMD and prints "ok N WHAT" or "not ok N WHAT", counting in pass and
# fail for the summary line.
n=0 pass=0 fail=0

check() {
	local what=$1; shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n $what"; pass=$((pass + 1))
	else
		echo "not ok $n $what"; fail=$((fail + 1))
	fi
}
