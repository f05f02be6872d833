package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	good := map[string]unix.Signal{"9": unix.SIGKILL, "KILL": unix.SIGKILL, "SIGKILL": unix.SIGKILL, "term": unix.SIGTERM, "15": unix.SIGTERM, "SIGUSR1": unix.SIGUSR1, "HUP": unix.SIGHUP}
	for in, want := range good {
		got, err := parseSignal(in)
		if err != nil || got != want {
			t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "-1", "65", "FOO", "SIGFOO", ""} {
		if _, err := parseSignal(bad); err == nil {
			t.Errorf("%q: expected an error", bad)
		}
	}
}
