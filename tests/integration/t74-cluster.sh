#!/usr/bin/env bash
# Pools on Corosync, membership and quorum (docs/cluster.md): three "hosts"
# (network namespaces, a corrald each with a private /run, real corosync
# that corrald writes the configuration for and runs).  Create on h1, join
# h2 and h3 through trusted hosts; every host sees three online nodes and
# quorum.  Cutting h3's cable at the switch: h1 and h2 stay quorate and see
# h3 go, h3 loses quorum (times printed); restored, all three are back.
# kill -9 of a corrald leaves corosync running and membership intact, and the
# restarted corrald re-adopts it (no second corosync).  A dead corosync is
# restarted by the supervisor.  leave, node remove, and bad input.
. "$(dirname "$0")/lib.sh"
. "$TESTS/cluster-lib.sh"
# the corosync processes started with host H's configuration
corosyncs_of() { pgrep -f "^corosync -f -c $T/$1/cluster/corosync.conf\$" | wc -l; }
coro_pid() { st "$1" | jq -r '.corosync.pid'; }
# ev_ms H REGEX: the time (ms since the epoch) of H's newest cluster event matching REGEX
ev_ms() {
	local t
	t=$(on_host "$1" events --kind cluster --json | jq -r --arg p "$2" '[.events[] | select(.detail | test($p))] | last | .time // empty')
	[ -n "$t" ] && date -d "$t" +%s%3N
}

test_expect "bad input before any cluster: refused, nothing made" '
	st h1 | jq -e ".cluster == null" && on_host h1 cluster status | grep -q "in no cluster" &&
	fails on_host h1 cluster leave --yes 2>err && grep -q "in no cluster" err &&
	fails on_host h1 cluster node remove h2 --yes 2>err && grep -q "in no cluster" err &&
	fails on_host h1 cluster create "bad name" 2>err && grep -q "cluster name is 1-32 of" err &&
	fails on_host h1 cluster create "../x" 2>err && grep -q "cluster name" err &&
	fails on_host h1 cluster create "$(printf "a%.0s" $(seq 40))" 2>err && grep -q "cluster name" err &&
	fails on_host h1 cluster create ok --link 10.99.0.999 2>err && grep -q "IPv4 or IPv6 address" err &&
	fails on_host h1 cluster create ok --link h1.example 2>err && grep -q "no host name" err &&
	fails on_host h1 cluster create ok --token 10 2>err && grep -q "500 to 60000" err &&
	fails on_host h2 cluster join h1 2>err && grep -q "no trusted host .h1." err &&
	fails on_host h2 cluster join "https://10.99.0.1:8006" 2>err && grep -q "no trusted host has the URL" err &&
	fails on_host h2 cluster join "h1;rm" 2>err && grep -q "host name" err &&
	[ ! -e "$T/h1/cluster/corosync.conf" ] && [ "$(corosyncs_of h1)" = 0 ]
'

test_expect "the three hosts trust each other" '
	nhost_trust h2 h1 >/dev/null && nhost_trust h3 h1 >/dev/null && nhost_trust h3 h2 >/dev/null
'

test_expect "joining a trusted host that is unreachable or in no cluster: refused, nothing changed" '
	ip -n "$(nhost_ns sw)" link set p1 down &&
	fails on_host h2 cluster join h1 2>err; ip -n "$(nhost_ns sw)" link set p1 up; grep -q "cannot reach h1" err &&
	fails on_host h2 cluster join h1 2>err && grep -q "h1: this host is in no cluster" err &&
	st h2 | jq -e ".cluster == null" && [ ! -e "$T/h2/cluster/corosync.conf" ] && [ "$(corosyncs_of h2)" = 0 ]
'

test_expect "create: corosync.conf and key written by corrald, corosync run by it, one node quorate" '
	on_host h1 cluster create lab --token 1000 >out && grep -q "created cluster lab" out &&
	[ "$(stat -c %a "$T/h1/cluster/authkey")" = 400 ] && [ "$(stat -c %s "$T/h1/cluster/authkey")" = 256 ] &&
	grep -q "^  cluster_name: lab$" "$T/h1/cluster/corosync.conf" &&
	grep -q "^  token: 1000$" "$T/h1/cluster/corosync.conf" &&
	grep -q "ring0_addr: 10.99.0.1$" "$T/h1/cluster/corosync.conf" &&
	! grep -q two_node "$T/h1/cluster/corosync.conf" &&
	[ "$(corosyncs_of h1)" = 1 ] &&
	wait_for 10 "st h1 | jq -e \".quorate and .node_id == 1 and .votes.expected == 1 and (.nodes | length) == 1\" >/dev/null" &&
	on_host h1 events --kind cluster | grep -q "created cluster lab" &&
	! grep -rqa "$(od -An -tx1 -N8 "$T/h1/cluster/authkey" | tr -d " \n")" "$T/h1.log" &&
	fails on_host h1 cluster create other 2>err && grep -q "already in cluster lab" err
