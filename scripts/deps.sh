#!/usr/bin/env bash
# Install the Debian packages the build and the tests need, if any is missing.
# Runs as part of `make run`, `make test` and `make bench`; a no-op when all
# are present.
set -euo pipefail

# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross: make test compiles the VMM's
# arm64 intake (scripts/check-aarch64.sh).
pkgs=(gcc make libc6-dev clang libclang-rt-14-dev libfdt-dev libsqlite3-dev
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: need root to install ${missing[*]} (apt-get install ${missing[*]})" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
