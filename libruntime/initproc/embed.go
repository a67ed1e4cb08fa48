package initproc

import _ "embed"

// initBinary is husk-init, built from c/ by `make` (see the Makefile's
// husk-init target) before the Go build.
//
//go:embed husk-init.bin
var initBinary []byte
