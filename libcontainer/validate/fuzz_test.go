package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/libcontainer/specdefault"
)

// Fuzz targets for hostile config.json input (issue 6, item 4). The seed
// corpus in testdata/fuzz/FuzzSpec holds `rt spec`'s default, the rootless
// default, a seccomp profile, and configs full of odd paths; run with
//
//	go test -run '^$' -fuzz '^FuzzSpec$' -fuzztime 60s ./libcontainer/validate

// fieldPath is how a config error starts: the JSON path of the field at
// fault, then ": " (`linux.sysctl["net.x"]`, `mounts[2].destination`).
var fieldPath = regexp.MustCompile(`^[a-zA-Z]+(\.[a-zA-Z]+|\[[0-9]+\]|\["(\\.|[^"\\])*"\])*: `)

// fuzzBundle is a bundle with a rootfs directory and a plain file, as
// validate_test.go's bundle but for a *testing.F too.
func fuzzBundle(tb testing.TB) string {
	tb.Helper()
	b := tb.TempDir()
	if err := os.Mkdir(filepath.Join(b, "rootfs"), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "file"), nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	return b
}

// checkSpecErr asserts that err, returned by Spec, names the field at fault.
func checkSpecErr(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	var ve *Error
	if errors.As(err, &ve) {
		if ve.Field == "" || ve.Err == nil {
			t.Fatalf("validate.Error without a field or a reason: %#v", ve)
		}
		if !fieldPath.MatchString(ve.Field + ": ") {
			t.Fatalf("validate.Error field %q is not a JSON path", ve.Field)
		}
		if msg != ve.Field+": "+ve.Err.Error() {
			t.Fatalf("error %q does not start with its field %q", msg, ve.Field)
		}
		return
	}
	// linux.seccomp is checked by the seccomp package, whose errors are
	// plain but still start with the field (see TestSpecSeccompErrorType).
	if !strings.HasPrefix(msg, "linux.seccomp.") || !fieldPath.MatchString(msg) {
		t.Fatalf("error does not name a field: %q (%T)", msg, err)
	}
}

