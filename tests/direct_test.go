package tests

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rt has two ways to set up a container for `run`: the init re-exec path
// (a sealed rt process in the container's namespaces builds the root
// filesystem and execs the program) and, when nothing has to run between
// create and start, the direct path (a thread of rt builds it, and an exec
// trampoline with no Go runtime is PID 1 until it execs the program). A
// createContainer hook makes a container take the re-exec path.

// containerFacts prints what the container's process (the shell, PID 1) sees of everything
// init sets up, without anything that differs from run to run (mount ids,
// times, the pids of the shell's children).
const containerFacts = `
grep -E '^(Name|Umask|State|Uid|Gid|Groups|NStgid|NSpid|Cap[A-Za-z]+|NoNewPrivs|Seccomp|Seccomp_filters|Sig(Blk|Ign|Cgt)|Cpus_allowed_list):' /proc/1/status
echo cwd=$(pwd) home=$HOME pid=$$
hostname; cat /proc/sys/kernel/domainname
cat /proc/self/cgroup
cat /proc/self/limits
cat /proc/self/oom_score_adj /proc/self/personality
cat /proc/sys/net/ipv4/ip_unprivileged_port_start
cut -d' ' -f4- /proc/self/mountinfo | sort
stat -c '%n %f %t:%T %u:%g' /dev/* | sort
ls /proc/1/fd; readlink /proc/1/exe /proc/1/root /proc/1/cwd
cat /proc/1/cmdline | tr '\0' ' '; echo
env | sort
`

// directFacts are the facts of a container run as the user 1000 with extra
// groups, a umask, a cwd the user owns, capabilities in every set
// (ambient too), a sysctl, oomScoreAdj, a personality, a domainname and a
// cgroup namespace.
func directFacts(s *specs.Spec) {
	s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 6}, Umask: ptr(uint32(0o027))}
	s.Process.Cwd = "/tmp/wd"
	caps := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"}
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps[:2], Permitted: caps[:2],
		Inheritable: caps[:2], Ambient: []string{"CAP_NET_BIND_SERVICE"}}
	s.Process.OOMScoreAdj = ptr(100)
	s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_CORE", Hard: 0, Soft: 0})
	s.Domainname = "rt.example"
	s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_unprivileged_port_start": "555"}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
}

func ptr[T any](v T) *T { return &v }

// reexecPath makes a container take the re-exec path: a createContainer
// hook (which runs in the container's namespaces and changes nothing).
func reexecPath(s *specs.Spec) {
	s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}}
}

// runDebug runs b in the foreground with rt's debug log, which says which
// path its init took.
func runDebug(t *testing.T, b *bundle) result {
	t.Helper()
	return rt(t, "--debug", "run", "--bundle", b.Dir, b.ID)
}

// TestDirectInitMatchesInit: the direct path gives the container's process
// exactly what the re-exec path does.
func TestDirectInitMatchesInit(t *testing.T) {
	skipOnRunc(t, "rt's two ways to start a container")
	// /tmp/wd, owned by the user: created as root by both paths, then
	// entered as the user.
	direct := newBundle(t, shell(containerFacts), directFacts)
	reexec := newBundle(t, shell(containerFacts), directFacts, reexecPath)
	for _, b := range []*bundle{direct, reexec} {
		b.plantDir("/tmp/wd", 1000, 1000)
	}
	rd := runDebug(t, direct).mustOK(t)
	rr := runDebug(t, reexec).mustOK(t)
	if !strings.Contains(rd.stderr, "timing: direct init: mounts") {
		t.Fatalf("the first container did not take the direct path:\n%s", rd.stderr)
	}
	if !strings.Contains(rr.stderr, "init re-exec path (hooks before start)") {
		t.Fatalf("the second container did not take the re-exec path:\n%s", rr.stderr)
	}
	// The rootfs is each bundle's own.
	outD := strings.ReplaceAll(rd.stdout, direct.Dir, "BUNDLE")
	outR := strings.ReplaceAll(rr.stdout, reexec.Dir, "BUNDLE")
	if outD != outR {
		t.Errorf("the direct path's container differs from the re-exec path's:\n%s", lineDiff(outR, outD))
	}
	// Not vacuous: the facts show what was asked for.
	for _, want := range []string{"Uid:\t1000\t1000\t1000\t1000", "Groups:\t5 6 ", "Umask:\t0027", "CapAmb:\t0000000000000400",
		"NoNewPrivs:\t1", "cwd=/tmp/wd home=", "pid=1", "rt.example", "0::/\n", "555", "100\n00000008",
		"Max core file size        0"} {
		if !strings.Contains(rd.stdout, want) {
			t.Errorf("the container's facts lack %q:\n%s", want, rd.stdout)
		}
	}
}

