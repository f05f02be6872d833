package rootfs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The root tests re-exec the test binary into new mount and pid namespaces
// (childEnv selects the child's role), build a busybox rootfs there with
// Prepare/Pivot/Finish, and report what the container sees as JSON.
const childEnv = "RT_ROOTFS_TEST_CHILD"

func TestMain(m *testing.M) {
	if sc := os.Getenv(childEnv); sc != "" {
		runtime.LockOSThread()
		os.Exit(runChild(sc))
	}
	os.Exit(m.Run())
}

// scenario is what the parent asks the child to do.
type scenario struct {
	Config      Config
	Stat        []string // paths to stat (lstat) after Finish
	Write       []string // files to try to create after Finish
	Console     bool     // open a pty and MountConsole its slave
	SwapDevNull string   // "symlink" or "file": replace /dev/null before Finish
}

type statResult struct {
	Exists       bool
	Mode         uint32
	Major, Minor uint32
	UID, GID     uint32
	Link         string
}

// report is what the child saw.
type report struct {
	Stage  string // the step that failed, if any
	Error  string
	Cwd    string
	Mounts []*mountinfo.Info
	Stat   map[string]statResult
	Write  map[string]string // "" when the write worked
}

func runChild(data string) int {
	var sc scenario
	rep := report{Stat: map[string]statResult{}, Write: map[string]string{}}
	defer func() { _ = json.NewEncoder(os.Stdout).Encode(rep) }()
	fail := func(stage string, err error) int {
		rep.Stage, rep.Error = stage, err.Error()
		return 0
	}
	if err := json.Unmarshal([]byte(data), &sc); err != nil {
		return fail("decode", err)
	}
	c := &sc.Config
	if err := Prepare(c); err != nil {
		return fail("prepare", err)
	}
	if err := Pivot(c); err != nil {
		return fail("pivot", err)
	}
	rep.Cwd, _ = os.Getwd()
	if sc.Console {
		slave, err := openPty()
		if err != nil {
			return fail("pty", err)
		}
		if err := MountConsole(slave); err != nil {
			return fail("console", err)
		}
	}
	if sc.SwapDevNull != "" {
		if err := os.Remove("/dev/null"); err != nil {
			return fail("swap", err)
		}
		var err error
		if sc.SwapDevNull == "symlink" {
			err = os.Symlink("/etc/victim", "/dev/null")
		} else {
			err = os.WriteFile("/dev/null", nil, 0o666)
		}
		if err != nil {
			return fail("swap", err)
		}
	}
	if err := Finish(c); err != nil {
		return fail("finish", err)
	}
	var err error
	if rep.Mounts, err = mountinfo.GetMounts(nil); err != nil {
		return fail("mountinfo", err)
	}
	for _, p := range sc.Stat {
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil {
			rep.Stat[p] = statResult{}
			continue
		}
		link, _ := os.Readlink(p)
		rep.Stat[p] = statResult{Exists: true, Mode: st.Mode, Major: unix.Major(st.Rdev), Minor: unix.Minor(st.Rdev), UID: st.Uid, GID: st.Gid, Link: link}
	}
	for _, p := range sc.Write {
		rep.Write[p] = ""
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			rep.Write[p] = err.Error()
		}
	}
	return 0
}

