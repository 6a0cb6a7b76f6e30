#!/usr/bin/env bash
# Guest traffic hygiene (src/net/hygiene.c) on a real kernel, with real
# traffic.  A "host" network namespace holds a Linux bridge (and dnsmasq on
# it); three "guests" are network namespaces joined to the bridge by veth
# pairs whose bridge-side ends play the taps.  tests/hygiene-apply applies the
# filters through the same functions corrald's net module calls.  Shown:
# a guest that changes its MAC or IP can no longer send; ARP poisoning is
# dropped; a guest's DHCP server cannot answer its neighbours; a guest
# flooding DHCP requests (random MACs, random chaddr, random client ids) does
# not keep a second guest from a lease, where the same flood unfiltered
# exhausts the pool; lease updates replace rules atomically and idempotently;
# removing filters leaves the ruleset exactly as it was (other tables
# untouched); the bandwidth limits take effect; VLAN support is detected.
# Everything runs in private namespaces, so the machine's own ruleset is
# never touched; namespaces, processes and files are removed even on failure.
GUEST_DIR=${GUEST_DIR:-/nonexistent}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

HA=${HYGIENE_APPLY:-$(dirname "$CORRALD")/tests/hygiene-apply}
RAW=$HERE/rawframes.py
S=$(($$ % 9000 + 1000))
H=hygH$S            # the host namespace
BR=hybr$S           # its bridge
NETNS=()
PIDS=()

hyg_cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for n in "${NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
	cleanup
}
trap hyg_cleanup EXIT
trap 'exit 130' INT TERM