// lineDiff lists the lines only in a (-) and only in b (+).
func lineDiff(a, b string) string {
	in := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if mb[l] == 0 {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if ma[l] == 0 {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDirectInitErrors: on the direct path, a cwd the user may not enter
// fails create with the field named, an rlimit the trampoline cannot set
// fails start with the field named, and either leaves nothing behind,
// like the re-exec path.
func TestDirectInitErrors(t *testing.T) {
	skipOnRunc(t, "rt's two ways to start a container")
	cases := []struct {
		name string
		mut  func(*specs.Spec)
		want string
	}{
		{"cwd", func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.Cwd = "/root/private"
		}, "process.cwd"},
		{"rlimit", func(s *specs.Spec) {
			// Above any hard limit rt has: raising it needs
			// CAP_SYS_RESOURCE, which this machine does not grant.
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1 << 30, Soft: 1024}}
		}, "RLIMIT_NOFILE"},
	}
	for _, c := range cases {
		for _, path := range []string{"direct", "re-exec"} {
			t.Run(c.name+"/"+path, func(t *testing.T) {
				muts := []func(*specs.Spec){args("true"), c.mut}
				if path == "re-exec" {
					muts = append(muts, reexecPath)
				}
				b := newBundle(t, muts...)
				b.plantDir("/root/private", 0, 0)
				r := runDebug(t, b)
				r.mustFail(t, c.want)
				if path == "direct" && !strings.Contains(r.stderr, "timing: direct init: mounts") {
					t.Errorf("did not take the direct path:\n%s", r.stderr)
				}
				assertNothingLeft(t, b)
			})
		}
	}
}

// plantDir makes path in the rootfs a directory owned by uid:gid, mode 0700
// for root's, 0755 otherwise.
func (b *bundle) plantDir(path string, uid, gid int) {
	b.t.Helper()
	p := b.rootfsPath(path)
	mode := os.FileMode(0o755)
	if uid == 0 {
		mode = 0o700
	}
	if err := os.MkdirAll(p, mode); err != nil {
		b.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		b.t.Fatal(err)
	}
	if err := os.Chown(p, uid, gid); err != nil {
		b.t.Fatal(err)
	}
}

// TestHomeFromDevicePasswd: without HOME in the environment, HOME comes
// from the container's /etc/passwd, read inside the container (its
// devices cgroup, its root): an image whose /etc/passwd is a device node
// (/dev/kmsg, which would block reading the host's kernel log) gets
// HOME=/, on both paths.
func TestHomeFromDevicePasswd(t *testing.T) {
	for _, path := range []string{"direct", "re-exec"} {
		t.Run(path, func(t *testing.T) {
			muts := []func(*specs.Spec){shell(`echo "HOME=$HOME"`)}
			if path == "re-exec" {
				muts = append(muts, reexecPath)
			}
			b := newBundle(t, muts...)
			p := b.rootfsPath("/etc/passwd")
			os.Remove(p)
			if err := unix.Mknod(p, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 11))); err != nil {
				t.Fatal(err)
			}
			if out := strings.TrimSpace(b.output()); out != "HOME=/" {
				t.Errorf("got %q, want HOME=/", out)
			}
		})
	}
}
