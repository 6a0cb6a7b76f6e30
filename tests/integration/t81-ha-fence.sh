#!/usr/bin/env bash
# HA resources and corrald's self-fence (docs/ha.md "HA resources",
# "Self-fencing"): three "hosts" (network namespaces, real corosync each, as
# t74/t76).  HA needs a pool; bad settings are refused; a VM protected on h3
# shows on every host (replicated).  With one HA VM and one plain VM running
# on h3, h3's link is cut at the switch: within the deadline L (token +
# consensus + 1.5 s) + 2 s of the cut the HA VM's QEMU on h3 is dead (state
# stopped, reason "fenced: host lost quorum", an "ha" event), the plain VM's
# QEMU still runs, and h1 and h2 keep quorum.  Then the same with corrald on
# h3 stopped (SIGSTOP): corral-guard, holding the armed QEMU's pidfd, kills
# it; corrald, continued, records the VM stopped (fenced).  With corosync on
# h3 stopped instead (nobody there learns of a quorum loss, corrald still
# reads quorate), the guard's own messages stop coming back through corosync
# and it kills on that, before the pool restarts the VM elsewhere; h3 does
# not restart it as a crash (an invariant checker counts its QEMUs).  A corrald stopped
# on purpose tells the guard, which then keeps its HA VM running past its
# 20 s silence limit.  After each cut the pool's HA manager restarts the VM
# on h1 or h2 (t82 tests that); here h3, back, only drops its record, and
# the test ends that copy and defines the VM on h3 again.  A host with armed HA VMs may not leave its pool
# (leaving would fence them).  The watchdog: these machines have none, so
# `ha status` says so ("none: this host has no watchdog device"); h3's
# corrald names /dev/null (a character device but no watchdog) and its
# guard, once armed, tries it and says it is not one: fencing stays kill-only.
. "$(dirname "$0")/lib.sh"
CL_ARGS_h3="--ha-watchdog /dev/null"
. "$TESTS/cluster-lib.sh"
qpid() { on_host h3 vm show --local "$1" --json | jq -r .status.pid; }
fence() { on_host h3 ha status --json | jq -r ".fence.$1"; }
owner() { on_host h1 ha status --json | jq -r ".resources[] | select(.vm == \"havm\" and .status == \"started\") | .host"; }
# back_home: h3 is back and dropped havm (the manager restarted it on h1 or
# h2): stop protecting it, remove that copy and define havm on h3 again
back_home() {
	local o
	wait_for 15 "o=\$(owner) && [ \"\$o\" = h1 -o \"\$o\" = h2 ] && ! on_host h3 vm show --local havm >/dev/null 2>&1" &&
		o=$(owner) && on_host h3 ha remove havm >/dev/null &&
		{ on_host "$o" vm kill havm >/dev/null 2>&1; on_host "$o" vm delete havm --yes >/dev/null; } &&
		on h3 create_guest havm >/dev/null
}

test_expect "HA needs a pool; a pool of three (token 1000) forms" '
	fails on_host h1 ha add web 2>err && grep -q "HA needs a pool: corral cluster create" err &&
	nhost_trust h2 h1 >/dev/null && nhost_trust h3 h1 >/dev/null && nhost_trust h3 h2 >/dev/null &&
	on_host h1 cluster create lab --token 1000 >/dev/null &&
	on_host h2 cluster join h1 >/dev/null && on_host h3 cluster join h1 >/dev/null &&
	for h in h1 h2 h3; do
		wait_for 25 "[ \"\$(online $h)\" = h1,h2,h3 ] && [ \"\$(quorate $h)\" = true ]" || return 1
	done
'

test_expect "ha add refuses an unknown VM and out-of-range settings, changing nothing; protects a VM pool-wide" '
	on h3 create_guest havm >/dev/null && on h3 create_guest plain >/dev/null &&
	fails on_host h3 ha add nosuch 2>err && grep -q "no VM .nosuch. on this host" err &&
	fails on_host h3 ha add havm --priority 5000 2>err && grep -q "priority" err && grep -q "1000" err &&
	fails on_host h3 ha add havm --max-restart -1 2>err && grep -q "max_restart" err &&
	fails on_host h3 ha add havm --state sometimes 2>err && grep -q "not one of started" err &&
	fails on_host h3 ha add havm --order x 2>err && grep -q "not a whole number" err &&
	[ "$(on_host h3 ha status --json | jq ".resources | length")" = 0 ] &&
	on_host h3 ha add havm --priority 10 --order 2 --start-delay 5 >/dev/null &&
	fails on_host h3 ha add havm 2>err && grep -q "already HA-protected" err &&
	on_host h1 ha set havm --max-relocate 3 >/dev/null &&
	for h in h1 h2 h3; do
		wait_for 5 "on_host $h ha status --json | jq -e \".resources[0] | .vm == \\\"havm\\\" and .priority == 10 and .order == 2 and .start_delay == 5 and .max_relocate == 3 and .max_restart == 1 and .state == \\\"started\\\"\" >/dev/null" || return 1
	done &&
	on_host h1 ha status | grep -q "manager: h1 (node 1" &&
	fails on_host h2 ha set havm --priority 1001 2>err && grep -q "priority" err &&
	on_host h3 ha status --json | jq -e ".resources[0].host == \"h3\"" >/dev/null
