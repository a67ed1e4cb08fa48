package parity

import (
	"fmt"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func init() { caseFamilies = append(caseFamilies, hookCases) }

// hookKinds are the hook lists of runtime-spec 1.3, in lifecycle order;
// inContainer ones have their path resolved in the container.
var hookKinds = []struct {
	name        string
	inContainer bool
	list        func(h *rspec.Hooks) *[]rspec.Hook
}{
	{"prestart", false, func(h *rspec.Hooks) *[]rspec.Hook { return &h.Prestart }},
	{"createRuntime", false, func(h *rspec.Hooks) *[]rspec.Hook { return &h.CreateRuntime }},
	{"createContainer", true, func(h *rspec.Hooks) *[]rspec.Hook { return &h.CreateContainer }},
	{"startContainer", true, func(h *rspec.Hooks) *[]rspec.Hook { return &h.StartContainer }},
	{"poststart", false, func(h *rspec.Hooks) *[]rspec.Hook { return &h.Poststart }},
	{"poststop", false, func(h *rspec.Hooks) *[]rspec.Hook { return &h.Poststop }},
}

// hookScript logs, to hooks.log in {dir}/hooklog (bind-mounted at
// /hooklog in the container), the hook's name, argv[0], environment and
// the state it read on stdin, then exits with code.
func hookScript(code int) string {
	return `d=/hooklog; [ -d $d ] || d={dir}/hooklog; { echo "=== hook $0"; ` +
		`echo "argv0=$(tr '\0' '\n' < /proc/$$/cmdline | head -n1)"; ` +
		`echo "env=$(env | grep -v -E '^(PWD|SHLVL|_|OLDPWD)=' | sort | tr '\n' ' ')"; ` +
		`cat; echo; } >> $d/hooks.log; exit ` + fmt.Sprint(code)
}

// hook builds a hook named name; host hooks run the host's /bin/sh with
// argv[0] "hook-argv0" (so a runtime that replaces argv[0] shows), the
// container's busybox needs argv[0] "sh".
func hook(name string, inContainer bool, code int, env []string) rspec.Hook {
	argv0 := "hook-argv0"
	if inContainer {
		argv0 = "sh"
	}
	return rspec.Hook{Path: "/bin/sh", Args: []string{argv0, "-c", hookScript(code), name}, Env: env}
}

// withHooks adds the hook log directory and mount and applies fn.
func withHooks(fn func(h *rspec.Hooks)) func(*rspec.Spec) {
	return func(s *rspec.Spec) {
		s.Hooks = &rspec.Hooks{}
		fn(s.Hooks)
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/hooklog", Type: "bind", Source: "{dir}/hooklog", Options: []string{"bind"}})
	}
}

func hookLogDir(b *Bundle) error { return b.WriteFile("{dir}/hooklog/.keep", "", 0o644) }

func hookLog() Step {
	return HostFile{Key: "hooks.log", Path: "{dir}/hooklog/hooks.log", Out: OutProbe}
}

func hookCases() []*Case {
	var cs []*Case
	lifecycle := func() []Step {
		return steps(created(), []Step{
			state("state-created"),
			Cmd{Key: "start", Args: []string{"start", "{id}"}},
			WaitStatus{Status: "stopped"},
			state("state-stopped"),
			Cmd{Key: "delete", Args: []string{"delete", "{id}"}},
			hookLog(),
		})
	}
	for _, k := range hookKinds {
		k := k
		cs = append(cs, &Case{Name: "hooks/each/" + k.name, Script: "echo ran",
			Spec: withHooks(func(h *rspec.Hooks) {
				*k.list(h) = []rspec.Hook{hook(k.name, k.inContainer, 0, nil)}
			}), Files: hookLogDir, Steps: lifecycle()})
		cs = append(cs, &Case{Name: "hooks/env-given/" + k.name, Script: "echo ran",
			Spec: withHooks(func(h *rspec.Hooks) {
				*k.list(h) = []rspec.Hook{hook(k.name, k.inContainer, 0, []string{"HOOKVAR=1", "PATH=/usr/bin:/bin"})}
			}), Files: hookLogDir, Steps: lifecycle()})
		for _, which := range []string{"first", "second"} {
			which := which
			cs = append(cs, &Case{Name: "hooks/fail-" + which + "/" + k.name, Script: "echo ran",
				Spec: withHooks(func(h *rspec.Hooks) {
					c1, c2 := 1, 0
					if which == "second" {
						c1, c2 = 0, 1
					}
					*k.list(h) = []rspec.Hook{hook(k.name+"-1", k.inContainer, c1, nil), hook(k.name+"-2", k.inContainer, c2, nil)}
					if k.name != "poststop" {
						h.Poststop = append(h.Poststop, hook("poststop-after-failure", false, 0, nil))
					}
				}), Files: hookLogDir,
				Steps: []Step{runStep(), state("state-after"), hookLog()}})
		}
	}
	allHooks := withHooks(func(h *rspec.Hooks) {
		for _, k := range hookKinds {
			*k.list(h) = []rspec.Hook{hook(k.name, k.inContainer, 0, nil)}
		}
	})
	cs = append(cs,
		&Case{Name: "hooks/all-order-run", Script: "echo ran", Spec: allHooks, Files: hookLogDir, Steps: []Step{runStep(), hookLog()}},
		&Case{Name: "hooks/all-order-lifecycle", Script: "echo ran", Spec: allHooks, Files: hookLogDir, Steps: lifecycle()},
		&Case{Name: "hooks/all-delete-created", Script: "echo ran", Spec: allHooks, Files: hookLogDir,
			Steps: steps(created(), []Step{Cmd{Key: "delete", Args: []string{"delete", "{id}"}}, hookLog()})},
		&Case{Name: "hooks/all-kill-running", Spec: edits(allHooks, sleeper), Files: hookLogDir,
			Steps: steps(started(), []Step{
				Cmd{Key: "kill", Args: []string{"kill", "{id}", "KILL"}},
				WaitStatus{Status: "stopped"},
				Cmd{Key: "delete", Args: []string{"delete", "{id}"}},
				hookLog(),
			})},
		&Case{Name: "hooks/timeout", Script: "echo ran", Files: hookLogDir,
			Spec: withHooks(func(h *rspec.Hooks) {
				t := 1
				h.CreateRuntime = []rspec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "sleep 5"}, Timeout: &t}}
			}), Steps: []Step{runStep(), state("state-after"), hookLog()}},
		&Case{Name: "hooks/timeout-zero", Script: "echo ran", Files: hookLogDir,
			Spec: withHooks(func(h *rspec.Hooks) {
				t := 0
				h.CreateRuntime = []rspec.Hook{{Path: "/bin/true", Timeout: &t}}
			})},
		&Case{Name: "hooks/path-missing", Script: "echo ran", Files: hookLogDir,
			Spec:  withHooks(func(h *rspec.Hooks) { h.CreateRuntime = []rspec.Hook{{Path: "/no/such/hook"}} }),
			Steps: []Step{runStep(), state("state-after")}},
		&Case{Name: "hooks/path-relative", Script: "echo ran", Files: hookLogDir,
			Spec: withHooks(func(h *rspec.Hooks) { h.CreateRuntime = []rspec.Hook{{Path: "true"}} })},
		&Case{Name: "hooks/no-args", Script: "echo ran", Files: hookLogDir,
			Spec: withHooks(func(h *rspec.Hooks) { h.CreateRuntime = []rspec.Hook{{Path: "/bin/true"}} })},
		&Case{Name: "hooks/start-container-seccomp", Script: "echo ran", Files: hookLogDir,
			Spec: edits(withHooks(func(h *rspec.Hooks) {
				h.StartContainer = []rspec.Hook{{Path: "/bin/probe", Args: []string{"probe", "umask=022"}}}
			}), seccompWith(rspec.ActAllow, rspec.LinuxSyscall{Names: []string{"umask"}, Action: rspec.ActKillProcess}))},
		&Case{Name: "hooks/start-container-env", Script: "echo ran", Files: hookLogDir,
			Spec: edits(withHooks(func(h *rspec.Hooks) {
				h.StartContainer = []rspec.Hook{hook("startContainer", true, 0, nil)}
			}), withEnv(path, "PROCVAR=yes")), Steps: []Step{runStep(), hookLog()}},
	)
	return cs
}
