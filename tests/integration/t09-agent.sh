#!/usr/bin/env bash
# The QEMU guest agent with a real guest running Debian's qemu-ga (the guest
# kit starts it on the org.qemu.guest_agent.0 port): vm show reports it
# connected with the guest's host name, OS and addresses (also in vm list);
# a backup and a live snapshot freeze the guest's ext2 filesystem and thaw it
# (a write succeeds after), --no-freeze and a VM with --agent off are
# crash-consistent and say so; with qemu-ga killed, vm show stays fast and
# says "not responding" and a backup falls back to crash-consistent; vm stop
# of a guest deaf to the power button powers it off through guest-shutdown.
. "$(dirname "$0")/lib.sh"
setup_daemon

# agent_state VM: the agent state vm show reports.
agent_state() { corral vm show "$1" --json | jq -r .status.agent.state; }
# wait_agent VM STATE [TIMEOUT_S]
wait_agent() {
	local vm=$1 want=$2 t=${3:-30} st=
	local end=$((SECONDS + t))
	while [ $SECONDS -lt $end ]; do
		st=$(agent_state "$vm")
		[ "$st" = "$want" ] && return 0
		sleep 0.5
	done
	say "vm $vm: agent '$st', expected '$want'"
	return 1
}
# ms COMMAND...: run it, print how long it took in milliseconds.
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }

test_expect "the agent channel is on by default, off with --agent off, bad values refused" '
	corral disk create ag-data 16M >/dev/null &&
	create_guest ag --disk ag-data --cmdline "$GUEST_CMDLINE corral.noacpi corral.hostname=agent-guest" >/dev/null &&
	[ "$(corral vm show ag --json | jq -r .agent)" = true ] &&
	corral disk create noag-data 8M >/dev/null &&
	create_guest noag --disk noag-data --agent off >/dev/null &&
	[ "$(corral vm show noag --json | jq -r .agent)" = false ] &&
	corral vm show noag | grep -Eq "^agent: +off" &&
	fails corral vm edit noag --agent maybe &&
	api POST /v1/vms "{\"name\":\"x1\",\"agent\":\"yes\"}" | grep -q "HTTP 400" &&
	! corral vm show x1 >/dev/null 2>&1 &&
	corral vm edit noag --agent on && [ "$(corral vm show noag --json | jq -r .agent)" = true ] &&
	corral vm edit noag --agent off && [ "$(corral vm show noag --json | jq -r .agent)" = false ]
'

test_expect "a running guest with qemu-ga: connected, with its host name and OS" '
	{ noag_n=$(ready_count noag); corral vm start noag >/dev/null; } &&
	boot ag && t0=$SECONDS && wait_agent ag connected 30 && say "agent connected $((SECONDS - t0)) s after the ready marker" &&
	corral vm show ag --json | jq -e ".status.agent.hostname == \"agent-guest\"" &&
	corral vm show ag --json | jq -e ".status.agent.os.id == \"corral-guest\"" &&
	corral vm show ag | grep -Eq "^guest: +agent-guest, corral test guest" &&
	uuid=$(corral vm show ag --json | jq -r .uuid) &&
	[ -S "$STATE/run/$uuid/agent.sock" ]
'

test_expect "the guest addresses: in vm show (with the NIC MAC) and in vm list" '
	mac=$(corral vm show ag --json | jq -r ".nics[0].mac") &&
	guest_sh ag "ip addr add 192.0.2.7/24 dev eth0 && ip link set eth0 up" &&
	end=$((SECONDS + 20)) &&
	until corral vm show ag --json | jq -e ".status.agent.ips | index(\"192.0.2.7\")" >/dev/null; do
		[ $SECONDS -lt $end ] || return 1; sleep 1
	done &&
	corral vm show ag --json |
		jq -e --arg m "$mac" ".status.agent.interfaces[] | select(.name == \"eth0\") | .mac == \$m and (.addresses | index(\"192.0.2.7/24\"))" &&
	corral vm show ag | grep -Eq "^ +eth0 \($mac\): 192.0.2.7/24" &&
	! corral vm show ag --json | jq -e ".status.agent.ips | index(\"127.0.0.1\")" >/dev/null &&
	end=$((SECONDS + 15)) &&
	until corral vm list | grep -E "^ag " | grep -q "192.0.2.7"; do
		[ $SECONDS -lt $end ] || return 1; sleep 1
	done
'

