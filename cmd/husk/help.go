package main

// commandHelp is the longer help of a command, after its one-line usage.
// What runc's help says that clients and people look for is said here
// too (in husk's words).
var commandHelp = map[string]string{
	"create": `The bundle is a directory holding config.json and the container's root
filesystem. The container's process waits until "husk start"; its args
come from config.json (see "husk spec --help" for a default one).`,
	"run": `The bundle is a directory holding config.json and the container's root
filesystem; the process config.json names is started at once and husk
waits for it, forwarding signals (see "husk spec --help" for a default
config.json).`,
	"list": `The containers of one state root, for example:

    husk --root /run/husk list`,
	"exec": `The process is the container's own (user, capabilities, environment,
seccomp) with the given command line, unless a process.json is given.`,
	"kill": `The signal is a name (KILL, SIGKILL) or a number; SIGTERM by default.`,
	"spec": `The default config.json runs sh in ./rootfs; edit it before "husk run".`,
}
