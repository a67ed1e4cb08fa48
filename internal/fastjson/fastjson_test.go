package fastjson

import (
	"encoding/json"
	"reflect"
	"testing"
)

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>\"\\", "\x00\x1f\b\f\n\r\t", "é\u2028\u2029", "\xff\xc3", "\U0001F600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
		var back string
		if !Decode([]byte(`{"k":`+string(want)+`}`), func(d *Decoder) {
			for more := d.ObjStart(); more; more = d.ObjNext() {
				d.Key()
				String(d, &back)
			}
		}) {
			t.Fatalf("Decode declined %s", want)
		}
		var ref string
		json.Unmarshal(want, &ref)
		if back != ref {
			t.Fatalf("decoded %q, encoding/json %q", back, ref)
		}
	})
}

func TestAppendContainers(t *testing.T) {
	m := map[string]string{"b": "2", "a": "1"}
	for _, c := range []struct {
		got  []byte
		want any
	}{
		{AppendStrings(nil, nil), []string(nil)},
		{AppendStrings(nil, []string{}), []string{}},
		{AppendStrings(nil, []string{"x", "<y>"}), []string{"x", "<y>"}},
		{AppendStringMap(nil, nil), map[string]string(nil)},
		{AppendStringMap(nil, m), m},
	} {
		want, _ := json.Marshal(c.want)
		if string(c.got) != string(want) {
			t.Errorf("got %s, want %s", c.got, want)
		}
	}
}

func TestDecodeGivesUp(t *testing.T) {
	var v struct{ A []int }
	dec := func(d *Decoder) {
		for more := d.ObjStart(); more; more = d.ObjNext() {
			switch k := d.Key(); k {
			case "a":
				Slice(d, &v.A, Int[int])
			default:
				d.Unknown(k, []string{"a"})
			}
		}
	}
	for doc, ok := range map[string]bool{
		`{"a":[1,2]}`: true, `{"a":[1,2]} x`: false, `{"A":[1]}`: false, `{"a":[1.5]}`: false,
		`{"b":{"c":[null,true,"s"]}}`: true, `[]`: false, `{"a":[1,]}`: false,
	} {
		v.A = nil
		if got := Decode([]byte(doc), dec); got != ok {
			t.Errorf("Decode(%s) = %v, want %v", doc, got, ok)
		}
	}
	v.A = nil
	Decode([]byte(`{"a":[1,2]}`), dec)
	if !reflect.DeepEqual(v.A, []int{1, 2}) {
		t.Errorf("decoded %v", v.A)
	}
}
