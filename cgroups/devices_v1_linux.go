package cgroups

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// setDevicesV1 writes the rules in order: each one goes to devices.allow or
// devices.deny; "a" to deny resets to deny-all, like the kernel's own model.
func setDevicesV1(dir string, rules []specs.LinuxDeviceCgroup) error {
	for i, r := range rules {
		s, err := v1DeviceRule(r)
		if err != nil {
			return fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := writeFile(dir, file, s); err != nil {
			return fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
	}
	return nil
}
