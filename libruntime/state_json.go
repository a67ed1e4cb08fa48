package libruntime

import (
	"encoding/json"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/internal/fastjson"
	"github.com/husk-runtime/husk/specs"
)

// state.json is written by create and read by every other command, each a
// fresh process: encoding/json's first Marshal or Unmarshal of State costs
// 0.4 to 0.9 ms there (its reflection caches), these take microseconds.
// Both produce exactly what encoding/json would (state_json_test.go), and
// a file they cannot decode exactly is left to encoding/json.

func encodeState(st *State) ([]byte, error) {
	if y := st.Created.Year(); y < 0 || y > 9999 {
		return json.Marshal(st) // for its error
	}
	b := make([]byte, 0, 1024)
	b = append(b, `{"id":`...)
	b = fastjson.AppendString(b, st.ID)
	b = append(b, `,"bundle":`...)
	b = fastjson.AppendString(b, st.Bundle)
	b = append(b, `,"rootfs":`...)
	b = fastjson.AppendString(b, st.Rootfs)
	b = append(b, `,"created":"`...)
	b = st.Created.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","owner":`...)
	b = fastjson.AppendString(b, st.Owner)
	if len(st.Annotations) > 0 {
		b = append(b, `,"annotations":`...)
		b = fastjson.AppendStringMap(b, st.Annotations)
	}
	if st.InitPid != 0 {
		b = append(b, `,"initPid":`...)
		b = fastjson.AppendInt(b, int64(st.InitPid))
	}
	if st.InitStart != 0 {
		b = append(b, `,"initStart":`...)
		b = fastjson.AppendUint(b, st.InitStart)
	}
	if st.CreatorPid != 0 {
		b = append(b, `,"creatorPid":`...)
		b = fastjson.AppendInt(b, int64(st.CreatorPid))
	}
	if st.CreatorStart != 0 {
		b = append(b, `,"creatorStart":`...)
		b = fastjson.AppendUint(b, st.CreatorStart)
	}
	b = append(b, `,"pidns":`...)
	b = fastjson.AppendBool(b, st.PidNS)
	if len(st.HostMounts) > 0 {
		b = append(b, `,"hostMounts":`...)
		b = appendInts(b, st.HostMounts)
	}
	b = append(b, `,"hostMountsBefore":`...)
	b = appendInts(b, st.HostMountsBefore)
	b = append(b, `,"cgroup":{"paths":`...)
	b = fastjson.AppendStringMap(b, st.Cgroup.Paths)
	b = append(b, `,"created":`...)
	b = fastjson.AppendStrings(b, st.Cgroup.Created)
	if st.Cgroup.Unit != "" {
		b = append(b, `,"unit":`...)
		b = fastjson.AppendString(b, st.Cgroup.Unit)
	}
	b = append(b, '}')
	if st.Ready {
		b = append(b, `,"ready":true`...)
	}
	if st.Hooks != nil {
		b = append(b, `,"hooks":`...)
		b = appendHooks(b, st.Hooks)
	}
	return append(b, '}'), nil
}

// appendInts encodes v as a JSON array; nil as null, like encoding/json.
func appendInts(b []byte, v []int) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, n := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = fastjson.AppendInt(b, int64(n))
	}
	return append(b, ']')
}

func appendHooks(b []byte, h *rspec.Hooks) []byte {
	b = append(b, '{')
	first := true
	for _, l := range []struct {
		name  string
		hooks []rspec.Hook
	}{
		{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime}, {"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer}, {"poststart", h.Poststart}, {"poststop", h.Poststop},
	} {
		if len(l.hooks) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = fastjson.AppendString(b, l.name)
		b = append(b, ":["...)
		for i, hk := range l.hooks {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"path":`...)
			b = fastjson.AppendString(b, hk.Path)
			if len(hk.Args) > 0 {
				b = append(b, `,"args":`...)
				b = fastjson.AppendStrings(b, hk.Args)
			}
			if len(hk.Env) > 0 {
				b = append(b, `,"env":`...)
				b = fastjson.AppendStrings(b, hk.Env)
			}
			if hk.Timeout != nil {
				b = append(b, `,"timeout":`...)
				b = fastjson.AppendInt(b, int64(*hk.Timeout))
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

var stateFields = []string{"id", "bundle", "rootfs", "created", "owner", "annotations", "initPid", "initStart",
	"creatorPid", "creatorStart", "pidns", "hostMounts", "hostMountsBefore", "cgroup", "ready", "hooks"}

// decodeState decodes state.json, with encoding/json for what the fast
// decoder does not take.
func decodeState(data []byte) (*State, error) {
	st := new(State)
	if fastDecodeState(data, st) {
		return st, nil
	}
	st = new(State)
	if err := json.Unmarshal(data, st); err != nil {
		return nil, err
	}
	return st, nil
}

func fastDecodeState(data []byte, st *State) bool {
	return fastjson.Decode(data, func(d *fastjson.Decoder) { fdState(d, st) })
}

func fdState(d *fastjson.Decoder, st *State) {
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "id":
			fastjson.String(d, &st.ID)
		case "bundle":
			fastjson.String(d, &st.Bundle)
		case "rootfs":
			fastjson.String(d, &st.Rootfs)
		case "created":
			fdTime(d, &st.Created)
		case "owner":
			fastjson.String(d, &st.Owner)
		case "annotations":
			fastjson.Map(d, &st.Annotations, fastjson.String[string])
		case "initPid":
			fastjson.Int(d, &st.InitPid)
		case "initStart":
			fastjson.Uint(d, &st.InitStart)
		case "creatorPid":
			fastjson.Int(d, &st.CreatorPid)
		case "creatorStart":
			fastjson.Uint(d, &st.CreatorStart)
		case "pidns":
			fastjson.Bool(d, &st.PidNS)
		case "hostMounts":
			fastjson.Slice(d, &st.HostMounts, fastjson.Int[int])
		case "hostMountsBefore":
			fastjson.Slice(d, &st.HostMountsBefore, fastjson.Int[int])
		case "cgroup":
			fdCgroupState(d, &st.Cgroup)
		case "ready":
			fastjson.Bool(d, &st.Ready)
		case "hooks":
			fastjson.Ptr(d, &st.Hooks, specs.DecodeHooks)
		default:
			d.Unknown(k, stateFields)
		}
	}
}

// fdTime takes what time.Time's UnmarshalJSON takes exactly: a string in
// RFC 3339 form without a second fraction beyond nanoseconds; null is a
// no-op. Anything unusual is left to encoding/json.
func fdTime(d *fastjson.Decoder, t *time.Time) {
	if d.Null() {
		return
	}
	if d.Peek() != '"' {
		d.Fail()
	}
	s := d.Str()
	// Only the form encodeState writes: UTC with a "Z".
	if len(s) < len("2006-01-02T15:04:05Z") || s[len(s)-1] != 'Z' {
		d.Fail()
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.Fail()
	}
	*t = v
}

var cgroupStateFields = []string{"paths", "created", "unit"}

func fdCgroupState(d *fastjson.Decoder, c *cgroups.State) {
	if d.Null() {
		return
	}
	for more := d.ObjStart(); more; more = d.ObjNext() {
		switch k := d.Key(); k {
		case "paths":
			fastjson.Map(d, &c.Paths, fastjson.String[string])
		case "created":
			fastjson.Slice(d, &c.Created, fastjson.String[string])
		case "unit":
			fastjson.String(d, &c.Unit)
		default:
			d.Unknown(k, cgroupStateFields)
		}
	}
}
