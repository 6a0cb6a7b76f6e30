#!/usr/bin/env bash
# Two-node pools with a witness (docs/cluster.md "Two nodes"): h1 and h2 make
# a pool, h3 (a corrald that is no node) is the witness running
# corosync-qnetd; corrald runs corosync-qdevice on h1 and h2.  All quorate
# with three expected votes; cutting h2 off: h1 keeps quorum, h2 loses it;
# healed: both quorate; the witness cut off: both stay quorate (2 of 3);
# the h1-h2 link alone cut (both still reach the witness): the witness gives
# its vote to one side (tie_breaker lowest: h1).  kill -9 of corrald leaves
# qdevice running and re-adopted; a dead qdevice or qnetd is restarted.  An
# HA VM on h2 (shared pool): h2 cut off kills it, h1 runs it after the wait W
# (which counts qdevice's timeout), never two QEMUs.  Witness remove; hostile input refused with nothing changed.  Times printed.
. "$(dirname "$0")/lib.sh"
command -v corosync-qnetd >/dev/null && command -v corosync-qdevice >/dev/null && command -v certutil >/dev/null ||
	{ echo "corosync-qnetd, corosync-qdevice or certutil missing (scripts/install-deps.sh)"; FAILED=1; finish; exit 1; }
. "$TESTS/cluster-lib.sh"
# the witness's helpers of this run, ended at exit like corosync (they outlive corrald)
qd_cleanup() {
	local p
	for p in $(pgrep -f "^corosync-q(device|netd) -f .*$T/h[0-9]/"); do kill "$p" 2>/dev/null; done
}
trap 'cleanup; qd_cleanup; coro_cleanup' EXIT
# daemons_of PATTERN: how many processes match, not counting their own children
# (corosync-qdevice forks a heuristics worker with the same command line)
daemons_of() {
	local pids; pids=" $(pgrep -d ' ' -f "$1") "
	ps -eo pid=,ppid= | awk -v set="$pids" 'index(set, " " $1 " ") && !index(set, " " $2 " ")' | wc -l
}
qdevices_of() { daemons_of "^corosync-qdevice -f -S lock_file=$T/$1/cluster/qdevice/"; }
qnetds_of() { daemons_of "^corosync-qnetd -f -p [0-9]* -S nss_db_dir=$T/$1/witness/"; }
# losses H: how many times H recorded losing quorum
losses() { on_host "$1" events --kind cluster | grep -c "quorum lost"; }
qd_pid() { st "$1" | jq -r '.witness.qdevice.pid'; }
# wit H: "connected,casts,total-votes,quorate" as H sees it
wit() { st "$1" | jq -r '"\(.witness.connected),\(.witness.casts_vote),\(.votes.total),\(.quorate)"'; }
sw=$(nhost_ns sw)

test_expect "bad input before any witness: refused, nothing made" '
	fails on_host h3 witness init --port 0 2>err && grep -q "port is 1 to 65535" err &&
	fails on_host h1 cluster witness add h3 2>err && grep -q "in no cluster" err &&
	fails on_host h1 cluster witness remove --yes 2>err && grep -q "in no cluster" err &&
	fails on_host h3 witness remove --yes 2>err && grep -q "no witness" err &&
	on_host h3 witness status --json | jq -e ".witness == false" && [ ! -e "$T/h3/witness" ]
'

test_expect "witness init on h3: a CA under its state dir, corosync-qnetd run and supervised by corrald" '
	on_host h3 witness init >out && grep -q "listens on port 5403" out &&
	[ "$(stat -c %a "$T/h3/witness")" = 700 ] && [ "$(stat -c %a "$T/h3/witness/nssdb")" = 700 ] &&
	certutil -L -d "sql:$T/h3/witness/nssdb" | grep -q "QNet CA *CTu,u,u" &&
	[ "$(qnetds_of h3)" = 1 ] &&
	on_host h3 witness status --json | jq -e ".witness and .port == 5403 and .qnetd.running and .connected_clusters == 0" &&
	fails on_host h3 witness init 2>err && grep -q "already a witness" err
'

