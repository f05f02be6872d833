package main

import (
	"encoding/json"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli/v2"

	"github.com/rtrun/rt/libcontainer/caps"
	"github.com/rtrun/rt/libcontainer/seccomp"
	"github.com/rtrun/rt/rootfs"
)

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print the features this runtime implements, as JSON (runtime-spec features.md)",
	Action: func(ctx *cli.Context) error {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "    ")
		return enc.Encode(rtFeatures())
	},
}

// rtFeatures must stay exactly true: engines gate behaviour on it.
func rtFeatures() *features.Features {
	t, f := true, false
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  rootfs.KnownMountOptions(),
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"},
			Capabilities: caps.Known(),
			Cgroup:       &features.Cgroup{V1: &t, V2: &t, Systemd: &f, SystemdUser: &f, Rdma: &f},
			Seccomp: &features.Seccomp{
				Enabled:        &t,
				Actions:        seccomp.Actions,
				Operators:      seccomp.Operators,
				Archs:          seccomp.Archs,
				KnownFlags:     seccomp.Flags,
				SupportedFlags: seccomp.SupportedFlags(),
			},
			Apparmor: &features.Apparmor{Enabled: &f},
			Selinux:  &features.Selinux{Enabled: &f},
			IntelRdt: &features.IntelRdt{Enabled: &f},
			MountExtensions: &features.MountExtensions{
				IDMap: &features.IDMap{Enabled: &f},
			},
		},
		Annotations: map[string]string{
			"io.github.rtrun.rt.version": version,
		},
	}
}
