#!/usr/bin/env bash
# Acknowledging a lost host (docs/ha.md "Acknowledging a lost host"): a
# two-host pool h1+h2 without a witness (real corosync each; h3 of
# cluster-lib stays out of it), an HA VM on the shared pool on h2.  h2 cut
# off: both lose quorum, h2 kills its HA VM, h1 restarts nothing.  On h1
# `ha fence-ack h2` is refused without --yes, for this host, an unknown host
# and within the fence wait W, changing nothing; then accepted: expected
# votes 2 -> 1, h1 quorate, the VM runs on h1 (an invariant checker: never
# two QEMUs of it).  A repeat changes nothing.  The link back: h2 rejoins,
# corrald puts the expected votes back to 2 (a later split needs a majority
# again: cut again, neither side is quorate), the VM still runs on h1 only.
# A wrong acknowledgment (docs/ha.md "Disk leases"): the VM's QEMU frozen
# in a cgroup freezer on its host (SIGKILL does not end a frozen task), that
# host cut: its fence cannot end QEMU and its guard renews the disk lease;
# the other acknowledges it lost anyway: the start there is refused naming
# the holder (HA keeps it in recovery: it failed on the only other host),
# never two QEMUs; thawed, QEMU dies, the lease is released; the link
# back, the pool places havm again and it runs once.
. "$(dirname "$0")/lib.sh"
. "$TESTS/cluster-lib.sh"
sw=$(nhost_ns sw)
FRZ=/sys/fs/cgroup/freezer/corral-t54-$$
trap 'cleanup; [ -d $FRZ ] && { echo THAWED >$FRZ/freezer.state; sleep 0.2; rmdir $FRZ; }; coro_cleanup' EXIT
# running_on: the host whose havm runs (state running), if one
running_on() { local h; for h in h1 h2; do [ "$(on_host $h vm show --local havm --json 2>/dev/null | jq -r .status.state)" = running ] && echo $h; done; return 0; }
votes() { st "$1" | jq -r '"\(.votes.expected),\(.votes.total),\(.quorate)"'; }

test_expect "a two-host pool h1+h2 (token 1000, no witness), an HA VM on the shared pool on h2" '
	nhost_trust h2 h1 >/dev/null &&
	on_host h1 cluster create lab --token 1000 >/dev/null && on_host h2 cluster join h1 >/dev/null &&
	for h in h1 h2; do
		wait_for 25 "[ \"\$(online $h)\" = h1,h2 ] && [ \"\$(quorate $h)\" = true ]" || return 1
	done &&
	mkdir -p "$T/shared" && on_host h1 pool create shared "$T/shared" --shared >/dev/null &&
	on_host h2 pool create shared "$T/shared" --shared >/dev/null &&
	on_host h2 disk create ha-d 16M --pool shared >/dev/null && on h2 create_guest havm --disk ha-d >/dev/null &&
	on_host h2 ha add havm >/dev/null && on_host h2 vm start havm >/dev/null &&
	u=$(on_host h2 vm show --local havm --json | jq -r .uuid) && echo "$u" >"$T/uuids" &&
	wait_for 10 "on_host h2 ha status --json | jq -e \".fence.armed | length == 1\" >/dev/null" &&
	fails on_host h1 ha fence-ack h2 --yes 2>err && grep -q "h2 is in this host.s ring (online): it is not lost" err &&
	[ "$(votes h1)" = 2,2,true ]
'

test_expect "h2 cut off: both lose quorum, h2 kills its HA VM, h1 restarts nothing; the acknowledgment is refused within W" '
	hp=$(qemus "$u") && [ -n "$hp" ] && ha_checker_start &&
	ip -n "$sw" link set p2 down &&
	wait_for 20 "[ \"\$(quorate h1)\" = false ] && [ \"\$(online h1)\" = h1 ]" &&
	fails on_host h1 ha fence-ack h2 --yes 2>err && grep -q "h2 may still be fencing itself: .* ask again in [0-9]* ms" err &&
	wait_for 20 "proc_gone $hp" && [ "$(quorate h2)" = false ] &&
	sleep 5 && [ -z "$(qemus "$u")" ] && [ "$(votes h1)" = 2,1,false ] &&
	! on_host h1 vm show --local havm >/dev/null 2>&1
'

test_expect "refused, nothing changed: without --yes, this host, an unknown host, a hostile name" '
	fails on_host h1 ha fence-ack h2 </dev/null 2>err && grep -q "without --yes" err &&
	fails on_host h1 ha fence-ack h1 --yes 2>err && grep -q "h1 is this host" err &&
	fails on_host h1 ha fence-ack nosuch --yes 2>err && grep -q "no host .nosuch. in pool lab" err &&
	fails on_host h1 ha fence-ack "../h2" --yes 2>err &&
	[ "$(votes h1)" = 2,1,false ] && [ ! -s "$T/h1/cluster/acked" ] && [ -z "$(qemus "$u")" ]
