#!/usr/bin/env bash
# t47-ct-net.sh - containers on corral networks and under cgroup limits
# (docs/containers.md "Networks" and "Limits"): a busybox container with a
# NIC on a NAT network gets a DHCP lease from corral's dnsmasq (its rcS runs
# udhcpc) and reaches a real VM on the same network, which resolves its name; its port is filtered like a VM's (the filter
# narrows to its lease; a spoofed source address is dropped); a memory limit
# makes an allocation inside fail, and `ct limits` raises it live (read back
# from the container's cgroup); kill -9 of corrald leaves the container
# running with its network, and the next corrald re-adopts its filter and
# changes its limits; the network cannot be deleted under it; a stopped
# container leaves no veth and no filter.  Bad NICs and limits change nothing.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
hold_host_net
"$SRC/scripts/setup-user.sh" corral-qemu >/dev/null || exit 1

NET=t47n$((RANDOM % 10000))
OCT=$((RANDOM % 200 + 20))
SUB=10.147.$OCT.0/24
GW=10.147.$OCT.1
BR=cr-$NET
HT=corral-hygiene

net_cleanup() {
	if [ -n "$CORRALD_PID" ]; then
		corral ct kill c1 c2 x1 >/dev/null 2>&1
		corral vm kill g1 >/dev/null 2>&1
		sleep 0.5
		corral ct delete --yes c1 c2 x1 >/dev/null 2>&1
		corral vm delete --yes g1 >/dev/null 2>&1
		corral net delete --yes "$NET" >/dev/null 2>&1
	fi
	return 0
}
trap 'net_cleanup; cleanup' EXIT
setup_daemon

LXCP=$STATE/lxc
lxc_entries() { ls -A "$LXCP" 2>/dev/null | sort | tr '\n' ' '; }
ct_json() { corral ct show "$1" --json; }
veth_of() { ct_json "$1" | jq -r '.status.nics[0].veth'; }
chain() { nft list chain bridge $HT "p/$BR/$1" 2>/dev/null; }
dropped() { chain "$1" | grep "comment \"$2\"" | grep -o 'packets [0-9]*' | awk '{s += $2} END {print s + 0}'; }
narrowed() {
	for _ in $(seq 1 40); do chain "$1" | grep -q "ip saddr != $2 " && return 0; sleep 0.25; done
	say "the filter of $1 was not narrowed to $2"; chain "$1" >&2; return 1
}
# cgfile CT FILE: a file of the running container's cgroup, found from its init's /proc/PID/cgroup
# (v1: the hierarchy carrying the file's controller; v2: the unified one).
cgfile() {
	local pid ctl path
	pid=$(ct_json "$1" | jq -r .status.pid) && ctl=${2%%.*}
	path=$(awk -F: -v c="$ctl" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) { print $3; exit } }' "/proc/$pid/cgroup")
	if [ -n "$path" ]; then cat "/sys/fs/cgroup/$ctl$path/$2"; else cat "/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")/$2"; fi
}
# ct_ip CT: wait for the lease its DHCP client (the busybox template's rcS starts udhcpc) got.
ct_ip() {
	local ip
	for _ in $(seq 1 60); do
		ip=$(ct_json "$1" | jq -r ".status.nics[0].ip") && [ "$ip" != null ] && { echo "$ip"; return 0; }
		sleep 0.25
	done
	say "container $1 got no lease"; return 1
}

test_expect "bad NICs and limits are refused and nothing is made" '
	corral net create "$NET" --subnet $SUB >/dev/null &&
	create_guest g1 --nic "net=$NET,mac=52:54:00:47:00:01" >/dev/null &&
	before=$(lxc_entries) &&
	fails corral ct create x1 --template busybox --nic net=nosuchnet 2>err && grep -q "network .nosuchnet. does not exist" err &&
	fails corral ct create x1 --template busybox --nic "net=$NET,mac=01:00:5e:00:00:01" 2>err && grep -q "unicast" err &&
	fails corral ct create x1 --template busybox --nic "net=$NET,mac=zz" 2>err && grep -q "invalid --nic\|must look like" err &&
	fails corral ct create x1 --template busybox --nic "net=$NET,mac=52:54:00:47:00:01" 2>err && grep -q "already used by VM g1" err &&
	fails corral ct create x1 --template busybox --nic "net=$NET,vlan=10" 2>err && grep -q "only a network and a MAC" err &&
	fails corral ct create x1 --template busybox --nic user 2>err && grep -q "corral network" err &&
	fails corral ct create x1 --template busybox --memory 1M 2>err && grep -q "memory_limit_mib" err &&
	fails corral ct create x1 --template busybox --pids 0 2>err && grep -q "pids_limit" err &&
	fails corral ct create x1 --template busybox --cpus 100 2>err && grep -q "cpu_limit" err &&
	fails corral ct create x1 --template busybox --memory lots 2>err && grep -q "invalid --memory" err &&
	api POST /v1/containers "{\"name\":\"x1\",\"template\":\"busybox\",\"limits\":{\"swap\":1}}" | tail -n1 | grep -q "HTTP 400" &&
	[ "$(lxc_entries)" = "$before" ] && [ "$(corral ct list --json | jq ".containers | length")" = 0 ]
