package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Peak RSS is measured through hack/bench/spawn (see its doc): a child's
// ru_maxrss includes the RSS of the process that forked it, and the
// harness is too big to be that process.

// parseSpawn reads the spawner's result line.
func parseSpawn(line string) (time.Duration, int64, unix.WaitStatus, error) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return 0, 0, 0, fmt.Errorf("spawner: bad result %q", line)
	}
	ns, err1 := strconv.ParseInt(f[0], 10, 64)
	rss, err2 := strconv.ParseInt(f[1], 10, 64)
	ws, err3 := strconv.ParseUint(f[2], 10, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, fmt.Errorf("spawner: bad result %q", line)
	}
	return time.Duration(ns), rss, unix.WaitStatus(ws), nil
}