'

test_expect "ha fence-ack h2 on h1: expected votes 2 -> 1, h1 quorate, the HA VM runs on h1, never two QEMUs" '
	t0=$(now_ms) &&
	on_host h1 ha fence-ack h2 --yes >out && grep -q "h2 acknowledged lost: expected votes 2 -> 1; this host is quorate" out &&
	[ "$(votes h1)" = 1,1,true ] && grep -qx h2 "$T/h1/cluster/acked" &&
	on_host h1 events --kind cluster | grep -q "h2 acknowledged lost (ha fence-ack): expected votes 2 -> 1" &&
	wait_for 30 "[ -n \"\$(qemus $u)\" ]" && t1=$(now_ms) &&
	echo "fence-ack to the HA QEMU running on h1: $((t1 - t0)) ms" >>"$T/measured" &&
	wait_for 10 "[ \"\$(on_host h1 vm show --local havm --json | jq -r .status.state)\" = running ]" &&
	on_host h1 ha fence-ack h2 --yes --json | jq -e ".expected_votes_before == 1 and .expected_votes == 1 and .quorate" &&
	[ "$(votes h1)" = 1,1,true ] && [ "$(quorate h2)" = false ]
'

test_expect "h2 back: it rejoins, the expected votes are 2 again, the VM runs on h1 only; a new cut leaves nobody quorate" '
	ip -n "$sw" link set p2 up &&
	for h in h1 h2; do
		wait_for 30 "[ \"\$(online $h)\" = h1,h2 ] && [ \"\$(quorate $h)\" = true ]" || return 1
	done &&
	wait_for 10 "[ \"\$(votes h1)\" = 2,2,true ]" && [ ! -s "$T/h1/cluster/acked" ] &&
	on_host h1 events --kind cluster | grep -q "h2 is back after its fence-ack: expected votes back to 2" &&
	wait_for 15 "! on_host h2 vm show --local havm >/dev/null 2>&1" &&
	[ "$(on_host h1 vm show --local havm --json | jq -r .status.state)" = running ] &&
	ip -n "$sw" link set p2 down &&
	wait_for 20 "[ \"\$(quorate h1)\" = false ] && [ \"\$(quorate h2)\" = false ]" &&
	ip -n "$sw" link set p2 up &&
	ha_checker_stop >>"$T/measured"
'

test_expect "a wrong fence-ack: its host cut while its fence cannot end havm (frozen); the start on the other is refused by the disk lease, never two QEMUs" '
	for h in h1 h2; do
		wait_for 30 "[ \"\$(online $h)\" = h1,h2 ] && [ \"\$(quorate $h)\" = true ]" || return 1
	done &&
	wait_for 30 "[ -n \"\$(running_on)\" ] && [ -n \"\$(qemus $u)\" ]" && hp=$(qemus "$u") && o=$(running_on) &&
	s=$( [ "$o" = h1 ] && echo h2 || echo h1 ) && [ -n "$o" ] &&
	ha_checker_start &&
	mkdir -p $FRZ && echo $hp >$FRZ/cgroup.procs && echo FROZEN >$FRZ/freezer.state &&
	ip -n "$sw" link set "p${o#h}" down &&
	wait_for 20 "grep -q \"a killed guest has not ended\" $T/$o/cluster/guard.log" &&
	wait_for 20 "on_host $s ha fence-ack $o --yes >/dev/null 2>&1" &&
	wait_for 20 "on_host $s events --limit 200 | grep -q \"disk lease of havm on pool shared is held by $o (node ${o#h}) (renewed [0-9]* ms ago): $o still runs it\"" &&
	sleep 2 && [ "$(qemus "$u")" = "$hp" ] &&
	echo THAWED >$FRZ/freezer.state && wait_for 5 "proc_gone $hp" &&
	wait_for 5 "grep -q \"disk lease of $u released: its guest has ended\" $T/$o/cluster/guard.log" &&
	hastat=$(on_host $s ha status --json | jq -r ".resources[0].status") && { [ "$hastat" = recovery ] || [ "$hastat" = error ]; } &&
	ip -n "$sw" link set "p${o#h}" up &&
	wait_for 40 "[ -n \"\$(running_on)\" ] && [ \"\$(qemus $u | wc -l)\" = 1 ]" &&
	ha_checker_stop >>"$T/measured"
'

[ -f "$T/measured" ] && sed 's/^/# measured: /' "$T/measured"
finish
