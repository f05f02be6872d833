package main

import (
	"os"
	"os/signal"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/rtrun/rt/libcontainer"
	"github.com/rtrun/rt/libcontainer/validate"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start a container; in the foreground, wait for it and return its exit status",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return after start"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "never become a child subreaper (rt only needs one when init is a grandchild)"},
		// create's (see create.go).
		bundleFlag, pidFileFlag, consoleSocketFlag, pidfdSocketFlag, noPivotFlag, noNewKeyringFlag, preserveFDsFlag,
	},
	Action: func(ctx *cli.Context) error {
		if err := checkArgs(ctx, 1); err != nil {
			return err
		}
		detach := ctx.Bool("detach")
		// Loaded once, here; a config that does not load is create's to report.
		spec, _ := validate.Load(ctx.String("bundle"))
		var console *libcontainer.ConsolePair
		if !detach && ctx.String("console-socket") == "" && spec != nil && spec.Process != nil && spec.Process.Terminal {
			var err error
			if console, err = libcontainer.NewConsolePair(); err != nil {
				return err
			}
		}
		// Catch signals before the container's program runs, so none meant
		// for it is lost; they are passed on to init. Notify costs ~50 us a
		// signal here (a round trip to the runtime's signal-mask thread), so
		// it runs while init builds the root filesystem, when this process
		// only waits. A signal before then ends rt as if it had come before
		// rt could handle any (`delete -f` removes what create made).
		sigs := make(chan os.Signal, 16)
		var whileInit func()
		if !detach {
			whileInit = func() { signal.Notify(sigs, forwardedSignals...) }
		}
		t0 := time.Now()
		c, err := createContainer(ctx, console, spec, whileInit)
		if err != nil {
			return err
		}
		t1 := time.Now()
		var restore func()
		if console != nil {
			if restore, err = console.Proxy(); err != nil {
				c.Delete(true)
				return err
			}
		}
		if err := c.Start(); err != nil {
			if restore != nil {
				c.Delete(true)
				restore()
			} else {
				c.Delete(true)
			}
			return err
		}
		t2 := time.Now()
		if detach {
			return c.WaitReady()
		}
		if c.Notifying() {
			go func() {
				if err := c.WaitReady(); err != nil {
					logrus.Warn(err)
				}
			}()
		}
		go func() {
			for s := range sigs {
				// Through the process handle: once init is reaped it is
				// never a recycled pid that gets the signal.
				c.SignalChild(s)
			}
		}()
		code, err := c.Wait()
		if restore != nil {
			restore()
		}
		if err != nil {
			return err
		}
		t3 := time.Now()
		if !ctx.Bool("keep") {
			if err := c.Delete(true); err != nil {
				return err
			}
		}
		logrus.Debugf("timing: run: create %.3f ms, start %.3f ms, wait %.3f ms, delete %.3f ms (since rt started: %.3f ms)",
			ms(t1.Sub(t0)), ms(t2.Sub(t1)), ms(t3.Sub(t2)), ms(time.Since(t3)), ms(time.Since(processStart)))
		if code != 0 {
			return exitError{code}
		}
		return nil
	},
}

// forwardedSignals are passed on to the container's init by `run` in the
// foreground (SIGCHLD must stay default: ignoring it would auto-reap init).
var forwardedSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGALRM, unix.SIGCONT, unix.SIGPWR,
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
