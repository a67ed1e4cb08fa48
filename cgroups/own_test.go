package cgroups

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestOwn(t *testing.T) {
	h, err := Detect()
	if err != nil {
		t.Skipf("no cgroup hierarchy: %v", err)
	}
	m, err := Own(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.State().Created) != 0 || len(m.paths) == 0 {
		t.Fatalf("own cgroups %+v", m.State())
	}
	// Every hierarchy lists this process in its own cgroup.
	for key, dir := range m.paths {
		data, err := os.ReadFile(dir + "/cgroup.procs")
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if !strings.Contains("\n"+string(data), "\n"+strconv.Itoa(os.Getpid())+"\n") {
			t.Errorf("%s: %s does not list us", key, dir)
		}
	}
}
