package specs

import (
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// checkVersion accepts any 1.x.y semantic version: the spec promises
// backwards compatibility within a major version, and real tools write
// anything from "1.0.2-dev" (runc spec) to "1.3.0" (runtime-tools).
func checkVersion(v string) error {
	if v == "" {
		return fieldErrorf("ociVersion", "required (e.g. %q)", rspec.Version)
	}
	major, ok := semverMajor(v)
	if !ok {
		return fieldErrorf("ociVersion", "%q is not a semantic version (e.g. %q)", v, rspec.Version)
	}
	if major != "1" {
		return fieldErrorf("ociVersion", "unsupported version %q (husk supports 1.x)", v)
	}
	return nil
}

// semverMajor parses MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] as defined by
// semver 2.0.0 and returns MAJOR.
func semverMajor(v string) (string, bool) {
	if i := strings.IndexByte(v, '+'); i >= 0 {
		if !identifiers(v[i+1:], false) {
			return "", false
		}
		v = v[:i]
	}
	if i := strings.IndexByte(v, '-'); i >= 0 {
		if !identifiers(v[i+1:], true) {
			return "", false
		}
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return "", false
	}
	for _, p := range parts {
		if !numeric(p) || (len(p) > 1 && p[0] == '0') {
			return "", false
		}
	}
	return parts[0], true
}

// identifiers checks a dot-separated list of [0-9A-Za-z-]+ identifiers;
// pre-release identifiers that are numeric must not have leading zeros.
func identifiers(s string, prerelease bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
		if prerelease && len(id) > 1 && id[0] == '0' && numeric(id) {
			return false
		}
	}
	return true
}

func numeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