// openPty opens a pty in the container's devpts and returns its slave path.
func openPty() (string, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return "", err
	}
	// The master stays open until the child exits.
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return "", err
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/dev/pts/%d", n), nil
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// busyboxRootfs builds a tiny rootfs: /bin/busybox, /bin/sh, /etc/victim.
func busyboxRootfs(t *testing.T) string {
	t.Helper()
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.Open("/bin/busybox")
	if err != nil {
		t.Skipf("busybox-static not installed: %v", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(rootfs, "bin/busybox"), os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	if err := os.Symlink("busybox", filepath.Join(rootfs, "bin/sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc/victim"), []byte("victim\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return rootfs
}

// runScenario runs sc in a child in new mount+pid namespaces (plus extra
// clone flags) and checks that nothing leaked onto the host's mount table.
func runScenario(t *testing.T, sc scenario, extra uintptr, attr func(*syscall.SysProcAttr)) report {
	t.Helper()
	data, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(data))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | extra, Pdeathsig: syscall.SIGKILL}
	if attr != nil {
		attr(cmd.SysProcAttr)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	checkNoLeak(t, sc.Config.Rootfs)
	if runErr != nil {
		t.Fatalf("child: %v\nstderr: %s", runErr, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("child output %q: %v (stderr %s)", stdout.String(), err, stderr.String())
	}
	return rep
}

func checkNoLeak(t *testing.T, rootfs string) {
	t.Helper()
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if strings.HasPrefix(m.Mountpoint, filepath.Dir(rootfs)) || m.Mountpoint == "/etc/x" || m.Mountpoint == "/etc/y" {
			t.Errorf("mount leaked onto the host: %s (%s)", m.Mountpoint, m.FSType)
		}
	}
}

func findMount(rep report, mp string) *mountinfo.Info {
	var found *mountinfo.Info
	for _, m := range rep.Mounts {
		if m.Mountpoint == mp {
			found = m // the last one is the top of the stack
		}
	}
	return found
}

func hasOpt(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

func standardMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
}

func TestRootfsFull(t *testing.T) {
	needRoot(t)
	rootfs := busyboxRootfs(t)
	// Symlinks a container image could hold, aimed at the host's /etc.
	if err := os.Symlink("/etc", filepath.Join(rootfs, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../../../etc", filepath.Join(rootfs, "evil2")); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	hostFile := filepath.Join(t.TempDir(), "hostfile")
	if err := os.WriteFile(hostFile, []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "opt/seed"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "opt/seed/file"), []byte("seed"), 0o640); err != nil {
		t.Fatal(err)
	}
	cg := fmt.Sprintf("/sys/fs/cgroup/pids/rt-rootfs-test-%d", os.Getpid())
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("cannot create a pids cgroup: %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(cg) })

	fileMode := os.FileMode(0o600)
	uid, gid := uint32(1000), uint32(1001)
	mounts := append(standardMounts(),
		specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		specs.Mount{Destination: "/data", Source: data, Options: []string{"rbind", "ro", "nosuid", "rprivate"}},
		specs.Mount{Destination: "/etc/hostfile", Source: hostFile, Options: []string{"bind", "ro"}},
		specs.Mount{Destination: "/evil/x", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/evil2/y", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec"}},
		specs.Mount{Destination: "/opt/seed", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}},
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"rnodev", "rnosuid"}},
	)
	// /dev read-only: devices are made first, the ro remount waits for Finish.
	mounts[1].Options = append(mounts[1].Options, "ro")
	sc := scenario{
		Config: Config{
			Rootfs:        rootfs,
			Readonly:      true,
			Mounts:        mounts,
			Devices:       []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &fileMode, UID: &uid, GID: &gid}},
			MaskedPaths:   []string{"/proc/timer_list", "/proc/acpi", "/proc/kcore-or-missing"},
			ReadonlyPaths: []string{"/proc/sys", "/proc/loadavg", "/proc/nope"},
			CgroupPaths:   map[string]string{"pids": cg},
		},
		Stat:    []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/fuse", "/dev/ptmx", "/dev/fd", "/dev/stderr", "/bin/busybox", "/opt/seed/file"},
		Write:   []string{"/newfile", "/data/f", "/tmp/f", "/etc/x/f", "/dev/f"},
		Console: true,
	}
	rep := runScenario(t, sc, syscall.CLONE_NEWUTS|syscall.CLONE_NEWIPC, nil)
	if rep.Error != "" {
		t.Fatalf("%s: %s", rep.Stage, rep.Error)
	}
	if rep.Cwd != "/" {
		t.Errorf("cwd after Pivot = %q", rep.Cwd)
	}

	mustMount := func(mp, fstype string, opts ...string) *mountinfo.Info {
		t.Helper()
		m := findMount(rep, mp)
		if m == nil {
			t.Errorf("%s not mounted", mp)
			return nil
		}
		if fstype != "" && m.FSType != fstype {
			t.Errorf("%s: fstype %s, want %s", mp, m.FSType, fstype)
		}
		for _, o := range opts {
			if !hasOpt(m.Options, o) {
				t.Errorf("%s: options %q lack %s", mp, m.Options, o)
			}
		}
		return m
	}
	mustMount("/", "", "ro")
	mustMount("/proc", "proc", "rw")
	mustMount("/dev", "tmpfs", "ro", "nosuid")
	mustMount("/dev/pts", "devpts", "nosuid", "noexec")
	mustMount("/dev/shm", "tmpfs", "nosuid", "nodev", "noexec")
	mustMount("/sys", "sysfs", "ro", "nosuid", "nodev", "noexec")
	mustMount("/sys/fs/cgroup", "tmpfs", "ro", "nosuid", "nodev", "noexec")
	if m := mustMount("/sys/fs/cgroup/pids", "cgroup", "ro", "nosuid"); m != nil && m.Root != strings.TrimPrefix(cg, "/sys/fs/cgroup/pids") {
		t.Errorf("pids cgroup root %s, want the container's %s", m.Root, cg)
	}
	mustMount("/sys/fs/cgroup/unified", "cgroup2", "ro")
	mustMount("/data", "", "ro", "nosuid")
	mustMount("/etc/hostfile", "", "ro")
	mustMount("/etc/x", "tmpfs", "rw")
	mustMount("/etc/y", "tmpfs", "noexec")
	mustMount("/tmp", "tmpfs", "nodev", "nosuid")
	mustMount("/proc/sys", "proc", "ro")
	mustMount("/proc/loadavg", "proc", "ro")
	mustMount("/proc/acpi", "tmpfs", "ro")
	if m := mustMount("/proc/timer_list", "tmpfs"); m != nil && m.Root != "/null" {
		t.Errorf("/proc/timer_list masked with %s, want the container's /dev/null", m.Root)
	}
	mustMount("/dev/console", "devpts")

	for _, d := range []struct {
		path         string
		major, minor uint32
		perm         uint32
		uid, gid     uint32
	}{
		{"/dev/null", 1, 3, 0o666, 0, 0}, {"/dev/zero", 1, 5, 0o666, 0, 0}, {"/dev/full", 1, 7, 0o666, 0, 0},
		{"/dev/random", 1, 8, 0o666, 0, 0}, {"/dev/urandom", 1, 9, 0o666, 0, 0}, {"/dev/tty", 5, 0, 0o666, 0, 0},
		{"/dev/fuse", 10, 229, 0o600, 1000, 1001},
	} {
		st := rep.Stat[d.path]
		if !st.Exists || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Major != d.major || st.Minor != d.minor ||
			st.Mode&0o7777 != d.perm || st.UID != d.uid || st.GID != d.gid {
			t.Errorf("%s: %+v, want char %d:%d %o %d:%d", d.path, st, d.major, d.minor, d.perm, d.uid, d.gid)
		}
	}
	for p, target := range map[string]string{"/dev/ptmx": "pts/ptmx", "/dev/fd": "/proc/self/fd", "/dev/stderr": "/proc/self/fd/2"} {
		if rep.Stat[p].Link != target {
			t.Errorf("%s -> %q, want %q", p, rep.Stat[p].Link, target)
		}
	}
	if !rep.Stat["/bin/busybox"].Exists {
		t.Error("/bin/busybox missing: not inside the rootfs?")
	}
	if st := rep.Stat["/opt/seed/file"]; !st.Exists || st.Mode&0o777 != 0o640 {
		t.Errorf("tmpcopyup: /opt/seed/file %+v", st)
	}
	for p, wantErr := range map[string]bool{"/newfile": true, "/data/f": true, "/tmp/f": false, "/etc/x/f": false, "/dev/f": true} {
		if got := rep.Write[p]; (got != "") != wantErr {
			t.Errorf("write %s: error %q, want error=%v", p, got, wantErr)
		}
	}

	// The escape attempts landed inside the rootfs; the host is untouched.
	for _, p := range []string{"/etc/x", "/etc/y", "/etc/hostfile"} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("host %s was created: %v", p, err)
		}
		if _, err := os.Lstat(filepath.Join(rootfs, p)); err != nil {
			t.Errorf("rootfs %s missing: %v", p, err)
		}
	}
}

