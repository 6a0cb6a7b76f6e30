#!/usr/bin/env bash
# Synchronous disk replication (docs/ha.md): two corrald "hosts" in network
# namespaces (lib.sh nhost_*), a real guest writing a counter to its local
# disk.  `vm replicate --to` makes the replica on the other host and reaches
# in-sync; kill -9 of either corrald keeps it (the mirror is QEMU's, the
# export daemon outlives corrald); kill -9 of the replica's export daemon
# leaves the guest running on its local disk, replication degraded;
# --resume copies only the changed blocks and is in sync again; after the
# guest stops, the replica equals the disk (every acknowledged write is on
# it).  Bad input changes nothing; --stop removes the replica.
. "$(dirname "$0")/lib.sh"
hold_migration

f_cleanup() {
	[ -n "${T77_LOGS:-}" ] && cp "$T/a.log" "$T/b.log" "$T77_LOGS/"
	cleanup
}
trap f_cleanup EXIT

nhost_setup a b && nhost_start a && nhost_start b || { say "cannot start the two hosts"; FAILED=1; exit 1; }

# the guest's disk counter (what its last write put in the first sector), read back through the guest
counter() { on a guest_sh r1 'sh /r' | sed -n 's/^C \([0-9][0-9]*\)$/\1/p' | tail -n1; }
WORK="printf '%s\n' 'n=0; while :; do n=\$((n+1));' \
'echo \$n | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null; sleep 0.1; done' >/w &&
printf '%s\n' 'echo C \$(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -n1)' >/r"
rstate() { ca vm show r1 --json | jq -r '.status.replication.state // "none"'; }
wait_repl() {
	for _ in $(seq 1 "${2:-120}"); do
		[ "$(rstate)" = "$1" ] && return 0
		sleep 0.25
	done
	say "replication of r1 is '$(rstate)', not '$1'"; ca vm show r1 --json | jq -c .status.replication >&2; return 1
}
moves() { local c1 c2; c1=$(counter) && sleep 1 && c2=$(counter) && [ -n "$c1" ] && [ "$c2" -gt "$c1" ] ||
	{ say "the guest's disk counter does not move: '$c1' -> '$c2'"; return 1; }; }
uuid() { ca vm show r1 --json | jq -r .uuid; }
qsd_pid() { head -n1 "$T/b/replicas/$(uuid)/qsd.pid" 2>/dev/null; }
vol_path() { on_host "$1" disk show "$2" --json | jq -r .path; }
# the counter in the first sector of host b's replica file (-U: the export daemon may hold it)
replica_counter() {
	rm -f "$T/sector" && qemu-img dd -U -f qcow2 -O raw bs=512 count=1 if="$(vol_path b r1-d)" of="$T/sector" >/dev/null &&
		head -n1 "$T/sector" | tr -cd 0-9
}

test_expect "two trusting hosts; a guest writing a counter to its local disk, one without disks" '
	nhost_trust a b &&
	ca disk create r1-d 32M && on a create_guest r1 --memory 128M --disk r1-d >/dev/null &&
	on a create_guest n1 --memory 128M >/dev/null &&
	ca vm start r1 && ca vm start n1 && on a wait_ready_after r1 0 &&
	on a guest_sh r1 "$WORK" && on a guest_sh r1 "sh /w >/dev/null 2>&1 &" && moves
'

test_expect "bad input: unknown host, this host, hostile name, no local disk, a stopped VM: clear errors, nothing made" '
	fails ca vm replicate r1 --to nosuch 2>&1 | grep -q "nosuch" &&
	fails ca vm replicate r1 --to a &&
	fails ca vm replicate r1 --to "../../etc" &&
	out=$(ca vm replicate n1 --to b 2>&1); [ $? -ne 0 ] && echo "$out" | grep -q "no disk in a local" &&
	ca vm kill n1 >/dev/null && ca disk create s1-d 8M >/dev/null && on a create_guest s1 --memory 64M --disk s1-d >/dev/null &&
	out=$(ca vm replicate s1 --to b 2>&1); [ $? -ne 0 ] && echo "$out" | grep -q "stopped" &&
	fails ca vm replicate r1 --resume && fails ca vm replicate r1 --stop &&
	fails ca vm replicate r1 --to b --stop &&
	[ "$(rstate)" = none ] && ! cb disk show r1-d >/dev/null 2>&1 && [ -z "$(ls "$T/b/replicas" 2>/dev/null)" ]