'

test_expect "join h2 (by name) and h3 (by URL): three nodes online and quorate on every host" '
	t0=$(now_ms) &&
	on_host h2 cluster join h1 >out && grep -q "joined cluster lab as node h2 (id 2)" out &&
	on_host h3 cluster join "$(nhost_url h1)" >out && grep -q "joined cluster lab as node h3 (id 3)" out &&
	for h in h1 h2 h3; do
		wait_for 20 "[ \"\$(online $h)\" = h1,h2,h3 ] && [ \"\$(quorate $h)\" = true ]" || return 1
	done &&
	echo "join: all three hosts quorate with three nodes $(( $(now_ms) - t0 )) ms after the first join" >>"$T/measured" &&
	for h in h1 h2 h3; do
		st $h | jq -e ".config_version == 3 and .votes.expected == 3 and .votes.total == 3 and .votes.quorum == 2" || return 1
	done &&
	st h1 | jq -e "[.nodes[] | {id, name, addrs}] == [{id:1,name:\"h1\",addrs:[\"10.99.0.1\"]},{id:2,name:\"h2\",addrs:[\"10.99.0.2\"]},{id:3,name:\"h3\",addrs:[\"10.99.0.3\"]}]" &&
	st h1 | jq -e "[.nodes[] | select(.self | not) | .links[0].connected] == [true, true]" &&
	cmp "$T/h1/cluster/authkey" "$T/h3/cluster/authkey" &&
	key64=$(base64 -w0 "$T/h1/cluster/authkey" | cut -c1-32) && ! grep -qF -- "$key64" "$T"/h?.log &&
	[ "$(stat -c %a "$T/h2/cluster/authkey")" = 400 ] &&
	on_host h1 cluster status >out && grep -q "^quorate: *yes" out && grep -q "^3 *h3 *10.99.0.3 *yes" out &&
	on_host h1 events --kind cluster | grep -q "added node h3 (id 3" &&
	on_host h2 events --kind cluster | grep -q "config_version 3 from node h1" &&
	fails on_host h2 cluster join h1 2>err && grep -q "already in cluster lab" err &&
	fails on_host h3 cluster create again 2>err && grep -q "already in cluster lab" err
'

test_expect "cut h3 at the switch: h1 and h2 stay quorate without it, h3 loses quorum; restore brings it back" '
	on_host h3 alarm add noquorum --when "host lost quorum" >/dev/null &&
	eff=$(st h1 | jq -r "\"effective token \\(.effective_token_ms) ms, consensus \\(.consensus_ms) ms\"") &&
	sw=$(nhost_ns sw) && t0=$(now_ms) && ip -n "$sw" link set p3 down &&
	wait_for 20 "[ \"\$(online h1)\" = h1,h2 ] && [ \"\$(quorate h1)\" = true ]" && t1=$(( $(now_ms) - t0 )) &&
	wait_for 20 "[ \"\$(quorate h3)\" = false ]" && t3=$(( $(now_ms) - t0 )) &&
	wait_for 5 "[ \"\$(online h2)\" = h1,h2 ] && [ \"\$(quorate h2)\" = true ]" && t2=$(( $(now_ms) - t0 )) &&
	echo "cut h3 (token 1000 ms, $eff): h1 saw it go, still quorate, after $t1 ms; h2 by $t2 ms; h3 not quorate after $t3 ms" >>"$T/measured" &&
	[ $t1 -lt 15000 ] && [ $t3 -lt 15000 ] &&
	e1=$(ev_ms h1 "node h3 .id 3. left the ring") && e2=$(ev_ms h2 "node h3 .id 3. left the ring") &&
	e3=$(ev_ms h3 "quorum lost") &&
	echo "cut h3, by the events corrald recorded: h1 saw h3 leave at +$((e1 - t0)) ms, h2 at +$((e2 - t0)) ms; h3 lost quorum at +$((e3 - t0)) ms" >>"$T/measured" &&
	st h3 | jq -e ".votes.expected == 3 and .votes.total == 1" &&
	on_host h1 events --kind cluster | grep -q "node h3 (id 3) left the ring" &&
	on_host h3 events --kind cluster | grep -q "quorum lost" &&
	wait_for 5 "on_host h3 alarm history noquorum --json | jq -e \".history | map(select(.to == \\\"firing\\\")) | length == 1\" >/dev/null" &&
	on_host h1 alarm history --json | jq -e ".history | length == 0" &&
	t0=$(now_ms) && ip -n "$sw" link set p3 up &&
	for h in h3 h1 h2; do
		wait_for 30 "[ \"\$(online $h)\" = h1,h2,h3 ] && [ \"\$(quorate $h)\" = true ]" || return 1
	done &&
	echo "restore h3: all three quorate with three nodes after $(( $(now_ms) - t0 )) ms" >>"$T/measured" &&
	on_host h3 events --kind cluster | grep -q "quorum regained"
