package assets

import (
	"fmt"
	"io"
	"path"
	"strings"
)

// cpioWriter writes a "newc" archive, the format the kernel unpacks as an
// initramfs. Entries carry their owner (root) and device numbers in the
// header, so building one needs no root and no files on disk.
type cpioWriter struct {
	w    io.Writer
	ino  uint32
	dirs map[string]bool
	err  error
}

func newCpioWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: w, dirs: map[string]bool{"": true}}
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeChr  = 0o020000
)

func (c *cpioWriter) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

// pad aligns to 4 bytes after n bytes written.
func (c *cpioWriter) pad(n int) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) entry(name string, mode uint32, data []byte, major, minor uint32) {
	c.ino++
	nlink := 1
	if mode&modeDir != 0 {
		nlink = 2
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize, check.
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, major, minor, len(name)+1, 0)
	c.write([]byte(hdr + name + "\x00"))
	c.pad(len(hdr) + len(name) + 1)
	c.write(data)
	c.pad(len(data))
}

// mkdirAll adds name and its parents that are not in the archive yet.
func (c *cpioWriter) mkdirAll(name string) {
	name = strings.Trim(name, "/")
	if name == "." {
		name = ""
	}
	if c.dirs[name] {
		return
	}
	c.mkdirAll(path.Dir(name))
	c.dirs[name] = true
	c.entry(name, modeDir|0o755, nil, 0, 0)
}

// File adds a regular file (and its directories).
func (c *cpioWriter) File(name string, perm uint32, data []byte) {
	name = strings.Trim(name, "/")
	c.mkdirAll(path.Dir(name))
	c.entry(name, modeFile|perm&0o7777, data, 0, 0)
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, perm, major, minor uint32) {
	name = strings.Trim(name, "/")
	c.mkdirAll(path.Dir(name))
	c.entry(name, modeChr|perm&0o7777, nil, major, minor)
}

// Close writes the trailer and returns the first error.
func (c *cpioWriter) Close() error {
	c.entry("TRAILER!!!", 0, nil, 0, 0)
	return c.err
}
