package specs

// A reflection-free decoder for config.json, built on internal/fastjson:
// one function per struct type (fastdecode_spec.go,
// fastdecode_linuxspec.go). A cold json.Unmarshal of an rspec.Spec costs
// ~2 ms of CPU and ~100 page faults against ~50 µs for a second decode,
// and husk decodes config.json once per short-lived "husk create".
//
// When fastDecode reports ok, the result is exactly what
// json.Unmarshal(data, &rspec.Spec{}) produces (reflect.DeepEqual, checked
// by FuzzFastDecode). On anything it does not handle exactly - a syntax
// error, a type mismatch, an integer out of range, a key that only
// case-insensitively matches a field, a Windows/Solaris/VM/z/OS/FreeBSD
// section - it gives up and the caller falls back to encoding/json, which
// also produces the precise error.

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/internal/fastjson"
)

// fastDecode decodes config.json without reflection. ok is false for
// anything it does not decode exactly as encoding/json would.
func fastDecode(data []byte) (*rspec.Spec, bool) {
	s := new(rspec.Spec)
	if !fastjson.Decode(data, func(d *fastjson.Decoder) { fdSpec(d, s) }) {
		return nil, false
	}
	return s, true
}

// DecodeHooks decodes a hooks object as config.json has it, for other
// fastjson decoders (husk's state file keeps the config's hooks).
func DecodeHooks(d *fastjson.Decoder, h *rspec.Hooks) { fdHooks(d, h) }