hx() { ip netns exec "$H" "$@"; }
gx() { local g=$1; shift; ip netns exec "hyg$g$S" "$@"; }
port() { echo "hy${S}$1"; }
ha() { hx "$HA" "$@"; }
# counter GUEST COMMENT: packets counted by that guest's rules with that comment
counter() {
	hx nft list chain bridge corral-hygiene "p/$BR/$(port "$1")" 2>/dev/null |
		awk -v c="comment \"$2\"" 'index($0, c) { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}
ruleset() { hx nft list ruleset; }
mac_of() { printf '02:00:00:00:00:%02x' "$1"; }
lease_count() { grep -c . "$T/leases" 2>/dev/null || true; }

# dnsmasq on the bridge: a pool of 4 addresses, rapid commit (a lease per
# DISCOVER), one lease per MAC whatever client id a guest claims.
start_dnsmasq() {
	: >"$T/leases"
	ip netns exec "$H" dnsmasq -k -u root --conf-file=/dev/null --port=0 --interface="$BR" --bind-interfaces \
		--dhcp-range=10.77.0.100,10.77.0.103,255.255.255.0,1h --dhcp-leasefile="$T/leases" \
		--dhcp-rapid-commit --dhcp-ignore-clid --no-ping --log-facility="$T/dnsmasq.log" --log-dhcp &
	DNSMASQ=$!
	PIDS+=("$DNSMASQ")
	sleep 0.3
}
stop_dnsmasq() { kill "$DNSMASQ" 2>/dev/null; wait "$DNSMASQ" 2>/dev/null; }
# udhcp GUEST: does the guest get a lease (prints the address)?
udhcp() {
	gx "$1" busybox udhcpc -i eth0 -f -q -n -t 4 -T 1 -s /bin/true 2>&1 |
		sed -n 's/.*lease of \([0-9.]*\) obtained.*/\1/p' | grep .
}

setup_net() {
	ip netns add "$H" && NETNS+=("$H") || return 1
	hx ip link set lo up
	hx ip link add "$BR" type bridge
	hx ip addr add 10.77.0.1/24 dev "$BR"
	hx ip link set "$BR" up
	# udhcpc reads replies from a packet socket and checks their UDP checksum,
	# which a veth leaves to "hardware": have the senders compute it.
	hx ethtool -K "$BR" tx off >/dev/null
	for g in 1 2 3; do
		ip netns add "hyg$g$S" && NETNS+=("hyg$g$S") || return 1
		gx $g ip link set lo up
		ip -n "$H" link add "$(port $g)" type veth peer name eth0 netns "hyg$g$S"
		gx $g ip link set eth0 address "$(mac_of $g)"
		gx $g ip addr add "10.77.0.1$g/24" dev eth0
		gx $g ip link set eth0 up
		hx ip link set "$(port $g)" master "$BR" up
		gx $g ethtool -K eth0 tx off >/dev/null
	done
	# Tables of someone else's that must survive everything below.
	hx nft -f - <<-EOF
	table inet admin {
		chain input { type filter hook input priority 0; policy accept; tcp dport 2222 counter drop; }
	}
	table bridge othertool {
		chain forward_check { type filter hook forward priority 0; policy accept; ether type arp counter; }
	}
	EOF
}

# xfer FROM_NS TO_NS TO_IP PORT: ms to move 2 MB over TCP, until the receiver has it all
xfer() {
	local t0 rx
	ip netns exec "$2" python3 "$RAW" - sink "$4" &
	rx=$!
	sleep 0.3
	t0=$(date +%s%N)
	ip netns exec "$1" python3 "$RAW" - send "$3" "$4" 2000000 || return 1
	wait "$rx" || return 1
	echo $((($(date +%s%N) - t0) / 1000000))
}

ping1() { gx "$1" busybox ping -c 1 -W 1 "$2" >/dev/null 2>&1; }

test_expect "a bridge with three guests, before any filter" '
	[ -x "$HA" ] && setup_net &&
	ruleset >"$T/before" && grep -q "table inet admin" "$T/before" &&
	ping1 1 10.77.0.12 && ping1 1 10.77.0.1 && ping1 2 10.77.0.13
'

test_expect "filters installed: leased guests talk to each other and to the host" '
	ha apply "$BR" "$(port 1)" "$(mac_of 1)" 10.77.0.11 &&
	ha apply "$BR" "$(port 2)" "$(mac_of 2)" 10.77.0.12 &&
	[ "$(ha list "$BR" | sort)" = "$(printf "%s %s\n%s %s" "$BR" "$(port 1)" "$BR" "$(port 2)")" ] &&
	ping1 1 10.77.0.12 && ping1 2 10.77.0.11 && ping1 1 10.77.0.1 && ping1 2 10.77.0.13
'

test_expect "a guest that changes its MAC can no longer send" '
	before=$(counter 1 mac-spoof) &&
	gx 1 ip link set eth0 address 02:00:00:00:00:99 &&
	! ping1 1 10.77.0.12 && ! ping1 1 10.77.0.1 &&
	[ "$(counter 1 mac-spoof)" -gt "$before" ] &&
	gx 1 ip link set eth0 address "$(mac_of 1)" && ping1 1 10.77.0.12
'

test_expect "a guest that changes its IP can no longer send" '
	gx 1 ip addr add 10.77.0.50/24 dev eth0 &&
	gx 1 ip neigh replace 10.77.0.12 lladdr "$(mac_of 2)" dev eth0 &&
	before=$(counter 1 ip-spoof) &&
	! gx 1 busybox ping -c 1 -W 1 -I 10.77.0.50 10.77.0.12 &&
	[ "$(counter 1 ip-spoof)" -gt "$before" ] &&
	gx 1 ip addr del 10.77.0.50/24 dev eth0 && ping1 1 10.77.0.12
'

test_expect "ARP poisoning: works unfiltered (guest 3), dropped when filtered (guest 1)" '
	hx busybox ping -c 1 -W 1 10.77.0.12 >/dev/null && sleep 1.1 &&
	brmac=$(hx cat /sys/class/net/$BR/address) &&
	gx 3 python3 "$RAW" eth0 arp-reply "$(mac_of 3)" 10.77.0.12 "$brmac" 10.77.0.1 && sleep 0.2 &&
	hx ip neigh show 10.77.0.12 | grep -q "$(mac_of 3)" &&
	hx ip neigh flush dev "$BR" && hx busybox ping -c 1 -W 1 10.77.0.12 >/dev/null &&
	hx ip neigh show 10.77.0.12 | grep -q "$(mac_of 2)" && sleep 1.1 &&
	gx 1 python3 "$RAW" eth0 arp-reply "$(mac_of 1)" 10.77.0.12 "$brmac" 10.77.0.1 && sleep 0.2 &&
	hx ip neigh show 10.77.0.12 | grep -q "$(mac_of 2)" &&
	[ "$(counter 1 arp-spoof)" -ge 3 ]
'

test_expect "802.1Q-tagged frames from a guest are dropped (no VLAN hopping)" '
	before=$(counter 1 other-l2) &&
	gx 1 python3 "$RAW" eth0 tagged "$(mac_of 1)" 42 &&
	[ "$(counter 1 other-l2)" -ge $((before + 3)) ]
'

test_expect "a guest running a DHCP server answers neighbours only while unfiltered" '
	ip netns exec "hyg3$S" dnsmasq -k -u root --conf-file=/dev/null --port=0 --interface=eth0 --bind-interfaces \
		--dhcp-range=10.77.0.200,10.77.0.210,1h --dhcp-leasefile="$T/rogue.leases" --no-ping &
	rogue=$!; PIDS+=("$rogue"); sleep 0.3
	got=$(udhcp 2) && echo "unfiltered rogue offered $got" && case "$got" in 10.77.0.2*) ;; *) false ;; esac &&
	ha apply "$BR" "$(port 3)" "$(mac_of 3)" 10.77.0.13 &&
	! udhcp 2 && [ "$(counter 3 dhcp-server)" -gt 0 ]
	rc=$?; kill "$rogue"; wait "$rogue" 2>/dev/null; exit_ok=$rc; [ $exit_ok -eq 0 ]
