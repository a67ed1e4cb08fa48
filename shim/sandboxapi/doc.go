// Package sandboxapi holds the messages of containerd's sandbox API
// (containerd.runtime.sandbox.v1.Sandbox) as husk's shim serves it; see
// sandbox.proto. Regenerate with `make vm-proto`.
package sandboxapi
