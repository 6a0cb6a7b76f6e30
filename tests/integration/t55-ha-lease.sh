#!/usr/bin/env bash
# Disk leases on a shared pool (docs/ha.md "Disk leases"): three "hosts"
# (network namespaces, real corosync each, as t81/t82) with a shared pool.
# An HA VM on h3 with its disk there: `ha add` creates its lease file,
# the start takes it, and h3's corral-guard renews it (the record's counter
# moves); `ha status` shows it held here / held by h3.  A lost lease file:
# the start is refused with a clear error, nothing runs.  kill -9 of h3's
# corrald: the guard renews on, the VM runs on, nobody takes it; corrald
# back adopts the lease.
# The failure the lease is for: a host the pool thinks gone whose fence did
# not end its guest.  web's QEMU on h3 is frozen in a cgroup v1 freezer (a
# frozen task does not die of SIGKILL until thawed: what a QEMU stuck in
# uninterruptible I/O does), then h3's link is cut: h3 loses quorum, its
# fence's SIGKILL does not end QEMU, and its guard, which renews a lease
# while its guest lives, keeps renewing.  The pool restarts web after W on
# h1 or h2, exactly as after a wrong `ha fence-ack` (the same decision,
# reached without an administrator; a three-host pool refuses fence-ack
# while quorate): every start is refused naming h3 ("held by h3 ...
# renewed N ms ago") and web goes to error; never two QEMUs of it (the
# invariant checker).  Thawed, the QEMU dies of the pending kill, the
# guard writes the lease released, and `ha set web --state started` starts
# it on h1/h2.  Then h3 back, and a plain cut of web's new host: its fence
# kills, its guard releases the lease, the pool starts web elsewhere
# (cut to QEMU running is printed), still never twice.  A live migration
# hands the lease over (the source releases it once its QEMU quit, the
# destination takes it).
. "$(dirname "$0")/lib.sh"
. "$TESTS/cluster-lib.sh"
sw=$(nhost_ns sw)
uuid_of() { on_host "$1" vm show --local "$2" --json | jq -r .uuid; }
hastat() { on_host "$1" ha status --json | jq -r ".resources[] | select(.vm == \"$2\") | .$3"; }
owner() { hastat h1 "$1" host; }
# lease UUID: "STATE HOST COUNTER" of its lease record on the shared pool (docs/state.md)
lease() {
	python3 -c '
import struct, sys
b = open(sys.argv[1], "rb").read()
if len(b) != 512: print("none - -"); sys.exit(0)
st = {1: "held", 2: "released"}.get(struct.unpack_from("<I", b, 12)[0], "?")
print(st, b[48:128].split(b"\0")[0].decode(), struct.unpack_from("<Q", b, 32)[0])' "$T/shared/.corral-leases/$1"
}
counter() { lease "$1" | cut -d" " -f3; }
# renewing UUID HOST: held by HOST and its counter moves within a second
renewing() {
	local a b
	a=$(lease "$1") && [ "$(echo "$a" | cut -d" " -f1-2)" = "held $2" ] || { say "lease of $1: $a, not held by $2"; return 1; }
	sleep 1; b=$(counter "$1")
	[ "$b" -gt "$(echo "$a" | cut -d" " -f3)" ] || { say "lease of $1 not renewed: $a, then $b"; return 1; }
}
FRZ=/sys/fs/cgroup/freezer/corral-t55-$$
trap 'cleanup; [ -d $FRZ ] && { echo THAWED >$FRZ/freezer.state; sleep 0.2; rmdir $FRZ; }; coro_cleanup' EXIT

