// Package engines runs podman (with conmon) and containerd on this host in a
// private workspace, so that the engine tests and the benchmarks can drive
// them with any OCI runtime: rt, runc or crun.
//
// Nothing is shared with a system podman or containerd. podman gets its own
// containers.conf and storage.conf (graph root, run root, tmp dir, file
// locks, events file); containerd its own config, root, state and sockets.
// Every cgroup either engine creates lies under one absolute parent,
// /rt-engines-PID, and Close removes it.
package engines

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Image is the name the locally built busybox image gets in both engines.
const Image = "localhost/busybox:rt"

// Options says where the workspace goes and which runtimes podman should know.
type Options struct {
	Dir  string // workspace; created, and removed by Close
	Repo string // the rt repository (for hack/mkrootfs.sh)
	// Runtimes maps a name to the absolute path of an OCI runtime binary.
	// Each is registered with podman (containers.conf [engine.runtimes]) as
	// a runtime that takes --log-format=json, which is how podman passes
	// runtime errors on to its user.
	Runtimes map[string]string
	// Files are copied into the image: path in the image → host path.
	Files map[string]string
	// Containerd starts a containerd daemon too.
	Containerd bool
}

// Env is a running podman+containerd workspace.
type Env struct {
	Dir          string
	Name         string // containerd namespace; base of CgroupParent
	CgroupParent string // absolute cgroup parent of every engine cgroup
	Rootfs       string // the image's root filesystem, as built
	BundleRoot   string // podman's graph root: bundles are BundleRoot/overlay-containers/ID/userdata

	containerd *exec.Cmd
	ctrdExited chan error
}

// Setup builds the image, configures podman, imports the image, and (when
// asked) starts containerd and imports the image there too. On error it
// undoes what it did.
func Setup(o Options) (env *Env, err error) {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("rt-engines-%d", os.Getpid())
	e := &Env{
		Dir:          o.Dir,
		Name:         name,
		CgroupParent: "/" + name,
		Rootfs:       filepath.Join(o.Dir, "rootfs"),
		BundleRoot:   filepath.Join(o.Dir, "storage"),
	}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if err := e.writePodmanConfig(o.Runtimes); err != nil {
		return nil, err
	}
	if out, err := exec.Command(filepath.Join(o.Repo, "hack/mkrootfs.sh"), e.Rootfs).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mkrootfs: %v: %s", err, out)
	}
	for in, host := range o.Files {
		if err := copyFile(host, filepath.Join(e.Rootfs, in)); err != nil {
			return nil, err
		}
	}
	// podman import reads a tar of the root filesystem: no registry.
	tar := exec.Command("tar", "--numeric-owner", "-C", e.Rootfs, "-cf", "-", ".")
	imp := e.Podman("import", "-", Image)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		return nil, err
	}
	imp.Stdin = pipe
	if err := tar.Start(); err != nil {
		return nil, err
	}
	out, ierr := imp.CombinedOutput()
	if terr := tar.Wait(); ierr != nil || terr != nil {
		return nil, fmt.Errorf("podman import: %v %v: %s", ierr, terr, out)
	}
	if !o.Containerd {
		return e, nil
	}
	archive := filepath.Join(o.Dir, "busybox.oci.tar")
	if out, err := e.Podman("save", "--format", "oci-archive", "-o", archive, Image).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("podman save: %v: %s", err, out)
	}
	if err := e.startContainerd(); err != nil {
		return nil, err
	}
	if out, err := e.Ctr("images", "import", "--base-name", "localhost/busybox", archive).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ctr images import: %v: %s", err, out)
	}
	return e, nil
}

func (e *Env) path(p ...string) string { return filepath.Join(append([]string{e.Dir}, p...)...) }

