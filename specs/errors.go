package specs

import (
	"fmt"
	"strconv"
)

// configName prefixes every error so that a user who sees it in the middle
// of other output knows which file to fix.
const configName = "config.json"

// FieldError is a validation error about one field of config.json (or of
// another file holding part of one, such as `husk exec --process`).
type FieldError struct {
	File  string // "" means config.json
	Field string // JSON path, e.g. "mounts[2].destination"
	Err   error
}

func (e *FieldError) Error() string {
	file := e.File
	if file == "" {
		file = configName
	}
	return file + ": " + e.Field + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }

// fieldErrorf builds a *FieldError; %w in format keeps the cause
// reachable through errors.Is/As.
func fieldErrorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

func required(field string) error {
	return fieldErrorf(field, "required")
}

// index appends an array index to a JSON path: index("mounts", 2) == "mounts[2]".
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// key appends a map key to a JSON path. Keys are quoted because sysctl
// names and annotations contain dots that would otherwise read as nesting.
func key(path, k string) string {
	return path + "[" + strconv.Quote(k) + "]"
}
