#!/usr/bin/env bash
# OCI runtime conformance for husk: runs opencontainers/runtime-tools'
# validation programs against husk and reference runtimes side by side,
# writes a comparison table and gates husk against expected-failures.tsv.
#
# Usage: test/conformance/run.sh [--runtime NAME=PATH]... [--timeout SECS] [PROGRAM...]
# See README.md next to this file.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

RTT_MODULE=github.com/opencontainers/runtime-tools
# master of 2025-12-05: the last tag (v0.9.0) is from 2019 and predates most programs.
RTT_VERSION=${RTT_VERSION:-v0.9.1-0.20251205004911-5e639034dcdc}
CACHE=${CONFORMANCE_CACHE:-/var/cache/husk-conformance}/$RTT_VERSION
RESULTS_DIR=${RESULTS_DIR:-$REPO/test/results/conformance}
TIMEOUT=${CONFORMANCE_TIMEOUT:-120}
EXPECTED_FILE=$HERE/expected-failures.tsv
GATED=husk # the runtime whose results decide the exit code
HOST_DEVS=(/dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty)
# cgroupsPath of the cgroup programs (runtime-tools cgroups.AbsCgroupPath and
# RelCgroupPath with its parents), children before parents for rmdir.
CGROUP_LEFTOVERS=(cgrouptest testdir/cgrouptest/container testdir/cgrouptest testdir)

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 2
}

usage() {
	cat <<EOF
Usage: $0 [--runtime NAME=PATH]... [--timeout SECS] [PROGRAM...]

Runs the runtime-tools ($RTT_VERSION) validation programs against each
runtime, interleaved per program, and gates the runtime named "$GATED" against
$EXPECTED_FILE.

  --runtime NAME=PATH  runtime to test (repeatable; replaces the defaults
                       husk=\${HUSK:-<repo>/bin/husk} and runc=\$(command -v runc))
  --timeout SECS       per-program timeout (default \$CONFORMANCE_TIMEOUT or 120)
  PROGRAM...           run only these programs (default: all)

Environment: HUSK, CONFORMANCE_CACHE, RESULTS_DIR, CONFORMANCE_TIMEOUT,
OCI_VERSION_OVERRIDE (VERSION for all runtimes, or NAME=VERSION[,NAME=VERSION]).
Exit: 0 gate passed, 1 gate failed, 2 setup or usage error.
EOF
}

# ---------------------------------------------------------------- setup ----

