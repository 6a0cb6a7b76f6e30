#!/usr/bin/env bash
# HA for containers on shared pools (docs/ha.md "Containers"): three
# "hosts" (network namespaces, real corosync each, as t81/t82) with a shared
# pool (one directory all three see).  On h1: a busybox container whose
# root is a directory volume of the shared pool, HA-protected; ha add
# refuses a container whose root is in a local pool, one with an image
# root and one with a mount point on a local pool.  A kill -9 of corrald on
# h1 is no host failure: the container runs on, the next corrald re-arms
# it.  h1's link is cut at the switch: h1 kills the container (self-fence,
# within the deadline L + 2 s), the manager restarts it on h2 or h3 within
# a bound the test asserts; h1, back, drops its record (the root stays) and
# `ct start` there finds nothing.  A crash (kill -9 of its init) restarts it
# on its owner.  With corrald on the owner stopped (SIGSTOP) and its link
# cut, corral-guard (holding the init's pidfd) kills it and the pool runs it
# elsewhere.  Frozen (as a backup freezes it) when its owner is cut off, it
# is still killed there.  `host maintenance OWNER on` stops it there and starts it on
# another host (containers have no live migration); a requested stop sets
# HA state stopped.  An invariant checker runs all along, every 100 ms:
# never two copies of the container's root running (processes whose root
# is that directory, in more than one PID namespace).
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
# root's subordinate ids for unprivileged containers (what `make install` sets up)
"$SRC/scripts/setup-user.sh" corral-qemu >/dev/null || exit 1
. "$TESTS/cluster-lib.sh"
ROOT=$T/shared/hact-root/rootfs
# inits: the pids of the container inits running hact's root, machine-wide (every "host" is a process tree here)
inits() { python3 "$TESTS/hacheck.py" --inits "$ROOT"; }
# a failed run leaves no container running (lib.sh's cleanup knows only VMs)
ct_cleanup() {
	local h p
	for h in h1 h2 h3; do on_host $h ct kill "name:*" >/dev/null 2>&1; done
	for p in $(inits); do kill -9 "$p" 2>/dev/null; done
}
trap 'ct_cleanup; cleanup; coro_cleanup' EXIT
hastat() { on_host "$1" ha status --json | jq -r ".resources[] | select(.vm == \"$2\") | .$3"; }
owner() { hastat h1 "$1" host; }
# mgr: the pool's HA manager now (its events hold its decisions), as h2 sees it
mgr() { on_host h2 ha status --json | jq -r .manager.host; }
ct_state() { on_host "$1" ct show "$2" --json 2>/dev/null | jq -r .state; }
# one_init_other OLD: exactly one copy runs, and its init is not OLD
one_init_other() { local i; i=$(inits); [ -n "$i" ] && [ "$(echo "$i" | wc -l)" = 1 ] && [ "$i" != "$1" ]; }

test_expect "a pool of three (token 1000) with full host trust and a shared pool on every host" '
	ha_pool3
'

test_expect "ha add refuses containers whose root or mounts are not on shared pools, or an image root; protects hact" '
	on_host h1 ct create loc --template busybox >/dev/null &&
	fails on_host h1 ha add loc 2>err && cat err &&
	grep -q "root volume loc-root of container loc is in pool .default., which is not shared: HA could not restart loc on another host" err &&
	on_host h1 ct create img --template busybox --pool shared --image 64M >/dev/null &&
	fails on_host h1 ha add img 2>err && grep -q "is an image file (ext4, loop-mounted\|is an image file (ext4)" err &&
	on_host h1 disk create mdata --format dir >/dev/null &&
	on_host h1 ct create mnt --template busybox --pool shared --mount mdata:/data >/dev/null &&
	fails on_host h1 ha add mnt 2>err && grep -q "mount point volume mdata of container mnt is in pool .default., which is not shared" err &&
	[ "$(on_host h1 ha status --json | jq ".resources | length")" = 0 ] &&
	on_host h1 ct create hact --template busybox --pool shared --memory 64M >/dev/null && [ -x "$ROOT/bin/busybox" ] &&
	on_host h1 ha add hact --priority 10 >out && grep -q "HA-protected container hact" out &&
	fails on_host h1 ha add hact 2>err && grep -q "already HA-protected" err &&
	for h in h1 h2 h3; do
		wait_for 5 "[ \"\$(hastat $h hact kind)\" = container ] && [ \"\$(hastat $h hact host)\" = h1 ] && [ \"\$(hastat $h hact memory_mib)\" = 64 ]" || return 1
	done &&
	on_host h2 ha set hact --max-relocate 2 >/dev/null && wait_for 5 "[ \"\$(hastat h1 hact max_relocate)\" = 2 ]" &&
	on_host h1 ha status | grep -E "^hact +h1 +stopped +started +started +10 .* container *$" &&
	fails on_host h1 ct migrate hact --to h2 2>err && grep -q "is HA-protected: the pool moves it" err &&
	fails on_host h1 ct delete --yes hact 2>err && grep -q "is HA-protected: corral ha remove hact first" err &&
	for c in loc img mnt; do on_host h1 ct delete --yes $c >/dev/null || return 1; done
