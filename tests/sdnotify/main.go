// Command sdnotify sends its arguments, one datagram each, to the socket
// named by $NOTIFY_SOCKET, as systemd-notify does. The integration tests put it
// in bundles to check that NOTIFY_SOCKET reaches the container.
package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		fmt.Fprintln(os.Stderr, "sdnotify: NOTIFY_SOCKET is not set")
		os.Exit(1)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdnotify:", err)
		os.Exit(1)
	}
	for _, msg := range os.Args[1:] {
		if err := unix.Sendto(fd, []byte(msg), 0, &unix.SockaddrUnix{Name: path}); err != nil {
			fmt.Fprintf(os.Stderr, "sdnotify: send to %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}