'

test_expect "vm replicate --to b: the replica volume on b, syncing then in-sync, shown in vm show" '
	ca vm replicate r1 --to b >/dev/null && wait_repl in-sync &&
	ps -o user= -p "$(qsd_pid)" | grep -qv "^root" &&
	cb disk show r1-d >/dev/null && [ -n "$(qsd_pid)" ] && kill -0 "$(qsd_pid)" &&
	out=$(cb disk delete r1-d --yes 2>&1); [ $? -ne 0 ] && echo "$out" | grep -q "replica of vm r1 on a" &&
	ca vm show r1 | grep -q "replication.*to b: in-sync" &&
	[ "$(ca vm replicate r1 --json | jq -r .peer)" = b ] && moves
'

test_expect "already replicated: refused, nothing changed; migrating it offline refused (t93: onto the replica)" '
	out=$(ca vm replicate r1 --to b 2>&1); [ $? -ne 0 ] && echo "$out" | grep -q "already" &&
	fails ca vm migrate r1 --to b --offline &&
	[ "$(rstate)" = in-sync ]
'

test_expect "kill -9 of either corrald: the mirror and the export daemon are kept and followed again" '
	P=$(qsd_pid) && nhost_kill9 a && nhost_start a && nhost_kill9 b && nhost_start b &&
	[ "$(qsd_pid)" = "$P" ] && kill -0 "$P" && grep -q "re-adopted" "$T/b.log" &&
	wait_repl in-sync 20 && moves
'

test_expect "kill -9 of the replica export daemon: the replica has every write the guest saw; the guest runs on, degraded" '
	c=$(counter) && kill -9 "$(qsd_pid)" && r=$(replica_counter) && say "guest saw $c, the replica holds $r" &&
	[ -n "$r" ] && [ "$r" -ge "$c" ] && wait_repl degraded 60 && moves &&
	[ "$(ca vm show r1 --json | jq -r .status.state)" = running ]
'

test_expect "--resume: only the changed blocks are copied, in-sync again" '
	ca vm replicate r1 --resume >/dev/null && wait_repl in-sync 60 &&
	b=$(ca vm replicate r1 --json | jq -r .resync_bytes) && say "resync copied $b bytes (disk 32 MiB)" &&
	[ "$b" -gt 0 ] && [ "$b" -lt $((32 << 20)) ] && moves
'

test_expect "degraded again: corrald retries by itself and is in sync again (retry every 15 s)" '
	kill -9 "$(qsd_pid)" && wait_repl degraded 60 && wait_repl in-sync 100 && moves
'

test_expect "the link to b cut: the guest runs on, degraded; link back: in sync again by itself" '
	ip -n "$(nhost_ns sw)" link set p2 down && wait_repl degraded 80 && moves &&
	ip -n "$(nhost_ns sw)" link set p2 up && wait_repl in-sync 120 && moves
'

test_expect "the guest stops: the replica on b equals its disk (every acknowledged write is there)" '
	ca vm stop r1 --timeout 20 >/dev/null && on a wait_state r1 stopped 30 && wait_repl stopped 20 &&
	qemu-img compare -U "$(vol_path a r1-d)" "$(vol_path b r1-d)"
'

test_expect "--stop: the replica and its export daemon are gone from b (a replicated VM cannot be deleted before)" '
	out=$(ca vm delete r1 --yes 2>&1); [ $? -ne 0 ] && echo "$out" | grep -q "replicated" && ca vm show r1 >/dev/null &&
	P=$(qsd_pid) && ca vm replicate r1 --stop >/dev/null && [ "$(rstate)" = none ] &&
	! cb disk show r1-d >/dev/null 2>&1 && ! kill -0 "$P" 2>/dev/null && [ -z "$(ls "$T/b/replicas" 2>/dev/null)" ]
'

finish
