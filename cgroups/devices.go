package cgroups

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func devNum(v int64) *int64 { return &v }

// defaultAllowedDevices are allowed after the config's own rules, as runc
// does: the default device nodes, ptys and mknod of anything (creating a
// node is harmless when opening it is denied). A function: as a variable,
// its pointers would be allocated at the start of every rt process, the
// container's init included.
func defaultAllowedDevices() []specs.LinuxDeviceCgroup {
	return []specs.LinuxDeviceCgroup{
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
}

// DeviceRules is the device cgroup policy of a container: the config's rules
// in order, then an allow rule for each device in linux.devices (rt creates
// them, so they must be usable), then defaultAllowedDevices. Nil when the
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
	return append(out, defaultAllowedDevices()...)
}

// Device types and access bits, numbered as in the kernel's
// struct bpf_cgroup_dev_ctx (BPF_DEVCG_DEV_*, BPF_DEVCG_ACC_*).
const (
	devBlock = 1
	devChar  = 2

	accMknod = 1
	accRead  = 2
	accWrite = 4
	accAll   = accMknod | accRead | accWrite
)

// devKey selects devices: a type and a major/minor number, -1 for any.
type devKey struct {
	typ          uint8 // devBlock or devChar
	major, minor int64
}

func (k devKey) String() string {
	t := "c"
	if k.typ == devBlock {
		t = "b"
	}
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	return t + " " + num(k.major) + ":" + num(k.minor)
}

func accessString(a uint8) string {
	s := ""
	for _, c := range []struct {
		bit uint8
		ch  string
	}{{accRead, "r"}, {accWrite, "w"}, {accMknod, "m"}} {
		if a&c.bit != 0 {
			s += c.ch
		}
	}
	return s
}

// devicePolicy is the state the kernel's v1 devices controller reaches
// after a list of rules: a default and exceptions to it, merged per device
// key. rt applies the same state on both cgroup versions: on v1 by writing
// it to devices.allow/deny, on v2 as an eBPF program (see program).
//
// As in runc, the policy starts from deny-all: the spec calls the list an
// allowlist, so a config that only allows some devices gets exactly those.
// An "a" rule (type "a" or empty) switches the default and drops every
// exception, whatever its numbers and access say, as the kernel does.
// Another rule adds an exception when its verdict differs from the
// default, and otherwise removes the access it names from the exception
// with exactly its key. The kernel ignores a removal that only a wildcard
// exception covers ("deny c 1:3" after "allow c *:*" leaves /dev/null
// allowed); that is refused here instead of leaving a false sense of
// security, like runc does.
type devicePolicy struct {
	defaultAllow bool
	exceptions   map[devKey]uint8 // key -> access bits
}

// parseDeviceRule checks one linux.resources.devices entry. all is true for
// an "a" rule.
func parseDeviceRule(r specs.LinuxDeviceCgroup) (k devKey, access uint8, all bool, err error) {
	switch r.Type {
	case "", "a":
		all = true
	case "b":
		k.typ = devBlock
	case "c":
		k.typ = devChar
	default:
		return k, 0, false, fmt.Errorf("type %q (want a, b or c)", r.Type)
	}
	a := r.Access
	if a == "" {
		a = "rwm"
	}
	for _, c := range a {
		switch c {
		case 'r':
			access |= accRead
		case 'w':
			access |= accWrite
		case 'm':
			access |= accMknod
		default:
			return k, 0, false, fmt.Errorf("access %q (want letters of rwm)", r.Access)
		}
	}
	num := func(name string, p *int64) (int64, error) {
		if p == nil || *p < 0 {
			return -1, nil
		}
		if *p > math.MaxUint32 {
			return 0, fmt.Errorf("%s %d out of range", name, *p)
		}
		return *p, nil
	}
	if k.major, err = num("major", r.Major); err != nil {
		return k, 0, false, err
	}
	if k.minor, err = num("minor", r.Minor); err != nil {
		return k, 0, false, err
	}
	return k, access, all, nil
}

// compileDevices runs the rules in order (see devicePolicy). Errors name
// the index of the offending rule.
func compileDevices(rules []specs.LinuxDeviceCgroup) (*devicePolicy, error) {
	p := &devicePolicy{exceptions: map[devKey]uint8{}}
	for i, r := range rules {
		k, access, all, err := parseDeviceRule(r)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		if all {
			p.defaultAllow = r.Allow
			clear(p.exceptions)
			continue
		}
		if r.Allow != p.defaultAllow {
			p.exceptions[k] |= access
			continue
		}
		// Removal: only the exception with exactly this key changes.
		for _, w := range []devKey{{k.typ, -1, k.minor}, {k.typ, k.major, -1}, {k.typ, -1, -1}} {
			if w != k && p.exceptions[w]&access != 0 {
				verb := "deny"
				if r.Allow {
					verb = "allow"
				}
				return nil, fmt.Errorf("linux.resources.devices[%d]: cannot %s %s %s after the wider rule %s %s: the devices controller can only remove a whole exception, not punch a hole in a wildcard one",
					i, verb, k, accessString(access), w, accessString(p.exceptions[w]))
			}
		}
		if left := p.exceptions[k] &^ access; left != 0 {
			p.exceptions[k] = left
		} else {
			delete(p.exceptions, k)
		}
	}
	return p, nil
}

