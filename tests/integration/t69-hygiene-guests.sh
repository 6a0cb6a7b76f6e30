#!/usr/bin/env bash
# Traffic hygiene on real guests: two guests on a NAT network, whose ports
# corrald filters (net/hygiene.h, docs/network.md "Traffic hygiene").  A guest
# that changes its MAC or its IPv4 address can no longer reach its neighbour
# or the gateway; a guest running a DHCP server (busybox udhcpd) cannot give
# its neighbour a lease; the filters survive kill -9 of corrald and are
# re-adopted; a stopped VM's port filter goes, and a deleted network leaves
# nothing in the hygiene table.  The per-NIC opt-out (filter=off) is parsed
# strictly.  A per-NIC bandwidth limit (bw=, `nic set --bw`) caps a guest's
# TCP throughput both ways, measured against a listener on the host
# (rate.py); lifting it raises it; corrald re-applies it after kill -9.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
hold_host_net

NET=t69n$((RANDOM % 10000))
OCT=$((RANDOM % 200 + 20))
SUB=10.169.$OCT.0/24
GW=10.169.$OCT.1
BR=cr-$NET
HT=corral-hygiene

net_cleanup() {
	if [ -n "$CORRALD_PID" ] && corral net show "$NET" >/dev/null 2>&1; then
		corral vm kill g1 g2 >/dev/null 2>&1
		sleep 1
		corral vm delete --yes g1 g2 g3 >/dev/null 2>&1
		corral net delete --yes "$NET" >/dev/null 2>&1
	fi
	[ -n "${DPID:-}" ] && kill -CONT "$DPID" 2>/dev/null
	return 0
}
trap 'net_cleanup; cleanup' EXIT

tap_of() { corral vm show "$1" --json | jq -r '.status.nics[0].tap'; }
# chain TAP: the port's filter chain as the kernel has it (fails if there is none).
chain() { nft list chain bridge $HT "p/$BR/$1" 2>/dev/null; }
# dropped TAP COMMENT: packets the port's rules with that comment dropped.
dropped() { chain "$1" | grep "comment \"$2\"" | grep -o 'packets [0-9]*' | awk '{s += $2} END {print s + 0}'; }
# narrowed TAP IP: wait until the port's filter allows IPv4 from IP (the lease was learned).
narrowed() {
	for _ in $(seq 1 20); do chain "$1" | grep -q "ip saddr != $2 " && return 0; sleep 0.25; done
	say "the filter of $1 was not narrowed to $2"; chain "$1" >&2; return 1
}
# pings VM IP N: how many of N pings VM got answered (a fresh marker: guest_sh finds output by the command's echo).
pings() { guest_sh "$1" "ping -c $3 -W 2 $2 # $RANDOM" 30 | grep -o '[0-9]* packets received' | tail -n1 | cut -d' ' -f1; }
RATE=$HERE/rate.py
# rate_up VM BYTES PORT: bytes/s the guest sends to a listener on the gateway
# (over the second half of the bytes: the policer lets a sender burst at first).
rate_up() {
	python3 "$RATE" recv "$GW" "$3" "$T/up.$3" & local p=$!
	# the guest's nc connects once: only after the receiver listens (python starts slowly under load)
	for _ in $(seq 1 100); do [ -e "$T/up.$3.listening" ] && break; sleep 0.1; done
	guest_sh "$1" "dd if=/dev/zero bs=1024 count=$(($2 / 1024)) 2>/dev/null | nc $GW $3" 60 >/dev/null
	wait $p && cut -d" " -f4 "$T/up.$3"
}
# rate_down VM BYTES PORT IP: bytes/s the host delivers to a listener in the guest.
rate_down() {
	guest_sh "$1" "sleep 60 | nc -l -p $3 >/dev/null &" >/dev/null &&
		python3 "$RATE" send "$4" "$3" "$2" | cut -d" " -f3
}

setup_daemon

