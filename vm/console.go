package vm

import (
	"bytes"
	"io"
	"os"
	"sync"
)

// Bounds on what a guest can make the host keep: the console log file
// and the tail quoted in errors.
const (
	consoleLogMax = 1 << 20
	tailMax       = 4 << 10
)

// tail keeps the last tailMax bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-tailMax:]...)
	}
	return len(p), nil
}

// String returns the kept bytes, printable and trimmed.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := bytes.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || (r >= ' ' && r != 0x7f) {
			return r
		}
		return -1
	}, t.buf)
	return string(bytes.TrimSpace(b))
}

// copyConsole copies the guest's console to the log file, up to
// consoleLogMax bytes, and to the tail; it returns at the end of r.
func copyConsole(r io.Reader, log *os.File, t *tail) {
	written := 0
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			t.Write(buf[:n])
			if log != nil && written < consoleLogMax {
				m := min(n, consoleLogMax-written)
				log.Write(buf[:m])
				written += m
			}
		}
		if err != nil {
			return
		}
	}
}
