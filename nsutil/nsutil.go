// Package nsutil knows Linux namespaces: their types and clone flags, how
// to open and verify a namespace path from config.json, and how to write a
// user namespace's uid/gid maps.
//
// # How husk enters namespaces
//
// setns(2) into a mount or user namespace fails for a multithreaded
// process, and a Go program is multithreaded before main runs, so the Go
// side of husk never changes its own namespaces. Instead husk compiles the
// namespace steps into the plan that husk-init (libruntime/initproc, a
// small single-threaded C program started from a sealed memfd) executes
// before anything else:
//
//  1. setns into every namespace the config joins by path, user namespace
//     first (it may grant the capabilities to join the others). husk opens
//     each path itself and checks with NS_GET_NSTYPE that it is a
//     namespace of the declared type before passing the descriptor on.
//  2. unshare(CLONE_NEWUSER) if a new user namespace is wanted; husk-init
//     then asks husk to write its uid_map/gid_map (WriteIDMaps) and
//     becomes root inside. Creating the user namespace first makes it the
//     owner of the namespaces created next, which is what lets the
//     container's root administer its own network, mounts and hostname.
//  3. unshare every other new namespace, write time namespace offsets.
//  4. A new (or joined) pid or time namespace only applies to children:
//     husk-init forks once; the child is the container's init (pid 1),
//     the parent reports its host pid and exits. With neither, husk-init
//     itself becomes the init and no extra process is made.
//
// husk joins the container's cgroup before step 3, so that a new cgroup
// namespace is rooted at the container's own cgroup.
package nsutil

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// info is what husk needs to know about one namespace type.
type info struct {
	flag uintptr
	proc string // name under /proc/<pid>/ns
}

var types = map[rspec.LinuxNamespaceType]info{
	rspec.PIDNamespace:     {unix.CLONE_NEWPID, "pid"},
	rspec.NetworkNamespace: {unix.CLONE_NEWNET, "net"},
	rspec.MountNamespace:   {unix.CLONE_NEWNS, "mnt"},
	rspec.IPCNamespace:     {unix.CLONE_NEWIPC, "ipc"},
	rspec.UTSNamespace:     {unix.CLONE_NEWUTS, "uts"},
	rspec.UserNamespace:    {unix.CLONE_NEWUSER, "user"},
	rspec.CgroupNamespace:  {unix.CLONE_NEWCGROUP, "cgroup"},
	rspec.TimeNamespace:    {unix.CLONE_NEWTIME, "time"},
}

// CloneFlag returns the CLONE_NEW* flag of a namespace type.
func CloneFlag(t rspec.LinuxNamespaceType) (uintptr, bool) {
	i, ok := types[t]
	return i.flag, ok
}

// ProcName returns the name of a namespace type under /proc/<pid>/ns.
func ProcName(t rspec.LinuxNamespaceType) string {
	return types[t].proc
}

// TypeOfFlag returns the config name of a CLONE_NEW* flag, "" if unknown.
func TypeOfFlag(flag uintptr) rspec.LinuxNamespaceType {
	for t, i := range types {
		if i.flag == flag {
			return t
		}
	}
	return ""
}

// JoinOrder lists namespace types in the order husk-init joins them.
var JoinOrder = []rspec.LinuxNamespaceType{
	rspec.UserNamespace, rspec.IPCNamespace, rspec.UTSNamespace, rspec.NetworkNamespace,
	rspec.PIDNamespace, rspec.CgroupNamespace, rspec.TimeNamespace, rspec.MountNamespace,
}
