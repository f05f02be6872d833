// Command democonfig turns the config.json written by `rt spec` into the demo's
// non-interactive config: no terminal, a fixed echo, and an absolute
// cgroupsPath so the demo never nests under the caller's own cgroup.
// It exists because jq is not installed in demo mode and sed on JSON is brittle.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func main() {
	cgroupsPath := flag.String("cgroups-path", "", "absolute linux.cgroupsPath to set")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: democonfig [-cgroups-path P] CONFIG.JSON")
		os.Exit(2)
	}
	if err := edit(flag.Arg(0), *cgroupsPath); err != nil {
		fmt.Fprintln(os.Stderr, "democonfig:", err)
		os.Exit(1)
	}
}

func edit(path, cgroupsPath string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	if spec.Process == nil {
		return fmt.Errorf("%s: no process section", path)
	}
	spec.Process.Terminal = false
	spec.Process.Args = []string{"/bin/echo", "hello from rt"}
	if cgroupsPath != "" {
		if spec.Linux == nil {
			spec.Linux = &specs.Linux{}
		}
		spec.Linux.CgroupsPath = cgroupsPath
	}
	out, err := json.MarshalIndent(&spec, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}
