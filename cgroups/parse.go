package cgroups

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// parseProcCgroup parses /proc/PID/cgroup ("4:memory:/a", "2:cpu,cpuacct:/b",
// "9:name=systemd:/c", "0::/d") into controller -> cgroup path. The cgroup2
// line gets the key UnifiedKey.
func parseProcCgroup(r io.Reader) (map[string]string, error) {
	out := make(map[string]string)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("malformed cgroup line %q", line)
		}
		if parts[1] == "" {
			out[UnifiedKey] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, sc.Err()
}

// v1Controllers are the v1 hierarchies a container joins when they are
// mounted. "name=systemd" carries no limits but tools use it to find a
// process's unit/container.
var v1Controllers = []string{
	"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
	"hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc", "name=systemd",
}

func isV1Controller(name string) bool {
	for _, c := range v1Controllers {
		if c == name {
			return true
		}
	}
	return false
}

// hasWord reports whether the space-separated list s (cgroup.controllers,
// cgroup.subtree_control) contains w; a leading "+" is ignored so a fake
// file holding what we wrote reads the same.
func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if strings.TrimPrefix(f, "+") == w {
			return true
		}
	}
	return false
}
