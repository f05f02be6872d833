// Managing running containers: pause, resume, update, events, ps.

package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// pureV2 reports a host with only the unified cgroup hierarchy.
func pureV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// cgroupValue reads a container's cgroup file on the host: v1file in the
// controller's hierarchy, or v2file in the unified one on a pure v2 host.
func cgroupValue(t testing.TB, b *bundle, controller, v1file, v2file string) string {
	t.Helper()
	p := cgroupDir(controller, b.CgroupsPath) + "/" + v1file
	if pureV2() {
		p = cgroupDir("/sys/fs/cgroup", b.CgroupsPath) + "/" + v2file
	}
	return strings.TrimSpace(mustRead(t, p))
}

func memoryLimit(t testing.TB, b *bundle) string {
	return cgroupValue(t, b, "memory", "memory.limit_in_bytes", "memory.max")
}

func cpuQuota(t testing.TB, b *bundle) string {
	if pureV2() {
		return strings.Fields(cgroupValue(t, b, "cpu", "", "cpu.max"))[0]
	}
	return cgroupValue(t, b, "cpu", "cpu.cfs_quota_us", "")
}

func cpuPeriod(t testing.TB, b *bundle) string {
	if pureV2() {
		return strings.Fields(cgroupValue(t, b, "cpu", "", "cpu.max"))[1]
	}
	return cgroupValue(t, b, "cpu", "cpu.cfs_period_us", "")
}

func pidsMax(t testing.TB, b *bundle) string {
	return cgroupValue(t, b, "pids", "pids.max", "pids.max")
}

// frozen reports what the host's freezer says about the container's cgroup.
func frozen(t testing.TB, b *bundle) bool {
	t.Helper()
	if pureV2() {
		return containsLine(cgroupValue(t, b, "", "", "cgroup.events"), "frozen 1")
	}
	return cgroupValue(t, b, "freezer", "freezer.state", "") == "FROZEN"
}

