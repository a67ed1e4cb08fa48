#!/usr/bin/env bash
# `make vm-assets`: the guest side of husk's microVMs, built once into
# VM_ASSETS (default /var/cache/husk/vm; husk finds it there, or through
# HUSK_VM_ASSETS): Debian's linux-image-amd64 unpacked to an ELF vmlinux,
# and an uncompressed initramfs with husk-agent as /init and the virtio
# modules it loads. The kernel package is downloaded once (apt-get
# download: not installed on the host) and kept unpacked in
# VM_KERNEL_CACHE; a new agent only rebuilds the initramfs.
#
# usage: vm-assets.sh HUSK_AGENT HUSK_VM VERSION
set -euo pipefail
AGENT=$1 HUSKVM=$2 VERSION=$3
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${VM_ASSETS:-/var/cache/husk/vm}
KCACHE=${VM_KERNEL_CACHE:-/var/cache/husk/vm-kernel}
log() { printf '[vm-assets %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "must run as root (apt-get)"; exit 2; }
"$REPO/scripts/ensure-deps.sh" xz:xz-utils dpkg-deb:dpkg
# qemu without its recommends (no firmware packages or GUI libraries).
NO_RECOMMENDS=1 "$REPO/scripts/ensure-deps.sh" qemu-system-x86_64:qemu-system-x86

resolve() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'; }
pkg=$(resolve)
if [ -z "$pkg" ]; then
	apt-get -o DPkg::Lock::Timeout=600 update -q >&2
	pkg=$(resolve)
fi
[ -n "$pkg" ] || { log "cannot resolve linux-image-amd64"; exit 2; }
tree=$KCACHE/$pkg
if [ ! -d "$tree/lib/modules" ]; then
	log "fetching $pkg"
	dl=$(mktemp -d)
	trap 'rm -rf "$dl"' EXIT
	chown _apt "$dl" 2>/dev/null || true
	# Stale package lists name a version the mirror no longer has.
	if ! (cd "$dl" && apt-get download -q "$pkg" >&2); then
		apt-get -o DPkg::Lock::Timeout=600 update -q >&2
		(cd "$dl" && apt-get download -q "$pkg" >&2)
	fi
	mkdir -p "$KCACHE"
	rm -rf "$tree.tmp"
	dpkg-deb -x "$dl"/*.deb "$tree.tmp"
	# Only the kernel and the modules are used.
	rm -rf "$tree.tmp/usr" "$tree.tmp/etc"
	mv "$tree.tmp" "$tree"
	# Older kernel packages are not used any more.
	for old in "$KCACHE"/*; do
		[ "$old" = "$tree" ] || rm -rf "$old"
	done
fi
log "building the kernel and the initramfs ($pkg, husk-agent $VERSION) into $OUT"
"$HUSKVM" vm assets build --kernel-tree "$tree" --kernel-package "$pkg" \
	--agent "$AGENT" --agent-version "$VERSION" --out "$OUT"
