// Package clients runs husk under the real clients of an OCI runtime:
// containerd 1.6 (ctr and its io.containerd.runc.v2 shim), dockerd 20.10
// (--add-runtime) and podman 4.3 with conmon (--runtime). Each suite starts
// its own daemons with private roots, state dirs and sockets under /tmp and
// /run, and removes them again, even when a check fails.
//
// Every call a client makes to husk goes through a logging wrapper; at the
// end of each suite the distinct command lines are compared with
// testdata/argv-<client>.txt (rewrite with -update) and replayed against
// husk and runc to show that husk accepts every flag runc accepts there.
//
//	go test -count=1 ./test/clients/ -husk=$PWD/bin/husk
//
// The tests install the Debian packages they need (containerd, docker.io,
// podman, conmon, runc, busybox-static) with apt-get when they are missing.
package clients

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"testing"

	"github.com/husk-runtime/husk/internal/testbundle"
)

var (
	huskFlag   = flag.String("husk", "", "path of the husk binary under test")
	updateFlag = flag.Bool("update", false, "rewrite testdata/argv-<client>.txt from what the clients passed to husk in this run")
	runcFlag   = flag.String("runc", debianRunc, "the runc husk is compared with (argv replay, TestRuncWords)")
	// make clients builds containerd 2.4 and its runc shim (in runc-shim/:
	// on containerd's PATH, so Debian's 1.6 shim is not used) there.
	containerd24Flag = flag.String("containerd24", "/var/cache/husk-test/containerd-2.4.2", "directory with containerd and ctr 2.4.2, and runc-shim/containerd-shim-runc-v2 2.4.2")
)

// Set up by TestMain.
var (
	huskBin   string // absolute path of husk
	runcBin   string // the runc husk is compared with
	workDir   string // private scratch dir under /tmp, removed at the end
	testDir   string // the package directory (the tests' cwd)
	imageTar  string // OCI image layout + docker-save manifest.json in one tar
	rootfsTar string // the image's only layer: a plain busybox rootfs tar
	rootfsDir string // the same rootfs unpacked (podman --rootfs)
)

