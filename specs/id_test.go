package specs

import (
	"strings"
	"testing"
)

func TestValidateID(t *testing.T) {
	for _, tc := range []struct {
		id  string
		msg string // "" if valid
	}{
		{"abc", ""},
		{"a.b-c_d+e", ""},
		{"0123456789", ""},
		{"..a", ""},
		{strings.Repeat("x", 1024), ""},
		{"", `invalid container ID "": must not be empty`},
		{".", `invalid container ID ".": must not be "." or ".."`},
		{"..", `invalid container ID "..": must not be "." or ".."`},
		{"../x", `invalid container ID "../x": only letters, digits, '_', '+', '.' and '-' are allowed`},
		{"a/b", `invalid container ID "a/b": only letters`},
		{"a b", `invalid container ID "a b": only letters`},
		{"é", `invalid container ID "é": only letters`},
		{"a\x00", `invalid container ID "a\x00": only letters`},
		{strings.Repeat("x", 1025), "longer than 1024 bytes"},
	} {
		err := ValidateID(tc.id)
		switch {
		case tc.msg == "" && err != nil:
			t.Errorf("ValidateID(%.20q) = %v, want nil", tc.id, err)
		case tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("ValidateID(%.20q) = %v, want %q", tc.id, err, tc.msg)
		}
	}
}
