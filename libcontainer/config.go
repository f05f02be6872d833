package libcontainer

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rtrun/rt/rootfs"
)

// initConfig is everything init needs, sent in msgConfig. File descriptors
// are given as the numbers they have in the child.
type initConfig struct {
	ID           string            `json:"id"`
	Bundle       string            `json:"bundle"`
	Rootfs       string            `json:"rootfs"`
	Spec         *specs.Spec       `json:"spec"`
	NoPivot      bool              `json:"no_pivot,omitempty"`
	NoNewKeyring bool              `json:"no_new_keyring,omitempty"`
	CgroupPaths  map[string]string `json:"cgroup_paths,omitempty"`
	// Hierarchies: the host's cgroup mounts, from the mount table the
	// parent read for its cgroups; with a cgroup mount in the config, so
	// init need not read its own.
	Hierarchies []rootfs.Hierarchy `json:"hierarchies,omitempty"`
	// Namespaces init must unshare itself rather than get from clone flags:
	// cgroup (after the parent placed it in its cgroup), time (clone cannot),
	// and, when a user namespace was joined, the ones it must own.
	Unshare uintptr `json:"unshare,omitempty"`
	// ForkForPid: init unshares the namespaces (a new pid namespace among
	// them), forks the real init into them and exits (see nsPlan).
	ForkForPid bool `json:"fork_for_pid,omitempty"`
	NewUserNS  bool `json:"new_user_ns,omitempty"`
	NewCgroup  bool `json:"new_cgroup_ns,omitempty"`
	// JoinNet: the config comes with a new network namespace (SCM_RIGHTS),
	// which init joins before anything else (see nsPlan.lateNet).
	JoinNet bool `json:"join_net,omitempty"`

	// Exec: this is an exec'd process joining a running container, not its
	// init; Seccomp is then the container's compiled filter.
	Exec          bool   `json:"exec,omitempty"`
	Seccomp       []byte `json:"seccomp,omitempty"`
	SeccompFlags  uint   `json:"seccomp_flags,omitempty"`
	SeccompNotify bool   `json:"seccomp_notify,omitempty"`

	// NoHooksStep: the parent has nothing to do between init's mounts and
	// pivot_root (no prestart or createRuntime hooks, no seccomp filter to
	// hand over), so there is no msgHooks/msgHooksDone round trip; HostPid
	// is then init's pid as the host sees it.
	NoHooksStep bool `json:"no_hooks_step,omitempty"`
	HostPid     int  `json:"host_pid,omitempty"`
	// StartNow: no `start` will come (run); init execs the user program
	// right after msgReady, reporting on the sync socket, and
	// ExecListenFD is -1.
	StartNow     bool `json:"start_now,omitempty"`
	ExecListenFD int  `json:"exec_listen_fd"`
	ConsoleFD    int  `json:"console_fd"` // -1 when no terminal
	PassedFDs    int  `json:"passed_fds"` // fds 3..3+PassedFDs-1 go to the container
	ListenFDs    int  `json:"listen_fds"` // LISTEN_FDS for socket activation, 0 if unset
}
