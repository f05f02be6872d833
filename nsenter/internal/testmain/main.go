// Command testmain is the program nsenter's tests build with hack/build-rt.sh:
// it reports the entry stage's outcome and the namespaces it ended up in, as
// JSON on stdout. It exits 1 if nsenter.StageError returns an error.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rtrun/rt/nsenter"
)

// report is what the tests compare with the namespace holders.
type report struct {
	StageError string            `json:"stageError,omitempty"`
	NS         map[string]string `json:"ns"`
	UIDMap     string            `json:"uidMap"`
	Monotonic  int64             `json:"monotonic"` // seconds, shows the time namespace's offset
	Seccomp    string            `json:"seccomp,omitempty"`
	OpenFDs    []string          `json:"openFDs"`
}

// seccompVersion is set by seccomp_cgo.go when built with cgo.
var seccompVersion func() string

func main() {
	var r report
	stageErr := nsenter.StageError()
	if stageErr != nil {
		r.StageError = stageErr.Error()
	}
	r.NS = map[string]string{}
	for _, n := range []string{"user", "time", "mnt", "net", "ipc", "uts", "cgroup", "pid"} {
		r.NS[n], _ = os.Readlink("/proc/self/ns/" + n)
	}
	m, _ := os.ReadFile("/proc/self/uid_map")
	r.UIDMap = strings.Join(strings.Fields(string(m)), " ")
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	r.Monotonic = ts.Sec
	if seccompVersion != nil {
		r.Seccomp = seccompVersion()
	}
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		r.OpenFDs = append(r.OpenFDs, e.Name())
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if stageErr != nil {
		os.Exit(1)
	}
}
