// Package nsenter joins existing namespaces without C.
//
// Two stages share the work, because the kernel refuses some joins to a
// multi-threaded process and a Go program is multi-threaded from its first
// instruction of Go code:
//
//   - The parent (rt create / rt exec) joins pid, network, ipc, uts and cgroup
//     namespaces on a locked OS thread (JoinThread, RunInNamespaces) and starts
//     the child from that thread, so the child inherits them. The thread is never
//     unlocked, so the runtime discards it afterwards.
//   - The child joins user, time and mount namespaces (and, for rt exec, every
//     other type except pid) in an ELF entry point written in Go assembly, which
//     runs before the Go runtime starts any thread. The parent describes the joins
//     in the environment variable EnvName (built by EntryEnv); the child's Go code
//     calls StageError early to learn whether they succeeded.
//
// The entry stage only runs in binaries built by hack/build-rt.sh, which links
// normally and then patches the ELF entry address (see hack/elfentry).
//
// # The entry stage protocol
//
// EnvName's value is a list of joins, in order, each a letter naming the
// namespace type followed by the decimal fd number the child holds it at, with
// no separators: "u3t4m5" joins the user namespace at fd 3, then time at fd 4,
// then mount at fd 5. Letters: m mount, u user, t time, n network, i ipc,
// h uts, c cgroup. pid is not accepted: after setns(CLONE_NEWPID) the Go
// runtime could not create threads (the parent joins it instead).
//
// The letter g is no namespace: its fd is a cgroup v1 tasks file, to which
// the stage writes "0" (see CgroupTasks).
//
// For each entry the stage calls setns(fd, CLONE_NEW*) (or the write) and,
// on success, closes fd so it cannot leak into the container. It stops at the first
// failure and leaves that fd and the rest open (the child is about to exit).
// An absent variable makes the stage do nothing.
package nsenter
