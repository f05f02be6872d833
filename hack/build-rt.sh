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
# libseccomp, linked statically: no shared libraries to map and relocate at
# every start, and a smaller RSS.
#
# The C library is musl (musl-tools) when available: static glibc spends
# ~0.6 ms of every process start probing cache sizes with CPUID, which traps
# to the hypervisor on this kind of VM, and rt starts twice per container.
# Debian's libseccomp.a links against musl with one shim (hack/musl).
if command -v musl-gcc >/dev/null 2>&1; then
	m=$root/build/musl
	mkdir -p "$m/include"
	# musl's include dir lacks seccomp.h and the kernel headers it includes.
	for h in seccomp.h seccomp-syscalls.h linux asm-generic; do
		ln -sfn "/usr/include/$h" "$m/include/$h"
	done
	ln -sfn /usr/include/x86_64-linux-gnu/asm "$m/include/asm"
	musl-gcc -O2 -c hack/musl/compat.c -o "$m/compat.o"
	cp /usr/lib/x86_64-linux-gnu/libseccomp.a "$m/libseccomp.a.tmp"
	ar rc "$m/libseccomp.a.tmp" "$m/compat.o"
	mv "$m/libseccomp.a.tmp" "$m/libseccomp.a"
	export CC=musl-gcc CGO_CFLAGS="-I$m/include" CGO_LDFLAGS="-L$m"
else
	echo "build-rt.sh: musl-gcc not found (hack/setup.sh installs musl-tools): linking glibc, ~0.6 ms slower per start" >&2
fi
# encoding/json backed by json/v2 (GOEXPERIMENT=jsonv2, Go 1.25+): every rt
# command decodes state.json, a whole runtime-spec config, and v1 builds an
# encoder for every type in the spec's graph while decoding; v2 does not.
# That is ~0.3 ms of `rt state` and ~0.7 ms of `rt exec` (perf stat,
# interleaved).
#
# nogreenteagc: Go 1.26's default collector (Green Tea) keeps the mark bits
# of a small-object span at the span's end, so the first allocation in
# every new span touches two pages instead of one. An rt command allocates
# a few hundred KB over ~100 spans and ends before its first GC cycle: the
# classic layout is ~0.3 MiB less RSS in `rt run`, and no slower.
#
# The Makefile sets the same experiments for tests and vet.
export GOEXPERIMENT=jsonv2,nogreenteagc
# -Ttext-segment=0x401000 (instead of ld's 0x400000) puts every segment
# 4 KiB off a 2 MiB boundary relative to its file offset. The page cache
# holds a freshly written binary in large folios, and where a 2 MiB folio
# lines up with a segment the kernel maps all of it at the first touch,
# with one PMD (FilePmdMapped): 2 MiB of pclntab counted in every rt
# process's RSS, ~0.6 MiB of it never read. Misaligned, no PMD mapping is
# possible, and a fault maps the 64 KiB around it (or the smaller folio it
# falls in). Measured: rt run's peak RSS -0.5 MiB. (-Ttext-segment is GNU
# ld's, which musl-gcc and gcc use; lld calls it --image-base.)
CGO_ENABLED=1 go build -tags urfave_cli_no_docs,netgo,osusergo \
	-ldflags '-linkmode=external -extldflags "-static -Wl,-Ttext-segment=0x401000"' -o "$out" "$pkg"
go run ./hack/elfentry "$out"
