#!/usr/bin/env bash
# Check #include lines against the layering of docs/design.md:
#   base <- mm <- kvm <- arch; kho (mm + kvm); base <- sim;
#   mm, kvm, arch, kho, sim <- scn <- cli; base <- vmm <- cli.
# Prints TAP and a summary line like the unit suites.
set -u
cd "$(dirname "$0")/.."

declare -A allowed=(
	[base]="base"
	[mm]="base mm"
	[kvm]="base mm kvm"
	[arch]="base mm kvm arch"
	[kho]="base mm kvm kho"
	[sim]="base sim"
	[scn]="base mm kvm arch kho sim scn"
	[vmm]="base vmm"
	[cli]="base mm kvm arch kho sim scn vmm cli"
)

n=0 bad=0
for layer in "${!allowed[@]}"; do
	[ -d "$layer" ] || continue
	while IFS= read -r line; do
		file=${line%%:*}
		inc=$(sed -E 's/.*#include "([^/"]+)\/.*/\1/' <<<"$line")
		[ "$inc" = "$line" ] && continue
		n=$((n + 1))
		case " ${allowed[$layer]} " in
		*" $inc "*) ;;
		*) echo "not ok $n $file includes $inc/ (layer $layer may include: ${allowed[$layer]})"; bad=$((bad + 1)) ;;
		esac
	done < <(grep -rn --include='*.[ch]' '^#include "' "$layer")
done
if grep -rln --include='*.[ch]' '<linux/kvm.h>' base mm kvm arch kho sim scn 2>/dev/null; then
	echo "not ok model code includes <linux/kvm.h>"
	bad=$((bad + 1))
fi
echo "ok checked $n includes"
echo "# layering: $((bad == 0 ? 1 : 0)) passed, $bad failed, 0 skipped"
[ $bad -eq 0 ]
