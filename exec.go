package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/rtrun/rt/libcontainer"
	"github.com/rtrun/rt/libcontainer/specjson"
)

var execCommand = &cli.Command{
	Name:      "exec",
	Usage:     "run a process inside a created or running container",
	ArgsUsage: "<container-id> [command [args...]]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "process.json (a runtime-spec process) to run"},
		&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "unix socket that receives a pidfd of the process"},
		&cli.StringFlag{Name: "cwd", Usage: "working directory inside the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "KEY=value to add to the environment"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pty"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "uid[:gid]"},
		&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional group ids"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs"},
		&cli.StringFlag{Name: "apparmor", Usage: "AppArmor profile"},
		&cli.StringFlag{Name: "process-label", Usage: "SELinux label"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the process runs"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the process's pid to this file"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass this many fds after stderr to the process"},
		&cli.StringSliceFlag{Name: "cgroup", Usage: "[controller[,controller...]:]path: run in this sub-cgroup of the container's"},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "exec even if the container is paused"},
	},
	Action: func(ctx *cli.Context) error {
		if ctx.NArg() < 1 {
			return errors.New("exec: container id is required")
		}
		c, err := containerArg(ctx)
		if err != nil {
			return err
		}
		p, err := execProcess(ctx, c.State().Config)
		if err != nil {
			return err
		}
		detach := ctx.Bool("detach")
		var console *libcontainer.ConsolePair
		if p.Terminal && !detach && ctx.String("console-socket") == "" {
			if console, err = libcontainer.NewConsolePair(); err != nil {
				return err
			}
		}
		sigs := make(chan os.Signal, 16)
		if !detach {
			signal.Notify(sigs, forwardedSignals...)
		}
		o := libcontainer.ExecOpts{
			Process:       p,
			ConsoleSocket: ctx.String("console-socket"),
			PidFile:       ctx.String("pid-file"),
			PreserveFDs:   ctx.Int("preserve-fds"),
			IgnorePaused:  ctx.Bool("ignore-paused"),
			SubCgroups:    ctx.StringSlice("cgroup"),
			Timing:        ctx.Bool("debug"),
		}
		if console != nil {
			o.Console = console.Theirs
		}
		tExec := time.Now()
		proc, err := c.Exec(o)
		if err != nil {
			return err
		}
		tStarted := time.Now()
		if s := ctx.String("pidfd-socket"); s != "" {
			if err := libcontainer.SendPidfd(s, proc.Pid()); err != nil {
				proc.Signal(os.Kill)
				proc.Wait()
				return err
			}
		}
		if detach {
			return nil
		}
		var restore func()
		if console != nil {
			if restore, err = console.Proxy(); err != nil {
				proc.Signal(os.Kill)
				proc.Wait()
				return err
			}
		}
		go func() {
			for s := range sigs {
				proc.Signal(s)
			}
		}()
		code, err := proc.Wait()
		if restore != nil {
			restore()
		}
		logrus.Debugf("timing: exec: main to Exec %.3f ms, Exec %.3f ms, wait %.3f ms (since main: %.3f ms)",
			ms(tExec.Sub(processStart)), ms(tStarted.Sub(tExec)), ms(time.Since(tStarted)), ms(time.Since(processStart)))
		if err != nil {
			return err
		}
		if code != 0 {
			return exitError{code}
		}
		return nil
	},
}

// execProcess builds the process to exec: --process as given, or the
// container's process with the flags' changes (runc's rules).
func execProcess(ctx *cli.Context, spec *specs.Spec) (*specs.Process, error) {
	if path := ctx.String("process"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("exec: --process: %w", err)
		}
		var p specs.Process
		if err := specjson.Unmarshal(b, &p, specjson.ReadProcess); err != nil {
			return nil, fmt.Errorf("exec: --process %s: invalid JSON: %w", path, err)
		}
		return &p, nil
	}
	if ctx.NArg() < 2 {
		return nil, errors.New("exec: a command or --process is required")
	}
	p := &specs.Process{Cwd: "/"}
	if spec != nil && spec.Process != nil {
		cp := *spec.Process
		p = &cp
		p.Env = append([]string(nil), cp.Env...)
		if cp.Capabilities != nil {
			caps := *cp.Capabilities
			p.Capabilities = &caps
		}
	}
	p.Args = ctx.Args().Slice()[1:]
	p.Terminal = ctx.Bool("tty")
	p.ConsoleSize = nil
	p.Env = append(p.Env, ctx.StringSlice("env")...)
	if cwd := ctx.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if u := ctx.String("user"); u != "" {
		uid, gid, hasGid := strings.Cut(u, ":")
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("exec: --user %q: want a numeric uid[:gid]", u)
		}
		p.User.UID = uint32(n)
		if hasGid {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("exec: --user %q: want a numeric uid[:gid]", u)
			}
			p.User.GID = uint32(g)
		}
	}
	for _, g := range ctx.Int64Slice("additional-gids") {
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	if add := ctx.StringSlice("cap"); len(add) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		c := p.Capabilities
		c.Bounding = append(append([]string(nil), c.Bounding...), add...)
		c.Effective = append(append([]string(nil), c.Effective...), add...)
		c.Permitted = append(append([]string(nil), c.Permitted...), add...)
	}
	if ctx.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	if a := ctx.String("apparmor"); a != "" {
		return nil, fmt.Errorf("exec: --apparmor %q: AppArmor is not enabled in this kernel", a)
	}
	if l := ctx.String("process-label"); l != "" {
		if _, err := os.Stat("/sys/fs/selinux/enforce"); err != nil {
			return nil, fmt.Errorf("exec: --process-label %q: SELinux is not enabled in this kernel", l)
		}
		return nil, fmt.Errorf("exec: --process-label: SELinux labels are not supported by rt yet")
	}
	return p, nil
}
