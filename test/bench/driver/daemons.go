package main

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

const imageRef = "docker.io/library/huskbench:latest"

// daemon is containerd or dockerd, started and stopped by the benchmark.
type daemon struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	pidFile string
	log     string
	before  []string // shared /run dirs that did not exist before it started
	cleanup func()
}

// sharedDirs are directories containerd's runc shim and dockerd create
// outside their configured roots; those that did not exist before are
// removed again (if empty) when the daemon stops.
var sharedDirs = []string{"/run/containerd", "/run/containerd/s", "/run/containerd/fifo", "/run/containerd/runc",
	"/run/docker", "/run/docker/plugins"}

func missingDirs() []string {
	var m []string
	for _, d := range sharedDirs {
		if _, err := os.Stat(d); err != nil {
			m = append(m, d)
		}
	}
	return m
}

// startDaemon starts argv in dir, with env added to ours, and waits for
// its socket.
func (b *bench) startDaemon(name, sock string, argv []string, dir string, env ...string) (*daemon, error) {
	logPath := filepath.Join(b.o.state, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	d := &daemon{name: name, log: logPath, pidFile: filepath.Join(b.o.state, name+".pid"), done: make(chan struct{}),
		before: missingDirs()}
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Dir = dir
	if len(env) > 0 {
		d.cmd.Env = append(os.Environ(), env...)
	}
	d.cmd.Stdin, d.cmd.Stdout, d.cmd.Stderr = b.devnull, lf, lf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	os.WriteFile(d.pidFile, []byte(fmt.Sprint(d.cmd.Process.Pid)), 0o644)
	b.mu.Lock()
	b.daemons = append(b.daemons, d)
	b.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			return nil, fmt.Errorf("%s exited: %s", name, tail(logPath, 800))
		default:
		}
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return d, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("%s: no socket %s after 60s: %s", name, sock, tail(logPath, 800))
}

func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(data))
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

func (b *bench) stopDaemon(d *daemon) {
	if d.cleanup != nil {
		d.cleanup()
		d.cleanup = nil
	}
	select {
	case <-d.done:
	default:
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			logf("%s did not stop on SIGTERM: SIGKILL", d.name)
			d.cmd.Process.Kill()
			<-d.done
		}
	}
	os.Remove(d.pidFile)
	for i := len(d.before) - 1; i >= 0; i-- {
		if d.before[i] == "/run/containerd/runc" {
			if ents, err := os.ReadDir(d.before[i]); err == nil {
				for _, e := range ents {
					os.Remove(filepath.Join(d.before[i], e.Name()))
				}
			}
		}
		os.Remove(d.before[i]) // only if empty
	}
}

func (b *bench) stopDaemons() {
	b.mu.Lock()
	ds := b.daemons
	b.daemons = nil
	b.mu.Unlock()
	for i := len(ds) - 1; i >= 0; i-- {
		b.stopDaemon(ds[i])
	}
}

// buildImage writes a tar holding the busybox rootfs as a one-layer image,
// both as an OCI image layout (ctr image import) and as a docker-save
// manifest.json (docker load). No registry is involved.
func (b *bench) buildImage() (string, error) {
	return b.buildImageOf(imageRef, []string{"sh"}, "huskbench-image.tar")
}

// buildImageOf is buildImage for another reference and command, in file
// name of the work directory.
func (b *bench) buildImageOf(ref string, cmd []string, name string) (string, error) {
	dir := filepath.Join(b.o.work, "image")
	os.RemoveAll(dir)
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return "", err
	}
	layerTmp := filepath.Join(dir, "layer.tar")
	if err := tarDir(b.rootfs, layerTmp); err != nil {
		return "", err
	}
	ld, ls, err := digestFile(layerTmp)
	if err != nil {
		return "", err
	}
	if err := os.Rename(layerTmp, filepath.Join(blobs, ld)); err != nil {
		return "", err
	}
	putBlob := func(v any) (string, int64, error) {
		data, err := json.Marshal(v)
		if err != nil {
			return "", 0, err
		}
		sum := sha256.Sum256(data)
		d := hex.EncodeToString(sum[:])
		return d, int64(len(data)), os.WriteFile(filepath.Join(blobs, d), data, 0o644)
	}
	cd, cs, err := putBlob(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config":  map[string]any{"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, "Cmd": cmd, "WorkingDir": "/"},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + ld}},
		"history": []map[string]string{{"created_by": "husk bench: busybox-static rootfs"}},
	})
	if err != nil {
		return "", err
	}
	md, ms, err := putBlob(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": cs},
		"layers": []map[string]any{{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + ld, "size": ls}},
	})
	if err != nil {
		return "", err
	}
	write := func(name string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	if err := write("index.json", map[string]any{"schemaVersion": 2, "manifests": []map[string]any{{
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + md, "size": ms,
		"annotations": map[string]string{"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": "latest"},
		"platform":    map[string]string{"architecture": "amd64", "os": "linux"},
	}}}); err != nil {
		return "", err
	}
	if err := write("oci-layout", map[string]string{"imageLayoutVersion": "1.0.0"}); err != nil {
		return "", err
	}
	if err := write("manifest.json", []map[string]any{{"Config": "blobs/sha256/" + cd, "RepoTags": []string{"huskbench:latest"},
		"Layers": []string{"blobs/sha256/" + ld}}}); err != nil {
		return "", err
	}
	out := filepath.Join(b.o.work, name)
	if err := tarDir(dir, out); err != nil {
		return "", err
	}
	return out, os.RemoveAll(dir)
}