test_expect "a two-node pool h1+h2 (token 1000), both trusting each other; h1 trusts h3" '
	nhost_trust h2 h1 >/dev/null && nhost_trust h1 h3 >/dev/null &&
	on_host h1 cluster create lab --token 1000 >/dev/null && on_host h2 cluster join h1 >/dev/null &&
	for h in h1 h2; do
		wait_for 20 "[ \"\$(online $h)\" = h1,h2 ] && [ \"\$(quorate $h)\" = true ]" || return 1
	done &&
	st h1 | jq -e ".witness == null and (.warnings | map(select(test(\"no witness\"))) | length == 1)"
'

test_expect "hostile witness input is refused and changes nothing" '
	ip -n "$sw" addr add 10.99.0.254/24 dev br0 &&
	v=$(st h1 | jq .config_version) &&
	fails on_host h1 cluster witness add "h3;rm -rf /" 2>err && grep -q "host name" err &&
	fails on_host h1 cluster witness add nosuch 2>err && grep -q "trust it first" err &&
	fails on_host h1 cluster witness add h3 --address 10.99.0.999 2>err && grep -q "IPv4 or IPv6" err &&
	fails on_host h1 cluster witness add h3 --address witness.lan 2>err && grep -q "no host name" err &&
	fails on_host h1 cluster witness add h3 --address 10.99.0.2 2>err && grep -q "node h2.s own address" err &&
	fails on_host h1 cluster witness add h3 --heuristics-ping "10.0.0.1;reboot" 2>err && grep -q "IPv4 or IPv6" err &&
	fails on_host h1 cluster witness add h2 2>err && grep -q "is a node of cluster lab" err &&
	fails on_host h1 cluster witness add 2>err &&
	fails on_host h1 cluster witness remove --yes 2>err && grep -q "has no witness" err &&
	for h in h1 h2; do
		st $h | jq -e ".config_version == $v and .witness == null" >/dev/null &&
		! grep -q device "$T/$h/cluster/corosync.conf" && [ ! -e "$T/$h/cluster/qdevice" ] || return 1
	done
'

test_expect "witness add: certificates through the trusted-host API, qdevice on both nodes, three votes" '
	t0=$(now_ms) &&
	on_host h1 cluster witness add h3 --heuristics-ping 10.99.0.254 >out && grep -q "witness: 10.99.0.3 port 5403" out &&
	t1=$(( $(now_ms) - t0 )) &&
	for h in h1 h2; do
		wait_for 30 "[ \"\$(wit $h)\" = true,true,3,true ]" || { st $h >&2; return 1; }
	done &&
	echo "witness add: $t1 ms for the command; both nodes quorate with the witness connected and voting $(( $(now_ms) - t0 )) ms after it started" >>"$T/measured" &&
	for h in h1 h2; do
		st $h | jq -e ".votes.expected == 3 and .votes.quorum == 2 and (.votes.flags | index(\"qdevice_cast_vote\")) and .witness.addr == \"10.99.0.3\" and .witness.heuristics_ping == \"10.99.0.254\" and (.warnings | length) == 1" >/dev/null &&
		grep -q "^      algorithm: ffsplit$" "$T/$h/cluster/corosync.conf" &&
		grep -q "^      host: 10.99.0.3$" "$T/$h/cluster/corosync.conf" &&
		grep -q "exec_ping: /usr/bin/ping -q -n -c 1 -W 1 10.99.0.254" "$T/$h/cluster/corosync.conf" &&
		! grep -q two_node "$T/$h/cluster/corosync.conf" &&
		[ "$(qdevices_of $h)" = 1 ] && [ "$(stat -c %a "$T/$h/cluster/qdevice/nssdb")" = 700 ] &&
		certutil -L -d "sql:$T/$h/cluster/qdevice/nssdb" | grep -q "Cluster Cert *u,u,u" || return 1
	done &&
	k1=$(certutil -K -d "sql:$T/h1/cluster/qdevice/nssdb" -f "$T/h1/cluster/qdevice/nssdb/pwdfile.txt" | grep -o "[0-9a-f]\{40\}") &&
	k2=$(certutil -K -d "sql:$T/h2/cluster/qdevice/nssdb" -f "$T/h2/cluster/qdevice/nssdb/pwdfile.txt" | grep -o "[0-9a-f]\{40\}") &&
	[ -n "$k1" ] && [ "$k1" != "$k2" ] &&
	on_host h3 witness status --json | jq -e ".clusters_connected == [\"lab\"] and .connected_clients == 2 and .certificates.lab.requested_by == [\"h1\"]" &&
	on_host h1 cluster status >out && grep -q "^witness: *10.99.0.3 port 5403, heuristics ping 10.99.0.254: connected" out &&
	on_host h2 events --kind cluster | grep -q "qdevice certificate signed by the witness installed" &&
	fails on_host h1 cluster witness add h3 2>err && grep -q "already has a witness" err