'

test_expect "ct start on h1 arms the fence for hact; the checker watches its root" '
	on_host h1 ct start hact >/dev/null && [ "$(ct_state h1 hact)" = running ] &&
	[ "$(on_host h1 ct exec hact -- hostname)" = hact ] &&
	echo "$ROOT" >"$T/roots" && : >"$T/uuids" && ha_checker_start &&
	wait_for 10 "on_host h1 ha status --json | jq -e \".fence.armed == [\\\"hact\\\"]\" >/dev/null" &&
	[ "$(inits | wc -l)" = 1 ] &&
	wait_for 10 "grep -q \"armed for 1 QEMU(s): [0-9a-f-]*=hact\" $T/h1/cluster/guard.log"
'

test_expect "kill -9 of corrald on h1 is no host failure: hact runs on, the next corrald re-arms it" '
	i=$(inits) && nhost_kill9 h1 && sleep 3 &&
	[ "$(inits)" = "$i" ] && nhost_start h1 &&
	[ "$(ct_state h1 hact)" = running ] && [ "$(inits)" = "$i" ] &&
	wait_for 10 "on_host h1 ha status --json | jq -e \".fence.armed == [\\\"hact\\\"]\" >/dev/null" &&
	[ "$(owner hact)" = h1 ] && [ "$(hastat h2 hact status)" = started ] && [ "$(inits)" = "$i" ]
'

test_expect "h1 cut off: it kills hact within the deadline, hact runs on h2 or h3 within 15 s, never two copies" '
	i=$(inits) && [ -n "$i" ] && L=$(on_host h1 ha status --json | jq -r .fence.deadline_ms) &&
	t0=$(now_ms) && ip -n "$(nhost_ns sw)" link set p1 down &&
	tk= && tw= && end=$((SECONDS + 25)) &&
	while [ $SECONDS -le $end ] && [ -z "$tw" ]; do
		[ -z "$tk" ] && proc_gone $i && tk=$(now_ms)
		[ -z "$tw" ] && one_init_other $i && tw=$(now_ms)
		sleep 0.05
	done &&
	[ -n "$tk" ] && [ -n "$tw" ] &&
	echo "cut to the container killed on h1: $((tk - t0)) ms (deadline L = $L ms); cut to it running elsewhere: $((tw - t0)) ms" >>"$T/measured" &&
	tail -1 "$T/measured" &&
	[ $((tk - t0)) -le $((L + 2000)) ] && [ $tk -lt $tw ] && [ $((tw - t0)) -lt 15000 ] &&
	wait_for 10 "[ \"\$(hastat h2 hact status)\" = started ]" &&
	o=$(hastat h2 hact host) && { [ $o = h2 ] || [ $o = h3 ]; } &&
	[ "$(ct_state $o hact)" = running ] && [ "$(on_host $o ct exec hact -- hostname)" = hact ] &&
	on_host $o ct show hact --json | jq -e ".status.storage.root.volume == \"hact-root\"" >/dev/null &&
	m=$(mgr) && on_host $m events --kind ha --limit 200 | grep -q "recovering hact from h1 on $o: h1 left the pool at" &&
	on_host $m events --kind ha --limit 200 | grep -q "fence: h1 left the pool" &&
	on_host h1 events --kind ha --limit 200 | grep -q "fenced: host lost quorum (ring [0-9a-f.]*): the container.s init killed" &&
	on_host h1 ha status | grep -q "last fence: fenced: host lost quorum; killed: hact" &&
	fails on_host h1 ct start hact 2>err && grep -q "this host has no quorum" err