// tarDir writes dir's tree to out (names relative, owner root, mtime 0,
// hard links kept as links).
func tarDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	var paths []string
	err = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	seen := map[uint64]string{}
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		h.ModTime = time.Unix(0, 0)
		h.Format = tar.FormatPAX
		h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			if first, ok := seen[st.Ino]; ok {
				h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
			} else {
				seen[st.Ino] = rel
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, src)
			src.Close()
			if err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func digestFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// daemonResults are what the containerd and dockerd workloads measure.
type daemonResults struct {
	workloads []*workload
	shimMem   []*shimMemRow
}

// workloadDaemons is workload 3: `ctr run --rm` through containerd's runc
// shim with --runc-binary RT, and `docker run --rm --runtime RT`; and
// husk's shim against the runc shim (time and memory).
func (b *bench) workloadDaemons(ctx context.Context, doCtr, doShim, doDocker bool) (daemonResults, error) {
	var res daemonResults
	img, err := b.buildImage()
	if err != nil {
		return res, fmt.Errorf("image: %w", err)
	}
	if doCtr || doShim {
		if err := b.workloadsContainerd(ctx, img, doCtr, doShim, &res); err != nil {
			return res, err
		}
	}
	if doDocker && ctx.Err() == nil {
		w, err := b.workloadDocker(ctx, img)
		if w != nil {
			res.workloads = append(res.workloads, w)
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func (b *bench) workloadsContainerd(ctx context.Context, img string, doCtr, doShim bool, res *daemonResults) error {
	dir := filepath.Join(b.o.work, "containerd")
	run := filepath.Join(b.o.state, "containerd")
	for _, d := range []string{dir, run} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	sock := filepath.Join(run, "containerd.sock")
	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = %q
  level = "warn"
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(run, "state"), sock, sock+".ttrpc", filepath.Join(run, "debug.sock"), filepath.Join(dir, "opt"))
	confPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	var env []string
	if doShim {
		if _, err := os.Stat(b.o.huskShim); err != nil {
			return fmt.Errorf("husk's shim: %w", err)
		}
		// containerd finds the shim of io.containerd.husk.v2 on its PATH.
		env = append(env, "PATH="+filepath.Dir(b.o.huskShim)+":"+os.Getenv("PATH"))
	}
	d, err := b.startDaemon("containerd", sock, []string{"containerd", "--config", confPath}, dir, env...)
	if err != nil {
		return err
	}
	defer b.stopDaemon(d)
	ns := fmt.Sprintf("huskbench%d", os.Getpid())
	// The shims put each container in /<namespace>/<id> and remove only
	// the leaf: the namespace's cgroup is the benchmark's to remove.
	removeNSCgroup := cgroupsMadeFrom(ns)
	ctr := func(args ...string) []string {
		return append([]string{"ctr", "--address", sock, "--namespace", ns}, args...)
	}
	d.cleanup = func() {
		// Whatever a failed run left: tasks, containers, then the image.
		out, _ := exec.Command("ctr", "--address", sock, "--namespace", ns, "containers", "ls", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			b.run(context.Background(), 30*time.Second, ctr("task", "kill", "-s", "SIGKILL", id))
			time.Sleep(200 * time.Millisecond)
			b.run(context.Background(), 30*time.Second, ctr("task", "delete", "-f", id))
			b.run(context.Background(), 30*time.Second, ctr("containers", "delete", id))
		}
		b.run(context.Background(), 60*time.Second, ctr("images", "rm", imageRef))
		removeNSCgroup()
	}
	if r := b.run(ctx, 120*time.Second, ctr("images", "import", img)); r.Err != nil {
		return fmt.Errorf("ctr images import: %w", r.Err)
	}
	if doCtr {
		w := newWorkload("ctr", "ctr run --rm (containerd 1.6, runc shim)", "ms per container",
			"`ctr run --rm --runtime io.containerd.runc.v2 --runc-binary RT IMAGE ID true` against a private containerd "+
				"(own root, state and socket); the shim calls RT create/start/delete. Wall time of the ctr command.")
		b.rounds(ctx, w, b.o.nDaemon, 1, b.contenders(false), func(c contender) sample {
			return sampleOf(b.run(ctx, cmdTimeout, ctr("run", "--rm", "--runtime", "io.containerd.runc.v2",
				"--runc-binary", c.rt.Path, imageRef, b.id(), "true")))
		})
		res.workloads = append(res.workloads, w)
	}
	if doShim && ctx.Err() == nil {
		res.workloads = append(res.workloads, b.workloadShim(ctx, ctr))
		res.shimMem = b.shimMemory(ctx, ctr, 3)
	}
	return nil
}

// cgroupsMadeFrom returns a function that removes the top-level cgroup
// name, when empty, from the hierarchies where it does not exist now: a
// cgroup the machine already had is never touched.
func cgroupsMadeFrom(name string) func() {
	v1, v2 := cgroupMountPoints()
	if v2 != "" {
		v1 = append(v1, v2)
	}
	var fresh []string
	for _, m := range v1 {
		if _, err := os.Stat(filepath.Join(m, name)); os.IsNotExist(err) {
			fresh = append(fresh, filepath.Join(m, name))
		}
	}
	return func() {
		for _, dir := range fresh {
			removeEmptyCgroupTree(dir)
		}
	}
}

// removeEmptyCgroupTree removes dir and the cgroups below it, deepest
// first, each only if no process is left in it (rmdir of a cgroup fails
// otherwise): a pod's parent made for one round, with the cgroups a
// runtime made in it and left behind.
func removeEmptyCgroupTree(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			removeEmptyCgroupTree(filepath.Join(dir, e.Name()))
		}
	}
	os.Remove(dir)
}

