package tests

import (
	"fmt"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestProcess runs one container per case and checks what the process sees.
func TestProcess(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*specs.Spec)
		script string
		want   []string // each must appear in the output
	}{
		{"pid 1", nil, `echo pid=$$; cut -d' ' -f1 /proc/self/stat`, []string{"pid=1\n"}},
		{"hostname", func(s *specs.Spec) { s.Hostname = "box-a" }, `hostname`, []string{"box-a\n"}},
		{"domainname", func(s *specs.Spec) { s.Domainname = "example.test" },
			`cat /proc/sys/kernel/domainname`, []string{"example.test\n"}},
		{"cwd", func(s *specs.Spec) { s.Process.Cwd = "/tmp" }, `pwd`, []string{"/tmp\n"}},
		// Not a spec rule, but runc creates a missing cwd and images rely on it.
		{"cwd created when missing", func(s *specs.Spec) { s.Process.Cwd = "/work/dir" }, `pwd`, []string{"/work/dir\n"}},
		{"env", func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FOO=bar baz", "EMPTY=") },
			`echo "foo=$FOO"; env | grep -c '^EMPTY=$'`, []string{"foo=bar baz\n", "1\n"}},
		{"umask", func(s *specs.Spec) { m := uint32(0o027); s.Process.User.Umask = &m },
			`umask`, []string{"0027"}},
		{"user and groups", func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}}
		}, `grep -E '^(Uid|Gid|Groups):' /proc/self/status; id -u; id -g`,
			[]string{"Uid:\t1000\t1000\t1000\t1000", "Gid:\t1000\t1000\t1000\t1000", "Groups:\t10 20", "\n1000\n1000\n"}},
		{"nofile rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 2048}}
		}, `ulimit -n; grep 'Max open files' /proc/self/limits`, []string{"512\n", "512                  2048"}},
		{"nproc and core rlimits", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NPROC", Soft: 300, Hard: 400}, {Type: "RLIMIT_CORE", Soft: 0, Hard: 0}}
		}, `grep -E 'Max (processes|core file size)' /proc/self/limits`,
			[]string{"Max processes             300                  400", "Max core file size        0                    0"}},
		{"noNewPrivileges on", func(s *specs.Spec) { s.Process.NoNewPrivileges = true },
			`grep NoNewPrivs /proc/self/status`, []string{"NoNewPrivs:\t1"}},
		{"noNewPrivileges off", func(s *specs.Spec) { s.Process.NoNewPrivileges = false },
			`grep NoNewPrivs /proc/self/status`, []string{"NoNewPrivs:\t0"}},
		{"oomScoreAdj", func(s *specs.Spec) { v := 123; s.Process.OOMScoreAdj = &v },
			`cat /proc/self/oom_score_adj`, []string{"123\n"}},
		{"args passed verbatim", func(s *specs.Spec) {
			s.Process.Args = []string{"/bin/echo", "a b", "*", "$HOME"}
		}, "", []string{"a b * $HOME\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "domainname" {
				skipOnRunc(t, "runc 1.1 ignores domainname (added in runc 1.2)")
			}
			mut := []func(*specs.Spec){}
			if tc.script != "" {
				mut = append(mut, shell(tc.script))
			}
			if tc.mutate != nil {
				mut = append([]func(*specs.Spec){tc.mutate}, mut...)
			}
			out := newBundle(t, mut...).output()
			for _, w := range tc.want {
				mustContain(t, "container output", out, w)
			}
		})
	}
}

// TestCapabilities: the five capability sets hold exactly the configured caps.
func TestCapabilities(t *testing.T) {
	// CAP_CHOWN=0, CAP_KILL=5, CAP_NET_BIND_SERVICE=10, CAP_SYS_ADMIN=21.
	set := []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	tests := []struct {
		name string
		caps *specs.LinuxCapabilities
		uid  uint32
		want map[string]string
	}{
		{"chosen set", &specs.LinuxCapabilities{Bounding: set, Effective: set, Permitted: set},
			0, map[string]string{"CapBnd": "0000000000000421", "CapEff": "0000000000000421",
				"CapPrm": "0000000000000421", "CapInh": "0000000000000000", "CapAmb": "0000000000000000"}},
		// As root, exec recomputes permitted and effective from the bounding
		// set; as non-root without ambient caps, nothing survives exec, and
		// inheritable caps must not leak into effective (CVE-2022-29162).
		{"non-root without ambient", &specs.LinuxCapabilities{
			Bounding: append([]string{"CAP_SYS_ADMIN"}, set...), Effective: set, Permitted: set, Inheritable: []string{"CAP_KILL"}},
			1000, map[string]string{"CapBnd": "0000000000200421", "CapInh": "0000000000000020",
				"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "CapAmb": "0000000000000000"}},
		{"ambient for non-root", &specs.LinuxCapabilities{
			Bounding: set, Effective: set, Permitted: set, Inheritable: set, Ambient: []string{"CAP_NET_BIND_SERVICE"}},
			1000, map[string]string{"CapAmb": "0000000000000400", "CapEff": "0000000000000400", "CapPrm": "0000000000000400"}},
		{"none", &specs.LinuxCapabilities{}, 0, map[string]string{"CapBnd": "0000000000000000", "CapEff": "0000000000000000"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := newBundle(t, shell(`cat /proc/self/status`), func(s *specs.Spec) {
				s.Process.Capabilities = tc.caps
				s.Process.User.UID = tc.uid
				s.Process.NoNewPrivileges = false
			}).output()
			got := parseStatus(out)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestPreserveFds: --preserve-fds passes fd 3 (and on) into the container.
func TestPreserveFds(t *testing.T) {
	f, err := os.CreateTemp(baseDir, "fd-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	fmt.Fprint(f, "secret-through-fd3")
	f.Seek(0, 0)
	b := newBundle(t, shell(`cat <&3; echo; ls /proc/self/fd/4 2>/dev/null || echo no-fd4`))
	r := b.runWith(cmdOpts{extra: []*os.File{f}}, "--preserve-fds", "1").mustOK(t)
	mustContain(t, "container output", r.stdout, "secret-through-fd3")
	mustContain(t, "container output", r.stdout, "no-fd4")
}

// TestNoLeakedFds: without --preserve-fds the container sees only 0, 1, 2
// (CVE-2024-21626 was a leaked host fd).
func TestNoLeakedFds(t *testing.T) {
	out := newBundle(t, shell(`ls /proc/self/fd | tr '\n' ' '`)).output()
	// ls itself opens one fd for reading the directory.
	if fds := strings.Fields(out); len(fds) > 4 {
		t.Fatalf("container has fds %v, want only 0 1 2 (+ ls's own)", fds)
	}
}

// TestCwdStaysInRootfs: a cwd with .. components resolves inside the rootfs
// (CVE-2024-21626 let a cwd reach the host).
func TestCwdStaysInRootfs(t *testing.T) {
	b := newBundle(t, shell(`pwd; ls`), func(s *specs.Spec) { s.Process.Cwd = "/../../../../tmp" })
	if err := os.WriteFile(b.Dir+"/rootfs/tmp/marker-in-rootfs", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := b.output()
	mustContain(t, "cwd", out, "marker-in-rootfs")
}

// TestSysctl: sysctls are written even though the default readonlyPaths
// make /proc/sys read-only.
func TestSysctl(t *testing.T) {
	out := newBundle(t, shell(`cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax`), func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.msgmax": "12345"}
	}).output()
	if strings.Fields(out)[0] != "1" || !strings.Contains(out, "12345") {
		t.Fatalf("sysctls not applied inside the container:\n%s", out)
	}
}