// sortedExceptions returns the exceptions in a stable order (type, major,
// minor), so the same policy always gives the same writes and program.
func (p *devicePolicy) sortedExceptions() []devKey {
	keys := make([]devKey, 0, len(p.exceptions))
	for k := range p.exceptions {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b devKey) int {
		return cmp.Or(cmp.Compare(a.typ, b.typ), cmp.Compare(a.major, b.major), cmp.Compare(a.minor, b.minor))
	})
	return keys
}

// allows answers an access check the way the kernel's v1 devices
// controller does: under deny-all one exception must grant all the access
// asked for; under allow-all no exception may share any of it. The eBPF
// program must give the same answers (see the tests).
func (p *devicePolicy) allows(typ uint8, major, minor uint32, access uint8) bool {
	for k, a := range p.exceptions {
		if k.typ != typ || (k.major >= 0 && k.major != int64(major)) || (k.minor >= 0 && k.minor != int64(minor)) {
			continue
		}
		if p.defaultAllow && a&access != 0 {
			return false
		}
		if !p.defaultAllow && access&^a == 0 {
			return true
		}
	}
	return p.defaultAllow
}

// v1Write is one line for devices.allow or devices.deny.
type v1Write struct {
	allow bool
	line  string // "a", or "c 1:3 rwm"
}

// v1DeviceWrites returns the writes that take a v1 devices cgroup whose
// devices.list reads cur to the policy p, disturbing running processes as
// little as possible (for `update`): when both are allowlists only the
// differences are written, narrowing first. Otherwise the default is
// switched first ("a"), which drops every exception. devices.list of an
// allow-all cgroup does not show its deny exceptions, so that case always
// starts over.
func v1DeviceWrites(cur string, p *devicePolicy) ([]v1Write, error) {
	old, oldAllow, err := parseDevicesList(cur)
	if err != nil {
		return nil, err
	}
	var out []v1Write
	if oldAllow || p.defaultAllow {
		out = append(out, v1Write{allow: p.defaultAllow, line: "a"})
		old = nil
	}
	for _, k := range sortedKeys(old) {
		if dropped := old[k] &^ p.exceptions[k]; dropped != 0 {
			out = append(out, v1Write{allow: p.defaultAllow, line: k.String() + " " + accessString(dropped)})
		}
	}
	for _, k := range p.sortedExceptions() {
		if gained := p.exceptions[k] &^ old[k]; gained != 0 {
			out = append(out, v1Write{allow: !p.defaultAllow, line: k.String() + " " + accessString(gained)})
		}
	}
	return out, nil
}

func sortedKeys(m map[devKey]uint8) []devKey {
	return (&devicePolicy{exceptions: m}).sortedExceptions()
}

// parseDevicesList reads devices.list: "a *:* rwm" alone means allow-all
// (whose deny exceptions the kernel does not list); otherwise each line is
// an allowed exception.
func parseDevicesList(s string) (map[devKey]uint8, bool, error) {
	out := map[devKey]uint8{}
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		var t, nums, acc string
		if _, err := fmt.Sscanf(line, "%s %s %s", &t, &nums, &acc); err != nil {
			return nil, false, fmt.Errorf("parse devices.list line %q: %w", line, err)
		}
		if t == "a" {
			return nil, true, nil
		}
		maj, min, ok := strings.Cut(nums, ":")
		if !ok {
			return nil, false, fmt.Errorf("parse devices.list line %q", line)
		}
		r := specs.LinuxDeviceCgroup{Type: t, Access: acc}
		for _, f := range []struct {
			s   string
			dst **int64
		}{{maj, &r.Major}, {min, &r.Minor}} {
			if f.s == "*" {
				continue
			}
			n, err := strconv.ParseInt(f.s, 10, 64)
			if err != nil {
				return nil, false, fmt.Errorf("parse devices.list line %q: %w", line, err)
			}
			*f.dst = &n
		}
		k, a, _, err := parseDeviceRule(r)
		if err != nil {
			return nil, false, fmt.Errorf("parse devices.list line %q: %w", line, err)
		}
		out[k] |= a
	}
	return out, false, nil
}