test_expect "a backup freezes the guest filesystem, thaws it after (a write succeeds), and says so" '
	guest_sh ag "modprobe crc32c_generic && modprobe ext4 && mke2fs -q /dev/vda && mkdir -p /data && mount -t ext2 /dev/vda /data && echo one > /data/f && sync" 60 &&
	corral repo create "$T/repo" >/dev/null &&
	corral backup run ag --json >"$T/b1" &&
	jq -e ".result.vms[0].consistency == \"filesystem-frozen\"" "$T/b1" &&
	jq -r ".result.vms[0].consistency_note" "$T/b1" | grep -Eq "^filesystem-frozen \([1-9]" &&
	corral backup run ag | grep -q "^ag: consistency: filesystem-frozen" &&
	guest_sh ag "echo two > /data/g && sync && cat /data/g" 10 | grep -q "^two" &&
	corral vm show ag --json | jq -e "[.status.events[].detail] | any(test(\"consistency: filesystem-frozen\"))"
'

test_expect "--no-freeze and a VM with --agent off are crash-consistent, with the reason" '
	corral backup run ag --no-freeze --json | jq -e ".result.vms[0].consistency == \"crash\" and (.result.vms[0].consistency_note | test(\"no-freeze\"))" &&
	wait_ready_after noag "$noag_n" &&
	corral backup run noag --json >"$T/b2" &&
	jq -e ".result.vms[0].consistency == \"crash\"" "$T/b2" &&
	jq -r ".result.vms[0].consistency_note" "$T/b2" | grep -q "agent off" &&
	corral vm show noag --json | jq -e ".status.agent.state == \"off\"" &&
	corral vm kill noag
'

test_expect "a live snapshot freezes and thaws too; --memory needs no freeze" '
	corral snapshot create ag s1 | grep -q "consistency: filesystem-frozen" &&
	guest_sh ag "echo three > /data/h && sync && cat /data/h" 10 | grep -q "^three" &&
	corral snapshot create ag s2 --no-freeze --json | jq -e ".consistency == \"crash\"" &&
	corral snapshot create ag s3 --memory --json | jq -e ".consistency == \"memory\""
'

# freeze_by_hand SOCKET: freeze the guest through its agent socket, as a
# corrald killed in the middle of a backup would leave it.
freeze_by_hand() {
	python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
s.sendall(b'\xff{"execute":"guest-sync-delimited","arguments":{"id":99}}\n')
buf = b""
while b'"return": 99}' not in buf:
    buf += s.recv(4096)
s.sendall(b'{"execute":"guest-fsfreeze-freeze"}\n')
buf = b""
while b"\n" not in buf:
    buf += s.recv(4096)
print("FREEZE", buf.decode().strip())
EOF
}

test_expect "corrald killed while the guest is frozen: the restarted corrald thaws it" '
	uuid=$(corral vm show ag --json | jq -r .uuid) &&
	kill -9 "$CORRALD_PID" && sleep 0.5 &&
	freeze_by_hand "$STATE/run/$uuid/agent.sock" | grep -q "FREEZE {\"return\": [1-9]" &&
	start_daemon &&
	end=$((SECONDS + 20)) &&
	until corral vm show ag --json | jq -e "[.status.events[].detail] | any(test(\"thawed the guest\"))" >/dev/null; do
		[ $SECONDS -lt $end ] || return 1; sleep 0.5
	done &&
	guest_sh ag "echo five > /data/j && sync && cat /data/j" 10 | grep -q "^five"
'

test_expect "qemu-ga killed: vm show stays fast and says not responding; a backup falls back to crash" '
	guest_sh ag "kill \$(pidof qemu-ga)" &&
	sleep 6 &&
	t1=$(ms corral vm show ag) && t2=$(ms corral vm show ag --json) &&
	say "vm show took $t1 ms and $t2 ms" && [ "$t1" -lt 2500 ] && [ "$t2" -lt 2500 ] &&
	wait_agent ag "not responding" 15 &&
	t3=$(ms corral vm list) && say "vm list took $t3 ms" && [ "$t3" -lt 2000 ] &&
	corral backup run ag --json >"$T/b3" &&
	jq -e ".result.vms[0].consistency == \"crash\"" "$T/b3" &&
	jq -r ".result.vms[0].consistency_note" "$T/b3" | grep -q "no guest agent answered" &&
	guest_sh ag "echo four > /data/i && sync && cat /data/i" 10 | grep -q "^four"
'

test_expect "vm stop of a guest deaf to the power button: guest-shutdown through the agent" '
	guest_sh ag "umount /data; (qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 -t /run </dev/null >/dev/null 2>&1 &)" &&
	wait_agent ag connected 20 &&
	t0=$SECONDS &&
	corral vm stop ag --timeout 20 &&
	say "stopped after $((SECONDS - t0)) s" && [ $((SECONDS - t0)) -lt 15 ] &&
	[ "$(vm_state ag)" = stopped ] &&
	corral vm show ag --json | jq -e "[.status.events[].detail] | any(test(\"guest agent\"))" &&
	corral vm show ag --json | jq -e ".status.agent.state == \"not running\""
'

finish