'

test_expect "h1 back: it rejoins, drops its record of hact (the root stays), ct start there finds nothing" '
	ip -n "$(nhost_ns sw)" link set p1 up &&
	wait_for 30 "[ \"\$(quorate h1)\" = true ] && [ \"\$(online h2)\" = h1,h2,h3 ]" &&
	wait_for 10 "on_host h1 events --kind ha --limit 200 | grep -q \"local record dropped: HA moved hact to $(owner hact) (its root stays on the shared pool)\"" &&
	! on_host h1 ct show hact >/dev/null 2>&1 &&
	[ -x "$ROOT/bin/busybox" ] && ! on_host h1 disk list --json | jq -e ".volumes[] | select(.name == \"hact-root\")" >/dev/null &&
	[ ! -e "$T/h1/lxc/hact" ] &&
	fails on_host h1 ct start hact 2>err && grep -q "no container matches .hact." err &&
	[ "$(inits | wc -l)" = 1 ]
'

test_expect "a crash (kill -9 of its init) restarts hact on its owner" '
	o=$(owner hact) && i=$(inits) && kill -9 $i &&
	wait_for 15 "one_init_other $i" &&
	[ "$(owner hact)" = $o ] &&
	on_host $o events --kind ha --limit 200 | grep -q "restart 1/1 on $o after the container stopped without a request"
'

test_expect "corrald on its owner stopped (SIGSTOP), the owner cut off: corral-guard kills hact, it runs elsewhere" '
	o=$(owner hact) && i=$(inits) && glog=$T/$o/cluster/guard.log &&
	wait_for 10 "tail -1 $glog | grep -q \"armed for 1 QEMU(s): [0-9a-f-]*=hact\"" &&
	L=$(on_host $o ha status --json | jq -r .fence.deadline_ms) &&
	sleep 1 && # the set corrald sends every 500 ms carries the pidfd of the init the crash above restarted
	cpid=$(nhost_pid $o) && kill -STOP "$cpid" &&
	t0=$(now_ms) && ip -n "$(nhost_ns sw)" link set "p${o#h}" down &&
	wait_for $(( (L + 2000) / 1000 + 1 )) "proc_gone $i"; rc=$?; t1=$(now_ms);
	wait_for 20 "one_init_other $i"; rc2=$?; t2=$(now_ms);
	kill -CONT "$cpid";
	[ $rc = 0 ] && [ $rc2 = 0 ] &&
	echo "corrald stopped: cut to the container killed on $o (by corral-guard): $((t1 - t0)) ms (deadline L = $L ms); to it running elsewhere: $((t2 - t0)) ms" >>"$T/measured" &&
	tail -1 "$T/measured" &&
	[ $((t1 - t0)) -le $((L + 2000)) ] && [ $t1 -lt $t2 ] &&
	grep -q "fenced: host lost quorum" $glog &&
	wait_for 10 "on_host $o events --kind ha | grep -q \"the container.s init killed by corral-guard\"" &&
	ip -n "$(nhost_ns sw)" link set "p${o#h}" up &&
	wait_for 30 "[ \"\$(quorate $o)\" = true ]" &&
	wait_for 15 "[ \"\$(owner hact)\" != $o ] && ! on_host $o ct show hact >/dev/null 2>&1" &&
	[ "$(inits | wc -l)" = 1 ]
'

