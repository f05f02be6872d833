package cgroups

import (
	"fmt"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func devNum(v int64) *int64 { return &v }

// DefaultAllowedDevices are allowed after the config's own rules, as runc
// does: the default device nodes, ptys and mknod of anything (creating a
// node is harmless when opening it is denied).
var DefaultAllowedDevices = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Access: "m"},
	{Allow: true, Type: "b", Access: "m"},
	{Allow: true, Type: "c", Major: devNum(1), Minor: devNum(3), Access: "rwm"},    // null
	{Allow: true, Type: "c", Major: devNum(1), Minor: devNum(5), Access: "rwm"},    // zero
	{Allow: true, Type: "c", Major: devNum(1), Minor: devNum(7), Access: "rwm"},    // full
	{Allow: true, Type: "c", Major: devNum(1), Minor: devNum(8), Access: "rwm"},    // random
	{Allow: true, Type: "c", Major: devNum(1), Minor: devNum(9), Access: "rwm"},    // urandom
	{Allow: true, Type: "c", Major: devNum(5), Minor: devNum(0), Access: "rwm"},    // tty
	{Allow: true, Type: "c", Major: devNum(5), Minor: devNum(1), Access: "rwm"},    // console
	{Allow: true, Type: "c", Major: devNum(5), Minor: devNum(2), Access: "rwm"},    // ptmx
	{Allow: true, Type: "c", Major: devNum(136), Access: "rwm"},                    // pts/*
	{Allow: true, Type: "c", Major: devNum(10), Minor: devNum(200), Access: "rwm"}, // net/tun
}

// DeviceRules is the device cgroup policy of a container: the config's rules
// in order, then an allow rule for each device in linux.devices (rt creates
// them, so they must be usable), then DefaultAllowedDevices. Nil when the
// config has no rules at all, so nothing is restricted that was not asked.
func DeviceRules(rules []specs.LinuxDeviceCgroup, devices []specs.LinuxDevice) []specs.LinuxDeviceCgroup {
	if len(rules) == 0 {
		return nil
	}
	out := append([]specs.LinuxDeviceCgroup(nil), rules...)
	for _, d := range devices {
		t := d.Type
		if t == "u" {
			t = "c"
		}
		if t == "p" {
			continue // fifos are not device-controlled
		}
		out = append(out, specs.LinuxDeviceCgroup{Allow: true, Type: t, Major: devNum(d.Major), Minor: devNum(d.Minor), Access: "rwm"})
	}
	return append(out, DefaultAllowedDevices...)
}

// v1DeviceRule renders a rule as devices.allow/deny want it: "c 1:3 rwm",
// "a" for everything.
func v1DeviceRule(r specs.LinuxDeviceCgroup) (string, error) {
	t := r.Type
	if t == "" {
		t = "a"
	}
	switch t {
	case "a", "b", "c":
	default:
		return "", fmt.Errorf("type %q (want a, b or c)", r.Type)
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	for _, c := range access {
		if c != 'r' && c != 'w' && c != 'm' {
			return "", fmt.Errorf("access %q (want letters of rwm)", r.Access)
		}
	}
	if t == "a" && r.Major == nil && r.Minor == nil {
		return "a", nil
	}
	num := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return strconv.FormatInt(*p, 10)
	}
	return fmt.Sprintf("%s %s:%s %s", t, num(r.Major), num(r.Minor), access), nil
}
