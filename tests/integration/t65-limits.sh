#!/usr/bin/env bash
# Resource limits on real guests: CPU weights under a shared CPU measured
# from cgroup accounting, a CPU limit (a cap: on a loaded machine the guest
# may get less, never more), a disk IOPS limit measured in the
# guest, live `vm set` changes without a restart, the balloon changing the
# guest's MemTotal, an OOM kill by the memory limit reported as the stop
# reason, limits re-applied after kill -9 of corrald, and out-of-range
# values refused without changing anything.
. "$(dirname "$0")/lib.sh"
setup_daemon

# cpu_ns VM: CPU time of the VM's cgroup (ns).
cpu_ns() { corral vm limits "$1" --json | jq -r .effective.cpu_time_ns; }
# memtotal VM: the guest's MemTotal in KiB (a unique comment keeps earlier output out).
memtotal() {
	local v
	for _ in 1 2; do
		v=$(guest_sh "$1" "grep MemTotal /proc/meminfo #$RANDOM" | awk '/^MemTotal:/ { v = $2 } END { print v }')
		[ -n "$v" ] && break
	done
	echo "$v"
}
# within X LO HI: LO <= X <= HI (decimals).
within() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }

test_expect "guests with limits are created and start under them" '
	corral disk create io1 64M --format raw &&
	create_guest heavy --cpu-weight 200 --cpuset 0 &&
	create_guest light --cpu-weight 100 --cpuset 0 --memory-target 160M --disk io1 --disk-iops io1=100 &&
	corral vm start heavy && corral vm start light &&
	wait_ready_after heavy 0 && wait_ready_after light 0 &&
	corral vm limits heavy --json | jq -e ".effective.cpu_weight == 200 and .effective.cpuset == \"0\"" &&
	corral vm limits light --json | jq -e ".disks[0].effective.iops == 100 and .balloon_now.actual_mib == 160" &&
	corral vm show light --json | jq -e ".limits.memory_target_mib == 160 and .disks[0].io.iops == 100"
'

test_expect "CPU weights 2:1 on one shared CPU give CPU time about 2:1" '
	guest_sh heavy "while :; do :; done &" && guest_sh light "while :; do :; done &" &&
	sleep 1 &&
	h0=$(cpu_ns heavy) && l0=$(cpu_ns light) && sleep 5 && h1=$(cpu_ns heavy) && l1=$(cpu_ns light) &&
	ratio=$(awk -v a=$((h1 - h0)) -v b=$((l1 - l0)) "BEGIN { printf \"%.2f\", a / b }") &&
	echo "heavy $((h1 - h0)) ns, light $((l1 - l0)) ns, ratio $ratio" &&
	within "$ratio" 1.5 2.8
'

test_expect "a live CPU limit of 0.5 holds the guest to at most about half a CPU, without a restart" '
	pid=$(corral vm show heavy --json | jq .status.pid) &&
	corral vm set heavy --cpu-limit 0.5 --cpuset none &&
	corral vm limits heavy --json | jq -e ".effective.cpu_quota_us == 50000 and .effective.cpu_period_us == 100000" &&
	sleep 1 && h0=$(cpu_ns heavy) && w0=$(date +%s%N) && sleep 4 && h1=$(cpu_ns heavy) && w1=$(date +%s%N) &&
	cpus=$(awk -v a=$((h1 - h0)) -v w=$((w1 - w0)) "BEGIN { printf \"%.2f\", a / w }") &&
	echo "heavy used $cpus CPUs ($((h1 - h0)) ns of CPU in $((w1 - w0)) ns between the two reads)" &&
	within "$cpus" 0.1 0.6 &&
	[ "$(corral vm show heavy --json | jq .status.pid)" = "$pid" ] &&
	corral vm show heavy --json | jq -e ".limits.cpu_limit == 0.5 and (.limits | has(\"cpuset\") | not)"
'
corral vm kill heavy >/dev/null 2>&1

# reads VM N: N 4 KiB direct reads of /dev/vda in the guest, timed there; prints reads per second.
# (Short command lines: the serial shell mangles lines wider than its terminal.)
reads() {
	guest_sh "$1" "F='of=/dev/null bs=4k iflag=direct' #$RANDOM" >/dev/null &&
	guest_sh "$1" "time dd if=/dev/vda \$F count=$2 2>&1 #$RANDOM" 60 |
		awk -v n="$2" '/^real/ { sub(/s$/, "", $3); t = $2 * 60 + $3 } END { if (t > 0) printf "%d\n", n / t }'
}
test_expect "a disk limited to 100 IOPS does about that; raised live, it does more" '
	guest_sh light "kill \$!" ;
	r=$(reads light 300) && echo "limited: $r reads/s" && [ -n "$r" ] && [ "$r" -le 125 ] &&
	corral vm set light --disk io1 --iops 1000 &&
	corral vm limits light --json | jq -e ".disks[0].effective.iops == 1000" &&
	r2=$(reads light 600) && echo "raised: $r2 reads/s" && [ "$r2" -ge 200 ] &&
	corral vm set light --disk io1 --no-io-limits &&
	corral vm limits light --json | jq -e ".disks[0].effective == {} and .disks[0].configured == {}"
