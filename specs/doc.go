// Package specs loads, validates and defaults an OCI runtime config.json.
//
// It runs on every `husk create` and `husk run`, so it does no work at
// package initialisation and keeps its tables as plain arrays.
//
// Validation reports the first problem in document order as a *FieldError
// naming the JSON path of the field, so that a user can find it without
// reading husk's source:
//
//	config.json: process.cwd: "tmp" is not an absolute path
//	config.json: linux.sysctl["vm.swappiness"]: not namespaced, refusing to set a host-wide sysctl from a container
//
// Unknown fields are accepted, as runc does, so that configs written for a
// newer runtime-spec still run. Choices that differ from a literal reading
// of the spec or of runc:
//
//   - linux.resources.pids.limit 0 is accepted and means "not set": some
//     clients write 0 for an unset limit, and runc skips zero values.
//   - linux.devices entries of type c, b or u with major and minor both 0
//     are rejected as missing numbers: JSON decoding cannot tell an omitted
//     number from 0, and 0:0 is not a device.
//   - Within linux, namespaces are checked first, because mappings, sysctls and
//     time offsets are judged against them.
package specs
