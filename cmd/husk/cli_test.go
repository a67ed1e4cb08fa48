package main

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// cliRun runs the command line without touching any container: only
// what fails or prints before an action needs the machine.
func cliRun(args ...string) (string, error) {
	var out bytes.Buffer
	err := runCLI(args, &out)
	return out.String(), err
}

func exitCode(err error) int {
	var ce codeError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ce):
		return ce.code
	default:
		return 1
	}
}

// runc's command line: help for a command (-h, --help, help CMD), the
// help without a command, status 3 for an unknown command or topic, the
// usage on a wrong number of arguments.
func TestCLIHelpAndStatus(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string // in the output
	}{
		{nil, 0, "commands:"},
		{[]string{"--help"}, 0, "--help, -h"},
		{[]string{"help"}, 0, "commands:"},
		{[]string{"run", "-h"}, 0, "--no-subreaper"},
		{[]string{"create", "--help"}, 0, "--pidfd-socket"},
		{[]string{"help", "exec"}, 0, "--pidfd-socket"},
		{[]string{"h", "list"}, 0, "--root"},
		{[]string{"help", "nosuch"}, 3, ""},
		{[]string{"nosuch"}, 3, ""},
		{[]string{"state"}, 1, "Incorrect Usage."},
		{[]string{"state", "a", "b"}, 1, "Incorrect Usage."},
		{[]string{"kill", "a", "KILL", "x"}, 1, "Incorrect Usage."},
		{[]string{"list", "--no-such-flag"}, 1, "Incorrect Usage"},
		{[]string{"--criu", "x", "list"}, 1, "Incorrect Usage"},
	} {
		out, err := cliRun(tc.args...)
		if got := exitCode(err); got != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("husk %q: status %d (%v), output %q; want %d with %q", tc.args, got, err, out, tc.code, tc.want)
		}
	}
}

// What runc hides (obsolete flags) and husk's own --trace are accepted
// but not listed.
func TestCLIHiddenFlags(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		hidden string
	}{
		{[]string{"--help"}, "--trace"},
		{[]string{"--help"}, "--criu"},
		{[]string{"kill", "--help"}, "--all"},
		{[]string{"update", "--help"}, "--kernel-memory"},
	} {
		out, err := cliRun(tc.args...)
		if err != nil || strings.Contains(out, tc.hidden) {
			t.Errorf("husk %q lists %s (err %v):\n%s", tc.args, tc.hidden, err, out)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for s, want := range map[string]unix.Signal{"0": 0, "9": unix.SIGKILL, "KILL": unix.SIGKILL, "sigterm": unix.SIGTERM, "hup": unix.SIGHUP} {
		if got, err := parseSignal(s); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"-9", "99", "SIGBOGUS"} {
		if _, err := parseSignal(s); err == nil {
			t.Errorf("parseSignal(%q) accepted", s)
		}
	}
}

func TestCheckRootless(t *testing.T) {
	for v, ok := range map[string]bool{"": true, "auto": true, "true": true, "false": true, "1": true, "maybe": false} {
		global, _, err := parseFlags("husk", globalFlagDefs, []string{"--rootless=" + v})
		if err != nil {
			t.Fatal(err)
		}
		if err := checkRootless(&ctx{global: global, values: map[string]*flagValue{}}); (err == nil) != ok {
			t.Errorf("--rootless %q: %v", v, err)
		}
	}
}

// A flag given under two of its names is a usage error, as in runc.
func TestFlagTwoForms(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  bool
	}{
		{[]string{"--env", "A=1", "--env", "B=2", "id", "sh"}, false},
		{[]string{"-e", "A=1", "-e", "B=2", "id", "sh"}, false},
		{[]string{"--env", "A=1", "-e", "B=2", "id", "sh"}, true},
		{[]string{"-t", "--tty", "id", "sh"}, true},
		{[]string{"-t", "--env", "A=1", "id", "sh"}, false},
	} {
		_, _, err := parseFlags("exec", execCommand.flags, tc.args)
		if got := errors.Is(err, errTwoForms); got != tc.err {
			t.Errorf("%q: %v", tc.args, err)
		}
	}
}

// exec --cgroup as runc parses it.
func TestSubCgroupPaths(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want map[string]string
		err  string
	}{
		{nil, nil, ""},
		{[]string{"sub"}, map[string]string{"": "sub"}, ""},
		{[]string{"pids:a", "cpu,cpuacct:b"}, map[string]string{"pids": "a", "cpu": "b", "cpuacct": "b"}, ""},
		{[]string{"a", "b"}, nil, "controller is needed"},
		{[]string{":a"}, nil, "empty controller"},
		{[]string{"pids:a", "pids:b"}, nil, "more than once"},
	} {
		got, err := subCgroupPaths(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want an error with %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.args, got, err, tc.want)
		}
	}
}