func TestRootfsNoPivot(t *testing.T) {
	needRoot(t)
	rootfs := busyboxRootfs(t)
	sc := scenario{
		Config: Config{Rootfs: rootfs, NoPivot: true, Mounts: standardMounts(), Propagation: "rprivate"},
		Stat:   []string{"/bin/busybox", "/dev/null"},
	}
	rep := runScenario(t, sc, 0, nil)
	if rep.Error != "" {
		t.Fatalf("%s: %s", rep.Stage, rep.Error)
	}
	if rep.Cwd != "/" || !rep.Stat["/bin/busybox"].Exists || rep.Stat["/dev/null"].Major != 1 {
		t.Errorf("not inside the rootfs: cwd %q stat %+v", rep.Cwd, rep.Stat)
	}
	if m := findMount(rep, "/proc"); m == nil || m.FSType != "proc" {
		t.Errorf("/proc: %+v", m)
	}
}

func TestRootfsMaskRefusesSwappedDevNull(t *testing.T) {
	needRoot(t)
	for _, swap := range []string{"symlink", "file"} {
		rootfs := busyboxRootfs(t)
		sc := scenario{
			Config:      Config{Rootfs: rootfs, Mounts: standardMounts(), MaskedPaths: []string{"/proc/timer_list"}},
			SwapDevNull: swap,
		}
		rep := runScenario(t, sc, 0, nil)
		if rep.Stage != "finish" || !strings.Contains(rep.Error, "not the null device") {
			t.Errorf("%s: want Finish to refuse a swapped /dev/null, got %s: %q", swap, rep.Stage, rep.Error)
		}
	}
}