'

test_expect "a DHCP flood from random MACs exhausts the pool when unfiltered" '
	ha remove "$(port 3)" && ha list | grep -vq "$(port 3)" &&
	start_dnsmasq &&
	gx 3 python3 "$RAW" eth0 dhcp srcmac 40 "$(mac_of 3)" && sleep 0.5 &&
	echo "leases: $(lease_count)" && [ "$(lease_count)" -eq 4 ] &&
	! udhcp 2
	rc=$?; stop_dnsmasq; [ $rc -eq 0 ]
'

test_expect "filtered, the same floods leave the pool to the other guests" '
	ha apply "$BR" "$(port 3)" "$(mac_of 3)" - &&
	start_dnsmasq &&
	gx 3 python3 "$RAW" eth0 dhcp srcmac 200 "$(mac_of 3)" &&
	gx 3 python3 "$RAW" eth0 dhcp chaddr 200 "$(mac_of 3)" &&
	gx 3 python3 "$RAW" eth0 dhcp clid 200 "$(mac_of 3)" && sleep 0.5 &&
	echo "leases after the floods: $(lease_count)" && [ "$(lease_count)" -le 1 ] &&
	got=$(udhcp 2) && echo "guest 2 got $got" &&
	echo "mac-spoof $(counter 3 mac-spoof) dhcp-chaddr $(counter 3 dhcp-chaddr) dhcp-rate $(counter 3 dhcp-rate)" &&
	[ "$(counter 3 mac-spoof)" -ge 200 ] && [ "$(counter 3 dhcp-chaddr)" -gt 0 ] &&
	[ "$(counter 3 dhcp-rate)" -gt 100 ]
	rc=$?; stop_dnsmasq; [ $rc -eq 0 ]
'

test_expect "a lease update replaces the rules atomically; applying again changes nothing" '
	ha apply "$BR" "$(port 2)" "$(mac_of 2)" 10.77.0.101 &&
	hx nft list chain bridge corral-hygiene "p/$BR/$(port 2)" >"$T/c1" &&
	grep -q "ip saddr != 10.77.0.101" "$T/c1" && ! grep -q "10.77.0.12" "$T/c1" &&
	! ping1 2 10.77.0.11 &&
	ha apply "$BR" "$(port 2)" "$(mac_of 2)" 10.77.0.12 && ping1 2 10.77.0.11 &&
	hx nft list table bridge corral-hygiene | sed "s/packets [0-9]* bytes [0-9]*//" >"$T/t1" &&
	ha apply "$BR" "$(port 2)" "$(mac_of 2)" 10.77.0.12 &&
	hx nft list table bridge corral-hygiene | sed "s/packets [0-9]* bytes [0-9]*//" >"$T/t2" &&
	cmp "$T/t1" "$T/t2"
'

test_expect "bad input is refused and changes nothing" '
	ruleset | sed "s/packets [0-9]* bytes [0-9]*//" >"$T/r1" &&
	! ha apply "$BR" "tap;drop" "$(mac_of 1)" 10.77.0.11 2>err && grep -q "interface name" err &&
	! ha apply "$BR" "$(port 1)" 01:00:5e:00:00:01 10.77.0.11 2>err && grep -q unicast err &&
	! ha apply "$BR" "$(port 1)" "$(mac_of 1)" 224.0.0.1 2>err &&
	ruleset | sed "s/packets [0-9]* bytes [0-9]*//" >"$T/r2" && cmp "$T/r1" "$T/r2"
