#!/bin/bash
# bench.sh - containerd-shim-husk-v2 against containerd's runc shim, with a
# private containerd 1.6 (Debian's): time of `ctr run --rm IMAGE true`,
# shim RSS with one sleeping container, RSS per extra container of a pod.
#
#   test/shim/bench.sh [SHIM]        (default: bin/containerd-shim-husk-v2)
#   RUNS=20 (timed runs per runtime, alternating), PODN=5 (pod size)
#
# Prints one line per number. Needs root, containerd, ctr, runc,
# busybox-static; crun is measured when it can run on this host.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
SHIM=$(realpath "${1:-$repo/bin/containerd-shim-husk-v2}")
RUNS=${RUNS:-20}
PODN=${PODN:-5}
[ "$(id -u)" = 0 ] || { echo "bench.sh: must run as root" >&2; exit 1; }
for c in containerd ctr runc busybox; do
  command -v $c >/dev/null || { echo "bench.sh: $c missing" >&2; exit 1; }
done
[ -x "$SHIM" ] || { echo "bench.sh: no shim at $SHIM (make build-shim)" >&2; exit 1; }

W=$(mktemp -d /tmp/husk-shimbench-XXXXXX)
R=$(mktemp -d /run/husk-shimbench-XXXXXX)
SOCK=$R/c.sock
IMG=docker.io/library/husk-shimbench:latest
CTRD_PID=
cleanup() {
  if [ -n "$CTRD_PID" ]; then
    for t in $(ctr -a $SOCK task ls -q 2>/dev/null); do ctr -a $SOCK task kill -a -s SIGKILL $t >/dev/null 2>&1; done
    sleep 0.5
    for t in $(ctr -a $SOCK task ls -q 2>/dev/null); do ctr -a $SOCK task delete -f $t >/dev/null 2>&1; done
    for t in $(ctr -a $SOCK container ls -q 2>/dev/null); do ctr -a $SOCK container delete $t >/dev/null 2>&1; done
    kill $CTRD_PID 2>/dev/null; wait $CTRD_PID 2>/dev/null
  fi
  for d in $W $R; do
    awk -v d="$d" '$5==d || index($5, d"/")==1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
  done
  rm -rf "$W" "$R"
}
trap cleanup EXIT

# The image: busybox-static, as an OCI layout ctr can import.
mkdir -p $W/rootfs/{bin,dev,etc,proc,sys,tmp,root} $W/img/blobs/sha256 $W/bin
cp "$(command -v busybox)" $W/rootfs/bin/busybox
for a in $($W/rootfs/bin/busybox --list); do [ $a = busybox ] || ln -s busybox $W/rootfs/bin/$a; done
echo 'root:x:0:0:root:/root:/bin/sh' > $W/rootfs/etc/passwd
tar --numeric-owner --owner=0 --group=0 -C $W/rootfs -cf $W/layer.tar .
blob() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mv "$1" $W/img/blobs/sha256/$d; echo $d; }
L=$(blob $W/layer.tar); LS=$(stat -c %s $W/img/blobs/sha256/$L)
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' $L > $W/c
CS=$(stat -c %s $W/c); C=$(blob $W/c)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' $C $CS $L $LS > $W/m
MS=$(stat -c %s $W/m); M=$(blob $W/m)
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s"}}]}' $M $MS $IMG > $W/img/index.json
echo '{"imageLayoutVersion":"1.0.0"}' > $W/img/oci-layout
tar -C $W/img -cf $W/image.tar .

# containerd finds the shim by name on its PATH.
ln -s "$SHIM" $W/bin/containerd-shim-husk-v2
cat > $W/config.toml <<EOF
version = 2
root = "$W/root"
state = "$R/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
EOF
(cd $W && PATH=$W/bin:$PATH exec containerd --config $W/config.toml) > $W/containerd.log 2>&1 &
CTRD_PID=$!
for i in $(seq 100); do ctr -a $SOCK version >/dev/null 2>&1 && break; sleep 0.1; done
ctr -a $SOCK images import $W/image.tar >/dev/null || { echo "bench.sh: image import failed" >&2; exit 1; }

