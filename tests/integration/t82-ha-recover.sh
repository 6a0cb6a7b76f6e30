#!/usr/bin/env bash
# HA recovery by the pool's HA manager (docs/ha.md "The manager"): three
# "hosts" (network namespaces, real corosync each, as t81) with a shared pool
# (one directory all three see).  On h3: two HA VMs with different priorities
# (web 100, db 50) with their disks on the shared pool, and a plain VM.
# ha add carries each VM's definition; a VM with a disk in an unshared pool
# is refused.  h3's link is cut at the switch: h3 kills its HA QEMUs (self-
# fence), the manager restarts web then db on h1/h2 (web first), the plain VM
# runs on on h3; the time from the cut to each QEMU running is printed.  An
# invariant checker runs all along, every 100 ms: never two QEMUs of one VM
# on the machine (all "hosts" are processes here).  The link is healed: h3
# rejoins, starts neither, drops its records of them (their disks stay), and
# `vm start` there is refused naming the owner.  Then a crash: kill -9 of
# web's QEMU on its owner restarts it there (max_restart 1); a second kill
# relocates it to the other survivor; two more on that host: error.  A
# requested stop sets HA state stopped; a live migration moves the owner.
. "$(dirname "$0")/lib.sh"
. "$TESTS/cluster-lib.sh"
mkdir -p "$T/shared"
uuid_of() { on_host "$1" vm show --local "$2" --json | jq -r .uuid; }
hastat() { on_host "$1" ha status --json | jq -r ".resources[] | select(.vm == \"$2\") | .$3"; }
owner() { hastat h1 "$1" host; }

test_expect "a pool of three (token 1000) with full host trust and a shared pool on every host" '
	ha_pool3
'

test_expect "ha add carries the definition; refuses a VM with a disk in an unshared pool; h1 is the manager" '
	on_host h3 disk create web-d 16M --pool shared >/dev/null && on_host h3 disk create db-d 16M --pool shared >/dev/null &&
	on_host h3 disk create loc-d 16M >/dev/null &&
	on h3 create_guest web --disk web-d >/dev/null && on h3 create_guest db --disk db-d >/dev/null &&
	on h3 create_guest loc --disk loc-d >/dev/null && on h3 create_guest plain >/dev/null &&
	fails on_host h3 ha add loc 2>err && grep -q "is in pool .default., which is not shared, and is not replicated: HA could not restart loc" err &&
	on_host h3 ha add web --priority 100 >/dev/null && on_host h3 ha add db --priority 50 >/dev/null &&
	on_host h3 vm edit db --memory 200M >/dev/null &&
	wait_for 5 "[ \"\$(hastat h1 db memory_mib)\" = 200 ]" &&
	[ "$(hastat h2 web host)" = h3 ] && [ "$(hastat h2 web status)" = started ] &&
	on_host h2 ha status | grep -q "manager: h1 (node 1" &&
	on_host h1 ha status --json | jq -e ".manager.self == true and .manager.wait_ms >= 2000" >/dev/null &&
	for v in web db plain; do on_host h3 vm start $v >/dev/null || return 1; done &&
	uuid_of h3 web >"$T/uuids" && uuid_of h3 db >>"$T/uuids" &&
	ha_checker_start &&
	wait_for 10 "on_host h3 ha status --json | jq -e \".fence.armed | length == 2\" >/dev/null"
'

test_expect "h3 cut off: it kills its HA QEMUs, web then db run on h1/h2 within 15 s, plain runs on on h3" '
	wu=$(uuid_of h3 web) && du=$(uuid_of h3 db) && pp=$(on_host h3 vm show --local plain --json | jq -r .status.pid) &&
	wp=$(qemus $wu) && dp=$(qemus $du) && [ -n "$wp" ] && [ -n "$dp" ] &&
	t0=$(now_ms) && ip -n "$(nhost_ns sw)" link set p3 down &&
	tw= && td= && tk= && end=$((SECONDS + 25)) &&
	while [ $SECONDS -le $end ] && { [ -z "$tw" ] || [ -z "$td" ]; }; do
		[ -z "$tk" ] && proc_gone $wp && proc_gone $dp && tk=$(now_ms)
		q=$(qemus $wu); [ -z "$tw" ] && [ -n "$q" ] && [ "$q" != "$wp" ] && tw=$(now_ms)
		q=$(qemus $du); [ -z "$td" ] && [ -n "$q" ] && [ "$q" != "$dp" ] && td=$(now_ms)
		sleep 0.05
	done &&
	[ -n "$tw" ] && [ -n "$td" ] && [ -n "$tk" ] &&
	echo "cut to HA QEMUs dead on h3: $((tk - t0)) ms; cut to QEMU running elsewhere: web $((tw - t0)) ms, db $((td - t0)) ms" >>"$T/measured" &&
	tail -1 "$T/measured" &&
	[ $tk -lt $tw ] && [ $tw -le $td ] && [ $((td - t0)) -lt 15000 ] &&
	! proc_gone "$pp" &&
	fails on_host h3 vm start web 2>err && grep -q "this host has no quorum" err &&
	wait_for 10 "[ \"\$(hastat h1 web status)\" = started ] && [ \"\$(hastat h1 db status)\" = started ]" &&
	w=$(owner web) && d=$(owner db) && { [ $w = h1 ] || [ $w = h2 ]; } && { [ $d = h1 ] || [ $d = h2 ]; } &&
	[ $w != $d ] &&
	[ "$(on_host $w vm show --local web --json | jq -r .status.state)" = running ] &&
	[ "$(on_host $w vm show --local web --json | jq -r .uuid)" = "$wu" ] &&
	on_host $w vm show --local web --json | jq -e ".disks[0].volume == \"web-d\"" >/dev/null &&
	on_host h1 events --kind ha --limit 200 | grep "recovering web from h3 on $w: h3 left the pool at" &&
	on_host h1 events --kind ha --limit 200 | grep -n "recovering" | head -1 | grep -q "recovering web" &&
	on_host h1 events --kind ha --limit 200 | grep -q "fence: h3 left the pool"
