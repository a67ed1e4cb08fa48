package specs

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// checkFast is the contract of fastDecode: if it reports ok, json.Unmarshal
// accepts data too and produces an identical Spec.
func checkFast(t testing.TB, data []byte) (ok bool) {
	t.Helper()
	got, ok := fastDecode(data)
	if !ok {
		if got != nil {
			t.Fatalf("fastDecode returned a Spec with ok=false")
		}
		return false
	}
	var want rspec.Spec
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("fastDecode accepted what json.Unmarshal rejects (%v):\n%q", err, data)
	}
	if !reflect.DeepEqual(got, &want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(&want)
		t.Fatalf("fastDecode differs from json.Unmarshal for\n%q\nfast: %s\njson: %s\nfast: %#v\njson: %#v", data, g, w, got, &want)
	}
	return true
}

// realisticConfigs are configs real callers write; the fast path must take
// all of them. testdata/docker-20.10-synth.json is synthesized after what
// dockerd 20.10 writes for `docker run --memory --cpus --pids-limit -v`
// (compact JSON, default seccomp profile with its argument rules);
// full-linux.json adds every other Linux field of runtime-spec v1.3.0.
func realisticConfigs(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) < 4 {
		t.Fatalf("testdata: %v %v", files, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = data
	}
	for name, s := range map[string]*rspec.Spec{
		"Default(false)": Default(false),
		"Default(true)":  Default(true),
		"validSpec":      validSpec(),
		"filled":         filledSpec(fillSmall),
		"filled-limits":  filledSpec(fillLimits),
		"filled-empty":   filledSpec(fillEmpty),
	} {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = data
		indented, err := json.MarshalIndent(s, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		out[name+" indented"] = indented
	}
	return out
}

func TestFastDecodeRealistic(t *testing.T) {
	for name, data := range realisticConfigs(t) {
		t.Run(name, func(t *testing.T) {
			if !checkFast(t, data) {
				t.Fatal("fast path not taken")
			}
		})
	}
}

// TestFastDecodeUsedByParse checks the wiring in decode.
func TestFastDecodeUsedByParse(t *testing.T) {
	data, err := os.ReadFile("testdata/runc-spec-1.5.3.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var want rspec.Spec
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, &want) {
		t.Fatalf("Parse: %+v", s)
	}
	if n := testing.AllocsPerRun(20, func() { fastDecode(data) }); n > 120 {
		t.Errorf("fastDecode of runc's config: %v allocations", n)
	}
}

// Fill modes for filledSpec.
const (
	fillSmall  = iota // distinct small values, 2 elements per slice and map
	fillLimits        // each integer at the far end of its range
	fillEmpty         // empty non-nil slices and maps, zero scalars behind pointers
)

// filledSpec sets every field reachable from Spec except the other
// platforms' sections, so that a field fastDecode does not know fails
// TestFastDecodeRealistic (json.Marshal writes it; fastDecode skips it).
func filledSpec(mode int) *rspec.Spec {
	var s rspec.Spec
	n := 0
	fill(reflect.ValueOf(&s).Elem(), mode, &n)
	return &s
}

func fill(v reflect.Value, mode int, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d-é\"\\\n<>&\u2028", *n))
	case reflect.Bool:
		v.SetBool(mode != fillEmpty)
	case reflect.Int, reflect.Int16, reflect.Int32, reflect.Int64:
		switch mode {
		case fillSmall:
			v.SetInt(int64(-*n))
		case fillLimits:
			if *n%2 == 0 {
				v.SetInt(math.MinInt64 >> (64 - v.Type().Bits()))
			} else {
				v.SetInt(math.MaxInt64 >> (64 - v.Type().Bits()))
			}
		}
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		switch mode {
		case fillSmall:
			v.SetUint(uint64(*n))
		case fillLimits:
			v.SetUint(math.MaxUint64 >> (64 - v.Type().Bits()))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), mode, n)
	case reflect.Slice:
		l := 2
		if mode == fillEmpty {
			l = 0
		}
		v.Set(reflect.MakeSlice(v.Type(), l, l))
		for i := range l {
			fill(v.Index(i), mode, n)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		if mode == fillEmpty {
			return
		}
		for i := range 2 {
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, mode, n)
			v.SetMapIndex(reflect.ValueOf(fmt.Sprintf("key%d", i)), e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type() == reflect.TypeFor[rspec.Spec]() && slices.Contains(otherPlatforms, v.Type().Field(i).Name) {
				continue
			}
			fill(v.Field(i), mode, n)
		}
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

// otherPlatforms are Spec's sections that fastDecode leaves to encoding/json.
var otherPlatforms = []string{"Solaris", "Windows", "VM", "ZOS", "FreeBSD"}

// TestFastDecodeFieldLists checks each decoder's list of JSON names (used
// to detect case-insensitive matches) against the struct tags.
func TestFastDecodeFieldLists(t *testing.T) {
	lists := map[reflect.Type][]string{
		reflect.TypeFor[rspec.Spec]():                   specFields,
		reflect.TypeFor[rspec.Process]():                processFields,
		reflect.TypeFor[rspec.Box]():                    boxFields,
		reflect.TypeFor[rspec.User]():                   userFields,
		reflect.TypeFor[rspec.LinuxCapabilities]():      capabilitiesFields,
		reflect.TypeFor[rspec.POSIXRlimit]():            rlimitFields,
		reflect.TypeFor[rspec.Scheduler]():              schedulerFields,
		reflect.TypeFor[rspec.LinuxIOPriority]():        ioPriorityFields,
		reflect.TypeFor[rspec.CPUAffinity]():            cpuAffinityFields,
		reflect.TypeFor[rspec.Root]():                   rootFields,
		reflect.TypeFor[rspec.Mount]():                  mountFields,
		reflect.TypeFor[rspec.Hooks]():                  hooksFields,
		reflect.TypeFor[rspec.Hook]():                   hookFields,
		reflect.TypeFor[rspec.Linux]():                  linuxFields,
		reflect.TypeFor[rspec.LinuxIDMapping]():         idMappingFields,
		reflect.TypeFor[rspec.LinuxNamespace]():         namespaceFields,
		reflect.TypeFor[rspec.LinuxDevice]():            deviceFields,
		reflect.TypeFor[rspec.LinuxNetDevice]():         netDeviceFields,
		reflect.TypeFor[rspec.LinuxTimeOffset]():        timeOffsetFields,
		reflect.TypeFor[rspec.LinuxPersonality]():       personalityFields,
		reflect.TypeFor[rspec.LinuxIntelRdt]():          intelRdtFields,
		reflect.TypeFor[rspec.LinuxMemoryPolicy]():      memoryPolicyFields,
		reflect.TypeFor[rspec.LinuxSeccomp]():           seccompFields,
		reflect.TypeFor[rspec.LinuxSyscall]():           syscallFields,
		reflect.TypeFor[rspec.LinuxSeccompArg]():        seccompArgFields,
		reflect.TypeFor[rspec.LinuxResources]():         resourcesFields,
		reflect.TypeFor[rspec.LinuxDeviceCgroup]():      deviceCgroupFields,
		reflect.TypeFor[rspec.LinuxMemory]():            memoryFields,
		reflect.TypeFor[rspec.LinuxCPU]():               cpuFields,
		reflect.TypeFor[rspec.LinuxPids]():              pidsFields,
		reflect.TypeFor[rspec.LinuxBlockIO]():           blockIOFields,
		reflect.TypeFor[rspec.LinuxWeightDevice]():      weightDeviceFields,
		reflect.TypeFor[rspec.LinuxThrottleDevice]():    throttleDeviceFields,
		reflect.TypeFor[rspec.LinuxHugepageLimit]():     hugepageLimitFields,
		reflect.TypeFor[rspec.LinuxNetwork]():           networkFields,
		reflect.TypeFor[rspec.LinuxInterfacePriority](): interfacePriorityFields,
		reflect.TypeFor[rspec.LinuxRdma]():              rdmaFields,
	}
	// Every struct type reachable from Spec outside the other platforms'
	// sections must have a list.
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		want := jsonNames(typ)
		got, ok := lists[typ]
		if typ == reflect.TypeFor[rspec.LinuxBlockIODevice]() {
			return // only embedded, its names are in its embedders' lists
		}
		if !ok {
			t.Errorf("no field list for %v", typ)
		} else if !slices.Equal(got, want) {
			t.Errorf("%v: field list %q, struct tags %q", typ, got, want)
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			if typ == reflect.TypeFor[rspec.Spec]() && slices.Contains(otherPlatforms, f.Name) {
				continue
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[rspec.Spec]())
	for typ := range lists {
		if !seen[typ] {
			t.Errorf("field list for unreachable %v", typ)
		}
	}
}

// jsonNames lists the JSON names of typ's fields in order, with those of
// embedded structs in place.
func jsonNames(typ reflect.Type) []string {
	var names []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Anonymous {
			names = append(names, jsonNames(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// fastDecodeCases pin down encoding/json behaviours: want is whether the
// fast path takes the input. Either way checkFast compares the result.
var fastDecodeCases = []struct {
	in   string
	want bool
}{
	// Top level.
	{`{}`, true},
	{" \t\r\n{} \t\r\n", true},
	{`null`, false},
	{`[]`, false},
	{`"x"`, false},
	{``, false},
	{`{} {}`, false},
	{`{}x`, false},
	{`{`, false},
	{`{"ociVersion":"1"`, false},
	{`{"ociVersion":"1",}`, false},
	{`{,"ociVersion":"1"}`, false},
	{`{"ociVersion" "1"}`, false},
	{`{"ociVersion":"1" "hostname":"h"}`, false},

	// null: no-op for strings, numbers, bools and structs; nil for
	// pointers, slices and maps.
	{`{"ociVersion":null,"hostname":null,"process":null,"mounts":null,"annotations":null}`, true},
	{`{"ociVersion":"1","ociVersion":null}`, true},
	{`{"process":{"user":null,"terminal":null,"args":null,"oomScoreAdj":null}}`, true},
	{`{"process":{"user":{"uid":5},"user":null}}`, true},
	{`{"process":{"args":["a"]},"process":null}`, true},
	{`{"mounts":[null,{"destination":"/x"},null]}`, true},
	{`{"annotations":{"a":null}}`, true},
	{`{"linux":{"resources":{"rdma":{"x":null}}}}`, true},
	{`{"linux":{"timeOffsets":{"x":null}}}`, true},
	{`{"process":{"args":[null]}}`, true},
	{`{"process":{"oomScoreAdj":nul}}`, false},
	{`{"process":{"terminal":tru}}`, false},
	{`{"process":{"terminal":nullx}}`, false},

	// Empty containers are non-nil.
	{`{"mounts":[],"annotations":{},"process":{"args":[],"env":[]},"linux":{"sysctl":{},"namespaces":[]}}`, true},
	{`{"mounts":[{"options":[]}]}`, true},

	// Repeated keys: last wins for scalars; structs and maps are merged
	// into; slices reuse their elements.
	{`{"ociVersion":"1","ociVersion":"2"}`, true},
	{`{"process":{"cwd":"/a"},"process":{"args":["x"]}}`, true},
	{`{"annotations":{"a":"1","b":"2"},"annotations":{"b":"3","c":"4"}}`, true},
	{`{"annotations":{"a":"1"},"annotations":null,"annotations":{"c":"4"}}`, true},
	{`{"annotations":{"a":"1","a":"2"}}`, true},
	{`{"process":{"args":["a","b","c"]},"process":{"args":[null,"y"]}}`, true},
	{`{"process":{"args":["a","b","c"]},"process":{"args":[]}}`, true},
	{`{"mounts":[{"destination":"/a","type":"t"}],"mounts":[{"source":"s"},{"destination":"/b"}]}`, true},
	{`{"mounts":[{"destination":"/a"},{"destination":"/b"},{"destination":"/c"}],"mounts":[{"type":"x"}],"mounts":[{},{},{},{}]}`, true},
	{`{"linux":{"resources":{"memory":{"limit":1}}},"linux":{"resources":{"memory":{"swap":2}}}}`, true},
	{`{"linux":{"resources":{"rdma":{"a":{"hcaHandles":1}}}},"linux":{"resources":{"rdma":{"a":{"hcaObjects":2}}}}}`, true},
	{`{"process":{"oomScoreAdj":1,"oomScoreAdj":2}}`, true},

	// Keys: unknown ones are skipped but must be valid JSON; case-folded
	// matches go to encoding/json.
	{`{"x":{"a":[1,2.5e-3,-0,true,false,null,"s\u00e9",{}],"b":[]},"ociVersion":"1"}`, true},
	{`{"x":[1,]}`, false},
	{`{"x":{"a"}}`, false},
	{`{"x":01}`, false},
	{`{"x":-}`, false},
	{`{"x":1.}`, false},
	{`{"x":1e}`, false},
	{`{"x":.5}`, false},
	{`{"x":+1}`, false},
	{`{"x":"\x"}`, false},
	{`{"x":"\'"}`, false},
	{`{"x":"\u12"}`, false},
	{`{"x":"` + "\t" + `"}`, false},
	{`{"x":tRue}`, false},
	{`{"Process":{}}`, false},
	{`{"OCIVERSION":"1"}`, false},
	{`{"process":{"CWD":"/"}}`, false},
	{`{"ociVerſion":"1"}`, false},
	{`{"\u212Aey":"1"}`, false}, // non-ASCII unknown key: left to encoding/json
	{`{"oci\u0056ersion":"1"}`, true},
	{`{"pro\u0063ess":{"cwd":"/"}}`, true},
	{`{"windows":{}}`, false},
	{`{"solaris":null}`, false},
	{`{"vm":{}}`, false},
	{`{"zos":{}}`, false},
	{`{"freebsd":{}}`, false},
	{`{"process":{"commandLine":"c","user":{"username":"u"}}}`, true},
	{`{"x":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`, false},
	{`{"x":` + strings.Repeat("[", 900) + strings.Repeat("]", 900) + `}`, true},

	// Strings.
	{`{"hostname":"\"\\\/\b\f\n\r\t"}`, true},
	{`{"hostname":"\u0000\u001f\u00e9\u20ac\uFFFF"}`, true},
	{`{"hostname":"\ud83d\ude00"}`, true},
	{`{"hostname":"\ud83d"}`, true},
	{`{"hostname":"\ud83dx"}`, true},
	{`{"hostname":"\ude00\ud83d"}`, true},
	{`{"hostname":"\ud83d\u0041"}`, true},
	{`{"hostname":"\ud83d\ud83d\ude00"}`, true},
	{"{\"hostname\":\"\xff\xfe\"}", true},
	{"{\"hostname\":\"a\xed\xa0\x80b\"}", true},
	{"{\"hostname\":\"\xe2\x82\"}", true},
	{"{\"hostname\":\"\xef\xbf\xbd\xf4\x90\x80\x80\"}", true},
	{"{\"annotations\":{\"\xff\":\"\\u00e9\"}}", true},
	{"{\"hostname\":\"\x7f\"}", true},
	{"{\"hostname\":\"a\x01\"}", false},
	{`{"hostname":"abc`, false},
	{`{"hostname":1}`, false},
	{`{"hostname":true}`, false},
	{`{"hostname":[]}`, false},

	// Numbers.
	{`{"process":{"user":{"uid":4294967295,"gid":0}}}`, true},
	{`{"process":{"user":{"uid":4294967296}}}`, false},
	{`{"process":{"user":{"uid":-1}}}`, false},
	{`{"process":{"user":{"uid":-0}}}`, false},
	{`{"process":{"user":{"uid":1.0}}}`, false},
	{`{"process":{"user":{"uid":1e2}}}`, false},
	{`{"process":{"user":{"uid":"1"}}}`, false},
	{`{"process":{"oomScoreAdj":-0}}`, true},
	{`{"process":{"oomScoreAdj":-9223372036854775808}}`, true},
	{`{"process":{"oomScoreAdj":-9223372036854775809}}`, false},
	{`{"process":{"oomScoreAdj":9223372036854775807}}`, true},
	{`{"process":{"oomScoreAdj":9223372036854775808}}`, false},
	{`{"process":{"rlimits":[{"hard":18446744073709551615}]}}`, true},
	{`{"process":{"rlimits":[{"hard":18446744073709551616}]}}`, false},
	{`{"process":{"rlimits":[{"hard":99999999999999999999}]}}`, false},
	{`{"process":{"scheduler":{"nice":-2147483648,"priority":2147483647}}}`, true},
	{`{"process":{"scheduler":{"nice":-2147483649}}}`, false},
	{`{"process":{"scheduler":{"priority":2147483648}}}`, false},
	{`{"linux":{"resources":{"blockIO":{"weight":65535}}}}`, true},
	{`{"linux":{"resources":{"blockIO":{"weight":65536}}}}`, false},
	{`{"linux":{"devices":[{"fileMode":420,"uid":1,"gid":2}]}}`, true},
	{`{"linux":{"devices":[{"fileMode":4294967296}]}}`, false},
	{`{"linux":{"resources":{"memory":{"limit":-1,"disableOOMKiller":true}}}}`, true},
	{`{"linux":{"resources":{"memory":{"limit":"1"}}}}`, false},
	{`{"linux":{"resources":{"memory":{"disableOOMKiller":1}}}}`, false},

	// Wrong types.
	{`{"process":[]}`, false},
	{`{"process":{"user":[]}}`, false},
	{`{"mounts":{}}`, false},
	{`{"annotations":[]}`, false},
	{`{"annotations":{"a":1}}`, false},
	{`{"process":{"args":"sh"}}`, false},
}

func TestFastDecodeCases(t *testing.T) {
	for _, tc := range fastDecodeCases {
		if got := checkFast(t, []byte(tc.in)); got != tc.want {
			t.Errorf("fastDecode(%q): ok=%v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestFastDecodeMutations takes the fast path through every realistic
// config with each byte position's value swapped for a few interesting
// ones: a cheap, deterministic complement to the fuzzer.
func TestFastDecodeMutations(t *testing.T) {
	data, err := os.ReadFile("testdata/runc-spec-rootless-1.5.3.json")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(data))
	for i := range data {
		for _, c := range []byte{'"', ',', '}', ']', '0', 'n', ' ', '\\', 0xff} {
			copy(buf, data)
			buf[i] = c
			checkFast(t, buf)
		}
		checkFast(t, data[:i])
	}
}

// FuzzFastDecode is the proof of the contract: whenever fastDecode
// reports ok, json.Unmarshal succeeds with an identical result.
//
//	go test -run='^$' -fuzz=FuzzFastDecode -fuzztime=5m ./specs/
func FuzzFastDecode(f *testing.F) {
	for _, data := range realisticConfigs(f) {
		f.Add(data)
	}
	for _, tc := range fastDecodeCases {
		f.Add([]byte(tc.in))
	}
	for _, v := range []string{`1`, `-1`, `"x"`, `true`, `null`, `[]`, `{}`, `[{}]`, `{"a":"b"}`,
		`[null,{"destination":"/d","uidMappings":[{"size":1}]}]`, `{"limit":1,"swap":null}`,
		`{"devices":[{"allow":true,"major":1}],"cpu":{"shares":2}}`, `{"cwd":"/","args":["a"],"user":{"gid":1}}`} {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFast(t, data)
		// Most mutations of a whole document are syntax errors. Splicing
		// the input in as a value of known fields makes the fuzzer explore
		// what fastDecode accepts: types, ranges, nulls, repeated keys.
		if len(data) < 512 {
			for _, tmpl := range fuzzTemplates {
				checkFast(t, []byte(strings.ReplaceAll(tmpl, "V", string(data))))
			}
		}
	})
}

// fuzzTemplates hold V where FuzzFastDecode splices its input.
var fuzzTemplates = []string{
	`{"hostname":V}`,
	`{"process":{"user":{"uid":V,"umask":V},"oomScoreAdj":V}}`,
	`{"process":{"args":V,"args":V,"capabilities":V}}`,
	`{"process":V,"process":V}`,
	`{"mounts":V}`,
	`{"mounts":[{"destination":"/a","options":["x","y"]},{"type":"t"},{}],"mounts":V,"mounts":V}`,
	`{"annotations":V,"annotations":V}`,
	`{"linux":{"resources":V}}`,
	`{"linux":{"resources":{"rdma":V,"memory":V,"blockIO":V}}}`,
	`{"linux":{"seccomp":V,"timeOffsets":V,"devices":V}}`,
}

func BenchmarkFastDecode(b *testing.B) {
	for _, f := range []string{"runc-spec-1.5.3.json", "docker-20.10-synth.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(f+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, ok := fastDecode(data); !ok {
					b.Fatal("not ok")
				}
			}
		})
		b.Run(f+"/encoding-json-warm", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var s rspec.Spec
				if err := json.Unmarshal(data, &s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