// The image the tests build: no registry is reachable, so it is made here
// from busybox-static. ctr imports it by this name, docker loads it as
// huskbb:latest, podman imports the rootfs tar as localhost/huskbb:latest.
const (
	imageRef    = "docker.io/library/huskbb:latest"
	dockerImage = "huskbb:latest"
	podmanImage = "localhost/huskbb:latest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Println("SKIP client tests: they start containerd, dockerd and podman containers and must run as root")
		os.Exit(0)
	}
	if *huskFlag == "" {
		fmt.Fprintln(os.Stderr, "client tests need -husk=/path/to/husk (make clients passes it)")
		os.Exit(2)
	}
	var err error
	if huskBin, err = filepath.Abs(*huskFlag); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, err := os.Stat(huskBin); err != nil {
		fmt.Fprintln(os.Stderr, "client tests:", err)
		os.Exit(2)
	}
	runcBin = *runcFlag
	// Debian's containerd, dockerd, podman, conmon and runc: nothing that
	// happens to be earlier on PATH (a go-installed containerd 2, a newer
	// docker CLI in /usr/local/bin), for us and for the daemons, which look
	// up shims, conmon and helpers on PATH.
	os.Setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin:"+os.Getenv("PATH"))
	if err := ensurePackages(); err != nil {
		fmt.Fprintln(os.Stderr, "client tests:", err)
		os.Exit(2)
	}
	if testDir, err = os.Getwd(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if workDir, err = os.MkdirTemp("/tmp", "husk-clients-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := 2
	if err := os.Chmod(workDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else if err := buildImages(workDir); err != nil {
		fmt.Fprintln(os.Stderr, "client tests: building the image:", err)
	} else {
		code = m.Run()
	}
	unmountUnder(workDir)
	os.RemoveAll(workDir)
	os.Exit(code)
}

// The clients, by the paths Debian's packages install them at.
const (
	containerdBin = "/usr/bin/containerd"
	ctrBin        = "/usr/bin/ctr"
	dockerdBin    = "/usr/sbin/dockerd"
	dockerBin     = "/usr/bin/docker"
	podmanBin     = "/usr/bin/podman"
	debianRunc    = "/usr/sbin/runc"
)

// packages the suites need, each with a file that shows it is installed.
var packages = []struct{ pkg, file string }{
	{"containerd", containerdBin},
	{"containerd", ctrBin},
	{"containerd", "/usr/bin/containerd-shim-runc-v2"},
	{"docker.io", dockerdBin},
	{"docker.io", dockerBin},
	{"podman", podmanBin},
	{"conmon", "/usr/bin/conmon"},
	{"runc", debianRunc},
	{"iptables", "/usr/sbin/iptables"},
	{"containernetworking-plugins", "/usr/lib/cni/loopback"},
}

// ensurePackages apt-get installs whatever is missing (a fresh CI machine
// has none of it).
func ensurePackages() error {
	var missing []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			missing = append(missing, p)
		}
	}
	for _, p := range packages {
		if _, err := os.Stat(p.file); err != nil {
			add(p.pkg)
		}
	}
	if _, err := testbundle.Busybox(); err != nil {
		add("busybox-static")
	}
	if len(missing) == 0 {
		return nil
	}
	fmt.Fprintln(os.Stderr, "client tests: installing", strings.Join(missing, " "))
	apt := func(args ...string) error {
		cmd := exec.Command("apt-get", append([]string{"-o", "DPkg::Lock::Timeout=600", "-q"}, args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	}
	install := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
	if err := apt(install...); err != nil {
		if err := apt("update"); err != nil {
			return fmt.Errorf("apt-get update: %w", err)
		}
		if err := apt(install...); err != nil {
			return fmt.Errorf("apt-get install %s: %w", strings.Join(missing, " "), err)
		}
	}
	for _, p := range packages {
		if _, err := os.Stat(p.file); err != nil {
			return fmt.Errorf("%s still missing after installing %s", p.file, p.pkg)
		}
	}
	_, err := testbundle.Busybox()
	return err
}

// buildImages writes the rootfs dir, the rootfs (layer) tar and the image
// tar: an OCI image layout whose index names the image for `ctr image
// import`, plus a docker-save manifest.json over the same blobs for
// `docker load`.
func buildImages(dir string) error {
	rootfsDir = filepath.Join(dir, "rootfs")
	if err := testbundle.Rootfs(rootfsDir); err != nil {
		return err
	}
	for _, f := range []string{"etc/hosts", "etc/resolv.conf"} {
		if err := os.WriteFile(filepath.Join(rootfsDir, f), nil, 0o644); err != nil {
			return err
		}
	}
	layer, err := layerTar()
	if err != nil {
		return err
	}
	rootfsTar = filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(rootfsTar, layer, 0o644); err != nil {
		return err
	}

	imageTar = filepath.Join(dir, "huskbb-image.tar")
	return writeImageTar(imageTar, layer, imageRef, dockerImage, []string{"sh"})
}

// writeImageTar writes an image of one layer whose command is cmd: an OCI
// image layout whose index names it ref for `ctr image import`, plus a
// docker-save manifest.json over the same blobs (tag) for `docker load`.
func writeImageTar(path string, layer []byte, ref, tag string, cmd []string) error {
	blobs := map[string][]byte{}
	blob := func(data []byte) (string, int) {
		sum := sha256.Sum256(data)
		d := hex.EncodeToString(sum[:])
		blobs[d] = data
		return d, len(data)
	}
	l, ls := blob(layer)
	cfg, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd":        cmd,
			"WorkingDir": "/",
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + l}},
		"history": []map[string]string{{"created_by": "husk test/clients: busybox-static rootfs"}},
	})
	c, cs := blob(cfg)
	man, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + c, "size": cs},
		"layers":        []map[string]any{{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + l, "size": ls}},
	})
	md, ms := blob(man)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []map[string]any{{
			"mediaType": "application/vnd.oci.image.manifest.v1+json",
			"digest":    "sha256:" + md,
			"size":      ms,
			"annotations": map[string]string{
				"io.containerd.image.name":          ref,
				"org.opencontainers.image.ref.name": "latest",
			},
			"platform": map[string]string{"architecture": runtime.GOARCH, "os": "linux"},
		}},
	})
	save, _ := json.Marshal([]map[string]any{{
		"Config":   "blobs/sha256/" + c,
		"RepoTags": []string{tag},
		"Layers":   []string{"blobs/sha256/" + l},
	}})

	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	files := map[string][]byte{
		"oci-layout":    []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json":    index,
		"manifest.json": save,
	}
	for d, data := range blobs {
		files["blobs/sha256/"+d] = data
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
	}
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// layerTar is a busybox rootfs as a tar: every applet a symlink to
// /bin/busybox, root and nobody in /etc/passwd.
func layerTar() ([]byte, error) {
	bb, err := testbundle.Busybox()
	if err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(bb)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	t0 := time.Unix(0, 0)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: t0})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: t0}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []string{"bin", "dev", "etc", "proc", "root", "run", "sys", "usr", "usr/bin", "var"} {
		if err := dir(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return nil, err
	}
	if err := file("bin/busybox", 0o755, bin); err != nil {
		return nil, err
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	for _, a := range applets {
		if a == "busybox" {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: t0}); err != nil {
			return nil, err
		}
	}
	etc := []struct{ name, data string }{
		{"etc/group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"},
		{"etc/hostname", "huskbb\n"},
		{"etc/hosts", ""},
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{"etc/resolv.conf", ""},
	}
	for _, f := range etc {
		if err := file(f.name, 0o644, []byte(f.data)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
