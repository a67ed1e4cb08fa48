package shim

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/husk-runtime/husk/shim/vmbackend"
)

// decodePodConfig takes from a CRI runtime.v1.PodSandboxConfig (protobuf)
// what the VM class uses: hostname (2), dns_config (4: servers 1,
// searches 2, options 3) and linux (8: cgroup_parent 1,
// security_context 2 > namespace_options 1 > network 2, sysctls 3,
// resources 5: cpu_period 1, cpu_quota 2, memory_limit_in_bytes 4).
// Decoding these few fields by hand keeps k8s.io/cri-api (6 MB of code
// and its package initialisation) out of every shim; the tests check it
// against cri-api's own encoding.
func decodePodConfig(sb *vmbackend.Sandbox, data []byte) error {
	return walk(data, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch {
		case num == 2 && typ == protowire.BytesType:
			sb.Hostname = string(v)
		case num == 4 && typ == protowire.BytesType:
			d := &vmbackend.DNS{}
			err := walk(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if typ != protowire.BytesType {
					return nil
				}
				switch num {
				case 1:
					d.Servers = append(d.Servers, string(v))
				case 2:
					d.Searches = append(d.Searches, string(v))
				case 3:
					d.Options = append(d.Options, string(v))
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("dns_config: %w", err)
			}
			sb.DNS = d
		case num == 8 && typ == protowire.BytesType:
			if err := decodeLinuxPod(sb, v); err != nil {
				return fmt.Errorf("linux: %w", err)
			}
		}
		return nil
	})
}

func decodeLinuxPod(sb *vmbackend.Sandbox, data []byte) error {
	return walk(data, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			sb.CgroupParent = string(v)
		case 2:
			// security_context.namespace_options.network == NODE (2).
			return walk(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if num != 1 || typ != protowire.BytesType {
					return nil
				}
				return walk(v, func(num protowire.Number, typ protowire.Type, _ []byte, n uint64) error {
					if num == 1 && typ == protowire.VarintType && n == 2 {
						sb.HostNetwork = true
					}
					return nil
				})
			})
		case 3:
			var k, val string
			err := walk(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if typ == protowire.BytesType && num == 1 {
					k = string(v)
				} else if typ == protowire.BytesType && num == 2 {
					val = string(v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if sb.Sysctls == nil {
				sb.Sysctls = map[string]string{}
			}
			if len(sb.Sysctls) >= 256 {
				return errors.New("too many sysctls")
			}
			sb.Sysctls[k] = val
		case 5:
			return walk(v, func(num protowire.Number, typ protowire.Type, _ []byte, n uint64) error {
				if typ != protowire.VarintType {
					return nil
				}
				switch num {
				case 1:
					sb.CPUPeriod = int64(n)
				case 2:
					sb.CPUQuota = int64(n)
				case 4:
					sb.MemoryLimit = int64(n)
				}
				return nil
			})
		}
		return nil
	})
}

// walk calls f for each field of a protobuf message: a length-delimited
// field's bytes in v, a varint's value in n; other fields are skipped.
func walk(data []byte, f func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error) error {
	for len(data) > 0 {
		num, typ, l := protowire.ConsumeTag(data)
		if l < 0 {
			return protowire.ParseError(l)
		}
		data = data[l:]
		var v []byte
		var n uint64
		switch typ {
		case protowire.BytesType:
			v, l = protowire.ConsumeBytes(data)
		case protowire.VarintType:
			n, l = protowire.ConsumeVarint(data)
		default:
			l = protowire.ConsumeFieldValue(num, typ, data)
		}
		if l < 0 {
			return protowire.ParseError(l)
		}
		data = data[l:]
		if err := f(num, typ, v, n); err != nil {
			return err
		}
	}
	return nil
}
