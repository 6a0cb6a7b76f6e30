#!/usr/bin/env bash
# HA maintenance mode (docs/ha.md "Maintenance mode"): three "hosts"
# (network namespaces, real corosync each, as t82) with a shared pool.  On
# h3: two HA VMs (web priority 100, db 50) and a plain VM; on h2: one HA VM
# (app).  `host maintenance h3 on` (asked on h1) says one VM not protected
# by HA still runs on h3; the manager live-migrates web, then db, away from
# h3 (one at a time), the plain VM runs on on h3, both `ha status` and
# `cluster status` show h3 in maintenance.  Then h2 is cut off: its HA VMs
# are recovered on h1 only, never on h3 (in maintenance).  h2 comes back;
# `maintenance off` moves nothing back.  Failures to tolerate: the
# refusals of ha add, ha set --state started and maintenance on with the
# exact numbers (docs/ha.md "Failures to tolerate").  Groups: a VM put in a
# group fails back to its preferred host, is recovered only inside its
# restricted group when that host is cut, and fails back when it returns.
# An invariant checker runs all along: never two QEMUs of one HA VM on the
# machine (a migration's -incoming target does not count, design memo 6.3).
. "$(dirname "$0")/lib.sh"
. "$TESTS/cluster-lib.sh"
mkdir -p "$T/shared"
uuid_of() { on_host "$1" vm show --local "$2" --json | jq -r .uuid; }
hastat() { on_host "$1" ha status --json | jq -r ".resources[] | select(.vm == \"$2\") | .$3"; }
owner() { hastat h1 "$1" host; }
# runs_on H VM: VM's record on H says running and its HA owner is H
runs_on() { [ "$(owner "$2")" = "$1" ] && [ "$(on_host "$1" vm show --local "$2" --json 2>/dev/null | jq -r .status.state)" = running ]; }

test_expect "a pool of three (token 1000) with full host trust and a shared pool on every host" '
	ha_pool3
'

test_expect "HA VMs web, db on h3 and app on h2, a plain VM on h3, all running" '
	on_host h3 disk create web-d 16M --pool shared >/dev/null && on_host h3 disk create db-d 16M --pool shared >/dev/null &&
	on_host h2 disk create app-d 16M --pool shared >/dev/null &&
	on h3 create_guest web --disk web-d >/dev/null && on h3 create_guest db --disk db-d >/dev/null &&
	on h2 create_guest app --disk app-d >/dev/null && on h3 create_guest plain >/dev/null &&
	on_host h3 ha add web --priority 100 >/dev/null && on_host h3 ha add db --priority 50 >/dev/null &&
	on_host h2 ha add app >/dev/null &&
	for v in web db plain; do on_host h3 vm start $v >/dev/null || return 1; done &&
	on_host h2 vm start app >/dev/null &&
	uuid_of h3 web >"$T/uuids" && uuid_of h3 db >>"$T/uuids" && uuid_of h2 app >>"$T/uuids" &&
	ha_checker_start &&
	wait_for 10 "on_host h3 ha status --json | jq -e \".fence.armed | length == 2\" >/dev/null"
'

test_expect "maintenance of an unknown host or with a bad word is refused and changes nothing" '
	fails on_host h1 host maintenance h9 on 2>err && grep -q "no host .h9. in pool lab" err &&
	fails on_host h1 host maintenance h3 maybe 2>err && grep -q "want on or off" err &&
	on_host h1 ha status --json | jq -e ".maintenance == []" >/dev/null
'

