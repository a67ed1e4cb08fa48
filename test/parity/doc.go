// Package parity runs husk and a reference runc side by side on the same
// cases and compares what a user of either would see: each case is a
// config.json edit and a command line, run under both runtimes on
// separate copies of one bundle, with separate state roots and cgroups.
// The outputs are normalised (container IDs, paths, pids, mount ids and
// device numbers replaced) and compared field by field; the differences
// that are known are listed, each with its reason, in differences.tsv.
//
// The comparison logic (observations, normalisers, the diff and the
// differences file) lives in this package's non-test files and is unit
// tested without root; the runner and the case tables are in the test
// files and need root, -husk and -runc (make parity).
package parity
