package seccomp

import (
	"cmp"
	"fmt"
	"slices"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The program has this shape:
//
//	ld arch
//	jeq AUDIT_ARCH_1 -> section 1     (the host's first)
//	jeq AUDIT_ARCH_2 -> section 2
//	ret KILL_THREAD                   (an architecture the filter does not list)
//	section: ld nr
//	         search tree over the syscall number (jge)
//	         rule code of the syscalls that have argument conditions
//	         the section's returns
//
// The search tree partitions the number space of an audit value into
// ranges with one verdict each, so a run of allowed syscalls costs one
// comparison, not one per syscall, and any syscall is decided after about
// log2(ranges) jumps. Its leaves are jumps straight to a return or to rule
// code; keeping each section's returns at its end keeps most jumps short.

// gen lays out the program.
type gen struct {
	asm       assembler
	def       action
	enosys    bool // answer ENOSYS above the profile's largest syscall
	bigEndian bool

	// Per section.
	rets   map[action]label
	order  []action // rets in the order they were asked for
	leaves map[string]label
	code   []target // rule code still to emit, in leaves order
}

// target is what a range of syscall numbers leads to: a plain verdict, or
// rule code for one syscall.
type target struct {
	key    string // equal keys mean interchangeable code
	act    action // when rules is nil
	rules  []rule
	bits32 bool
}

// span is a range of syscall numbers, from lo to the next span's lo.
type span struct {
	lo uint32
	to target
}

func verdict(act action) target {
	return target{key: fmt.Sprintf("ret %#x", uint32(act)), act: act}
}

func (g *gen) program(targets []*archRules) ([]unix.SockFilter, error) {
	// Group the architectures by audit value, which x86_64 and x32 share.
	var sections [][]*archRules
	for _, t := range targets {
		i := slices.IndexFunc(sections, func(s []*archRules) bool { return s[0].audit == t.audit })
		if i < 0 {
			sections = append(sections, []*archRules{t})
			continue
		}
		sections[i] = append(sections[i], t)
	}

	g.asm.ld(offArch)
	starts := make([]label, len(sections))
	for i, s := range sections {
		starts[i] = g.asm.newLabel()
		next := g.asm.newLabel()
		g.asm.jump(opJeq, s[0].audit, starts[i], next)
		g.asm.place(next)
	}
	g.asm.ret(actKillThread)
	for i, s := range sections {
		g.asm.place(starts[i])
		g.section(s)
	}
	return g.asm.assemble()
}

func (g *gen) section(archs []*archRules) {
	g.rets, g.order = map[action]label{}, nil
	g.leaves, g.code = map[string]label{}, nil

	g.asm.ld(offNr)
	spans := g.spans(archs)
	if len(spans) == 1 {
		// One verdict for every number; rule code covers a single
		// number, so this is a plain return.
		g.asm.ret(spans[0].to.act)
		return
	}
	g.tree(spans)
	for _, t := range g.code {
		g.asm.place(g.leaves[t.key])
		g.ruleCode(t)
	}
	for _, act := range g.order {
		g.asm.place(g.rets[act])
		g.asm.ret(act)
	}
}

// spans partitions the 32-bit number space of one audit value. Numbers of
// no listed architecture (x32 numbers when only x86_64 is listed, and the
// other way round) get the bad-architecture verdict, like libseccomp does.
// Numbers above the largest syscall the profile names get ENOSYS when the
// default action is not permissive, as runc's patched filters do: a libc
// probing a syscall newer than the profile (clone3, say) then falls back
// to the old one instead of failing with the default errno.
func (g *gen) spans(archs []*archRules) []span {
	slices.SortFunc(archs, func(a, b *archRules) int { return cmp.Compare(a.first, b.first) })
	var spans []span
	add := func(lo uint64, t target) {
		if n := len(spans); n > 0 && spans[n-1].to.key == t.key {
			return
		}
		spans = append(spans, span{lo: uint32(lo), to: t})
	}
	var next uint64 // first number not yet covered
	for _, a := range archs {
		if uint64(a.first) > next {
			add(next, verdict(actKillThread))
		}
		cur := uint64(a.first)
		enosys := g.enosys && a.named
		if enosys && a.muxZero && a.first == 0 && a.rules[0] == nil {
			// s390 hands syscalls it does not know to syscall 0,
			// which no libc calls otherwise.
			add(0, verdict(actENOSYS))
			cur = 1
		}
		nrs := make([]uint32, 0, len(a.rules))
		for nr := range a.rules {
			nrs = append(nrs, nr)
		}
		slices.Sort(nrs)
		for _, nr := range nrs {
			if uint64(nr) > cur {
				add(cur, verdict(g.def))
			}
			add(uint64(nr), g.leaf(a.arch, a.rules[nr]))
			cur = uint64(nr) + 1
		}
		switch {
		case cur > uint64(a.last):
		case !enosys:
			add(cur, verdict(g.def))
		default:
			if cur <= uint64(a.max) {
				add(cur, verdict(g.def))
			}
			if a.max < a.last {
				add(uint64(a.max)+1, verdict(actENOSYS))
			}
		}
		next = uint64(a.last) + 1
	}
	if next <= 1<<32-1 {
		add(next, verdict(actKillThread))
	}
	return spans
}

// leaf returns the target for a syscall with rules on architecture a.
func (g *gen) leaf(a *arch, rules []rule) target {
	// Rules after an unconditional one never get a say.
	if i := slices.IndexFunc(rules, func(r rule) bool { return len(r.conds) == 0 }); i >= 0 {
		rules = rules[:i+1]
	}
	if len(rules[0].conds) == 0 {
		return verdict(rules[0].act)
	}
	return target{key: fmt.Sprint(a.bits32, rules), rules: rules, bits32: a.bits32}
}

// label returns where the code for t starts, queueing rule code the first
// time it is asked for.
func (g *gen) label(t target) label {
	if t.rules == nil {
		return g.ret(t.act)
	}
	l, ok := g.leaves[t.key]
	if !ok {
		l = g.asm.newLabel()
		g.leaves[t.key] = l
		g.code = append(g.code, t)
	}
	return l
}

// ret returns the label of the section's return of act.
func (g *gen) ret(act action) label {
	l, ok := g.rets[act]
	if !ok {
		l = g.asm.newLabel()
		g.rets[act] = l
		g.order = append(g.order, act)
	}
	return l
}

// tree emits a balanced binary search over spans (at least two), with
// the syscall number in the accumulator. Subtrees follow their parent
// (left first), so every jump goes forward.
func (g *gen) tree(spans []span) {
	mid := len(spans) / 2
	left, right := spans[:mid], spans[mid:]
	sub := func(s []span) label {
		if len(s) == 1 {
			return g.label(s[0].to)
		}
		return g.asm.newLabel()
	}
	ll, rl := sub(left), sub(right)
	g.asm.jump(opJge, right[0].lo, rl, ll)
	if len(left) > 1 {
		g.asm.place(ll)
		g.tree(left)
	}
	if len(right) > 1 {
		g.asm.place(rl)
		g.tree(right)
	}
}

// ruleCode emits the rules of one syscall: the first rule whose conditions
// all hold decides, and the default action applies when none does.
func (g *gen) ruleCode(t target) {
	for i, r := range t.rules {
		if len(r.conds) == 0 {
			g.asm.ret(r.act) // the last rule, see leaf
			return
		}
		fail := g.ret(g.def)
		if i < len(t.rules)-1 {
			fail = g.asm.newLabel()
		}
		for j, c := range r.conds {
			pass := g.ret(r.act)
			if j < len(r.conds)-1 {
				pass = g.asm.newLabel()
			}
			g.cond(c, t.bits32, pass, fail)
			if j < len(r.conds)-1 {
				g.asm.place(pass)
			}
		}
		if i < len(t.rules)-1 {
			g.asm.place(fail)
		}
	}
}

// argOffsets returns where the low and high words of argument i are.
func (g *gen) argOffsets(i uint) (lo, hi uint32) {
	off := uint32(offArgs + 8*i)
	if g.bigEndian {
		return off + 4, off
	}
	return off, off + 4
}

// cond emits a comparison of one argument that goes to pass or fail.
// Arguments are 64-bit, the accumulator 32: the high words decide unless
// they are equal, then the low words do. On 32-bit ABIs only the low word
// is compared, and values are truncated to it, as libseccomp does; so are
// arguments the kernel itself truncates to 32 bits (or 16: umode_t).
func (g *gen) cond(c cond, bits32 bool, pass, fail label) {
	lo, hi := g.argOffsets(c.arg)
	a := &g.asm
	narrow := bits32 || (c.width != 0 && c.width <= 32)
	keep := uint32(1<<32 - 1)
	if c.width == 16 {
		keep = 0xffff
	}
	if c.op == rspec.OpMaskedEqual {
		mask, want := c.value, c.valueTwo
		if !narrow && (mask>>32 != 0 || want>>32 != 0) {
			next := a.newLabel()
			a.ld(hi)
			a.and(uint32(mask >> 32))
			a.jump(opJeq, uint32(want>>32), next, fail)
			a.place(next)
		}
		a.ld(lo)
		if m := uint32(mask) & keep; m != 1<<32-1 {
			a.and(m)
		}
		a.jump(opJeq, uint32(want)&keep, pass, fail)
		return
	}
	if !narrow {
		vhi := uint32(c.value >> 32)
		next := a.newLabel()
		a.ld(hi)
		switch c.op {
		case rspec.OpEqualTo:
			a.jump(opJeq, vhi, next, fail)
		case rspec.OpNotEqual:
			a.jump(opJeq, vhi, next, pass)
		default:
			// Ordering: a greater high word decides for GT/GE and
			// against LT/LE, a smaller one the other way round.
			above, below := pass, fail
			if c.op == rspec.OpLessThan || c.op == rspec.OpLessEqual {
				above, below = fail, pass
			}
			eq := a.newLabel()
			a.jump(opJgt, vhi, above, eq)
			a.place(eq)
			a.jump(opJeq, vhi, next, below)
		}
		a.place(next)
	}
	a.ld(lo)
	v := uint32(c.value)
	if keep != 1<<32-1 {
		a.and(keep)
		v &= keep
	}
	switch c.op {
	case rspec.OpEqualTo:
		a.jump(opJeq, v, pass, fail)
	case rspec.OpNotEqual:
		a.jump(opJeq, v, fail, pass)
	case rspec.OpGreaterThan:
		a.jump(opJgt, v, pass, fail)
	case rspec.OpGreaterEqual:
		a.jump(opJge, v, pass, fail)
	case rspec.OpLessThan:
		a.jump(opJge, v, fail, pass)
	case rspec.OpLessEqual:
		a.jump(opJgt, v, fail, pass)
	}
}
