#!/usr/bin/env bash
# `make v2host`: husk's tests on a pure cgroup v2 host. This machine is
# hybrid (v1 controllers plus cgroup2 at /sys/fs/cgroup/unified), so a
# Debian kernel is booted under qemu (TCG: there is no KVM here) with
# cgroup2 alone at /sys/fs/cgroup. Its initramfs holds everything: the guest
# /init (test/v2host/guest), husk, busybox, runc 1.5.3 with its shared
# libraries, and the test binaries; the guest prints the tests' output on
# the serial console and powers off. One boot runs, in order, the suites of
# V2HOST_SUITES: cgroups (the package's tests), integration
# (test/integration), parity (test/parity: husk beside runc 1.5.3).
#
# Environment: HUSK [bin/husk]; RUNC [/var/cache/husk-test/runc-1.5.3/runc]
# (for parity); V2HOST_CACHE [/var/cache/husk-test/v2host] (the kernel,
# kept between runs); V2HOST_SUITES [cgroups integration parity];
# V2HOST_RUN (-test.run of the integration tests); V2HOST_ARGS (more flags
# for the integration test binary); V2HOST_PARITY [cgroup] the parity
# cases (-select: cgroup, those that can differ between cgroup v1 and v2
# and a sample of the rest; all); V2HOST_PARITY_RUN (-test.run of the
# parity suite, one level per /: TestParity/case/(cgroups|update)/);
# V2HOST_PARITY_ARGS (more flags for it, e.g. -show); V2HOST_PARITY_PARALLEL
# [8]; V2HOST_SMP [2] the guest's CPUs; V2HOST_TIMEOUT [1500] seconds for
# the VM. A hung test panics with every goroutine's stack after
# -test.timeout, before the VM limit.
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
SUITES=${V2HOST_SUITES:-cgroups integration parity}
has() { [[ " $SUITES " == *" $1 "* ]]; }
log() { printf '[v2host %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "must run as root"; exit 2; }
[ -x "$HUSK" ] || { log "no husk binary at $HUSK (make build)"; exit 2; }
if has parity; then
	RUNC=${RUNC:-/var/cache/husk-test/runc-1.5.3/runc}
	[ -x "$RUNC" ] || { log "no runc 1.5.3 at $RUNC (make $RUNC)"; exit 2; }
fi
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
	if has cgroups; then
		"$GO" test -c -o "$ROOT/tests/cgroups.test" ./cgroups
	fi
	if has integration; then
		"$GO" test -c -o "$ROOT/tests/integration.test" ./test/integration
		# The static attackers the tests put into containers.
		for prog in test/integration/testdata/*/; do
			if ls "$prog"*.go >/dev/null 2>&1; then
				"$GO" build -o "$ROOT/tests/bin/$(basename "$prog")" "./$prog"
			fi
		done
	fi
	if has parity; then
		# The suite reads differences.tsv from its working directory, the
		# test binary's; the probe comes built (no Go toolchain there).
		mkdir -p "$ROOT/tests/parity"
		"$GO" test -c -o "$ROOT/tests/parity/parity.test" ./test/parity
		"$GO" build -trimpath -o "$ROOT/tests/parity/probe" ./test/parity/testdata/probe
		cp test/parity/differences.tsv "$ROOT/tests/parity/"
	fi
)
cp "$HUSK" "$ROOT/bin/husk"
# husk's D-Bus client for the systemd driver, found next to husk (the
# guest runs no systemd: the driver's tests check its error there).
if [ -x "$(dirname "$HUSK")/husk-systemd" ]; then
	cp "$(dirname "$HUSK")/husk-systemd" "$ROOT/bin/husk-systemd"
fi
# carry BINARY DEST: a dynamically linked binary and the shared libraries
# it loads, at their paths on this machine.
carry() {
	cp "$1" "$ROOT/$2"
	ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
		mkdir -p "$ROOT/$(dirname "$lib")"
		cp -L "$lib" "$ROOT/$lib"
	done
}
if has parity; then
	# runc is built with cgo for libseccomp.
	carry "$RUNC" /bin/runc
fi
cp "$(command -v busybox)" "$ROOT/bin/busybox"
"$ROOT/bin/busybox" --install -s "$ROOT/bin"
# --install links to the busybox it runs as: make the links relative.
for l in "$ROOT"/bin/*; do
	[ -L "$l" ] && ln -sfn busybox "$l"
done
# /bin/sh is the host's (dash on Debian), as on a host: hooks run it with
# an argv[0] of their own, which busybox would take for an applet's name.
rm "$ROOT/bin/sh"
carry "$(readlink -f /bin/sh)" /bin/sh
echo "root:x:0:0:root:/root:/bin/sh" >"$ROOT/etc/passwd"
echo "root:x:0:" >"$ROOT/etc/group"
# One line per test binary: path and arguments.
for suite in $SUITES; do
	case $suite in
	cgroups) echo "/tests/cgroups.test -test.v -test.count=1 -test.timeout=5m" ;;
	integration) echo "/tests/integration.test -test.v -test.count=1 -test.timeout=10m -husk=/bin/husk -testbins=/tests/bin -test.run $RUN ${V2HOST_ARGS:-}" ;;
	# Emulated: the harness's time limits are three times the host's.
	parity) echo "/tests/parity/parity.test -test.v -test.count=1 -test.timeout=60m -test.run ${V2HOST_PARITY_RUN:-^TestParity\$}" \
		"-test.parallel ${V2HOST_PARITY_PARALLEL:-8} -husk=/bin/husk -runc=/bin/runc -probe=/tests/parity/probe -time-scale=3" \
		"-select=${V2HOST_PARITY:-cgroup} ${V2HOST_PARITY_ARGS:-}" ;;
	*) log "unknown suite $suite (V2HOST_SUITES: cgroups integration parity)"; exit 2 ;;
	esac
done >"$ROOT/tests/run"
(cd "$ROOT" && find . | "$ROOT/bin/busybox" cpio -o -H newc 2>/dev/null) >"$WORK/initrd"
log "initramfs: $(du -h "$WORK/initrd" | cut -f1), kernel $(cat "$CACHE/version")"

# ------------------------------------------------------------------ boot ---
# microvm boots fastest under TCG; the guest's TSC runs at the host's rate,
# and passing it spares a calibration that can fail under TCG. Two CPUs, as
# this machine has (the parity suite's cpuset and affinity cases name CPU
# 1), each a host thread (multi-threaded TCG); 2G holds the initramfs twice
# (it is copied into a tmpfs) and the parity cases' bundles.
khz=$(awk -F: '/^cpu MHz/{printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
boot() {
	log "booting (qemu, TCG)"
	set +e
	timeout "${V2HOST_TIMEOUT:-1500}" qemu-system-x86_64 -nodefaults -no-user-config -nographic -no-reboot \
		-accel tcg -cpu max -m 2G -smp "${V2HOST_SMP:-2}" -M microvm,x-option-roms=off \
		-kernel "$CACHE/vmlinux" -initrd "$WORK/initrd" \
		-append "console=ttyS0 panic=-1 quiet cryptomgr.notests tsc_early_khz=$khz" \
		-chardev stdio,id=con,signal=off -serial chardev:con </dev/null | tee "$WORK/console.log"
	rc=${PIPESTATUS[0]}
	set -e
}
# The guest panics on a kernel soft lockup (see guest/main.go): once, in
# CI, its 6.1 kernel locked up both CPUs (in husk tasks whose pids date
# from the concurrent-create tests) and the boot hung until the timeout,
# with no stack to tell why. A lockup is the guest kernel's failure, not
# a test's verdict: its report is kept in $LOCKUPS, with a line per CPU of
# it that .ci/run prints last, and the whole suite runs once more. A
# second lockup fails.
LOCKUPS=${V2HOST_LOCKUPS:-$REPO/_build/lockups}
for attempt in 1 2; do
	boot
	grep -aq 'Kernel panic - not syncing: softlockup' "$WORK/console.log" || break
	mkdir -p "$LOCKUPS"
	kept=$LOCKUPS/v2host-$(date +%Y%m%dT%H%M%S).log
	cp "$WORK/console.log" "$kept"
	awk -f "$HERE/lockup-summary.awk" "$kept" >"$kept.summary"
	cat "$kept.summary" >&2
	if [ "$attempt" -eq 2 ]; then
		log "FAIL: the guest kernel locked up again (soft lockup; report in $kept)"
		exit 1
	fi
	log "the guest kernel locked up (soft lockup; report above and in $kept): running the suites once more"
done
if [ "$rc" -ne 0 ]; then
	log "qemu exited with $rc (124: timed out)"
	exit 1
fi
grep -a '^husk-v2host: ' "$WORK/console.log" >&2 || true
# The parity suite's summary: counts, then by family.
sed -n '/^ *parity: [0-9]* passed/,/^[[:space:]]*$/p' "$WORK/console.log" >&2
if ! grep -aq '^husk-v2host: done PASS' "$WORK/console.log"; then
	log "FAIL: the tests failed in the cgroup v2 guest (output above)"
	exit 1
fi
log "PASS: $SUITES on a pure cgroup v2 host"
