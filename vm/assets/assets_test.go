package assets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// cpioEntry is one record read back from a newc archive.
type cpioEntry struct {
	name         string
	mode         uint32
	data         string
	major, minor uint32
}

func readCpio(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	field := func(h []byte, i int) uint32 {
		v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(v)
	}
	align := func(n int) int { return (n + 3) &^ 3 }
	for off := 0; off < len(b); {
		h := b[off : off+110]
		if string(h[:6]) != "070701" {
			t.Fatalf("bad magic at %d", off)
		}
		nameLen, size := int(field(h, 11)), int(field(h, 6))
		name := string(b[off+110 : off+110+nameLen-1])
		dataOff := align(off + 110 + nameLen)
		e := cpioEntry{name: name, mode: field(h, 1), data: string(b[dataOff : dataOff+size]), major: field(h, 9), minor: field(h, 10)}
		off = align(dataOff + size)
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Errorf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, e)
	}
	t.Fatal("no trailer")
	return nil
}

func TestInitramfsLayout(t *testing.T) {
	var buf bytes.Buffer
	mods := []guestModule{{"virtio_mmio", []byte("mmio")}, {"virtio", []byte("v")}}
	groups := map[string][]string{"mmio": {"virtio", "virtio_mmio"}}
	if err := writeInitramfs(&buf, []byte("AGENT"), mods, groups); err != nil {
		t.Fatal(err)
	}
	got := map[string]cpioEntry{}
	var names []string
	for _, e := range readCpio(t, buf.Bytes()) {
		got[e.name] = e
		names = append(names, e.name)
	}
	want := []string{"dev", "dev/console", "init", "lib", "lib/modules", "lib/modules/virtio.ko",
		"lib/modules/virtio_mmio.ko", "lib/modules/mmio.list"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("entries %v, want %v", names, want)
	}
	if e := got["dev/console"]; e.mode != modeChr|0o600 || e.major != 5 || e.minor != 1 {
		t.Errorf("console: %+v", e)
	}
	if e := got["init"]; e.mode != modeFile|0o755 || e.data != "AGENT" {
		t.Errorf("init: %+v", e)
	}
	if e := got["lib/modules/mmio.list"]; e.data != "virtio\nvirtio_mmio\n" {
		t.Errorf("load list: %q", e.data)
	}
}

func TestResolve(t *testing.T) {
	deps := map[string][]string{"9p": {"netfs", "9pnet"}, "9pnet_virtio": {"9pnet", "virtio"}, "9pnet": nil, "netfs": {"fscache"}}
	order, err := resolve([]string{"9pnet_virtio", "9p"}, func(n string) ([]string, error) { return deps[n], nil })
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	for n, ds := range deps {
		for _, d := range ds {
			if pos[d] > pos[n] {
				t.Errorf("%s loads before its dependency %s: %v", n, d, order)
			}
		}
	}
	if len(order) != 6 {
		t.Errorf("order %v", order)
	}
	_, err = resolve([]string{"a"}, func(n string) ([]string, error) { return map[string][]string{"a": {"b"}, "b": {"a"}}[n], nil })
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("a cycle: %v", err)
	}
}

func TestStripSignature(t *testing.T) {
	mod := []byte("\x7fELF module body")
	signer, keyID, sig := "signer", "keyid", bytes.Repeat([]byte{7}, 300)
	info := make([]byte, 12)
	info[3], info[4] = byte(len(signer)), byte(len(keyID))
	binary.BigEndian.PutUint32(info[8:], uint32(len(sig)))
	signed := append(append(append(append(append([]byte{}, mod...), signer...), keyID...), sig...), info...)
	signed = append(signed, sigMagic...)
	got, err := stripSignature(signed)
	if err != nil || !bytes.Equal(got, mod) {
		t.Errorf("stripped %q, %v", got, err)
	}
	if got, err := stripSignature(mod); err != nil || !bytes.Equal(got, mod) {
		t.Errorf("unsigned: %q, %v", got, err)
	}
	binary.BigEndian.PutUint32(info[8:], 1<<30)
	bad := append(append(append([]byte{}, mod...), info...), sigMagic...)
	if _, err := stripSignature(bad); err == nil {
		t.Error("a signature longer than the module: no error")
	}
}

func bzImage(payload []byte) []byte {
	const setup = 2
	bz := make([]byte, (setup+1)*512)
	bz[0x1f1] = setup
	copy(bz[0x202:], "HdrS")
	binary.LittleEndian.PutUint32(bz[0x248:], 16)
	binary.LittleEndian.PutUint32(bz[0x24c:], uint32(len(payload)+4))
	bz = append(bz, make([]byte, 16)...)
	bz = append(bz, payload...)
	return append(bz, 1, 2, 3, 4)
}

func TestBzPayload(t *testing.T) {
	xz := append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, "data"...)
	p, err := bzPayload(bzImage(xz))
	if err != nil || !bytes.Equal(p.data, xz) || p.decompressor[0] != "xz" {
		t.Errorf("xz payload: %q %v %v", p.data, p.decompressor, err)
	}
	if _, err := bzPayload(bzImage([]byte("????"))); err == nil {
		t.Error("unknown compression: no error")
	}
	if _, err := bzPayload([]byte("short")); err == nil {
		t.Error("not a bzImage: no error")
	}
	bad := bzImage(xz)
	binary.LittleEndian.PutUint32(bad[0x24c:], 1<<20)
	if _, err := bzPayload(bad); err == nil {
		t.Error("payload outside the file: no error")
	}
}

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	if _, err := Lookup(dir); !errors.Is(err, ErrMissing) {
		t.Errorf("empty dir: %v", err)
	}
	os.WriteFile(filepath.Join(dir, KernelFile), []byte("k"), 0o644)
	os.WriteFile(filepath.Join(dir, InitrdFile), []byte("i"), 0o644)
	if _, err := Lookup(dir); !errors.Is(err, ErrMissing) {
		t.Errorf("no manifest: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{"kernelVersion":"6.1.0-x"}`), 0o644)
	a, err := Lookup(dir)
	if err != nil || a.Manifest.KernelVersion != "6.1.0-x" || a.Kernel != filepath.Join(dir, KernelFile) {
		t.Errorf("lookup: %+v %v", a, err)
	}
	t.Setenv(DirEnv, "/elsewhere")
	if Dir() != "/elsewhere" {
		t.Errorf("Dir with %s: %s", DirEnv, Dir())
	}
}