'

test_expect "h3 cut off: its HA VM is killed within the deadline, its plain VM runs on, h1 and h2 keep quorum" '
	on_host h3 vm start havm >/dev/null && on_host h3 vm start plain >/dev/null &&
	wait_for 10 "[ \"\$(fence state)\" = active ] && [ \"\$(fence armed | jq -r .[0])\" = havm ]" &&
	wait_for 5 "fence watchdog | grep -q \"^/dev/null is not a watchdog device (.*): fencing is kill-only\"" &&
	{ [ -c /dev/watchdog0 ] || [ -c /dev/watchdog ] ||
		on_host h1 ha status | grep -q "^watchdog: none: this host has no watchdog device"; } &&
	hp=$(qpid havm) && pp=$(qpid plain) && [ "$hp" -gt 0 ] && [ "$pp" -gt 0 ] &&
	L=$(fence deadline_ms) && [ "$L" -gt 2000 ] &&
	t0=$(now_ms) && ip -n "$(nhost_ns sw)" link set p3 down &&
	limit=$(( (L + 2000) / 1000 + 1 )) &&
	wait_for $limit "proc_gone $hp" &&
	t1=$(now_ms) &&
	echo "cut to HA QEMU dead on h3: $((t1 - t0)) ms (deadline L = $L ms, allowed L + 2 s)" >>"$T/measured" &&
	echo "cut to HA QEMU dead on h3: $((t1 - t0)) ms (deadline L = $L ms)" &&
	[ $((t1 - t0)) -le $((L + 2000)) ] &&
	! proc_gone "$pp" &&
	wait_for 10 "[ \"\$(online h1)\" = h1,h2 ] && [ \"\$(quorate h1)\" = true ] && [ \"\$(quorate h2)\" = true ]" &&
	[ "$(quorate h3)" = false ] && ! proc_gone "$pp" &&
	wait_for 5 "on_host h3 vm show --local havm --json | jq -e \".status.state == \\\"stopped\\\"\" >/dev/null" &&
	on_host h3 vm show --local havm --json | jq -r ".status.reason" | grep -q "fenced: host lost quorum" &&
	on_host h3 events --kind ha | grep -q "fenced: host lost quorum" &&
	on_host h3 ha status | grep -q "last fence: fenced: host lost quorum; killed: havm" &&
	[ "$(on_host h3 vm show --local plain --json | jq -r .status.state)" = running ]
'

test_expect "h3 back: quorate again, it does not start the fenced VM (restarted elsewhere); ha remove works from any host" '
	ip -n "$(nhost_ns sw)" link set p3 up &&
	wait_for 30 "[ \"\$(quorate h3)\" = true ]" &&
	wait_for 15 "o=\$(owner) && [ \"\$o\" = h1 -o \"\$o\" = h2 ] && ! on_host h3 vm show --local havm >/dev/null 2>&1" &&
	o=$(owner) &&
	on_host h2 ha remove havm >/dev/null &&
	wait_for 5 "[ \"\$(on_host h3 ha status --json | jq \".resources | length\")\" = 0 ]" &&
	fails on_host h1 ha remove havm 2>err && grep -q "not HA-protected" err &&
	on_host "$o" vm kill havm >/dev/null && on_host "$o" vm delete havm --yes >/dev/null &&
	on h3 create_guest havm >/dev/null
'

