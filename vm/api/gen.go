// Package api is the ttrpc protocol between husk and husk-agent (see
// agent.proto). The Go files are generated: `make vm-proto`.
package api

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-ttrpc_out=. --go-ttrpc_opt=paths=source_relative agent.proto