'

test_expect "a container on the NAT network gets a lease and reaches a VM on it" '
	corral vm start g1 >/dev/null &&
	corral ct create c1 --template busybox --nic "net=$NET,mac=52:54:00:47:00:0c" --memory 64M --pids 64 >/dev/null &&
	fails corral ct create c2 --template busybox --nic "net=$NET,mac=52:54:00:47:00:0C" 2>err && grep -q "already used by container c1" err &&
	fails corral vm create x2 --nic "net=$NET,mac=52:54:00:47:00:0c" 2>err && grep -q "already used by container c1" err &&
	corral ct start c1 >/dev/null && V=$(veth_of c1) && [ "${V#cv}" != "$V" ] &&
	[ "$(basename "$(readlink "/sys/class/net/$V/master")")" = "$BR" ] &&
	chain "$V" | grep -q "ether saddr != 52:54:00:47:00:0c" &&
	corral ct exec c1 -- cat /sys/class/net/eth0/address | grep -qx 52:54:00:47:00:0c &&
	CIP=$(ct_ip c1) && [ "${CIP%.*}" = "10.147.$OCT" ] && narrowed "$V" "$CIP" &&
	corral ct exec c1 -- ip -4 -o addr show eth0 | grep -q "inet $CIP/24" &&
	corral ct exec c1 -- ip route | grep -q "default via $GW" &&
	corral list | grep -Eq "^container +c1 +running +$CIP" &&
	corral net leases "$NET" | grep -q "52:54:00:47:00:0c *$CIP *c1 *c1 (container)" &&
	wait_console g1 CORRAL-GUEST-READY 90 && dhcp g1 | grep -q "inet 10.147.$OCT." && VIP=$(vm_ip g1) &&
	corral ct exec c1 -- ping -c 2 -W 3 "$VIP" | grep -q "2 packets received" &&
	guest_sh g1 "ping -c 1 -W 3 c1" | grep -q "1 packets received"
'

test_expect "a container sending from another address is dropped like a VM" '
	before=$(($(dropped "$V" ip-spoof) + $(dropped "$V" arp-spoof))) &&
	corral ct exec c1 -- ip addr add 10.147.$OCT.250/24 dev eth0 &&
	fails corral ct exec c1 -- ping -c 2 -W 2 -I 10.147.$OCT.250 "$VIP" >/dev/null &&
	[ $(($(dropped "$V" ip-spoof) + $(dropped "$V" arp-spoof))) -gt "$before" ] &&
	corral ct exec c1 -- ip addr del 10.147.$OCT.250/24 dev eth0 &&
	corral ct exec c1 -- ping -c 1 -W 3 "$VIP" | grep -q "1 packets received"
'

test_expect "a memory limit makes an allocation fail; ct limits raises it live" '
	[ "$(cgfile c1 memory.limit_in_bytes 2>/dev/null || cgfile c1 memory.max)" = 67108864 ] &&
	[ "$(cgfile c1 pids.max)" = 64 ] &&
	{ corral ct exec c1 -- dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null; [ $? -ne 0 ]; } &&
	corral ct limits c1 --memory 256M --cpus 0.5 >out && grep -q "in effect: .*memory 256M" out &&
	[ "$(cgfile c1 memory.limit_in_bytes 2>/dev/null || cgfile c1 memory.max)" = 268435456 ] &&
	corral ct exec c1 -- dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null &&
	ct_json c1 | jq -e ".limits == {\"memory_limit_mib\": 256, \"cpu_limit\": 0.5, \"pids_limit\": 64}" >/dev/null &&
	fails corral ct limits c1 --memory 2M 2>err && grep -q "memory_limit_mib" err &&
	{ [ ! -e /sys/fs/cgroup/memory/memory.limit_in_bytes ] || {
		# v1 refuses a memory limit below what it cannot reclaim (40M of tmpfs, no swap): nothing changes
		corral ct exec c1 -- sh -c "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && dd if=/dev/zero of=/mnt/t/x bs=1M count=40 2>/dev/null" &&
		fails corral ct limits c1 --memory 16M --pids 32 2>err && grep -q "the kernel refused memory" err &&
		[ "$(cgfile c1 pids.max)" = 64 ] &&
		corral ct exec c1 -- sh -c "rm /mnt/t/x; umount /mnt/t"; }; } &&
	fails corral ct limits c1 --pids 99999999 2>err && grep -q "pids_limit" err &&
	[ "$(cgfile c1 memory.limit_in_bytes 2>/dev/null || cgfile c1 memory.max)" = 268435456 ] &&
	ct_json c1 | jq -e ".limits.memory_limit_mib == 256" >/dev/null