test_expect "a pool of three with a shared pool; ha add creates the lease file; started on h3, h3 holds and renews it" '
	ha_pool3 &&
	on_host h3 disk create web-d 16M --pool shared >/dev/null && on_host h3 disk create db-d 16M --pool shared >/dev/null &&
	on h3 create_guest web --disk web-d >/dev/null && on h3 create_guest db --disk db-d >/dev/null &&
	on_host h3 ha add web >/dev/null && on_host h3 ha add db >/dev/null &&
	wu=$(uuid_of h3 web) && du=$(uuid_of h3 db) && echo "$wu" >"$T/uuids" && echo "$du" >>"$T/uuids" &&
	[ -f "$T/shared/.corral-leases/$wu" ] && [ ! -s "$T/shared/.corral-leases/$wu" ] &&
	wait_for 5 "[ \"\$(hastat h3 web lease.state)\" = none ]" &&
	on_host h3 vm start web >/dev/null &&
	renewing "$wu" h3 &&
	wait_for 5 "[ \"\$(hastat h3 web lease.state)\" = \"held here\" ] && [ \"\$(hastat h1 web lease.state)\" = \"held by\" ]" &&
	[ "$(hastat h1 web lease.holder)" = h3 ] &&
	on_host h3 ha status | grep -q "lease" &&
	grep -q "renewing these disk lease(s) every 250 ms: $wu@" "$T/h3/cluster/guard.log"
'

test_expect "a lost lease file: vm start is refused with a clear error and nothing runs; back, the start works; a stop releases it" '
	rm "$T/shared/.corral-leases/$du" &&
	fails on_host h3 vm start db 2>err && grep -q "the disk lease file .*/.corral-leases/$du of db is missing (lost, or pool shared is not mounted here): not started" err &&
	[ -z "$(qemus $du)" ] && [ ! -f "$T/shared/.corral-leases/$du" ] &&
	touch "$T/shared/.corral-leases/$du" && on_host h3 vm start db >/dev/null && renewing "$du" h3 &&
	on_host h3 vm stop db --force >/dev/null &&
	wait_for 5 "[ \"\$(lease $du | cut -d\" \" -f1)\" = released ]" &&
	grep -q "disk lease of $du released" "$T/h3/cluster/guard.log" &&
	wait_for 5 "[ \"\$(hastat h1 db lease.state)\" = released ]"
'

test_expect "kill -9 of corrald on h3: the guard renews on, web runs on, nobody takes it; corrald back adopts the lease" '
	wp=$(qemus $wu) && [ -n "$wp" ] && nhost_kill9 h3 &&
	c0=$(counter $wu) && sleep 5 && [ "$(counter $wu)" -gt $((c0 + 10)) ] &&
	renewing "$wu" h3 && [ "$(qemus $wu)" = "$wp" ] && [ "$(owner web)" = h3 ] &&
	nhost_start h3 &&
	wait_for 10 "[ \"\$(hastat h3 web lease.state)\" = \"held here\" ]" &&
	grep -q "disk lease of web held by this host adopted" "$T/h3.log" &&
	sleep 2 && renewing "$wu" h3 && [ "$(qemus $wu)" = "$wp" ] &&
	! grep -q "disk lease of $wu released" "$T/h3/cluster/guard.log"
'

test_expect "h3 cut while its fence cannot end web (QEMU frozen): its guard renews on; the starts the pool orders on h1/h2 are refused naming h3; never two QEMUs" '
	wp=$(qemus $wu) && [ -n "$wp" ] && ha_checker_start &&
	mkdir -p $FRZ && echo $wp >$FRZ/cgroup.procs && echo FROZEN >$FRZ/freezer.state &&
	wait_for 5 "grep -q FROZEN $FRZ/freezer.state" &&
	ip -n "$sw" link set p3 down &&
	wait_for 20 "grep -q \"a killed guest has not ended\" $T/h3/cluster/guard.log" &&
	wait_for 30 "[ \"\$(hastat h1 web status)\" = error ]" &&
	{ on_host h1 events --limit 200; on_host h2 events --limit 200; } >ev &&
	grep -q "disk lease of web on pool shared is held by h3 (node 3) (renewed [0-9]* ms ago): h3 still runs it" ev &&
	renewing "$wu" h3 && [ "$(qemus $wu)" = "$wp" ] &&
	[ "$(hastat h1 web lease.holder)" = h3 ]
