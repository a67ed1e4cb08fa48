package systemd

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func p64(v int64) *int64    { return &v }
func pu64(v uint64) *uint64 { return &v }
func pu16(v uint16) *uint16 { return &v }

const procDevices = `Character devices:
  1 mem
  5 /dev/tty
136 pts

Block devices:
  8 sd
254 virtblk
`

func testConverter(unified bool, version int) (*converter, *[]string) {
	var warnings []string
	return &converter{
		unified: unified,
		version: version,
		warnf:   func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) },
		deviceGroup: func(typ byte, major int64) (string, error) {
			return deviceGroupIn(procDevices, typ, major), nil
		},
	}, &warnings
}

// props renders properties as "Name=value" for comparison.
func props(ps []Property) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%s=%v", p.Name, p.Value)
	}
	return out
}

func TestResourcePropertiesV2(t *testing.T) {
	c, _ := testConverter(true, 252)
	r := &rspec.LinuxResources{
		Memory: &rspec.LinuxMemory{Limit: p64(256 << 20), Reservation: p64(128 << 20), Swap: p64(512 << 20)},
		CPU:    &rspec.LinuxCPU{Shares: pu64(1024), Quota: p64(50000), Period: pu64(100000), Cpus: "0-1,3", Mems: "0"},
		Pids:   &rspec.LinuxPids{Limit: p64(100)},
		BlockIO: &rspec.LinuxBlockIO{
			Weight:                  pu16(500),
			WeightDevice:            []rspec.LinuxWeightDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: pu16(100)}},
			ThrottleReadBpsDevice:   []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1 << 20}},
			ThrottleWriteIOPSDevice: []rspec.LinuxThrottleDevice{{LinuxBlockIODevice: rspec.LinuxBlockIODevice{Major: 254, Minor: 0}, Rate: 100}},
		},
		Unified: map[string]string{"memory.high": "200000000", "pids.max": "max", "io.latency": "target=10"},
	}
	got, out, err := c.resourceProperties(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"MemoryMax=268435456", "MemoryLow=134217728", "MemorySwapMax=268435456",
		"CPUWeight=100", "CPUQuotaPeriodUSec=100000", "CPUQuotaPerSecUSec=500000",
		"AllowedCPUs=[11]", "AllowedMemoryNodes=[1]", "TasksMax=100",
		"IOWeight=4950", "IODeviceWeight=[{/dev/block/8:0 910}]",
		"IOReadBandwidthMax=[{/dev/block/8:0 1048576}]", "IOWriteIOPSMax=[{/dev/block/254:0 100}]",
		"MemoryHigh=200000000", "TasksMax=18446744073709551615",
	}
	if !reflect.DeepEqual(props(got), want) {
		t.Errorf("properties:\n got %q\nwant %q", props(got), want)
	}
	if out.CPU != r.CPU {
		t.Error("a whole-percent quota was changed")
	}
}

func TestResourcePropertiesV1(t *testing.T) {
	c, _ := testConverter(false, 252)
	r := &rspec.LinuxResources{
		Memory:  &rspec.LinuxMemory{Limit: p64(-1), Reservation: p64(1 << 20), Swap: p64(-1)},
		CPU:     &rspec.LinuxCPU{Shares: pu64(512), Period: pu64(50000)},
		Pids:    &rspec.LinuxPids{Limit: p64(-1)},
		BlockIO: &rspec.LinuxBlockIO{Weight: pu16(300), ThrottleReadIOPSDevice: []rspec.LinuxThrottleDevice{{Rate: 5}}},
	}
	got, _, err := c.resourceProperties(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"MemoryLimit=18446744073709551615", "CPUShares=512",
		"CPUQuotaPeriodUSec=50000", "CPUQuotaPerSecUSec=18446744073709551615",
		"TasksMax=18446744073709551615", "BlockIOWeight=300",
	}
	if !reflect.DeepEqual(props(got), want) {
		t.Errorf("properties:\n got %q\nwant %q", props(got), want)
	}
}

