#!/usr/bin/env bash
# `make bench`: husk, runc and crun side by side, plus a no-runtime floor.
# Measurement only: nothing is asserted. See test/bench/README.md.
#
# Writes test/results/bench/{results.md,results.json,chart.png} and prints
# the headline table. Installs what it needs with apt-get; must run as root.
#
# Environment (defaults in brackets):
#   BENCH_N [30]            rounds of workloads 1 and 2 (one container per runtime per round)
#   BENCH_N_DAEMON [10]     rounds of ctr run --rm and docker run --rm
#   BENCH_N_VM [10]         rounds of husk run --vm (microVM, guest assets of make vm-assets)
#   BENCH_N_POD [5]         rounds of the pod workloads (husk's VM and container classes, runc, runsc; CRI + CNI)
#   BENCH_CONC [50]         containers per concurrent batch (workload 4)
#   BENCH_CONC_ROUNDS [5]   concurrent batches per runtime
#   BENCH_SKIP []           comma-separated: version,run,cycle,ctr,shim,docker,conc,resources,memlimit,husk,hyperfine,vm,pods
#   BENCH_OUT [test/results/bench]   HUSK [bin/husk, built with `make build`]
#   HUSK_SHIM [bin/containerd-shim-husk-v2, with HUSK_SHIM-daemon next to it]
#   CONTAINERD24 [/var/cache/husk-test/containerd-2.4.2]   containerd 2.4 for the pod workloads (make bench builds it)
#   BENCH_NO_MASK=1         do not mask cgroup2's controller list (crun then fails here)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${BENCH_OUT:-$REPO/test/results/bench}
WORK=/var/tmp/husk-bench.$$
STATE=/run/husk-bench.$$
T0=$(date +%s)

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 2
}

[ "$(id -u)" -eq 0 ] || die "run as root (containers, cgroups, daemons)"

# ------------------------------------------------------------- packages ---
# command:Debian package. gnuplot-nox is gnuplot without X11.
"$REPO/scripts/ensure-deps.sh" runc:runc crun:crun hyperfine:hyperfine containerd:containerd ctr:containerd \
	containerd-shim-runc-v2:containerd dockerd:docker.io gnuplot:gnuplot-nox busybox:busybox-static \
	unshare:util-linux nsenter:util-linux /usr/bin/time:time musl-gcc:musl-tools runsc:runsc \
	/usr/lib/cni/bridge:containernetworking-plugins || die "could not install the packages"
[ -x /usr/bin/docker ] || "$REPO/scripts/ensure-deps.sh" /usr/bin/docker:docker.io || true

GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
[ -x "$GO" ] || die "no Go toolchain (looked for go in PATH and /usr/local/go/bin/go)"

# ------------------------------------------------------------- binaries ---
if [ -z "${HUSK:-}" ]; then
	log "building husk (make build)"
	make -C "$REPO" --no-print-directory build >&2
	HUSK=$REPO/bin/husk
fi
[ -x "$HUSK" ] || die "no husk binary at $HUSK"
mkdir -p "$WORK/bin" "$STATE"
# A private copy: a rebuild of bin/husk during the run must not change it.
HUSK_ORIG=$(cd "$(dirname "$HUSK")" && pwd)/$(basename "$HUSK")
cp "$HUSK_ORIG" "$WORK/bin/husk"
# husk executes husk-vm, found next to it, for the microVM workload.
[ -x "$(dirname "$HUSK_ORIG")/husk-vm" ] && cp "$(dirname "$HUSK_ORIG")/husk-vm" "$WORK/bin/husk-vm"
# The shim is two binaries side by side: the front and its daemon.
HUSK_SHIM=${HUSK_SHIM:-$REPO/bin/containerd-shim-husk-v2}
if [ ! -x "$HUSK_SHIM" ] || [ ! -x "$HUSK_SHIM-daemon" ]; then
	log "building husk's shim"
	make -C "$REPO" --no-print-directory bin/containerd-shim-husk-v2 bin/containerd-shim-husk-v2-daemon >&2
fi
cp "$HUSK_SHIM" "$WORK/bin/containerd-shim-husk-v2"
cp "$HUSK_SHIM-daemon" "$WORK/bin/containerd-shim-husk-v2-daemon"
DRIVER=$WORK/driver
(cd "$REPO" && CGO_ENABLED=0 "$GO" build -o "$DRIVER" ./test/bench/driver) || die "could not build the driver"