'

test_expect "kill -9 of corrald: corosync runs on, membership holds; the restarted corrald re-adopts it" '
	pid=$(coro_pid h2) && [ "$pid" -gt 0 ] &&
	nhost_kill9 h2 && sleep 1 && kill -0 "$pid" &&
	[ "$(online h1)" = h1,h2,h3 ] && [ "$(quorate h1)" = true ] &&
	nhost_start h2 &&
	wait_for 10 "st h2 | jq -e \".corosync.connected and .quorate\" >/dev/null" &&
	[ "$(coro_pid h2)" = "$pid" ] && [ "$(corosyncs_of h2)" = 1 ] && [ "$(online h2)" = h1,h2,h3 ] &&
	grep -q "corosync (pid $pid) is running: re-adopted" "$T/h2.log"
'

test_expect "a corosync that dies is started again by corrald" '
	pid=$(coro_pid h2) && kill -9 "$pid" &&
	wait_for 20 "[ \"\$(coro_pid h2)\" != null ] && [ \"\$(coro_pid h2)\" != $pid ]" &&
	wait_for 20 "[ \"\$(online h2)\" = h1,h2,h3 ] && [ \"\$(quorate h2)\" = true ]" &&
	on_host h2 events --kind cluster | grep -q "corosync had exited: started it again" &&
	[ "$(corosyncs_of h2)" = 1 ]
'

test_expect "node remove: not this host, not a node that is up" '
	fails on_host h1 cluster node remove h1 --yes 2>err && grep -q "is this host.*cluster leave" err &&
	fails on_host h1 cluster node remove h3 --yes 2>err && grep -q "node h3 is online" err &&
	fails on_host h1 cluster node remove nosuch --yes 2>err && grep -q "has no node nosuch" err &&
	fails on_host h1 cluster node remove "x;y" --yes 2>err && grep -q "node name" err &&
	fails on_host h1 cluster node remove h3 2>err && grep -q -- "--yes" err &&
	st h1 | jq -e "(.nodes | length) == 3 and .config_version == 3"
'

test_expect "leave: h3 is removed by the others, its corosync stops and its files go" '
	pid=$(coro_pid h3) &&
	on_host h3 cluster leave --yes >out && grep -q "left cluster lab (node h1 removed this host)" out &&
	st h3 | jq -e ".cluster == null" && ! kill -0 "$pid" 2>/dev/null && [ "$(corosyncs_of h3)" = 0 ] &&
	[ ! -e "$T/h3/cluster/corosync.conf" ] && [ ! -e "$T/h3/cluster/authkey" ] &&
	for h in h1 h2; do
		wait_for 15 "st $h | jq -e \"(.nodes | map(.name)) == [\\\"h1\\\",\\\"h2\\\"] and .config_version == 4 and .quorate and .votes.expected == 2\" >/dev/null" || return 1
	done &&
	st h1 | jq -e ".warnings | map(select(test(\"two nodes and no witness\"))) | length == 1" &&
	fails on_host h3 cluster leave --yes 2>err && grep -q "in no cluster" err
'

test_expect "node remove of a node that is down: the others drop it" '
	on_host h3 cluster join h2 >out && grep -q "as node h3 (id 3)" out &&
	wait_for 20 "[ \"\$(online h1)\" = h1,h2,h3 ]" &&
	pid=$(coro_pid h3) && nhost_stop h3 && kill -0 "$pid" && kill -9 "$pid" &&
	wait_for 15 "[ \"\$(online h1)\" = h1,h2 ] && [ \"\$(quorate h1)\" = true ]" &&
	on_host h1 cluster node remove h3 --yes >out && grep -q "removed node h3" out &&
	for h in h1 h2; do
		wait_for 10 "st $h | jq -e \"(.nodes | map(.name)) == [\\\"h1\\\",\\\"h2\\\"] and .config_version == 6 and .quorate\" >/dev/null" || return 1
	done &&
	on_host h2 events --kind cluster | grep -q "config_version 6 from node h1"
'

