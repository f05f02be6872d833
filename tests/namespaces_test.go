package tests

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// nsScript prints "TYPE NSLINK" for each namespace the container's init is in.
const nsScript = `for n in pid net ipc uts mnt cgroup user time; do echo "$n $(readlink /proc/self/ns/$n)"; done`

// hostNamespace is the test process's own namespace link, e.g. "net:[4026531840]".
func hostNamespace(t testing.TB, typ string) string {
	t.Helper()
	l, err := os.Readlink("/proc/self/ns/" + typ)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestNamespacesUnshared: each configured namespace is new; a namespace left
// out of the config is the host's.
func TestNamespacesUnshared(t *testing.T) {
	out := newBundle(t, shell(nsScript), func(s *specs.Spec) {
		// Keep everything but the ipc namespace.
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.IPCNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}).output()
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, " ")
		got[k] = v
	}
	for _, typ := range []string{"pid", "net", "uts", "mnt", "cgroup"} {
		if got[typ] == hostNamespace(t, typ) {
			t.Errorf("%s namespace is the host's (%s), want a new one", typ, got[typ])
		}
	}
	for _, typ := range []string{"ipc", "user"} {
		if got[typ] != hostNamespace(t, typ) {
			t.Errorf("%s namespace %s, want the host's %s (not in config)", typ, got[typ], hostNamespace(t, typ))
		}
	}
}

// TestCgroupNamespace: with a cgroup namespace, the container sees its own
// cgroup as the root.
func TestCgroupNamespace(t *testing.T) {
	out := newBundle(t, shell(`cat /proc/self/cgroup`), func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}).output()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && strings.Contains(f[1], "memory") && f[2] != "/" {
			t.Fatalf("in a cgroup namespace the memory cgroup reads %q, want /", f[2])
		}
	}
}

// TestUserNamespace: uid/gid mappings are in place and root inside maps to
// the configured host id.
func TestUserNamespace(t *testing.T) {
	b := newBundle(t, shell(`cat /proc/self/uid_map /proc/self/gid_map; id -u; echo > /tmp/f; stat -c %u /tmp/f`), func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		// A v1 cgroup mount needs the host's cgroupfs; not what this test is about.
		s.Mounts = s.Mounts[:len(s.Mounts)-1]
		s.Root.Readonly = false
		// The container's /tmp must be writable by the mapped root.
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	})
	out := b.output()
	fields := strings.Fields(out)
	want := []string{"0", "100000", "65536", "0", "100000", "65536", "0", "0"}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Fatalf("user namespace: got %q, want uid_map, gid_map, id -u, file owner = %v", out, want)
	}
}

// TestNetworkNamespaceOwn: the container's new network namespace (which rt
// makes beside the clone, while init starts) is the one its init, its
// /sys and its /proc/net show, holds nothing but a loopback, and is not
// the host's; the host's rt went back to its own.
func TestNetworkNamespaceOwn(t *testing.T) {
	b := newBundle(t, shell(`readlink /proc/self/ns/net; readlink /proc/1/ns/net; ls /sys/class/net; tail -n +3 /proc/net/dev | cut -d: -f1`))
	f := strings.Fields(b.output())
	if len(f) != 4 {
		t.Fatalf("want self ns, init ns, one interface (twice): got %q", f)
	}
	if f[0] != f[1] || f[0] == hostNamespace(t, "net") {
		t.Errorf("network namespace: process %s, init %s, host %s: want init's, new", f[0], f[1], hostNamespace(t, "net"))
	}
	if f[2] != "lo" || f[3] != "lo" {
		t.Errorf("interfaces in /sys/class/net %q and /proc/net/dev %q, want only lo", f[2], f[3])
	}
}

// TestNetworkNamespaceOwnedByUserNamespace: with a new user namespace the
// network namespace belongs to it, so the container's root administers it
// (bringing lo down needs CAP_NET_ADMIN over the owning user namespace).
func TestNetworkNamespaceOwnedByUserNamespace(t *testing.T) {
	b := newBundle(t, shell(`ip link set lo up && ip link set lo down && echo admin ok`), func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Mounts = s.Mounts[:len(s.Mounts)-1] // no v1 cgroup mount (see TestUserNamespace)
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_NET_ADMIN")
		s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_NET_ADMIN")
		s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_NET_ADMIN")
	})
	if out := b.output(); strings.TrimSpace(out) != "admin ok" {
		t.Fatalf("ip link in the container: %q", out)
	}
}

// TestTimeNamespace: timeOffsets shift the container's monotonic and
// boottime clocks.
func TestTimeNamespace(t *testing.T) {
	skipOnRunc(t, "runc 1.1 has no time namespace support (added in runc 1.2)")
	const offset = 10 * 24 * 3600
	b := newBundle(t, shell(`cat /proc/uptime`), func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
			"boottime":  {Secs: offset},
			"monotonic": {Secs: offset},
		}
	})
	hostUp := uptime(t, mustRead(t, "/proc/uptime"))
	inside := uptime(t, b.output())
	if d := inside - hostUp; d < offset-60 || d > offset+60 {
		t.Fatalf("uptime inside %.0f s, host %.0f s: shifted by %.0f s, want %d", inside, hostUp, d, offset)
	}
}

