// Command gen writes the syscall tables of package seccomp: zsyscalls.go
// with the names, and zsyscalls_<arch>_table.go with the numbers (the
// suffix keeps names like _arm.go from reading as build constraints).
//
// libseccomp is the reference: runc resolves syscall names with it, so
// using its tables makes a profile mean the same under husk as under runc.
// The names come from <seccomp-syscalls.h> (every __SNR_ macro) and the
// numbers from scmp_sys_resolver, once per architecture; a negative number
// means "not a syscall on this architecture" (or a libseccomp pseudo
// syscall) and is left out. Both come with Debian's seccomp and
// libseccomp-dev packages.
//
// A libseccomp release lags the kernel, and Docker's default profile
// already allows syscalls newer than the libseccomp that Debian ships
// (mseal, statmount, ...). Without them the filter would answer ENOSYS
// where runc built with a newer libseccomp allows the call, so names that
// libseccomp does not know at all are added from golang.org/x/sys/unix
// (zsysnum_linux_*.go, generated from kernel headers, at the version in
// husk's go.mod). Architectures that x/sys has no table for (x32, n32,
// s390, parisc) get those names through the unified numbering that every
// architecture follows from syscall 424 on: base + generic number, where
// base is the offset of the architecture's clone3 from 435.
//
// Run it with go generate in the package directory.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// arch is one architecture of the tables: its name for scmp_sys_resolver,
// the identifier suffix of its Go table, and the GOARCH whose x/sys table
// supplements libseccomp ("" when x/sys has none).
type arch struct {
	resolver, ident, goarch string
}

var arches = []arch{
	{"x86", "X86", "386"},
	{"x86_64", "X86_64", "amd64"},
	{"x32", "X32", ""},
	{"arm", "ARM", "arm"},
	{"aarch64", "AARCH64", "arm64"},
	{"mips", "MIPS", "mips"},
	{"mipsel", "MIPSEL", "mipsle"},
	{"mips64", "MIPS64", "mips64"},
	{"mipsel64", "MIPSEL64", "mips64le"},
	{"mips64n32", "MIPS64N32", ""},
	{"mipsel64n32", "MIPSEL64N32", ""},
	{"ppc", "PPC", "ppc"},
	{"ppc64", "PPC64", "ppc64"},
	{"ppc64le", "PPC64LE", "ppc64le"},
	{"s390", "S390", ""},
	{"s390x", "S390X", "s390x"},
	{"parisc", "PARISC", ""},
	{"parisc64", "PARISC64", ""},
	{"riscv64", "RISCV64", "riscv64"},
}

const (
	// firstUnified is the first syscall number shared by all
	// architectures (Linux 5.1, pidfd_send_signal).
	firstUnified = 424
	// clone3 is a unified syscall every libseccomp table knows; its
	// number on an architecture gives that architecture's base.
	clone3 = 435
	// genericGoarch has the asm-generic table in x/sys.
	genericGoarch = "arm64"
)

func main() {
	header := flag.String("header", "/usr/include/seccomp-syscalls.h", "libseccomp header listing every syscall name")
	resolver := flag.String("resolver", "scmp_sys_resolver", "libseccomp's scmp_sys_resolver")
	out := flag.String("o", ".", "directory to write the tables to")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("gen: ")

	names, err := headerNames(*header)
	if err != nil {
		log.Fatal(err)
	}
	nums, err := resolveAll(*resolver, names)
	if err != nil {
		log.Fatal(err)
	}
	xsys, xsysVersion, err := xsysTables()
	if err != nil {
		log.Fatal(err)
	}
	libseccomp := slices.Clone(names)
	names = supplement(names, nums, xsys)

	version := "unknown"
	if v, err := exec.Command("pkg-config", "--modversion", "libseccomp").Output(); err == nil {
		version = strings.TrimSpace(string(v))
	}
	source := fmt.Sprintf("libseccomp %s (scmp_sys_resolver) and golang.org/x/sys %s", version, xsysVersion)
	if err := writeNames(filepath.Join(*out, "zsyscalls.go"), source, names); err != nil {
		log.Fatal(err)
	}
	for i, a := range arches {
		if err := writeArch(filepath.Join(*out, "zsyscalls_"+strings.ToLower(a.ident)+"_table.go"), source, a, names, nums[i], libseccomp); err != nil {
			log.Fatal(err)
		}
	}
}

