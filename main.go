// Command rt is an OCI container runtime with runc's command line.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	// First among rt's imports to initialise; see its doc.
	_ "github.com/rtrun/rt/internal/earlyinit"
	"github.com/rtrun/rt/libcontainer"
	"github.com/rtrun/rt/nsenter"
)

// version is set by the build.
var version = "0.1.0-dev"

// processStart is when main started (after the Go runtime and package
// initialisation), for --debug timing.
var processStart time.Time

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" && libcontainer.IsInit() {
		// The container init does its work on the main thread, which is the
		// one that finally execs the user program. (create starts it with
		// GOMAXPROCS=1 in its environment.)
		runtime.LockOSThread()
	}
}

func main() {
	processStart = time.Now()
	nsenter.SettleGOMAXPROCS()
	if len(os.Args) > 1 && os.Args[1] == "init" && libcontainer.IsInit() {
		libcontainer.Init() // never returns
	}
	// No fd rt inherited may reach a container (CVE-2024-21626); the ones
	// create passes on on purpose are dup'ed explicitly.
	libcontainer.NoteInheritedFDs()
	unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	app := &cli.App{
		Name:    "rt",
		Usage:   "OCI container runtime",
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/run/rt", Usage: "root directory for container state"},
			&cli.StringFlag{Name: "log", Usage: "log file (default: stderr)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.BoolFlag{Name: "debug", Usage: "debug logging, with create's per-phase timing"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "use the systemd cgroup driver"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "accepted for runc compatibility"},
			&cli.StringFlag{Name: "criu", Value: "criu", Usage: "accepted for runc compatibility"},
		},
		Before: setupLogging,
		Commands: []*cli.Command{
			createCommand, startCommand, runCommand, execCommand, stateCommand, killCommand,
			deleteCommand, listCommand, specCommand, featuresCommand,
			pauseCommand, resumeCommand, updateCommand, eventsCommand, psCommand,
		},
		// Commands report their own errors (see fatal); urfave must not print
		// them a second time.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	cacheAppFlagNames(app)
	if err := app.Run(os.Args); err != nil {
		fatal(err)
	}
}

var logToStderr = true

func setupLogging(ctx *cli.Context) error {
	if ctx.Bool("debug") {
		logrus.SetLevel(logrus.DebugLevel)
	}
	switch f := ctx.String("log-format"); f {
	case "text":
		logrus.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	case "json":
		logrus.SetFormatter(&logrus.JSONFormatter{})
	default:
		return fmt.Errorf("--log-format: unknown format %q (want text or json)", f)
	}
	if p := ctx.String("log"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("--log %s: %w", p, err)
		}
		logrus.SetOutput(f)
		logToStderr = false
	} else {
		logrus.SetOutput(os.Stderr)
	}
	return nil
}

// exitError carries a process exit status out of a command without a message.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// fatal logs err at error level (engines read the last error line of --log)
// and prints it on stderr, then exits 1.
func fatal(err error) {
	if e, ok := err.(exitError); ok {
		os.Exit(e.code)
	}
	logrus.Error(err)
	if !logToStderr {
		fmt.Fprintln(os.Stderr, "rt:", err)
	}
	os.Exit(1)
}