test_expect "corrald on h3 stopped (SIGSTOP), h3 cut off: corral-guard kills the HA QEMU within the deadline" '
	glog=$T/h3/cluster/guard.log &&
	[ "$(fence guard)" = running ] &&
	on_host h3 vm start havm >/dev/null && on_host h3 ha add havm >/dev/null &&
	wait_for 10 "grep -q \"armed for 1 QEMU(s): [0-9a-f-]*=havm\" $glog" &&
	hp=$(qpid havm) && pp=$(qpid plain) && L=$(fence deadline_ms) &&
	cpid=$(nhost_pid h3) && kill -STOP "$cpid" &&
	t0=$(now_ms) && ip -n "$(nhost_ns sw)" link set p3 down &&
	wait_for $(( (L + 2000) / 1000 + 1 )) "proc_gone $hp"; rc=$?; t1=$(now_ms);
	kill -CONT "$cpid";
	[ $rc = 0 ] &&
	echo "corrald stopped: cut to HA QEMU dead on h3 (by corral-guard): $((t1 - t0)) ms (deadline L = $L ms)" >>"$T/measured" &&
	[ $((t1 - t0)) -le $((L + 2000)) ] &&
	grep "fenced: host lost quorum" $glog && grep -q "havm" $glog &&
	! proc_gone "$pp" &&
	ip -n "$(nhost_ns sw)" link set p3 up &&
	wait_for 30 "[ \"\$(quorate h3)\" = true ]" &&
	{ on_host h3 events --kind ha | grep -q "fenced: host lost quorum.*QEMU killed by corral-guard" ||
	  { on_host h3 events | tail -8; false; }; } &&
	back_home &&
	on_host h3 vm kill plain >/dev/null
'

test_expect "corosync on h3 stopped (SIGSTOP, links up): nobody tells h3; corral-guard kills its HA QEMU before the pool restarts it elsewhere, and h3 does not restart it" '
	kpid= && glog=$T/h3/cluster/guard.log &&
	on_host h3 vm start havm >/dev/null && on_host h3 ha add havm >/dev/null &&
	wait_for 10 "grep \"armed for\" $glog | tail -1 | grep -q \"armed for 1 QEMU(s): [0-9a-f-]*=havm\"" &&
	grep -q "freshness clock running" $glog &&
	hp=$(qpid havm) && L=$(fence deadline_ms) && u=$(on_host h3 vm show --local havm --json | jq -r .uuid) &&
	echo "$u" >"$T/uuids" && ha_checker_start &&
	kpid=$(head -n1 "$T/h3/cluster/corosync.pid") && [ "$kpid" -gt 0 ] &&
	kill -STOP "$kpid" && t0=$(now_ms) &&
	wait_for $(( (L + 2000) / 1000 + 1 )) "proc_gone $hp"; rc=$?; t1=$(now_ms);
	wait_for 20 "qemu_new $u $hp"; rc2=$?; t2=$(now_ms);
	sleep 3; [ -z "$kpid" ] || kill -CONT "$kpid";
	[ $rc = 0 ] && [ $rc2 = 0 ] &&
	echo "corosync stopped: stop to HA QEMU dead on h3 (by corral-guard): $((t1 - t0)) ms (deadline L = $L ms); to QEMU running elsewhere: $((t2 - t0)) ms" >>"$T/measured" &&
	[ $((t1 - t0)) -le $((L + 2000)) ] && [ $t1 -lt $t2 ] &&
	grep -q "fenced: corosync stalled: no message of this host delivered for [0-9]* ms" $glog &&
	wait_for 30 "[ \"\$(quorate h3)\" = true ] && [ \"\$(online h1)\" = h1,h2,h3 ]" &&
	back_home && ha_checker_stop
'

test_expect "corrald on h3 stopped on purpose (SIGTERM) for longer than the guard's 20 s: the HA VM runs on, re-adopted" '
	glog=$T/h3/cluster/guard.log &&
	on_host h3 vm start havm >/dev/null && on_host h3 ha add havm >/dev/null &&
	wait_for 10 "[ \"\$(fence state)\" = active ]" && hp=$(qpid havm) &&
	wait_for 5 "grep \"armed for\" $glog | tail -1 | grep -q \"armed for 1 QEMU(s): [0-9a-f-]*=havm\"" &&
	nhost_stop h3 && grep -q "corrald is stopping: armed set kept (1 QEMU(s))" $glog &&
	sleep 22 && ! proc_gone "$hp" && ! grep -q "corrald silent" $glog &&
	nhost_start h3 $CL_ARGS_h3 && [ "$(qpid havm)" = "$hp" ] &&
	wait_for 10 "[ \"\$(fence state)\" = active ]" &&
	fails on_host h3 cluster leave --yes 2>err && grep -q "HA VMs run on this host (havm)" err &&
	[ "$(quorate h3)" = true ] && [ "$(qpid havm)" = "$hp" ] &&
	on_host h3 ha remove havm >/dev/null && on_host h3 vm kill havm >/dev/null
'

[ -f "$T/measured" ] && sed 's/^/# measured: /' "$T/measured"
finish
