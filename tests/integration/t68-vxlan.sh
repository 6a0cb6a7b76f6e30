#!/usr/bin/env bash
# VXLAN: two "hosts" (network namespaces joined by a veth pair, 10.99.0.1 and
# 10.99.0.2), a corrald in each, a vxlan network with the same VNI on both,
# one guest on each: the guests reach each other over the overlay.  Deleting
# the network removes its bridge and VXLAN port and nothing else.
. "$(dirname "$0")/lib.sh"
hold_host_net

ID=$((RANDOM % 10000))
NA=va$ID
NB=vb$ID
NET=vx$ID
VNI=$((RANDOM % 100000 + 1000))
PIDS=

in_host() { local h=$1; shift; ip netns exec "$h" "$@"; }
# on A|B corral ARGS...: the CLI of that host's corrald
on() { local h=$1; shift; SOCK=$T/$h.sock corral "$@"; }

start_host() {
	local h=$1 ns=$2
	# nsenter execs corrald itself: $! is its pid (ip netns exec forks, and its pid was
	# what got the TERM at cleanup, leaving corrald running after the test)
	nsenter --net="/run/netns/$ns" -- "$CORRALD" --config /dev/null --allow-path "$T" --allow-path "$GUEST_DIR" \
		--state-dir "$T/$h" --socket "$T/$h.sock" --log-file "$T/$h.log" 8>&- &
	PIDS="$PIDS $!"
	for _ in $(seq 1 100); do
		[ -S "$T/$h.sock" ] && on "$h" host info >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

vx_cleanup() {
	for h in A B; do on $h vm kill 'name:*' >/dev/null 2>&1; done
	sleep 1
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	pkill -f -- "--state-dir $T/" 2>/dev/null # nothing of this run outlives it
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
	return 0
}
trap 'vx_cleanup; cleanup' EXIT

ip netns add "$NA" && ip netns add "$NB" &&
	ip link add eth0 netns "$NA" type veth peer name eth0 netns "$NB" &&
	ip -n "$NA" addr add 10.99.0.1/24 dev eth0 && ip -n "$NB" addr add 10.99.0.2/24 dev eth0 &&
	for n in "$NA" "$NB"; do ip -n "$n" link set eth0 up && ip -n "$n" link set lo up; done ||
	{ echo "cannot set up the two hosts"; exit 1; }
start_host A "$NA" && start_host B "$NB" || { echo "cannot start the two corralds"; FAILED=1; exit 1; }
in_host "$NA" ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort >"$T/links.before"

test_expect "bad vxlan definitions are refused" '
	fails on A net create "$NET" --type vxlan --peer 10.99.0.2 2>err && grep -q "needs its VNI" err &&
	fails on A net create "$NET" --type vxlan --vni $VNI 2>err && grep -q "needs peers" err &&
	fails on A net create "$NET" --type vxlan --vni $VNI --peer 10.99.0 2>err && grep -q "unicast IPv4" err &&
	fails on A net create "$NET" --type vxlan --vni 0 --peer 10.99.0.2 2>err && grep -q "invalid --vni" err &&
	on A net list --json | jq -e ".networks | length == 0"
'

test_expect "a vxlan network on both hosts: bridge with a VXLAN port flooding to the peer" '
	on A net create "$NET" --type vxlan --vni $VNI --peer 10.99.0.2 --local 10.99.0.1 &&
	on B net create "$NET" --type vxlan --vni $VNI --peer 10.99.0.1 &&
	in_host "$NA" ip -d link show "cv-$NET" | grep -q "vxlan id $VNI" &&
	in_host "$NA" ip link show "cv-$NET" | grep -q "master cr-$NET" &&
	in_host "$NA" bridge fdb show dev "cv-$NET" | grep -q "00:00:00:00:00:00 dst 10.99.0.2" &&
	on A net show "$NET" --json | jq -e ".status.vxlan_port and .status.bridge_up" &&
	fails on A net create "${NET}b" --type vxlan --vni $VNI --peer 10.99.0.2 2>err && grep -q "already used" err
'

test_expect "a guest on host A reaches a guest on host B over the overlay" '
	SOCK=$T/A.sock create_guest ga --nic "net=$NET,mac=52:54:00:67:00:01" &&
	SOCK=$T/B.sock create_guest gb --nic "net=$NET,mac=52:54:00:67:00:02" &&
	on A vm start ga && on B vm start gb &&
	SOCK=$T/A.sock wait_console ga CORRAL-GUEST-READY 90 && SOCK=$T/B.sock wait_console gb CORRAL-GUEST-READY 90 &&
	SOCK=$T/A.sock guest_sh ga "ip addr add 10.77.$((ID % 250)).1/24 dev eth0 && ip link set eth0 up" &&
	SOCK=$T/B.sock guest_sh gb "ip addr add 10.77.$((ID % 250)).2/24 dev eth0 && ip link set eth0 up" &&
	SOCK=$T/A.sock guest_sh ga "ping -c 3 -W 5 10.77.$((ID % 250)).2" 60 | grep -q "3 packets received" &&
	in_host "$NB" bridge fdb show dev "cv-$NET" | grep -q "52:54:00:67:00:01 dst 10.99.0.1"
'

test_expect "deleting the network removes its bridge and VXLAN port, nothing else" '
	on A vm kill ga && SOCK=$T/A.sock wait_state ga stopped 20 && on A vm delete --yes ga &&
	on A net delete --yes "$NET" &&
	! in_host "$NA" ip link show "cv-$NET" 2>/dev/null && ! in_host "$NA" ip link show "cr-$NET" 2>/dev/null &&
	in_host "$NA" ip -o link show | awk -F": " "{print \$2}" | sed "s/@.*//" | sort >"$T/links.after" &&
	cmp "$T/links.before" "$T/links.after"
'
finish
