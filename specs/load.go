package specs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Load reads <bundle>/config.json, decodes it and validates it against the
// bundle (see Validate).
func Load(bundle string) (*rspec.Spec, error) {
	path := filepath.Join(bundle, configName)
	data, err := os.ReadFile(path)
	if err != nil {
		// The *PathError already names the file; the prefix says why we wanted it.
		return nil, fmt.Errorf("loading bundle: %w", err)
	}
	return LoadBytes(bundle, data)
}

// LoadBytes is Load for the bytes of <bundle>/config.json, read by the
// caller: a caller keeping a copy of config.json stores these bytes
// instead of encoding the spec again.
func LoadBytes(bundle string, data []byte) (*rspec.Spec, error) {
	s, err := decode(data)
	if err != nil {
		return nil, err
	}
	if err := Validate(s, bundle); err != nil {
		return nil, err
	}
	return s, nil
}

// Parse decodes config.json bytes and runs ValidateStatic. Trailing data
// after the top-level object is rejected; syntax and type errors report
// their line and column. Parse never touches the filesystem.
func Parse(data []byte) (*rspec.Spec, error) {
	s, err := decode(data)
	if err != nil {
		return nil, err
	}
	if err := ValidateStatic(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Decode decodes config.json bytes without validating them: for a
// config that was validated when it was stored.
func Decode(data []byte) (*rspec.Spec, error) { return decode(data) }

// decode uses json.Unmarshal rather than a Decoder because Unmarshal
// checks the whole input first, so trailing garbage and truncated input
// come back as *json.SyntaxError with an exact offset.
func decode(data []byte) (*rspec.Spec, error) {
	// Fast path (fastdecode.go): same result as json.Unmarshal without its
	// one-time reflection cost, which dominates a short-lived husk create.
	// It declines anything unusual, including every error, and then
	// json.Unmarshal below decodes and reports precisely.
	if s, ok := fastDecode(data); ok {
		return s, nil
	}
	var s rspec.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, jsonError(data, err)
	}
	return &s, nil
}

// jsonError turns the errors of encoding/json, which speak in byte offsets
// and Go type names, into ones that point at a line, column and JSON path.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		// Offset counts the bytes read, including the offending one, except
		// at end of input where there is no offending byte to step back to.
		// Only the message tells the two apart.
		pos := syn.Offset
		if pos > 0 && pos <= int64(len(data)) && syn.Error() != "unexpected end of JSON input" {
			pos--
		}
		line, col := lineCol(data, pos)
		return fmt.Errorf("%s: invalid JSON at line %d, column %d: %w", configName, line, col, err)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		path, start := locate(data, typ.Offset)
		line, col := lineCol(data, start)
		if path == "" {
			return fmt.Errorf("%s: invalid JSON at line %d, column %d: expected %s, got JSON %s", configName, line, col, jsonKind(typ), typ.Value)
		}
		return fieldErrorf(path, "expected %s, got JSON %s at line %d, column %d", jsonKind(typ), typ.Value, line, col)
	}
	return fmt.Errorf("%s: %w", configName, err)
}

// lineCol converts a byte offset into 1-based line and column numbers.
// Columns count bytes, like most editors' "go to column" for ASCII files.
func lineCol(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	head := data[:off]
	line = 1 + bytes.Count(head, []byte{'\n'})
	col = int(off) - bytes.LastIndexByte(head, '\n')
	return line, col
}
