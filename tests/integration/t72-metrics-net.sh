#!/usr/bin/env bash
# Metrics of a guest's network NIC (docs/metrics.md): its tap's counters,
# turned to the guest's view, show in `vm stats` (per NIC, by MAC) and in
# GET /metrics as corral_vm_network_{receive,transmit}_{bytes,packets}_total
# once the guest has taken a DHCP lease and pinged its gateway.
. "$(dirname "$0")/lib.sh"
hold_host_net

NET=t72n$((RANDOM % 10000))
OCT=$((RANDOM % 200 + 20))
GW=10.172.$OCT.1
MAC=52:54:00:72:00:01
net_cleanup() {
	if [ -n "$CORRALD_PID" ] && corral net show "$NET" >/dev/null 2>&1; then
		corral vm kill n1 >/dev/null 2>&1
		corral vm delete --yes n1 >/dev/null 2>&1
		corral net delete --yes "$NET" >/dev/null 2>&1
	fi
	return 0
}
trap 'net_cleanup; cleanup' EXIT
start_daemon --metrics-interval 1 || { FAILED=$((FAILED + 1)); exit 1; }

test_expect "a network NIC's traffic shows in vm stats and /metrics, from the guest's side" '
	corral net create "$NET" --subnet 10.172.$OCT.0/24 >/dev/null &&
	create_guest n1 --nic "net=$NET,mac=$MAC" >/dev/null && boot n1 && dhcp n1 >/dev/null &&
	guest_sh n1 "ping -c 5 -s 1400 $GW" 30 | grep -q "5 packets received" &&
	sleep 2 &&
	corral vm stats n1 --since 1m --json >s.json &&
	for n in net_receive net_transmit; do
		jq -e --arg n $n --arg m "$MAC" "[.series[] | select(.name == \$n and .nic == \$m) | .points[][1] | select(. != null)] | add > 5000" s.json ||
			{ echo "no $n traffic"; return 1; }
	done &&
	jq -e --arg m "$MAC" "[.series[] | select(.nic == \$m) | .unit] == [\"bytes/s\",\"bytes/s\",\"packets/s\",\"packets/s\"]" s.json &&
	corral vm stats n1 --since 1m | grep -Eq "^nic $MAC receive +" &&
	api GET /metrics >m.txt &&
	grep "^corral_vm_network_receive_bytes_total{host=\"[^\"]*\",vm=\"n1\",nic=\"$MAC\"}" m.txt | awk "{ exit !(\$2 >= 7000) }" &&
	grep "^corral_vm_network_transmit_packets_total{host=\"[^\"]*\",vm=\"n1\",nic=\"$MAC\"}" m.txt | awk "{ exit !(\$2 >= 5) }" &&
	uuid=$(corral vm show n1 --json | jq -r .uuid) && [ -f "$STATE/metrics/vms/$uuid/nic-${MAC//:/-}.rrd" ]
'

finish