func dockerCLI() string {
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		return "/usr/bin/docker" // Debian's client, the daemon's version
	}
	return "docker"
}

func (b *bench) workloadDocker(ctx context.Context, img string) (*workload, error) {
	dir := filepath.Join(b.o.work, "docker")
	run := filepath.Join(b.o.state, "docker")
	for _, d := range []string{dir, run} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	sock := filepath.Join(b.o.state, "docker.sock")
	// A private config file: no /etc/docker/daemon.json, and the daemon's
	// key goes to our dir instead of /etc/docker/key.json.
	confPath := filepath.Join(dir, "daemon.json")
	conf, _ := json.Marshal(map[string]string{"deprecated-key-path": filepath.Join(dir, "key.json")})
	if err := os.WriteFile(confPath, conf, 0o644); err != nil {
		return nil, err
	}
	argv := []string{"dockerd", "--config-file", confPath, "--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(run, "exec"), "-H", "unix://" + sock, "--pidfile", filepath.Join(run, "dockerd.pid"),
		"--iptables=false", "--ip-masq=false", "--bridge=none", "--storage-driver", "overlay2", "--log-level", "warn"}
	for _, rt := range b.rts {
		argv = append(argv, "--add-runtime", "bench-"+rt.Name+"="+rt.Path)
	}
	// dockerd's containers live under /docker/<id>; the parent stays.
	removeDockerCgroup := cgroupsMadeFrom("docker")
	d, err := b.startDaemon("dockerd", sock, argv, dir)
	if err != nil {
		return nil, err
	}
	defer removeDockerCgroup()
	defer b.stopDaemon(d)
	docker := func(args ...string) []string {
		return append([]string{dockerCLI(), "-H", "unix://" + sock}, args...)
	}
	d.cleanup = func() {
		out, _ := exec.Command(dockerCLI(), "-H", "unix://"+sock, "ps", "-aq").Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			b.run(context.Background(), 60*time.Second, docker(append([]string{"rm", "-f"}, ids...)...))
		}
	}
	// dockerd answers on its socket slightly before it serves the API.
	for i := 0; i < 100; i++ {
		if b.run(ctx, 10*time.Second, docker("info")).Err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := b.run(ctx, 120*time.Second, docker("load", "-i", img)); r.Err != nil {
		return nil, fmt.Errorf("docker load: %w", r.Err)
	}
	w := newWorkload("docker", "docker run --rm (dockerd 20.10)", "ms per container",
		"`docker run --rm --runtime bench-RT --network none huskbench true` against a private dockerd "+
			"(`--add-runtime bench-RT=PATH`, own data-root, exec-root, socket and config file; its own managed containerd). "+
			"Wall time of the docker client command.")
	b.rounds(ctx, w, b.o.nDaemon, 1, b.contenders(false), func(c contender) sample {
		return sampleOf(b.run(ctx, cmdTimeout, docker("run", "--rm", "--runtime", "bench-"+c.Name, "--network", "none",
			"huskbench:latest", "true")))
	})
	return w, nil
}