'

test_expect "bandwidth limits: to the guest (tc tbf) and from it (nft policing)" '
	fast=$(xfer "$H" "hyg2$S" 10.77.0.12 5001) &&
	ha shape "$(port 2)" 500000 && hx tc qdisc show dev "$(port 2)" | grep -q tbf &&
	slow=$(xfer "$H" "hyg2$S" 10.77.0.12 5002) &&
	echo "to guest: ${fast} ms unlimited, ${slow} ms at 500 kB/s" && [ "$slow" -ge 3000 ] &&
	ha shape "$(port 2)" 0 && ! hx tc qdisc show dev "$(port 2)" | grep -q tbf && ha shape "$(port 2)" 0 &&
	ha apply "$BR" "$(port 2)" "$(mac_of 2)" 10.77.0.12 --tx-rate 500000 &&
	slow=$(xfer "hyg2$S" "$H" 10.77.0.1 5003) &&
	echo "from guest: ${slow} ms at 500 kB/s, $(counter 2 tx-rate) packets over the rate dropped" &&
	[ "$slow" -ge 2500 ] && [ "$(counter 2 tx-rate)" -gt 0 ] &&
	ha apply "$BR" "$(port 2)" "$(mac_of 2)" 10.77.0.12
'

test_expect "re-adoption after a restart keeps known ports filtered and drops stale ones" '
	ha apply "$BR" "$(port 3)" "$(mac_of 3)" 10.77.0.13 &&
	hx nft list chain bridge corral-hygiene "p/$BR/$(port 1)" | sed "s/packets [0-9]* bytes [0-9]*//" >"$T/p1" &&
	ha sync "$BR" "$(port 1)" "$(mac_of 1)" 10.77.0.11 "$(port 2)" "$(mac_of 2)" 10.77.0.12 &&
	[ "$(ha list | sort)" = "$(printf "%s %s\n%s %s" "$BR" "$(port 1)" "$BR" "$(port 2)")" ] &&
	hx nft list chain bridge corral-hygiene "p/$BR/$(port 1)" | sed "s/packets [0-9]* bytes [0-9]*//" | cmp - "$T/p1" &&
	ping1 1 10.77.0.12 && gx 1 ip link set eth0 address 02:00:00:00:00:99 && ! ping1 1 10.77.0.12 &&
	gx 1 ip link set eth0 address "$(mac_of 1)" &&
	! ha sync "$BR" "$(port 1)" "$(mac_of 1)" 10.77.0.11 "$(port 1)" "$(mac_of 1)" 10.77.0.11 2>err &&
	grep -q twice err && [ "$(ha list | wc -l)" -eq 2 ]
'

test_expect "removing filters leaves no rule behind and nothing else changed" '
	ha remove "$(port 1)" && ! ha list | grep -q "$(port 1)" &&
	ha remove "$(port 1)" &&
	ha remove-bridge "$BR" && [ -z "$(ha list)" ] &&
	ruleset >"$T/after" && diff <(sed "s/packets [0-9]* bytes [0-9]*//" "$T/before") \
		<(sed "s/packets [0-9]* bytes [0-9]*//" "$T/after") &&
	! grep -q corral-hygiene "$T/after" &&
	gx 1 ip link set eth0 address 02:00:00:00:00:99 && ping1 1 10.77.0.12 &&
	gx 1 ip link set eth0 address "$(mac_of 1)"
'

test_expect "VLAN support is detected and a missing feature is named" '
	hx "$HA" vlan-check "$BR" >out 2>err; rc=$?; cat out err
	if [ -e "/proc/net/vlan" ] && hx test -e "/sys/class/net/$BR/bridge/vlan_filtering"; then
		[ $rc -eq 0 ]
	else
		[ $rc -ne 0 ] && grep -q "CONFIG_BRIDGE_VLAN_FILTERING\|CONFIG_VLAN_8021Q" err &&
		if ! hx test -e "/sys/class/net/$BR/bridge/vlan_filtering"; then
			grep -q "bridge_vlan_filtering=no" out && grep -q CONFIG_BRIDGE_VLAN_FILTERING err &&
			! hx ip link set "$BR" type bridge vlan_filtering 1 2>/dev/null
		fi
	fi
'

finish