test_expect "the NIC spec's filter= is strict; filter=off is recorded" '
	corral net create "$NET" --subnet $SUB &&
	fails corral vm create x --nic "net=$NET,filter=maybe" 2>err && grep -q "filter=on|off" err &&
	fails corral vm create x --nic "user,filter=off" 2>err && grep -q "filter" err &&
	api POST /v1/vms "{\"name\":\"x\",\"nics\":[{\"mode\":\"user\",\"filter\":false}]}" | tail -n1 | grep -q "HTTP 400" &&
	create_guest g3 --nic "net=$NET,filter=off" &&
	corral vm show g3 --json | jq -e ".nics[0].filter == false" &&
	fails corral vm create x --nic "net=$NET,bw=fast" 2>err && grep -q "bw=RATE" err &&
	fails corral vm create x --nic "net=$NET,bw=10M,filter=off" 2>err && grep -q "needs filter on" err &&
	fails corral vm create x --nic "user,bw=10M" 2>err && grep -q "only a NIC on a network" err &&
	fails corral vm create x --nic "net=$NET,bw=1k" 2>err && grep -q "at least 8000" err &&
	corral nic attach g3 "net=$NET,bw=2Mbit" && corral vm show g3 --json | jq -e ".nics[1].bw == 2000000" &&
	corral vm start g3 && T3=$(corral vm show g3 --json | jq -r ".status.nics[1].tap") &&
	tc qdisc show dev "$T3" | grep -q "tbf .*rate 2Mbit" && chain "$T3" | grep -q "limit rate over 250000 bytes/second" &&
	corral vm kill g3 && wait_state g3 stopped 20 &&
	corral vm delete --yes g3 && ! corral vm show x >/dev/null 2>&1
'

test_expect "two guests on the network: filtered from the start, narrowed to their leases, talking" '
	create_guest g1 --nic "net=$NET,mac=52:54:00:69:00:01" && create_guest g2 --nic "net=$NET,mac=52:54:00:69:00:02" &&
	corral vm show g1 --json | jq -e ".nics[0].filter == true" &&
	corral vm start g1 && corral vm start g2 &&
	T1=$(tap_of g1) && T2=$(tap_of g2) &&
	chain "$T1" | grep -q "ether saddr != 52:54:00:69:00:01" && chain "$T1" | grep -q "ip-spoof" &&
	wait_console g1 CORRAL-GUEST-READY 90 && wait_console g2 CORRAL-GUEST-READY 90 &&
	dhcp g1 | grep -q "inet 10.169.$OCT." && dhcp g2 | grep -q "inet 10.169.$OCT." &&
	IP1=$(vm_ip g1) && IP2=$(vm_ip g2) && narrowed "$T1" "$IP1" && narrowed "$T2" "$IP2" &&
	[ "$(pings g1 $IP2 2)" -ge 1 ] && [ "$(pings g1 $GW 2)" -ge 1 ]
'

test_expect "a guest that changes its MAC reaches neither its neighbour nor the gateway" '
	before=$(dropped "$T1" mac-spoof) &&
	guest_sh g1 "ip link set eth0 down; ip link set eth0 address 52:54:00:69:de:ad; ip link set eth0 up; ip neigh flush dev eth0" &&
	[ "$(pings g1 $GW 3)" = 0 ] && [ "$(pings g1 $IP2 2)" = 0 ] &&
	[ "$(dropped "$T1" mac-spoof)" -gt "$before" ] &&
	guest_sh g1 "ip link set eth0 down; ip link set eth0 address 52:54:00:69:00:01; ip link set eth0 up; sh /up g1" 60 &&
	narrowed "$T1" "$IP1" && [ "$(pings g1 $GW 3)" -ge 1 ]
'

test_expect "a guest that changes its IPv4 address can no longer send" '
	before=$(($(dropped "$T1" ip-spoof) + $(dropped "$T1" arp-spoof))) &&
	guest_sh g1 "ip addr flush dev eth0; ip addr add 10.169.$OCT.77/24 dev eth0; ip neigh flush dev eth0" &&
	[ "$(pings g1 $GW 3)" = 0 ] && [ "$(pings g1 $IP2 2)" = 0 ] &&
	[ $(($(dropped "$T1" ip-spoof) + $(dropped "$T1" arp-spoof))) -gt "$before" ]
'

test_expect "back on its lease it talks again" '
	guest_sh g1 "sh /up g1" 60 | grep -q "inet $IP1/" && [ "$(pings g1 $GW 3)" -ge 1 ] && [ "$(pings g1 $IP2 2)" -ge 1 ]
'