func TestCPUQuotaRounding(t *testing.T) {
	c, _ := testConverter(true, 252)
	// 12345/100000 of a CPU is 12.345%: systemd keeps 13%.
	r := &rspec.LinuxResources{CPU: &rspec.LinuxCPU{Quota: p64(12345)}, Unified: map[string]string{"cpu.max": "3333 10000"}}
	got, out, err := c.resourceProperties(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CPUQuotaPerSecUSec=130000", "CPUQuotaPeriodUSec=10000", "CPUQuotaPerSecUSec=340000"}
	if !reflect.DeepEqual(props(got), want) {
		t.Errorf("properties %q, want %q", props(got), want)
	}
	if *out.CPU.Quota != 13000 || *r.CPU.Quota != 12345 {
		t.Errorf("cgroupfs quota %d (want 13000), original %d (want unchanged)", *out.CPU.Quota, *r.CPU.Quota)
	}
	if out.Unified["cpu.max"] != "3400 10000" || r.Unified["cpu.max"] != "3333 10000" {
		t.Errorf("cpu.max %q (want 3400 10000), original %q", out.Unified["cpu.max"], r.Unified["cpu.max"])
	}
	// Old systemd: no period property, no AllowedCPUs.
	old, _ := testConverter(true, 241)
	got, _, _ = old.resourceProperties(&rspec.LinuxResources{CPU: &rspec.LinuxCPU{Period: pu64(20000), Cpus: "1"}})
	if want := []string{"CPUQuotaPerSecUSec=18446744073709551615"}; !reflect.DeepEqual(props(got), want) {
		t.Errorf("systemd 241: %q, want %q", props(got), want)
	}
}

func TestCPUIdle(t *testing.T) {
	c, warnings := testConverter(true, 252)
	got, _, err := c.resourceProperties(&rspec.LinuxResources{
		CPU:     &rspec.LinuxCPU{Idle: p64(1), Shares: pu64(1024)},
		Unified: map[string]string{"cpu.idle": "1", "cpu.weight": "50"},
	})
	want := []string{"CPUWeight=0", "CPUWeight=0"}
	if err != nil || !reflect.DeepEqual(props(got), want) || len(*warnings) != 1 {
		t.Errorf("idle: %q %v (want %q), warnings %q", props(got), err, want, *warnings)
	}
}

func TestResourceErrors(t *testing.T) {
	c, _ := testConverter(true, 252)
	for _, tc := range []struct {
		r   rspec.LinuxResources
		err string
	}{
		{rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: p64(100), Swap: p64(50)}}, "linux.resources.memory.swap: 50 is below"},
		{rspec.LinuxResources{Memory: &rspec.LinuxMemory{Swap: p64(50)}}, "needs a memory limit"},
		{rspec.LinuxResources{CPU: &rspec.LinuxCPU{Cpus: "3-1"}}, "linux.resources.cpu.cpus: invalid list"},
		{rspec.LinuxResources{Unified: map[string]string{"memory.high": "lots"}}, `unified["memory.high"]: "lots" is not a number`},
		{rspec.LinuxResources{Unified: map[string]string{"cpu.max": "1 2 3"}}, `unified["cpu.max"]`},
		{rspec.LinuxResources{Devices: []rspec.LinuxDeviceCgroup{{Type: "q"}}}, "linux.resources.devices[0]"},
	} {
		if _, _, err := c.resourceProperties(&tc.r); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: error %v, want %q", tc.r, err, tc.err)
		}
	}
	if _, err := c.startOnlyProperties(&rspec.LinuxResources{Unified: map[string]string{"memory.oom.group": "2"}}); err == nil {
		t.Error("memory.oom.group=2 accepted")
	}
	if got, err := c.startOnlyProperties(&rspec.LinuxResources{Unified: map[string]string{"memory.oom.group": "1"}}); err != nil || props(got)[0] != "OOMPolicy=kill" {
		t.Errorf("memory.oom.group=1: %v %v", got, err)
	}
}

func TestDeviceProperties(t *testing.T) {
	c, warnings := testConverter(true, 252)
	i := p64
	got, err := c.deviceProperties([]rspec.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "rwm"},
		{Allow: true, Type: "c", Access: "m"},
		{Allow: true, Type: "b", Access: "m"},
		{Allow: true, Type: "c", Major: i(136), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(77), Access: "r"},
		{Allow: true, Type: "c", Minor: i(5), Access: "r"},
		{Allow: true, Type: "b", Major: i(8), Minor: i(1), Access: "r"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"DevicePolicy=strict", "DeviceAllow=[]",
		"DeviceAllow=[{block-* m}]", "DeviceAllow=[{/dev/block/8:1 r}]",
		"DeviceAllow=[{char-* m}]", "DeviceAllow=[{/dev/char/1:3 rwm}]", "DeviceAllow=[{char-77 r}]", "DeviceAllow=[{char-136 rwm}]",
	}
	if !reflect.DeepEqual(props(got), want) {
		t.Errorf("devices:\n got %q\nwant %q", props(got), want)
	}
	if len(*warnings) != 1 {
		t.Errorf("want a warning for c *:5, got %q", *warnings)
	}
	// systemd before 240 names majors by their /proc/devices group.
	old, warnings := testConverter(true, 239)
	got, err = old.deviceProperties([]rspec.LinuxDeviceCgroup{
		{Allow: true, Type: "c", Major: i(136), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(77), Access: "r"},
	})
	if want := []string{"DevicePolicy=strict", "DeviceAllow=[]", "DeviceAllow=[{char-pts rwm}]"}; err != nil || !reflect.DeepEqual(props(got), want) || len(*warnings) != 1 {
		t.Errorf("systemd 239: %q %v (want %q), warnings %q", props(got), err, want, *warnings)
	}
	got, _ = c.deviceProperties([]rspec.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}})
	if want := []string{"DevicePolicy=auto", "DeviceAllow=[]"}; !reflect.DeepEqual(props(got), want) {
		t.Errorf("allow all: %q", props(got))
	}
}

func TestRangeToBits(t *testing.T) {
	for in, want := range map[string][]byte{"0": {1}, "0-7": {0xff}, "1,9": {2, 2}, " 2-3 , 16 ": {0x0c, 0, 1}} {
		if got, err := rangeToBits(in); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("rangeToBits(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a", "1-", "5-2", "1,,2"} {
		if _, err := rangeToBits(bad); err == nil {
			t.Errorf("rangeToBits(%q) accepted", bad)
		}
	}
}

func TestPropertyJSON(t *testing.T) {
	in := []Property{
		{"MemoryMax", uint64(1 << 40)}, {"Delegate", true}, {"Slice", "system.slice"},
		{"PIDs", []uint32{42}}, {"AllowedCPUs", []byte{3}},
		{"DeviceAllow", []DeviceAllow{{"char-pts", "rwm"}}}, {"DeviceAllow", []DeviceAllow{}},
		{"IOReadBandwidthMax", []PathValue{{"/dev/block/8:0", 1 << 20}}},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out []Property
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n in %#v\nout %#v", in, out)
	}
	if _, err := json.Marshal(Property{"X", 3}); err == nil {
		t.Error("an int (no D-Bus type chosen) was encoded")
	}
	if err := json.Unmarshal([]byte(`{"name":"X","sig":"v","value":1}`), &Property{}); err == nil {
		t.Error("unknown signature decoded")
	}
}
