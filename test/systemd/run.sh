#!/usr/bin/env bash
# `make systemd-test`: husk's systemd cgroup driver under a real systemd.
# Boots the Debian guest of test/systemd/image.sh (built once, cached)
# under qemu (TCG) with systemd as PID 1, twice: cgroup v2 (systemd's
# default) and the v1 layout (systemd.unified_cgroup_hierarchy=0). A
# second disk carries this tree's binaries and the tests
# (test/systemd/*_test.go), which systemd's husk-test.service runs once
# the system is up; they print on the serial console and power off.
#
# Environment: HUSK_BIN [bin] (husk, husk-systemd and the shim binaries);
# SYSTEMD_CACHE, V2HOST_CACHE (see image.sh); SYSTEMD_TEST_RUN (a -test.run
# selection); SYSTEMD_TEST_MODES ["v2 v1"]; SYSTEMD_TEST_TIMEOUT [600] s
# per boot.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${SYSTEMD_CACHE:-/var/cache/husk-test/systemd}
KCACHE=${V2HOST_CACHE:-/var/cache/husk-test/v2host}
BIN=${HUSK_BIN:-$REPO/bin}
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
log() { printf '[systemd-test %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "must run as root"; exit 2; }
for b in husk husk-systemd containerd-shim-husk-v2 containerd-shim-husk-v2-daemon; do
	[ -x "$BIN/$b" ] || { log "no $BIN/$b (make build)"; exit 2; }
done
NO_RECOMMENDS=1 "$REPO/scripts/ensure-deps.sh" qemu-system-x86_64:qemu-system-x86
"$HERE/image.sh"

WORK=$(mktemp -d /tmp/husk-sd-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PAYLOAD=$WORK/payload
mkdir -p "$PAYLOAD/bin"
cp "$BIN"/husk "$BIN"/husk-systemd "$BIN"/containerd-shim-husk-v2 "$BIN"/containerd-shim-husk-v2-daemon "$PAYLOAD/bin/"
CGO_ENABLED=0 "$GO" test -C "$REPO" -c -o "$PAYLOAD/systemd.test" ./test/systemd
cat >"$PAYLOAD/run" <<RUN
#!/bin/sh
# Run by husk-test.service in the guest.
cd /opt/husk-test
echo "husk-systemd: \$(systemctl --version | head -n1), cgroup fs \$(stat -fc %T /sys/fs/cgroup), kernel \$(uname -r)"
./systemd.test -test.v -test.count=1 -test.timeout=8m ${SYSTEMD_TEST_RUN:+-test.run '$SYSTEMD_TEST_RUN'}
echo "husk-systemd: done rc=\$?"
RUN
chmod +x "$PAYLOAD/run"
mkfs.ext4 -q -F -L husk-sd-test -d "$PAYLOAD" "$WORK/test.img" "$(($(du -sm "$PAYLOAD" | cut -f1) + 32))M"

khz=$(awk -F: '/^cpu MHz/{printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
passed=0 failed=0 skipped=0 bad=0
for mode in ${SYSTEMD_TEST_MODES:-v2 v1}; do
	extra=
	[ "$mode" = v1 ] && extra="systemd.unified_cgroup_hierarchy=0"
	log "booting the guest (cgroup $mode, qemu TCG)"
	console=$WORK/console-$mode.log
	set +e
	timeout "${SYSTEMD_TEST_TIMEOUT:-600}" qemu-system-x86_64 -nodefaults -no-user-config -nographic -no-reboot \
		-accel tcg -cpu max -m 1536M -smp 1 -M microvm,x-option-roms=off \
		-kernel "$KCACHE/vmlinux" -initrd "$CACHE/initrd.cpio" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3 cryptomgr.notests tsc_early_khz=$khz systemd.show_status=0 $extra" \
		-drive id=root,file="$CACHE/rootfs.img",format=raw,if=none,snapshot=on -device virtio-blk-device,drive=root \
		-drive id=test,file="$WORK/test.img",format=raw,if=none,snapshot=on -device virtio-blk-device,drive=test \
		-chardev stdio,id=con,signal=off -serial chardev:con </dev/null >"$console" 2>&1
	rc=$?
	set -e
	tr -d '\r' <"$console" | grep -av '^\s*$' >&2 || true
	p=$(grep -ac '^--- PASS' "$console" || true)
	f=$(grep -ac '^--- FAIL' "$console" || true)
	s=$(grep -ac '^--- SKIP' "$console" || true)
	log "cgroup $mode: $p passed, $f failed, $s skipped (qemu exit $rc)"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$rc" -ne 0 ] || ! grep -aq '^husk-systemd: done rc=0' "$console"; then
		bad=1
		log "FAIL: the cgroup $mode guest did not finish its tests cleanly (124: timed out)"
	fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$bad" -eq 0 ] && [ "$failed" -eq 0 ]
