// Package tests is rt's integration suite. It builds the rt binary (or uses
// $RT_BINARY, or runc when $RUNTIME=runc), makes busybox-static bundles and
// drives the binary the way container engines do, checking the effects inside
// the container. Run it as root: go test ./tests/ -v -count=1
package tests
