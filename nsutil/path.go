package nsutil

import (
	"fmt"
	"os"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsGetNstype is ioctl NS_GET_NSTYPE: _IO(0xb7, 0x3).
const nsGetNstype = 0xb703

// Open opens a namespace file for setns and checks that it is a namespace
// of type t: joining a network namespace where a uts one was declared
// would silently give the container the wrong isolation.
func Open(path string, t rspec.LinuxNamespaceType) (*os.File, error) {
	want, ok := CloneFlag(t)
	if !ok {
		return nil, fmt.Errorf("unknown namespace type %q", t)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	got, err := nstype(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is not a namespace: %w", path, err)
	}
	if got != want {
		f.Close()
		if name := TypeOfFlag(got); name != "" {
			return nil, fmt.Errorf("%s is a %s namespace, not %s", path, name, t)
		}
		return nil, fmt.Errorf("%s is not a %s namespace", path, t)
	}
	return f, nil
}

func nstype(f *os.File) (uintptr, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), nsGetNstype, 0)
	if errno != 0 {
		return 0, errno
	}
	return r, nil
}
