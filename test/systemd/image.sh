#!/usr/bin/env bash
# image.sh: builds, once, the Debian guest in which `make systemd-test`
# runs husk's systemd cgroup driver under a real systemd, and keeps it in
# $SYSTEMD_CACHE [/var/cache/husk-test/systemd]:
#   rootfs.img   raw ext4 (mkfs.ext4 -d) of a Debian minbase made with
#                mmdebstrap from Debian's packages: systemd as PID 1, dbus,
#                containerd and runc as packaged, runc 1.5.3 (the reference)
#                as /usr/local/sbin/runc-1.5.3, and the kernel's modules.
#   initrd.cpio  the boot initramfs: test/systemd/boot as /init with the
#                modules that find and mount the root disk (virtio, ext4).
#   key          what they were built from; a change rebuilds them.
# The kernel is the one `make v2host` uses (test/v2host/kernel.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${SYSTEMD_CACHE:-/var/cache/husk-test/systemd}
KCACHE=${V2HOST_CACHE:-/var/cache/husk-test/v2host}
RUNC153=${RUNC153:-/var/cache/husk-test/runc-1.5.3/runc}
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
PACKAGES=systemd,systemd-sysv,dbus,containerd,runc,kmod,procps,busybox-static,libseccomp2
log() { printf '[systemd-image %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "must run as root"; exit 2; }
"$REPO/scripts/ensure-deps.sh" mmdebstrap:mmdebstrap mkfs.ext4:e2fsprogs busybox:busybox-static \
	xz:xz-utils dpkg-deb:dpkg strings:binutils
mkdir -p "$CACHE"
"$REPO/test/v2host/kernel.sh" "$KCACHE" "$CACHE/modules"
kver=$(sed 's/^vmlinuz-//' "$KCACHE/version")

# runc 1.5.3, the behaviour reference, built from the Go module proxy.
if [ ! -x "$RUNC153" ]; then
	log "building runc 1.5.3"
	"$REPO/scripts/ensure-deps.sh" gcc:gcc pkg-config:pkg-config
	[ -e /usr/include/seccomp.h ] || "$REPO/scripts/ensure-deps.sh" __none__:libseccomp-dev
	mkdir -p "$(dirname "$RUNC153")"
	CGO_ENABLED=1 GOBIN=$(dirname "$RUNC153") GOFLAGS=-buildvcs=false \
		"$GO" install -tags seccomp github.com/opencontainers/runc@v1.5.3
fi

key=$({
	cat "$HERE/image.sh" "$HERE/boot/main.go"
	echo "$kver"
	sha256sum <"$RUNC153"
} | sha256sum | cut -d' ' -f1)
if [ -s "$CACHE/rootfs.img" ] && [ -s "$CACHE/initrd.cpio" ] && [ "$(cat "$CACHE/key" 2>/dev/null)" = "$key" ]; then
	exit 0
fi
log "building the guest image (once; kernel $kver)"
WORK=$(mktemp -d /tmp/husk-sd-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root

# The host's own Debian sources (the same release and mirror apt uses here).
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
debian_sources() {
	apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' |
		awk -v c="$codename" '$2 == c || index($2, c "-") == 1 {print "deb " $1 " " $2 " " $3}' | sort -u
}
mapfile -t sources < <(debian_sources)
if [ ${#sources[@]} -eq 0 ]; then
	# apt lists only the targets it has fetched: fetch them first.
	apt-get -o DPkg::Lock::Timeout=600 update -q >&2
	mapfile -t sources < <(debian_sources)
fi
[ ${#sources[@]} -gt 0 ] || { log "no Debian $codename sources in apt's configuration"; exit 2; }
mmdebstrap --variant=minbase --include="$PACKAGES" --skip=cleanup/apt/lists \
	--customize-hook='chroot "$1" systemd-machine-id-setup' \
	"$codename" "$ROOT" "${sources[@]}" >&2

# The kernel's modules the tests may need (file systems, virtio, net),
# with their dependency index.
mkdir -p "$ROOT/lib/modules/$kver/kernel/drivers" "$ROOT/lib/modules/$kver/kernel/net"
src=$CACHE/modules/$kver
cp "$src"/modules.order "$src"/modules.builtin* "$ROOT/lib/modules/$kver/"
cp -a "$src/kernel/fs" "$src/kernel/lib" "$src/kernel/crypto" "$ROOT/lib/modules/$kver/kernel/"
for d in virtio block char net; do cp -a "$src/kernel/drivers/$d" "$ROOT/lib/modules/$kver/kernel/drivers/"; done
for d in 9p core bridge netfilter ipv4 ipv6 802 llc sched; do
	[ -d "$src/kernel/net/$d" ] && cp -a "$src/kernel/net/$d" "$ROOT/lib/modules/$kver/kernel/net/"
done
chroot "$ROOT" depmod "$kver"

install -m 0755 "$RUNC153" "$ROOT/usr/local/sbin/runc-1.5.3"
echo husk-sd >"$ROOT/etc/hostname"
printf '127.0.0.1 localhost husk-sd\n' >"$ROOT/etc/hosts"
: >"$ROOT/etc/fstab"
mkdir -p "$ROOT/opt/husk-test"
# The tests run once the system is up, print to the serial console and
# power the machine off (test/systemd/run.sh puts /opt/husk-test/run on a
# second disk).
cat >"$ROOT/etc/systemd/system/husk-test.service" <<'UNIT'
[Unit]
Description=husk systemd cgroup driver tests
Wants=dbus.service
After=multi-user.target dbus.service

[Service]
Type=oneshot
ExecStart=/opt/husk-test/run
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/ttyS0
TimeoutStartSec=20min
# poweroff.target directly: systemctl poweroff would ask logind first.
ExecStopPost=/usr/bin/systemctl --no-block start poweroff.target --job-mode=replace-irreversibly

[Install]
WantedBy=multi-user.target
UNIT
chroot "$ROOT" systemctl enable husk-test.service >&2
# Nothing that the tests do not need: the tests start their own containerd.
chroot "$ROOT" systemctl mask containerd.service serial-getty@ttyS0.service getty@tty1.service \
	apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
	dpkg-db-backup.timer systemd-logind.service >&2

# The boot initramfs: /init finds the disks by label and mounts the root.
mkdir -p "$WORK/initrd/modules"
CGO_ENABLED=0 "$GO" build -C "$REPO" -trimpath -o "$WORK/initrd/init" ./test/systemd/boot
# Modules in dependency order (read from each module's .modinfo).
order=()
add_module() {
	local ko dep
	ko=$(find "$src/kernel" -name "$1.ko" | head -n1)
	[ -n "$ko" ] || { log "module $1 not found"; exit 2; }
	for dep in $(strings -a "$ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
		add_module "$dep"
	done
	case " ${order[*]} " in *" $1 "*) ;; *)
		cp "$ko" "$WORK/initrd/modules/"
		order+=("$1")
		;;
	esac
}
# ext4 needs the crc32c hash, which it asks the crypto API for.
for m in virtio_mmio virtio_blk crc32c_generic ext4; do add_module "$m"; done
printf '%s\n' "${order[@]}" >"$WORK/initrd/modules/order"
(cd "$WORK/initrd" && find . | busybox cpio -o -H newc 2>/dev/null) >"$CACHE/initrd.cpio.tmp"

size=$(du -sm "$ROOT" | cut -f1)
rm -f "$CACHE/rootfs.img.tmp"
mkfs.ext4 -q -F -L husk-sd-root -O ^metadata_csum -d "$ROOT" "$CACHE/rootfs.img.tmp" "$((size * 13 / 10 + 256))M"
mv "$CACHE/initrd.cpio.tmp" "$CACHE/initrd.cpio"
mv "$CACHE/rootfs.img.tmp" "$CACHE/rootfs.img"
echo "$key" >"$CACHE/key"
log "guest image: $(du -h --apparent-size "$CACHE/rootfs.img" | cut -f1) ($(du -h "$CACHE/rootfs.img" | cut -f1) used), modules: ${order[*]}"
