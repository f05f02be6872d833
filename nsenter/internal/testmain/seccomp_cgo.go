//go:build cgo

package main

import (
	"fmt"

	seccomp "github.com/seccomp/libseccomp-golang"
)

// Linking libseccomp-golang (cgo) proves the entry stage works in an
// externally linked, dynamically linked binary, as rt will be.
func init() {
	seccompVersion = func() string {
		ma, mi, mc := seccomp.GetLibraryVersion()
		return fmt.Sprintf("%d.%d.%d", ma, mi, mc)
	}
}
