#!/bin/bash
# Builds what the cgroup v2 VM lane boots, into build/vm (nothing on the host
# is installed or changed; the only network access is `apt-get download` of
# Debian's kernel package, once):
#   vmlinuz            Debian's linux-image-6.1.0-*-amd64 kernel, extracted
#                      (serial console, virtio, cgroup2 and every controller
#                      are built in: no modules needed)
#   cgroups.test       the cgroups package's tests, static (CGO_ENABLED=0)
#   rt                 rt, static (hack/build-rt.sh)
#   initramfs.cpio.gz  busybox-static root with /init (hack/vm/init), the two
#                      binaries, suite.sh, and a busybox rootfs with bundles
# Usage: hack/vm/build.sh   (VM_KERNEL=/path/to/bzImage skips the download)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export PATH=$PATH:/usr/local/go/bin
out=build/vm
mkdir -p "$out"

need() { command -v "$1" >/dev/null || { echo "vm/build.sh: $1 not found; run hack/setup.sh test" >&2; exit 1; }; }
need qemu-system-x86_64
need go
static() {
	if LC_ALL=C readelf -lW "$1" | grep -q INTERP; then
		echo "vm/build.sh: $1 is dynamically linked; the VM has no libc" >&2
		exit 1
	fi
}

# The kernel: the package linux-image-amd64 currently points at.
if [ -n "${VM_KERNEL:-}" ]; then
	cp "$VM_KERNEL" "$out/vmlinuz"
	echo "custom ($VM_KERNEL)" >"$out/vmlinuz.version"
else
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	if [ -z "$pkg" ]; then
		echo "vm/build.sh: apt knows no linux-image-amd64; run apt-get update (or set VM_KERNEL)" >&2
		exit 1
	fi
	if [ ! -f "$out/vmlinuz" ] || [ "$(cat "$out/vmlinuz.version" 2>/dev/null)" != "$pkg" ]; then
		mkdir -p "$out/deb"
		rm -f "$out"/deb/*.deb
		echo "vm/build.sh: apt-get download $pkg"
		# Sandbox user root: _apt cannot write into build/.
		(cd "$out/deb" && apt-get -q -o APT::Sandbox::User=root download "$pkg")
		x=$(mktemp -d)
		dpkg-deb -x "$out"/deb/"${pkg}"_*.deb "$x"
		cp "$x"/boot/vmlinuz-* "$out/vmlinuz"
		rm -rf "$x" "$out/deb"
		echo "$pkg" >"$out/vmlinuz.version"
	fi
fi

# The binaries (go's cache keeps these cheap).
CGO_ENABLED=0 go test -c -o "$out/cgroups.test" ./cgroups/
static "$out/cgroups.test"
hack/build-rt.sh "$out/rt"
static "$out/rt"
go build -o "$out/vmconfig" ./hack/vm/vmconfig

# The VM's root: busybox, /init, and /vm with the suite and the bundles.
ir=$out/initramfs
rm -rf "$ir"
hack/mkrootfs.sh "$ir"
install -m 0755 hack/vm/init "$ir/init"
mkdir -p "$ir/vm/src/cgroups" "$ir/vm/bundles" "$ir/usr/local/bin"
install -m 0755 hack/vm/suite.sh "$out/cgroups.test" "$ir/vm/"
install -m 0755 "$out/rt" "$ir/usr/local/bin/rt"
hack/mkrootfs.sh "$ir/vm/rootfs"
install -m 0755 hack/vm/check.sh "$ir/vm/rootfs/check.sh"
spec=$(mktemp -d)
(cd "$spec" && "$root/$out/rt" spec)
"$out/vmconfig" -base "$spec/config.json" -rootfs /vm/rootfs -out "$ir/vm/bundles"
rm -rf "$spec"
(cd "$ir" && find . | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$out/initramfs.cpio.gz"
rm -rf "$ir"
echo "vm/build.sh: kernel $(cat "$out/vmlinuz.version"), initramfs $(du -h "$out/initramfs.cpio.gz" | cut -f1)"
