package validate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/libcontainer/specdefault"
)

// Benchmarks of create's first step: read config.json, decode it and
// validate it. The config is `rt spec`'s default with the changes make
// bench makes (no terminal, /bin/true, an absolute cgroupsPath).

func benchSpec() *specs.Spec {
	s := specdefault.Example()
	s.Process.Terminal = false
	s.Process.Args = []string{"/bin/true"}
	s.Linux.CgroupsPath = "/rt-bench/c"
	return s
}

// benchBundle writes s as the config.json of a new bundle with an empty
// rootfs directory and returns the bundle and the document.
func benchBundle(b *testing.B, s *specs.Spec) (string, []byte) {
	b.Helper()
	dir := b.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		b.Fatal(err)
	}
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir, data
}

// BenchmarkLoad reads and decodes config.json.
func BenchmarkLoad(b *testing.B) {
	dir, _ := benchBundle(b, benchSpec())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode decodes the document alone, without the file system.
func BenchmarkDecode(b *testing.B) {
	_, data := benchBundle(b, benchSpec())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeSeccomp decodes a config with a 300-rule seccomp profile,
// the size of a Docker-style allow-list: decoding grows with the profile.
func BenchmarkDecodeSeccomp(b *testing.B) {
	s := benchSpec()
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86_64}}
	for i := range 300 {
		s.Linux.Seccomp.Syscalls = append(s.Linux.Seccomp.Syscalls,
			specs.LinuxSyscall{Names: []string{fmt.Sprintf("syscall%d", i)}, Action: specs.ActAllow})
	}
	_, data := benchBundle(b, s)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpec validates the decoded default spec (it stats the rootfs).
func BenchmarkSpec(b *testing.B) {
	dir, _ := benchBundle(b, benchSpec())
	s, err := Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Spec(s, dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadAndSpec is the whole config step of create.
func BenchmarkLoadAndSpec(b *testing.B) {
	dir, _ := benchBundle(b, benchSpec())
	b.ReportAllocs()
	for b.Loop() {
		s, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := Spec(s, dir); err != nil {
			b.Fatal(err)
		}
	}
}
