package cgroups

import (
	"strings"
	"testing"
)

func TestInnerPath(t *testing.T) {
	for _, tc := range []struct {
		path, id, want, err string
	}{
		{path: "", id: "c1", want: "c1"}, // runc's fs default: relative to our own cgroup
		{path: "", id: "a/b", err: "invalid container id"},
		{path: "", id: "", err: "invalid container id"},
		{path: "/myRuntime/c1", id: "c1", want: "/myRuntime/c1"},
		{path: "/a//b/./c/", want: "/a/b/c"},
		{path: "/a/../b", want: "/b"},
		{path: "rel/c1", want: "rel/c1"},
		{path: "/..", err: "leaves the cgroup root"},
		{path: "/a/../../etc", err: "leaves the cgroup root"},
		{path: "../x", err: "leaves the cgroup root"},
		{path: "/", err: "names the root"},
		{path: "/a/..", err: "names the root"},
		{path: ".", err: "names the root"},
		{path: "system.slice:docker:abc", err: "systemd form"},
		{path: ":runc:abc", err: "systemd form"},
		{path: "/with:colons:ok", want: "/with:colons:ok"},
	} {
		got, err := InnerPath(tc.path, tc.id)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("InnerPath(%q, %q) error = %v, want %q", tc.path, tc.id, err, tc.err)
			}
			if err != nil && tc.path != "" && !strings.Contains(err.Error(), "linux.cgroupsPath") {
				t.Errorf("InnerPath(%q) error %q does not name the field", tc.path, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("InnerPath(%q, %q) = %q, %v, want %q", tc.path, tc.id, got, err, tc.want)
		}
	}
}

func TestResolveDir(t *testing.T) {
	for _, tc := range []struct {
		mp, root, own, inner, want string
		err                        bool
	}{
		// Absolute: below the hierarchy root, whatever our own cgroup is.
		{"/sys/fs/cgroup/memory", "/", "/process_api/x", "/rt-c1", "/sys/fs/cgroup/memory/rt-c1", false},
		// Relative: below our own cgroup (runc's fs driver).
		{"/sys/fs/cgroup/memory", "/", "/process_api/x", "c1", "/sys/fs/cgroup/memory/process_api/x/c1", false},
		{"/sys/fs/cgroup/cpu", "/", "/", "c1", "/sys/fs/cgroup/cpu/c1", false},
		// Mount shows a sub-tree (nested container): strip its root.
		{"/sys/fs/cgroup/memory", "/docker/abc", "/docker/abc/sub", "c1", "/sys/fs/cgroup/memory/sub/c1", false},
		{"/sys/fs/cgroup/memory", "/docker/abc", "/other", "c1", "", true},
	} {
		got, err := resolveDir(tc.mp, tc.root, tc.own, tc.inner)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("resolveDir(%q, %q, %q, %q) = %q, %v, want %q (err %v)", tc.mp, tc.root, tc.own, tc.inner, got, err, tc.want, tc.err)
		}
	}
}
