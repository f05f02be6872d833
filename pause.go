package main

import (
	"github.com/urfave/cli/v2"

	"github.com/rtrun/rt/libcontainer"
)

var pauseCommand = &cli.Command{
	Name:      "pause",
	Usage:     "suspend every process of a running container (cgroup freezer)",
	ArgsUsage: "<container-id>",
	Action:    onContainer((*libcontainer.Container).Pause),
}
