package main

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

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
