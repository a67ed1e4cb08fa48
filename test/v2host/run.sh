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
# Debian's generic kernel as an ELF vmlinux, kept in $CACHE.
"$HERE/kernel.sh" "$CACHE"

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
# husk's D-Bus client for the systemd driver, found next to husk (the
# guest runs no systemd: the driver's tests check its error there).
if [ -x "$(dirname "$HUSK")/husk-systemd" ]; then
	cp "$(dirname "$HUSK")/husk-systemd" "$ROOT/bin/husk-systemd"
fi
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
