#!/bin/bash
# Boots the VM built by hack/vm/build.sh (qemu TCG: this host's /dev/kvm is
# nested and unusable), which runs hack/vm/suite.sh under cgroup v2 and
# powers off. The console is shown and kept in build/vm/console.log; the
# result is read from it: non-zero exit unless the suite printed
# "RTVM-EXIT 0" and no "RTVM: FAIL" line.
# Usage: hack/vm/run.sh   (VM_TIMEOUT seconds, default 120; VM_SMP, VM_MEM)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=build/vm
log=$out/console.log
for f in vmlinuz initramfs.cpio.gz; do
	[ -f "$out/$f" ] || { echo "vm/run.sh: $out/$f missing; run hack/vm/build.sh" >&2; exit 1; }
done

# qboot (in qemu-system-data) boots -kernel faster than SeaBIOS, which is
# only a recommendation of qemu-system-x86.
bios=()
[ -f /usr/share/qemu/qboot.rom ] && bios=(-bios /usr/share/qemu/qboot.rom)

t0=$(date +%s.%N)
timeout --foreground -k 5 "${VM_TIMEOUT:-120}" qemu-system-x86_64 \
	-accel tcg -cpu max -smp "${VM_SMP:-2}" -m "${VM_MEM:-512M}" "${bios[@]}" \
	-nographic -no-reboot -nic none \
	-kernel "$out/vmlinuz" -initrd "$out/initramfs.cpio.gz" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1 -- /vm/suite.sh" \
	</dev/null 2>&1 | tr -d '\r' | tee "$log"
qrc=${PIPESTATUS[0]}
secs=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t0 }")

exitline=$(grep -a '^RTVM-EXIT ' "$log" | tail -1)
npass=$(grep -ac '^RTVM: PASS' "$log")
nfail=$(grep -ac '^RTVM: FAIL' "$log")
gpass=$(grep -aEc '^ *--- PASS' "$log")
gfail=$(grep -aEc '^ *--- FAIL' "$log")
gskip=$(grep -aEc '^ *--- SKIP' "$log")

echo
echo "== cgroup v2 VM lane: $(cat "$out/vmlinuz.version" 2>/dev/null), $secs s =="
echo "go test ./cgroups/: $gpass passed, $gfail failed, $gskip skipped (subtests included)"
grep -aE '^ *--- (FAIL|SKIP)' "$log" | sed 's/^/  /'
echo "checks: $npass passed, $nfail failed"
grep -a '^RTVM: FAIL' "$log" | sed 's/^RTVM: /  /'
rc=0
if [ -z "$exitline" ]; then
	if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
		echo "VM: timed out after ${VM_TIMEOUT:-120} s (VM_TIMEOUT)"
	else
		echo "VM: ended without RTVM-EXIT (qemu exit $qrc; kernel panic or init died?)"
	fi
	rc=1
else
	echo "VM: $exitline"
	[ "${exitline#RTVM-EXIT }" = 0 ] || rc=1
fi
[ "$nfail" -eq 0 ] && [ "$gfail" -eq 0 ] || rc=1
if [ $rc -eq 0 ]; then echo "test-v2: PASS"; else echo "test-v2: FAIL (console: $log)"; fi
exit $rc
