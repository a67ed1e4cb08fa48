// Package api is the ttrpc protocol between husk and husk-agent (see
// agent.proto). The Go files are generated: `make vm-proto`.
package api
