#!/bin/sh
# The cgroup v2 lane's tests, run inside the VM by hack/vm/init (from /vm):
#   1. the cgroups package's test binary, every test (-test.v);
#   2. real containers run by rt with memory, cpu, cpuset and pids limits and
#      device rules (bundles from hack/vm/vmconfig, checks in check.sh), and
#      the cgroup files of a created container read from outside.
# Prints "RTVM: PASS|FAIL ..." lines; exits with the number of failures.
cd /vm || exit 125
fails=0
pass() { echo "RTVM: PASS $*"; }
fail() { echo "RTVM: FAIL $*"; fails=$((fails + 1)); }

echo "RTVM: == go test ./cgroups/ (cgroups.test -test.v) =="
(cd /vm/src/cgroups && /vm/cgroups.test -test.v -test.count=1 -test.timeout=60s)
rc=$?
if [ $rc -eq 0 ]; then pass "go test ./cgroups/"; else fail "go test ./cgroups/ (exit $rc)"; fi

echo "RTVM: == containers =="
# The device node the device rules are about, made where only a container
# sees it (the rootfs is in the VM's tmpfs: no nodev).
mknod /vm/rootfs/kmsg c 1 11

# rt run in the foreground: check.sh checks its cgroup from inside.
for b in limits allow; do
	rt run -b /vm/bundles/$b rtvm-$b
	rc=$?
	if [ $rc -eq 0 ]; then pass "rt run rtvm-$b"; else fail "rt run rtvm-$b (exit $rc: failed checks or rt error)"; fi
done

# rt create, then the cgroup as the host sees it, then start and delete.
. /vm/bundles/created/expect
dir=/sys/fs/cgroup$RTVM_CGROUP
if rt create -b /vm/bundles/created rtvm-created; then
	pass "rt create rtvm-created"
	pid=$(rt state rtvm-created | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
	if [ -n "$pid" ] && grep -qx "$pid" "$dir/cgroup.procs"; then
		pass "created: init pid $pid is in $dir/cgroup.procs"
	else
		fail "created: init pid '$pid' not in $dir/cgroup.procs ($(cat "$dir/cgroup.procs" 2>&1 | tr '\n' ' '))"
	fi
	for fv in "memory.max=$RTVM_MEMORY_MAX" "cpu.max=$RTVM_CPU_MAX" "cpu.weight=$RTVM_CPU_WEIGHT" \
		"cpuset.cpus=$RTVM_CPUSET" "pids.max=$RTVM_PIDS_MAX"; do
		f=${fv%%=*} v=${fv#*=}
		got=$(cat "$dir/$f" 2>&1)
		if [ "$got" = "$v" ]; then pass "created: $dir/$f = $v"; else fail "created: $dir/$f = '$got', want '$v'"; fi
	done
	if rt start rtvm-created; then pass "rt start rtvm-created"; else fail "rt start rtvm-created"; fi
	i=0
	while [ $i -lt 50 ] && ! rt state rtvm-created | grep -q '"status": *"stopped"'; do
		sleep 0.1
		i=$((i + 1))
	done
	if rt delete rtvm-created; then pass "rt delete rtvm-created"; else fail "rt delete rtvm-created"; fi
else
	fail "rt create rtvm-created"
	rt delete -f rtvm-created 2>/dev/null
fi

# Delegation: a user-namespaced container with a writable cgroup mount owns
# its cgroup directory and delegation files; the limits stay root's.
. /vm/bundles/delegate/expect
dir=/sys/fs/cgroup$RTVM_CGROUP
if rt create -b /vm/bundles/delegate rtvm-delegate; then
	for f in "" /cgroup.procs /cgroup.subtree_control; do
		got=$(stat -c %u "$dir$f" 2>&1)
		if [ "$got" = "$RTVM_DELEGATE_UID" ]; then pass "delegate: $dir$f owned by $got"; else fail "delegate: $dir$f owned by '$got', want $RTVM_DELEGATE_UID"; fi
	done
	got=$(stat -c %u "$dir/memory.max" 2>&1)
	if [ "$got" = 0 ]; then pass "delegate: memory.max stays root's"; else fail "delegate: memory.max owned by '$got'"; fi
	if rt delete -f rtvm-delegate; then pass "rt delete rtvm-delegate"; else fail "rt delete rtvm-delegate"; fi
else
	fail "rt create rtvm-delegate"
	rt delete -f rtvm-delegate 2>/dev/null
fi

# Nothing may be left: every container's cgroup is removed on delete.
left=$(find /sys/fs/cgroup/rtvm -mindepth 1 -type d 2>/dev/null)
if [ -z "$left" ]; then pass "no cgroup left under /sys/fs/cgroup/rtvm"; else fail "cgroups left: $left"; fi
left=$(ls /run/rt 2>/dev/null)
if [ -z "$left" ]; then pass "no container state left"; else fail "state left in /run/rt: $left"; fi

echo "RTVM: suite done, $fails failure(s)"
exit $fails
