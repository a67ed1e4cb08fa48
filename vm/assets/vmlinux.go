package assets

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// payload is the compressed kernel inside a bzImage.
type payload struct {
	data []byte
	// decompressor is the command (reading stdin) that unpacks it.
	decompressor []string
}

// bzPayload finds the compressed vmlinux in a bzImage (x86 boot protocol
// ≥ 2.08): setup_sects at 0x1f1, payload_offset at 0x248 and
// payload_length at 0x24c, the offset counting from the protected-mode
// code after the setup sectors. The payload's last 4 bytes are its
// uncompressed size, which the decompressors do not want.
func bzPayload(bz []byte) (payload, error) {
	if len(bz) < 0x250 || string(bz[0x202:0x206]) != "HdrS" {
		return payload{}, errors.New("not a bzImage (no HdrS header)")
	}
	setup := int(bz[0x1f1])
	if setup == 0 {
		setup = 4
	}
	off := int(binary.LittleEndian.Uint32(bz[0x248:]))
	n := int(binary.LittleEndian.Uint32(bz[0x24c:]))
	start := (setup+1)*512 + off
	if n < 4 || start < 0 || start+n > len(bz) {
		return payload{}, fmt.Errorf("bzImage payload [%d, +%d) outside the file (%d bytes)", start, n, len(bz))
	}
	data := bz[start : start+n-4]
	for _, c := range []struct {
		magic []byte
		cmd   []string
	}{
		{[]byte{0xfd, '7', 'z', 'X', 'Z', 0}, []string{"xz", "-dc", "--single-stream"}},
		{[]byte{0x28, 0xb5, 0x2f, 0xfd}, []string{"zstd", "-dc"}},
		{[]byte{0x02, 0x21, 0x4c, 0x18}, []string{"lz4", "-dc"}},
		{[]byte{0x1f, 0x8b}, []string{"gzip", "-dc"}},
	} {
		if bytes.HasPrefix(data, c.magic) {
			return payload{data: data, decompressor: c.cmd}, nil
		}
	}
	return payload{}, fmt.Errorf("bzImage payload: unknown compression (magic % x)", data[:min(len(data), 6)])
}

// extractVmlinux writes the ELF kernel of bzImage file bzPath to out.
// qemu boots an ELF vmlinux through its PVH entry point: no decompression
// in the guest, which takes seconds under emulation.
func extractVmlinux(bzPath, out string) error {
	bz, err := os.ReadFile(bzPath)
	if err != nil {
		return err
	}
	p, err := bzPayload(bz)
	if err != nil {
		return fmt.Errorf("%s: %w", bzPath, err)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(p.decompressor[0], p.decompressor[1:]...)
	cmd.Stdin = bytes.NewReader(p.data)
	cmd.Stdout = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("decompress %s with %s: %v: %s", bzPath, p.decompressor[0], err, bytes.TrimSpace(stderr.Bytes()))
	}
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil || string(magic[:]) != "\x7fELF" {
		return fmt.Errorf("%s: the payload is not an ELF kernel", bzPath)
	}
	return f.Close()
}
