package netcfg

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/vm/api"
)

func TestParse(t *testing.T) {
	c, err := Parse(&api.NetworkConfig{
		Interfaces: []*api.Interface{{Mac: "0a:58:0a:fa:4d:05", Name: "eth0", Mtu: 1500, Addresses: []string{"10.250.77.5/24", "fd00::5/64"}}},
		Routes: []*api.Route{
			{Destination: "", Gateway: "10.250.77.1", Device: "eth0", Family: 4},
			{Destination: "10.96.0.0/12", Device: "eth0", Scope: 253, Family: 4, Source: "10.250.77.5"},
		},
		ResolvConf: []byte("nameserver 10.96.0.10\n"),
		Sysctls:    map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ifc := c.Interfaces[0]
	if ifc.Name != "eth0" || ifc.MTU != 1500 || len(ifc.Addrs) != 2 || ifc.Addrs[0].String() != "10.250.77.5/24" {
		t.Errorf("interface %+v", ifc)
	}
	if r := c.Routes[0]; r.Dst != nil || r.Gw.String() != "10.250.77.1" || r.Family != unix.AF_INET {
		t.Errorf("default route %+v", r)
	}
	if c.Sysctls["net.ipv4.ip_unprivileged_port_start"] != "0" {
		t.Errorf("sysctls %v", c.Sysctls)
	}
	if r := c.Routes[1]; r.Dst.String() != "10.96.0.0/12" || r.Scope != 253 || r.Src.String() != "10.250.77.5" {
		t.Errorf("link route %+v", r)
	}
}

func TestParseRefuses(t *testing.T) {
	eth0 := func() *api.Interface { return &api.Interface{Mac: "0a:58:0a:fa:4d:05", Name: "eth0"} }
	for name, r := range map[string]*api.NetworkConfig{
		"bad mac":            {Interfaces: []*api.Interface{{Mac: "nope", Name: "eth0"}}},
		"slash in name":      {Interfaces: []*api.Interface{{Mac: "0a:58:0a:fa:4d:05", Name: "../x"}}},
		"long name":          {Interfaces: []*api.Interface{{Mac: "0a:58:0a:fa:4d:05", Name: strings.Repeat("e", 16)}}},
		"repeated name":      {Interfaces: []*api.Interface{eth0(), eth0()}},
		"bad address":        {Interfaces: []*api.Interface{{Mac: "0a:58:0a:fa:4d:05", Name: "eth0", Addresses: []string{"10.0.0.300/24"}}}},
		"route to elsewhere": {Interfaces: []*api.Interface{eth0()}, Routes: []*api.Route{{Device: "eth1", Family: 4}}},
		"route family":       {Interfaces: []*api.Interface{eth0()}, Routes: []*api.Route{{Device: "eth0", Family: 5}}},
		"route gateway":      {Interfaces: []*api.Interface{eth0()}, Routes: []*api.Route{{Device: "eth0", Family: 4, Gateway: "x"}}},
		"huge resolv.conf":   {ResolvConf: make([]byte, maxResolvConf+1)},
		"many interfaces":    {Interfaces: make([]*api.Interface, maxInterfaces+1)},
		"not a net sysctl":   {Sysctls: map[string]string{"kernel.core_pattern": "|/x"}},
		"a way out":          {Sysctls: map[string]string{"net.ipv4/../../kernel.x": "1"}},
		"dot dot":            {Sysctls: map[string]string{"net..x": "1"}},
	} {
		if _, err := Parse(r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
