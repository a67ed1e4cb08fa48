package libruntime

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/cgroups"
)

func sampleStates() []*State {
	timeout := 5
	return []*State{
		{},
		{ID: "c1", Bundle: "/b", Rootfs: "/b/rootfs", Created: time.Date(2026, 11, 22, 13, 0, 0, 123456789, time.UTC),
			InitPid: 42, InitStart: 987654321, PidNS: true, HostMountsBefore: []int{}, Ready: true,
			Cgroup: cgroups.State{
				Paths:   map[string]string{"memory": "/sys/fs/cgroup/memory/husk/c1", "cpu": "/sys/fs/cgroup/cpu/husk/c1"},
				Created: []string{"/sys/fs/cgroup/cpu/husk/c1"},
			}},
		{ID: "sd", Cgroup: cgroups.State{
			Paths:   map[string]string{"unified": "/sys/fs/cgroup/system.slice/sd-x.scope"},
			Created: []string{"/sys/fs/cgroup/system.slice/sd-x.scope"},
			Unit:    "sd-x.scope",
		}},
		{ID: "weird", Bundle: "<&>\"\\\n\t\x01 é \u2028 \xff", Owner: "root", Created: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
			Annotations: map[string]string{"b": "2", "a": "<1>", "": ""}, CreatorPid: 7, CreatorStart: 1,
			HostMounts: []int{31, 2147483647}, HostMountsBefore: []int{-1},
			Cgroup: cgroups.State{Paths: map[string]string{}, Created: []string{}},
			Hooks: &rspec.Hooks{
				Prestart:  []rspec.Hook{{Path: "/bin/a", Args: []string{"a", "b"}, Env: []string{"X=1"}, Timeout: &timeout}},
				Poststop:  []rspec.Hook{{Path: "/bin/b"}},
				Poststart: []rspec.Hook{},
			}},
		{ID: "emptyhooks", Hooks: &rspec.Hooks{}},
	}
}

// encodeState writes exactly what encoding/json would.
func TestEncodeStateMatchesJSON(t *testing.T) {
	for _, st := range sampleStates() {
		got, err := encodeState(st)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(st)
		if !bytes.Equal(got, want) {
			t.Errorf("encodeState:\n got %s\nwant %s", got, want)
		}
	}
}

// decodeState reads what encoding/json reads, fast or through its fallback.
func TestDecodeStateMatchesJSON(t *testing.T) {
	var docs [][]byte
	for _, st := range sampleStates() {
		data, _ := json.Marshal(st)
		docs = append(docs, data)
	}
	docs = append(docs,
		[]byte(`{"id":"x","unknown":[1,{"a":null}],"cgroup":null,"hooks":null,"annotations":null}`),
		[]byte(`{"ID":"case-folded key: encoding/json decodes it"}`),
		[]byte(`{"created":"2026-11-22T13:00:00+01:00"}`),
		[]byte(`{"initPid":1.5}`),
		[]byte(` {"id":"a","id":"b"} `),
	)
	for _, data := range docs {
		var want State
		wantErr := json.Unmarshal(data, &want)
		got, err := decodeState(data)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("decodeState(%s): error %v, encoding/json %v", data, err, wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(*got, want) {
			t.Errorf("decodeState(%s):\n got %+v\nwant %+v", data, *got, want)
		}
	}
}

// The fast decoder itself (not its fallback) takes what encodeState writes.
func TestStateRoundTripIsFast(t *testing.T) {
	for _, st := range sampleStates() {
		data, _ := encodeState(st)
		var got State
		if !fastDecodeState(data, &got) {
			t.Errorf("fast decoder declined %s", data)
		}
	}
}

func FuzzStateCodec(f *testing.F) {
	f.Add("id", "/bundle", "k", "v", "/mnt", int64(1), uint64(2), true)
	f.Add("<\u2028>", "\xff\xfe", "", "\x00", "é", int64(-1), uint64(1<<63), false)
	f.Fuzz(func(t *testing.T, id, bundle, key, val, mnt string, pid int64, start uint64, flag bool) {
		st := &State{ID: id, Bundle: bundle, Rootfs: bundle + "/rootfs", Created: time.Unix(0, pid).UTC(),
			Annotations: map[string]string{key: val}, InitPid: int(pid), InitStart: start, PidNS: flag,
			HostMounts: []int{int(pid)}, Cgroup: cgroups.State{Paths: map[string]string{val: key}},
			Ready: !flag, Hooks: &rspec.Hooks{Poststop: []rspec.Hook{{Path: mnt, Args: []string{id, val}}}}}
		got, err := encodeState(st)
		want, werr := json.Marshal(st)
		if (err != nil) != (werr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("encodeState:\n got %s (%v)\nwant %s (%v)", got, err, want, werr)
		}
		if err != nil {
			return
		}
		var fast, slow State
		if !fastDecodeState(got, &fast) {
			t.Fatalf("fast decoder declined %s", got)
		}
		json.Unmarshal(got, &slow)
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("decode:\n fast %+v\n json %+v", fast, slow)
		}
	})
}
