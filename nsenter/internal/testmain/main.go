// Command testmain is the program nsenter's tests build with hack/build-rt.sh:
// it reports the entry stage's outcome and the namespaces it ended up in, as
// JSON on stdout. It exits 1 if nsenter.StageError returns an error.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
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
	// DataNotPrivate counts the pages of TESTMAIN_DATA ("start end", hex:
	// the test's runtime.data and runtime.edata) that are not private
	// anonymous copies, i.e. the entry stage did not populate them.
	DataNotPrivate int `json:"dataNotPrivate"`
	// ThreadCgroups is /proc/self/task/*/cgroup of every thread the Go
	// runtime has by now, each as read.
	ThreadCgroups []string `json:"threadCgroups"`
	// GOMAXPROCS is the runtime's at the start of main, Settled after
	// nsenter.SettleGOMAXPROCS; Args and Env are os.Args[1:] and
	// os.Environ() after it.
	GOMAXPROCS int      `json:"gomaxprocs"`
	Settled    int      `json:"settled"`
	Args       []string `json:"args"`
	Env        []string `json:"env"`
	// MemProfileRate is runtime.MemProfileRate at the start of main, and
	// HeapSamples the records of the heap profile by then.
	MemProfileRate int `json:"memProfileRate"`
	HeapSamples    int `json:"heapSamples"`
	// TimerSlack is the main thread's (ns).
	TimerSlack int `json:"timerSlack"`
}

// seccompVersion is set by seccomp_cgo.go when built with cgo.
var seccompVersion func() string

func main() {
	var r report
	r.MemProfileRate = runtime.MemProfileRate
	runtime.GC() // the profile shows what two cycles ago recorded
	runtime.GC()
	r.HeapSamples, _ = runtime.MemProfile(nil, true)
	r.TimerSlack, _ = unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	r.GOMAXPROCS = runtime.GOMAXPROCS(0)
	nsenter.SettleGOMAXPROCS()
	r.Settled = runtime.GOMAXPROCS(0)
	r.Args, r.Env = os.Args[1:], os.Environ()
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
	r.DataNotPrivate = dataNotPrivate(os.Getenv("TESTMAIN_DATA"))
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, e := range tasks {
		b, _ := os.ReadFile("/proc/self/task/" + e.Name() + "/cgroup")
		r.ThreadCgroups = append(r.ThreadCgroups, string(b))
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if stageErr != nil {
		os.Exit(1)
	}
}

func dataNotPrivate(rng string) int {
	var start, end uint64
	if _, err := fmt.Sscanf(rng, "%x %x", &start, &end); err != nil {
		return -1
	}
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return -1
	}
	defer pm.Close()
	n := 0
	for a := start &^ 4095; a < end; a += 4096 {
		var e [8]byte
		if _, err := pm.ReadAt(e[:], int64(a/4096*8)); err != nil {
			return -1
		}
		v := uint64(e[0]) | uint64(e[1])<<8 | uint64(e[2])<<16 | uint64(e[3])<<24 |
			uint64(e[4])<<32 | uint64(e[5])<<40 | uint64(e[6])<<48 | uint64(e[7])<<56
		if v&(1<<63) == 0 || v&(1<<61) != 0 { // not present, or a file page
			n++
		}
	}
	return n
}
