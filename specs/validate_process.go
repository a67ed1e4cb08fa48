package specs

import (
	"errors"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// ValidateProcess checks a process on its own, as `husk exec` receives it;
// errors name file and the field under "process" ("process.args").
func ValidateProcess(p *rspec.Process, file string) error {
	err := checkProcess(p)
	var fe *FieldError
	if errors.As(err, &fe) {
		fe.File = file
	}
	return err
}

func checkProcess(p *rspec.Process) error {
	if p == nil {
		// Only a config for "create" needs a process, but that is the only
		// thing husk loads config.json for.
		return required("process")
	}
	if len(p.Args) == 0 {
		return fieldErrorf("process.args", "required (at least the program to run)")
	}
	for i, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return fieldErrorf(index("process.args", i), "%q contains a NUL byte", a)
		}
	}
	if err := checkEnv("process.env", p.Env); err != nil {
		return err
	}
	if err := checkAbs("process.cwd", p.Cwd); err != nil {
		return err
	}
	if err := checkRlimits(p.Rlimits); err != nil {
		return err
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return fieldErrorf("process.oomScoreAdj", "%d is out of range [-1000, 1000]", *p.OOMScoreAdj)
	}
	if err := checkScheduler(p.Scheduler); err != nil {
		return err
	}
	if err := checkIOPriority(p.IOPriority); err != nil {
		return err
	}
	return checkCPUAffinity(p.ExecCPUAffinity)
}

// checkCPUAffinity parses both lists, at create as at exec (as runc does),
// though only exec applies them.
func checkCPUAffinity(a *rspec.CPUAffinity) error {
	if a == nil {
		return nil
	}
	if _, err := ParseList(a.Initial); err != nil {
		return fieldErrorf("process.execCPUAffinity.initial", "%w", err)
	}
	if _, err := ParseList(a.Final); err != nil {
		return fieldErrorf("process.execCPUAffinity.final", "%w", err)
	}
	return nil
}

func checkRlimits(rl []rspec.POSIXRlimit) error {
	// seen[n] is 1 + the index of the entry that set rlimit n, so that a
	// duplicate can name the entry it clashes with. Resource numbers are
	// below RLIM_NLIMITS (16) on every architecture.
	var seen [len(rlimits)]int
	for i, r := range rl {
		p := index("process.rlimits", i)
		n, ok := RlimitNumber(r.Type)
		if !ok {
			return fieldErrorf(p+".type", "unknown rlimit %q", r.Type)
		}
		if seen[n] != 0 {
			return fieldErrorf(p+".type", "duplicate %s (already set by %s)", r.Type, index("process.rlimits", seen[n]-1))
		}
		seen[n] = i + 1
		if r.Soft > r.Hard {
			return fieldErrorf(p+".soft", "soft limit %d exceeds hard limit %d", r.Soft, r.Hard)
		}
	}
	return nil
}

func checkScheduler(s *rspec.Scheduler) error {
	if s == nil {
		return nil
	}
	switch s.Policy {
	case rspec.SchedOther, rspec.SchedFIFO, rspec.SchedRR, rspec.SchedBatch,
		rspec.SchedISO, rspec.SchedIdle, rspec.SchedDeadline:
	case "":
		return required("process.scheduler.policy")
	default:
		return fieldErrorf("process.scheduler.policy", "unknown policy %q (want SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_ISO, SCHED_IDLE or SCHED_DEADLINE)", s.Policy)
	}
	if s.Nice < -20 || s.Nice > 19 {
		return fieldErrorf("process.scheduler.nice", "%d is out of range [-20, 19]", s.Nice)
	}
	if s.Priority < 0 || s.Priority > 99 {
		return fieldErrorf("process.scheduler.priority", "%d is out of range [0, 99]", s.Priority)
	}
	return nil
}

func checkIOPriority(io *rspec.LinuxIOPriority) error {
	if io == nil {
		return nil
	}
	switch io.Class {
	case rspec.IOPRIO_CLASS_RT, rspec.IOPRIO_CLASS_BE, rspec.IOPRIO_CLASS_IDLE:
	default:
		return fieldErrorf("process.ioPriority.class", "unknown class %q (want IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE)", io.Class)
	}
	if io.Priority < 0 || io.Priority > 7 {
		return fieldErrorf("process.ioPriority.priority", "%d is out of range [0, 7]", io.Priority)
	}
	return nil
}
