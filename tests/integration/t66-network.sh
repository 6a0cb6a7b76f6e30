#!/usr/bin/env bash
# Networks: a NAT network with DHCP/DNS (dnsmasq), masquerade and a port
# forward (nftables), two real guests on it; corrald killed with -9 and
# restarted re-adopts it; IPv6 on it (router adverts, SLAAC, masquerade);
# bad input changes nothing (VLANs on this kernel,
# which lacks bridge VLAN filtering, and duplicate MACs included); deleting
# it removes exactly what corral made.  The "outside" is a network namespace joined to
# the host by a veth pair.
. "$(dirname "$0")/lib.sh"
hold_host_net

NET=t66n$((RANDOM % 10000))
OCT=$((RANDOM % 200 + 20))
SUB=10.166.$OCT.0/24
GW=10.166.$OCT.1
SUB6=fd66:$OCT::/64
GW6=fd66:$OCT::1
OUT6=fd99:166::2
NS=cr$NET
VH=h$NET  # host end of the veth (172.31.166.1)
XB=x$NET  # somebody else's bridge
XT=x$NET  # somebody else's nft table
OUT=172.31.166.2

net_cleanup() {
	# a failed run must not leave the network behind either
	if [ -n "$CORRALD_PID" ] && corral net show "$NET" >/dev/null 2>&1; then
		corral vm kill g1 g2 >/dev/null 2>&1
		sleep 1
		corral vm delete g1 g2 v1 v2 >/dev/null 2>&1
		corral net delete "${NET}b" >/dev/null 2>&1
		corral net delete "$NET" >/dev/null 2>&1
	fi
	ip netns del "$NS" 2>/dev/null
	ip link del "$VH" 2>/dev/null
	ip link del "$XB" 2>/dev/null
	nft delete table inet "$XT" 2>/dev/null
	[ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null
	[ -n "${SRV6:-}" ] && kill "$SRV6" 2>/dev/null
	return 0
}
trap 'net_cleanup; cleanup' EXIT

# Somebody else's bridge and firewall table, which corral must leave alone.
ip link add "$XB" type bridge && ip link set "$XB" up &&
	nft add table inet "$XT" && nft add chain inet "$XT" pass '{ type filter hook forward priority 0; policy accept; }' &&
	nft add rule inet "$XT" pass counter accept || { echo "cannot set up the foreign bridge and table"; exit 1; }

# What is on the host before: every other link and table must still be there after.
ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort >"$T/links.before"
nft list tables | sort >"$T/tables.before"
for t in $(nft list tables | awk '{print $2":"$3}'); do
	nft -s list table ${t%%:*} ${t#*:} >"$T/table.${t%%:*}.${t#*:}" 2>/dev/null
done

# The outside: a namespace at 172.31.166.2 with a TCP server that says who called.
ip netns add "$NS" && ip link add "$VH" type veth peer name eth0 netns "$NS" &&
	ip addr add 172.31.166.1/24 dev "$VH" && ip link set "$VH" up &&
	ip -n "$NS" addr add $OUT/24 dev eth0 && ip -n "$NS" link set eth0 up && ip -n "$NS" link set lo up &&
	ip addr add fd99:166::1/64 dev "$VH" nodad && ip -n "$NS" addr add $OUT6/64 dev eth0 nodad ||
	{ echo "cannot set up the outside namespace"; exit 1; }
ip netns exec "$NS" socat TCP-LISTEN:7000,reuseaddr,fork \
	SYSTEM:'echo from $SOCAT_PEERADDR; cat >/dev/null' 2>/dev/null &
SRV=$!
ip netns exec "$NS" socat TCP6-LISTEN:7006,reuseaddr,fork \
	SYSTEM:'echo from6 $SOCAT_PEERADDR; cat >/dev/null' 2>/dev/null &
SRV6=$!

setup_daemon

test_expect "bad network definitions are refused and change nothing" '
	fails corral net create "$NET" --subnet 10.166.$OCT.5/24 2>err && grep -q "not a network address" err &&
	fails corral net create "$NET" --subnet 10.166.$OCT.0/33 2>err && grep -qi "subnet" err &&
	fails corral net create "$NET" --subnet banana 2>err && grep -q "A.B.C.D/LEN" err &&
	fails corral net create "../x" --subnet $SUB 2>err && grep -q "invalid network name" err &&
	fails corral net create "a;reboot" --subnet $SUB 2>err && grep -q "invalid network name" err &&
	fails corral net create "$NET" --subnet 172.31.166.0/24 2>err && grep -q "overlaps 172.31.166.0/24 on the host" err &&
	fails corral net create "$NET" --subnet $SUB --bridge "$VH" 2>err && grep -q "not corral" err &&
	fails corral net create "$NET" --type bridge --bridge "$VH" 2>err && grep -q "not a bridge" err &&
	fails corral net create "$NET" --type bridge --bridge nosuchbr0 2>err && grep -q "does not exist" err &&
	fails corral net create "$NET" --subnet $SUB --type mesh 2>err && grep -q "nat, isolated, bridge or vxlan" err &&
	corral net list --json | jq -e ".networks | length == 0" &&
	! ip link show "cr-$NET" 2>/dev/null && ! nft list table ip "corral-$NET" 2>/dev/null
'

test_expect "a nat network: bridge with the gateway address, dnsmasq, its own nft table" '
	fails corral net create "$NET" --subnet $SUB --subnet6 fd66:$OCT::/56 2>err && grep -q "must be a /64" err &&
	fails corral net create "$NET" --subnet $SUB --subnet6 fd99:166::/64 2>err &&
	grep -q "overlaps fd99:166::1/64 on the host.s interface $VH" err &&
	corral net create "$NET" --subnet $SUB --subnet6 $SUB6 --reserve g1=10.166.$OCT.10 &&
	ip -o addr show "cr-$NET" | grep -q "inet $GW/24" && ip -o addr show "cr-$NET" | grep -q "inet6 $GW6/64" &&
	corral net show "$NET" --json | jq -e ".subnet6 == \"$SUB6\" and .gateway6 == \"$GW6\"" &&
	nft list table ip6 "corral-$NET" | grep -q "ip6 saddr $SUB6 ip6 daddr != $SUB6 masquerade" &&
	fails corral net create "${NET}b" --subnet 10.167.$OCT.0/24 --subnet6 $SUB6 2>err && grep -q "already used by network" err &&
	corral net show "$NET" --json | jq -e ".status.bridge_up and (.status.dnsmasq_pid | type == \"number\") and .status.firewall" &&
	nft list table ip "corral-$NET" | grep -q masquerade &&
	fails corral net create "${NET}b" --subnet 10.166.$OCT.128/25 2>err && grep -q "overlaps" err &&
	fails corral net create "${NET}b" --subnet 10.167.0.0/24 --bridge "cr-$NET" 2>err && grep -q "already used" err &&
	fails corral vm create x --nic net=nosuchnet 2>err && grep -q "does not exist" err
'

# links: the host's interface names, sorted.
links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
# Whether this kernel has bridge VLAN filtering (asked in a throw-away namespace).
VLANS=no
ip netns add "${NS}v" 2>/dev/null &&
	ip netns exec "${NS}v" sh -c 'ip link add b0 type bridge && ip link set b0 type bridge vlan_filtering 1' 2>/dev/null &&
	VLANS=yes
ip netns del "${NS}v" 2>/dev/null

if [ $VLANS = no ]; then
test_expect "vlan= on a kernel without bridge VLAN filtering: refused naming the missing feature, nothing changed" '
	links >"$T/links.v0" &&
	fails corral vm create v1 --nic "net=$NET,vlan=10" 2>err && cat err >&2 &&
	grep -q "need bridge VLAN filtering, which this kernel ($(uname -r)) lacks" err && grep -q CONFIG_BRIDGE_VLAN_FILTERING err &&
	! corral vm show v1 >/dev/null 2>&1 &&
	fails corral vm create v1 --nic "net=$NET,vlan=trunk:10/20-22,filter=off" 2>err && grep -q CONFIG_BRIDGE_VLAN_FILTERING err &&
	fails corral vm create v1 --nic "net=$NET,vlan=4095" 2>err && grep -q "outside 1-4094" err &&
	fails corral vm create v1 --nic "net=$NET,vlan=trunk:10" 2>err && grep -q "filter=off" err &&
	api POST /v1/vms "{\"name\":\"v1\",\"nics\":[{\"mode\":\"network\",\"network\":\"$NET\",\"vlan\":\"7\"}]}" >out &&
	tail -n1 out | grep -q "HTTP 4" && grep -q CONFIG_BRIDGE_VLAN_FILTERING out &&
	create_guest v1 --nic "net=$NET" &&
	fails corral nic attach v1 "net=$NET,vlan=10" 2>err && grep -q CONFIG_BRIDGE_VLAN_FILTERING err &&
	corral vm show v1 --json | jq -e "(.nics | length == 1) and (.nics[0] | has(\"vlan\") | not)" &&
	fails corral vm edit v1 --nic "net=$NET,vlan=10" 2>err && grep -q CONFIG_BRIDGE_VLAN_FILTERING err &&
	corral vm show v1 --json | jq -e "(.nics | length == 1) and (.nics[0] | has(\"vlan\") | not)" &&
	corral vm delete v1 && ! corral vm show v1 >/dev/null 2>&1 &&
	links >"$T/links.v1" && cmp "$T/links.v0" "$T/links.v1"
'
else
test_expect "vlan= on a kernel with bridge VLAN filtering is accepted and recorded" '
	create_guest v1 --nic "net=$NET,vlan=10" && corral vm show v1 --json | jq -e ".nics[0].vlan == \"10\"" &&
	corral vm delete v1
'
fi

test_expect "two guests get DHCP leases and see each other by name" '
	create_guest g1 --nic net=$NET && create_guest g2 --nic "net=$NET,mac=52:54:00:66:00:02" &&
	fails create_guest g3 --nic "net=$NET,mac=52:54:00:66:00:02" 2>err && grep -q "already used by VM g2" err &&
	corral vm start g1 && corral vm start g2 && wait_console g1 CORRAL-GUEST-READY 90 && wait_console g2 CORRAL-GUEST-READY 90 &&
	dhcp g1 | grep -q "inet 10.166.$OCT.10/24" && dhcp g2 | grep -q "inet 10.166.$OCT." &&
	[ "$(vm_ip g1)" = 10.166.$OCT.10 ] && IP2=$(vm_ip g2) && [ -n "$IP2" ] && [ "$IP2" != null ] &&
	corral net leases "$NET" | grep -q "52:54:00:66:00:02 *$IP2 .*g2" &&
	corral vm list | grep -q "g1 .*10.166.$OCT.10" &&
	guest_sh g1 "nslookup g2 $GW" | grep -q "$IP2" &&
	guest_sh g1 "ping -c 2 -W 3 g2" | grep -q "2 packets received" &&
	guest_sh g2 "ping -c 2 -W 3 g1" | grep -q "2 packets received"
'

test_expect "guests reach the outside through masquerade; the outside reaches g1 through a port forward" '
	guest_sh g2 "echo x | nc -w 5 $OUT 7000" | grep -q "from 172.31.166.1" &&
	guest_sh g1 "mkdir -p /www && echo served-by-g1 > /www/index.html && httpd -p 80 -h /www" &&
	corral net forward add "$NET" tcp:18080 g1:80 &&
	corral net forward list "$NET" | grep -q "tcp:18080 *g1 *80" &&
	ip netns exec "$NS" curl -s -m 10 http://172.31.166.1:18080/ | grep -q served-by-g1 &&
	curl -s -m 10 http://$GW:18080/ | grep -q served-by-g1 &&
	fails corral net forward add "$NET" tcp:18080 g2:80 2>err && grep -q "already forwarded" err
'

# v6 VM: the guest's global IPv6 address on eth0 (from the router adverts), or nothing.
# (only once duplicate address detection is done: a tentative address is not used yet)
v6() { guest_sh "$1" "ip -6 -o addr show dev eth0 scope global # $RANDOM" 10 | grep -v tentative | grep -o "fd66:[0-9a-f:]*" | head -n1; }
# from6 VM: the outside's TCP server over IPv6 sees the host's address (masquerade; socat writes it in full).
from6() { guest_sh "$1" "echo x | nc -w 5 $OUT6 7006" | grep -q "from6 \[fd99:0166:0000:0000:0000:0000:0000:0001\]"; }

test_expect "IPv6: guests take addresses from the router adverts and reach each other, the host and the outside; the host reaches them" '
	for _ in $(seq 1 10); do A1=$(v6 g1) && A2=$(v6 g2) && [ -n "$A1" ] && [ -n "$A2" ] && break; sleep 0.5; done &&
	say "g1 $A1, g2 $A2" && [ -n "$A1" ] && [ -n "$A2" ] &&
	guest_sh g1 "ping6 -c 2 -W 3 $A2" | grep -q "2 packets received" &&
	guest_sh g2 "ping6 -c 2 -W 3 $GW6" | grep -q "2 packets received" &&
	curl -s -m 10 -g "http://[$A1]:80/" | grep -q served-by-g1 &&
	from6 g2 &&
	guest_sh g1 "nslookup g2 $GW6" | grep -q "$IP2"
'

test_expect "kill -9 corrald: the network is re-adopted, guests keep addresses and connectivity" '
	DPID=$(corral net show "$NET" --json | jq .status.dnsmasq_pid) &&
	BIDX=$(cat /sys/class/net/cr-$NET/ifindex) &&
	kill9_daemon && start_daemon &&
	[ "$(corral net show "$NET" --json | jq .status.dnsmasq_pid)" = "$DPID" ] &&
	[ "$(cat /sys/class/net/cr-$NET/ifindex)" = "$BIDX" ] &&
	[ "$(vm_ip g1)" = 10.166.$OCT.10 ] && [ "$(vm_ip g2)" = "$IP2" ] &&
	guest_sh g1 "ping -c 1 -W 5 $IP2" 60 | grep -q "1 packets received" &&
	guest_sh g2 "echo x | nc -w 5 $OUT 7000" | grep -q "from 172.31.166.1" &&
	ip netns exec "$NS" curl -s -m 10 http://172.31.166.1:18080/ | grep -q served-by-g1 &&
	ip -o addr show "cr-$NET" | grep -q "inet6 $GW6/64" && guest_sh g1 "ping6 -c 1 -W 5 $A2" | grep -q "1 packets received" &&
	from6 g2 &&
	guest_sh g2 "sh /up g2" 60 | grep -q "inet $IP2/"
'

test_expect "a NIC hot-plugged into a running guest appears and gets an address; unplug removes it; link down and up" '
	corral nic attach g2 "net=$NET,mac=52:54:00:66:01:02" &&
	for i in $(seq 1 40); do guest_sh g2 "ls /sys/class/net" | grep -q eth1 && break; sleep 0.5; done &&
	guest_sh g2 "sh /up g2 eth1" 60 | grep -q "inet 10.166.$OCT." &&
	corral nic list g2 | grep -q "52:54:00:66:01:02 *$NET .*10.166.$OCT." &&
	for i in $(seq 1 30); do corral vm events g2 | grep -q "NIC 52:54:00:66:01:02 has address 10.166.$OCT" && break; sleep 0.5; done &&
	corral vm events g2 | grep -q "NIC 52:54:00:66:01:02 has address 10.166.$OCT" &&
	corral net leases "$NET" | grep -q "52:54:00:66:01:02 .*g2" &&
	TAP=$(corral vm show g2 --json | jq -r ".status.nics[1].tap") && ip link show "$TAP" | grep -q "master cr-$NET" &&
	M1=$(corral vm show g1 --json | jq -r ".nics[0].mac" | tr a-f A-F) &&
	fails corral nic attach g2 "net=$NET,mac=$M1" 2>err && grep -qi "MAC address $M1 is already used by VM g1" err &&
	fails corral nic attach g2 "net=$NET,mac=52:54:00:66:01:02" 2>err && grep -q "used by another NIC of this VM" err &&
	corral vm show g2 --json | jq -e ".nics | length == 2" &&
	fails corral nic detach g2 52:54:00:66:00:02 2>err && grep -q "while the VM is stopped" err &&
	corral nic detach g2 52:54:00:66:01:02 &&
	sleep 1 && guest_sh g2 "cat /proc/net/dev" >"$T/dev" && grep -q eth0 "$T/dev" && ! grep -q eth1 "$T/dev" &&
	! ip link show "$TAP" 2>/dev/null &&
	corral vm show g2 --json | jq -e ".nics | length == 1" &&
	corral nic link g2 52:54:00:66:00:02 down && [ "$(guest_sh g2 "cat /sys/class/net/eth0/carrier")" = 0 ] &&
	corral nic link g2 52:54:00:66:00:02 up && [ "$(guest_sh g2 "cat /sys/class/net/eth0/operstate")" = up ]
'

test_expect "a bridge network attaches to a host bridge and leaves it on delete" '
	corral net create "${NET}b" --type bridge --bridge "$XB" &&
	corral net show "${NET}b" --json | jq -e ".status.bridge_up and .type == \"bridge\" and (.status | has(\"dnsmasq_pid\") | not)" &&
	fails corral net create "${NET}c" --type bridge --bridge "cr-$NET" 2>err && grep -q "already used by network .$NET." err &&
	if [ $VLANS = no ]; then fails corral vm create v2 --nic "net=${NET}b,vlan=10" 2>err && grep -q CONFIG_BRIDGE_VLAN_FILTERING err; else
		fails corral vm create v2 --nic "net=${NET}b,vlan=10" 2>err && grep -q "VLAN filtering off" err; fi &&
	! corral vm show v2 >/dev/null 2>&1 &&
	corral net delete "${NET}b" && ip link show "$XB" | grep -q "state UP\|UP"
'

test_expect "a network in use cannot be deleted; deleting it removes its bridge, dnsmasq and table, nothing else" '
	fails corral net delete "$NET" 2>err && grep -q "used by VM g1, g2" err &&
	ip link show "cr-$NET" >/dev/null &&
	TAPS=$(for v in g1 g2; do corral vm show $v --json | jq -r ".status.nics[].tap"; done) &&
	[ "$(echo $TAPS | wc -w)" = 2 ] && for t in $TAPS; do ip link show "$t" | grep -q "master cr-$NET"; done &&
	corral vm kill g1 && corral vm kill g2 && wait_state g1 stopped 20 && wait_state g2 stopped 20 &&
	for t in $TAPS; do ! ip link show "$t" 2>/dev/null; done &&
	corral vm delete g1 g2 &&
	corral net delete "$NET" &&
	! ip link show "cr-$NET" 2>/dev/null && ! nft list table ip "corral-$NET" 2>/dev/null &&
	! nft list table ip6 "corral-$NET" 2>/dev/null &&
	proc_gone "$DPID" &&
	ip -o link show | awk -F": " "{print \$2}" | sed "s/@.*//" | sort >"$T/links.after" &&
	[ -z "$(comm -23 "$T/links.before" "$T/links.after")" ] &&
	nft list tables | sort >"$T/tables.after" &&
	[ -z "$(comm -23 "$T/tables.before" "$T/tables.after")" ] &&
	changed= && for f in "$T"/table.*; do
		[ -e "$f" ] || continue
		t=${f#$T/table.}; nft -s list table ${t%%.*} ${t#*.} | cmp -s - "$f" || changed="$changed $t"
	done && echo "tables changed: ${changed:-none}" && [ -z "$changed" ]
'
finish
