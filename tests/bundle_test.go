package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// baseSpec is `runc spec` output made non-interactive: what engines hand a
// runtime for a plain container. cgroupsPath is always absolute so no runtime
// nests the container under the test's own cgroup.
func baseSpec(cgroupsPath string) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args: []string{"sh", "-c", "true"},
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "rt-test",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			CgroupsPath: cgroupsPath,
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
				"/sys/firmware", "/proc/scsi"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// bundle is one container's bundle directory and id.
type bundle struct {
	t           testing.TB
	ID          string
	Dir         string
	Spec        *specs.Spec
	CgroupsPath string
	stdout      string // the container's stdout/stderr when created detached
	stderr      string
	pid         int   // init pid, once known
	execPids    []int // detached exec'd processes, reaped by the suite like a shim
}

var idSeq struct {
	sync.Mutex
	n int
}

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// newBundle makes a bundle (hard-linked busybox rootfs, config.json) from
// baseSpec with mutators applied, and registers its cleanup: delete -f,
// reap, remove cgroups and files, reporting anything the runtime left.
func newBundle(t testing.TB, mutators ...func(*specs.Spec)) *bundle {
	t.Helper()
	idSeq.Lock()
	idSeq.n++
	n := idSeq.n
	idSeq.Unlock()
	name := unsafeID.ReplaceAllString(strings.TrimPrefix(t.Name(), "Test"), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	id := fmt.Sprintf("%s-%d", name, n)
	b := &bundle{t: t, ID: id, Dir: filepath.Join(baseDir, "bundles", id),
		CgroupsPath: cgroupParent + "/" + id}
	if err := os.Mkdir(b.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.destroy)
	// Hard links make the copy cheap; each bundle still gets its own
	// directories, so mountpoints a runtime creates never leak between tests.
	if out, err := exec.Command("cp", "-al", baseRootfs, filepath.Join(b.Dir, "rootfs")).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	b.stdout = filepath.Join(b.Dir, "stdout")
	b.stderr = filepath.Join(b.Dir, "stderr")
	b.Spec = baseSpec(b.CgroupsPath)
	for _, m := range mutators {
		m(b.Spec)
	}
	b.write()
	return b
}

// write saves b.Spec as the bundle's config.json.
func (b *bundle) write() {
	b.t.Helper()
	data, err := json.MarshalIndent(b.Spec, "", "  ")
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "config.json"), data, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// args sets the process arguments.
func args(a ...string) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Process.Args = a }
}

// shell runs script with busybox sh -c.
func shell(script string) func(*specs.Spec) {
	return args("sh", "-c", script)
}

// run runs the container in the foreground (`run --bundle B ID`); its output
// is the runtime's output.
func (b *bundle) run(flags ...string) result {
	b.t.Helper()
	return b.runWith(cmdOpts{}, flags...)
}

func (b *bundle) runWith(o cmdOpts, flags ...string) result {
	b.t.Helper()
	a := append([]string{"run", "--bundle", b.Dir}, flags...)
	return rtWith(b.t, o, append(a, b.ID)...)
}

// output runs the container and returns its stdout, failing the test unless
// the run exits 0.
func (b *bundle) output() string {
	b.t.Helper()
	return b.run().mustOK(b.t).stdout
}

// create creates the container detached, the container's stdio going to
// files in the bundle (read them with containerOutput).
func (b *bundle) create(flags ...string) result {
	b.t.Helper()
	return b.detached("create", flags...)
}

// detached runs a command (create, or run -d) whose container outlives it.
func (b *bundle) detached(cmd string, flags ...string) result {
	b.t.Helper()
	outF, err := os.OpenFile(b.stdout, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	defer outF.Close()
	errF, err := os.OpenFile(b.stderr, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	defer errF.Close()
	a := append([]string{cmd, "--bundle", b.Dir}, flags...)
	r := rtWith(b.t, cmdOpts{stdout: outF, stderr: errF}, append(a, b.ID)...)
	data, _ := os.ReadFile(b.stderr)
	r.stderr = string(data)
	if r.ok() {
		if st, err := b.state(); err == nil {
			b.pid = st.Pid
			registerContainerPid(st.Pid)
		}
	}
	return r
}

// containerOutput is what a detached container wrote to stdout so far.
func (b *bundle) containerOutput() string {
	data, _ := os.ReadFile(b.stdout)
	return string(data)
}

// containerState is the `state` JSON: the OCI state plus runc's extra fields.
type containerState struct {
	specs.State
	Rootfs  string `json:"rootfs"`
	Created string `json:"created"`
	Owner   string `json:"owner"`
}

// state runs `state ID`.
func (b *bundle) state() (containerState, error) {
	b.t.Helper()
	return stateOf(b.t, b.ID)
}

func stateOf(t testing.TB, id string) (containerState, error) {
	t.Helper()
	var st containerState
	r := rt(t, "state", id)
	if !r.ok() {
		return st, errors.New(r.String())
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		return st, fmt.Errorf("state output is not JSON: %w: %q", err, r.stdout)
	}
	return st, nil
}

// mustState returns the state, failing the test on error.
func (b *bundle) mustState() containerState {
	b.t.Helper()
	st, err := b.state()
	if err != nil {
		b.t.Fatal(err)
	}
	return st
}

// waitStatus polls `state` until the container has the status.
func (b *bundle) waitStatus(status string) containerState {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := b.state()
		if err == nil && st.Status == specs.ContainerState(status) {
			return st
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("container %s never reached %q: last state %+v, err %v", b.ID, status, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// destroy is the bundle's cleanup. It force-deletes the container, reaps its
// init, and removes what the runtime should have removed, failing the test
// for anything it had to remove.
func (b *bundle) destroy() {
	t := b.t
	if _, err := os.Stat(filepath.Join(stateRoot, b.ID)); err == nil {
		rt(t, "delete", "--force", b.ID)
	}
	// Exec'd processes first: a pid namespace's init finishes exiting only
	// once its reaper has reaped every other process of the namespace.
	for _, p := range b.execPids {
		unix.Kill(p, unix.SIGKILL)
		reapGone(p, 5*time.Second)
	}
	if b.pid > 0 {
		if err := reapGone(b.pid, 10*time.Second); err != nil {
			t.Errorf("cleanup of %s: %v", b.ID, err)
			unix.Kill(b.pid, unix.SIGKILL)
			reapGone(b.pid, 5*time.Second)
		}
	}
	for _, p := range reapOrphans(false) {
		t.Errorf("cleanup of %s: the runtime left %s", b.ID, p)
	}
	if _, err := os.Stat(filepath.Join(stateRoot, b.ID)); err == nil {
		t.Errorf("cleanup of %s: state dir %s left after delete --force", b.ID, filepath.Join(stateRoot, b.ID))
		os.RemoveAll(filepath.Join(stateRoot, b.ID))
	}
	if left := removeCgroup(b.CgroupsPath); len(left) > 0 {
		t.Errorf("cleanup of %s: cgroup dirs left: %v", b.ID, left)
	}
	if err := removeAllNoMounts(b.Dir); err != nil {
		t.Errorf("cleanup of %s: %v", b.ID, err)
	}
}
