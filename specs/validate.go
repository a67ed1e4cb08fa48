package specs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// ValidateStatic checks everything that can be checked without the
// filesystem. It returns the first problem found, as a *FieldError,
// checking fields in the order ociVersion, root, mounts, process,
// hostname, domainname, hooks, linux (within linux, namespaces first).
func ValidateStatic(s *rspec.Spec) error {
	v := validator{}
	return v.spec(s)
}

// Validate is ValidateStatic plus checks against the bundle on disk:
// root.path must be a directory and bind mount sources must exist
// (relative ones are taken relative to the bundle). Filesystem checks run
// in document order with the static ones, so the first error reported is
// still the first one in the file.
func Validate(s *rspec.Spec, bundle string) error {
	v := validator{bundle: bundle, checkFS: true}
	return v.spec(s)
}

// RootfsPath returns the absolute rootfs path: root.path joined to the
// bundle when relative, cleaned.
func RootfsPath(s *rspec.Spec, bundle string) string {
	var p string
	if s != nil && s.Root != nil {
		p = s.Root.Path
	}
	return hostPath(bundle, p)
}

// hostPath resolves a bundle-relative host path. filepath.Abs only
// consults the working directory when the bundle itself is relative.
func hostPath(bundle, p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(bundle, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}

type validator struct {
	bundle  string
	checkFS bool
}

func (v *validator) spec(s *rspec.Spec) error {
	if s == nil {
		return fmt.Errorf("%s: no configuration", configName)
	}
	if err := checkVersion(s.Version); err != nil {
		return err
	}
	if err := v.root(s); err != nil {
		return err
	}
	if err := v.mounts(s); err != nil {
		return err
	}
	if err := checkProcess(s.Process); err != nil {
		return err
	}
	if err := checkUTSName("hostname", s.Hostname, s.Linux); err != nil {
		return err
	}
	if err := checkUTSName("domainname", s.Domainname, s.Linux); err != nil {
		return err
	}
	if err := checkHooks(s.Hooks); err != nil {
		return err
	}
	return checkLinux(s.Linux)
}

func (v *validator) root(s *rspec.Spec) error {
	if s.Root == nil {
		return required("root")
	}
	if s.Root.Path == "" {
		return required("root.path")
	}
	if strings.IndexByte(s.Root.Path, 0) >= 0 {
		return fieldErrorf("root.path", "%q contains a NUL byte", s.Root.Path)
	}
	if !v.checkFS {
		return nil
	}
	p := RootfsPath(s, v.bundle)
	fi, err := os.Stat(p)
	if err != nil {
		return &FieldError{Field: "root.path", Err: statError(p, err)}
	}
	if !fi.IsDir() {
		return fieldErrorf("root.path", "%s: %w", p, syscall.ENOTDIR)
	}
	// As runc: the rootfs must be named by its real path. A symlink in
	// root.path (the bundle directory itself is taken by its real path,
	// as runc, which runs in it, sees it) would make the rootfs depend on
	// where the link points when it is read.
	want := filepath.Clean(s.Root.Path)
	if !filepath.IsAbs(want) {
		bundle, err := filepath.EvalSymlinks(hostPath(v.bundle, ""))
		if err != nil {
			return &FieldError{Field: "root.path", Err: statError(v.bundle, err)}
		}
		want = filepath.Join(bundle, want)
	}
	if real, err := filepath.EvalSymlinks(want); err != nil {
		return &FieldError{Field: "root.path", Err: statError(want, err)}
	} else if real != want {
		return fieldErrorf("root.path", "%s: is a symlink or has one in its path (to %s); name the rootfs by its real path", want, real)
	}
	return nil
}

func (v *validator) mounts(s *rspec.Spec) error {
	for i, m := range s.Mounts {
		p := index("mounts", i)
		// A relative destination is taken relative to the container's
		// root (runc, too, accepts it with a warning: see the planner).
		if err := checkPath(p+".destination", m.Destination); err != nil {
			return err
		}
		// The options make a bind, whatever the type ("bind" without
		// them is a filesystem type the kernel does not know), as runc.
		bind := slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
		if m.Type == "" && !bind {
			return fieldErrorf(p+".type", `required unless options contain "bind" or "rbind"`)
		}
		if err := v.mountSource(p+".source", m.Source, bind, s); err != nil {
			return err
		}
		for j, o := range m.Options {
			if o == "" {
				return fieldErrorf(index(p+".options", j), "empty mount option")
			}
		}
		if err := checkMappings(p+".uidMappings", m.UIDMappings); err != nil {
			return err
		}
		if err := checkMappings(p+".gidMappings", m.GIDMappings); err != nil {
			return err
		}
	}
	return nil
}

func (v *validator) mountSource(field, src string, bind bool, s *rspec.Spec) error {
	if strings.IndexByte(src, 0) >= 0 {
		return fieldErrorf(field, "%q contains a NUL byte", src)
	}
	if !bind {
		// Sources of other mounts are interpreted by the filesystem
		// ("proc", "tmpfs", a device, overlay options...).
		return nil
	}
	if src == "" {
		return fieldErrorf(field, "required for bind mounts")
	}
	if !v.checkFS {
		return nil
	}
	p := hostPath(v.bundle, src)
	if InRootfs(s, v.bundle, p) {
		// Resolved inside the container's root when it is mounted, after
		// the mounts before it: it may not exist yet.
		return nil
	}
	if _, err := os.Stat(p); err != nil {
		return &FieldError{Field: field, Err: statError(p, err)}
	}
	return nil
}

// InRootfs tells whether the host path p (absolute, clean) lies inside
// the container's rootfs: a bind mount's source there is resolved in the
// container's root, after the mounts listed before it.
func InRootfs(s *rspec.Spec, bundle, p string) bool {
	root := RootfsPath(s, bundle)
	return p == root || strings.HasPrefix(p, root+"/")
}

// statError drops the "stat" verb of a *fs.PathError: users care about
// the path and the reason, not the syscall. The errno stays wrapped so
// errors.Is(err, fs.ErrNotExist) keeps working.
func statError(p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %w", p, err)
}

// checkPath requires p to be a non-empty path without NUL bytes, which
// the kernel would silently truncate at.
func checkPath(field, p string) error {
	switch {
	case p == "":
		return required(field)
	case strings.IndexByte(p, 0) >= 0:
		return fieldErrorf(field, "%q contains a NUL byte", p)
	}
	return nil
}

// checkAbs requires p to be a non-empty absolute path without NUL bytes,
// which the kernel would silently truncate at.
func checkAbs(field, p string) error {
	switch {
	case p == "":
		return required(field)
	case strings.IndexByte(p, 0) >= 0:
		return fieldErrorf(field, "%q contains a NUL byte", p)
	case !path.IsAbs(p):
		return fieldErrorf(field, "%q is not an absolute path", p)
	}
	return nil
}

func checkUTSName(field, name string, l *rspec.Linux) error {
	if name == "" {
		return nil
	}
	// A joined UTS namespace is allowed, as runc allows it: the name is set
	// in the namespace joined. Only the host's own is off limits.
	if ns := namespace(l, rspec.UTSNamespace); ns == nil {
		return fieldErrorf(field, `requires a private UTS namespace (add {"type":"uts"} to linux.namespaces)`)
	}
	return nil
}

// namespace returns the first entry of the given type in linux.namespaces.
func namespace(l *rspec.Linux, t rspec.LinuxNamespaceType) *rspec.LinuxNamespace {
	if l == nil {
		return nil
	}
	for i := range l.Namespaces {
		if l.Namespaces[i].Type == t {
			return &l.Namespaces[i]
		}
	}
	return nil
}

func checkHooks(h *rspec.Hooks) error {
	if h == nil {
		return nil
	}
	kinds := [...]struct {
		name  string
		hooks []rspec.Hook
	}{
		{"prestart", h.Prestart},
		{"createRuntime", h.CreateRuntime},
		{"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer},
		{"poststart", h.Poststart},
		{"poststop", h.Poststop},
	}
	for _, k := range kinds {
		for i, hook := range k.hooks {
			p := index("hooks."+k.name, i)
			if err := checkAbs(p+".path", hook.Path); err != nil {
				return err
			}
			if err := checkEnv(p+".env", hook.Env); err != nil {
				return err
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				return fieldErrorf(p+".timeout", "must be a positive number of seconds, got %d", *hook.Timeout)
			}
		}
	}
	return nil
}

// checkEnv requires NAME=value entries: execve would pass anything else
// through and the program would see a variable it can never look up.
func checkEnv(field string, env []string) error {
	for i, e := range env {
		eq := strings.IndexByte(e, '=')
		switch {
		case eq < 0:
			return fieldErrorf(index(field, i), "%q is not of the form NAME=value", e)
		case eq == 0:
			return fieldErrorf(index(field, i), "%q has an empty variable name", e)
		case strings.IndexByte(e, 0) >= 0:
			return fieldErrorf(index(field, i), "%q contains a NUL byte", e)
		}
	}
	return nil
}
