# rt — an OCI container runtime. Everything here runs as root.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go

.PHONY: all rt demo test root-check unit integration vet ci clean

all: rt

# Always rebuild: go's own cache makes this cheap and correct.
rt:
	hack/build-rt.sh rt

# Build a busybox bundle and run it once.
demo:
	hack/setup.sh demo
	$(MAKE) rt
	rm -rf build/demo
	hack/mkrootfs.sh build/demo/rootfs
	cd build/demo && ../../rt spec
	@id=demo-$$$$; \
	$(GO) run ./hack/democonfig -cgroups-path /rt-demo/$$id build/demo/config.json && \
	echo "+ ./rt run -b build/demo $$id" && \
	./rt run -b build/demo $$id; rc=$$?; \
	rmdir /sys/fs/cgroup/*/rt-demo 2>/dev/null; exit $$rc

vet:
	$(GO) vet ./...

# Unit tests: every package except the integration suite.
unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v '/tests$$')

# Integration tests drive the built binary (tests/ builds it itself).
integration:
	$(GO) test ./tests/ -v -count=1

test: root-check vet unit integration

root-check:
	@test "$$(id -u)" = 0 || { echo "make test: the tests need root" >&2; exit 1; }

# The README's second command: install test dependencies, then test.
ci:
	hack/setup.sh test
	$(MAKE) test

clean:
	rm -rf rt build
