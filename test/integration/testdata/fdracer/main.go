// Command fdracer runs inside a container and attacks the runtime's
// helpers as a process watching /proc would: for every other process it
// sees, it tries to read the links of its descriptors and to open them.
// It prints every descriptor it reached that a runtime must never let the
// container reach (any of a helper's, and sockets, pipes, memfds, anon
// inodes and procfs roots of anything else), then how many helpers
// (command line "husk-init") it saw. It stops once the -stop file exists.
// The stdio pipes of a process that is no helper are its own (husk gives a
// process exec'd in the foreground pipes, as runc does), not reported.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func main() {
	ready := flag.String("ready", "", "file to create once watching")
	stop := flag.String("stop", "", "stop once this file exists")
	flag.Parse()
	self := strconv.Itoa(os.Getpid())
	helpers := map[string]bool{}
	reached := map[string]bool{}
	if *ready != "" {
		os.WriteFile(*ready, nil, 0o644)
	}
	for {
		if _, err := os.Stat(*stop); err == nil {
			break
		}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid := e.Name()
			if pid == self || pid == "1" || pid[0] < '0' || pid[0] > '9' {
				continue
			}
			helper := isHelper(pid)
			if helper {
				helpers[pid] = true
			}
			fds, err := os.ReadDir("/proc/" + pid + "/fd")
			if err != nil {
				continue
			}
			for _, fd := range fds {
				path := "/proc/" + pid + "/fd/" + fd.Name()
				target, err := os.Readlink(path)
				if err != nil {
					continue
				}
				kind := classify(path, target)
				// A helper that executed the user's program meanwhile
				// is that program now, with its own descriptors.
				if helper && !isHelper(pid) {
					helper = false
				}
				// The stdio of a process exec'd in the foreground are
				// pipes husk made for it, as runc does: its own.
				if !helper && kind == "pipe" && (fd.Name() == "0" || fd.Name() == "1" || fd.Name() == "2") {
					continue
				}
				if helper || kind != "" {
					line := fmt.Sprintf("reached pid %s fd %s -> %s (%s, helper %v)", pid, fd.Name(), target, kind, helper)
					if !reached[line] {
						reached[line] = true
						fmt.Println(line)
					}
				}
			}
		}
	}
	fmt.Printf("helpers %d\n", len(helpers))
	fmt.Printf("reached %d\n", len(reached))
}

func isHelper(pid string) bool {
	cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
	return strings.HasPrefix(string(cmd), "husk-init\x00")
}

// classify names what a descriptor is when a container must not reach it.
func classify(path, target string) string {
	for _, p := range []string{"socket:", "pipe:", "anon_inode:", "/memfd:"} {
		if strings.HasPrefix(target, p) {
			return strings.TrimSuffix(strings.TrimPrefix(p, "/"), ":")
		}
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if unix.Fstatfs(fd, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC {
		return "procfs"
	}
	return ""
}
