package parity

import (
	"os"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func init() { caseFamilies = append(caseFamilies, cliCases, lifecycleCases, execCases) }

// runcCommands are the commands of runc 1.5.3's command line.
var runcCommands = []string{
	"checkpoint", "create", "delete", "events", "exec", "features", "kill", "list", "pause", "ps",
	"restore", "resume", "run", "spec", "start", "state", "update",
}

func cli(key string, out OutKind, args ...string) Cmd {
	return Cmd{Key: key, Args: args, Out: out, NoLog: true}
}

func cliCases() []*Case {
	var cs []*Case
	for _, c := range runcCommands {
		cs = append(cs,
			&Case{Name: "cli/help-flag/" + c, Steps: []Step{cli("help", OutHelp, c, "-h")}},
			&Case{Name: "cli/help-long-flag/" + c, Steps: []Step{cli("help", OutHelp, c, "--help")}},
			&Case{Name: "cli/help-topic/" + c, Steps: []Step{cli("help", OutHelp, "help", c)}},
		)
	}
	cs = append(cs,
		&Case{Name: "cli/help-topic/unknown", Steps: []Step{cli("help", OutHelp, "help", "nosuch")}},
		&Case{Name: "cli/help/global", Steps: []Step{cli("help", OutHelp, "--help")}},
		&Case{Name: "cli/help/global-short", Steps: []Step{cli("help", OutHelp, "-h")}},
		&Case{Name: "cli/help/command-list", Steps: []Step{HostDo{Key: "commands", Fn: commandList}}},
		&Case{Name: "cli/version", Steps: []Step{cli("version", OutNone, "--version")}},
		&Case{Name: "cli/version-short", Steps: []Step{cli("version", OutNone, "-v")}},
		&Case{Name: "cli/no-command", Steps: []Step{cli("none", OutNone)}},
		&Case{Name: "cli/unknown-command", Steps: []Step{cli("unknown", OutNone, "nosuch")}},
		&Case{Name: "cli/unknown-global-flag", Steps: []Step{cli("flag", OutNone, "--no-such-flag", "list")}},
		&Case{Name: "cli/unknown-command-flag", Steps: []Step{cli("flag", OutNone, "list", "--no-such-flag")}},
		&Case{Name: "cli/list-missing-root", Steps: []Step{Cmd{Key: "list", Args: []string{"--root", "{dir}/no/such/root", "list"}, Out: OutText}}},
		&Case{Name: "cli/list-empty-root", Steps: []Step{Cmd{Key: "list", Args: []string{"list"}, Out: OutText}}},
		&Case{Name: "cli/list-quiet-empty", Steps: []Step{Cmd{Key: "list", Args: []string{"list", "-q"}, Out: OutText}}},
		&Case{Name: "cli/list-json-empty", Steps: []Step{Cmd{Key: "list", Args: []string{"list", "--format", "json"}, Out: OutText}}},
		&Case{Name: "cli/list-bad-format", Steps: []Step{Cmd{Key: "list", Args: []string{"list", "--format", "yaml"}, Out: OutText}}},
		&Case{Name: "cli/state-missing", Steps: []Step{Cmd{Key: "state", Args: []string{"state", "{id}"}, Out: OutText}}},
		&Case{Name: "cli/state-no-id", Steps: []Step{Cmd{Key: "state", Args: []string{"state"}, Out: OutText}}},
		&Case{Name: "cli/state-two-ids", Steps: []Step{Cmd{Key: "state", Args: []string{"state", "{id}", "{id2}"}, Out: OutText}}},
		&Case{Name: "cli/delete-missing", Steps: []Step{Cmd{Key: "delete", Args: []string{"delete", "{id}"}}}},
		&Case{Name: "cli/delete-force-missing", Steps: []Step{Cmd{Key: "delete", Args: []string{"delete", "--force", "{id}"}}}},
		&Case{Name: "cli/kill-missing", Steps: []Step{Cmd{Key: "kill", Args: []string{"kill", "{id}"}}}},
		&Case{Name: "cli/start-missing", Steps: []Step{Cmd{Key: "start", Args: []string{"start", "{id}"}}}},
		&Case{Name: "cli/pause-missing", Steps: []Step{Cmd{Key: "pause", Args: []string{"pause", "{id}"}}}},
		&Case{Name: "cli/ps-missing", Steps: []Step{Cmd{Key: "ps", Args: []string{"ps", "{id}"}}}},
		&Case{Name: "cli/events-missing", Steps: []Step{Cmd{Key: "events", Args: []string{"events", "--stats", "{id}"}}}},
		&Case{Name: "cli/exec-missing", Steps: []Step{Cmd{Key: "exec", Args: []string{"exec", "{id}", "true"}}}},
		&Case{Name: "cli/create-no-bundle-config", Steps: []Step{Cmd{Key: "create", Args: []string{"create", "--bundle", "{dir}", "{id}"}}}},
		&Case{Name: "cli/create-bad-json", Files: func(b *Bundle) error { return b.WriteFile("{bundle}/config.json", "{", 0o644) },
			Steps: []Step{Cmd{Key: "create", Args: []string{"create", "--bundle", "{bundle}", "{id}"}}}},
		&Case{Name: "cli/create-unknown-field", Files: func(b *Bundle) error {
			data, err := os.ReadFile(b.Fill("{bundle}/config.json"))
			if err != nil {
				return err
			}
			return b.WriteFile("{bundle}/config.json", strings.Replace(string(data), "{", `{"noSuchField": 1,`, 1), 0o644)
		}, Spec: sleeper, Steps: created()},
		&Case{Name: "cli/create-bundle-cwd", Spec: sleeper, Steps: []Step{Cmd{Key: "create", Args: []string{"create", "--bundle", "bundle", "{id}"}}, state("state")}},
		&Case{Name: "cli/create-no-id", Steps: []Step{Cmd{Key: "create", Args: []string{"create", "--bundle", "{bundle}"}}}},
		&Case{Name: "cli/create-duplicate-id", Spec: sleeper, Steps: steps(created(), []Step{Cmd{Key: "create-again", Args: []string{"create", "--bundle", "{bundle}", "{id}"}}})},
		&Case{Name: "cli/run-log-format-text", Spec: func(s *rspec.Spec) { s.Process.Args = []string{"/nonexistent"} },
			Steps: []Step{Cmd{Key: "run", Args: []string{"--log", "{dir}/text.log", "--log-format", "text", "run", "--bundle", "{bundle}", "{id}"}, NoLog: true},
				HostDo{Key: "text-log-levels", Fn: textLogLevels}}},
		&Case{Name: "cli/log-format-bad", Steps: []Step{cli("list", OutNone, "--log-format", "xml", "list")}},
		&Case{Name: "cli/debug-logs-steps", Script: "true", Steps: []Step{Cmd{Key: "run", Global: []string{"--debug"}, Args: []string{"run", "--bundle", "{bundle}", "{id}"}},
			HostDo{Key: "debug-lines", Fn: debugLogged}}},
		&Case{Name: "cli/systemd-cgroup", Script: "true", Steps: []Step{Cmd{Key: "run", Global: []string{"--systemd-cgroup"}, Args: []string{"run", "--bundle", "{bundle}", "{id}"}}}},
		&Case{Name: "cli/criu-flag", Script: "true", Steps: []Step{Cmd{Key: "run", Global: []string{"--criu", "/usr/sbin/criu"}, Args: []string{"run", "--bundle", "{bundle}", "{id}"}}}},
		&Case{Name: "cli/rootless-false", Script: "true", Steps: []Step{Cmd{Key: "run", Global: []string{"--rootless", "false"}, Args: []string{"run", "--bundle", "{bundle}", "{id}"}}}},
		&Case{Name: "cli/rootless-bogus", Script: "true", Steps: []Step{Cmd{Key: "run", Global: []string{"--rootless", "maybe"}, Args: []string{"run", "--bundle", "{bundle}", "{id}"}}}},
		&Case{Name: "cli/spec-default", Steps: []Step{Cmd{Key: "spec", Args: []string{"spec", "--bundle", "{dir}/spec"}}, HostFile{Key: "config.json", Path: "{dir}/spec/config.json", Out: OutJSON}},
			Files: func(b *Bundle) error { return os.Mkdir(b.Fill("{dir}/spec"), 0o755) }},
		&Case{Name: "cli/spec-rootless", Steps: []Step{Cmd{Key: "spec", Args: []string{"spec", "--rootless", "--bundle", "{dir}/spec"}}, HostFile{Key: "config.json", Path: "{dir}/spec/config.json", Out: OutJSON}},
			Files: func(b *Bundle) error { return os.Mkdir(b.Fill("{dir}/spec"), 0o755) }},
		&Case{Name: "cli/spec-exists", Steps: []Step{Cmd{Key: "spec", Args: []string{"spec", "--bundle", "{bundle}"}}}},
		&Case{Name: "cli/spec-trailing-newline", Steps: []Step{Cmd{Key: "spec", Args: []string{"spec", "--bundle", "{dir}/spec"}},
			HostDo{Key: "ends-with-newline", Fn: func(x *Exec) string {
				data, _ := os.ReadFile(x.B.Fill("{dir}/spec/config.json"))
				return yesNo(strings.HasSuffix(string(data), "\n"))
			}}},
			Files: func(b *Bundle) error { return os.Mkdir(b.Fill("{dir}/spec"), 0o755) }},
		&Case{Name: "cli/features", Steps: []Step{Cmd{Key: "features", Args: []string{"features"}, Out: OutJSON}}},
		&Case{Name: "cli/id-with-slash", Script: "true", Steps: []Step{Cmd{Key: "run", Args: []string{"run", "--bundle", "{bundle}", "{id}/x"}}}},
		&Case{Name: "cli/id-dotdot", Script: "true", Steps: []Step{Cmd{Key: "run", Args: []string{"run", "--bundle", "{bundle}", ".."}}}},
		&Case{Name: "cli/id-long", Script: "true", Steps: []Step{Cmd{Key: "run", Args: []string{"run", "--bundle", "{bundle}", "{id}" + strings.Repeat("x", 1024)}}}},
		&Case{Name: "cli/id-special-chars", Script: "true", Steps: []Step{Cmd{Key: "run", Args: []string{"run", "--bundle", "{bundle}", "{id}+:@"}}}},
	)
	return cs
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// commandList is the set of commands `--help` names (the lines of its
// command section), for a runtime that must offer runc's commands.
func commandList(x *Exec) string {
	out := x.quiet("--help")
	var names []string
	for _, c := range append(runcCommands, "help") {
		if strings.Contains(out, "\n   "+c+" ") || strings.Contains(out, "\n  "+c+" ") {
			names = append(names, c)
		}
	}
	return strings.Join(names, " ")
}

// textLogLevels reads the text-format log: the levels it names.
func textLogLevels(x *Exec) string {
	data, _ := os.ReadFile(x.B.Fill("{dir}/text.log"))
	var levels []string
	for _, l := range strings.Split(string(data), "\n") {
		if _, rest, ok := strings.Cut(l, "level="); ok {
			lvl, _, _ := strings.Cut(rest, " ")
			if !contains(levels, lvl) {
				levels = append(levels, lvl)
			}
		}
	}
	return strings.Join(levels, " ")
}

// debugLogged tells whether --debug wrote debug lines to the log.
func debugLogged(x *Exec) string {
	data, _ := os.ReadFile(x.B.Fill("{dir}/run.log.json"))
	return yesNo(strings.Contains(string(data), `"level":"debug"`))
}

func lifecycleCases() []*Case {
	kill := func(sig ...string) Cmd {
		return Cmd{Key: "kill", Args: append([]string{"kill", "{id}"}, sig...)}
	}
	var cs []*Case
	for _, sig := range []string{"", "KILL", "SIGKILL", "9", "kill", "TERM", "SIGTERM", "15", "HUP", "SIGRTMIN+1", "0", "SIGBOGUS", "99", "-9"} {
		name := sig
		if name == "" {
			name = "default"
		}
		args := []string{}
		if sig != "" {
			args = []string{sig}
		}
		cs = append(cs, &Case{Name: "kill/signal/" + name, Spec: sleeper,
			Steps: steps(started(), []Step{kill(args...), Sleep(200e6), state("state")})})
	}
	cs = append(cs,
		&Case{Name: "kill/all", Spec: sleeper, Steps: steps(started(), []Step{
			Cmd{Key: "kill", Args: []string{"kill", "--all", "{id}", "KILL"}}, WaitStatus{Status: "stopped"}, state("state")})},
		&Case{Name: "kill/created", Spec: sleeper, Steps: steps(created(), []Step{kill("KILL"), WaitStatus{Status: "stopped"}, state("state")})},
		&Case{Name: "kill/stopped", Script: "true", Steps: steps(created(), []Step{
			Cmd{Key: "start", Args: []string{"start", "{id}"}}, WaitStatus{Status: "stopped"}, kill("KILL")})},
		&Case{Name: "kill/host-pidns-init-gone", Spec: edits(sleeper, withoutNS(rspec.PIDNamespace)), Steps: steps(started(), []Step{
			execDetached("sleep", "1000"),
			Cmd{Key: "kill-init", Args: []string{"kill", "{id}", "KILL"}}, WaitStatus{Status: "stopped"},
			Cmd{Key: "kill-again", Args: []string{"kill", "{id}", "KILL"}},
			Cmd{Key: "delete", Args: []string{"delete", "{id}"}},
			CgroupFiles{Files: []string{"pids:cgroup.procs"}},
		})},
		&Case{Name: "lifecycle/states", Spec: sleeper, Steps: []Step{
			Cmd{Key: "create", Args: []string{"create", "--bundle", "{bundle}", "{id}"}},
			state("state-created"),
			Cmd{Key: "list-created", Args: []string{"list", "-q"}, Out: OutText},
			Cmd{Key: "start", Args: []string{"start", "{id}"}},
			state("state-running"),
			Cmd{Key: "start-again", Args: []string{"start", "{id}"}},
			Cmd{Key: "delete-running", Args: []string{"delete", "{id}"}},
			Cmd{Key: "kill", Args: []string{"kill", "{id}"}},
			WaitStatus{Status: "stopped"},
			state("state-stopped"),
			Cmd{Key: "start-stopped", Args: []string{"start", "{id}"}},
			Cmd{Key: "delete", Args: []string{"delete", "{id}"}},
			Cmd{Key: "state-deleted", Args: []string{"state", "{id}"}},
		}},
		&Case{Name: "lifecycle/list-formats", Spec: sleeper, Steps: steps(created(), []Step{
			Cmd{Key: "list-json", Args: []string{"list", "--format", "json"}, Out: OutJSON},
			Cmd{Key: "list-table", Args: []string{"list"}, Out: OutPS},
		})},
		&Case{Name: "lifecycle/ps", Spec: sleeper, Steps: steps(started(), []Step{
			Cmd{Key: "ps", Args: []string{"ps", "{id}"}, Out: OutPS},
			Cmd{Key: "ps-json", Args: []string{"ps", "--format", "json", "{id}"}, Out: OutJSONKeys},
			Cmd{Key: "ps-args", Args: []string{"ps", "{id}", "-o", "comm"}, Out: OutPS},
		})},
		&Case{Name: "lifecycle/ps-created", Spec: sleeper, Steps: steps(created(), []Step{Cmd{Key: "ps", Args: []string{"ps", "{id}"}, Out: OutPS}})},
		&Case{Name: "lifecycle/events-stats", Spec: sleeper, Steps: steps(started(), []Step{
			Cmd{Key: "events", Args: []string{"events", "--stats", "{id}"}, Out: OutJSONKeys}})},
		&Case{Name: "lifecycle/pause-resume", Spec: sleeper, Steps: steps(started(), []Step{
			Cmd{Key: "pause", Args: []string{"pause", "{id}"}},
			state("state-paused"),
			Cmd{Key: "pause-again", Args: []string{"pause", "{id}"}},
			Cmd{Key: "exec-paused", Args: []string{"exec", "{id}", "true"}},
			Cmd{Key: "resume", Args: []string{"resume", "{id}"}},
			Cmd{Key: "resume-again", Args: []string{"resume", "{id}"}},
			state("state-resumed"),
		})},
		&Case{Name: "lifecycle/pause-created", Spec: sleeper, Steps: steps(created(), []Step{Cmd{Key: "pause", Args: []string{"pause", "{id}"}}, state("state")})},
		&Case{Name: "lifecycle/delete-force-paused", Spec: sleeper, Steps: steps(started(), []Step{
			Cmd{Key: "pause", Args: []string{"pause", "{id}"}},
			Cmd{Key: "delete", Args: []string{"delete", "--force", "{id}"}},
			Cmd{Key: "state", Args: []string{"state", "{id}"}},
		})},
		&Case{Name: "lifecycle/delete-paused", Spec: sleeper, Steps: steps(started(), []Step{
			Cmd{Key: "pause", Args: []string{"pause", "{id}"}},
			Cmd{Key: "delete", Args: []string{"delete", "{id}"}},
			Cmd{Key: "resume", Args: []string{"resume", "{id}"}},
		})},
		&Case{Name: "lifecycle/delete-created", Spec: sleeper, Steps: steps(created(), []Step{
			Cmd{Key: "delete", Args: []string{"delete", "{id}"}}, Cmd{Key: "state", Args: []string{"state", "{id}"}}})},
		&Case{Name: "lifecycle/run-detach", Spec: sleeper, Steps: []Step{
			Cmd{Key: "run", Args: []string{"run", "--detach", "--bundle", "{bundle}", "{id}"}}, state("state")}},
		&Case{Name: "lifecycle/run-keep", Script: "exit 3", Steps: []Step{
			Cmd{Key: "run", Args: []string{"run", "--keep", "--bundle", "{bundle}", "{id}"}}, state("state")}},
		&Case{Name: "lifecycle/run-removes", Script: "exit 3", Steps: []Step{runStep(), Cmd{Key: "state", Args: []string{"state", "{id}"}}}},
		&Case{Name: "lifecycle/pid-file", Spec: sleeper, Steps: []Step{
			Cmd{Key: "create", Args: []string{"create", "--pid-file", "{dir}/pid", "--bundle", "{bundle}", "{id}"}},
			HostDo{Key: "pid-file", Fn: pidFileMatches("{dir}/pid")}}},
		&Case{Name: "lifecycle/pid-file-relative", Spec: sleeper, Steps: []Step{
			Cmd{Key: "create", Args: []string{"create", "--pid-file", "rel.pid", "--bundle", "{bundle}", "{id}"}},
			HostDo{Key: "pid-file", Fn: pidFileMatches("{dir}/rel.pid")}}},
		&Case{Name: "lifecycle/pidfd-socket-missing", Script: "true", Steps: []Step{
			Cmd{Key: "run", Args: []string{"run", "--pidfd-socket", "{dir}/nosuch.sock", "--bundle", "{bundle}", "{id}"}}}},
		&Case{Name: "lifecycle/console-socket-missing", Script: "true", Spec: func(s *rspec.Spec) { s.Process.Terminal = true }, Steps: []Step{
			Cmd{Key: "run", Args: []string{"run", "--console-socket", "{dir}/nosuch.sock", "--bundle", "{bundle}", "{id}"}}}},
		&Case{Name: "lifecycle/console-socket-without-terminal", Script: "true", Steps: []Step{
			Cmd{Key: "run", Args: []string{"run", "--console-socket", "{dir}/nosuch.sock", "--bundle", "{bundle}", "{id}"}}}},
		&Case{Name: "lifecycle/preserve-fds-not-open", Spec: func(s *rspec.Spec) { s.Process.Args = []string{"/bin/probe", "fds"} }, Steps: []Step{
			Cmd{Key: "run", Args: []string{"run", "--preserve-fds", "2", "--bundle", "{bundle}", "{id}"}, Out: OutProbe}}},
		&Case{Name: "lifecycle/fds-at-create", Spec: func(s *rspec.Spec) { s.Process.Args = []string{"/bin/probe", "fds"} },
			Steps: steps(created(), []Step{Cmd{Key: "start", Args: []string{"start", "{id}"}}, InitOut{}})},
	)
	return cs
}

// pidFileMatches compares the pid file with the state's pid.
func pidFileMatches(path string) func(x *Exec) string {
	return func(x *Exec) string {
		data, err := os.ReadFile(x.B.Fill(path))
		if err != nil {
			return "<missing>"
		}
		if strings.Contains(x.quiet("state", x.B.ID), `"pid": `+strings.TrimSpace(string(data))+",") {
			return "matches state pid; trailing newline " + yesNo(strings.HasSuffix(string(data), "\n"))
		}
		return "differs from state pid: " + string(data)
	}
}

func execDetached(args ...string) Cmd {
	return Cmd{Key: "exec-detached", Args: append([]string{"exec", "-d", "{id}"}, args...)}
}

func execCases() []*Case {
	ex := func(key string, args ...string) Cmd {
		return Cmd{Key: key, Args: append([]string{"exec"}, args...), Out: OutProbe}
	}
	return []*Case{
		{Name: "exec/exit-codes", Spec: sleeper, Steps: steps(started(), []Step{
			ex("exit-3", "{id}", "sh", "-c", "exit 3"),
			ex("signal", "{id}", "sh", "-c", "kill -9 $$"),
			ex("missing-binary", "{id}", "/no/such"),
			ex("not-in-path", "{id}", "nosuch"),
			ex("directory", "{id}", "/tmp"),
			ex("not-executable", "{id}", "/etc/passwd"),
			ex("no-command", "{id}"),
		})},
		{Name: "exec/created-container", Spec: sleeper, Steps: steps(created(), []Step{ex("exec", "{id}", "echo", "hi"), state("state")})},
		{Name: "exec/stopped-container", Script: "true", Steps: steps(created(), []Step{
			Cmd{Key: "start", Args: []string{"start", "{id}"}}, WaitStatus{Status: "stopped"}, ex("exec", "{id}", "echo", "hi")})},
		{Name: "exec/detach-pid-file", Spec: sleeper, Steps: steps(started(), []Step{
			Cmd{Key: "exec", Args: []string{"exec", "-d", "--pid-file", "{dir}/exec.pid", "{id}", "sleep", "1000"}},
			HostDo{Key: "pid-file", Fn: func(x *Exec) string {
				data, err := os.ReadFile(x.B.Fill("{dir}/exec.pid"))
				if err != nil {
					return "<missing>"
				}
				return "present; trailing newline " + yesNo(strings.HasSuffix(string(data), "\n"))
			}},
		})},
		{Name: "exec/tty-without-socket", Spec: sleeper, Steps: steps(started(), []Step{ex("exec", "-t", "{id}", "true")})},
		{Name: "exec/process-json", Spec: sleeper, Files: func(b *Bundle) error {
			return b.WriteFile("{dir}/process.json", `{"args":["sh","-c","echo '=== env'; env; `+pCaps+`"],"cwd":"/tmp","env":["A=1"],"user":{"uid":0,"gid":0}}`, 0o644)
		}, Steps: steps(started(), []Step{ex("exec", "-p", "{dir}/process.json", "{id}")})},
		{Name: "exec/process-json-and-args", Spec: sleeper, Files: func(b *Bundle) error {
			return b.WriteFile("{dir}/process.json", `{"args":["echo","from-json"],"cwd":"/"}`, 0o644)
		}, Steps: steps(started(), []Step{ex("exec", "-p", "{dir}/process.json", "{id}", "echo", "from-args")})},
		{Name: "exec/process-json-no-cwd", Spec: sleeper, Files: func(b *Bundle) error {
			return b.WriteFile("{dir}/process.json", `{"args":["pwd"]}`, 0o644)
		}, Steps: steps(started(), []Step{ex("exec", "-p", "{dir}/process.json", "{id}")})},
		{Name: "exec/cgroup-sub", Spec: sleeper, Steps: steps(started(), []Step{
			HostDo{Fn: func(x *Exec) string {
				return errString(os.Mkdir(cgroupFile(x.B.Cgroup, "pids:sub"), 0o755))
			}},
			ex("exec", "--cgroup", "sub", "{id}", "sh", "-c", pCgroup),
			ex("exec-ctrl", "--cgroup", "pids:sub", "{id}", "sh", "-c", pCgroup),
			ex("exec-missing", "--cgroup", "nosuch", "{id}", "sh", "-c", pCgroup),
		})},
		{Name: "exec/ignore-paused-flag-running", Spec: sleeper, Steps: steps(started(), []Step{ex("exec", "--ignore-paused", "{id}", "echo", "hi")})},
		{Name: "exec/apparmor-flag", Spec: sleeper, Steps: steps(started(), []Step{ex("exec", "--apparmor", "parity", "{id}", "true")})},
		{Name: "exec/process-label-flag", Spec: sleeper, Steps: steps(started(), []Step{ex("exec", "--process-label", "x:y:z:s0", "{id}", "true")})},
		{Name: "exec/preserve-fds", Spec: sleeper, Steps: steps(started(), []Step{ex("exec", "--preserve-fds", "1", "{id}", "/bin/probe", "fds")})},
		{Name: "exec/fds", Spec: sleeper, Steps: steps(started(), []Step{ex("exec", "{id}", "/bin/probe", "fds")})},
		{Name: "exec/stdio", Spec: sleeper, Steps: steps(started(), []Step{ex("exec", "{id}", "sh", "-c",
			"echo '=== stdio'; stat -c '%n %F' -L /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2 2>&1")})},
	}
}
