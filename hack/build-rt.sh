#!/bin/sh
# Builds rt with nsenter's entry stage as the ELF entry point.
#
# Usage: hack/build-rt.sh [OUT [PKG]]   (defaults: ./rt and the main package at the repo root)
#
# A plain `go build` produces a binary whose entry stage never runs; rt then
# refuses to join user/time/mount namespaces (nsenter.StageError says so).
# After linking normally (external linking with cgo, internal without), the
# binary is patched in place by hack/elfentry: e_entry points at the stage,
# which jumps on to the original entry. Extra `go build` flags may be passed
# in GOFLAGS; do not strip the symbol table (-ldflags=-s).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/rt}
pkg=${2:-.}
case $out in /*) ;; *) out=$PWD/$out ;; esac
cd "$root"
# go build leaves an up-to-date OUT alone, patched or not: always relink.
rm -f "$out"
# urfave_cli_no_docs drops the man/markdown generators (blackfriday): less
# code to load and initialise on every command. cgo is needed for
# libseccomp, linked statically (libseccomp.a, glibc's libc.a): no shared
# libraries to map and relocate at every start, and a smaller RSS.
CGO_ENABLED=1 go build -tags urfave_cli_no_docs,netgo,osusergo \
	-ldflags '-linkmode=external -extldflags=-static' -o "$out" "$pkg"
go run ./hack/elfentry "$out"
