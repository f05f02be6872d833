package libcontainer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	specjson "github.com/rtrun/rt/libcontainer/specjson"
)

// Status values; Paused comes from the freezer.
const (
	Creating = "creating"
	Created  = "created"
	Running  = "running"
	Stopped  = "stopped"
	Paused   = "paused"
)

const (
	stateFile    = "state.json"
	execSockName = "exec.sock"
)

// State is what rt keeps on disk for one container, in <root>/<id>/state.json.
// The status is never stored: it is derived from facts when read.
type State struct {
	ID            string            `json:"id"`
	Bundle        string            `json:"bundle"`
	Rootfs        string            `json:"rootfs"`
	InitPid       int               `json:"init_pid"`
	InitStartTime uint64            `json:"init_start_time"`
	Created       time.Time         `json:"created"`
	Owner         string            `json:"owner"`
	CgroupPaths   map[string]string `json:"cgroup_paths,omitempty"`
	Config        *specs.Spec       `json:"config"`
	// Creating is set until create has finished; create holds the lock all
	// along, so whoever gets the lock and still finds it set knows that
	// create died half-way.
	Creating bool `json:"creating,omitempty"`

	// raw is the state.json this was read from or written as: reload
	// skips the parse while the file still holds exactly that.
	raw []byte
}

// validIDChar: letters, digits, '_', '+', '-', '.' (a loop, not a regexp:
// package initialisation runs on every rt command).
func validIDChar(r rune) bool {
	return r == '_' || r == '+' || r == '-' || r == '.' ||
		(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// ValidateID rejects ids that could escape the state root.
func ValidateID(id string) error {
	if id == "" {
		return errors.New("container id must not be empty")
	}
	if strings.HasPrefix(id, ".") || strings.IndexFunc(id, func(r rune) bool { return !validIDChar(r) }) >= 0 || len(id) > 1024 {
		return fmt.Errorf("invalid container id %q: use letters, digits, '_', '+', '-', '.' (not first)", id)
	}
	return nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	p, err := writePending(path, data, perm)
	if err != nil {
		return err
	}
	return p.commit()
}

// pendingFile is a file written under a temporary name next to its path,
// for a rename to put in place (commit) or to be removed (abort).
type pendingFile struct{ tmp, path string }

func writePending(path string, data []byte, perm os.FileMode) (*pendingFile, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*pendingFile, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if perm != 0o600 { // CreateTemp's
		if err := tmp.Chmod(perm); err != nil {
			return fail(err)
		}
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	return &pendingFile{tmp: tmp.Name(), path: path}, nil
}

// commit puts the file in place atomically. Over an existing file it
// exchanges the two names and removes the old content under the temporary
// one, rather than renaming over it: ext4 (without noauto_da_alloc)
// allocates and starts writing a file's delayed blocks when it is renamed
// over another, and freeing allocated blocks again on delete costs a
// synchronous discard on a filesystem mounted with -o discard (~0.2 ms per
// file on the README's machine, whose /run is such an ext4).
func (p *pendingFile) commit() error {
	err := unix.Renameat2(unix.AT_FDCWD, p.tmp, unix.AT_FDCWD, p.path, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// Nothing to exchange with, or no RENAME_EXCHANGE here.
		err = os.Rename(p.tmp, p.path)
		if err == nil {
			p.tmp = ""
			return nil
		}
	}
	// Exchanged: p.tmp holds what p.path held. Failed: p.tmp is ours.
	os.Remove(p.tmp)
	p.tmp = ""
	return err
}

// abort removes the file unless it was committed; nil does nothing.
func (p *pendingFile) abort() {
	if p != nil && p.tmp != "" {
		os.Remove(p.tmp)
		p.tmp = ""
	}
}

func (s *State) save(dir string) error {
	b, err := specjson.Marshal(s, appendState)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, stateFile), b, 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	s.raw = b
	return nil
}

// pendingState is s as it will be once create is done (not Creating),
// written ahead; commit puts it in place.
type pendingState struct {
	file *pendingFile
	s    *State
	raw  []byte
}

func (s *State) prepareCreated(dir string) (*pendingState, error) {
	next := *s
	next.Creating = false
	b, err := specjson.Marshal(&next, appendState)
	if err != nil {
		return nil, err
	}
	f, err := writePending(filepath.Join(dir, stateFile), b, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write state: %w", err)
	}
	return &pendingState{file: f, s: s, raw: b}, nil
}

func (p *pendingState) commit() error {
	if err := p.file.commit(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	p.s.Creating, p.s.raw = false, p.raw
	return nil
}

// loadState reads dir's state.json. When prev was read from (or written
// as) exactly what the file holds now, prev is returned unparsed: a
// command reads the state once to find the container and again under its
// lock, and the parse of the whole config is the dear part.
func loadState(dir string, prev *State) (*State, error) {
	path := filepath.Join(dir, stateFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.raw != nil && bytes.Equal(prev.raw, b) {
		return prev, nil
	}
	var s State
	if err := specjson.Unmarshal(b, &s, readState); err != nil {
		return nil, fmt.Errorf("corrupt state file %s: %w", path, err)
	}
	s.raw = b
	return &s, nil
}

// procStat is the part of /proc/PID/stat that identifies a process.
type procStat struct {
	State     byte
	Flags     uint64 // PF_* flags
	StartTime uint64
}

// pfExiting is PF_EXITING: the process is in exit. A pid namespace's init
// stays there, sleeping, until its reaper has reaped every other process of
// the namespace; it is stopped for every purpose of ours.
const pfExiting = 0x4

// readProcStat parses /proc/PID/stat. The comm field may hold spaces and
// parentheses, so parse from the last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(string(b))
}

func parseProcStat(s string) (procStat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return procStat{}, fmt.Errorf("malformed stat %q", s)
	}
	f := strings.Fields(s[i+2:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("malformed stat %q", s)
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("malformed stat starttime %q: %w", f[19], err)
	}
	flags, err := strconv.ParseUint(f[6], 10, 64) // field 9
	if err != nil {
		return procStat{}, fmt.Errorf("malformed stat flags %q: %w", f[6], err)
	}
	return procStat{State: f[0][0], Flags: flags, StartTime: st}, nil
}

// facts are what the status is derived from; kept apart so the decision is a
// plain function.
type facts struct {
	creating      bool
	initPid       int
	startTime     uint64
	proc          *procStat // nil if /proc/PID is gone
	execSockExist bool
	frozen        bool
}

func deriveStatus(f facts) string {
	if f.initPid == 0 {
		return Creating
	}
	if f.proc == nil || f.proc.StartTime != f.startTime || f.proc.State == 'Z' || f.proc.State == 'X' || f.proc.Flags&pfExiting != 0 {
		return Stopped
	}
	if f.creating {
		return Creating
	}
	if f.frozen {
		return Paused
	}
	if f.execSockExist {
		return Created
	}
	return Running
}

// lockDir takes an exclusive flock on the container's state dir. Commands on
// one id are serialised by it.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return f, nil
}
