#!/bin/bash
# ensure-deps.sh CMD:PACKAGE... — installs the Debian package of every
# command that is missing, so `make demo` and `make test` work on a fresh
# machine. Runs apt-get update only when an install fails without it.
set -eu
missing=()
for spec in "$@"; do
	cmd=${spec%%:*}
	pkg=${spec#*:}
	command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "ensure-deps: missing packages ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "ensure-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
opts=(-o DPkg::Lock::Timeout=600 install -y -q)
# NO_RECOMMENDS=1: only what the package depends on.
[ "${NO_RECOMMENDS:-}" = 1 ] && opts+=(--no-install-recommends)
apt-get "${opts[@]}" "${missing[@]}" >&2 ||
	{ apt-get -o DPkg::Lock::Timeout=600 update -q >&2 && apt-get "${opts[@]}" "${missing[@]}" >&2; }
