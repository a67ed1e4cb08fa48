package parity

import (
	"strings"
	"testing"
)

func testNormaliser() *Normaliser {
	return NewNormaliser(map[string]string{
		"/tmp/parity-1/c7/runc":        "<dir>",
		"/tmp/parity-1/c7/runc/bundle": "<bundle>",
		"parity-1-7-r":                 "<id>",
		"/parity-1-7-r-cg":             "<cgroup>",
	})
}

func TestReplaceLongestFirst(t *testing.T) {
	n := testNormaliser()
	got := n.Replace("/tmp/parity-1/c7/runc/bundle/rootfs /tmp/parity-1/c7/runc/hooks.log parity-1-7-r /sys/fs/cgroup/pids/parity-1-7-r-cg")
	want := "<bundle>/rootfs <dir>/hooks.log <id> /sys/fs/cgroup/pids<cgroup>"
	if got != want {
		t.Errorf("Replace:\n got %q\nwant %q", got, want)
	}
}

func TestMountinfo(t *testing.T) {
	n := testNormaliser()
	in := strings.Join([]string{
		"612 598 254:1 /tmp/parity-1/c7/runc/bundle/rootfs / ro,relatime master:1 - ext4 /dev/vda1 rw",
		"613 612 0:61 / /proc rw,nosuid,nodev,noexec,relatime shared:33 master:7 - proc proc rw",
		"614 612 0:62 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64",
		"garbage line",
	}, "\n")
	want := strings.Join([]string{
		"/ <bundle>/rootfs ro,relatime master - ext4 /dev/vda1 rw",
		"/proc / rw,nosuid,nodev,noexec,relatime shared master - proc proc rw",
		"/dev / rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64",
		"garbage line",
	}, "\n")
	if got := n.Mountinfo(in); got != want {
		t.Errorf("Mountinfo:\n got %s\nwant %s", got, want)
	}
}

func TestProbeSections(t *testing.T) {
	n := testNormaliser()
	in := "before\n=== mountinfo\n1 0 0:1 / / rw - tmpfs tmpfs rw\n=== state\n{\"id\":\"parity-1-7-r\",\"pid\":42,\"status\":\"running\"}\n=== env\nHOME=/root\n"
	want := "before\n=== mountinfo\n/ / rw - tmpfs tmpfs rw\n=== state\nid=\"<id>\" pid=<pid> status=\"running\"\n=== env\nHOME=/root"
	if got := n.Probe(in); got != want {
		t.Errorf("Probe:\n got %q\nwant %q", got, want)
	}
}

func TestJSONState(t *testing.T) {
	n := testNormaliser()
	in := `{"ociVersion":"1.3.0","id":"parity-1-7-r","pid":0,"status":"stopped","bundle":"/tmp/parity-1/c7/runc/bundle","rootfs":"/tmp/parity-1/c7/runc/bundle/rootfs","created":"2026-01-01T00:00:00Z","owner":"","annotations":{"a":"b"},"list":[1,2]}`
	want := strings.Join([]string{
		`annotations.a="b"`,
		`bundle="<bundle>"`,
		`created=<time>`,
		`id="<id>"`,
		`list[0]=1`,
		`list[1]=2`,
		`ociVersion="1.3.0"`,
		`owner=""`,
		`pid=0`,
		`rootfs="<bundle>/rootfs"`,
		`status="stopped"`,
	}, "\n")
	if got := n.JSON(in, false); got != want {
		t.Errorf("JSON:\n got %s\nwant %s", got, want)
	}
}

func TestJSONKeysOnly(t *testing.T) {
	n := testNormaliser()
	in := `{"type":"stats","data":{"cpu":{"usage":{"total":123,"percpu":[1,2]}},"pids":{"current":1}}}`
	want := strings.Join([]string{
		"data.cpu.usage.percpu[]:number",
		"data.cpu.usage.total:number",
		"data.pids.current:number",
		"type:string",
	}, "\n")
	if got := n.JSON(in, true); got != want {
		t.Errorf("JSON keys:\n got %s\nwant %s", got, want)
	}
}

func TestJSONNotJSON(t *testing.T) {
	if got := testNormaliser().JSON("oops parity-1-7-r", false); got != "not JSON: oops <id>" {
		t.Errorf("got %q", got)
	}
}

func TestJSONLines(t *testing.T) {
	got := testNormaliser().JSON("{\"pid\":3}\n{\"pid\":0}\n", false)
	if got != "doc1.pid=0\npid=<pid>" {
		t.Errorf("got %q", got)
	}
}

func TestHelpFlags(t *testing.T) {
	in := "USAGE:\n   runc exec [command options] <container-id>\n\nOPTIONS:\n   --console-socket value  path\n   --cwd value\n   --env value, -e value\n   --tty, -t  allocate\n   [--detach] see --help\n"
	if got, want := HelpFlags(in), "--console-socket --cwd --detach --env --help --tty"; got != want {
		t.Errorf("HelpFlags: got %q want %q", got, want)
	}
}

func TestPS(t *testing.T) {
	in := "UID          PID    PPID  C STIME TTY          TIME CMD\nroot        4242    4200  0 15:03 ?        00:00:00 sleep 1000\nroot        4250    4200  0 15:03 ?        00:00:00 sh -c x\n"
	want := "UID PID PPID C STIME TTY TIME CMD\nsh -c x\nsleep 1000"
	if got := testNormaliser().PS(in); got != want {
		t.Errorf("PS:\n got %q\nwant %q", got, want)
	}
}

func TestLogLevels(t *testing.T) {
	log := []byte(`{"level":"debug","msg":"x"}
{"level":"warning","msg":"w1"}
{"level":"warning","msg":"w2"}
{"level":"error","msg":"boom"}
not json
`)
	levels, last := LogLevels(log)
	if levels != "warning error text" || last != "boom" {
		t.Errorf("LogLevels = %q, %q", levels, last)
	}
	if l, e := LogLevels(nil); l != "" || e != "" {
		t.Errorf("empty log: %q %q", l, e)
	}
}

func TestExitClass(t *testing.T) {
	for code, want := range map[int]string{0: "0", 1: "1", 137: "137 (signal 9)", 255: "255"} {
		if got := ExitClass(code); got != want {
			t.Errorf("ExitClass(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestFirstLine(t *testing.T) {
	if got := FirstLine("\n  \n  first \nsecond"); got != "first" {
		t.Errorf("FirstLine = %q", got)
	}
}