test_expect "maintenance on h3: web then db live-migrate away one at a time; plain stays on h3" '
	wu=$(uuid_of h3 web) && du=$(uuid_of h3 db) && pp=$(on_host h3 vm show --local plain --json | jq -r .status.pid) &&
	t0=$(now_ms) &&
	on_host h1 host maintenance h3 on >out && cat out &&
	grep -q "host h3: maintenance on; HA moves away: .*web" out && grep -q "HA moves away: .*db" out &&
	grep -q "^1 VM(s) not protected by HA still run on h3" out &&
	wait_for 60 "[ \"\$(owner web)\" != h3 ] && [ \"\$(owner db)\" != h3 ] && [ \"\$(hastat h1 db status)\" = started ] && [ \"\$(hastat h1 web status)\" = started ]" &&
	echo "maintenance on to both HA VMs moved: $(( $(now_ms) - t0 )) ms" >>"$T/measured" && tail -1 "$T/measured" &&
	runs_on "$(owner web)" web && runs_on "$(owner db)" db &&
	[ "$(qemus $wu | wc -l)" = 1 ] && [ "$(qemus $du | wc -l)" = 1 ] &&
	! on_host h3 vm show --local web >/dev/null 2>&1 && ! on_host h3 vm show --local db >/dev/null 2>&1 &&
	! proc_gone "$pp" && [ "$(on_host h3 vm show --local plain --json | jq -r .status.state)" = running ] &&
	on_host h1 events --kind ha --limit 200 | grep "maintenance of h3: moving" >moves && cat moves &&
	head -1 moves | grep -q "moving web to" && sed -n 2p moves | grep -q "moving db to" &&
	on_host h3 events --kind ha --limit 200 | grep -q "maintenance of h3: live-migrating web to" &&
	on_host h2 ha status | grep -q "host h3: maintenance since" &&
	on_host h2 cluster status | grep -q "h3 (maintenance)" &&
	[ -z "$(on_host h3 ha status --json | jq -r .fence.armed[])" ]
'

test_expect "h2 cut off while h3 is in maintenance: its HA VMs are recovered on h1, never on h3" '
	au=$(uuid_of h2 app) &&
	ip -n "$(nhost_ns sw)" link set p2 down &&
	wait_for 40 "runs_on h1 app && runs_on h1 web && runs_on h1 db" &&
	[ "$(qemus $au | wc -l)" = 1 ] &&
	! on_host h3 vm show --local app >/dev/null 2>&1 &&
	on_host h1 events --kind ha --limit 200 | grep -q "recovering app from h2 on h1" &&
	ip -n "$(nhost_ns sw)" link set p2 up &&
	wait_for 30 "[ \"\$(quorate h2)\" = true ] && [ \"\$(online h1)\" = h1,h2,h3 ]"
'

test_expect "maintenance off: the HA VMs stay where they are" '
	on_host h3 host maintenance h3 off | grep -q "host h3: maintenance off (its HA VMs stay where they are)" &&
	on_host h1 ha status --json | jq -e ".maintenance == []" >/dev/null &&
	! on_host h1 cluster status | grep -q "(maintenance)" &&
	sleep 4 &&
	runs_on h1 app && runs_on h1 web && runs_on h1 db &&
	! on_host h3 vm show --local web >/dev/null 2>&1 &&
	on_host h3 events --limit 200 | grep -q "host h3: HA maintenance off"
'