func uptime(t testing.TB, s string) float64 {
	t.Helper()
	f := strings.Fields(s)
	if len(f) == 0 {
		t.Fatalf("bad /proc/uptime %q", s)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// holdNamespace starts a sleeping process in new namespaces (flags are
// CLONE_NEW*), stopped and reaped at cleanup; it returns the pid.
func holdNamespace(t testing.TB, flags uintptr) int {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start namespace holder: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

// TestJoinNamespace: a namespace with a path joins that namespace.
func TestJoinNamespace(t *testing.T) {
	tests := []struct {
		typ   specs.LinuxNamespaceType
		proc  string // name under /proc/PID/ns
		flags uintptr
	}{
		{specs.NetworkNamespace, "net", syscall.CLONE_NEWNET},
		{specs.IPCNamespace, "ipc", syscall.CLONE_NEWIPC},
		{specs.UTSNamespace, "uts", syscall.CLONE_NEWUTS},
		{specs.PIDNamespace, "pid", syscall.CLONE_NEWPID},
	}
	for _, tc := range tests {
		t.Run(string(tc.typ), func(t *testing.T) {
			holder := holdNamespace(t, tc.flags)
			path := fmt.Sprintf("/proc/%d/ns/%s", holder, tc.proc)
			want, err := os.Readlink(path)
			if err != nil {
				t.Fatal(err)
			}
			out := newBundle(t, shell("readlink /proc/self/ns/"+tc.proc), func(s *specs.Spec) {
				for i := range s.Linux.Namespaces {
					if s.Linux.Namespaces[i].Type == tc.typ {
						s.Linux.Namespaces[i].Path = path
					}
				}
				if tc.typ == specs.UTSNamespace {
					s.Hostname = "" // a joined uts namespace keeps its hostname
				}
			}).output()
			if strings.TrimSpace(out) != want {
				t.Fatalf("container is in %s, want the joined %s", strings.TrimSpace(out), want)
			}
		})
	}
}

// TestJoinNetnsByBindMount: engines (CNI) pass a bind-mounted netns file.
func TestJoinNetnsByBindMount(t *testing.T) {
	holder := holdNamespace(t, syscall.CLONE_NEWNET)
	nsFile := fmt.Sprintf("%s/netns-%d", baseDir, time.Now().UnixNano())
	if err := os.WriteFile(nsFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(fmt.Sprintf("/proc/%d/ns/net", holder), nsFile, "", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Unmount(nsFile, syscall.MNT_DETACH)
		os.Remove(nsFile)
	})
	var st syscall.Stat_t
	if err := syscall.Stat(nsFile, &st); err != nil {
		t.Fatal(err)
	}
	out := newBundle(t, shell("readlink /proc/self/ns/net"), func(s *specs.Spec) {
		for i := range s.Linux.Namespaces {
			if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = nsFile
			}
		}
	}).output()
	mustContain(t, "netns inode", out, fmt.Sprintf("net:[%d]", st.Ino))
}

// TestJoinUserAndTimeNamespaces: user and time namespaces joined by path (the
// assembly entry stage does it, before the Go runtime starts threads), while
// the other namespaces are new: they must belong to the joined user
// namespace, or the container could not mount its own /proc.
func TestJoinUserAndTimeNamespaces(t *testing.T) {
	const day = 86400
	holder := exec.Command("unshare", "--user", "--map-root-user",
		"--time", "--boottime", itoa(day), "--monotonic", itoa(day), "sleep", "1000")
	// No --fork: one process to reap; time_for_children names the new time
	// namespace even though unshare itself (now sleep) stays outside it.
	if err := holder.Start(); err != nil {
		t.Fatalf("start holder: %v", err)
	}
	t.Cleanup(func() {
		holder.Process.Kill()
		holder.Wait()
	})
	userPath := fmt.Sprintf("/proc/%d/ns/user", holder.Process.Pid)
	timePath := fmt.Sprintf("/proc/%d/ns/time_for_children", holder.Process.Pid)
	var wantUser, wantTime string
	deadline := time.Now().Add(5 * time.Second)
	for {
		wantUser, _ = os.Readlink(userPath)
		wantTime, _ = os.Readlink(timePath)
		host := hostNamespace(t, "user")
		if wantUser != "" && wantUser != host && wantTime != hostNamespace(t, "time") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("holder never entered its namespaces (user %q, time %q)", wantUser, wantTime)
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := newBundle(t, shell(`readlink /proc/self/ns/user; readlink /proc/self/ns/time; cat /proc/self/uid_map; echo pid=$$; cut -d' ' -f1 /proc/uptime`), func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces,
			specs.LinuxNamespace{Type: specs.UserNamespace, Path: userPath},
			specs.LinuxNamespace{Type: specs.TimeNamespace, Path: timePath})
		// Only root is mapped in the holder's user namespace: devpts cannot
		// take gid=5 there (runc fails the same way).
		for i, m := range s.Mounts {
			if m.Destination == "/dev/pts" {
				var opts []string
				for _, o := range m.Options {
					if o != "gid=5" {
						opts = append(opts, o)
					}
				}
				s.Mounts[i].Options = opts
			}
		}
	}).output()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 5 {
		t.Fatalf("unexpected output:\n%s", out)
	}
	if lines[0] != wantUser || lines[1] != wantTime {
		t.Fatalf("container is in %s and %s, want the joined %s and %s", lines[0], lines[1], wantUser, wantTime)
	}
	if f := strings.Fields(lines[2]); len(f) != 3 || f[0] != "0" || f[1] != "0" || f[2] != "1" {
		t.Errorf("uid_map %q, want the holder's 0 0 1", lines[2])
	}
	mustContain(t, "PID 1 in a new pid namespace", out, "pid=1")
	if got, host := uptime(t, lines[4]), uptime(t, mustRead(t, "/proc/uptime")); got-host < day-60 {
		t.Errorf("uptime %.0f inside vs %.0f on the host: the joined time namespace's offset is missing", got, host)
	}
}
