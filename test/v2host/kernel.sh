#!/usr/bin/env bash
# kernel.sh CACHE [MODULES_DIR]: makes sure CACHE holds Debian's generic
# kernel as an ELF vmlinux (CACHE/vmlinux, CACHE/version), downloaded with
# apt-get (not installed on this host). qemu boots the vmlinux through the
# PVH entry point, skipping a decompression that costs seconds under TCG.
# With MODULES_DIR, that kernel's modules (lib/modules/<version>) are also
# extracted there, from the package of exactly the cached version.
# Used by test/v2host/run.sh and test/systemd/image.sh.
set -euo pipefail
CACHE=$1
MODULES_DIR=${2:-}
log() { printf '[kernel %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# download PKG DIR: apt-get download into DIR; stale package lists name a
# version the mirror no longer has, so update them and try once more.
download() {
	(cd "$2" && apt-get download -q "$1" >&2) && return 0
	apt-get -o DPkg::Lock::Timeout=600 update -q >&2
	(cd "$2" && apt-get download -q "$1" >&2)
}

mkdir -p "$CACHE"
if [ ! -s "$CACHE/vmlinux" ]; then
	log "fetching Debian's linux-image-amd64"
	resolve() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'; }
	dl=$(mktemp -d)
	chown _apt "$dl" 2>/dev/null || true
	pkg=$(resolve)
	if [ -z "$pkg" ]; then
		apt-get -o DPkg::Lock::Timeout=600 update -q >&2
		pkg=$(resolve)
		[ -n "$pkg" ] || { log "cannot resolve linux-image-amd64"; exit 2; }
	fi
	download "$pkg" "$dl"
	dpkg-deb -x "$dl"/*.deb "$dl/x"
	bz=$(ls "$dl"/x/boot/vmlinuz-* | head -n1)
	# x86 boot protocol: setup_sects at 0x1f1, payload_offset at 0x248,
	# payload_length at 0x24c; the payload ends with its 4-byte size.
	setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
	[ "$setup_sects" = 0 ] && setup_sects=4
	poff=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
	plen=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
	start=$(((setup_sects + 1) * 512 + poff))
	magic=$(od -An -tx1 -j "$start" -N4 "$bz" | tr -d ' ')
	[ "$magic" = fd377a58 ] || { log "kernel payload is not XZ (magic $magic)"; exit 2; }
	dd if="$bz" iflag=skip_bytes,count_bytes skip="$start" count=$((plen - 4)) bs=1M status=none |
		xz -dc --single-stream >"$CACHE/vmlinux.tmp"
	[ "$(head -c4 "$CACHE/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || { log "kernel payload is not an ELF"; exit 2; }
	mv "$CACHE/vmlinux.tmp" "$CACHE/vmlinux"
	basename "$bz" >"$CACHE/version"
	if [ -n "$MODULES_DIR" ]; then
		mkdir -p "$MODULES_DIR"
		cp -a "$dl"/x/lib/modules/. "$MODULES_DIR/"
	fi
	rm -rf "$dl"
fi

if [ -n "$MODULES_DIR" ]; then
	kver=$(sed 's/^vmlinuz-//' "$CACHE/version")
	if [ ! -d "$MODULES_DIR/$kver/kernel" ]; then
		log "fetching the modules of $kver"
		dl=$(mktemp -d)
		chown _apt "$dl" 2>/dev/null || true
		download "linux-image-$kver" "$dl"
		dpkg-deb -x "$dl"/*.deb "$dl/x"
		mkdir -p "$MODULES_DIR"
		cp -a "$dl/x/lib/modules/$kver" "$MODULES_DIR/"
		rm -rf "$dl"
	fi
fi
