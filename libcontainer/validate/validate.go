// Package validate checks an OCI runtime config (runtime-spec 1.3) before
// create does anything, so that a bad config fails with the JSON path of the
// field at fault and the reason, and leaves nothing behind.
//
// Where runc is stricter than the spec and the spec allows a config, the spec
// is followed; each deliberate deviation is marked "Deviation" in a comment.
package validate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Error is a rule a config breaks: Field is the JSON path of the field at fault
// ("mounts[2].destination"), Err why.
type Error struct {
	Field string
	Err   error
}

func (e *Error) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the reason, so errors.Is(err, os.ErrNotExist) works.
func (e *Error) Unwrap() error { return e.Err }

func errf(field, format string, a ...any) error {
	return &Error{Field: field, Err: fmt.Errorf(format, a...)}
}

// Spec checks everything in s that create must reject before it does anything.
// bundle is the bundle directory: relative root.path and bind-mount sources
// are resolved against it. It returns the first rule broken, as an *Error.
func Spec(s *specs.Spec, bundle string) error {
	if s == nil {
		return errors.New("config: empty")
	}
	ns := newNamespaces(s.Linux)
	checks := []func() error{
		func() error { return ociVersion(s.Version) },
		func() error { return root(s.Root, bundle) },
		// Namespaces first: later rules depend on them.
		func() error { return linuxNamespaces(ns.list) },
		func() error { return process(s.Process) },
		func() error { return hostnames(s, ns) },
		func() error { return mounts(s.Mounts, bundle, ns) },
		func() error { return hooks(s.Hooks) },
		func() error { return annotations(s.Annotations) },
		func() error { return linux(s.Linux, ns) },
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return unsupported(s)
}

func ociVersion(v string) error {
	if v == "" {
		return errf("ociVersion", "required")
	}
	major, ok := semverMajor(v)
	if !ok {
		return errf("ociVersion", "%q is not a SemVer 2.0.0 version", v)
	}
	// Versions keep compatibility within a major version only.
	if major != "1" {
		return errf("ociVersion", "%q: only version 1.x of the runtime spec is supported", v)
	}
	return nil
}

// semverMajor reports whether v is a SemVer 2.0.0 version
// (https://semver.org: MAJOR.MINOR.PATCH, then an optional -pre-release and
// +build) and returns its major version. Written out rather than as the
// spec's regular expression: compiling and running that costs every create
// ~60 KB of heap (TestSemverMatchesRegexp compares the two).
func semverMajor(v string) (major string, ok bool) {
	core, build, hasBuild := strings.Cut(v, "+")
	if hasBuild && !identifiers(build, false) {
		return "", false
	}
	core, pre, hasPre := strings.Cut(core, "-")
	if hasPre && !identifiers(pre, true) {
		return "", false
	}
	nums := strings.Split(core, ".")
	if len(nums) != 3 {
		return "", false
	}
	for _, n := range nums {
		if !numeric(n) {
			return "", false
		}
	}
	return nums[0], true
}

// numeric is a SemVer numeric identifier: 0, or digits without a leading 0.
func numeric(s string) bool {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// identifiers checks a dot-separated pre-release (pre) or build list: each
// identifier is non-empty [0-9A-Za-z-]; in a pre-release an all-digit one
// is also numeric (no leading 0).
func identifiers(s string, pre bool) bool {
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return false
		}
		digits := true
		for i := 0; i < len(id); i++ {
			switch c := id[i]; {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				digits = false
			default:
				return false
			}
		}
		if pre && digits && !numeric(id) {
			return false
		}
	}
	return true
}

func root(r *specs.Root, bundle string) error {
	if r == nil {
		return errf("root", "required")
	}
	if r.Path == "" {
		return errf("root.path", "required")
	}
	p := r.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(bundle, p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return &Error{Field: "root.path", Err: statErr(p, err)}
	}
	if !fi.IsDir() {
		return errf("root.path", "%s: not a directory", p)
	}
	return nil
}

// statErr turns "stat /b/rootfs: no such file or directory" into
// "/b/rootfs: no such file or directory", keeping the wrapped errno.
func statErr(p string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", p, pe.Err)
	}
	return err
}

// hostnames requires a UTS namespace for hostname and domainname.
// Deviation: config.md says only that the container's UTS namespace "may be
// the runtime UTS namespace"; like runc and crun we refuse, because setting
// these there would rename the host.
func hostnames(s *specs.Spec, ns namespaces) error {
	for _, f := range []struct{ field, value string }{{"hostname", s.Hostname}, {"domainname", s.Domainname}} {
		if f.value == "" {
			continue
		}
		if _, ok := ns.index[specs.UTSNamespace]; !ok {
			return errf(f.field, "needs a uts namespace (linux.namespaces has none; setting it would change the host's %s)", f.field)
		}
		// The kernel's limit (__NEW_UTS_LEN); longer values fail with EINVAL.
		if len(f.value) > 64 {
			return errf(f.field, "%d bytes is longer than the kernel's limit of 64", len(f.value))
		}
	}
	return nil
}

func hooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	lists := []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart}, //nolint:staticcheck // deprecated, still honoured
		{"createRuntime", h.CreateRuntime},
		{"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer},
		{"poststart", h.Poststart},
		{"poststop", h.Poststop},
	}
	for _, l := range lists {
		for i, hk := range l.hooks {
			f := fmt.Sprintf("hooks.%s[%d]", l.name, i)
			if hk.Path == "" {
				return errf(f+".path", "required")
			}
			if !filepath.IsAbs(hk.Path) {
				return errf(f+".path", "must be an absolute path, got %q", hk.Path)
			}
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				return errf(f+".timeout", "must be greater than 0, got %d", *hk.Timeout)
			}
			if err := envList(f+".env", hk.Env); err != nil {
				return err
			}
		}
	}
	return nil
}

func annotations(a map[string]string) error {
	if _, ok := a[""]; ok {
		return errf("annotations", "keys must not be empty")
	}
	return nil
}

// envList checks "KEY=VALUE" entries the way execve and runc need them.
func envList(field string, env []string) error {
	for i, e := range env {
		f := fmt.Sprintf("%s[%d]", field, i)
		k, _, ok := strings.Cut(e, "=")
		switch {
		case !ok:
			return errf(f, "%q must have the form KEY=VALUE", e)
		case k == "":
			return errf(f, "%q has an empty name", e)
		case strings.IndexByte(e, 0) >= 0:
			return errf(f, "contains a NUL byte")
		}
	}
	return nil
}

// absPath checks a required absolute path.
func absPath(field, p string) error {
	if p == "" {
		return errf(field, "required")
	}
	if !filepath.IsAbs(p) {
		return errf(field, "must be an absolute path, got %q", p)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return errf(field, "contains a NUL byte")
	}
	return nil
}