now() { date +%s%N; }
# run_once LABEL ARGS...: one `ctr run --rm` of true, prints milliseconds.
run_once() {
  local t0 t1
  t0=$(now)
  ctr -a $SOCK run --rm "$@" $IMG bench-$$-$RANDOM true >/dev/null 2>&1 || return 1
  t1=$(now)
  echo $(( (t1 - t0) / 1000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) printf "%.1f", a[(NR+1)/2]/1000; else printf "%.1f", (a[NR/2]+a[NR/2+1])/2000}'; }

declare -A RT=(
  [husk-shim]="--runtime io.containerd.husk.v2"
  [runc-shim+runc]="--runtime io.containerd.runc.v2 --runc-binary $(command -v runc)"
)
names="husk-shim runc-shim+runc"
if command -v crun >/dev/null && run_once --runtime io.containerd.runc.v2 --runc-binary "$(command -v crun)" >/dev/null; then
  RT[runc-shim+crun]="--runtime io.containerd.runc.v2 --runc-binary $(command -v crun)"
  names="$names runc-shim+crun"
else
  echo "runc-shim+crun: not measurable (crun $(crun --version 2>/dev/null | head -1 | awk '{print $3}') cannot run containers on this host's cgroup setup)"
fi
for n in $names; do run_once ${RT[$n]} >/dev/null || { echo "bench.sh: $n cannot run a container" >&2; exit 1; }; done
for i in $(seq $RUNS); do
  for n in $names; do run_once ${RT[$n]} >> $W/t.$n; done
done
for n in $names; do
  printf '%-16s ctr run --rm true: median %s ms over %d runs\n' "$n" "$(median < $W/t.$n)" "$(wc -l < $W/t.$n)"
done
h=$(median < $W/t.husk-shim); r=$(median < "$W/t.runc-shim+runc")
awk -v h=$h -v r=$r 'BEGIN {printf "ratio husk-shim / runc-shim+runc: %.2f (target <= 0.50)\n", h/r}'

# rss NAME-OF-BINARY ID: the RSS (KiB) of the shim daemon serving ID.
rss() {
  local pid
  pid=$(pgrep -f "$1 -namespace default -id $2" | head -1)
  awk '/^VmRSS/ {print $2}' /proc/$pid/status
}
# pod RUNTIME-ARGS BINARY NAME LABEL: one sleeping container, then PODN in
# one group (the runc shim and husk's both group on io.containerd.runc.v2.group).
pod() {
  local bin=$2 label=$3 name=$4 one n
  ctr -a $SOCK run -d $1 --annotation io.containerd.runc.v2.group=pod-$label $IMG $label-0 sleep 1000 >/dev/null || return
  sleep 1
  one=$(rss $bin $label-0)
  for i in $(seq 1 $((PODN - 1))); do
    ctr -a $SOCK run -d $1 --annotation io.containerd.runc.v2.group=pod-$label $IMG $label-$i sleep 1000 >/dev/null
  done
  sleep 1
  n=$(rss $bin $label-0)
  awk -v l="$name" -v a=$one -v b=$n -v k=$PODN 'BEGIN {
    printf "%-16s shim RSS with 1 sleeping container: %.1f MiB\n", l, a/1024
    printf "%-16s shim RSS with %d containers in one pod: %.1f MiB (%.0f KiB per extra container)\n", l, k, b/1024, (b-a)/(k-1) }'
  for i in $(seq 0 $((PODN - 1))); do
    ctr -a $SOCK task kill -s SIGKILL $label-$i >/dev/null 2>&1
  done
  sleep 0.5
  for i in $(seq 0 $((PODN - 1))); do
    ctr -a $SOCK task delete $label-$i >/dev/null 2>&1; ctr -a $SOCK container delete $label-$i >/dev/null 2>&1
  done
}
pod "--runtime io.containerd.husk.v2" containerd-shim-husk-v2 husk husk-shim
pod "--runtime io.containerd.runc.v2 --runc-binary $(command -v runc)" containerd-shim-runc-v2 runc runc-shim+runc
echo "target: husk-shim RSS with one container <= 6 MiB"
