//go:build linux && !amd64

package nsenter

// The entry stage is written for amd64 only; elsewhere stageState stays
// stageNotRun and StageError reports joins that were asked for but not done.