# Failures to tolerate.  All three "hosts" share this machine's memory: M MiB
# each (published by each host's agent).  web, db, app (256M) run on h1:
# 320 MiB each with overhead.  big2 on h2 and big3 on h3 (defined, not
# started: the plan counts HA state, not QEMUs) need M - 100 MiB each.
cap() { on_host h1 ha status --json | jq -r ".plan.capacities.$1"; }
big() { on_host "$1" vm create "$2" --memory "$3"M --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$GUEST_CMDLINE" >/dev/null; }

test_expect "failures to tolerate: every host's capacity is published; N is checked against the pool's size" '
	wait_for 40 "[ \"\$(cap h1)\" != null ] && [ \"\$(cap h2)\" != null ] && [ \"\$(cap h3)\" != null ]" &&
	M=$(cap h1) && [ "$(cap h2)" = $M ] && [ "$(cap h3)" = $M ] && echo $M >"$T/M" &&
	on_host h2 ha status | grep -q "failures to tolerate: 0; the pool tolerates 2 host failure(s) now" &&
	fails on_host h1 cluster set --failures-to-tolerate 3 2>err &&
	grep -q "a pool of 3 host(s) tolerates at most 2 failure(s)" err &&
	on_host h1 cluster set --failures-to-tolerate 1 | grep -q "HA failures to tolerate: 1 (the pool tolerates 2 now)"
'

test_expect "failures to tolerate 1: a VM that breaks the plan is refused with the failing set and the numbers" '
	M=$(cat "$T/M") && B=$((M - 164)) &&
	big h2 big2 $B && big h3 big3 $B &&
	on_host h2 ha add big2 >/dev/null &&
	on_host h1 ha status | grep -q "failures to tolerate: 1; the pool tolerates 1 host failure(s) now" &&
	fails on_host h3 ha add big3 2>err && cat err &&
	grep -qF "refused: with 1 host failure(s) to tolerate, app (320 MiB with overhead) could not be restarted if h1 failed: the most memory left on a survivor would be 100 MiB; capacities: h1 $M MiB, h2 $M MiB, h3 $M MiB" err &&
	[ "$(hastat h1 big3 vm)" = "" ] &&
	on_host h3 ha add big3 --state stopped >/dev/null &&
	fails on_host h3 ha set big3 --state started 2>err &&
	grep -qF "app (320 MiB with overhead) could not be restarted if h1 failed" err &&
	[ "$(hastat h1 big3 state)" = stopped ]
'

test_expect "failures to tolerate 1: maintenance on is refused when the plan needs the host; 0 lets both through" '
	M=$(cat "$T/M") &&
	fails on_host h1 host maintenance h3 on 2>err && cat err &&
	grep -qF "app (320 MiB with overhead) could not be restarted if h1 failed (in maintenance, counted as failed: h3): the most memory left on a survivor would be 100 MiB" err &&
	on_host h1 ha status --json | jq -e ".maintenance == []" >/dev/null &&
	on_host h1 cluster set --failures-to-tolerate 0 >/dev/null &&
	on_host h3 ha set big3 --state started >/dev/null &&
	on_host h1 ha status | grep -q "failures to tolerate: 0; the pool tolerates 0 host failure(s) now" &&
	fails on_host h1 cluster set --failures-to-tolerate 1 2>err &&
	grep -qF "refused: with 1 host failure(s) to tolerate" err &&
	on_host h3 ha remove big3 >/dev/null && on_host h2 ha remove big2 >/dev/null
'

# Groups: g prefers h2 (2) over h1 (1), restricted to them.
test_expect "ha group add/list; a bad host is refused; web joins g and fails back to h2 (live migration)" '
	fails on_host h1 ha group add bad --hosts h9:1 2>err && grep -q "no host .h9. in pool lab" err &&
	fails on_host h1 ha set web --group nosuch 2>err && grep -q "no HA group .nosuch." err &&
	on_host h1 ha group add g --hosts h2:2,h1:1 --restricted >/dev/null &&
	on_host h3 ha group list | grep -E "^g +h2:2,h1:1 +yes +yes" &&
	wu=$(uuid_of h1 web) && on_host h1 ha set web --group g >/dev/null &&
	wait_for 40 "runs_on h2 web && [ \"\$(hastat h1 web status)\" = started ]" &&
	[ "$(qemus $wu | wc -l)" = 1 ] &&
	on_host h1 events --kind ha --limit 300 | grep -q "failback: moving web from h1 to h2 by live migration (priority 2 in group g; h1: 1)" &&
	fails on_host h1 ha group remove g 2>err && grep -q "HA group .g. is used by web" err
'

test_expect "h2 cut off: web (restricted to g) is recovered on h1, never h3; h2 back: web fails back to h2" '
	wu=$(uuid_of h2 web) &&
	ip -n "$(nhost_ns sw)" link set p2 down &&
	wait_for 40 "runs_on h1 web" && ! on_host h3 vm show --local web >/dev/null 2>&1 &&
	ip -n "$(nhost_ns sw)" link set p2 up &&
	wait_for 40 "[ \"\$(quorate h2)\" = true ] && [ \"\$(online h1)\" = h1,h2,h3 ]" &&
	wait_for 60 "runs_on h2 web && [ \"\$(hastat h1 web status)\" = started ]" &&
	[ "$(qemus $wu | wc -l)" = 1 ] &&
	on_host h1 ha set web --group "" >/dev/null && on_host h1 ha group remove g >/dev/null &&
	[ "$(on_host h1 ha group list --json | jq ".groups | length")" = 0 ]
'

test_expect "invariant: never two QEMUs of one HA VM at once (checked every 100 ms)" '
	ha_checker_stop >"$T/inv"; rc=$?; cat "$T/inv" >>"$T/measured"; [ $rc = 0 ]
'
[ -f "$T/measured" ] && sed 's/^/# measured: /' "$T/measured"
finish
