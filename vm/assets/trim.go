package assets

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
)

// trimZeroTails shrinks the file part (p_filesz) of each loadable segment
// of an ELF kernel to end at its last non-zero page; the rest stays in
// memory (p_memsz), which the loader fills with zeros. Debian's vmlinux
// carries its .bss as 22 MiB of zeros in the file: qemu keeps the kernel
// file mapped and reads each byte of p_filesz, so those pages would count
// in every VM's memory.
func trimZeroTails(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB {
		return fmt.Errorf("%s: not a little-endian 64-bit ELF", path)
	}
	phoff := binary.LittleEndian.Uint64(data[0x20:])
	phentsize := uint64(binary.LittleEndian.Uint16(data[0x36:]))
	for i, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Filesz == 0 || p.Off+p.Filesz > uint64(len(data)) {
			continue
		}
		seg := data[p.Off : p.Off+p.Filesz]
		end := uint64(len(bytes.TrimRight(seg, "\x00")))
		end = (end + 4095) &^ 4095
		if end >= p.Filesz {
			continue
		}
		// Elf64_Phdr: p_filesz at offset 32.
		binary.LittleEndian.PutUint64(data[phoff+uint64(i)*phentsize+32:], end)
	}
	return os.WriteFile(path, data, 0o644)
}