'

test_expect "a third node is refused while the pool has a witness; the witness refuses to go while used" '
	nhost_trust h2 h3 >/dev/null &&
	fails on_host h3 cluster join h1 2>err && grep -q "has a witness.*witness remove first" err &&
	st h3 | jq -e ".cluster == null" && st h1 | jq -e "(.nodes | length) == 2" &&
	fails on_host h3 witness remove --yes 2>err && grep -q "1 pool(s) use this witness" err &&
	[ "$(qnetds_of h3)" = 1 ]
'

test_expect "cut h2 off: h1 keeps quorum with the witness vote, h2 loses it; heal: both quorate" '
	q1=$(losses h1) && t0=$(now_ms) && ip -n "$sw" link set p2 down &&
	wait_for 30 "[ \"\$(online h1)\" = h1 ] && [ \"\$(quorate h1)\" = true ]" && t1=$(( $(now_ms) - t0 )) &&
	wait_for 30 "[ \"\$(quorate h2)\" = false ]" && t2=$(( $(now_ms) - t0 )) &&
	e2=$(( $(date -d "$(on_host h2 events --kind cluster --json | jq -r "[.events[] | select(.detail | test(\"quorum lost\"))] | last | .time")" +%s%3N) - t0 )) &&
	e1=$(( $(date -d "$(on_host h1 events --kind cluster --json | jq -r "[.events[] | select(.detail | test(\"node h2 .id 2. left the ring\"))] | last | .time")" +%s%3N) - t0 )) &&
	echo "cut h2 (token 1000 ms): h1 saw h2 leave its ring at +$e1 ms (event), quorate throughout; h2 not quorate at +$e2 ms (event); polls: h1 $t1 ms, h2 $t2 ms" >>"$T/measured" &&
	[ "$(losses h1)" = "$q1" ] &&
	st h1 | jq -e ".votes.total == 2 and .votes.expected == 3 and .witness.casts_vote" &&
	st h2 | jq -e ".votes.total == 1 and (.witness.casts_vote | not)" &&
	t0=$(now_ms) && ip -n "$sw" link set p2 up &&
	for h in h2 h1; do
		wait_for 30 "[ \"\$(online $h)\" = h1,h2 ] && [ \"\$(wit $h)\" = true,true,3,true ]" || { st $h >&2; return 1; }
	done &&
	echo "heal h2: both quorate with three votes after $(( $(now_ms) - t0 )) ms" >>"$T/measured"
'

test_expect "cut the witness off: both nodes stay quorate (2 of 3 votes); back: connected again" '
	q1=$(losses h1) && q2=$(losses h2) && t0=$(now_ms) && ip -n "$sw" link set p3 down && lost=0 &&
	end=$((SECONDS + 30)) &&
	while [ $SECONDS -le $end ]; do
		a=$(wit h1) && b=$(wit h2) &&
		case "$a $b" in *false) lost=1; break ;; esac &&
		[ "${a%%,*}" = false ] && [ "${b%%,*}" = false ] && break; sleep 0.2
	done &&
	t1=$(( $(now_ms) - t0 )) && [ $lost = 0 ] && [ "$(losses h1)" = "$q1" ] && [ "$(losses h2)" = "$q2" ] &&
	[ "$(quorate h1)" = true ] && [ "$(quorate h2)" = true ] &&
	st h1 | jq -e ".votes.total == 2 and .quorate and (.warnings | map(select(test(\"witness is not connected\"))) | length == 1)" &&
	echo "cut the witness: both nodes saw it disconnected after $t1 ms and stayed quorate throughout (2 of 3 votes)" >>"$T/measured" &&
	t0=$(now_ms) && ip -n "$sw" link set p3 up &&
	for h in h1 h2; do
		wait_for 40 "[ \"\$(wit $h)\" = true,true,3,true ]" || { st $h >&2; return 1; }
	done &&
	echo "witness back: connected and voting on both after $(( $(now_ms) - t0 )) ms" >>"$T/measured"
'

# nft runs in the switch namespace: this test's own table there
split_on() {
	ip netns exec "$sw" nft -f - <<-EOF
	table bridge t84cut {
		chain cut { type filter hook forward priority 0; policy accept;
			ip saddr 10.99.0.1 ip daddr 10.99.0.2 drop
			ip saddr 10.99.0.2 ip daddr 10.99.0.1 drop
		}
	}
	EOF
}
split_off() { ip netns exec "$sw" nft delete table bridge t84cut; }
test_expect "split: h1 and h2 cannot see each other but both reach the witness: exactly one keeps quorum (h1)" '
	q1=$(losses h1) && t0=$(now_ms) && split_on &&
	wait_for 30 "[ \"\$(online h1)\" = h1 ] && [ \"\$(online h2)\" = h2 ]" &&
	wait_for 30 "[ \"\$(quorate h1)\" = true ] && [ \"\$(quorate h2)\" = false ]" && t1=$(( $(now_ms) - t0 )) &&
	sleep 2 && [ "$(quorate h1)" = true ] && [ "$(quorate h2)" = false ] && [ "$(losses h1)" = "$q1" ] &&
	st h2 | jq -e ".witness.connected and (.witness.casts_vote | not)" &&
	echo "split h1|h2, both reaching the witness: h1 quorate, h2 not, after $t1 ms" >>"$T/measured" &&
	t0=$(now_ms) && split_off &&
	for h in h2 h1; do
		wait_for 30 "[ \"\$(online $h)\" = h1,h2 ] && [ \"\$(wit $h)\" = true,true,3,true ]" || { st $h >&2; return 1; }
	done &&
	echo "split healed: both quorate with three votes after $(( $(now_ms) - t0 )) ms" >>"$T/measured"
'

test_expect "kill -9 of corrald: qdevice and qnetd run on and are re-adopted; dead ones are started again" '
	pid=$(qd_pid h2) && [ "$pid" -gt 0 ] &&
	nhost_kill9 h2 && sleep 1 && kill -0 "$pid" && nhost_start h2 &&
	wait_for 10 "st h2 | jq -e \".quorate and .witness.qdevice.running\" >/dev/null" &&
	[ "$(qd_pid h2)" = "$pid" ] && [ "$(qdevices_of h2)" = 1 ] &&
	qn=$(on_host h3 witness status --json | jq -r .qnetd.pid) && nhost_kill9 h3 && kill -0 "$qn" && nhost_start h3 &&
	[ "$(on_host h3 witness status --json | jq -r .qnetd.pid)" = "$qn" ] && [ "$(qnetds_of h3)" = 1 ] &&
	grep -q "corosync-qnetd (pid $qn) is running: re-adopted" "$T/h3.log" &&
	kill -9 "$pid" &&
	wait_for 15 "[ \"\$(qd_pid h2)\" != null ] && [ \"\$(qd_pid h2)\" != $pid ]" &&
	wait_for 20 "[ \"\$(wit h2)\" = true,true,3,true ]" &&
	wait_for 5 "on_host h2 events --kind cluster | grep -q \"corosync-qdevice had exited: started it again\"" &&
	kill -9 "$qn" &&
	wait_for 15 "on_host h3 witness status --json | jq -e \".qnetd.running and .qnetd.pid != $qn\" >/dev/null" &&
	wait_for 5 "on_host h3 events --kind cluster | grep -q \"corosync-qnetd had exited: started it again\"" &&
	for h in h1 h2; do
		wait_for 30 "[ \"\$(wit $h)\" = true,true,3,true ]" || { st $h >&2; return 1; }
	done
'

test_expect "HA in the two-host pool: h2 cut off kills its HA VM, h1 runs it after W (qdevice timeout included), never two QEMUs" '
	mkdir -p "$T/shared" && on_host h1 pool create shared "$T/shared" --shared >/dev/null &&
	on_host h2 pool create shared "$T/shared" --shared >/dev/null &&
	on_host h2 disk create ha-d 16M --pool shared >/dev/null && on h2 create_guest havm --disk ha-d >/dev/null &&
	on_host h2 ha add havm >/dev/null && on_host h2 vm start havm >/dev/null &&
	u=$(on_host h2 vm show --local havm --json | jq -r .uuid) && echo "$u" >"$T/uuids" && hp=$(qemus "$u") && [ -n "$hp" ] &&
	W=$(on_host h1 ha status --json | jq -r .manager.wait_ms) && [ "$W" -ge 6000 ] &&
	wait_for 10 "on_host h2 ha status --json | jq -e \".fence.armed | length == 1\" >/dev/null" &&
	ha_checker_start && t0=$(now_ms) && ip -n "$sw" link set p2 down &&
	tk= && tr= && wait_for 20 "proc_gone $hp" && tk=$(now_ms) && wait_for 30 "qemu_new $u $hp" && tr=$(now_ms);
	ip -n "$sw" link set p2 up && [ -n "$tk" ] && [ -n "$tr" ] &&
	echo "HA, two hosts + witness: cut h2 at 0, its HA QEMU dead at $((tk - t0)) ms, running on h1 at $((tr - t0)) ms (W $W ms)" >>"$T/measured" &&
	[ $tk -lt $tr ] && wait_for 10 "[ \"\$(on_host h1 vm show --local havm --json | jq -r .status.state)\" = running ]" &&
	for h in h2 h1; do
		wait_for 30 "[ \"\$(online $h)\" = h1,h2 ] && [ \"\$(wit $h)\" = true,true,3,true ]" || { st $h >&2; return 1; }
	done &&
	wait_for 15 "! on_host h2 vm show --local havm >/dev/null 2>&1" &&
	ha_checker_stop >>"$T/measured" &&
	on_host h1 ha remove havm >/dev/null && on_host h1 vm kill havm >/dev/null
'

test_expect "witness remove: qdevice stops on both nodes, the device leaves corosync.conf, two votes, still quorate" '
	v=$(st h1 | jq .config_version) &&
	on_host h1 cluster witness remove --yes >out && grep -q "removed the witness 10.99.0.3" out &&
	for h in h1 h2; do
		wait_for 15 "st $h | jq -e \".witness == null and .votes.expected == 2 and .quorate and .config_version == $((v + 1))\" >/dev/null" || { st $h >&2; return 1; }
		! grep -q device "$T/$h/cluster/corosync.conf" && [ ! -e "$T/$h/cluster/qdevice" ] &&
		wait_for 5 "[ \"\$(qdevices_of $h)\" = 0 ]" || return 1
	done &&
	wait_for 15 "on_host h3 witness status --json | jq -e \".connected_clusters == 0\" >/dev/null" &&
	on_host h3 witness remove --yes >out && grep -q "no longer a witness" out &&
	[ "$(qnetds_of h3)" = 0 ] && [ ! -e "$T/h3/witness/nssdb" ]
'

test_expect "a witness for a three-node pool is refused (an odd count has a majority without one)" '
	on_host h3 cluster join h1 >/dev/null &&
	wait_for 20 "[ \"\$(online h1)\" = h1,h2,h3 ] && [ \"\$(quorate h1)\" = true ]" &&
	v=$(st h1 | jq .config_version) &&
	fails on_host h1 cluster witness add h3 2>err && grep -q "has 3 node(s): a witness is for a pool of exactly two" err &&
	st h1 | jq -e ".config_version == $v and .witness == null"
'

[ -f "$T/measured" ] && sed 's/^/# measured: /' "$T/measured"
finish