// cgroupProcs lists the pids in the container's cgroup (pids hierarchy).
func cgroupProcs(t testing.TB, b *bundle) []int {
	t.Helper()
	var out []int
	for _, f := range strings.Fields(cgroupValue(t, b, "pids", "cgroup.procs", "cgroup.procs")) {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// procState is the state letter of /proc/PID/stat ('R', 'S', 'D', ...).
func procState(pid int) (byte, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, fmt.Errorf("malformed /proc/%d/stat %q", pid, s)
	}
	return s[i+2], nil
}

// psJSON runs `ps -f json` and returns the pids, sorted.
func psJSON(t testing.TB, id string) []int {
	t.Helper()
	out := rt(t, "ps", "-f", "json", id).mustOK(t).stdout
	var pids []int
	if err := json.Unmarshal([]byte(out), &pids); err != nil {
		t.Fatalf("ps -f json is not a JSON array of pids: %v: %q", err, out)
	}
	sort.Ints(pids)
	return pids
}

// shmCounter reads the number a container keeps writing to /dev/shm/n
// (seen through its init's root), retrying across the moment the shell's
// "echo > file" has truncated it and not yet written.
func shmCounter(t testing.TB, b *bundle) int {
	t.Helper()
	p := fmt.Sprintf("/proc/%d/root/dev/shm/n", b.pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(p)
		if n, perr := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && perr == nil {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("no counter in %s: %v %q", p, err, data)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPauseResume: pause freezes every process of the container (the
// freezer says so, the processes sleep uninterruptibly or in the freezer,
// a counter loop stops) and state reports "paused"; resume thaws it.
func TestPauseResume(t *testing.T) {
	b := newBundle(t, shell(`sleep 1000 & i=0; while :; do i=$((i+1)); echo $i > /dev/shm/n; usleep 2000; done`))
	rt(t, "pause", b.ID).mustFail(t, "does not exist", "not exist")
	b.create().mustOK(t)
	if runtimeName != "runc" { // runc also pauses a created container
		rt(t, "pause", b.ID).mustFail(t, "running")
	}
	rt(t, "resume", b.ID).mustFail(t, "paused")
	rt(t, "start", b.ID).mustOK(t)
	first := shmCounter(t, b)
	for shmCounter(t, b) < first+3 {
		time.Sleep(5 * time.Millisecond)
	}

	rt(t, "pause", b.ID).mustOK(t)
	if st := b.mustState(); st.Status != "paused" {
		t.Fatalf("state after pause: %q, want paused", st.Status)
	}
	if !frozen(t, b) {
		t.Fatal("the host's freezer does not report the cgroup frozen after pause")
	}
	list := rt(t, "list", "-f", "json").mustOK(t).stdout
	mustContain(t, "list of a paused container", list, `"status":"paused"`)
	pids := psJSON(t, b.ID)
	if len(pids) < 2 {
		t.Fatalf("ps -f json of the paused container: %v, want init, the counter loop's child and sleep", pids)
	}
	for _, p := range pids {
		s, err := procState(p)
		if err != nil {
			t.Fatal(err)
		}
		// v1's freezer shows frozen tasks as D; v2 parks them in an
		// interruptible sleep. Never running.
		if s == 'R' || (!pureV2() && s != 'D') {
			t.Errorf("process %d of the paused container is in state %c", p, s)
		}
	}
	before := shmCounter(t, b)
	time.Sleep(300 * time.Millisecond)
	if after := shmCounter(t, b); after != before {
		t.Fatalf("the counter advanced while paused: %d -> %d", before, after)
	}
	rt(t, "pause", b.ID).mustFail(t, "running")

	rt(t, "resume", b.ID).mustOK(t)
	if st := b.mustState(); st.Status != "running" {
		t.Fatalf("state after resume: %q, want running", st.Status)
	}
	if frozen(t, b) {
		t.Fatal("the cgroup is still frozen after resume")
	}
	deadline := time.Now().Add(5 * time.Second)
	for shmCounter(t, b) <= before+3 {
		if time.Now().After(deadline) {
			t.Fatalf("the counter did not advance after resume (still %d)", shmCounter(t, b))
		}
		time.Sleep(5 * time.Millisecond)
	}
	rt(t, "resume", b.ID).mustFail(t, "paused")

	rt(t, "delete", "--force", b.ID).mustOK(t)
	assertGone(t, b)
	rt(t, "pause", b.ID).mustFail(t, "does not exist", "not exist")
}

// TestDeletePaused: delete --force kills and removes a paused container
// (its processes must get thawed, or SIGKILL stays pending on cgroup v1).
func TestDeletePaused(t *testing.T) {
	b := newBundle(t, shell(`sleep 1000 & sleep 1000`))
	b.create().mustOK(t)
	rt(t, "start", b.ID).mustOK(t)
	rt(t, "pause", b.ID).mustOK(t)
	b.waitStatus("paused")
	rt(t, "delete", "--force", b.ID).mustOK(t)
	assertGone(t, b)
}

// TestUpdate: update changes the live cgroup values, from flags (with size
// suffixes), from -r - on stdin and from -r FILE, and keeps limits it was
// not given.
func TestUpdate(t *testing.T) {
	limit, swap, pids := int64(64<<20), int64(64<<20), int64(42)
	quota, period := int64(50000), uint64(100000)
	b := newBundle(t, args("sleep", "1000"), func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &swap}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
	})
	b.create().mustOK(t)
	rt(t, "start", b.ID).mustOK(t)
	check := func(when, mem, quota, period, pids string) {
		t.Helper()
		for _, c := range []struct{ what, got, want string }{
			{"memory limit", memoryLimit(t, b), mem},
			{"cpu quota", cpuQuota(t, b), quota},
			{"cpu period", cpuPeriod(t, b), period},
			{"pids.max", pidsMax(t, b), pids},
		} {
			if c.got != c.want {
				t.Errorf("%s: %s = %s, want %s", when, c.what, c.got, c.want)
			}
		}
	}
	check("after create", "67108864", "50000", "100000", "42")

	rt(t, "update", "--memory", "128m", "--memory-swap", "128M", "--cpu-quota", "20000", "--pids-limit", "30", b.ID).mustOK(t)
	check("after update with flags", "134217728", "20000", "100000", "30")

	// Only the named limit changes.
	rt(t, "update", "--pids-limit", "35", b.ID).mustOK(t)
	check("after update --pids-limit", "134217728", "20000", "100000", "35")

	// Lowering memory and swap together (the order of the writes matters
	// on v1) with kilobytes.
	rt(t, "update", "--memory", "98304k", "--memory-swap", "98304k", b.ID).mustOK(t)
	check("after update with k", "100663296", "20000", "100000", "35")

	res := filepath.Join(b.Dir, "resources.json")
	write := func(r string) *os.File {
		t.Helper()
		if err := os.WriteFile(res, []byte(r), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(res)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	stdin := write(`{"memory": {"limit": 50331648, "swap": 50331648}, "cpu": {"quota": 30000}, "pids": {"limit": 25}}`)
	rtWith(t, cmdOpts{stdin: stdin}, "update", "-r", "-", b.ID).mustOK(t)
	check("after update -r -", "50331648", "30000", "100000", "25")

	write(`{"cpu": {"quota": 40000, "period": 200000}, "pids": {"limit": -1}}`)
	rt(t, "update", "--resources", res, b.ID).mustOK(t)
	check("after update -r FILE", "50331648", "40000", "200000", "max")

	if runtimeName == "rt" {
		// The new limits are kept in the container's saved config.
		var st struct {
			Config specs.Spec `json:"config"`
		}
		if err := json.Unmarshal([]byte(mustRead(t, filepath.Join(stateRoot, b.ID, "state.json"))), &st); err != nil {
			t.Fatal(err)
		}
		r := st.Config.Linux.Resources
		if r == nil || r.Memory == nil || r.Memory.Limit == nil || *r.Memory.Limit != 50331648 ||
			r.CPU == nil || r.CPU.Quota == nil || *r.CPU.Quota != 40000 || r.Pids == nil || r.Pids.Limit == nil || *r.Pids.Limit != -1 ||
			len(r.Devices) == 0 {
			data, _ := json.Marshal(r)
			t.Errorf("saved linux.resources after the updates: %s", data)
		}
	}

	rt(t, "update", "--memory", "lots", b.ID).mustFail(t, "invalid")
	rt(t, "update", "--l3-cache-schema", "L3:0=f", b.ID).mustFail(t, "not supported", "not enabled")
	rtWith(t, cmdOpts{stdin: write(`{"memory": `)}, "update", "-r", "-", b.ID).mustFail(t, "json", "unexpected", "eof")
	check("after refused updates", "50331648", "40000", "200000", "max")

	rt(t, "kill", b.ID, "KILL").mustOK(t)
	b.waitStatus("stopped")
	rt(t, "update", "--pids-limit", "10", b.ID).mustFail(t, "stopped", "not running")
	rt(t, "delete", b.ID).mustOK(t)
	assertGone(t, b)
}

// TestPidsLimitUpdate: a fork bomb stops at pids.max, and raising the
// limit with update lets exactly that many more processes start.
func TestPidsLimitUpdate(t *testing.T) {
	limit := int64(20)
	// Each round forks sleeps in a subshell until fork fails (which ends
	// the subshell); the main shell then waits on a fifo, forking nothing.
	bomb := `(for i in $(seq 100); do sleep 1000 & echo started-%d; done) 2>/dev/null; echo round-%d-done`
	script := `mkfifo /dev/shm/go; ` + fmt.Sprintf(bomb, 1, 1) + `; read x < /dev/shm/go; ` + fmt.Sprintf(bomb, 2, 2) + `; exec sleep 1000`
	b := newBundle(t, shell(script), func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
	})
	b.create().mustOK(t)
	rt(t, "start", b.ID).mustOK(t)
	waitOutput(t, b, "round-1-done")
	started1 := strings.Count(b.containerOutput(), "started-1")
	// init and the subshell hold two of the 20.
	if started1 < 10 || started1 > 18 {
		t.Errorf("%d sleeps started under pids.max 20, want 10..18", started1)
	}
	procs := cgroupProcs(t, b)
	if len(procs) > 20 {
		t.Errorf("%d processes in the cgroup, above pids.max 20", len(procs))
	}
	if got := psJSON(t, b.ID); fmt.Sprint(got) != fmt.Sprint(procs) {
		t.Errorf("ps -f json = %v, cgroup.procs = %v", got, procs)
	}

	rt(t, "update", "--pids-limit", "40", b.ID).mustOK(t)
	if got := pidsMax(t, b); got != "40" {
		t.Fatalf("pids.max after update = %s, want 40", got)
	}
	done := make(chan error, 1)
	go func() {
		done <- os.WriteFile(fmt.Sprintf("/proc/%d/root/dev/shm/go", b.pid), []byte("go\n"), 0)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the container never read its fifo")
	}
	waitOutput(t, b, "round-2-done")
	started2 := strings.Count(b.containerOutput(), "started-2")
	if started2 < 10 || started2 > 40-started1-2 {
		t.Errorf("%d more sleeps started after raising pids.max to 40 (first round %d)", started2, started1)
	}
	if n := len(cgroupProcs(t, b)); n > 40 {
		t.Errorf("%d processes in the cgroup, above pids.max 40", n)
	}
	rt(t, "delete", "--force", b.ID).mustOK(t)
	assertGone(t, b)
}

// TestPs: ps -f json lists exactly the cgroup's processes; the table is the
// host's ps output filtered to them.
func TestPs(t *testing.T) {
	b := newBundle(t, shell(`sleep 1000 & sleep 1001 & echo ready; wait`))
	b.create().mustOK(t)
	rt(t, "start", b.ID).mustOK(t)
	waitOutput(t, b, "ready")
	pids := psJSON(t, b.ID)
	if len(pids) != 3 || !oneOf(itoa(b.pid), strings.Fields(strings.Trim(fmt.Sprint(pids), "[]"))) {
		t.Fatalf("ps -f json = %v, want init %d and two sleeps", pids, b.pid)
	}
	if procs := cgroupProcs(t, b); fmt.Sprint(procs) != fmt.Sprint(pids) {
		t.Fatalf("ps -f json = %v, cgroup.procs = %v", pids, procs)
	}

	table := strings.Split(strings.TrimSpace(rt(t, "ps", b.ID).mustOK(t).stdout), "\n")
	if len(table) != 4 || !oneOf("PID", strings.Fields(table[0])) {
		t.Fatalf("ps table: want a header and 3 rows:\n%s", strings.Join(table, "\n"))
	}
	out := rt(t, "ps", b.ID, "-o", "pid,args").mustOK(t).stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("ps -o pid,args: want a header and 3 rows:\n%s", out)
	}
	var got []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		got = append(got, strings.Join(f[1:], " "))
		if p, _ := strconv.Atoi(f[0]); !oneOf(itoa(p), strings.Fields(strings.Trim(fmt.Sprint(pids), "[]"))) {
			t.Errorf("ps row %q is not a container process", l)
		}
	}
	mustContain(t, "ps -o pid,args", strings.Join(got, "\n"), "sleep 1001")
	rt(t, "ps", "-f", "yaml", b.ID).mustFail(t, "format")
	rt(t, "delete", "--force", b.ID).mustOK(t)
	assertGone(t, b)
}

// eventJSON is one line of `events`.
type eventJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data *struct {
		CPU struct {
			Usage struct {
				Total uint64 `json:"total"`
			} `json:"usage"`
		} `json:"cpu"`
		Memory struct {
			Usage struct {
				Usage uint64 `json:"usage"`
				Limit uint64 `json:"limit"`
			} `json:"usage"`
		} `json:"memory"`
		Pids struct {
			Current uint64 `json:"current"`
		} `json:"pids"`
	} `json:"data"`
}

func parseEvents(t testing.TB, out string) []eventJSON {
	t.Helper()
	var evs []eventJSON
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var e eventJSON
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("events line is not JSON: %v: %q", err, line)
		}
		evs = append(evs, e)
	}
	return evs
}

