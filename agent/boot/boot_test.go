package boot

import (
	"reflect"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	o, err := ParseCmdline("console=ttyS0 quiet husk.load=mmio,serial,9p husk.transport=serial husk.share=9p\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Groups: []string{"mmio", "serial", "9p"}, Transport: "serial", Share: "9p"}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v, want %+v", o, want)
	}
	if o, err := ParseCmdline("quiet"); err != nil || o.Transport != "serial" || o.Share != "" {
		t.Errorf("defaults: %+v %v", o, err)
	}
	for _, bad := range []string{"husk.transport=tcp", "husk.share=nfs"} {
		if _, err := ParseCmdline(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
