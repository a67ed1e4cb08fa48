package main

import (
	"maps"
	"strings"
	"testing"
)

func TestSubCgroups(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want map[string]string
		err  string
	}{
		{args: nil},
		{args: []string{"sub"}, want: map[string]string{"": "sub"}},
		{args: []string{"pids:sub", "cpu,cpuacct:a/b"}, want: map[string]string{"pids": "sub", "cpu": "a/b", "cpuacct": "a/b"}},
		{args: []string{"name=systemd:x"}, want: map[string]string{"name=systemd": "x"}},
		{args: []string{"sub", "pids:x"}, err: "each needs a CONTROLLER: prefix"},
		{args: []string{":x"}, err: "empty controller name"},
		{args: []string{"pids,:x"}, err: "empty controller name"},
		{args: []string{"pids:x", "pids,cpu:y"}, err: "controller pids given twice"},
	} {
		got, err := subCgroups(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("%q: got %v, %v; want %v", tc.args, got, err, tc.want)
		}
	}
}