# gVisor's runsc and its containerd shim (containerd-shim-runsc-v1), for the
# pod workloads: Debian packages runsc alone, and through containerd's runc
# shim runsc cannot put a pod's containers in the pod's sandbox. Built once
# from the Go module proxy (a pinned commit of gVisor's go branch), kept in
# /var/cache; without it the pods run Debian's runsc (see pods.go).
# One change to gVisor's source, made here in the build copy: its shim gives
# itself oom_score_adj -999, which needs CAP_SYS_RESOURCE, and this
# machine's root does not have it; the shim then goes on with its score
# unchanged (containerd's own code does the same in a user namespace).
# Nothing of what is timed depends on it.
GVISOR_VERSION=v0.0.0-20260905035102-160fafc42237
GVISOR=/var/cache/husk-test/gvisor-$GVISOR_VERSION
GVISOR_FLAG=()
build_gvisor() {
	local src=$GVISOR.src mod f=pkg/shim/v1/manager.go
	mod=$(cd / && "$GO" mod download -json "gvisor.dev/gvisor@$GVISOR_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[ -d "$mod" ] || return 1
	rm -rf "$src" "$GVISOR.tmp" && cp -r "$mod" "$src" && chmod -R u+w "$src" && mkdir -p "$GVISOR.tmp" || return 1
	sed -i 's/if err := sys.SetOOMScore(cmd.Process.Pid, oomScoreMax); err != nil {/if err := sys.SetOOMScore(cmd.Process.Pid, oomScoreMax); err != nil \&\& !os.IsPermission(err) {/' "$src/$f"
	grep -q 'oomScoreMax); err != nil && !os.IsPermission(err) {' "$src/$f" || {
		log "gVisor's $f: the OOM score line was not found"
		return 1
	}
	(cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod "$GO" build -o "$GVISOR.tmp/runsc" ./runsc &&
		CGO_ENABLED=0 GOFLAGS=-mod=mod "$GO" build -o "$GVISOR.tmp/containerd-shim-runsc-v1" ./shim) >&2 || return 1
	rm -rf "$GVISOR" "$src" && mv "$GVISOR.tmp" "$GVISOR"
}
case ",${BENCH_SKIP:-}," in *,pods,*) ;; *)
	if [ ! -x "$GVISOR/containerd-shim-runsc-v1" ]; then
		log "building gVisor's runsc and containerd-shim-runsc-v1 ($GVISOR_VERSION; once, a few minutes)"
		build_gvisor || {
			log "could not build gVisor: the pods run Debian's runsc through containerd's runc shim"
			rm -rf "$GVISOR.tmp" "$GVISOR.src"
		}
	fi
	[ -x "$GVISOR/containerd-shim-runsc-v1" ] && GVISOR_FLAG=(-gvisor "$GVISOR")
	;;
esac