// TestEventsStats: events --stats prints one stats event with the
// container's usage, in runc's envelope, and exits.
func TestEventsStats(t *testing.T) {
	limit := int64(64 << 20)
	b := newBundle(t, shell(`sleep 1000 & echo ready; wait`), func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	})
	b.create().mustOK(t)
	rt(t, "start", b.ID).mustOK(t)
	waitOutput(t, b, "ready")
	out := rt(t, "events", "--stats", b.ID).mustOK(t).stdout
	evs := parseEvents(t, out)
	if len(evs) != 1 {
		t.Fatalf("events --stats: want one line, got:\n%s", out)
	}
	e := evs[0]
	if e.Type != "stats" || e.ID != b.ID || e.Data == nil {
		t.Fatalf("events --stats: want {type: stats, id: %s, data: ...}, got:\n%s", b.ID, out)
	}
	if e.Data.Memory.Usage.Usage == 0 || e.Data.Memory.Usage.Limit != uint64(limit) {
		t.Errorf("events --stats: memory usage %d (want > 0), limit %d (want %d)",
			e.Data.Memory.Usage.Usage, e.Data.Memory.Usage.Limit, limit)
	}
	if e.Data.Pids.Current < 2 || e.Data.CPU.Usage.Total == 0 {
		t.Errorf("events --stats: pids.current %d (want >= 2), cpu total %d (want > 0)",
			e.Data.Pids.Current, e.Data.CPU.Usage.Total)
	}
	rt(t, "kill", b.ID, "KILL").mustOK(t)
	b.waitStatus("stopped")
	rt(t, "events", "--stats", b.ID).mustFail(t, "not running", "stopped")
	rt(t, "delete", b.ID).mustOK(t)
	assertGone(t, b)
}

