// Package rootfs builds a container's root filesystem from an OCI config:
// mounts, devices, pivot_root, masked and read-only paths.
//
// The container init calls it in three phases, because hooks run between
// them: Prepare (before pivot_root, in the new mount namespace), Pivot, and
// Finish (after the caller has set up the console). Every destination is
// resolved inside the rootfs without following symlinks out of it, and
// mounts are made onto the resolved file descriptor ("/proc/self/fd/N"),
// never onto a re-resolved path string.
package rootfs
