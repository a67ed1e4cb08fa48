package launch

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
)

// goMainModule returns the main module path recorded in the Go build info
// of the 64-bit little-endian ELF executable at path ("" if there is
// none). It reads the .go.buildinfo section as debug/buildinfo does, for
// the inline format of Go ≥ 1.18, without debug/buildinfo's DWARF,
// Mach-O, PE and compression readers: the shim binary stays smaller, and
// so does every shim process.
func goMainModule(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var eh [64]byte
	if _, err := f.ReadAt(eh[:], 0); err != nil {
		return ""
	}
	// ELF magic, ELFCLASS64, ELFDATA2LSB.
	if string(eh[:4]) != "\x7fELF" || eh[4] != 2 || eh[5] != 1 {
		return ""
	}
	le := binary.LittleEndian
	shoff := le.Uint64(eh[0x28:])
	shentsize := uint64(le.Uint16(eh[0x3a:]))
	shnum := uint64(le.Uint16(eh[0x3c:]))
	shstrndx := uint64(le.Uint16(eh[0x3e:]))
	if shentsize < 64 || shnum == 0 || shnum > 4096 || shstrndx >= shnum {
		return ""
	}
	sh := make([]byte, shnum*shentsize)
	if _, err := f.ReadAt(sh, int64(shoff)); err != nil {
		return ""
	}
	section := func(i uint64) (name uint32, off, size uint64) {
		h := sh[i*shentsize:]
		return le.Uint32(h), le.Uint64(h[0x18:]), le.Uint64(h[0x20:])
	}
	_, stroff, strsize := section(shstrndx)
	if strsize > 1<<20 {
		return ""
	}
	names := make([]byte, strsize)
	if _, err := f.ReadAt(names, int64(stroff)); err != nil {
		return ""
	}
	for i := uint64(0); i < shnum; i++ {
		n, off, size := section(i)
		if uint64(n) >= strsize || !bytes.HasPrefix(names[n:], []byte(".go.buildinfo\x00")) {
			continue
		}
		if size > 64<<10 {
			size = 64 << 10
		}
		data := make([]byte, size)
		if _, err := f.ReadAt(data, int64(off)); err != nil {
			return ""
		}
		return mainModuleOf(data)
	}
	return ""
}

// mainModuleOf parses a .go.buildinfo section: a 32-byte header ("\xff Go
// buildinf:", pointer size, flags with bit 2 = inline strings), then the
// Go version and the module info as varint-prefixed strings.
func mainModuleOf(data []byte) string {
	if len(data) < 32 || !bytes.HasPrefix(data, []byte("\xff Go buildinf:")) || data[15]&2 == 0 {
		return ""
	}
	data = data[32:]
	for i := 0; i < 2; i++ {
		n, w := binary.Uvarint(data)
		if w <= 0 || n > uint64(len(data)-w) {
			return ""
		}
		if i == 1 {
			// "path\t<main package>", then "mod\t<module>\t<version>..."
			// unless built outside a module (Debian's containerd 1.6).
			path := ""
			for _, line := range strings.Split(string(data[w:w+int(n)]), "\n") {
				if p, ok := strings.CutPrefix(line, "mod\t"); ok {
					mod, _, _ := strings.Cut(p, "\t")
					return mod
				}
				if p, ok := strings.CutPrefix(line, "path\t"); ok {
					path = p
				}
			}
			return path
		}
		data = data[w+int(n):]
	}
	return ""
}
