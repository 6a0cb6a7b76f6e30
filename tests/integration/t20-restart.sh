#!/usr/bin/env bash
# corrald is not what keeps guests alive: kill -9 it, guests run on; restart
# it, it re-attaches; QEMU that died meanwhile is reported; autostart works.
. "$(dirname "$0")/lib.sh"
setup_daemon

test_expect "boot two guests" '
	create_guest r1 && create_guest r2 &&
	corral vm start r1 && boot r2 && wait_ready_after r1 0
'
test_expect "kill -9 corrald leaves the guests running" '
	pid1=$(corral vm show r1 --json | jq -r .status.pid) &&
	pid2=$(corral vm show r2 --json | jq -r .status.pid) &&
	echo "$pid1 $pid2" >"$T/pids" &&
	kill9_daemon && sleep 1 &&
	! proc_gone "$pid1" && ! proc_gone "$pid2"
'
test_expect "while corrald is down, one guest dies and the other keeps running" '
	read -r pid1 pid2 <"$T/pids" && kill -9 "$pid2" && sleep 0.5 && proc_gone "$pid2"
'
test_expect "restarted corrald re-attaches and reports the dead one as crashed" '
	start_daemon &&
	[ "$(vm_state r1)" = running ] &&
	[ "$(vm_state r2)" = crashed ] &&
	corral vm show r2 --json | jq -e ".status.reason | test(\"not running\")" &&
	corral vm show r1 --json | jq -e "[.status.events[].type] | index(\"attach\") != null"
'
test_expect "the re-attached guest is still controllable: pause, resume, graceful stop" '
	corral vm pause r1 && [ "$(vm_state r1)" = paused ] &&
	corral vm resume r1 &&
	corral vm stop r1 --timeout 60 && [ "$(vm_state r1)" = stopped ] &&
	read -r pid1 pid2 <"$T/pids" && proc_gone "$pid1"
'
test_expect "SIGTERM stops corrald cleanly and leaves guests running" '
	boot r1 &&
	pid1=$(corral vm show r1 --json | jq -r .status.pid) &&
	stop_daemon && ! proc_gone "$pid1" && start_daemon && [ "$(vm_state r1)" = running ]
'
test_expect "a QEMU whose monitor stays silent at restart (SIGSTOPped 6 s) is waited for, then controllable" '
	pid1=$(corral vm show r1 --json | jq -r .status.pid) &&
	kill9_daemon && kill -STOP "$pid1" &&
	{ (sleep 6; kill -CONT "$pid1") & } &&
	start_daemon && grep -q "did not answer on its monitor yet" "$T/corrald.log" &&
	[ "$(vm_state r1)" = running ] &&
	corral vm pause r1 && [ "$(vm_state r1)" = paused ] && corral vm resume r1 && [ "$(vm_state r1)" = running ]
'
test_expect "a guest that powered off while corrald was down ends stopped" '
	uuid=$(corral vm show r1 --json | jq -r .uuid) &&
	kill9_daemon &&
	(printf "poweroff -f\n"; sleep 2) | socat - "UNIX-CONNECT:$STATE/run/$uuid/serial.sock" >/dev/null &&
	start_daemon && wait_state r1 stopped 20 &&
	corral vm show r1 --json | jq -e ".status.reason | test(\"shut down\")"
'
test_expect "only one corrald per state directory" '
	fails "$CORRALD" --state-dir "$STATE" --socket "$T/other.sock" 2>err && grep -q "another corrald" err
'
test_expect "a cgroup_parent that is not a plain name is refused before anything starts" '
	for bad in ../x a/b .hidden ""; do
		fails "$CORRALD" --state-dir "$T/cg" --socket "$T/cg.sock" --cgroup-parent "$bad" 2>err &&
			grep -q "cgroup.parent" err && [ ! -e "$T/cg.sock" ] || return 1
	done
'
test_expect "autostart VMs start with corrald" '
	corral vm edit r2 --autostart &&
	stop_daemon && start_daemon &&
	wait_state r2 running 30 &&
	corral vm show r2 --json | jq -e "[.status.events[].type] | index(\"autostart\") != null"
'
finish
