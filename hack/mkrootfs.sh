#!/bin/bash
# Builds a minimal busybox-static root filesystem in DIR from the host's
# busybox-static package. Nothing is downloaded.
#   hack/mkrootfs.sh DIR
set -euo pipefail

dir=${1:?usage: $0 DIR}

# Debian's busybox-static installs /bin/busybox (the plain busybox package
# installs a dynamic one at the same path, so insist on a static binary).
bb=${BUSYBOX:-/bin/busybox}
if [ ! -x "$bb" ]; then
	echo "mkrootfs.sh: $bb not found; run hack/setup.sh demo (package busybox-static)" >&2
	exit 1
fi
# A static ELF has no PT_INTERP program header.
if LC_ALL=C readelf -lW "$bb" 2>/dev/null | grep -q 'INTERP' ||
	{ ! command -v readelf >/dev/null && ldd "$bb" >/dev/null 2>&1; }; then
	echo "mkrootfs.sh: $bb is dynamically linked; install busybox-static" >&2
	exit 1
fi

mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,root,home/user,var/tmp,run}
chmod 1777 "$dir/tmp" "$dir/var/tmp"
cp "$bb" "$dir/bin/busybox"
chmod 0755 "$dir/bin/busybox"

# busybox --list-full prints paths like usr/bin/env; fall back to --list into /bin.
if "$bb" --list-full >/dev/null 2>&1; then
	"$bb" --list-full | while read -r applet; do
		case "$applet" in bin/busybox | linuxrc) continue ;; esac
		ln -sf /bin/busybox "$dir/$applet"
	done
else
	"$bb" --list | while read -r applet; do
		[ "$applet" = busybox ] && continue
		ln -sf busybox "$dir/bin/$applet"
	done
fi

cat >"$dir/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$dir/etc/group" <<'G'
root:x:0:
user:x:1000:
nogroup:x:65534:
G
echo rt >"$dir/etc/hostname"
: >"$dir/etc/resolv.conf"
: >"$dir/etc/hosts"
chown 1000:1000 "$dir/home/user"