func TestRootfsUserNS(t *testing.T) {
	needRoot(t)
	rootfs := busyboxRootfs(t)
	sc := scenario{
		Config: Config{Rootfs: rootfs, UserNS: true, Mounts: standardMounts(), MaskedPaths: []string{"/proc/timer_list"}},
		Stat:   []string{"/dev/null", "/dev/tty"},
	}
	// root in the user namespace is host root, so the rootfs stays usable;
	// without a network namespace sysfs falls back to a bind of /sys.
	rep := runScenario(t, sc, syscall.CLONE_NEWUSER, func(a *syscall.SysProcAttr) {
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
		a.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	})
	if rep.Error != "" {
		t.Fatalf("%s: %s", rep.Stage, rep.Error)
	}
	for _, p := range []string{"/dev/null", "/dev/tty"} {
		if m := findMount(rep, p); m == nil || m.FSType != "devtmpfs" {
			t.Errorf("%s is not a bind of the host node: %+v", p, m)
		}
	}
	if st := rep.Stat["/dev/null"]; st.Major != 1 || st.Minor != 3 {
		t.Errorf("/dev/null: %+v", st)
	}
	if m := findMount(rep, "/sys"); m == nil || !hasOpt(m.Options, "ro") {
		t.Errorf("/sys: %+v", m)
	}
}

