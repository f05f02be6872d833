package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Suite-wide settings, fixed by TestMain before any test runs.
var (
	runtimeName  string // "rt", or "runc" when RUNTIME=runc
	runtimeBin   string // absolute path of the binary under test
	baseDir      string // temp dir holding everything the suite creates
	stateRoot    string // the runtime's --root
	baseRootfs   string // busybox rootfs that bundles hard-link copy
	cgroupParent string // absolute cgroup parent of every test container
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "tests: the integration suite must run as root")
		return 1
	}
	// Like containerd-shim and conmon, become the reaper of the container
	// processes that outlive the runtime command that started them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "tests: set child subreaper:", err)
		return 1
	}
	var err error
	baseDir, err = os.MkdirTemp("", "rt-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	// User-namespaced containers run as a mapped uid: let them traverse.
	if err := os.Chmod(baseDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	before := snapshotHost()
	code := func() int {
		if err := setup(); err != nil {
			fmt.Fprintln(os.Stderr, "tests: setup:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "tests: runtime %s (%s), root %s, cgroup parent %s\n",
			runtimeName, runtimeBin, stateRoot, cgroupParent)
		return m.Run()
	}()
	if leaks := checkLeaks(before); len(leaks) > 0 {
		fmt.Fprintln(os.Stderr, "LEAK CHECK FAILED: the suite left these behind (now cleaned up):")
		for _, l := range leaks {
			fmt.Fprintln(os.Stderr, "  -", l)
		}
		code = 1
	} else {
		fmt.Fprintln(os.Stderr, "tests: leak check passed")
	}
	if err := removeAllNoMounts(baseDir); err != nil {
		fmt.Fprintln(os.Stderr, "tests: remove", baseDir+":", err)
		code = 1
	}
	return code
}

// setup chooses the binary, builds the shared rootfs and names the cgroup parent.
func setup() error {
	repo, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	runtimeName = "rt"
	switch {
	case os.Getenv("RUNTIME") == "runc":
		runtimeName = "runc"
		if runtimeBin, err = exec.LookPath("runc"); err != nil {
			return fmt.Errorf("RUNTIME=runc: %w", err)
		}
	case os.Getenv("RT_BINARY") != "":
		if runtimeBin, err = filepath.Abs(os.Getenv("RT_BINARY")); err != nil {
			return err
		}
	default:
		runtimeBin = filepath.Join(baseDir, "rt")
		cmd := exec.Command(filepath.Join(repo, "hack", "build-rt.sh"), runtimeBin)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("hack/build-rt.sh: %w\n%s", err, out)
		}
	}
	stateRoot = filepath.Join(baseDir, "root")
	if err := os.Mkdir(stateRoot, 0o700); err != nil {
		return err
	}
	baseRootfs = filepath.Join(baseDir, "rootfs")
	if out, err := exec.Command(filepath.Join(repo, "hack", "mkrootfs.sh"), baseRootfs).CombinedOutput(); err != nil {
		return fmt.Errorf("hack/mkrootfs.sh: %w\n%s", err, out)
	}
	// sdnotify (static) sends NOTIFY_SOCKET messages from inside containers.
	build := exec.Command("go", "build", "-o", filepath.Join(baseRootfs, "bin", "sdnotify"), "./tests/sdnotify")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build sdnotify: %w\n%s", err, out)
	}
	for _, d := range []string{"bundles", "io"} {
		if err := os.Mkdir(filepath.Join(baseDir, d), 0o755); err != nil {
			return err
		}
	}
	cgroupParent = fmt.Sprintf("/rt-test-%d", os.Getpid())
	return nil
}
