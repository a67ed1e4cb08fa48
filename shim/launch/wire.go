package launch

import (
	"encoding/binary"
	"errors"
	"time"
)

// The protobuf messages the start and delete actions exchange with
// containerd are three small ones, encoded here by hand: the generated
// types bring protobuf's registry, whose package initialisation costs every
// process of the full shim binary about 4 ms before main, twice per
// container (start, and delete after every exit with containerd 1.6). The
// shim package's tests check these against the generated types.

// Wire types (protobuf encoding).
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

func appendTag(b []byte, field int, typ int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(typ))
}

// appendVarint appends a scalar field; proto3 leaves out zero values.
func appendVarint(b []byte, field int, v uint64) []byte {
	if v == 0 {
		return b
	}
	return binary.AppendUvarint(appendTag(b, field, wireVarint), v)
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(appendTag(b, field, wireBytes), uint64(len(v)))
	return append(b, v...)
}

func appendString(b []byte, field int, s string) []byte {
	if s == "" {
		return b
	}
	return appendBytes(b, field, []byte(s))
}

// encodeDeleteResponse encodes containerd.task.v2.DeleteResponse
// {pid = 1, exit_status = 2, exited_at = 3 (google.protobuf.Timestamp
// {seconds = 1, nanos = 2})}.
func encodeDeleteResponse(pid, status uint32, at time.Time) []byte {
	// int64 and int32 are varints of their two's complement.
	ts := appendVarint(nil, 1, uint64(at.Unix()))
	ts = appendVarint(ts, 2, uint64(int64(at.Nanosecond())))
	b := appendVarint(nil, 1, uint64(pid))
	b = appendVarint(b, 2, uint64(status))
	return appendBytes(b, 3, ts)
}

// encodeBootstrapResult encodes containerd.runtime.bootstrap.v1
// .BootstrapResult {version = 1, address = 2, protocol = 3}.
func encodeBootstrapResult(version int32, address, protocol string) []byte {
	b := appendVarint(nil, 1, uint64(int64(version)))
	b = appendString(b, 2, address)
	return appendString(b, 3, protocol)
}

// bootstrapParams are the fields of containerd.runtime.bootstrap.v1
// .BootstrapParams that the start action uses.
type bootstrapParams struct {
	instanceID   string // 1
	namespace    string // 2
	logLevel     int32  // 3 (enum: negative is more verbose)
	ttrpcAddress string // 5
	grpcAddress  string // 6
	socketDir    string // 9
}

var errWire = errors.New("malformed protobuf")

// decodeBootstrapParams decodes a BootstrapParams message, skipping the
// fields start does not use (extensions, containerd's version and binary).
func decodeBootstrapParams(data []byte) (bootstrapParams, error) {
	var p bootstrapParams
	for len(data) > 0 {
		tag, n := binary.Uvarint(data)
		if n <= 0 || tag>>3 == 0 {
			return p, errWire
		}
		data = data[n:]
		field, typ := tag>>3, tag&7
		switch typ {
		case wireVarint:
			v, n := binary.Uvarint(data)
			if n <= 0 {
				return p, errWire
			}
			data = data[n:]
			if field == 3 {
				p.logLevel = int32(v)
			}
		case wireBytes:
			l, n := binary.Uvarint(data)
			if n <= 0 || l > uint64(len(data)-n) {
				return p, errWire
			}
			s := string(data[n : n+int(l)])
			data = data[n+int(l):]
			switch field {
			case 1:
				p.instanceID = s
			case 2:
				p.namespace = s
			case 5:
				p.ttrpcAddress = s
			case 6:
				p.grpcAddress = s
			case 9:
				p.socketDir = s
			}
		case wireFixed64:
			if len(data) < 8 {
				return p, errWire
			}
			data = data[8:]
		case wireFixed32:
			if len(data) < 4 {
				return p, errWire
			}
			data = data[4:]
		default: // groups: not in proto3
			return p, errWire
		}
	}
	return p, nil
}
