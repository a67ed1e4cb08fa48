package shimtest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/husk-runtime/husk/internal/testbundle"
)

// The test image: Debian's busybox-static, every applet a symlink, root
// and nobody in /etc/passwd; its default command sleeps forever, so it
// also serves as the CRI pod sandbox ("pause") image.
const (
	imageRef  = "docker.io/library/husk-shimtest:latest"
	imageName = "husk-shimtest:latest"
)

// buildImage writes an image archive that both `ctr images import` (OCI
// layout, named by io.containerd.image.name) and `docker load`
// (manifest.json) take.
func buildImage(path string) error {
	bb, err := testbundle.Busybox()
	if err != nil {
		return err
	}
	bin, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	mtime := time.Unix(0, 0)
	dir := func(name string, mode int64) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime})
	}
	file := func(name string, mode int64, data []byte) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime})
		tw.Write(data)
	}
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "root", "run", "var", "usr", "usr/bin", "sbin"} {
		dir(d, 0o755)
	}
	dir("tmp", 0o1777)
	file("bin/busybox", 0o755, bin)
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: mtime})
		}
	}
	file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"))
	file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n"))
	file("etc/hosts", 0o644, nil)
	file("etc/resolv.conf", 0o644, nil)
	if err := tw.Close(); err != nil {
		return err
	}

	var img bytes.Buffer
	iw := tar.NewWriter(&img)
	blob := func(data []byte) (string, int) {
		sum := sha256.Sum256(data)
		d := hex.EncodeToString(sum[:])
		iw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "blobs/sha256/" + d, Mode: 0o644, Size: int64(len(data)), ModTime: mtime})
		iw.Write(data)
		return d, len(data)
	}
	iw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "blobs/", Mode: 0o755, ModTime: mtime})
	iw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "blobs/sha256/", Mode: 0o755, ModTime: mtime})
	l, ls := blob(layer.Bytes())
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{
			"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd":        []string{"/bin/sleep", "infinity"},
			"WorkingDir": "/",
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + l}},
		"history": []map[string]string{{"created_by": "husk shim tests: busybox-static"}},
	})
	c, cs := blob(cfg)
	man, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + c, "size": cs},
		"layers":        []map[string]any{{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + l, "size": ls}},
	})
	m, ms := blob(man)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []map[string]any{{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + m, "size": ms,
			"annotations": map[string]string{"io.containerd.image.name": imageRef, "org.opencontainers.image.ref.name": "latest"},
			"platform":    map[string]string{"architecture": "amd64", "os": "linux"},
		}},
	})
	dockerMan, _ := json.Marshal([]map[string]any{{
		"Config": "blobs/sha256/" + c, "RepoTags": []string{imageName}, "Layers": []string{"blobs/sha256/" + l},
	}})
	for name, data := range map[string][]byte{
		"oci-layout":    []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json":    index,
		"manifest.json": dockerMan,
	} {
		iw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mtime})
		iw.Write(data)
	}
	if err := iw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, img.Bytes(), 0o644)
}
