#!/bin/bash
# Installs what rt needs on a Debian host. Idempotent: apt is only called for
# packages that are missing, and `apt-get update` runs at most once.
#   hack/setup.sh demo   busybox-static (enough for `make demo`)
#   hack/setup.sh test   everything the unit and integration tests use
set -euo pipefail

mode=${1:-test}
case "$mode" in
demo) pkgs=(busybox-static libseccomp-dev gcc libc6-dev pkg-config musl-tools) ;;
test) pkgs=(busybox-static libseccomp-dev musl-tools runc crun jq gcc make iproute2 pkg-config util-linux bsdutils
	qemu-system-x86 podman conmon containerd) ;;
*)
	echo "usage: $0 [demo|test]" >&2
	exit 2
	;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: must run as root (apt installs, and rt itself needs root)" >&2
	exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
	echo "setup.sh: packages for '$mode' already installed"
fi

export PATH=$PATH:/usr/local/go/bin
if ! command -v go >/dev/null 2>&1; then
	echo "setup.sh: Go not found. Install Go 1.26+ into /usr/local/go (https://go.dev/dl/) and" >&2
	echo "          put /usr/local/go/bin on PATH." >&2
	exit 1
fi
echo "setup.sh: $(go version)"
