package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	point     string
	opts      map[string]bool // per-mount options (ro, nosuid, ...)
	fstype    string
	superOpts map[string]bool // filesystem options (size=..., mode=...)
}

// parseMountinfo parses mountinfo text; the last entry for a point wins
// (it is the one on top).
func parseMountinfo(s string) map[string]mountEntry {
	m := map[string]mountEntry{}
	for _, line := range strings.Split(s, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, p := strings.Fields(pre), strings.Fields(post)
		if len(f) < 6 || len(p) < 3 {
			continue
		}
		e := mountEntry{point: unescapeMount(f[4]), opts: set(f[5]), fstype: p[0], superOpts: set(p[2])}
		m[e.point] = e
	}
	return m
}

func set(csv string) map[string]bool {
	m := map[string]bool{}
	for _, o := range strings.Split(csv, ",") {
		m[o] = true
	}
	return m
}

// TestMounts checks mount options as seen in the container's mountinfo.
func TestMounts(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "hello"), []byte("hello-from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(src, 0o755)

	tests := []struct {
		name   string
		mount  specs.Mount
		script string // run after the mountinfo dump
		point  string
		fstype string
		opts   []string // per-mount options that must be set
		super  []string // filesystem options that must be set
		want   []string // substrings of the script's output
	}{
		{name: "tmpfs size nosuid nodev",
			mount: specs.Mount{Destination: "/mnt/tmp", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "nodev", "noexec", "size=1m", "mode=750"}},
			script: `stat -c %a /mnt/tmp; echo x > /mnt/tmp/f && echo writable`,
			point:  "/mnt/tmp", fstype: "tmpfs", opts: []string{"rw", "nosuid", "nodev", "noexec"},
			super: []string{"size=1024k", "mode=750"}, want: []string{"750\n", "writable\n"}},
		{name: "tmpfs ro",
			mount:  specs.Mount{Destination: "/mnt/ro", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro", "nosuid"}},
			script: `touch /mnt/ro/f 2>/dev/null || echo refused`,
			point:  "/mnt/ro", fstype: "tmpfs", opts: []string{"ro", "nosuid"}, want: []string{"refused\n"}},
		{name: "bind ro",
			mount:  specs.Mount{Destination: "/mnt/bind", Type: "bind", Source: src, Options: []string{"rbind", "ro"}},
			script: `cat /mnt/bind/hello; touch /mnt/bind/new 2>/dev/null || echo refused`,
			point:  "/mnt/bind", opts: []string{"ro"}, want: []string{"hello-from-host\n", "refused\n"}},
		{name: "bind rw nosuid",
			mount:  specs.Mount{Destination: "/mnt/rw", Type: "none", Source: src, Options: []string{"bind", "nosuid"}},
			script: `echo written > /mnt/rw/from-container && echo ok`,
			point:  "/mnt/rw", opts: []string{"rw", "nosuid"}, want: []string{"ok\n"}},
		// Deprecated but valid: relative to "/" (config.md, mounts).
		{name: "relative destination",
			mount: specs.Mount{Destination: "mnt/rel", Type: "tmpfs", Source: "tmpfs", Options: []string{"nodev"}},
			point: "/mnt/rel", fstype: "tmpfs", opts: []string{"nodev"}},
		{name: "bind a file",
			mount:  specs.Mount{Destination: "/etc/greeting", Type: "bind", Source: filepath.Join(src, "hello"), Options: []string{"bind", "ro"}},
			script: `cat /etc/greeting`,
			point:  "/etc/greeting", opts: []string{"ro"}, want: []string{"hello-from-host\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := newBundle(t, shell("cat /proc/self/mountinfo; echo ---; "+tc.script), func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, tc.mount)
			}).output()
			info, rest, _ := strings.Cut(out, "---\n")
			e, ok := parseMountinfo(info)[tc.point]
			if !ok {
				t.Fatalf("%s not mounted; mountinfo:\n%s", tc.point, info)
			}
			if tc.fstype != "" && e.fstype != tc.fstype {
				t.Errorf("%s: type %q, want %q", tc.point, e.fstype, tc.fstype)
			}
			for _, o := range tc.opts {
				if !e.opts[o] {
					t.Errorf("%s: mount option %q missing: %v", tc.point, o, e.opts)
				}
			}
			for _, o := range tc.super {
				if !e.superOpts[o] {
					t.Errorf("%s: filesystem option %q missing: %v", tc.point, o, e.superOpts)
				}
			}
			for _, w := range tc.want {
				mustContain(t, "script output", rest, w)
			}
		})
	}
	if data, err := os.ReadFile(filepath.Join(src, "from-container")); err != nil || string(data) != "written\n" {
		t.Errorf("write through the rw bind mount did not reach the host: %q, %v", data, err)
	}
}