'

test_expect "thawed, the QEMU of web dies of the kill, the guard of h3 releases its lease, ha set --state started runs it once on h1/h2" '
	[ -n "$wp" ] && echo THAWED >$FRZ/freezer.state && wait_for 5 "proc_gone $wp" &&
	wait_for 5 "[ \"\$(lease $wu | cut -d\" \" -f1)\" = released ]" &&
	grep -q "disk lease of $wu released: its guest has ended" "$T/h3/cluster/guard.log" &&
	on_host h1 ha set web --state started >/dev/null &&
	wait_for 20 "[ -n \"\$(qemus $wu)\" ] && [ \"\$(hastat h1 web status)\" = started ]" &&
	o=$(owner web) && { [ $o = h1 ] || [ $o = h2 ]; } && renewing "$wu" $o &&
	[ "$(qemus $wu | wc -l)" = 1 ]
'

test_expect "h3 back; the new host of web cut: its fence kills, its guard releases the lease, web runs elsewhere once, under its lease" '
	ip -n "$sw" link set p3 up &&
	wait_for 30 "[ \"\$(quorate h3)\" = true ] && [ \"\$(online h1)\" = h1,h2,h3 ]" &&
	o=$(owner web) && wp=$(qemus $wu) && [ -n "$wp" ] && t0=$(now_ms) && ip -n "$sw" link set "p${o#h}" down &&
	tr= && tw= && end=$((SECONDS + 30)) &&
	while [ $SECONDS -le $end ] && [ -z "$tw" ]; do
		[ -z "$tr" ] && [ "$(lease $wu | cut -d" " -f1)" = released ] && tr=$(now_ms)
		q=$(qemus $wu); [ -n "$q" ] && [ "$q" != "$wp" ] && tw=$(now_ms)
		sleep 0.05
	done &&
	[ -n "$tw" ] && [ -n "$tr" ] &&
	echo "cut to lease released by the fenced host: $((tr - t0)) ms; cut to QEMU running elsewhere: $((tw - t0)) ms" >>"$T/measured" &&
	tail -1 "$T/measured" &&
	s=$( [ $o = h1 ] && echo h2 || echo h1 ) &&
	wait_for 10 "[ \"\$(hastat $s web status)\" = started ]" &&
	n=$(hastat $s web host) && [ $n != $o ] && renewing "$wu" $n &&
	ip -n "$sw" link set "p${o#h}" up
'

test_expect "a live migration hands the lease over: the source releases it once its QEMU quit, the destination takes it" '
	wait_for 30 "[ \"\$(online h1)\" = h1,h2,h3 ] && [ \"\$(online h3)\" = h1,h2,h3 ] && o=\$(owner web) && [ \"\$(on_host \$o vm show --local web --json | jq -r .status.state)\" = running ]" &&
	o=$(owner web) && to=$(for h in h1 h2 h3; do [ $h != $o ] && echo $h; done | head -1) &&
	on_host $o vm migrate web --to $to >/dev/null &&
	wait_for 10 "[ \"\$(owner web)\" = $to ]" &&
	wait_for 5 "[ \"\$(lease $wu | cut -d\" \" -f1-2)\" = \"held $to\" ]" && renewing "$wu" $to &&
	[ "$(qemus $wu | wc -l)" = 1 ] &&
	wait_for 5 "[ \"\$(hastat $to web lease.state)\" = \"held here\" ]" &&
	grep -q "web runs here: its free disk lease taken" "$T/$to.log"
'

test_expect "invariant: never two QEMUs of one HA VM at once (checked every 100 ms)" '
	ha_checker_stop >"$T/inv"; rc=$?; cat "$T/inv" >>"$T/measured"; [ $rc = 0 ]
'
[ -f "$T/measured" ] && sed 's/^/# measured: /' "$T/measured"
finish
