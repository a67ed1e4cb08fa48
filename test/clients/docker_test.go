package clients

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerd is a private dockerd 20.10 on a private containerd (dockerd would
// otherwise use a system containerd whenever /run/containerd/containerd.sock
// exists, as on a machine where the containerd package runs its service).
type dockerd struct {
	data, exec, sock string
	cliEnv           []string
	d                *daemon
}

func startDockerd(t *testing.T, ctrd *containerd, args ...string) *dockerd {
	t.Helper()
	created := missingDirs("/run/docker/plugins", "/run/docker")
	base := filepath.Join(workDir, "docker")
	for _, d := range []string{"data", "cli"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	execRoot, err := os.MkdirTemp("/run", "husk-clients-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	dk := &dockerd{
		data:   filepath.Join(base, "data"),
		exec:   execRoot,
		sock:   filepath.Join(execRoot, "docker.sock"),
		cliEnv: []string{"DOCKER_CONFIG=" + filepath.Join(base, "cli")},
	}
	cfg := filepath.Join(base, "daemon.json")
	if err := os.WriteFile(cfg, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dargs := append([]string{
		"--config-file", cfg,
		"--data-root", dk.data,
		"--exec-root", dk.exec,
		"--pidfile", filepath.Join(dk.exec, "dockerd.pid"),
		"-H", "unix://" + dk.sock,
		"--containerd", ctrd.sock,
		"--iptables=false", "--ip-masq=false", "--bridge=none",
		"--storage-driver", "overlay2",
	}, args...)
	dk.d = startDaemon(t, dockerdBin, filepath.Join(base, "dockerd.log"), base, nil, dargs...)
	t.Cleanup(func() {
		if dk.d.alive() {
			if ids := strings.Fields(dk.docker(t, "ps", "-aq").stdout); len(ids) > 0 {
				dk.docker(t, append([]string{"rm", "-f"}, ids...)...)
			}
		}
		dk.d.stop(t, 30*time.Second)
		removeDirs(t, base, execRoot)
		rmdirEmpty(created)
	})
	ok := poll(90*time.Second, func() bool {
		if !dk.d.alive() {
			return true
		}
		_, err := os.Stat(dk.sock)
		return err == nil && run(t, cmdSpec{name: dockerBin, args: []string{"-H", "unix://" + dk.sock, "version"}, env: dk.cliEnv, timeout: 10 * time.Second}).code == 0
	})
	if !ok || !dk.d.alive() {
		t.Fatalf("dockerd did not start:\n%s", dk.d.logTail())
	}
	return dk
}

// docker runs Debian's docker client (the daemon's version) against this
// dockerd.
func (dk *dockerd) docker(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, dk.spec(nil, args...))
}

func (dk *dockerd) spec(stdin []byte, args ...string) cmdSpec {
	return cmdSpec{name: dockerBin, args: append([]string{"-H", "unix://" + dk.sock}, args...), env: dk.cliEnv, stdin: stdin}
}

// inspect returns "status exitcode" of a container.
func (dk *dockerd) inspect(t *testing.T, id string) string {
	t.Helper()
	return strings.TrimSpace(dk.docker(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id).stdout)
}

// exitedUnseen runs a container in the host's pid namespace that exits 3
// a second after its start, and returns its id once husk has it stopped
// while dockerd, which the shim has not told yet (see holdKillAll), has
// it running; release lets the shim go on.
func (dk *dockerd) exitedUnseen(t *testing.T, argv *argvLog, huskRoot string) (id string, release func()) {
	t.Helper()
	id = strings.TrimSpace(mustOK(t, dk.docker(t, "create", "--runtime", "husk", "--pid", "host", dockerImage, "sh", "-c", "sleep 1; exit 3")).stdout)
	t.Cleanup(func() { dk.docker(t, "rm", "-f", id) })
	release = argv.holdKillAll(t, id)
	mustOK(t, dk.docker(t, "start", id))
	argv.waitHeld(t, id)
	if st := dk.inspect(t, id); st != "running 0" {
		t.Fatalf("dockerd has %s %q before the shim reported its exit", id, st)
	}
	if st := huskStatus(t, huskRoot, id); st != "stopped" {
		t.Fatalf("husk has %s %q after its init exited", id, st)
	}
	return id, release
}

// wantExited3 waits until dockerd has the container exited with its own
// exit code, 3.
func (dk *dockerd) wantExited3(t *testing.T, id string) {
	t.Helper()
	if !poll(20*time.Second, func() bool { return dk.inspect(t, id) == "exited 3" }) {
		t.Errorf("container %s: %q, want exited 3", id, dk.inspect(t, id))
	}
}

// api sends a request to dockerd's API and returns the HTTP status and
// body: what the docker CLI does not show, how dockerd classed an error.
func (dk *dockerd) api(t *testing.T, method, path string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: cmdTimeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", dk.sock)
		},
	}}
	req, err := http.NewRequest(method, "http://docker"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// lifecycleScript is a container init that reports SIGUSR1 in a file and
// exits 7 on SIGTERM (a trapped signal interrupts `wait` at once), so
// kill and stop are checked by their effect.
const lifecycleScript = `trap "touch /tmp/got-usr1" USR1; trap "exit 7" TERM; sleep 1000 & while :; do wait; done`

// TestDocker runs containers with dockerd 20.10 given husk with
// --add-runtime husk=PATH, through `docker run --runtime husk`.
func TestDocker(t *testing.T) {
	argv := newArgvLog(t, "docker")
	// Runs last: cgroups of containers a failure left behind.
	t.Cleanup(func() {
		for _, id := range argv.containerIDs(t) {
			removeCgroups(t, "docker/"+id)
		}
	})
	ctrd := startContainerd(t, "docker-containerd")
	dk := startDockerd(t, ctrd, "--add-runtime", "husk="+argv.wrapper)
	argv.addSubst(ctrd.state, "<CTRD_STATE>")
	argv.addSubst(dk.exec, "<DOCKER_EXEC>")
	argv.addSubst(filepath.Join(workDir, "docker"), "<DOCKER_DIR>")
	argv.bundles = regexp.MustCompile(regexp.QuoteMeta(filepath.Join(ctrd.state, "state/io.containerd.runtime.v2.task/moby")) + `/[^/]+`)

	r := run(t, cmdSpec{name: dockerBin, args: []string{"-H", "unix://" + dk.sock, "load", "-i", imageTar}, env: dk.cliEnv, timeout: longTimeout})
	if mustOK(t, r); !strings.Contains(r.stdout, dockerImage) {
		t.Fatalf("docker load did not load %s: %s", dockerImage, r)
	}
	runArgs := func(opts ...string) []string {
		return append([]string{"run", "--runtime", "husk"}, opts...)
	}
	img := dockerImage

	t.Run("echo", func(t *testing.T) {
		wantOut(t, dk.docker(t, runArgs("--rm", img, "sh", "-c", "echo hello-$(id -u)")...), "hello-0")
	})
	t.Run("exit_code", func(t *testing.T) {
		if r := dk.docker(t, runArgs("--rm", img, "sh", "-c", "exit 3")...); r.code != 3 {
			t.Errorf("want exit 3: %s", r)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		wantOut(t, run(t, dk.spec([]byte("piped-stdin\nsecond\n"), runArgs("--rm", "-i", img, "cat")...)), "piped-stdin\nsecond")
	})
	t.Run("tty", func(t *testing.T) {
		checkTTY(t, runPTY(t, dk.spec(nil, runArgs("--rm", "-t", img, "sh", "-c", ttyScript)...), 30, 100))
	})
	t.Run("user_env_workdir_hostname", func(t *testing.T) {
		r := dk.docker(t, runArgs("--rm", "--user", "65534:65534", "-e", "FOO=bar", "-w", "/tmp", "--hostname", "hx", img,
			"sh", "-c", "echo $(id -u):$(id -g):$FOO:$(pwd):$(hostname)")...)
		wantOut(t, r, "65534:65534:bar:/tmp:hx")
	})
	t.Run("mounts", func(t *testing.T) {
		ro := filepath.Join(workDir, "docker-ro")
		rw := filepath.Join(workDir, "docker-rw")
		for _, d := range []string{ro, rw} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(ro, "f"), []byte("from-host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		script := `cat /mnt/f
touch /mnt/new 2>/dev/null && echo ro-bind-writable || echo ro-bind-ok
touch /x 2>/dev/null && echo rootfs-writable || echo read-only-ok
echo from-container > /data/g && echo rw-bind-ok
touch /scratch/y && grep -q " /scratch tmpfs " /proc/mounts && echo tmpfs-ok`
		r := dk.docker(t, runArgs("--rm", "-v", ro+":/mnt:ro", "-v", rw+":/data", "--read-only", "--tmpfs", "/scratch", img, "sh", "-c", script)...)
		wantOut(t, r, "from-host\nro-bind-ok\nread-only-ok\nrw-bind-ok\ntmpfs-ok")
		if data, err := os.ReadFile(filepath.Join(rw, "g")); err != nil || string(data) != "from-container\n" {
			t.Errorf("file written to the rw bind mount: %q, %v", data, err)
		}
	})
	t.Run("memory_pids", func(t *testing.T) {
		// Shell builtins only after the forks: with the pids limit reached,
		// nothing else can start. pids.events counts the refused forks.
		script := `c=/sys/fs/cgroup; m=$c/memory/memory.limit_in_bytes; p=$c/pids/pids.max; e=$c/pids/pids.events
[ -e $m ] || { m=$c/memory.max; p=$c/pids.max; e=$c/pids.events; }
read mem < $m; read pids < $p; echo $mem $pids
(i=0; while [ $i -lt 20 ]; do sleep 100 & i=$((i+1)); done) 2>/dev/null
while read k v; do [ "$k" = max ] && echo refused=$v; done < $e`
		r := dk.docker(t, runArgs("--rm", "--memory", "64m", "--pids-limit", "10", img, "sh", "-c", script)...)
		f := strings.Fields(r.stdout)
		if r.code != 0 || len(f) != 3 || f[0] != "67108864" || f[1] != "10" {
			t.Fatalf("want memory limit 67108864 and pids.max 10: %s", r)
		}
		if n, _ := strconv.Atoi(strings.TrimPrefix(f[2], "refused=")); n < 1 {
			t.Errorf("--pids-limit 10 not enforced: 20 forks, none refused: %s", r)
		}
	})
	t.Run("capabilities", func(t *testing.T) {
		caps := `grep -E "^Cap(Eff|Bnd):" /proc/self/status | tr -s "\t " " "`
		// Docker's default set.
		wantOut(t, dk.docker(t, runArgs("--rm", img, "sh", "-c", caps)...), "CapEff: 00000000a80425fb\nCapBnd: 00000000a80425fb")
		// --cap-drop ALL --cap-add NET_RAW leaves only NET_RAW (bit 13).
		wantOut(t, dk.docker(t, runArgs("--rm", "--cap-drop", "ALL", "--cap-add", "NET_RAW", img, "sh", "-c", caps)...),
			"CapEff: 0000000000002000\nCapBnd: 0000000000002000")
		// Without CAP_CHOWN root cannot chown.
		wantOut(t, dk.docker(t, runArgs("--rm", "--cap-drop", "CHOWN", img, "sh", "-c",
			"touch /tmp/f; chown 65534 /tmp/f 2>/dev/null && echo chown-allowed || echo chown-denied")...), "chown-denied")
	})
	t.Run("seccomp", func(t *testing.T) {
		// Docker's default profile denies unshare(CLONE_NEWUSER) with EPERM;
		// unconfined, the same call succeeds, so the filter is what denies it.
		script := `grep -E "^Seccomp(_filters)?:" /proc/self/status | tr -s "\t " " "; unshare -U true 2>&1; echo unshare=$?`
		r := dk.docker(t, runArgs("--rm", img, "sh", "-c", script)...)
		if r.code != 0 || !strings.Contains(r.stdout, "Seccomp: 2\n") || !strings.Contains(r.stdout, "Seccomp_filters: 1\n") ||
			!strings.Contains(r.stdout, "Operation not permitted") || !strings.Contains(r.stdout, "unshare=1") {
			t.Errorf("Docker's default seccomp profile is not in force: %s", r)
		}
		r = dk.docker(t, runArgs("--rm", "--security-opt", "seccomp=unconfined", img, "sh", "-c", script)...)
		wantOut(t, r, "Seccomp: 0\nSeccomp_filters: 0\nunshare=0")
	})
	t.Run("namespaces", func(t *testing.T) {
		// --net/--pid/--ipc/--uts host: the container shares the host's.
		nsScript := `for n in net pid ipc uts; do readlink /proc/self/ns/$n; done`
		var host []string
		for _, n := range []string{"net", "pid", "ipc", "uts"} {
			l, err := os.Readlink("/proc/self/ns/" + n)
			if err != nil {
				t.Fatal(err)
			}
			host = append(host, l)
		}
		wantOut(t, dk.docker(t, runArgs("--rm", "--net", "host", "--pid", "host", "--ipc", "host", "--uts", "host", img, "sh", "-c", nsScript)...),
			strings.Join(host, "\n"))
		// --net/--pid container:ID: joins another container's namespaces
		// (config namespaces with a path).
		id := strings.TrimSpace(mustOK(t, dk.docker(t, runArgs("-d", img, "sleep", "1000")...)).stdout)
		defer dk.docker(t, "rm", "-f", id)
		two := `for n in net pid; do readlink /proc/self/ns/$n; done`
		want := strings.TrimSpace(mustOK(t, dk.docker(t, "exec", id, "sh", "-c", two)).stdout)
		if want == "" || want == strings.Join(host[:2], "\n") {
			t.Fatalf("container namespaces %q: not private", want)
		}
		wantOut(t, dk.docker(t, runArgs("--rm", "--net", "container:"+id, "--pid", "container:"+id, img, "sh", "-c", two)...), want)
	})
	t.Run("oom", func(t *testing.T) {
		// The shim learns of the OOM kill from the cgroup husk made.
		id := uniqueName()
		r := dk.docker(t, runArgs("--name", id, "--memory", "8m", "--memory-swap", "8m", img, "sh", "-c", "x=$(head -c 40000000 /dev/zero | tr '\\0' a); echo survived")...)
		defer dk.docker(t, "rm", "-f", id)
		if r.code != 137 {
			t.Errorf("want exit 137 (OOM kill) from a container over its 8m limit: %s", r)
		}
		// dockerd records the shim's OOM event as it comes, which may be
		// after the exit event that ended `docker run` (a busy machine).
		st := ""
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if st = strings.TrimSpace(dk.docker(t, "inspect", "-f", "{{.State.OOMKilled}}", id).stdout); st == "true" || time.Now().After(deadline) {
				break
			}
		}
		if st != "true" {
			t.Errorf("docker inspect OOMKilled = %q within 10 s, want true", st)
		}
	})
	t.Run("exec_errors", func(t *testing.T) {
		// dockerd maps the runtime's error text to the exit code: 127 for
		// a command not found, 126 for one that cannot be executed.
		r := dk.docker(t, runArgs("--rm", img, "nonexistent-cmd")...)
		if r.code != 127 || !strings.Contains(r.stderr, `exec: "nonexistent-cmd": executable file not found`) {
			t.Errorf("want exit 127 and husk's message: %s", r)
		}
		if r := dk.docker(t, runArgs("--rm", img, "/etc/passwd")...); r.code != 126 || !strings.Contains(r.stderr, "permission denied") {
			t.Errorf("want exit 126 (permission denied): %s", r)
		}
		// A directory bound onto a file: on "not a directory" dockerd adds
		// a hint for the user (and records exit code 127).
		r = dk.docker(t, runArgs("--rm", "-v", workDir+":/etc/passwd", img, "true")...)
		if r.code == 0 || !strings.Contains(r.stderr, "attach mount on /etc/passwd: not a directory") ||
			!strings.Contains(r.stderr, "Are you trying to mount a directory onto a file") {
			t.Errorf("want husk's \"not a directory\" and dockerd's hint: %s", r)
		}
	})
	t.Run("lifecycle", func(t *testing.T) {
		r := mustOK(t, dk.docker(t, runArgs("-d", img, "sh", "-c", lifecycleScript)...))
		id := strings.TrimSpace(r.stdout)
		if st := dk.inspect(t, id); st != "running 0" {
			t.Fatalf("after run -d: %q", st)
		}
		wantOut(t, dk.docker(t, "exec", id, "sh", "-c", "echo exec-ok $(cat /proc/1/comm)"), "exec-ok sh")
		wantOut(t, dk.docker(t, "exec", "-u", "65534", "-w", "/tmp", "-e", "E=1", id, "sh", "-c", "echo $(id -u)$(pwd)$E"), "65534/tmp1")
		checkTTY(t, runPTY(t, dk.spec(nil, "exec", "-t", id, "sh", "-c", ttyScript), 30, 100))
		if r := dk.docker(t, "exec", id, "nonexistent-cmd"); r.code != 126 || !strings.Contains(r.out(), `exec: "nonexistent-cmd": executable file not found`) {
			t.Errorf("docker exec of a missing command: want exit 126 and husk's message: %s", r)
		}
		if top := dk.docker(t, "top", id); top.code != 0 || !strings.Contains(top.stdout, "sleep 1000") {
			t.Errorf("docker top (husk ps): %s", top)
		}

		mustOK(t, dk.docker(t, "pause", id))
		if st := dk.inspect(t, id); st != "paused 0" {
			t.Errorf("after pause: %q", st)
		}
		mustOK(t, dk.docker(t, "unpause", id))
		if st := dk.inspect(t, id); st != "running 0" {
			t.Errorf("after unpause: %q", st)
		}

		mustOK(t, dk.docker(t, "update", "--memory", "32m", "--memory-swap", "32m", id))
		wantOut(t, dk.docker(t, "exec", id, "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"), "33554432")

		st := mustOK(t, dk.docker(t, "stats", "--no-stream", "--format", "{{.PIDs}} {{.MemUsage}}", id))
		if f := strings.Fields(st.stdout); len(f) < 2 || f[0] == "0" || !strings.Contains(st.stdout, "32MiB") {
			t.Errorf("docker stats (read by the shim from the container's cgroup): %s", st)
		}

		mustOK(t, dk.docker(t, "kill", "-s", "USR1", id))
		if !poll(10*time.Second, func() bool { return dk.docker(t, "exec", id, "test", "-f", "/tmp/got-usr1").code == 0 }) {
			t.Errorf("SIGUSR1 from docker kill did not reach the container")
		}
		mustOK(t, dk.docker(t, "stop", "-t", "30", id))
		if st := dk.inspect(t, id); st != "exited 7" {
			t.Errorf("after stop (SIGTERM, trapped: exit 7): %q", st)
		}

		mustOK(t, dk.docker(t, "start", id))
		if st := dk.inspect(t, id); st != "running 0" {
			t.Fatalf("after start again: %q", st)
		}
		wantOut(t, dk.docker(t, "exec", id, "echo", "restarted"), "restarted")
		mustOK(t, dk.docker(t, "kill", id))
		if !poll(10*time.Second, func() bool { return dk.inspect(t, id) == "exited 137" }) {
			t.Errorf("after kill: %q", dk.inspect(t, id))
		}
		mustOK(t, dk.docker(t, "rm", id))
		if r := dk.docker(t, "inspect", id); r.code == 0 {
			t.Errorf("container still there after rm: %s", r)
		}
	})
	huskRoot := filepath.Join(dk.exec, "runtime-runc/moby")
	t.Run("kill_after_exit", func(t *testing.T) {
		// dockerd has not learnt of the exit: its kill (SIGKILL) goes
		// through the shim to husk, which, as runc 1.5.3 for a container
		// sharing the host's pid namespace, kills whatever is left in the
		// container's cgroup and succeeds; docker kill succeeds and the
		// exit code stays the container's own. (SIGTERM says "container
		// not running": stop_after_exit.)
		id, release := dk.exitedUnseen(t, argv, huskRoot)
		releaseSoon(release)
		r := dk.docker(t, "kill", id)
		if r.code != 0 {
			t.Errorf("docker kill of a container that has just exited: %s", r)
		}
		dk.wantExited3(t, id)
		argv.wantHuskKilled(t, id)
	})
	t.Run("stop_after_exit", func(t *testing.T) {
		id, release := dk.exitedUnseen(t, argv, huskRoot)
		releaseSoon(release)
		if r := dk.docker(t, "stop", "-t", "10", id); r.code != 0 {
			t.Errorf("docker stop of a container that has just exited: %s", r)
		}
		dk.wantExited3(t, id)
		argv.wantHuskSaid(t, "kill", id, "container not running")
	})
	t.Run("kill_husk_deleted", func(t *testing.T) {
		// Deleted with husk behind dockerd's back after its exit: kill and
		// the shim's delete say "container does not exist", which the shim
		// takes as gone.
		id, release := dk.exitedUnseen(t, argv, huskRoot)
		mustOK(t, run(t, cmdSpec{name: huskBin, args: []string{"--root", huskRoot, "delete", id}}))
		releaseSoon(release)
		if r := dk.docker(t, "kill", id); r.code != 0 {
			t.Errorf("docker kill of a container husk no longer has: %s", r)
		}
		dk.wantExited3(t, id)
		argv.wantHuskSaid(t, "kill", id, "container does not exist")
		argv.wantHuskSaid(t, "delete", id, "container does not exist")
	})
	t.Run("pause_husk_lost", func(t *testing.T) {
		// husk has lost a running container (its state dir is gone, as
		// when the runtime root is wiped): the shim's "OCI runtime pause
		// failed" carries husk's "container does not exist", the words
		// libcontainerd's wrapError looks for. (dockerd 20.10's pause
		// then formats the error anew and answers 500, with runc too.)
		id := strings.TrimSpace(mustOK(t, dk.docker(t, runArgs("-d", img, "sleep", "1000")...)).stdout)
		defer dk.docker(t, "rm", "-f", id)
		pid, _ := strconv.Atoi(strings.TrimSpace(dk.docker(t, "inspect", "-f", "{{.State.Pid}}", id).stdout))
		if pid <= 0 {
			t.Fatalf("no pid for %s", id)
		}
		// The process goes with the test (it is the container's init,
		// alone in its pid namespace).
		defer syscall.Kill(pid, syscall.SIGKILL)
		if err := os.RemoveAll(filepath.Join(huskRoot, id)); err != nil {
			t.Fatal(err)
		}
		r := dk.docker(t, "pause", id)
		if r.code == 0 || !strings.Contains(r.stderr, "container does not exist") {
			t.Errorf("docker pause of a container husk does not have: want husk's \"container does not exist\": %s", r)
		}
		code, body := dk.api(t, "POST", "/containers/"+id+"/pause")
		t.Logf("POST /containers/%s/pause: %d %s", id, code, body)
		if !strings.Contains(body, "OCI runtime pause failed") || !strings.Contains(body, "container does not exist") {
			t.Errorf("dockerd's answer does not carry husk's words: %d %s", code, body)
		}
		argv.wantHuskSaid(t, "pause", id, "container does not exist")
	})
	t.Run("invalid_config", func(t *testing.T) {
		// docker checks its own tmpfs option names but not their values:
		// husk passes size=abc to the kernel, which rejects it.
		r := dk.docker(t, runArgs("--rm", "--tmpfs", "/x:size=abc", img, "true")...)
		wantHuskError(t, r, `mounts\[[0-9]+\] \(/x\): mount tmpfs: option size=abc`)
	})
	t.Run("no_leftovers", func(t *testing.T) {
		if r := dk.docker(t, "ps", "-aq"); r.code != 0 || strings.TrimSpace(r.stdout) != "" {
			t.Errorf("containers left: %s", r)
		}
		root := filepath.Join(dk.exec, "runtime-runc/moby")
		if r := run(t, cmdSpec{name: huskBin, args: []string{"--root", root, "list", "-q"}}); r.code != 0 || strings.TrimSpace(r.stdout) != "" {
			t.Errorf("husk still lists containers in %s: %s", root, r)
		}
	})
	t.Run("argv", argv.check)
}
