package specs

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

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