// headerNames returns the sorted syscall names of <seccomp-syscalls.h>.
func headerNames(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range regexp.MustCompile(`#define __SNR_(\w+)`).FindAllSubmatch(b, -1) {
		names = append(names, string(m[1]))
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no __SNR_ names", path)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// resolveAll returns, per architecture, name -> number for the names
// libseccomp knows on it.
func resolveAll(resolver string, names []string) ([]map[string]int32, error) {
	type job struct{ a, n int }
	jobs := make(chan job)
	res := make([][]int64, len(arches))
	for i := range res {
		res[i] = make([]int64, len(names))
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range runtime.NumCPU() * 2 {
		wg.Go(func() {
			for j := range jobs {
				out, err := exec.Command(resolver, "-a", arches[j.a].resolver, names[j.n]).Output()
				var nr int64
				if err == nil {
					nr, err = strconv.ParseInt(strings.TrimSpace(string(out)), 10, 32)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("%s -a %s %s: %v", resolver, arches[j.a].resolver, names[j.n], err)
					}
					mu.Unlock()
					continue
				}
				res[j.a][j.n] = nr
			}
		})
	}
	for a := range arches {
		for n := range names {
			jobs <- job{a, n}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	tables := make([]map[string]int32, len(arches))
	for a := range arches {
		tables[a] = map[string]int32{}
		for n, nr := range res[a] {
			if nr >= 0 {
				tables[a][names[n]] = int32(nr)
			}
		}
		if _, ok := tables[a]["clone3"]; !ok {
			return nil, fmt.Errorf("libseccomp does not know clone3 on %s: too old", arches[a].resolver)
		}
	}
	return tables, nil
}

// xsysTables reads golang.org/x/sys/unix's syscall numbers for every GOARCH
// the architectures name, as lower-case syscall name -> number.
func xsysTables() (map[string]map[string]int32, string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", "golang.org/x/sys").Output()
	if err != nil {
		return nil, "", fmt.Errorf("go list golang.org/x/sys: %v", err)
	}
	dir, version, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	re := regexp.MustCompile(`^\s*SYS_(\w+)\s*=\s*(\d+)`)
	tables := map[string]map[string]int32{}
	goarches := []string{genericGoarch}
	for _, a := range arches {
		if a.goarch != "" {
			goarches = append(goarches, a.goarch)
		}
	}
	for _, g := range goarches {
		f, err := os.Open(filepath.Join(dir, "unix", "zsysnum_linux_"+g+".go"))
		if err != nil {
			return nil, "", err
		}
		t := map[string]int32{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				nr, err := strconv.ParseInt(m[2], 10, 32)
				if err != nil {
					f.Close()
					return nil, "", err
				}
				t[strings.ToLower(m[1])] = int32(nr)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, "", err
		}
		tables[g] = t
	}
	return tables, version, nil
}

// placeholder names x/sys/unix has for table slots that are not syscalls.
var placeholder = regexp.MustCompile(`^(unused\d+|reserved\d+|arch_specific_syscall)$`)

// supplement adds to nums the syscalls libseccomp does not know, and
// returns the extended sorted name list. A name libseccomp knows is never
// touched (libseccomp saying "not on this architecture" is an answer), and
// neither is a number libseccomp already gives another name, which keeps
// x/sys spellings of known syscalls out.
func supplement(names []string, nums []map[string]int32, xsys map[string]map[string]int32) []string {
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
	}
	all := slices.Clone(names)
	for i, a := range arches {
		used := map[int32]bool{}
		for _, nr := range nums[i] {
			used[nr] = true
		}
		add := func(name string, nr int32) {
			if known[name] || used[nr] || placeholder.MatchString(name) {
				return
			}
			nums[i][name] = nr
			used[nr] = true
			if !slices.Contains(all, name) {
				all = append(all, name)
			}
		}
		// Sorted, so that of two x/sys names for one new number the
		// same one wins every time.
		if a.goarch != "" {
			for _, name := range slices.Sorted(maps.Keys(xsys[a.goarch])) {
				add(name, xsys[a.goarch][name])
			}
			continue
		}
		base := nums[i]["clone3"] - clone3
		generic := xsys[genericGoarch]
		for _, name := range slices.Sorted(maps.Keys(generic)) {
			if generic[name] >= firstUnified {
				add(name, base+generic[name])
			}
		}
	}
	slices.Sort(all)
	return all
}

func writeNames(path, source string, names []string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by internal/gen from %s. DO NOT EDIT.\n\n", source)
	b.WriteString("package seccomp\n\n")
	fmt.Fprintf(&b, "// numSyscalls is the number of syscall names known on any architecture.\nconst numSyscalls = %d\n\n", len(names))
	b.WriteString("// syscallNames is sorted; the per-architecture tables are indexed like it.\n")
	b.WriteString("var syscallNames = [numSyscalls]string{\n")
	for _, n := range names {
		fmt.Fprintf(&b, "\t%q,\n", n)
	}
	b.WriteString("}\n")
	return writeGo(path, b.Bytes())
}

func writeArch(path, source string, a arch, names []string, nums map[string]int32, libseccomp []string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by internal/gen from %s. DO NOT EDIT.\n\n", source)
	b.WriteString("package seccomp\n\n")
	fmt.Fprintf(&b, "// sysnums%s holds the %s syscall numbers by syscallNames index, -1 where\n// the syscall does not exist.\n", a.ident, a.resolver)
	fmt.Fprintf(&b, "var sysnums%s = [numSyscalls]int32{\n", a.ident)
	for _, n := range names {
		nr, ok := nums[n]
		switch {
		case !ok:
			fmt.Fprintf(&b, "\t-1, // %s\n", n)
		case !slices.Contains(libseccomp, n):
			fmt.Fprintf(&b, "\t%d, // %s (x/sys)\n", nr, n)
		default:
			fmt.Fprintf(&b, "\t%d, // %s\n", nr, n)
		}
	}
	b.WriteString("}\n")
	return writeGo(path, b.Bytes())
}

func writeGo(path string, src []byte) error {
	src, err := format.Source(src)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return os.WriteFile(path, src, 0o644)
}