test_expect "frozen (as a backup freezes it) when its owner is cut off: still killed there (thawed so the kill lands), runs elsewhere" '
	o=$(owner hact) && i=$(inits) &&
	fz=/sys/fs/cgroup/freezer$(sed -n "s/^[0-9]*:freezer://p" /proc/$i/cgroup) && [ -f "$fz/freezer.state" ] &&
	echo FROZEN >"$fz/freezer.state" && wait_for 5 "grep -q FROZEN $fz/freezer.state" &&
	sleep 1.5 &&
	on_host $o ha status --json | jq -e ".fence.armed == [\"hact\"]" >/dev/null &&
	L=$(on_host $o ha status --json | jq -r .fence.deadline_ms) &&
	t0=$(now_ms) && ip -n "$(nhost_ns sw)" link set "p${o#h}" down &&
	wait_for $(( (L + 2000) / 1000 + 1 )) "proc_gone $i"; rc=$?; t1=$(now_ms);
	wait_for 20 "one_init_other $i"; rc2=$?; t2=$(now_ms);
	[ $rc = 0 ] && [ $rc2 = 0 ] &&
	echo "frozen: cut to the container killed on $o: $((t1 - t0)) ms (deadline L = $L ms); to it running elsewhere: $((t2 - t0)) ms" >>"$T/measured" &&
	tail -1 "$T/measured" && [ $((t1 - t0)) -le $((L + 2000)) ] && [ $t1 -lt $t2 ] &&
	grep -q "killed while frozen (not gone at once): thawed .*freezer.state so the kill lands" "$T/$o.log" &&
	ip -n "$(nhost_ns sw)" link set "p${o#h}" up &&
	wait_for 30 "[ \"\$(quorate $o)\" = true ]" &&
	wait_for 15 "[ \"\$(owner hact)\" != $o ] && ! on_host $o ct show hact >/dev/null 2>&1" &&
	[ "$(inits | wc -l)" = 1 ]
'

test_expect "maintenance of its owner: hact stops there and starts on another host (offline: no live migration)" '
	o=$(owner hact) && i=$(inits) && t0=$(now_ms) &&
	on_host h2 host maintenance $o on >out && grep -q "HA moves away: .*hact" out &&
	wait_for 60 "[ \"\$(owner hact)\" != $o ] && [ \"\$(hastat h2 hact status)\" = started ] && one_init_other $i" &&
	n=$(owner hact) &&
	echo "maintenance on to hact running on $n: $(( $(now_ms) - t0 )) ms" >>"$T/measured" && tail -1 "$T/measured" &&
	[ "$(ct_state $n hact)" = running ] &&
	on_host "$(mgr)" events --kind ha --limit 200 | grep -q "maintenance of $o: moving hact to $n offline" &&
	on_host $o events --kind ha --limit 200 | grep -q "stopping hact on $o to start it on $n (a container has no live migration)" &&
	wait_for 10 "! on_host $o ct show hact >/dev/null 2>&1" &&
	on_host h2 host maintenance $o off >/dev/null &&
	sleep 2 && [ "$(owner hact)" = $n ]
'

test_expect "a requested stop sets HA state stopped (no restart); a start sets it started" '
	o=$(owner hact) &&
	on_host $o ct stop hact >/dev/null &&
	wait_for 5 "[ \"\$(hastat h1 hact state)\" = stopped ]" &&
	on_host $o events --kind ha | grep -q "the container was stopped by request (a requested stop is not a crash)" &&
	sleep 3 && [ -z "$(inits)" ] && [ "$(owner hact)" = $o ] &&
	on_host $o ct start hact >/dev/null &&
	wait_for 5 "[ \"\$(hastat h1 hact state)\" = started ]" && [ "$(inits | wc -l)" = 1 ] &&
	on_host h3 ha remove hact >out && grep -q "hact is no longer HA-protected" out &&
	wait_for 5 "[ \"\$(on_host h1 ha status --json | jq \".resources | length\")\" = 0 ]" &&
	on_host $o ct kill hact >/dev/null
'

test_expect "invariant: never two copies of the container running at once (checked every 100 ms)" '
	ha_checker_stop >"$T/inv"; rc=$?; cat "$T/inv" >>"$T/measured"; [ $rc = 0 ]
'
[ -f "$T/measured" ] && sed 's/^/# measured: /' "$T/measured"
finish
