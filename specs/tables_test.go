//go:build linux

package specs

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCapabilities(t *testing.T) {
	if got, want := len(Capabilities), unix.CAP_LAST_CAP+1; got != want {
		t.Fatalf("%d capabilities, want %d", got, want)
	}
	for _, tc := range []struct {
		name string
		num  int
	}{
		{"CAP_CHOWN", unix.CAP_CHOWN},
		{"CAP_KILL", unix.CAP_KILL},
		{"CAP_NET_BIND_SERVICE", unix.CAP_NET_BIND_SERVICE},
		{"CAP_SYS_ADMIN", unix.CAP_SYS_ADMIN},
		{"CAP_MKNOD", unix.CAP_MKNOD},
		{"CAP_AUDIT_WRITE", unix.CAP_AUDIT_WRITE},
		{"CAP_SETFCAP", unix.CAP_SETFCAP},
		{"CAP_AUDIT_READ", unix.CAP_AUDIT_READ},
		{"CAP_PERFMON", unix.CAP_PERFMON},
		{"CAP_BPF", unix.CAP_BPF},
		{"CAP_CHECKPOINT_RESTORE", unix.CAP_CHECKPOINT_RESTORE},
	} {
		if n, ok := CapabilityNumber(tc.name); !ok || n != tc.num {
			t.Errorf("CapabilityNumber(%s) = %d, %v; want %d", tc.name, n, ok, tc.num)
		}
		if Capabilities[tc.num] != tc.name {
			t.Errorf("Capabilities[%d] = %s, want %s", tc.num, Capabilities[tc.num], tc.name)
		}
	}
	for i, name := range Capabilities {
		if n, ok := CapabilityNumber(name); !ok || n != i {
			t.Errorf("CapabilityNumber(%s) = %d, %v; want %d", name, n, ok, i)
		}
	}
	for _, bad := range []string{"", "CAP_FOO", "cap_chown", "CHOWN", "CAP_CHOWN "} {
		if _, ok := CapabilityNumber(bad); ok {
			t.Errorf("CapabilityNumber(%q) succeeded", bad)
		}
	}
}

func TestRlimitNumber(t *testing.T) {
	want := map[string]int{
		"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
		"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
		"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
		"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
		"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
		"RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	}
	seen := map[int]bool{}
	for name, num := range want {
		n, ok := RlimitNumber(name)
		if !ok || n != num {
			t.Errorf("RlimitNumber(%s) = %d, %v; want %d", name, n, ok, num)
		}
		seen[n] = true
	}
	if len(seen) != 16 {
		t.Errorf("rlimit numbers are not distinct: %v", seen)
	}
	if _, ok := RlimitNumber("RLIMIT_FOO"); ok {
		t.Error("RlimitNumber(RLIMIT_FOO) succeeded")
	}
}

func TestParseList(t *testing.T) {
	for _, tc := range []struct {
		list string
		want []uint64 // words
		err  string
	}{
		{"", nil, ""},
		{"0", []uint64{1}, ""},
		{"0-3,5", []uint64{0x2f}, ""},
		{" 1 , ,2", []uint64{6}, ""},
		{"64", []uint64{0, 1}, ""},
		{"1023", append(make([]uint64, 15), 1<<63), ""},
		{",", nil, "no members"},
		{"1024", nil, "above 1023"},
		{"-1", nil, "not a number"},
		{"2-1", nil, "invalid range"},
		{"a", nil, "not a number"},
	} {
		mask, err := ParseList(tc.list)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseList(%q): %v, want an error with %q", tc.list, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseList(%q): %v", tc.list, err)
			continue
		}
		var words []uint64
		for i := 0; i+8 <= len(mask); i += 8 {
			words = append(words, binary.NativeEndian.Uint64(mask[i:]))
		}
		if !slices.Equal(words, tc.want) || len(mask)%8 != 0 {
			t.Errorf("ParseList(%q) = %x, want words %x", tc.list, mask, tc.want)
		}
	}
}
