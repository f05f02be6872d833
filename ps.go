package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rtrun/rt/nsenter"
)

var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "list the processes of a container",
	ArgsUsage: "<container-id> [ps options (default -ef)]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table (the host's ps output) or json (an array of pids)"},
	},
	Action: func(ctx *cli.Context) error {
		if ctx.NArg() < 1 {
			return fmt.Errorf("ps: container id is required (usage: rt ps %s)", ctx.Command.ArgsUsage)
		}
		format := ctx.String("format")
		if format != "table" && format != "json" {
			return fmt.Errorf("--format: unknown format %q (want table or json)", format)
		}
		c, err := containerArg(ctx)
		if err != nil {
			return err
		}
		pids, err := c.Processes()
		if err != nil {
			return err
		}
		if format == "json" {
			if pids == nil {
				pids = []int{}
			}
			return json.NewEncoder(os.Stdout).Encode(pids)
		}
		psArgs := ctx.Args().Slice()[1:]
		if len(psArgs) == 0 {
			psArgs = []string{"-ef"}
		}
		out, err := psOutput(psArgs)
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return fmt.Errorf("ps %s: %w: %s", strings.Join(psArgs, " "), err, ee.Stderr)
			}
			return fmt.Errorf("ps: %w", err)
		}
		rows, err := filterPs(string(out), pids)
		if err != nil {
			return err
		}
		_, err = os.Stdout.WriteString(rows)
		return err
	},
}

// filterPs keeps the header of ps output and the rows whose PID column
// names one of pids, as runc does.
func filterPs(out string, pids []int) (string, error) {
	lines := strings.Split(out, "\n")
	col := -1
	for i, title := range strings.Fields(lines[0]) {
		if title == "PID" {
			col = i
			break
		}
	}
	if col < 0 {
		return "", errors.New("ps: no PID column in the output of ps")
	}
	want := make(map[int]bool, len(pids))
	for _, p := range pids {
		want[p] = true
	}
	var b strings.Builder
	b.WriteString(lines[0] + "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) <= col {
			continue
		}
		p, err := strconv.Atoi(f[col])
		if err != nil {
			return "", fmt.Errorf("ps: parse pid %q: %w", f[col], err)
		}
		if want[p] {
			b.WriteString(line + "\n")
		}
	}
	return b.String(), nil
}

// psOutput is exec.Command("ps", args...).Output(), with ps started with
// rt's caller's timer slack.
func psOutput(args []string) ([]byte, error) {
	var out, stderr bytes.Buffer
	cmd := exec.Command("ps", args...)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := nsenter.WithCallerTimerSlack(cmd.Start); err != nil {
		return nil, err
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ee.Stderr = stderr.Bytes()
	}
	return out.Bytes(), err
}
