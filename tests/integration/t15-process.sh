#!/usr/bin/env bash
# How QEMU runs: as the unprivileged corral-qemu user, under seccomp, in its
# own session and its own cgroup (not corrald's), reading the admin's ISO
# through an fd it could not open itself; corrald leaves no zombie behind;
# run files go when QEMU goes, the run dir when the VM goes.
. "$(dirname "$0")/lib.sh"
setup_daemon

QUID=$(id -u corral-qemu)
READ_CD='for i in 1 2 3 4 5 6; do head -c 14 /dev/sr0 2>/dev/null && break; sleep 0.5; done; echo'
mkiso() { head -c 1048576 /dev/zero >"$1" && printf "%s" "$2" | dd of="$1" conv=notrunc 2>/dev/null; }
qemu_pid() { corral vm show "$1" --json | jq -r .status.pid; }
run_dir() { echo "$STATE/run/$(corral vm show "$1" --json | jq -r .uuid)"; }
# zombies: children of corrald in state Z
zombies() { ps -o stat= --ppid "$CORRALD_PID" | grep -c '^Z' || true; }

test_expect "the admin's ISO in a private directory: QEMU gets it as an fd" '
	mkdir -m 700 "$T/private" && mkiso "$T/private/one.iso" CORRAL-ISO-ONE && chmod 600 "$T/private/one.iso" &&
	mkiso "$T/private/two.iso" CORRAL-ISO-TWO && chmod 600 "$T/private/two.iso" &&
	corral disk create p1-root 64M &&
	create_guest p1 --disk p1-root --cdrom "$T/private/one.iso" && boot p1 &&
	out=$(printf "%s\n" "$READ_CD" | corral vm console p1 --linger 5) &&
	echo "$out" | grep -q CORRAL-ISO-ONE
'
test_expect "QEMU runs as corral-qemu, with no other group, under seccomp" '
	pid=$(qemu_pid p1) &&
	grep -E "^Uid:" /proc/$pid/status &&
	[ "$(awk "/^Uid:/{print \$2 \$3 \$4 \$5}" /proc/$pid/status)" = "$QUID$QUID$QUID$QUID" ] &&
	[ "$(awk "/^Groups:/{print \$2}" /proc/$pid/status)" = "$(id -g corral-qemu)" ] &&
	grep -qx "Seccomp:	2" /proc/$pid/status &&
	! grep -q -- "-daemonize" /proc/$pid/cmdline &&
	tr "\0" " " </proc/$pid/cmdline | grep -q -- "-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
'
test_expect "QEMU is in its own session and its own cgroup, not in corrald's" '
	pid=$(qemu_pid p1) && uuid=$(corral vm show p1 --json | jq -r .uuid) &&
	[ "$(ps -o sid= -p $pid | tr -d " ")" = "$pid" ] &&
	cat /proc/$pid/cgroup &&
	grep -q ":/corral/vm-$uuid\$" /proc/$pid/cgroup &&
	! grep -q "vm-$uuid" /proc/$CORRALD_PID/cgroup &&
	ok=1 && for ctl in memory pids cpu; do
		if grep -q ":$ctl:" /proc/$pid/cgroup; then grep -q ":$ctl:/corral/vm-$uuid\$" /proc/$pid/cgroup || ok=0; fi
	done && [ $ok = 1 ] &&
	if grep -q "^0::" /proc/$pid/cgroup; then grep -qx "0::/corral/vm-$uuid" /proc/$pid/cgroup; fi
'
test_expect "a medium inserted while running also goes over as an fd" '
	corral cdrom insert p1 "$T/private/two.iso" &&
	out=$(printf "%s\n" "$READ_CD" | corral vm console p1 --linger 5) &&
	echo "$out" | grep -q CORRAL-ISO-TWO
'
test_expect "the run dir and the volume belong to corral-qemu" '
	d=$(run_dir p1) &&
	[ "$(stat -c %U:%a "$d")" = corral-qemu:700 ] &&
	[ "$(stat -c %U "$(corral disk show p1-root --json | jq -r .path)")" = corral-qemu ] &&
	[ "$(stat -c %U "$d/boot/vmlinuz")" = corral-qemu ] &&
	cmp -s "$d/boot/vmlinuz" "$KERNEL"
'
test_expect "stop: no zombie, the cgroup and the run files (boot/ copies too) are gone" '
	d=$(run_dir p1) && uuid=$(corral vm show p1 --json | jq -r .uuid) &&
	corral vm stop p1 --timeout 60 &&
	[ "$(zombies)" -eq 0 ] &&
	[ ! -e "$d/boot" ] && [ ! -e "$d/qmp.sock" ] && [ ! -e "$d/qemu.pid" ] &&
	[ -f "$d/console.log" ] &&
	! ls -d /sys/fs/cgroup/*/corral/vm-$uuid /sys/fs/cgroup/corral/vm-$uuid 2>/dev/null | grep -q .
'
test_expect "five starts and stops leave corrald without a single zombie" '
	ok=1 && for i in 1 2 3 4 5; do
		corral vm start p1 >/dev/null && wait_state p1 running 30 && corral vm kill p1 >/dev/null || ok=0
	done && [ $ok = 1 ] &&
	sleep 0.5 && { ps -o pid,stat,cmd --ppid "$CORRALD_PID" || true; } && [ "$(zombies)" -eq 0 ]
'
test_expect "an old root-owned volume is handed to corral-qemu at start" '
	p=$(corral disk show p1-root --json | jq -r .path) &&
	chown root:root "$p" && chmod 600 "$p" &&
	corral vm start p1 && wait_state p1 running 30 &&
	[ "$(stat -c %U "$p")" = corral-qemu ] && corral vm kill p1
'
test_expect "vm delete removes the run dir with its logs" '
	d=$(run_dir p1) && [ -d "$d" ] &&
	corral vm delete --yes p1 && [ ! -e "$d" ]
'
test_expect "a missing qemu user is a clear error at VM start" '
	stop_daemon && start_daemon --qemu-user corral-nosuchuser &&
	create_guest p2 &&
	fails corral vm start p2 2>err && cat err &&
	grep -q "corral-nosuchuser.*does not exist" err && grep -q setup-user.sh err &&
	[ "$(vm_state p2)" = stopped ]
'
finish