'

test_expect "h3 back: it rejoins, starts neither, drops its records (disks stay), vm start refused" '
	ip -n "$(nhost_ns sw)" link set p3 up &&
	wait_for 30 "[ \"\$(quorate h3)\" = true ] && [ \"\$(online h1)\" = h1,h2,h3 ]" &&
	wait_for 10 "! on_host h3 vm show --local web >/dev/null 2>&1 && ! on_host h3 vm show --local db >/dev/null 2>&1" &&
	wait_for 5 "on_host h3 events --kind ha --limit 200 | grep -q \"local record dropped: HA moved web to $(owner web)\"" &&
	[ -f "$T/shared/web-d.qcow2" ] && [ -f "$T/shared/db-d.qcow2" ] &&
	[ "$(on_host h3 vm show --local plain --json | jq -r .status.state)" = running ] &&
	[ "$(hastat h3 web host)" = "$(owner web)" ] &&
	fails on_host h3 vm start web &&
	[ "$(qemus $(uuid_of $(owner web) web) | wc -l)" = 1 ]
'

test_expect "a crash restarts web on its owner (max_restart 1); a second crash relocates it" '
	w=$(owner web) && wu=$(uuid_of $w web) && p1=$(qemus $wu) &&
	kill -9 $p1 &&
	wait_for 15 "qemu_new $wu $p1" &&
	[ "$(owner web)" = $w ] &&
	on_host $w events --kind ha --limit 200 | grep -q "restart 1/1 on $w after QEMU exited" &&
	p2=$(qemus $wu) && sleep 1 && kill -9 $p2 &&
	wait_for 20 "[ \"\$(owner web)\" != $w ] && qemu_new $wu $p2" &&
	n=$(owner web) && [ $n != h3 ] &&
	on_host h1 events --kind ha --limit 200 | grep -q "relocating web from $w to $n" &&
	wait_for 10 "[ \"\$(hastat h1 web status)\" = started ]" &&
	wait_for 10 "! on_host $w vm show --local web >/dev/null 2>&1"
'

test_expect "two more crashes on the second host: web failed on max_relocate + 1 hosts: error, with the reason" '
	n=$(owner web) && wu=$(uuid_of $n web) && p1=$(qemus $wu) && kill -9 $p1 &&
	wait_for 15 "qemu_new $wu $p1" &&
	p2=$(qemus $wu) && sleep 1 && kill -9 $p2 &&
	wait_for 15 "[ \"\$(hastat h1 web status)\" = error ]" &&
	hastat h1 web status_reason | grep -q "failed on .*, $n (max_relocate 1)" &&
	on_host h1 events --kind ha --limit 200 | grep -q "web in error: failed on" &&
	sleep 2 && [ -z "$(qemus $wu)" ] && [ "$(owner web)" = $n ] &&
	fails on_host $n vm start web 2>err && grep -q "HA has it in state .error." err &&
	on_host h1 ha set web --state started >/dev/null &&
	wait_for 15 "[ \"\$(hastat h1 web status)\" = started ] && [ -n \"\$(qemus $wu)\" ]"
'

test_expect "vm start on the old host is refused naming the owner; a requested stop sets HA state stopped" '
	n=$(owner web) &&
	on h3 create_guest web2 >/dev/null &&
	on_host h3 ha add web2 >/dev/null && on_host h3 vm start web2 >/dev/null &&
	on_host h3 vm stop web2 --force >/dev/null &&
	wait_for 5 "[ \"\$(hastat h1 web2 state)\" = stopped ]" &&
	on_host h3 events --kind ha | grep -q "a requested stop is not a crash" &&
	on_host h3 ha remove web2 >/dev/null
'

test_expect "a live migration of an HA VM moves its HA owner; the old host keeps no record" '
	o=$(owner db) && to=$( [ $o = h1 ] && echo h2 || echo h1 ) && du=$(uuid_of $o db) &&
	on_host $o vm migrate db --to $to >/dev/null &&
	wait_for 10 "[ \"\$(owner db)\" = $to ] && [ \"\$(hastat h3 db host)\" = $to ]" &&
	on_host h1 ha status --json | jq -e ".resources[] | select(.vm == \"db\") | .status == \"started\"" >/dev/null &&
	! on_host $o vm show --local db >/dev/null 2>&1 && [ "$(qemus $du | wc -l)" = 1 ] &&
	on_host $o events --kind ha --limit 50 | grep -q "HA owner is now $to (migrated)" &&
	on_host $to vm kill db >/dev/null
'

test_expect "invariant: never two QEMUs of one HA VM at once (checked every 100 ms)" '
	ha_checker_stop >"$T/inv"; rc=$?; cat "$T/inv" >>"$T/measured"; [ $rc = 0 ]
'
[ -f "$T/measured" ] && sed 's/^/# measured: /' "$T/measured"
finish
