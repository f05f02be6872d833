package libcontainer

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDeriveStatus(t *testing.T) {
	alive := &procStat{State: 'S', StartTime: 100}
	tests := []struct {
		name string
		f    facts
		want string
	}{
		{"no pid yet", facts{}, Creating},
		{"init gone", facts{initPid: 5, startTime: 100}, Stopped},
		{"pid reused", facts{initPid: 5, startTime: 99, proc: alive}, Stopped},
		{"zombie", facts{initPid: 5, startTime: 100, proc: &procStat{State: 'Z', StartTime: 100}}, Stopped},
		{"dead", facts{initPid: 5, startTime: 100, proc: &procStat{State: 'X', StartTime: 100}}, Stopped},
		{"pid-ns init in exit, waiting for its namespace to be reaped", facts{initPid: 5, startTime: 100, proc: &procStat{State: 'S', Flags: pfExiting | 0x400000, StartTime: 100}}, Stopped},
		{"waiting for start", facts{initPid: 5, startTime: 100, proc: alive, execSockExist: true}, Created},
		{"running", facts{initPid: 5, startTime: 100, proc: alive}, Running},
		{"frozen", facts{initPid: 5, startTime: 100, proc: alive, frozen: true}, Paused},
		{"frozen but dead", facts{initPid: 5, startTime: 100, frozen: true}, Stopped},
		{"being created", facts{creating: true, initPid: 5, startTime: 100, proc: alive, execSockExist: true}, Creating},
		{"create died, init too", facts{creating: true, initPid: 5, startTime: 100}, Stopped},
	}
	for _, tc := range tests {
		if got := deriveStatus(tc.f); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// comm may contain spaces and parentheses.
	line := "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615"
	st, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != 'S' || st.StartTime != 987654 || st.Flags != 4194560 {
		t.Fatalf("got %+v", st)
	}
	if _, err := parseProcStat("garbage"); err == nil {
		t.Fatal("expected an error for a malformed line")
	}
	self, err := readProcStat(os.Getpid())
	if err != nil || self.StartTime == 0 {
		t.Fatalf("own stat: %+v %v", self, err)
	}
}

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"a", "c1", "abc_DEF-1.2+x", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"} {
		if err := ValidateID(ok); err != nil {
			t.Errorf("%q: unexpected error %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", ".seccomp-cache", "a/b", "../x", "a b", "x\x00"} {
		if err := ValidateID(bad); err == nil {
			t.Errorf("%q: expected an error", bad)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := &State{ID: "x", Bundle: "/b", InitPid: 42, InitStartTime: 7, Created: time.Unix(1, 0).UTC(), CgroupPaths: map[string]string{"memory": "/sys/fs/cgroup/memory/x"}}
	if err := s.save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.InitPid != 42 || got.InitStartTime != 7 || got.CgroupPaths["memory"] != s.CgroupPaths["memory"] {
		t.Fatalf("round trip: %+v", got)
	}
	// No temp files are left next to it.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("leftover files: %v", ents)
	}
	os.WriteFile(filepath.Join(dir, stateFile), []byte("{"), 0o600)
	if _, err := loadState(dir, nil); err == nil {
		t.Fatal("expected an error for a corrupt state file")
	}
}

// TestStateReloadReuses: reading back the file just saved (or read) keeps
// the parsed state; any change in the file, by anyone, is parsed again.
func TestStateReloadReuses(t *testing.T) {
	dir := t.TempDir()
	s := &State{ID: "x", Bundle: "/b", InitPid: 42}
	if err := s.save(dir); err != nil {
		t.Fatal(err)
	}
	if got, err := loadState(dir, s); err != nil || got != s {
		t.Fatalf("reload of the state just saved: %p, %v; want %p (not parsed again)", got, err, s)
	}
	other := &State{ID: "x", Bundle: "/b", InitPid: 43}
	if err := other.save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(dir, s)
	if err != nil || got == s || got.InitPid != 43 {
		t.Fatalf("reload after another save: %+v, %v; want the new state", got, err)
	}
	if again, err := loadState(dir, got); err != nil || again != got {
		t.Fatalf("reload of the state just read: %p, %v; want %p", again, err, got)
	}
	// Same length, one byte changed.
	b, _ := os.ReadFile(filepath.Join(dir, stateFile))
	b = bytes.Replace(b, []byte(`"init_pid":43`), []byte(`"init_pid":44`), 1)
	if err := os.WriteFile(filepath.Join(dir, stateFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := loadState(dir, got); err != nil || got.InitPid != 44 {
		t.Fatalf("reload after an edit in place: %+v, %v; want init_pid 44", got, err)
	}
}

func BenchmarkStateSave(b *testing.B) {
	dir := b.TempDir()
	s := &State{ID: "x", Bundle: "/b", InitPid: 42}
	for i := 0; i < b.N; i++ {
		if err := s.save(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealedSelf measures what sealing the init binary costs per create
// (a detached read-only bind mount of our own executable).
func BenchmarkSealedSelf(b *testing.B) {
	for i := 0; i < b.N; i++ {
		f, err := sealedSelf()
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// TestRemoveStateDir: the directory goes whether it holds state.json alone,
// more files, or nothing.
func TestRemoveStateDir(t *testing.T) {
	for name, files := range map[string][]string{
		"state only": {stateFile},
		"more":       {stateFile, "notify.sock", ".state.json.tmp123"},
		"no state":   {"x"},
		"empty":      nil,
	} {
		dir := filepath.Join(t.TempDir(), "c")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := removeStateDir(dir); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s: directory still there (%v)", name, err)
		}
	}
}

// A committed file replaces what was there (by exchange) or is new (by
// rename); either way only the file remains, with the new content, and an
// abort afterwards does nothing.
func TestPendingCommit(t *testing.T) {
	for _, existing := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, stateFile)
		if existing {
			if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		p, err := writePending(path, []byte("new"), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); existing && string(b) != "old" {
			t.Errorf("existing=%v: before commit the file holds %q", existing, b)
		}
		if err := p.commit(); err != nil {
			t.Fatalf("existing=%v: %v", existing, err)
		}
		p.abort()
		b, err := os.ReadFile(path)
		if err != nil || string(b) != "new" {
			t.Errorf("existing=%v: file holds %q (%v), want \"new\"", existing, b, err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("existing=%v: mode %v (%v), want 0644", existing, fi.Mode(), err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("existing=%v: directory holds %d entries, want only %s", existing, len(ents), stateFile)
		}
	}
}
