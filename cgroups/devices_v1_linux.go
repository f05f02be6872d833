package cgroups

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// setDevicesV1 takes the devices cgroup at dir to the policy p (compiled
// from rules). A fresh cgroup (allow-all) gets a deny-all followed by the
// rules as written: the kernel lists exceptions in the order they were
// added, and the spec (and runtime-tools) want the listed order. A cgroup
// that already has a policy (update) gets only the differences from its
// current devices.list (see v1DeviceWrites).
func setDevicesV1(dir string, p *devicePolicy, rules []specs.LinuxDeviceCgroup) error {
	cur, err := readFile(dir, "devices.list")
	if err != nil {
		return err
	}
	var writes []v1Write
	if strings.TrimSpace(cur) == "a *:* rwm" && !p.defaultAllow {
		writes = append(writes, v1Write{allow: false, line: "a"})
		for _, r := range rules {
			if !r.Allow && (r.Type == "" || r.Type == "a") && r.Major == nil && r.Minor == nil {
				continue // deny-all: already the state
			}
			line, err := v1DeviceRule(r)
			if err != nil {
				return err
			}
			writes = append(writes, v1Write{allow: r.Allow, line: line})
		}
	} else if writes, err = v1DeviceWrites(cur, p); err != nil {
		return err
	}
	for _, w := range writes {
		file := "devices.deny"
		if w.allow {
			file = "devices.allow"
		}
		if err := writeFile(dir, file, w.line); err != nil {
			return err
		}
	}
	return nil
}

// v1DeviceRule renders a rule as devices.allow/deny take it: "c 1:3 rwm".
func v1DeviceRule(r specs.LinuxDeviceCgroup) (string, error) {
	t := r.Type
	if t == "" {
		t = "a"
	}
	if t != "a" && t != "b" && t != "c" {
		return "", fmt.Errorf("type %q (want a, b or c)", r.Type)
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	num := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return strconv.FormatInt(*p, 10)
	}
	return fmt.Sprintf("%s %s:%s %s", t, num(r.Major), num(r.Minor), access), nil
}
