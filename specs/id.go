package specs

import "fmt"

// maxIDLen bounds container IDs so that state directories and socket
// paths derived from them stay well below PATH_MAX.
const maxIDLen = 1024

// ValidateID checks a container ID: non-empty, only [A-Za-z0-9_+.-],
// not "." or "..", at most 1024 bytes. IDs become path components of the
// state directory, so anything that could escape it is refused.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("invalid container ID %q: must not be empty", id)
	case len(id) > maxIDLen:
		return fmt.Errorf("invalid container ID %q...: longer than %d bytes", id[:32], maxIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("invalid container ID %q: must not be \".\" or \"..\"", id)
	}
	for i := 0; i < len(id); i++ {
		if !isIDByte(id[i]) {
			return fmt.Errorf("invalid container ID %q: only letters, digits, '_', '+', '.' and '-' are allowed", id)
		}
	}
	return nil
}

func isIDByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '_' || c == '+' || c == '.' || c == '-'
}
