#!/usr/bin/env bash
# `make v2host`: husk's integration tests on a pure cgroup v2 host. This
# machine is hybrid (v1 controllers plus cgroup2 at /sys/fs/cgroup/unified),
# so a Debian kernel is booted under qemu (TCG: there is no KVM here) with
# cgroup2 alone at /sys/fs/cgroup. Its initramfs holds everything: the guest
# /init (test/v2host/guest), husk, busybox and static test binaries; the
# guest prints the tests' output on the serial console and powers off.
#
# Environment: HUSK [bin/husk]; V2HOST_CACHE [/var/cache/husk-test/v2host]
# (the kernel, kept between runs); V2HOST_RUN (test selection for the
# integration tests); V2HOST_ARGS (more flags for the integration test
# binary); V2HOST_TIMEOUT [900] seconds for the VM. A hung test panics
# with every goroutine's stack after -test.timeout, before the VM limit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${V2HOST_CACHE:-/var/cache/husk-test/v2host}
HUSK=${HUSK:-$REPO/bin/husk}
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
# The whole integration suite: on a pure cgroup v2 host and on Debian 12's
# kernel (6.1), older than this machine's. Tests that need what the guest
# lacks (strace, useradd) skip with their reason.
RUN=${V2HOST_RUN:-.}
log() { printf '[v2host %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "must run as root"; exit 2; }
[ -x "$HUSK" ] || { log "no husk binary at $HUSK (make build)"; exit 2; }
"$REPO/scripts/ensure-deps.sh" busybox:busybox-static xz:xz-utils dpkg-deb:dpkg
# qemu without its recommends (no firmware packages or GUI libraries).
NO_RECOMMENDS=1 "$REPO/scripts/ensure-deps.sh" qemu-system-x86_64:qemu-system-x86

# ---------------------------------------------------------------- kernel ---
# Debian's generic kernel, downloaded (not installed), its compressed
# payload unpacked to an ELF vmlinux: qemu boots that through the PVH entry
# point, skipping a decompression that costs seconds under TCG.
mkdir -p "$CACHE"
if [ ! -s "$CACHE/vmlinux" ]; then
	log "fetching Debian's linux-image-amd64"
	resolve() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'; }
	dl=$(mktemp -d)
	chown _apt "$dl" 2>/dev/null || true
	pkg=$(resolve)
	# Stale package lists name a version the mirror no longer has: update
	# them and try again.
	if [ -z "$pkg" ] || ! (cd "$dl" && apt-get download -q "$pkg" >&2); then
		apt-get -o DPkg::Lock::Timeout=600 update -q >&2
		pkg=$(resolve)
		[ -n "$pkg" ] || { log "cannot resolve linux-image-amd64"; exit 2; }
		(cd "$dl" && apt-get download -q "$pkg" >&2)
	fi
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
	rm -rf "$dl"
fi

# ------------------------------------------------------------- initramfs ---
WORK=$(mktemp -d /tmp/husk-v2host.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,tests/bin,root,etc}
log "building the guest and the test binaries"
(
	cd "$REPO"
	export CGO_ENABLED=0
	"$GO" build -trimpath -o "$ROOT/init" ./test/v2host/guest
	"$GO" test -c -o "$ROOT/tests/cgroups.test" ./cgroups
	"$GO" test -c -o "$ROOT/tests/integration.test" ./test/integration
	# The static attackers the tests put into containers.
	for prog in test/integration/testdata/*/; do
		if ls "$prog"*.go >/dev/null 2>&1; then
			"$GO" build -o "$ROOT/tests/bin/$(basename "$prog")" "./$prog"
		fi
	done
)
cp "$HUSK" "$ROOT/bin/husk"
cp "$(command -v busybox)" "$ROOT/bin/busybox"
"$ROOT/bin/busybox" --install -s "$ROOT/bin"
# --install links to the busybox it runs as: make the links relative.
for l in "$ROOT"/bin/*; do
	[ -L "$l" ] && ln -sfn busybox "$l"
done
echo "root:x:0:0:root:/root:/bin/sh" >"$ROOT/etc/passwd"
echo "root:x:0:" >"$ROOT/etc/group"
cat >"$ROOT/tests/run" <<RUN
/tests/cgroups.test -test.v -test.count=1 -test.timeout=5m
/tests/integration.test -test.v -test.count=1 -test.timeout=10m -husk=/bin/husk -testbins=/tests/bin -test.run $RUN ${V2HOST_ARGS:-}
RUN
(cd "$ROOT" && find . | "$ROOT/bin/busybox" cpio -o -H newc 2>/dev/null) >"$WORK/initrd"
log "initramfs: $(du -h "$WORK/initrd" | cut -f1), kernel $(cat "$CACHE/version")"

# ------------------------------------------------------------------ boot ---
# microvm boots fastest under TCG; the guest's TSC runs at the host's rate,
# and passing it spares a calibration that can fail under TCG.
khz=$(awk -F: '/^cpu MHz/{printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
log "booting (qemu, TCG)"
set +e
timeout "${V2HOST_TIMEOUT:-900}" qemu-system-x86_64 -nodefaults -no-user-config -nographic -no-reboot \
	-accel tcg -cpu max -m 1G -smp 1 -M microvm,x-option-roms=off \
	-kernel "$CACHE/vmlinux" -initrd "$WORK/initrd" \
	-append "console=ttyS0 panic=-1 quiet cryptomgr.notests tsc_early_khz=$khz" \
	-chardev stdio,id=con,signal=off -serial chardev:con </dev/null | tee "$WORK/console.log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
	log "qemu exited with $rc (124: timed out)"
	exit 1
fi
grep -a '^husk-v2host: ' "$WORK/console.log" >&2 || true
if ! grep -aq '^husk-v2host: done PASS' "$WORK/console.log"; then
	log "FAIL: the tests failed in the cgroup v2 guest (output above)"
	exit 1
fi
log "PASS: cgroup tests on a pure cgroup v2 host"
