package sdbus

import "testing"

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]int{`"252.38-1~deb12u1"`: 252, `"v245.4-1.fc32"`: 245, `"239"`: 239, "255": 255} {
		if got, err := parseVersion(in); err != nil || got != want {
			t.Errorf("parseVersion(%s) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseVersion(`"unknown"`); err == nil {
		t.Error("a version without a number was accepted")
	}
}
