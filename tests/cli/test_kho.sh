#!/usr/bin/env bash
# gmf kho: save an image from a scenario, dump it, restore it; an invalid
# image is refused with the parser's message (node and property) and a
# non-zero exit, and nothing is restored. TAP, then the summary line.
#   tests/cli/test_kho.sh GMF WORKDIR
set -u
GMF=$1
dir=$2
mkdir -p "$dir"

. "$(dirname "$0")/tap.sh"

img=$dir/kho-4k.dtb
rm -f "$img"
check "save from a scenario that kexecs" \
	"$GMF" kho save scenarios/kho-gmem-4k-round-trip.scn "$img"
check "the image is written" test -s "$img"
out=$("$GMF" kho dump "$img"); rc=$?
check "dump exits 0" test $rc -eq 0
check "dump names the file node" grep -q '^/guest_memfd@1 (gmemfail,guest_memfd-v1)' <<<"$out"
out=$("$GMF" kho restore "$img"); rc=$?
echo "$out" | sed 's/^/# /'
check "restore exits 0" test $rc -eq 0
check "restore retrieves the file and rebinds it" \
	grep -q 'guest_memfd token 0x1 .*retrieved into vm0, 1 of 1 bindings rebound' <<<"$out"
check "restore keeps the invariants" grep -q '^  invariants: ok$' <<<"$out"

img2=$dir/kho-poison.dtb
rm -f "$img2"
check "save an image with a poisoned pfn (the first varied run)" \
	"$GMF" kho save scenarios/kho-mf-after-preserve-before-freeze.scn "$img2"
out=$("$GMF" kho restore "$img2"); rc=$?
echo "$out" | sed 's/^/# /'
check "restore of a poisoned image exits 0" test $rc -eq 0
check "the poisoned pfn is poisoned again" grep -q 'HardwareCorrupted 4 kB' <<<"$out"

bad=tests/fuzz/corpus/kho/bad-folios-length.dtb
out=$("$GMF" kho restore "$bad" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "a corrupt image exits non-zero" test $rc -ne 0
check "with the node and property" grep -q '/guest_memfd@1: property "folios": length 20 is not a multiple of 24' <<<"$out"
check "and restores nothing" bash -c '! grep -q "retrieved" <<<"$1"' _ "$out"
out=$("$GMF" kho dump tests/fuzz/corpus/kho/bad-truncated.dtb 2>&1); rc=$?
check "dump of a truncated image exits non-zero" test $rc -ne 0

rm -f "$dir/none.dtb"
out=$("$GMF" kho save scenarios/anon-dirty-early-kill.scn "$dir/none.dtb" 2>&1); rc=$?
check "save without a frozen session fails" test $rc -eq 1
check "and writes nothing" test ! -e "$dir/none.dtb"
"$GMF" kho >/dev/null 2>&1; rc=$?
check "usage error exits 2" test $rc -eq 2

echo "# cli-kho: $pass passed, $fail failed, 0 skipped"
[ $fail -eq 0 ]
