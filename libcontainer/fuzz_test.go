package libcontainer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtrun/rt/libcontainer/specdefault"
)

// Fuzz targets for the state file and /proc parsing (issue 6, item 4).
// Seeds are in testdata/fuzz/<FuzzName>; run with
//
//	go test -run '^$' -fuzz '^FuzzLoadState$' -fuzztime 60s ./libcontainer

// FuzzLoadState reads a fuzzed state.json. Invariants: loadState never
// panics; a file it refuses gives an error naming the file; a state it
// accepts is saved again and reads back the same (marshalled form); and the
// status derived from it is one of the five.
func FuzzLoadState(f *testing.F) {
	full := &State{
		ID: "c1", Bundle: "/b", Rootfs: "/b/rootfs", InitPid: 42, InitStartTime: 987654,
		Created: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), Owner: "root",
		CgroupPaths: map[string]string{"memory": "/sys/fs/cgroup/memory/c1", "": "/sys/fs/cgroup/c1"},
		Config:      specdefault.Example(), Creating: true,
	}
	b, err := json.Marshal(full)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	for _, s := range []string{
		`{}`, `null`, `[]`, `{"id":"../../etc","init_pid":-1,"init_start_time":18446744073709551615}`,
		`{"created":"9999-12-31T23:59:59.999999999+23:59"}`, `{"created":"0000-01-01T00:00:00-23:59"}`,
		`{"config":{"process":{"args":[]}}}`, `{"init_pid":1e3}`, `{"cgroup_paths":{"a":"b","a":"c"}}`,
		"{\"id\":\"\xff\xfe\"}", `{"id":"x"}garbage`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	redo := f.TempDir()
	path := filepath.Join(dir, stateFile)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := loadState(dir, nil)
		if err != nil {
			if st != nil {
				t.Fatalf("state %+v returned with error %v", st, err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if st == nil {
			t.Fatal("no state and no error")
		}
		want, err := json.Marshal(st)
		if err != nil {
			// A state read from disk that cannot be written back would
			// fail the next command that saves it.
			t.Fatalf("loaded state does not marshal: %v", err)
		}
		if err := st.save(redo); err != nil {
			t.Fatalf("loaded state does not save: %v", err)
		}
		st2, err := loadState(redo, nil)
		if err != nil {
			t.Fatalf("saved state does not load: %v", err)
		}
		got, _ := json.Marshal(st2)
		if !bytes.Equal(want, got) {
			t.Fatalf("state changed in a save and load:\n%s\n%s", want, got)
		}
		// A hostile init_pid or start time must not make the status
		// anything but one of the five (pid 1 is real; no signal is sent).
		var proc *procStat
		if st.InitPid > 0 {
			if p, err := readProcStat(st.InitPid); err == nil {
				proc = &p
			}
		}
		switch s := deriveStatus(facts{creating: st.Creating, initPid: st.InitPid, startTime: st.InitStartTime, proc: proc}); s {
		case Creating, Created, Running, Stopped, Paused:
		default:
			t.Fatalf("status %q", s)
		}
	})
}

// FuzzParseProcStat checks parseProcStat two ways. A line the kernel could
// write, with any comm (spaces, parentheses, newlines, a fake ") Z 1 …"
// tail), must give back the state, flags and start time that went in. Any
// other line must parse or fail without panicking, and a parse must read
// the fields after the last ") ".
func FuzzParseProcStat(f *testing.F) {
	f.Add("sh", byte('S'), uint64(4194560), uint64(987654), "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615")
	f.Add("a) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", byte('R'), uint64(0x4), uint64(0), "1 (x)")
	f.Add("\n)\n(", byte('Z'), uint64(1<<63), uint64(1<<64-1), ")")
	f.Add("", byte('I'), uint64(0), uint64(1), "1 () S 1 1 1 0 -1 x 0 0 0 0 0 0 0 0 20 0 1 0 5")
	f.Fuzz(func(t *testing.T, comm string, state byte, flags, start uint64, raw string) {
		if !strings.ContainsRune("RSDTtXZPIKWxw", rune(state)) {
			state = 'S'
		}
		comm = strings.ReplaceAll(comm, "\x00", "")
		line := fmt.Sprintf("%d (%s) %c 1 %d %d 0 -1 %d 100 0 0 0 0 0 0 0 20 0 1 0 %d 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0\n",
			12345, comm, state, 12345, 12345, flags, start)
		st, err := parseProcStat(line)
		if err != nil {
			t.Fatalf("kernel-shaped line refused: %v\n%q", err, line)
		}
		if st.State != state || st.Flags != flags || st.StartTime != start {
			t.Fatalf("parsed %+v from %q, want state %c flags %d start %d", st, line, state, flags, start)
		}

		st, err = parseProcStat(raw)
		if err != nil {
			return
		}
		i := strings.LastIndexByte(raw, ')')
		if i < 0 || i+2 >= len(raw) {
			t.Fatalf("parsed %+v from %q, which has no fields after a ')'", st, raw)
		}
		f := strings.Fields(raw[i+2:])
		if len(f) < 20 || st.State != f[0][0] || strconv.FormatUint(st.StartTime, 10) != strings.TrimLeft(f[19], "0")+zeroIfEmpty(f[19]) {
			t.Fatalf("parsed %+v from %q", st, raw)
		}
	})
}

// zeroIfEmpty makes "000" compare equal to FormatUint's "0".
func zeroIfEmpty(s string) string {
	if strings.TrimLeft(s, "0") == "" {
		return "0"
	}
	return ""
}

// FuzzValidateID checks that an id ValidateID accepts names exactly one
// directory right below the state root: no "/", no "..", no NUL, not
// hidden, at most 1024 bytes.
func FuzzValidateID(f *testing.F) {
	for _, s := range []string{"a", "c1", "abc_DEF-1.2+x", "", ".", "..", "../x", "a/b", "a\x00b", "x..y", "é", strings.Repeat("a", 1025)} {
		f.Add(s)
	}
	root := "/run/rt"
	f.Fuzz(func(t *testing.T, id string) {
		err := ValidateID(id)
		if err2 := ValidateID(id); fmt.Sprint(err) != fmt.Sprint(err2) {
			t.Fatalf("not deterministic: %v, then %v", err, err2)
		}
		if err != nil {
			return
		}
		p := filepath.Join(root, id)
		if filepath.Dir(p) != root || filepath.Base(p) != id {
			t.Fatalf("id %q maps to %s, not a directory right below %s", id, p, root)
		}
		if strings.HasPrefix(id, ".") || strings.ContainsAny(id, "/\x00\n ") || len(id) > 1024 {
			t.Fatalf("accepted id %q", id)
		}
	})
}
