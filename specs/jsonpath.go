package specs

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// mapFields are the objects of config.json whose keys are data, not field
// names; their members are written m["key"] in error paths, as the
// validator does.
var mapFields = [...]string{
	"annotations",
	"linux.sysctl",
	"linux.timeOffsets",
	"linux.netDevices",
	"linux.resources.rdma",
	"linux.resources.unified",
}

// locate finds the innermost JSON value whose bytes contain offset (an
// offset reported by encoding/json, which points just past the start of
// a container or at the end of a scalar). It returns that value's path and
// start offset. Only called on the error path, and data is known to be
// syntactically valid: json.Unmarshal checks that before decoding.
func locate(data []byte, offset int64) (string, int64) {
	l := locator{data: data, target: int(offset)}
	l.ws()
	if l.pos < len(data) {
		l.value("")
	}
	return l.path, int64(l.start)
}

type locator struct {
	data   []byte
	pos    int
	target int

	found bool
	path  string
	start int
}

func (l *locator) value(path string) {
	if l.pos >= len(l.data) {
		return
	}
	start := l.pos
	switch l.data[l.pos] {
	case '{':
		l.pos++
		l.ws()
		for !l.found && l.pos < len(l.data) && l.data[l.pos] != '}' {
			k := l.key()
			l.ws()
			l.pos++ // ':'
			l.ws()
			l.value(member(path, k))
			l.ws()
			if l.pos < len(l.data) && l.data[l.pos] == ',' {
				l.pos++
				l.ws()
			}
		}
		l.pos++
	case '[':
		l.pos++
		l.ws()
		for i := 0; !l.found && l.pos < len(l.data) && l.data[l.pos] != ']'; i++ {
			l.value(index(path, i))
			l.ws()
			if l.pos < len(l.data) && l.data[l.pos] == ',' {
				l.pos++
				l.ws()
			}
		}
		l.pos++
	case '"':
		l.skipString()
	default:
		for l.pos < len(l.data) && !strings.ContainsRune(",]} \t\r\n", rune(l.data[l.pos])) {
			l.pos++
		}
	}
	// Children are visited first, so the first match is the innermost.
	if !l.found && start < l.target && l.target <= l.pos {
		l.found, l.path, l.start = true, path, start
	}
}

func (l *locator) key() string {
	start := l.pos
	l.skipString()
	var k string
	if err := json.Unmarshal(l.data[start:l.pos], &k); err != nil {
		// Cannot happen for valid JSON; fall back to the raw text.
		return string(l.data[start:l.pos])
	}
	return k
}

func (l *locator) skipString() {
	l.pos++ // opening quote
	for l.pos < len(l.data) {
		switch l.data[l.pos] {
		case '\\':
			l.pos += 2
			continue
		case '"':
			l.pos++
			return
		}
		l.pos++
	}
}

func (l *locator) ws() {
	for l.pos < len(l.data) {
		switch l.data[l.pos] {
		case ' ', '\t', '\r', '\n':
			l.pos++
		default:
			return
		}
	}
}

func member(path, k string) string {
	if path == "" {
		return k
	}
	for _, m := range mapFields {
		// encoding/json matches field names case-insensitively, so must we.
		if strings.EqualFold(path, m) {
			return key(path, k)
		}
	}
	return path + "." + k
}

// jsonKind describes the Go type that a type error expected in JSON terms,
// since users write JSON, not Go.
func jsonKind(e *json.UnmarshalTypeError) string {
	if e.Type == nil {
		return "another type"
	}
	t := e.Type
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("an integer (%s)", t.Kind())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a non-negative integer (%s)", t.Kind())
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}