'

test_expect "kill -9 corrald: the container runs on with its network; the next corrald re-adopts it" '
	pid=$(ct_json c1 | jq -r .status.pid) && kill9_daemon && sleep 0.3 && kill -0 "$pid" &&
	[ -e "/sys/class/net/$V" ] && chain "$V" | grep -q "ip saddr != $CIP " &&
	start_daemon && [ "$(ct_json c1 | jq -r .status.pid)" = "$pid" ] &&
	grep -q "network $NET: traffic filters of 2 NIC(s) re-adopted" "$T/corrald.log" &&
	chain "$V" | grep -q "ip saddr != $CIP " &&
	corral ct exec c1 -- ping -c 1 -W 3 "$VIP" | grep -q "1 packets received" &&
	corral ct limits c1 --memory 96M --cpus none >/dev/null &&
	[ "$(cgfile c1 memory.limit_in_bytes 2>/dev/null || cgfile c1 memory.max)" = 100663296 ] &&
	fails corral net delete --yes "$NET" 2>err && grep -q "used by" err
'

test_expect "stop: no veth and no filter left; NICs attached and detached while stopped; the next start has them" '
	fails corral ct nic attach c1 "net=$NET" 2>err && grep -q "is running: stop it" err &&
	corral ct stop c1 --timeout 20 >/dev/null && [ ! -e "/sys/class/net/$V" ] && ! chain "$V" >/dev/null &&
	ct_json c1 | jq -e ".status.nics[0].veth == null" >/dev/null &&
	fails corral ct nic attach c1 net=nosuchnet 2>err && grep -q "does not exist" err &&
	fails corral ct nic attach c1 "net=$NET,mac=52:54:00:47:00:01" 2>err && grep -q "already used by VM g1" err &&
	fails corral ct nic detach c1 52:54:00:47:de:ad 2>err && grep -q "no NIC with MAC" err &&
	corral ct nic attach c1 "net=$NET,mac=52:54:00:47:00:0d" | grep -q "attached NIC 52:54:00:47:00:0d to container c1" &&
	corral ct nic list c1 | grep -Eq "^eth1 +52:54:00:47:00:0d +$NET +- +-" &&
	corral ct start c1 >/dev/null && [ -e "/sys/class/net/$V" ] && chain "$V" | grep -q "52:54:00:47:00:0c" &&
	corral ct exec c1 -- cat /sys/class/net/eth1/address | grep -qx 52:54:00:47:00:0d &&
	V2=$(ct_json c1 | jq -r ".status.nics[1].veth") && chain "$V2" | grep -q "52:54:00:47:00:0d" &&
	corral ct stop c1 --timeout 20 >/dev/null && ! chain "$V2" >/dev/null &&
	corral ct nic detach c1 52:54:00:47:00:0d | grep -q "detached NIC" &&
	ct_json c1 | jq -e ".nics | length == 1" >/dev/null &&
	corral ct start c1 >/dev/null && [ -e "/sys/class/net/$V" ] && fails corral ct exec c1 -- test -e /sys/class/net/eth1 &&
	[ "$(cgfile c1 memory.limit_in_bytes 2>/dev/null || cgfile c1 memory.max)" = 100663296 ] &&
	corral ct kill c1 >/dev/null && [ ! -e "/sys/class/net/$V" ] && ! chain "$V" >/dev/null &&
	corral ct delete --yes c1 >/dev/null && corral vm kill g1 >/dev/null && wait_state g1 stopped 20 &&
	corral vm delete --yes g1 >/dev/null && corral net delete --yes "$NET" >/dev/null
'
finish
