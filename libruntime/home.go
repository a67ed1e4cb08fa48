package libruntime

import (
	"bufio"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// withHome prepares process.env as runc does before it executes the
// process: a variable given more than once is kept once, with its last
// value (where it last appears); HOME, when missing or empty, is the home
// directory of the process's uid in the container's /etc/passwd (or "/"):
// many programs fail without it.
func withHome(s *rspec.Spec, rootfs string) {
	env := s.Process.Env
	seen := make(map[string]bool, len(env))
	out := make([]string, 0, len(env)+1)
	home := false
	for i := len(env) - 1; i >= 0; i-- {
		k, v, _ := strings.Cut(env[i], "=")
		if seen[k] {
			continue
		}
		seen[k] = true
		if k == "HOME" {
			if v == "" {
				continue
			}
			home = true
		}
		out = append(out, env[i])
	}
	slices.Reverse(out)
	if !home {
		out = append(out, "HOME="+homeDir(rootfs, s.Process.User.UID))
	}
	s.Process.Env = out
}

// homeDir reads the home directory of uid from rootfs/etc/passwd. The
// file is resolved inside the rootfs: an image's symlink cannot make husk
// read a host file.
func homeDir(rootfs string, uid uint32) string {
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "/"
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, "etc/passwd", &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return "/"
	}
	f := os.NewFile(uintptr(fd), "etc/passwd")
	defer f.Close()
	if home, err := findHome(f, uid); err == nil {
		return home
	}
	return "/"
}

var errNoUser = errors.New("no such user")

func findHome(f *os.File, uid uint32) (string, error) {
	want := strconv.FormatUint(uint64(uid), 10)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// name:password:uid:gid:gecos:home:shell
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 6 && fields[2] == want && fields[5] != "" {
			return fields[5], nil
		}
	}
	return "", errNoUser
}
