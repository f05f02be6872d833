package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/rtrun/rt/libcontainer/specdefault"
)

var specCommand = &cli.Command{
	Name:  "spec",
	Usage: "write a default config.json into the bundle",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "bundle directory"},
		&cli.BoolFlag{Name: "rootless", Usage: "a config for a container run by an unprivileged user"},
	},
	Action: func(ctx *cli.Context) error {
		s := specdefault.Example()
		if ctx.Bool("rootless") {
			specdefault.ToRootless(s)
		}
		p := filepath.Join(ctx.String("bundle"), "config.json")
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("spec: %s already exists; remove it first", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		b, err := json.MarshalIndent(s, "", "\t")
		if err != nil {
			return err
		}
		return os.WriteFile(p, append(b, '\n'), 0o644)
	},
}