# ensure_cmds CMD:DEBIAN_PACKAGE... installs the packages of missing commands.
ensure_cmds() {
	local spec pkgs=()
	for spec in "$@"; do
		command -v "${spec%%:*}" >/dev/null 2>&1 || pkgs+=("${spec#*:}")
	done
	((${#pkgs[@]})) || return 0
	log "installing Debian packages: ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# The package lists may be missing or stale on a fresh machine: update once on failure.
	apt-get install -y "${pkgs[@]}" >&2 ||
		{ apt-get update >&2 && apt-get install -y "${pkgs[@]}" >&2; } ||
		die "could not install ${pkgs[*]}"
}

ensure_go() {
	if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
		PATH=/usr/local/go/bin:$PATH
	fi
	ensure_cmds go:golang-go
	# Private copy of the module in module mode: deps come from the module proxy,
	# checked against the module's go.sum (it ships only vendor/modules.txt).
	export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local
}

# prepare_suite fills $CACHE (source, runtimetest, one binary per program)
# and sets SRC and PROGRAMS. Only what is missing is fetched or built.
prepare_suite() {
	SRC=$CACHE/src
	mkdir -p "$CACHE/bin"
	if [[ ! -f $SRC/.complete ]]; then
		ensure_go
		log "fetching $RTT_MODULE@$RTT_VERSION from the Go module proxy"
		mkdir -p "$CACHE/gomod"
		[[ -f $CACHE/gomod/go.mod ]] || printf 'module husk-conformance-fetch\n' >"$CACHE/gomod/go.mod"
		local dir
		dir=$(cd "$CACHE/gomod" && go mod download -json "$RTT_MODULE@$RTT_VERSION" |
			sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
		[[ -n $dir && -d $dir/validation ]] || die "go mod download $RTT_MODULE@$RTT_VERSION failed"
		rm -rf "${SRC:?}" "${CACHE:?}/bin"
		mkdir -p "$CACHE/bin"
		cp -a "$dir" "$SRC"
		chmod -R u+w "$SRC"
		rm -rf "$SRC/vendor"
		touch "$SRC/.complete"
	fi
	mapfile -t PROGRAMS < <(cd "$SRC/validation" && for d in */; do
		d=${d%/}
		[[ $d != util && -f $d/$d.go ]] && echo "$d"
	done)
	((${#PROGRAMS[@]})) || die "no validation programs in $SRC/validation"

	if [[ ! -x $SRC/runtimetest ]]; then
		ensure_go
		log "building runtimetest (static: it runs inside the container's rootfs)"
		(cd "$SRC" && CGO_ENABLED=0 go build -tags "netgo osusergo" -o runtimetest ./cmd/runtimetest) ||
			die "building runtimetest failed"
	fi
	local p missing=()
	for p in "${PROGRAMS[@]}"; do
		[[ -x $CACHE/bin/$p ]] || missing+=("./validation/$p")
	done
	((${#missing[@]})) || return 0
	ensure_go
	log "building ${#missing[@]} validation programs (once; cached in $CACHE/bin)"
	if ! (cd "$SRC" && go build -o "$CACHE/bin/" "${missing[@]}"); then
		# One broken program must not hide the others: build them one by one.
		for p in "${missing[@]}"; do
			(cd "$SRC" && go build -o "$CACHE/bin/" "$p") || log "build failed: $p (it will show as error)"
		done
	fi
}

# oci_version_for NAME prints the ociVersion to force into config.json for
# that runtime (empty: none). Opt-in, for runtimes that reject 1.3.0.
oci_version_for() {
	local v=${OCI_VERSION_OVERRIDE:-} item
	[[ -n $v ]] || return 0
	if [[ $v != *=* ]]; then
		echo "$v"
		return
	fi
	for item in ${v//,/ }; do
		[[ ${item%%=*} == "$1" ]] && echo "${item#*=}"
	done
	return 0
}

# make_wrapper NAME REAL DIR writes DIR/bin/<basename REAL>: runs REAL with
# "--root DIR/state" first (a private state dir, so leftovers can be found and
# force-deleted) and appends cwd, argv and exit code to $HUSK_CONF_CALLS.
make_wrapper() {
	local name=$1 real=$2 dir=$3 w
	w=$dir/bin/${real##*/}
	mkdir -p "$dir/bin" "$dir/state" "$dir/tmp"
	# Like /tmp: containers with user namespaces must still reach their bundles.
	chmod 0755 "$dir" "$dir/bin"
	chmod 1777 "$dir/tmp"
	{
		echo '#!/usr/bin/env bash'
		echo "# conformance wrapper for $name (generated by test/conformance/run.sh)"
		printf 'real=%q root=%q oci_version=%q\n' "$real" "$dir/state" "$(oci_version_for "$name")"
		cat <<'EOF'
log=${HUSK_CONF_CALLS:-/dev/null}
stamp() { printf '%(%H:%M:%S)T.%s [%d]' -1 "${EPOCHREALTIME#*.}" $$; }
if [[ -n $oci_version && (${1-} == create || ${1-} == run) ]]; then
	bundle=. prev=''
	for a in "$@"; do
		case $prev in --bundle | -b) bundle=$a ;; esac
		case $a in --bundle=*) bundle=${a#--bundle=} ;; esac
		prev=$a
	done
	if [[ -f $bundle/config.json ]]; then
		sed -i -E 's/("ociVersion"[[:space:]]*:[[:space:]]*")[^"]*"/\1'"$oci_version"'"/' "$bundle/config.json"
		echo "$(stamp) ociVersion in $bundle/config.json set to $oci_version" >>"$log"
	fi
fi
echo "$(stamp) cwd=$PWD argv: $(printf '%q ' "$real" --root "$root" "$@")" >>"$log"
rc=0
"$real" --root "$root" "$@" || rc=$?
echo "$(stamp) exit $rc" >>"$log"
exit "$rc"
EOF
	} >"$w"
	chmod 0755 "$w"
	echo "$w"
}

# ------------------------------------------------------------- cleanup ----

# delete_leftovers NAME: force-deletes every container left in NAME's state
# dir, by "list -q" and, in case list is broken, by state directory name.
delete_leftovers() {
	local real=${RT_PATH[$1]} root=$RUN/$1/state id
	# An empty state dir means nothing to delete (saves a "list" per program).
	[[ -d $root && -n $(ls -A "$root") ]] || return 0
	while read -r id; do
		[[ -n $id ]] || continue
		log "cleanup: $1 delete --force $id"
		timeout 30 "$real" --root "$root" delete --force "$id" >/dev/null 2>&1 9>&- || true
	done < <({
		timeout 30 "$real" --root "$root" list -q 2>/dev/null 9>&- || true
		find "$root" -mindepth 1 -maxdepth 1 -type d -printf '%f\n'
	} | sort -u)
}

# kill_marked kills what is left of the runtime processes of this run: they
# inherit HUSK_CONFORMANCE_RUN=$RUN_ID (container processes do not).
kill_marked() {
	local f pid
	{ grep -lzxF "HUSK_CONFORMANCE_RUN=$RUN_ID" /proc/[0-9]*/environ 2>/dev/null || true; } | while read -r f; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		log "cleanup: killing leftover process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-100)"
		kill -9 "$pid" 2>/dev/null || true
	done
}

# find_cgroup_bases sets CGROUP_BASES: every cgroup mount, and our own cgroup
# in it (where runtimes put relative cgroupsPaths). Computed once: it does not change.
find_cgroup_bases() {
	local mnt opts own
	CGROUP_BASES=()
	while read -r mnt opts; do
		if [[ $opts == cgroup2 ]]; then
			own=$(sed -n 's/^0:://p' /proc/self/cgroup)
		else
			# v1: our cgroup in the hierarchy whose controllers match the mount options.
			own=$(awk -F: -v o=",$opts," '$1 != 0 { n = split($2, c, ","); for (i = 1; i <= n; i++) if (index(o, "," c[i] ",")) { print $3; exit } }' /proc/self/cgroup)
		fi
		CGROUP_BASES+=("$mnt")
		[[ -n ${own%/} ]] && CGROUP_BASES+=("$mnt${own%/}")
	done < <(awk '{
		# Optional fields precede the "-" separator; then come fstype, source, super options.
		for (i = 7; i <= NF && $i != "-"; i++) {}
		if ($(i + 1) == "cgroup2") print $5, "cgroup2"; else if ($(i + 1) == "cgroup") print $5, $(i + 3)
	}' /proc/self/mountinfo)
	return 0
}

# remove_test_cgroups: the cgroup programs use cgroupsPath /cgrouptest and
# testdir/cgrouptest/container (relative: below the runtime's own cgroup);
# runtimes remove the leaf at most. rmdir only removes empty cgroups, so
# nothing in use (and nothing of the machine's) is touched.
remove_test_cgroups() {
	local base rel n=0
	for base in "${CGROUP_BASES[@]}"; do
		for rel in "${CGROUP_LEFTOVERS[@]}"; do
			[[ -d $base/$rel ]] && rmdir "$base/$rel" 2>/dev/null && n=$((n + 1))
		done
	done
	((n == 0)) || log "cleanup: removed $n empty test cgroups"
}

# empty_dir DIR: removes everything below DIR (bundles left in the private
# TMPDIR), unmounting first whatever a runtime left mounted there.
empty_dir() {
	local dir=$1 m
	awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$(printf '%b' "$m")" 2>/dev/null || true; done
	find "$dir" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} + 2>/dev/null || true
}

# restore_devs: a runtime must never change the host's device nodes (crun
# 1.8.1 chowns /dev/null on "exec --user"); put back owner and mode and report.
restore_devs() {
	local dev cur changed=''
	((${#DEV_BASELINE[@]})) || return 0
	while read -r dev cur; do
		[[ $cur == "${DEV_BASELINE[$dev]}" ]] && continue
		log "WARNING: $dev changed to $cur; restoring ${DEV_BASELINE[$dev]}"
		chown "${DEV_BASELINE[$dev]% *}" "$dev"
		chmod "${DEV_BASELINE[$dev]#* }" "$dev"
		changed+="$dev "
	done < <(stat -c '%n %u:%g %a' "${!DEV_BASELINE[@]}")
	printf '%s' "${changed% }"
}

cleanup_after() {
	delete_leftovers "$1"
	kill_marked
	empty_dir "$RUN/$1/tmp"
	remove_test_cgroups
}

on_exit() {
	local name
	trap - EXIT INT TERM
	set +e # best effort from here on
	[[ -n ${CHILD:-} ]] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD" 2>/dev/null
	if [[ -n ${RUN:-} && -d $RUN ]]; then
		for name in "${NAMES[@]}"; do cleanup_after "$name"; done
		restore_devs >/dev/null
		empty_dir "$RUN"
		rmdir "$RUN" 2>/dev/null || log "could not remove $RUN"
	fi
}

# ----------------------------------------------------------------- run ----

# parse_tap FILE prints "ok notok skip plan tests yaml_errors bailout".
# Only unindented lines count: runtimetest's own TAP is embedded, indented,
# in YAML diagnostics. Plans of concatenated streams add up ("-": no plan).
# yaml_errors counts "error" keys in YAML diagnostics (tap-go writes them as
# JSON, one key per line): the hook programs assert nothing ("1..0") and
# report failure only that way.
parse_tap() {
	awk '
	/^1\.\.[0-9]+/ { s = $0; sub(/^1\.\./, "", s); plan += s + 0; haveplan = 1; next }
	/^ok([ \t]|$)/ { n++; if (tolower($0) ~ /#[ \t]*skip/) sk++; else ok++; next }
	/^not ok([ \t]|$)/ { n++; if (tolower($0) ~ /#[ \t]*todo/) sk++; else nok++; next }
	/^Bail out!/ { bail = 1; next }
	/^[ \t]+---[ \t]*$/ { inyaml = 1; next }
	/^[ \t]+\.\.\.[ \t]*$/ { inyaml = 0; next }
	inyaml && /^[ \t]+"?error"?[ \t]*:/ { ye++ }
	END { printf "%d %d %d %s %d %d %d\n", ok, nok, sk, haveplan ? plan : "-", n, ye, bail }
	' "$1"
}

# run_program PROGRAM NAME runs one program against one runtime and appends
# its row to $TSV; logs of non-passing runs are kept under $RESULTS_DIR/logs.
run_program() {
	local p=$1 name=$2 dir=$RUN/$2 bin=$CACHE/bin/$1
	local out=$RUN/$2/out/$1 rc=0 t0 secs status note='' devs
	mkdir -p "$RUN/$name/out"
	: >"$out.calls" # the wrapper appends
	t0=$EPOCHREALTIME
	if [[ -x $bin ]]; then
		# In the background so that an interrupt reaches on_exit at once.
		(cd "$SRC" && exec 9>&- env RUNTIME="${RT_WRAPPER[$name]}" TMPDIR="$dir/tmp" \
			HUSK_CONF_CALLS="$out.calls" HUSK_CONFORMANCE_RUN="$RUN_ID" \
			timeout -k 10 "$TIMEOUT" "$bin" </dev/null >"$out.tap" 2>"$out.stderr") &
		CHILD=$!
		wait "$CHILD" || rc=$?
		CHILD=
	else
		echo "no binary for $p: build failed" >"$out.stderr"
		rc=127
	fi
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	cleanup_after "$name"
	devs=$(restore_devs)

	local ok nok skip plan n yerr bail
	read -r ok nok skip plan n yerr bail < <(parse_tap "$out.tap")
	if ((rc == 124 || rc == 137)); then
		status=error note="timeout after ${TIMEOUT}s"
	elif ((rc != 0)); then
		status=error note="exit $rc"
	elif ((bail)); then
		status=error note="bail out"
	elif ((n == 0 && yerr > 0)); then
		status=error note="YAML error diagnostic"
	elif ((n == 0)) && [[ $plan == - || $plan == 0 ]]; then
		# Hook programs print a bare "1..0" on success, *_fail programs nothing.
		status=pass-no-assertions
		[[ -s $out.stderr ]] && note="stderr: $(head -n1 "$out.stderr" | cut -c1-80)"
	elif [[ $plan == - || $plan != "$n" ]]; then
		status=error note="plan ${plan/-/missing}, ran $n"
	elif ((nok > 0)); then
		status=fail
	else
		status=pass
	fi
	[[ -n $devs ]] && note+="${note:+; }changed host $devs"
	printf '%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%s\t%s\n' "$p" "$name" "$status" \
		"$ok" "$nok" "$skip" "$plan" "$rc" "$secs" "$note" >>"$TSV"
	log "$(printf '%-32s %-6s %-18s %4d ok %3d not ok %6ss %s' "$p" "$name" "$status" "$ok" "$nok" "$secs" "$note")"
	if [[ $status == error || $status == fail ]]; then
		mkdir -p "$RESULTS_DIR/logs/$name"
		cp "$out.tap" "$out.stderr" "$out.calls" "$RESULTS_DIR/logs/$name/"
	fi
}

# A reference runtime's row (runc's) depends only on its binary, the
# program's binary, the kernel and the cgroup layout: it is kept under
# $CACHE/reference, keyed by all four, and reused (half the suite's time).
# CONFORMANCE_FRESH=1 runs the references again.

# reference_key NAME PROGRAM prints the cache key of a reference row.
reference_key() {
	{
		sha256sum "${RT_PATH[$1]}" "$CACHE/bin/$2" | cut -d' ' -f1
		uname -r
		stat -fc %T /sys/fs/cgroup
	} | sha256sum | cut -c1-32
}

# cached_reference PROGRAM NAME appends NAME's cached row for PROGRAM to
# $TSV and succeeds, or fails if there is none.
cached_reference() {
	local p=$1 name=$2 row
	[[ ${CONFORMANCE_FRESH:-} == 1 || ! -x $CACHE/bin/$p ]] && return 1
	row=$CACHE/reference/$name/$(reference_key "$name" "$p")
	[[ -s $row ]] || return 1
	cat "$row" >>"$TSV"
	log "$(printf '%-32s %-6s %-18s (cached: %s)' "$p" "$name" "$(cut -f3 "$row")" "${row#"$CACHE"/}")"
}

# save_reference PROGRAM NAME keeps NAME's last row for PROGRAM.
save_reference() {
	local p=$1 name=$2 dir=$CACHE/reference/$2
	[[ -x $CACHE/bin/$p ]] || return 0
	mkdir -p "$dir"
	tail -n1 "$TSV" >"$dir/$(reference_key "$name" "$p")"
}

# ------------------------------------------------------------- results ----

# cell FIELDS... formats one table.md cell from a TSV row.
cell() {
	local status=$3 ok=$4 nok=$5 note=${10:-}
	local s="$status · $ok ok / $nok not ok"
	[[ $status == error && -n $note ]] && s+=" ($note)"
	printf '%s' "${s//|/\\|}"
}

write_table() {
	local md=$RESULTS_DIR/table.md p name row
	local -A rows=()
	while IFS= read -r row; do
		IFS=$'\t' read -r p name _ <<<"$row"
		rows[$p/$name]=$row
	done < <(tail -n +2 "$TSV")
	{
		echo "# OCI runtime conformance: runtime-tools validation"
		echo
		echo "Suite: \`$RTT_MODULE@$RTT_VERSION\`, $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r)."
		for name in "${NAMES[@]}"; do
			echo "- **$name**: \`${RT_PATH[$name]}\` ($(timeout 5 "${RT_PATH[$name]}" --version 2>/dev/null 9>&- | head -n1 || true))$([[ -n $(oci_version_for "$name") ]] && echo ", ociVersion forced to $(oci_version_for "$name")")"
		done
		echo
		printf '| program |'
		printf ' %s |' "${NAMES[@]}"
		printf ' expected failure for %s |\n|---|' "$GATED"
		printf -- '---|%.0s' "${NAMES[@]}"
		printf -- '---|\n'
		for p in "${SELECTED[@]}"; do
			printf '| %s |' "$p"
			for name in "${NAMES[@]}"; do
				IFS=$'\t' read -ra f <<<"${rows[$p/$name]}"
				printf ' %s |' "$(cell "${f[@]}")"
			done
			printf ' %s |\n' "$([[ -n ${EXPECTED[$p]:-} ]] && echo yes)"
		done
		printf '| **total** |'
		for name in "${NAMES[@]}"; do
			printf ' **%s** |' "$(totals "$name")"
		done
		printf ' %d listed |\n' "${#EXPECTED[@]}"
	} >"$md"
}

# totals NAME: "N pass, M fail, K error" (pass includes pass-no-assertions).
totals() {
	awk -F'\t' -v r="$1" 'NR > 1 && $2 == r {
		if ($3 ~ /^pass/) p++; else if ($3 == "fail") f++; else e++
		ok += $4; nok += $5; t += $9
	} END { printf "%d pass, %d fail, %d error (%d ok / %d not ok, %.0fs)", p, f, e, ok, nok, t }' "$TSV"
}

load_expected() {
	local p reason
	[[ -f $EXPECTED_FILE ]] || return 0
	while IFS=$'\t' read -r p reason; do
		[[ -z $p || $p == \#* || $p == program ]] && continue
		[[ " ${PROGRAMS[*]} " == *" $p "* ]] || log "WARNING: $EXPECTED_FILE lists unknown program $p"
		EXPECTED[$p]=${reason:-no reason given}
	done <"$EXPECTED_FILE"
}

rank() { case $1 in pass*) echo 0 ;; fail) echo 1 ;; *) echo 2 ;; esac }

# gate prints the verdict for $GATED and returns 1 on unexpected failures.
gate() {
	local p name st nok ost onok bad=0 stale=0 worse=0
	local -A status=() notok=()
	while IFS=$'\t' read -r p name st _ nok _; do
		status[$p/$name]=$st notok[$p/$name]=$nok
	done < <(tail -n +2 "$TSV")
	if [[ -z ${RT_PATH[$GATED]:-} ]]; then
		echo "gate: skipped (no runtime named $GATED)"
		return 0
	fi
	for p in "${SELECTED[@]}"; do
		st=${status[$p/$GATED]} nok=${notok[$p/$GATED]}
		if [[ $st == fail || $st == error ]]; then
			if [[ -z ${EXPECTED[$p]:-} ]]; then
				echo "UNEXPECTED: $GATED $st on $p (see $RESULTS_DIR/logs/$GATED/$p.*)"
				bad=$((bad + 1))
			fi
		elif [[ -n ${EXPECTED[$p]:-} ]]; then
			echo "stale expected failure — remove it: $p ($GATED: $st)"
			stale=$((stale + 1))
		fi
		for name in "${NAMES[@]}"; do
			[[ $name == "$GATED" ]] && continue
			ost=${status[$p/$name]} onok=${notok[$p/$name]}
			if (($(rank "$st") > $(rank "$ost"))) || { [[ $st == fail && $ost == fail ]] && ((nok > onok)); }; then
				echo "worse than $name: $p ($GATED $st, $nok not ok; $name $ost, $onok not ok)"
				worse=$((worse + 1))
			fi
		done
	done
	if ((bad)); then
		echo "gate: FAIL — $bad unexpected failure(s) for $GATED ($stale stale, $worse worse than a reference runtime)"
		return 1
	fi
	echo "gate: PASS — no unexpected failures for $GATED ($stale stale, $worse worse than a reference runtime)"
}

# ---------------------------------------------------------------- main ----

main() {
	local -a specs=() args=()
	while (($#)); do
		case $1 in
		--runtime) specs+=("${2:?--runtime needs NAME=PATH}") && shift ;;
		--runtime=*) specs+=("${1#*=}") ;;
		--timeout) TIMEOUT=${2:?--timeout needs seconds} && shift ;;
		--timeout=*) TIMEOUT=${1#*=} ;;
		-h | --help) usage && exit 0 ;;
		-*) usage >&2 && exit 2 ;;
		*) args+=("$1") ;;
		esac
		shift
	done
	[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "bad timeout: $TIMEOUT"
	((EUID == 0)) || die "must run as root: the programs create real containers, cgroups and mounts"

	if ((${#specs[@]} == 0)); then
		# The reference is runc 1.5.3 (RUNC, as `make conformance` builds
		# it), else Debian's runc.
		if [[ -n ${RUNC:-} ]]; then
			specs=("husk=${HUSK:-$REPO/bin/husk}" "runc=$RUNC")
		else
			ensure_cmds runc:runc
			specs=("husk=${HUSK:-$REPO/bin/husk}" "runc=$(command -v runc)")
		fi
	fi
	ensure_cmds tar:tar timeout:coreutils flock:util-linux umount:mount awk:mawk
	local spec name path
	NAMES=()
	for spec in "${specs[@]}"; do
		name=${spec%%=*} path=${spec#*=}
		[[ $spec == *=* && $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad --runtime $spec (want NAME=PATH)"
		[[ -z ${RT_PATH[$name]:-} ]] || die "runtime $name given twice"
		[[ $path == */* ]] || path=$(command -v "$path") || die "$name: $spec not found"
		[[ -x $path && -f $path ]] || die "$name: no executable at $path$([[ $name == "$GATED" ]] && echo " (build husk first, or set HUSK)")"
		RT_PATH[$name]=$(readlink -f "$path")
		NAMES+=("$name")
	done

	# One run at a time: all runs share the cgroup names and the host's /dev.
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock -n 9 || {
		log "another conformance run holds $CACHE/.lock; waiting"
		flock 9
	}
	prepare_suite
	if ((${#args[@]})); then
		for name in "${args[@]}"; do
			[[ -x $CACHE/bin/$name || -f $SRC/validation/$name/$name.go ]] ||
				die "unknown program $name; known: ${PROGRAMS[*]}"
		done
		SELECTED=("${args[@]}")
	else
		SELECTED=("${PROGRAMS[@]}")
	fi
	load_expected

	RUN=$(mktemp -d /tmp/husk-conformance.XXXXXX)
	RUN_ID=${RUN##*.}
	chmod 0755 "$RUN"
	trap on_exit EXIT
	trap 'exit 130' INT TERM
	for name in "${NAMES[@]}"; do
		RT_WRAPPER[$name]=$(make_wrapper "$name" "${RT_PATH[$name]}" "$RUN/$name")
	done
	local dev
	for dev in "${HOST_DEVS[@]}"; do
		[[ -e $dev ]] && DEV_BASELINE[$dev]=$(stat -c '%u:%g %a' "$dev")
	done
	find_cgroup_bases
	remove_test_cgroups # leftovers of an interrupted earlier run would skew the cgroup programs

	mkdir -p "$RESULTS_DIR"
	RESULTS_DIR=$(cd "$RESULTS_DIR" && pwd)
	rm -rf "$RESULTS_DIR/logs" "$RESULTS_DIR/table.md" "$RESULTS_DIR/table.tsv" "$RESULTS_DIR/summary.txt"
	TSV=$RESULTS_DIR/table.tsv
	printf 'program\truntime\tstatus\tok\tnot_ok\tskip\tplan\texit\tsecs\tnote\n' >"$TSV"

	log "running ${#SELECTED[@]} programs against ${NAMES[*]} (timeout ${TIMEOUT}s each); results in $RESULTS_DIR"
	local start=$SECONDS p
	for p in "${SELECTED[@]}"; do
		for name in "${NAMES[@]}"; do
			if [[ $name != "$GATED" ]] && cached_reference "$p" "$name"; then
				continue
			fi
			run_program "$p" "$name"
			if [[ $name != "$GATED" ]]; then save_reference "$p" "$name"; fi
		done
	done

	write_table
	local verdict=0
	{
		echo "conformance: ${#SELECTED[@]} programs, wall time $((SECONDS - start))s; table: $RESULTS_DIR/table.md"
		for name in "${NAMES[@]}"; do
			echo "$name: $(totals "$name")"
		done
		gate
	} >"$RESULTS_DIR/summary.txt" || verdict=1
	cat "$RESULTS_DIR/summary.txt"
	return "$verdict"
}

declare -A RT_PATH=() RT_WRAPPER=() DEV_BASELINE=() EXPECTED=()
declare -a NAMES=() PROGRAMS=() SELECTED=() CGROUP_BASES=()
RUN='' RUN_ID='' CHILD='' SRC='' TSV=''
main "$@"