// writePodmanConfig writes containers.conf and storage.conf. Rootful podman
// sets RLIMIT_NOFILE and RLIMIT_NPROC to 1048576 by default; this machine's
// bounding set lacks CAP_SYS_RESOURCE, so no runtime can raise the hard
// limits that far (runc fails too): the default ulimits stay within the
// current hard limits instead.
func (e *Env) writePodmanConfig(runtimes map[string]string) error {
	var names []string
	for n := range runtimes {
		names = append(names, n)
	}
	sort.Strings(names)
	var conf strings.Builder
	fmt.Fprintf(&conf, `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = %q
lock_type = "file"
tmp_dir = %q
volume_path = %q
runtime = "runc"
`, e.path("events.log"), e.path("tmp"), e.path("volumes"))
	quoted := []string{`"runc"`, `"crun"`}
	for _, n := range names {
		quoted = append(quoted, fmt.Sprintf("%q", n))
	}
	fmt.Fprintf(&conf, "runtime_supports_json = [%s]\n\n[engine.runtimes]\n", strings.Join(quoted, ", "))
	for _, n := range names {
		fmt.Fprintf(&conf, "%s = [%q]\n", n, runtimes[n])
	}
	fmt.Fprintf(&conf, "\n[network]\nnetwork_config_dir = %q\n", e.path("net"))
	storage := fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
		e.BundleRoot, e.path("run"))
	if err := os.WriteFile(e.path("containers.conf"), []byte(conf.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(e.path("storage.conf"), []byte(storage), 0o644)
}

// PodmanEnv is the environment podman needs to use this workspace.
func (e *Env) PodmanEnv() []string {
	return append(os.Environ(),
		"CONTAINERS_CONF="+e.path("containers.conf"),
		"CONTAINERS_STORAGE_CONF="+e.path("storage.conf"))
}

// Podman returns a podman command in this workspace. Containers it runs get
// cgroups under CgroupParent when the caller passes PodmanRunFlags.
func (e *Env) Podman(args ...string) *exec.Cmd {
	cmd := exec.Command("podman", args...)
	cmd.Env = e.PodmanEnv()
	cmd.Dir = e.Dir
	return cmd
}

// PodmanRunFlags are the flags every podman run/create gets: the cgroup
// parent (absolute, ours) and no network (tests stay in their own netns).
func (e *Env) PodmanRunFlags() []string {
	return []string{"--cgroup-parent", e.CgroupParent, "--network", "none"}
}

// PodmanBundle is the bundle directory podman gives the container ID.
func (e *Env) PodmanBundle(id string) string {
	return filepath.Join(e.BundleRoot, "overlay-containers", id, "userdata")
}

// Containerd's address and config.
func (e *Env) CtrdSocket() string { return e.path("containerd", "containerd.sock") }

func (e *Env) startContainerd() error {
	dir := e.path("containerd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), e.CtrdSocket(),
		e.CtrdSocket()+".ttrpc", filepath.Join(dir, "debug.sock"))
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command("containerd", "--config", cfg)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	e.containerd = cmd
	e.ctrdExited = make(chan error, 1)
	go func() { e.ctrdExited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if e.Ctr("version").Run() == nil {
			return nil
		}
		select {
		case err := <-e.ctrdExited:
			e.ctrdExited <- err
			b, _ := os.ReadFile(filepath.Join(dir, "containerd.log"))
			return fmt.Errorf("containerd exited: %v: %s", err, lastLines(string(b), 10))
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("containerd did not answer within 15s")
}

// Ctr returns a ctr command against this workspace's containerd, in its
// own namespace.
func (e *Env) Ctr(args ...string) *exec.Cmd {
	cmd := exec.Command("ctr", append([]string{"--address", e.CtrdSocket(), "--namespace", e.Name}, args...)...)
	cmd.Dir = e.Dir
	return cmd
}

// CtrRunFlags are the flags every ctr run gets: the runtime binary, its
// state root (RuncRoot) inside the workspace, and a cgroup under CgroupParent.
func (e *Env) CtrRunFlags(runtime, id string) []string {
	return []string{"--runc-binary", runtime, "--runc-root", e.RuncRoot(), "--cgroup", e.CgroupParent + "/" + id}
}

// RuncRoot is the --root the shim passes the runtime.
func (e *Env) RuncRoot() string { return e.path("runc-root") }

// CtrdState is the shim's bundle directory of container id.
func (e *Env) CtrdBundle(id string) string {
	return e.path("containerd", "state", "io.containerd.runtime.v2.task", e.Name, id)
}

// Close removes every container, stops containerd, unmounts and removes the
// workspace and the cgroups. It returns what it could not undo.
func (e *Env) Close() []string {
	var problems []string
	if out, err := e.Podman("rm", "--all", "--force", "--time", "0").CombinedOutput(); err != nil {
		problems = append(problems, fmt.Sprintf("podman rm --all: %v: %s", err, out))
	}
	if e.containerd != nil {
		problems = append(problems, e.removeCtrdContainers()...)
		e.containerd.Process.Signal(unix.SIGTERM)
		select {
		case <-e.ctrdExited:
		case <-time.After(10 * time.Second):
			e.containerd.Process.Kill()
			<-e.ctrdExited
			problems = append(problems, "containerd ignored SIGTERM for 10s")
		}
	}
	problems = append(problems, unmountUnder(e.Dir)...)
	if err := os.RemoveAll(e.Dir); err != nil {
		problems = append(problems, err.Error())
	}
	problems = append(problems, RemoveCgroups(e.CgroupParent)...)
	return problems
}

func (e *Env) removeCtrdContainers() []string {
	var problems []string
	out, err := e.Ctr("containers", "list", "--quiet").Output()
	if err != nil {
		return []string{fmt.Sprintf("ctr containers list: %v", err)}
	}
	for _, id := range strings.Fields(string(out)) {
		e.Ctr("task", "kill", "--signal", "SIGKILL", id).Run()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if o, _ := e.Ctr("task", "delete", "--force", id).CombinedOutput(); !strings.Contains(string(o), "must be stopped") {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if o, err := e.Ctr("containers", "delete", id).CombinedOutput(); err != nil {
			problems = append(problems, fmt.Sprintf("ctr containers delete %s: %v: %s", id, err, o))
		}
	}
	return problems
}

// RemoveCgroups removes the cgroup directory parent (absolute, in every
// hierarchy under /sys/fs/cgroup) and everything below it, deepest first.
func RemoveCgroups(parent string) []string {
	var problems []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, root := range roots {
		dir := filepath.Join(root, parent)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		var dirs []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			var err error
			for try := 0; try < 50; try++ {
				if err = unix.Rmdir(dirs[i]); err == nil || err == unix.ENOENT {
					err = nil
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil {
				problems = append(problems, fmt.Sprintf("rmdir %s: %v", dirs[i], err))
			}
		}
	}
	return problems
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) []string {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return []string{err.Error()}
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	var problems []string
	for _, m := range mounts {
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			problems = append(problems, fmt.Sprintf("umount %s: %v", m.Mountpoint, err))
		}
	}
	return problems
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ReapUntil reaps every child of this process (which must be a child
// subreaper) until pid exits, and returns pid's exit status (1 if it was
// killed or wait4 failed). conmon and containerd-shim daemonize: on this
// machine their parent would be PID 1, which does not reap, and podman takes
// a zombie conmon for a live one.
func ReapUntil(pid int) int {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 1
		}
		if got == pid {
			if ws.Exited() {
				return ws.ExitStatus()
			}
			return 1
		}
	}
}