// FuzzSpec decodes config.json bytes and validates them against a bundle.
// Invariants: Decode and Spec never panic; Spec does not change the spec and
// gives the same answer twice; every Spec error names its field; a config
// that passes survives a JSON round trip and passes again, unchanged; and
// what passes obeys the rules that keep paths inside their roots.
func FuzzSpec(f *testing.F) {
	for _, s := range []*specs.Spec{specdefault.Example(), rootlessExample()} {
		b, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`null`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"ociVersion":"1.2.0","root":{"path":"rootfs"}}`))
	bundle := fuzzBundle(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return // Load refuses more than MaxConfigSize; keep runs fast
		}
		s, err := Decode(data)
		if err != nil {
			if s != nil || err.Error() == "" {
				t.Fatalf("Decode: spec %v with error %q", s, err)
			}
			return
		}
		before, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("a decoded spec does not marshal: %v", err)
		}
		err1 := Spec(s, bundle)
		after, _ := json.Marshal(s)
		if !bytes.Equal(before, after) {
			t.Fatalf("Spec changed the spec:\nbefore %s\nafter  %s", before, after)
		}
		err2 := Spec(s, bundle)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("Spec is not deterministic: %v, then %v", err1, err2)
		}
		if err1 != nil {
			checkSpecErr(t, err1)
			return
		}
		s2, err := Decode(before)
		if err != nil {
			t.Fatalf("a valid config does not decode after a round trip: %v\n%s", err, before)
		}
		if err := Spec(s2, bundle); err != nil {
			t.Fatalf("a valid config is invalid after a round trip: %v\n%s", err, before)
		}
		again, _ := json.Marshal(s2)
		if !bytes.Equal(before, again) {
			t.Fatalf("round trip changed the config:\n%s\n%s", before, again)
		}
		checkAccepted(t, s)
	})
}

// checkAccepted asserts what an accepted config guarantees to create.
func checkAccepted(t *testing.T, s *specs.Spec) {
	t.Helper()
	noNUL := func(field, v string) {
		if strings.IndexByte(v, 0) >= 0 {
			t.Fatalf("accepted %s with a NUL byte: %q", field, v)
		}
	}
	abs := func(field, v string) {
		if !filepath.IsAbs(v) {
			t.Fatalf("accepted a relative %s: %q", field, v)
		}
		noNUL(field, v)
	}
	if s.Root == nil || s.Root.Path == "" {
		t.Fatal("accepted a config without root.path")
	}
	if p := s.Process; p != nil {
		if len(p.Args) == 0 || p.Args[0] == "" {
			t.Fatalf("accepted process.args %q", p.Args)
		}
		abs("process.cwd", p.Cwd)
		for _, e := range p.Env {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				t.Fatalf("accepted env entry %q", e)
			}
			noNUL("process.env", e)
		}
	}
	for _, m := range s.Mounts {
		if m.Destination == "" {
			t.Fatal("accepted a mount without destination")
		}
		noNUL("mount destination", m.Destination)
	}
	if l := s.Linux; l != nil {
		if slicesContains(strings.Split(l.CgroupsPath, "/"), "..") || strings.ContainsAny(l.CgroupsPath, "\x00\n") {
			t.Fatalf("accepted linux.cgroupsPath %q", l.CgroupsPath)
		}
		for _, p := range l.MaskedPaths {
			abs("linux.maskedPaths", p)
		}
		for _, p := range l.ReadonlyPaths {
			abs("linux.readonlyPaths", p)
		}
		for _, d := range l.Devices {
			abs("linux.devices path", d.Path)
			if filepath.Clean(d.Path) == "/" {
				t.Fatalf("accepted device path %q", d.Path)
			}
		}
		for k := range l.Sysctl {
			if k == "kernel.hostname" || strings.ContainsAny(k, "\x00\n") {
				t.Fatalf("accepted sysctl %q", k)
			}
		}
	}
	if h := s.Hooks; h != nil {
		for _, l := range [][]specs.Hook{h.Prestart, h.CreateRuntime, h.CreateContainer, h.StartContainer, h.Poststart, h.Poststop} { //nolint:staticcheck // prestart is still honoured
			for _, hk := range l {
				abs("hook path", hk.Path)
			}
		}
	}
}

func slicesContains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func rootlessExample() *specs.Spec {
	s := specdefault.Example()
	specdefault.ToRootless(s)
	return s
}

// TestSpecHostile runs configs an attacker (or a careless generator) could
// hand rt: huge, deeply nested, and full of odd paths. Each is rejected with
// an error naming the field, or accepted and consistent (FuzzSpec's checks).
func TestSpecHostile(t *testing.T) {
	b := fuzzBundle(t)
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		raw    func(doc []byte) []byte // applied to the marshalled config
		field  string                  // "" means accepted
	}{
		{name: "default", field: ""},
		{name: "nesting past encoding/json's limit", raw: func(d []byte) []byte {
			return append([]byte(`{"x":`+deep(10001)+`,`), d[1:]...)
		}, field: "decode"},
		{name: "deep nesting in an unknown field is ignored", raw: func(d []byte) []byte {
			return append([]byte(`{"x":`+deep(9000)+`,`), d[1:]...)
		}},
		{name: "nested value where a string belongs", raw: func(d []byte) []byte {
			return append([]byte(`{"hostname":`+deep(100)+`,`), d[1:]...)
		}, field: "decode"},
		{name: "100000 mounts", mutate: func(s *specs.Spec) {
			for i := 0; i < 100000; i++ {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp/x", Type: "tmpfs", Source: "tmpfs"})
			}
		}},
		{name: "1 MiB hostname", mutate: func(s *specs.Spec) { s.Hostname = strings.Repeat("h", 1<<20) }, field: "hostname"},
		{name: "1 MiB arg", mutate: func(s *specs.Spec) { s.Process.Args = []string{strings.Repeat("a", 1<<20)} }},
		{name: "cgroupsPath escaping with ..", mutate: func(s *specs.Spec) { s.Linux.CgroupsPath = "/a/../../../x" }, field: "linux.cgroupsPath"},
		{name: "cgroupsPath relative ..", mutate: func(s *specs.Spec) { s.Linux.CgroupsPath = "../x" }, field: "linux.cgroupsPath"},
		{name: "cgroupsPath with a newline", mutate: func(s *specs.Spec) { s.Linux.CgroupsPath = "/a\n/b" }, field: "linux.cgroupsPath"},
		{name: "cwd ../", mutate: func(s *specs.Spec) { s.Process.Cwd = "../" }, field: "process.cwd"},
		{name: "cwd with NUL", mutate: func(s *specs.Spec) { s.Process.Cwd = "/a\x00b" }, field: "process.cwd"},
		{name: "mount destination with NUL", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/a\x00/b", Type: "tmpfs"})
		}, field: "mounts[7].destination"},
		// Destinations are resolved inside the rootfs by rootfs (openat2
		// RESOLVE_IN_ROOT), so validate accepts them; FuzzPreparePlan checks
		// that they stay inside.
		{name: "mount destination ../../etc", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "../../etc", Type: "tmpfs", Source: "tmpfs"})
		}},
		{name: "mount destination /proc/self/root/etc", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/self/root/etc", Type: "tmpfs", Source: "tmpfs"})
		}},
		{name: "bind source that does not exist", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "../../no/such/dir", Options: []string{"rbind"}})
		}, field: "mounts[7].source"},
		{name: "bind source /proc/self/exe", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/proc/self/exe", Options: []string{"bind"}})
		}},
		{name: "root.path is a file", mutate: func(s *specs.Spec) { s.Root.Path = "file" }, field: "root.path"},
		{name: "root.path missing via ..", mutate: func(s *specs.Spec) { s.Root.Path = "../../../no-such-rootfs-rt" }, field: "root.path"},
		{name: "masked path relative", mutate: func(s *specs.Spec) { s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "proc/kcore") }, field: "linux.maskedPaths[11]"},
		{name: "masked path /proc/self/…", mutate: func(s *specs.Spec) { s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/proc/self/mem") }},
		{name: "readonly path ../", mutate: func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"../etc"} }, field: "linux.readonlyPaths[0]"},
		{name: "device at the rootfs itself", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/../", Type: "c", Major: 1, Minor: 3}}
		}, field: "linux.devices[0].path"},
		{name: "device with .. inside", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/../../../etc/shadow", Type: "c", Major: 1, Minor: 3}}
		}},
		{name: "duplicate device after cleaning", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c"}, {Path: "/dev//x/.", Type: "c"}}
		}, field: "linux.devices[1].path"},
		{name: "sysctl escaping with /..", mutate: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net/../kernel/core_pattern": "|/x"} }, field: `linux.sysctl["net/../kernel/core_pattern"]`},
		{name: "sysctl kernel.core_pattern", mutate: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.core_pattern": "|/x"} }, field: `linux.sysctl["kernel.core_pattern"]`},
		{name: "namespace path relative", mutate: func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "../ns/pid" }, field: "linux.namespaces[0].path"},
		{name: "net sysctl in the host's network namespace", mutate: func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = "/proc/self/ns/net"
				}
			}
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, field: `linux.sysctl["net.ipv4.ip_forward"]`},
		{name: "hook path relative", mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "../../bin/sh"}}}
		}, field: "hooks.createRuntime[0].path"},
		{name: "intelRdt closID escaping", mutate: func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "../x"} }, field: "linux.intelRdt.closID"},
		{name: "annotation with empty key", mutate: func(s *specs.Spec) { s.Annotations = map[string]string{"": "x"} }, field: "annotations"},
		{name: "env with NUL", mutate: func(s *specs.Spec) { s.Process.Env = []string{"A=b\x00c"} }, field: "process.env[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := specdefault.Example()
			if tc.mutate != nil {
				tc.mutate(s)
			}
			doc, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if tc.raw != nil {
				doc = tc.raw(doc)
			}
			s, err = Decode(doc)
			if tc.field == "decode" {
				if err == nil {
					t.Fatal("Decode accepted it")
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			err = Spec(s, b)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				checkAccepted(t, s)
				return
			}
			if err == nil {
				t.Fatalf("accepted, want an error naming %s", tc.field)
			}
			checkSpecErr(t, err)
			if !strings.HasPrefix(err.Error(), tc.field+": ") {
				t.Fatalf("error %q does not name %s", err, tc.field)
			}
		})
	}
}

// TestSpecSeccompErrorType pins down how Spec reports a bad linux.seccomp:
// the message names the field, but the error is not a *validate.Error
// (seccomp.Check returns plain errors), although Spec's doc comment
// promises one. Found while writing FuzzSpec's error check; known, reported
// in the issue 6 fuzzing note.
func TestSpecSeccompErrorType(t *testing.T) {
	s := specdefault.Example()
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_VAX"}}
	err := Spec(s, fuzzBundle(t))
	if err == nil || !strings.HasPrefix(err.Error(), "linux.seccomp.architectures[0]: ") {
		t.Fatalf("got %v, want an error naming linux.seccomp.architectures[0]", err)
	}
	var ve *Error
	if !errors.As(err, &ve) {
		t.Fatalf("%T is not a *validate.Error, as Spec's doc promises", err)
	}
}