// TestDefaultMounts: the base config's /proc, /dev, /dev/pts, /dev/shm,
// /sys and default devices are in place.
func TestDefaultMounts(t *testing.T) {
	out := newBundle(t, shell(`cat /proc/self/mountinfo; echo ---
for d in null zero full random urandom tty ptmx; do [ -c /dev/$d ] && echo dev-$d; done
for l in fd stdin stdout stderr; do [ -L /dev/$l ] && echo link-$l; done
echo x > /dev/null && echo null-writable
head -c 4 /dev/zero | wc -c`)).output()
	info, rest, _ := strings.Cut(out, "---\n")
	mounts := parseMountinfo(info)
	for point, fstype := range map[string]string{"/": "", "/proc": "proc", "/dev": "tmpfs",
		"/dev/pts": "devpts", "/dev/shm": "tmpfs", "/dev/mqueue": "mqueue", "/sys": "sysfs"} {
		e, ok := mounts[point]
		if !ok {
			t.Errorf("%s not mounted", point)
			continue
		}
		if fstype != "" && e.fstype != fstype {
			t.Errorf("%s: type %q, want %q", point, e.fstype, fstype)
		}
	}
	if !mounts["/"].opts["ro"] {
		t.Errorf("root.readonly: / is not ro: %v", mounts["/"].opts)
	}
	if !mounts["/sys"].opts["ro"] {
		t.Errorf("/sys mounted without ro: %v", mounts["/sys"].opts)
	}
	for _, w := range []string{"dev-null", "dev-zero", "dev-full", "dev-random", "dev-urandom", "dev-tty", "dev-ptmx",
		"link-fd", "link-stdin", "link-stdout", "link-stderr", "null-writable", "\n4\n"} {
		mustContain(t, "device checks", rest, w)
	}
}

// TestRootReadonly: root.readonly makes / read-only; without it / is writable.
func TestRootReadonly(t *testing.T) {
	for _, ro := range []bool{true, false} {
		out := newBundle(t, shell(`touch /newfile 2>&1 && echo wrote; true`), func(s *specs.Spec) {
			s.Root.Readonly = ro
		}).output()
		if ro {
			mustContain(t, "readonly root", out, "Read-only file system")
		} else {
			mustContain(t, "writable root", out, "wrote")
		}
	}
}

// TestMaskedAndReadonlyPaths: masked paths read as empty, readonly paths
// refuse writes.
func TestMaskedAndReadonlyPaths(t *testing.T) {
	out := newBundle(t, shell(`cat /proc/self/mountinfo; echo ---
echo keys=$(wc -c < /proc/keys) timer_list=$(wc -c < /proc/timer_list)
echo firmware=$(ls /sys/firmware | wc -l) acpi=$(ls /proc/acpi | wc -l)
echo 1 > /proc/sys/kernel/printk_ratelimit 2>/dev/null || echo sys-refused`)).output()
	info, rest, _ := strings.Cut(out, "---\n")
	mustContain(t, "masked files", rest, "keys=0 timer_list=0")
	mustContain(t, "masked dirs", rest, "firmware=0 acpi=0")
	mustContain(t, "readonly /proc/sys", rest, "sys-refused")
	mounts := parseMountinfo(info)
	for _, p := range []string{"/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger"} {
		if _, err := os.Stat(p); err != nil {
			continue // absent on this kernel (no CONFIG_MAGIC_SYSRQ): nothing to protect
		}
		if e, ok := mounts[p]; !ok || !e.opts["ro"] {
			t.Errorf("readonly path %s: not a ro mount (%v)", p, e.opts)
		}
	}
	for _, p := range []string{"/proc/acpi", "/sys/firmware"} {
		if e, ok := mounts[p]; !ok || !e.opts["ro"] {
			t.Errorf("masked dir %s: not covered by a ro mount (%v)", p, e.opts)
		}
	}
}

// TestMountPropagation: a mount made inside the container never appears on
// the host (rootfsPropagation defaults to private/slave).
func TestMountPropagation(t *testing.T) {
	b := newBundle(t, shell(`mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && echo mounted`), func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
		s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_SYS_ADMIN")
		s.Process.Capabilities.Permitted = append(s.Process.Capabilities.Permitted, "CAP_SYS_ADMIN")
	})
	mustContain(t, "mount inside", b.output(), "mounted")
	for _, m := range mountpoints() {
		if under(m, b.Dir) {
			t.Fatalf("container mount %s propagated to the host", m)
		}
	}
}
