//go:build !amd64

package earlyinit

// grow is a no-op where rt has no assembly for it (rt's entry stage is
// amd64-only too).
func grow() {}

func growLarge() {}