// TestEventsOOM: events, running alongside the container, prints stats
// every interval and an oom event when a process goes over the memory
// limit and is killed, and exits by itself once the container stops.
func TestEventsOOM(t *testing.T) {
	limit := int64(32 << 20)
	// dd's 64 MiB buffer is filled from /dev/zero in one read: it really
	// allocates. swap = limit: no swap to escape into.
	b := newBundle(t, shell(`dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd=$?`), func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &limit}
	})
	b.create().mustOK(t)

	evPath := filepath.Join(b.Dir, "events.out")
	evOut, err := os.Create(evPath)
	if err != nil {
		t.Fatal(err)
	}
	defer evOut.Close()
	cmd, _, errF := rtCommand(t, cmdOpts{stdout: evOut}, "events", "--interval", "100ms", b.ID)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan result, 1)
	go func() { exited <- finish(t, cmd, cmd.Wait(), nil, errF) }()
	// Start the container only once events runs (has printed stats), so
	// it sees the OOM happen.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(mustRead(t, evPath), `"type":"stats"`) {
		if time.Now().After(deadline) {
			t.Fatalf("events printed no stats within 10s: %q", mustRead(t, evPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
	rt(t, "start", b.ID).mustOK(t)
	waitOutput(t, b, "dd=")
	mustContain(t, "dd over the memory limit", b.containerOutput(), "dd=137")

	if runtimeName == "runc" {
		// runc's events ends when the cgroup is removed, not when the
		// container stops.
		b.waitStatus("stopped")
		rt(t, "delete", b.ID).mustOK(t)
	}
	var r result
	select {
	case r = <-exited:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("events did not exit after the container stopped; output:\n%s", mustRead(t, evPath))
	}
	if !r.ok() {
		t.Fatalf("events failed: %s", r)
	}
	var ooms, stats int
	for _, e := range parseEvents(t, mustRead(t, evPath)) {
		if e.ID != b.ID {
			t.Errorf("event for %q, want %q", e.ID, b.ID)
		}
		switch e.Type {
		case "oom":
			ooms++
		case "stats":
			stats++
		}
	}
	if ooms != 1 || stats == 0 {
		t.Fatalf("events: %d oom and %d stats events, want 1 oom and some stats:\n%s", ooms, stats, mustRead(t, evPath))
	}
	if runtimeName != "runc" {
		rt(t, "delete", b.ID).mustOK(t)
	}
	assertGone(t, b)
}