test_expect "a bandwidth limit caps what a guest sends and receives; lifting it raises both" '
	corral nic set g1 52:54:00:69:00:01 --bw 2M && corral vm show g1 --json | jq -e ".nics[0].bw == 2000000" &&
	corral nic list g1 | grep -q "^52:54:00:69:00:01 .* 2M *$" &&
	tc qdisc show dev "$T1" | grep -q "tbf .*rate 2Mbit" && chain "$T1" | grep -q "tx-rate" &&
	U=$(rate_up g1 1000000 7101) && D=$(rate_down g1 600000 7102 "$IP1") &&
	say "limit 2 Mbit/s (250000 B/s): from the guest $U B/s, to it $D B/s" &&
	[ "$U" -le 312500 ] && [ "$D" -le 312500 ] && [ "$U" -ge 100000 ] && [ "$D" -ge 100000 ] &&
	corral nic set g1 52:54:00:69:00:01 --bw none && corral vm show g1 --json | jq -e ".nics[0] | has(\"bw\") | not" &&
	! tc qdisc show dev "$T1" | grep -q tbf && ! chain "$T1" | grep -q tx-rate &&
	U=$(rate_up g1 1500000 7103) && D=$(rate_down g1 1500000 7104 "$IP1") &&
	say "no limit: from the guest $U B/s, to it $D B/s" && [ "$U" -gt 500000 ] && [ "$D" -gt 500000 ] &&
	fails corral nic set g1 52:54:00:69:00:01 --bw 1k 2>err && grep -q "at least 8000" err &&
	fails corral nic set g1 52:54:00:69:de:ad --bw 1M 2>err && grep -q "no NIC with MAC" err &&
	fails corral nic set g1 52:54:00:69:00:01 --bw lots 2>err && grep -q "invalid --bw" err
'

test_expect "a guest running a DHCP server cannot give its neighbour a lease" '
	DPID=$(corral net show "$NET" --json | jq .status.dnsmasq_pid) &&
	guest_sh g2 "printf \"interface eth0\nstart 10.169.$OCT.200\nend 10.169.$OCT.210\nlease_file /u.leases\n\" > /u.conf; touch /u.leases; udhcpd /u.conf" &&
	sleep 0.5 && guest_sh g2 "pidof udhcpd" | grep -q "[0-9]" &&
	kill -STOP "$DPID" &&
	guest_sh g1 "udhcpc -i eth0 -s /bin/true -n -q -t 3 -T 1 2>&1; echo rc=\$?" 30 >"$T/rogue" ; kill -CONT "$DPID"
	cat "$T/rogue" >&2
	grep -q "rc=1" "$T/rogue" && ! grep -q "lease of" "$T/rogue" &&
	say "dhcp-server drops on g2: $(dropped "$T2" dhcp-server)" && [ "$(dropped "$T2" dhcp-server)" -gt 0 ] &&
	guest_sh g2 "killall udhcpd" &&
	guest_sh g1 "sh /up g1" 60 | grep -q "inet $IP1/"
'

test_expect "kill -9 corrald: the filters and bandwidth limits are re-adopted and still drop spoofed frames" '
	corral nic set g2 52:54:00:69:00:02 --bw 8M &&
	kill9_daemon && chain "$T1" | grep -q "ip saddr != $IP1 " &&
	tc qdisc del dev "$T2" root && start_daemon &&
	tc qdisc show dev "$T2" | grep -q "tbf .*rate 8Mbit" && chain "$T2" | grep -q "tx-rate" &&
	chain "$T1" | grep -q "ip saddr != $IP1 " && chain "$T2" | grep -q "ip saddr != $IP2 " &&
	[ "$(pings g1 $GW 2)" -ge 1 ] &&
	guest_sh g1 "ip addr flush dev eth0; ip addr add 10.169.$OCT.78/24 dev eth0; ip neigh flush dev eth0" &&
	[ "$(pings g1 $GW 3)" = 0 ] &&
	guest_sh g1 "sh /up g1" 60 | grep -q "inet $IP1/" && [ "$(pings g1 $GW 2)" -ge 1 ]
'

test_expect "a stopped VM leaves no filter behind; its neighbour keeps its own" '
	corral vm kill g2 && wait_state g2 stopped 20 &&
	! chain "$T2" >/dev/null && ! ip link show "$T2" 2>/dev/null &&
	chain "$T1" | grep -q "ip saddr != $IP1 "
'

test_expect "deleting the network leaves nothing of it in the hygiene table" '
	corral vm kill g1 && wait_state g1 stopped 20 && ! chain "$T1" >/dev/null &&
	corral vm delete --yes g1 g2 && corral net delete --yes "$NET" &&
	! nft list table bridge $HT 2>/dev/null | grep -q "$BR" &&
	! ip link show "$BR" 2>/dev/null
'
finish
