package systemd

import (
	"encoding/json"
	"fmt"
)

// Property is one unit property as systemd's D-Bus API takes it
// (StartTransientUnit, SetUnitProperties).
type Property struct {
	Name string
	// Value is a uint64 (D-Bus "t"), bool ("b"), string ("s"), []uint32
	// ("au"), []byte ("ay"), []DeviceAllow ("a(ss)") or []PathValue
	// ("a(st)"); godbus encodes each as that signature.
	Value any
}

// DeviceAllow is one DeviceAllow= entry: a device node path or a class
// ("char-pts", "block-*") and its access ("rwm").
type DeviceAllow struct {
	Path  string
	Perms string
}

// PathValue is a device path with a number: IODeviceWeight=,
// IOReadBandwidthMax= and the like.
type PathValue struct {
	Path  string
	Value uint64
}

// Signature returns the D-Bus type signature of the value.
func (p Property) Signature() (string, error) {
	switch p.Value.(type) {
	case uint64:
		return "t", nil
	case bool:
		return "b", nil
	case string:
		return "s", nil
	case []uint32:
		return "au", nil
	case []byte:
		return "ay", nil
	case []DeviceAllow:
		return "a(ss)", nil
	case []PathValue:
		return "a(st)", nil
	}
	return "", fmt.Errorf("property %s: unsupported value type %T", p.Name, p.Value)
}

// wireProperty is a Property in JSON, between husk and husk-systemd: the
// signature tells how to decode the value.
type wireProperty struct {
	Name  string          `json:"name"`
	Sig   string          `json:"sig"`
	Value json.RawMessage `json:"value"`
}

// MarshalJSON encodes the property with its signature.
func (p Property) MarshalJSON() ([]byte, error) {
	sig, err := p.Signature()
	if err != nil {
		return nil, err
	}
	v, err := json.Marshal(p.Value)
	if err != nil {
		return nil, err
	}
	return json.Marshal(wireProperty{Name: p.Name, Sig: sig, Value: v})
}

// UnmarshalJSON decodes a property into the Go type of its signature.
func (p *Property) UnmarshalJSON(b []byte) error {
	var w wireProperty
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var err error
	switch w.Sig {
	case "t":
		p.Value, err = decodeAs[uint64](w.Value)
	case "b":
		p.Value, err = decodeAs[bool](w.Value)
	case "s":
		p.Value, err = decodeAs[string](w.Value)
	case "au":
		p.Value, err = decodeAs[[]uint32](w.Value)
	case "ay":
		p.Value, err = decodeAs[[]byte](w.Value)
	case "a(ss)":
		p.Value, err = decodeAs[[]DeviceAllow](w.Value)
	case "a(st)":
		p.Value, err = decodeAs[[]PathValue](w.Value)
	default:
		return fmt.Errorf("property %s: unsupported signature %q", w.Name, w.Sig)
	}
	if err != nil {
		return fmt.Errorf("property %s: %w", w.Name, err)
	}
	p.Name = w.Name
	return nil
}

func decodeAs[T any](raw json.RawMessage) (T, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}