test_expect "a host that is not a member cannot change the cluster through the peer routes" '
	curl_h3() { nhost_in h3 curl -sSk --max-time 10 --cert "$T/h3/tls/host.crt" --key "$T/h3/tls/host.key" "$@"; } &&
	nhost_start h3 &&
	curl_h3 -X PUT -o body -w "%{http_code}" --data-binary "{\"cluster\":{\"name\":\"lab\",\"config_version\":99,\"token_ms\":1000,\"links\":1,\"nodes\":[{\"id\":1,\"name\":\"h1\",\"addrs\":[\"10.99.0.1\"]}]}}" \
		"$(nhost_url h1)/v1/cluster/peer/config" >code && [ "$(cat code)" = 403 ] && grep -q "not a node" body &&
	curl_h3 -X POST -o body -w "%{http_code}" "$(nhost_url h1)/v1/cluster/peer/leave" >code && [ "$(cat code)" = 404 ] &&
	st h1 | jq -e ".config_version == 6"
'

test_expect "a node removed while down comes back alone, and can leave" '
	wait_for 10 "st h3 | jq -e \".cluster == \\\"lab\\\" and .corosync.connected and (.quorate | not)\" >/dev/null" &&
	[ "$(online h3)" = h3 ] && [ "$(online h1)" = h1,h2 ] &&
	on_host h3 cluster leave --yes >out && grep -q "left cluster lab" out &&
	st h3 | jq -e ".cluster == null" && [ "$(corosyncs_of h3)" = 0 ] &&
	st h1 | jq -e ".config_version == 6 and (.nodes | length) == 2 and .quorate" &&
	! on_host h1 events --kind cluster | grep -q "corosync had exited"
'

test_expect "a node gone for good with the majority: node remove needs --force, then the survivor is quorate alone" '
	pid=$(coro_pid h2) && nhost_stop h2 && kill -9 "$pid" &&
	wait_for 15 "[ \"\$(quorate h1)\" = false ] && [ \"\$(online h1)\" = h1 ]" &&
	fails on_host h1 cluster node remove h2 --yes 2>err && grep -q "no quorum.*--force" err &&
	st h1 | jq -e "(.nodes | length) == 2" &&
	on_host h1 cluster node remove h2 --force --yes >out && grep -q "removed node h2" out &&
	wait_for 10 "st h1 | jq -e \".quorate and .votes.expected == 1 and (.nodes | length) == 1 and .config_version == 7\" >/dev/null" &&
	on_host h1 events --kind cluster | grep -q "removed node h2 from cluster lab (config_version 7, forced without quorum)"
'

test_expect "two knet links: cutting one leaves the node online and quorate, the status shows that link down" '
	sw=$(nhost_ns sw) && ip -n "$sw" link add br1 type bridge && ip -n "$sw" link set br1 up &&
	for i in 1 3; do
		ip -n "$sw" link add "r$i" type veth peer name eth1 netns "$(nhost_ns h$i)" &&
		ip -n "$sw" link set "r$i" master br1 && ip -n "$sw" link set "r$i" up &&
		ip -n "$(nhost_ns h$i)" addr add "10.98.0.$i/24" dev eth1 && ip -n "$(nhost_ns h$i)" link set eth1 up || return 1
	done &&
	on_host h1 cluster leave --yes >out && grep -q "its last node" out &&
	on_host h1 cluster create lab2 --token 1000 --link 10.99.0.1 --link 10.98.0.1 >/dev/null &&
	grep -q "ring1_addr: 10.98.0.1" "$T/h1/cluster/corosync.conf" &&
	fails on_host h3 cluster join h1 2>err && grep -q "2 link(s): give one address for each" err &&
	fails on_host h3 cluster join h1 --link 10.99.0.3 --link fd00::3 2>err && grep -q "mix IPv4 and IPv6" err &&
	on_host h3 cluster join h1 --link 10.99.0.3 --link 10.98.0.3 >/dev/null &&
	wait_for 20 "[ \"\$(online h1)\" = h1,h3 ] && [ \"\$(quorate h1)\" = true ] && [ \"\$(quorate h3)\" = true ]" &&
	wait_for 10 "st h1 | jq -e \"[.nodes[1].links[] | select(.connected)] | length == 2\" >/dev/null" &&
	ip -n "$sw" link set p3 down &&
	wait_for 15 "st h1 | jq -e \".nodes[1].links | map(select(.link == 0 and (.connected | not))) | length == 1\" >/dev/null" &&
	sleep 2 && [ "$(online h1)" = h1,h3 ] && [ "$(quorate h1)" = true ] && [ "$(quorate h3)" = true ] &&
	! on_host h1 events --kind cluster | grep -q "node h3 (id 2) left the ring" &&
	on_host h1 cluster status >out && grep -q "^2 *h3 *10.99.0.3,10.98.0.3 *yes *0:down 1:up" out &&
	ip -n "$sw" link set p3 up &&
	wait_for 15 "st h1 | jq -e \"[.nodes[1].links[] | select(.connected)] | length == 2\" >/dev/null"
'

[ -f "$T/measured" ] && sed 's/^/# measured: /' "$T/measured"
finish
