package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestSpecCommand: `spec` writes a config that parses, refuses to overwrite
// one, and (made non-interactive, as `make demo` does) runs.
func TestSpecCommand(t *testing.T) {
	b := newBundle(t)
	cfg := filepath.Join(b.Dir, "config.json")
	rt(t, "spec", "--bundle", b.Dir).mustFail(t, "exists")
	os.Remove(cfg)
	rt(t, "spec", "--bundle", b.Dir).mustOK(t)
	var s specs.Spec
	if err := json.Unmarshal([]byte(mustRead(t, cfg)), &s); err != nil {
		t.Fatalf("spec output does not parse: %v", err)
	}
	if s.Process == nil || !s.Process.Terminal || s.Root == nil || s.Root.Path != "rootfs" || s.Linux == nil {
		t.Fatalf("spec output is not the usual default: %+v", s)
	}
	s.Process.Terminal = false
	s.Process.Args = []string{"echo", "from-spec"}
	s.Linux.CgroupsPath = b.CgroupsPath
	b.Spec = &s
	b.write()
	mustContain(t, "running the default spec", b.output(), "from-spec")

	os.Remove(cfg)
	rt(t, "spec", "--rootless", "--bundle", b.Dir).mustOK(t)
	s = specs.Spec{}
	if err := json.Unmarshal([]byte(mustRead(t, cfg)), &s); err != nil {
		t.Fatalf("spec --rootless output does not parse: %v", err)
	}
	hasUser := false
	for _, n := range s.Linux.Namespaces {
		hasUser = hasUser || n.Type == specs.UserNamespace
	}
	if !hasUser || len(s.Linux.UIDMappings) == 0 {
		t.Fatalf("spec --rootless lacks a user namespace with mappings: %+v", s.Linux)
	}
}

// TestFeaturesCommand: `features` is JSON with the fields engines gate on.
func TestFeaturesCommand(t *testing.T) {
	out := rt(t, "features").mustOK(t).stdout
	var f struct {
		OCIVersionMin string   `json:"ociVersionMin"`
		OCIVersionMax string   `json:"ociVersionMax"`
		Hooks         []string `json:"hooks"`
		MountOptions  []string `json:"mountOptions"`
		Linux         *struct {
			Namespaces   []string `json:"namespaces"`
			Capabilities []string `json:"capabilities"`
		} `json:"linux"`
	}
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("features is not JSON: %v: %s", err, out)
	}
	if f.OCIVersionMin == "" || f.OCIVersionMax == "" || f.Linux == nil {
		t.Fatalf("features lacks versions or linux: %s", out)
	}
	for _, want := range []string{"pid", "network", "mount", "ipc", "uts", "user", "cgroup"} {
		if !oneOf(want, f.Linux.Namespaces) {
			t.Errorf("features: namespace %q missing from %v", want, f.Linux.Namespaces)
		}
	}
	for _, want := range []string{"createRuntime", "poststop"} {
		if !oneOf(want, f.Hooks) {
			t.Errorf("features: hook %q missing from %v", want, f.Hooks)
		}
	}
	if !oneOf("CAP_SYS_ADMIN", f.Linux.Capabilities) || !oneOf("rbind", f.MountOptions) {
		t.Errorf("features: capabilities or mount options incomplete: %s", out)
	}
}

// TestStateFields: state carries the bundle, rootfs, creation time and
// annotations of the config.
func TestStateFields(t *testing.T) {
	b := newBundle(t, args("sleep", "1000"), func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.rt.test": "yes"}
	})
	b.create().mustOK(t)
	st := b.mustState()
	if st.Rootfs != filepath.Join(b.Dir, "rootfs") {
		t.Errorf("state rootfs %q, want %q", st.Rootfs, filepath.Join(b.Dir, "rootfs"))
	}
	if created, err := time.Parse(time.RFC3339Nano, st.Created); err != nil || time.Since(created) > time.Minute {
		t.Errorf("state created %q is not a recent RFC 3339 time (%v)", st.Created, err)
	}
	if st.Annotations["org.rt.test"] != "yes" {
		t.Errorf("state annotations %v lack the config's", st.Annotations)
	}
}

// TestRunFlags: --no-pivot, --no-new-keyring and --keep work for run.
func TestRunFlags(t *testing.T) {
	b := newBundle(t, shell(`echo pivot-less; cat /proc/self/stat >/dev/null`))
	mustContain(t, "run --no-pivot --no-new-keyring", b.run("--no-pivot", "--no-new-keyring").mustOK(t).stdout, "pivot-less")

	k := newBundle(t, args("true"))
	k.run("--keep").mustOK(t)
	if st := k.mustState(); st.Status != specs.StateStopped {
		t.Fatalf("run --keep: status %q, want stopped", st.Status)
	}
	rt(t, "delete", k.ID).mustOK(t)
	assertGone(t, k)
}

// TestKillCreated: a created container can be killed, then deleted.
func TestKillCreated(t *testing.T) {
	b := newBundle(t, args("sleep", "1000"))
	b.create().mustOK(t)
	rt(t, "kill", b.ID, "KILL").mustOK(t)
	b.waitStatus("stopped")
	rt(t, "delete", b.ID).mustOK(t)
	assertGone(t, b)
}

// TestInitDiedUnderneath: when init is killed behind the runtime's back,
// state says stopped and start fails promptly instead of hanging.
func TestInitDiedUnderneath(t *testing.T) {
	b := newBundle(t, args("sleep", "1000"))
	b.create().mustOK(t)
	if err := unix.Kill(b.pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	reapGone(b.pid, 5*time.Second) // we are its subreaper, as a shim would be
	b.waitStatus("stopped")
	start := time.Now()
	rt(t, "start", b.ID).mustFail(t, "stopped", "not", "created")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("start of a dead container took %v", d)
	}
	rt(t, "delete", b.ID).mustOK(t)
	assertGone(t, b)
}

// TestConcurrentRuns: several containers run at once without interfering.
func TestConcurrentRuns(t *testing.T) {
	const n = 6
	bundles := make([]*bundle, n)
	for i := range bundles {
		bundles[i] = newBundle(t, shell(`hostname`), func(s *specs.Spec) {
			s.Hostname = "c" + itoa(i)
		})
	}
	var wg sync.WaitGroup
	results := make([]result, n)
	for i, b := range bundles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = rt(t, "run", "--bundle", b.Dir, b.ID)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if !r.ok() || strings.TrimSpace(r.stdout) != "c"+itoa(i) {
			t.Errorf("concurrent run %d: %s", i, r)
		}
	}
}

// containerd's restore path passes runc's -no-subreaper (single dash); run
// accepts it and still waits for the container and returns its status.
func TestRunNoSubreaper(t *testing.T) {
	b := newBundle(t, shell("echo hi; exit 5"))
	r := b.run("-no-subreaper")
	if r.code != 5 || r.stdout != "hi\n" {
		t.Fatalf("run -no-subreaper: want exit 5 and hi; got %v", r)
	}
}