# -------------------------------------------------------------- cleanup ---
DRV_PID=
HOLDER=
cleanup() {
	local rc=$? p i rt bin d
	trap - EXIT INT TERM HUP
	[ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null || true
	if [ -n "$DRV_PID" ] && kill -0 "$DRV_PID" 2>/dev/null; then
		log "stopping the driver (pid $DRV_PID)"
		kill -TERM "$DRV_PID" 2>/dev/null || true
		for i in $(seq 1 600); do kill -0 "$DRV_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$DRV_PID" 2>/dev/null || true
	fi
	# Daemons the driver started (it removes these pid files itself when it stops them).
	for p in "$STATE"/containerd.pid "$STATE"/containerd-pods.pid "$STATE"/dockerd.pid; do
		[ -f "$p" ] || continue
		i=$(cat "$p")
		kill -TERM "$i" 2>/dev/null && sleep 3 && kill -KILL "$i" 2>/dev/null || true
	done
	# Containers left in the private roots.
	for rt in husk runc crun; do
		case $rt in husk) bin=$WORK/bin/husk ;; *) bin=$(command -v $rt || true) ;; esac
		[ -n "$bin" ] && [ -x "$bin" ] && [ -d "$STATE/root-$rt" ] || continue
		for d in "$STATE/root-$rt"/*/; do
			[ -d "$d" ] && "$bin" --root "$STATE/root-$rt" delete --force "$(basename "$d")" >/dev/null 2>&1 || true
		done
	done
	for d in "$STATE" "$WORK"; do
		awk -v d="$d" '$5==d || index($5, d"/")==1 {print $5}' /proc/self/mountinfo | sort -r |
			while read -r m; do umount -l "$m" 2>/dev/null || true; done
		rm -rf "$d"
	done
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Runs the driver in the background and waits, so that the traps fire at once.
drive() {
	"$@" &
	DRV_PID=$!
	wait "$DRV_PID"
	local rc=$?
	DRV_PID=
	return $rc
}

COMMON=(-repo "$REPO" -work "$WORK" -state "$STATE" -husk "$WORK/bin/husk" -husk-origin "$HUSK_ORIG" -husk-shim "$WORK/bin/containerd-shim-husk-v2" -runc "$(command -v runc)" -crun "$(command -v crun)"
	-n "${BENCH_N:-30}" -n-daemon "${BENCH_N_DAEMON:-10}" -conc "${BENCH_CONC:-50}" -conc-rounds "${BENCH_CONC_ROUNDS:-5}" -n-vm "${BENCH_N_VM:-10}" -n-pod "${BENCH_N_POD:-5}" "${GVISOR_FLAG[@]}"
	-containerd24 "${CONTAINERD24:-/var/cache/husk-test/containerd-2.4.2}")
CMDLINE="make bench"
for v in BENCH_N BENCH_N_VM BENCH_N_POD BENCH_N_DAEMON BENCH_CONC BENCH_CONC_ROUNDS BENCH_SKIP BENCH_NO_MASK; do
	[ -n "${!v:-}" ] && CMDLINE="$v=${!v} $CMDLINE"
done
[ "$HUSK_ORIG" != "$REPO/bin/husk" ] && CMDLINE="HUSK=$HUSK_ORIG $CMDLINE"
CMDLINE="$CMDLINE   (test/bench/run.sh)"

# ------------------------------------------------------- crun on hybrid ---
# crun 1.8.1 refuses any container on a hybrid host whose cgroup2 root still
# lists a controller (here: hugetlb), whatever --cgroup-manager says: the
# check in libcrun_cgroup_enter comes before the manager is chosen, so
# --cgroup-manager=disabled does not help. We do not touch the host's cgroup
# mounts. Instead the whole benchmark -- all three runtimes, containerd,
# dockerd, their shims and the floor -- runs in a private mount namespace in
# which an empty file is bind-mounted over
# /sys/fs/cgroup/unified/cgroup.controllers. crun then sees a hybrid host
# with no controller on cgroup2 and runs with its normal cgroupfs manager
# (full v1 cgroup setup). Every runtime sees the same view; the
# calibration below runs husk and runc interleaved with and without the
# mask (both through nsenter) to show whether it changes their times.
U=/sys/fs/cgroup/unified/cgroup.controllers
MASK=()
if [ -z "${BENCH_NO_MASK:-}" ] && [ -n "$(cat "$U" 2>/dev/null)" ] && [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
	: >"$WORK/empty-controllers"
	ctrls=$(tr '\n' ' ' <"$U" | sed 's/ *$//')
	MASK=(unshare --mount --propagation private -- sh -c 'mount --bind "$0" '"$U"' && exec "$@"' "$WORK/empty-controllers")
	MASK_DESC="This host mounts cgroups hybrid: v1 controllers plus cgroup2 at /sys/fs/cgroup/unified, whose cgroup.controllers lists \`$ctrls\`. crun 1.8.1 refuses every container while that list is non-empty (\"cgroups in hybrid mode not supported, drop all controllers from cgroupv2\"), and \`--cgroup-manager=disabled\` does not help: crun makes that check before it looks at the manager (both checked in this run, see below). The host's cgroup mounts are not changed. Instead the whole benchmark (all three runtimes, the floor, containerd, dockerd and their shims) runs in a private mount namespace (\`unshare --mount --propagation private\`) in which an empty file is bind-mounted over $U. crun then sees a hybrid host with no cgroup2 controllers and runs normally with its cgroupfs manager: it creates and fills the same v1 cgroups as runc and husk, so its numbers are full-work numbers, not \"cgroups disabled\". No runtime here uses $ctrls on cgroup2 for these configs (none sets hugepage limits)."
	log "cgroup2 offers '$ctrls': the benchmark runs in a private mount namespace that hides it (host unchanged)"
	log "calibration: workload 1 for husk and runc, host view vs masked view"
	"${MASK[@]}" sleep 3600 &
	HOLDER=$!
	for i in $(seq 1 100); do
		grep -qs " $U " "/proc/$HOLDER/mountinfo" && break
		sleep 0.1
	done
	BENCH_KEEP_WORK=1 drive "$DRIVER" "${COMMON[@]}" -calibrate "$WORK/calibration.json" -holder "$HOLDER" ||
		log "calibration failed (continuing)"
	kill "$HOLDER" 2>/dev/null || true
	wait "$HOLDER" 2>/dev/null || true
	HOLDER=
else
	MASK_DESC="cgroup2's controller list was not masked (BENCH_NO_MASK set, or the host is not hybrid with cgroup2 controllers): all runtimes see the host's cgroups as they are."
fi

log "running the benchmark (results in $OUT)"
drive "${MASK[@]}" "$DRIVER" "${COMMON[@]}" -out "$OUT" -skip "${BENCH_SKIP:-}" -mask "$MASK_DESC" \
	-calibration "$WORK/calibration.json" -command "$CMDLINE"
log "done in $(($(date +%s) - T0)) s: $OUT/results.md, results.json, chart.png"
