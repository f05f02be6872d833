#!/bin/sh
# Runs inside a container of the VM lane (as /check.sh, PID 1 of the
# container): checks the container's own cgroup through its cgroup namespace
# (/sys/fs/cgroup is the container's cgroup) and the effect of its limits.
# The expected values come as RTVM_* variables (hack/vm/vmconfig). Prints one
# "RTVM: PASS|FAIL ..." line per check; exits with the number of failures.
mode=${1:?usage: check.sh limits|allow}
cg=/sys/fs/cgroup
fails=0
pass() { echo "RTVM: PASS container/$mode: $*"; }
fail() { echo "RTVM: FAIL container/$mode: $*"; fails=$((fails + 1)); }

# want FILE VALUE: the cgroup file holds exactly VALUE.
want() {
	got=$(cat "$cg/$1" 2>&1)
	if [ "$got" = "$2" ]; then pass "$1 = $2"; else fail "$1 = '$got', want '$2'"; fi
}

if [ "$(cat /proc/self/cgroup)" = "0::/" ]; then
	pass "own cgroup is the namespace root (0::/)"
else
	fail "/proc/self/cgroup = '$(cat /proc/self/cgroup)', want '0::/'"
fi

# /dev/null and /dev/zero stay usable under a deny-all rule (default allows).
if echo x >/dev/null && head -c 4 /dev/zero | wc -c | grep -qx 4; then
	pass "devices: /dev/null writable, /dev/zero readable"
else
	fail "devices: /dev/null or /dev/zero refused"
fi

# /kmsg is c 1:11 (suite.sh made it); a write-only open needs no capability.
err=$(echo "rtvm check $mode" 2>&1 >/kmsg)
rc=$?
case $RTVM_KMSG in
deny)
	if [ $rc -ne 0 ] && echo "$err" | grep -q 'not permitted'; then
		pass "devices: c 1:11 refused ($err)"
	else
		fail "devices: writing c 1:11 gave rc=$rc '$err', want 'Operation not permitted'"
	fi
	;;
allow)
	if [ $rc -eq 0 ]; then pass "devices: c 1:11 allowed by rule"; else fail "devices: c 1:11 refused: $err"; fi
	;;
esac

if [ "$mode" = limits ]; then
	want memory.max "$RTVM_MEMORY_MAX"
	want cpu.max "$RTVM_CPU_MAX"
	want cpu.weight "$RTVM_CPU_WEIGHT"
	want cpuset.cpus "$RTVM_CPUSET"
	want pids.max "$RTVM_PIDS_MAX"

	# pids: more forks than pids.max allows must fail, counted in pids.events.
	sh -c 'i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i + 1)); done' 2>/dev/null
	n=$(cat $cg/pids.current)
	kill $(pidof sleep) 2>/dev/null
	ev=$(awk '$1 == "max" {print $2}' $cg/pids.events)
	if [ "${ev:-0}" -gt 0 ] && [ "$n" -le "$RTVM_PIDS_MAX" ]; then
		pass "pids: forks beyond pids.max refused (pids.current $n, pids.events max $ev)"
	else
		fail "pids: pids.current $n, pids.events max '${ev}' after 40 forks"
	fi

	# memory: a process growing past memory.max is OOM-killed in the cgroup.
	awk 'BEGIN { s = "0123456789abcdef"; while (1) s = s s }' 2>/dev/null
	rc=$?
	oom=$(awk '$1 == "oom_kill" {print $2}' $cg/memory.events)
	peak=$(cat $cg/memory.peak 2>/dev/null || echo n/a)
	if [ $rc -ne 0 ] && [ "${oom:-0}" -gt 0 ]; then
		pass "memory: allocation past memory.max OOM-killed (exit $rc, oom_kill $oom)"
	else
		fail "memory: growing process exit $rc, memory.events oom_kill '${oom}', peak $peak"
	fi
fi
exit $fails