func TestRootfsCgroupNS(t *testing.T) {
	needRoot(t)
	rootfs := busyboxRootfs(t)
	// No "ro" here: a v1 hierarchy mount shares the host's superblock, and a
	// test has no business near it.
	mounts := append(standardMounts(), specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev"}})
	sc := scenario{Config: Config{Rootfs: rootfs, Mounts: mounts, CgroupNS: true}}
	rep := runScenario(t, sc, syscall.CLONE_NEWCGROUP, nil)
	if rep.Error != "" {
		t.Fatalf("%s: %s", rep.Stage, rep.Error)
	}
	hs, err := hostHierarchies(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		m := findMount(rep, "/sys/fs/cgroup/"+h.Name)
		want := "cgroup"
		if h.V2 {
			want = "cgroup2"
		}
		if m == nil || m.FSType != want || m.Root != "/" || !hasOpt(m.Options, "nosuid") {
			t.Errorf("%s: %+v, want a %s mount of the namespace root", h.Name, m, want)
		}
	}
}

// TestRootfsCgroupGivenHierarchies: init mounts the hierarchies the parent
// sent, not the ones it would read from mountinfo (here: only memory).
func TestRootfsCgroupGivenHierarchies(t *testing.T) {
	needRoot(t)
	rootfs := busyboxRootfs(t)
	hs, err := hostHierarchies(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(hs, func(h Hierarchy) bool { return h.Name == "memory" })
	if i < 0 || len(hs) < 2 {
		t.Skip("needs a v1 memory hierarchy and another one under /sys/fs/cgroup (the hybrid layout of this kind of machine)")
	}
	mounts := append(standardMounts(), specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev"}})
	sc := scenario{Config: Config{Rootfs: rootfs, Mounts: mounts, CgroupNS: true, Hierarchies: hs[i : i+1]}}
	rep := runScenario(t, sc, syscall.CLONE_NEWCGROUP, nil)
	if rep.Error != "" {
		t.Fatalf("%s: %s", rep.Stage, rep.Error)
	}
	for _, h := range hs {
		m := findMount(rep, "/sys/fs/cgroup/"+h.Name)
		if (m != nil) != (h.Name == "memory") {
			t.Errorf("/sys/fs/cgroup/%s: mount %+v; want only memory's", h.Name, m)
		}
	}
}

// TestHierarchiesFrom: only cgroup mounts directly below /sys/fs/cgroup,
// with their controllers.
func TestHierarchiesFrom(t *testing.T) {
	got := HierarchiesFrom([]*mountinfo.Info{
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", FSType: "cgroup", Root: "/", VFSOptions: "rw,cpu,cpuacct"},
		{Mountpoint: "/sys/fs/cgroup/systemd", FSType: "cgroup", Root: "/", VFSOptions: "rw,xattr,name=systemd"},
		{Mountpoint: "/sys/fs/cgroup/unified", FSType: "cgroup2", Root: "/", VFSOptions: "rw,nsdelegate"},
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", FSType: "cgroup", Root: "/x", VFSOptions: "rw,cpu,cpuacct"},
		{Mountpoint: "/elsewhere/memory", FSType: "cgroup", Root: "/", VFSOptions: "rw,memory"},
		{Mountpoint: "/sys/fs/cgroup/tmp", FSType: "tmpfs", Root: "/", VFSOptions: "rw"},
	})
	want := []Hierarchy{
		{Name: "cpu,cpuacct", Controllers: []string{"cpu", "cpuacct"}, Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Root: "/"},
		{Name: "systemd", Controllers: []string{"name=systemd"}, Mountpoint: "/sys/fs/cgroup/systemd", Root: "/"},
		{Name: "unified", V2: true, Mountpoint: "/sys/fs/cgroup/unified", Root: "/"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("HierarchiesFrom = %+v\nwant %+v", got, want)
	}
}

func TestPrepareConfigErrors(t *testing.T) {
	rootfs := t.TempDir()
	useRecorder(t, rootfs, nil)
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"relative rootfs", Config{Rootfs: "rootfs"}, "root.path"},
		{"bad propagation", Config{Rootfs: rootfs, Propagation: "sideways"}, "linux.rootfsPropagation"},
		{"empty destination", Config{Rootfs: rootfs, Mounts: []specs.Mount{{Type: "tmpfs"}}}, "mounts[0]"},
		{"relative bind source", Config{Rootfs: rootfs, Mounts: []specs.Mount{{Destination: "/a", Source: "rel", Options: []string{"bind"}}}}, "not absolute"},
		{"idmap", Config{Rootfs: rootfs, Mounts: []specs.Mount{{Destination: "/a", Source: "/", Options: []string{"bind", "idmap"}}}}, "idmap"},
		{"no type", Config{Rootfs: rootfs, Mounts: []specs.Mount{{Destination: "/a", Source: "x"}}}, "type is empty"},
		{"mount over rootfs", Config{Rootfs: rootfs, Mounts: []specs.Mount{{Destination: "/", Type: "tmpfs"}}}, "rootfs itself"},
		{"bad device type", Config{Rootfs: rootfs, Devices: []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}}}, "linux.devices[0]"},
		{"relative device", Config{Rootfs: rootfs, Devices: []specs.LinuxDevice{{Path: "dev/x", Type: "c"}}}, "not absolute"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Prepare(&tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestLockedFlags(t *testing.T) {
	tests := []struct {
		st, want, keep uintptr
	}{
		{unix.ST_NODEV | unix.ST_NOSUID, unix.MS_RDONLY, unix.ST_NODEV | unix.ST_NOSUID},
		{unix.ST_RELATIME, 0, unix.ST_RELATIME},
		{unix.ST_NOATIME, unix.MS_STRICTATIME, 0}, // the caller chose an atime mode
		{unix.ST_NODIRATIME | unix.ST_NOEXEC, 0, unix.ST_NODIRATIME | unix.ST_NOEXEC},
		{unix.ST_SYNCHRONOUS, 0, 0},
	}
	for _, tc := range tests {
		if got := lockedFlags(tc.st, tc.want); got != tc.keep {
			t.Errorf("lockedFlags(%#x, %#x) = %#x, want %#x", tc.st, tc.want, got, tc.keep)
		}
	}
}