'

test_expect "a disk hot-plugged with I/O limits is limited right after the plug; bad limits refuse the attach" '
	corral disk create io2 16M --format raw &&
	fails corral disk attach light io2 --iops 10 --iops-rd 5 2>err && grep -q iops_rd err &&
	corral vm show light --json | jq -e ".disks | length == 1" &&
	corral disk attach light io2 --iops 50 --bps 1M &&
	corral vm limits light --json | jq -e ".disks[1].volume == \"io2\" and .disks[1].effective.iops == 50 and .disks[1].effective.bps == 1048576" &&
	corral vm show light --json | jq -e ".disks[1].io == {\"iops\": 50, \"bps\": 1048576}" &&
	corral disk detach light io2
'

test_expect "the balloon target changes the guest's MemTotal, live" '
	m0=$(memtotal light) && echo "MemTotal at 160M target: $m0 KiB" &&
	corral vm set light --memory-target 128M && sleep 2 &&
	m1=$(memtotal light) && echo "at 128M: $m1 KiB" && within $((m0 - m1)) 28000 38000 &&
	corral vm set light --memory-target none && sleep 2 &&
	m2=$(memtotal light) && echo "no target: $m2 KiB" && within $((m2 - m1)) 120000 136000 &&
	corral vm show light --json | jq -e ".status.balloon.actual_mib == 256 and (.limits | has(\"memory_target_mib\") | not)"
'

test_expect "out-of-range limits are refused and change nothing" '
	before=$(corral vm show light --json | jq -c "[.limits, .disks, .status.generation]") &&
	eff=$(corral vm limits light --json | jq -c "[.effective.cpu_weight, .effective.cpu_quota_us, .effective.memory_limit_mib, .disks[0].effective]") &&
	fails corral vm set light --cpu-weight 0 2>err && grep -q cpu_weight err &&
	fails corral vm set light --cpu-weight 10001 2>err && grep -q cpu_weight err &&
	fails corral vm set light --cpu-limit 0 2>err && grep -q cpu_limit err &&
	fails corral vm set light --cpu-limit 500 2>err && grep -q cpu_limit err &&
	fails corral vm set light --cpuset 0-99 2>err && grep -q "does not have" err &&
	fails corral vm set light --cpuset 1-0 2>err && grep -q cpuset err &&
	fails corral vm set light --memory-limit 100M 2>err && grep -q memory_limit err &&
	fails corral vm set light --memory-target 1G 2>err && grep -q memory_target err &&
	fails corral vm set light --cpu-weight 300 --disk io1 --iops 100 --iops-rd 50 2>err && grep -q iops_rd err &&
	fails corral vm set light --disk nosuch --iops 100 2>err && grep -q "not a disk" err &&
	fails corral vm set light --iops 100 2>err && grep -q "disk" err &&
	api POST /v1/vms/light/limits "{\"cpu_weight\":50,\"bogus\":1}" | tail -n1 | grep -q "HTTP 400" &&
	[ "$(corral vm show light --json | jq -c "[.limits, .disks, .status.generation]")" = "$before" ] &&
	[ "$(corral vm limits light --json | jq -c "[.effective.cpu_weight, .effective.cpu_quota_us, .effective.memory_limit_mib, .disks[0].effective]")" = "$eff" ]
'

test_expect "after kill -9 of corrald the limits are re-applied to the running guest" '
	corral vm set light --cpu-weight 300 &&
	u=$(corral vm show light --json | jq -r .uuid) &&
	shares=$(ls -d /sys/fs/cgroup/cpu*/corral/vm-$u 2>/dev/null | head -n1) &&
	{ [ -z "$shares" ] || { echo 1024 >"$shares/cpu.shares" && [ "$(cat "$shares/cpu.shares")" = 1024 ]; }; } &&
	kill9_daemon && setup_daemon &&
	wait_state light running &&
	corral vm limits light --json | jq -e ".effective.cpu_weight == 300 and .disks[0].effective == {}"
'
corral vm kill light >/dev/null 2>&1

test_expect "a guest that outgrows its memory limit is stopped by the OOM killer, and says so" '
	create_guest hog --memory-limit 320M &&
	boot hog &&
	corral vm limits hog --json | jq -e ".effective.memory_limit_mib == 320" &&
	guest_sh hog "mkdir -p /big && mount -t tmpfs -o size=250m none /big" &&
	{ guest_sh hog "dd if=/dev/zero of=/big/fill bs=1M count=240" 20; true; } &&
	wait_state hog crashed 30 &&
	corral vm show hog --json | jq -r .status.reason | tee reason && grep -q "OOM killer" reason && grep -q "320 MiB" reason
'

test_expect "host info shows committed CPU and memory" '
	corral vm kill "name:*" >/dev/null 2>&1; corral host info --json | jq -e ".capacity.cpus >= 1 and .capacity.committed_vcpus == 0 and (.capacity.warnings | length == 0)" &&
	corral host info | grep -q "committed memory"
'

finish
