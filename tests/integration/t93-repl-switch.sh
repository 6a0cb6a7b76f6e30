#!/usr/bin/env bash
# Live migration onto the replica (docs/migration.md "Onto its replica"):
# three corrald "hosts" in network namespaces (lib.sh nhost_*), a real
# guest writing a counter in memory and to its local disk, replicated a->b.
# Refused, changing nothing: a degraded replication, a move to c (it is
# replicated to b).  In sync, `vm migrate r1 --to b` moves the memory only:
# the job reports no disk byte copied, the guest runs on b on the former
# replica with its counters going on, b's volume holds every write the guest
# saw acknowledged before the move, nothing of r1 runs on a, a's old volume
# is marked as a stale copy and no replication is left on either host;
# `vm replicate r1 --to a --reuse` reaches in-sync again.  A cancel during
# the move leaves r1 where it was, the replica volume kept, in sync again.  Faults: kill -9
# of the source corrald and of the destination corrald during the move each
# settle on exactly one host (replication in sync again, or ended with the
# move); the destination hung and killed just as the source ends the
# replication: the source takes the guest back, in sync again.  With an invariant checker polling all along: never the VM running
# on both hosts, never two writers of either copy of its disk.
. "$(dirname "$0")/lib.sh"
hold_migration

INV_PID=
f_cleanup() {
	[ -n "$INV_PID" ] && kill "$INV_PID" 2>/dev/null
	[ -n "${T93_LOGS:-}" ] && cp "$T/a.log" "$T/b.log" "$T93_LOGS/"
	cleanup
}
trap f_cleanup EXIT

nhost_setup a b c && nhost_start a && nhost_start b && nhost_start c || { say "cannot start the hosts"; FAILED=1; exit 1; }

other() { [ "$1" = a ] && echo b || echo a; }
rstate() { on_host "$1" vm show r1 --json 2>/dev/null | jq -r '.status.replication.state // "none"'; }
wait_repl() {
	for _ in $(seq 1 "${3:-160}"); do
		[ "$(rstate "$1")" = "$2" ] && return 0
		sleep 0.25
	done
	say "replication of r1 on $1 is '$(rstate "$1")', not '$2'"
	on_host "$1" vm show r1 --json | jq -c .status.replication >&2; return 1
}
uuid() { on_host "$1" vm show r1 --json | jq -r .uuid; }
vol_path() { on_host "$1" disk show r1-d --json | jq -r .path; }
# the counter in the first sector of host $1's r1-d file (-U: a QEMU or export daemon may hold it)
file_counter() {
	rm -f "$T/sector" && qemu-img dd -U -f qcow2 -O raw bs=512 count=1 if="$(vol_path "$1")" of="$T/sector" >/dev/null &&
		head -n1 "$T/sector" | tr -cd 0-9
}
LM=0 LD=0
# check_on HOST: r1 there only, running, its counters did not go back and move on
check_on() {
	local h=$1 c m d
	[ "$(where r1)" = "$h" ] || { say "r1 is listed on '$(where r1)', expected '$h'"; return 1; }
	on "$h" wait_state r1 running 10 || return 1
	c=$(counters r1 "$h") && m=${c% *} && d=${c#* } && [ -n "$m" ] && [ -n "$d" ] || { say "no counters: '$c'"; return 1; }
	[ "$m" -ge "$LM" ] && [ "$d" -ge "$LD" ] || { say "the counters of r1 went back: memory $LM -> $m, disk $LD -> $d"; return 1; }
	c=$(counter_moves r1 "$h" "$m") || return 1
	LM=${c% *} LD=${c#* }
	say "r1 on $h: memory counter $LM, disk counter $LD"
}
# gone_from HOST: no definition, QEMU, key (but the replica's, when HOST holds it), migration record or
# replication record of r1 left there
gone_from() {
	local h=$1
	! on_host "$h" vm show r1 >/dev/null 2>&1 || { say "r1 still defined on $h"; return 1; }
	! pgrep -f "qemu-system.* -name guest=r1,.*$T/$h/run/" >/dev/null || { say "a QEMU of r1 still runs on $h"; return 1; }
	[ -z "$(find "$T/$h" -name keys.psk -not -path "*/replicas/*")" ] || { say "a key file is left on $h"; return 1; }
	[ -z "$(find "$T/$h/migrations" -name '*.json' 2>/dev/null)" ] || { say "a migration record is left on $h"; return 1; }
	[ -z "$(find "$T/$h/replication" -name '*.json' 2>/dev/null)" ] || { say "a replication record is left on $h"; return 1; }
}
# settled [TRIES]: within TRIES half-seconds r1 runs on one host and is gone from the other; prints the host
settled() {
	local w h
	for _ in $(seq 1 "${1:-120}"); do
		w=$(where r1)
		if [ "$w" = a ] || [ "$w" = b ]; then
			h=$w
			[ "$(on_host "$h" vm show r1 --json | jq -r .status.state)" = running ] && gone_from "$(other "$h")" 2>/dev/null &&
				{ echo "$h"; return 0; }
		fi
		sleep 0.5
	done
	say "r1 did not settle: listed on '$w'"
	for h in a b; do on_host "$h" vm show r1 --json 2>/dev/null | jq -c .status >&2; done
	return 1
}
start_mig() { JOB=$(on_host "$1" vm migrate r1 --to "$2" "${@:3}" --detach --json | jq -r .id) && [ -n "$JOB" ]; }
# nothing changed by a refused move: r1 runs on $1 only, replicated to $2 in sync
unchanged() {
	[ "$(where r1)" = "$1" ] && [ "$(rstate "$1")" = "$3" ] && ! on_host "$2" vm show r1 >/dev/null 2>&1 &&
		[ -z "$(find "$T/$2/migrations" -name '*.json' 2>/dev/null)" ]
}

# The invariant checker: every 0.3 s, from outside corrald (which may be dead):
# r1 "running" on both hosts (as each corrald says), or two holders of the
# write lock (QEMU's image locking, byte 101) of either host's r1-d file.
invariants() {
	local ino st f
	while :; do
		[ "$(ca vm show r1 --json 2>/dev/null | jq -r .status.state)" = running ] &&
			[ "$(cb vm show r1 --json 2>/dev/null | jq -r .status.state)" = running ] &&
			echo "$(date +%T.%N) r1 runs on both hosts" >>"$T/inv.bad"
		for f in "$T"/a/storage/r1-d* "$T"/b/storage/r1-d*; do
			[ -f "$f" ] || continue
			ino=$(stat -c %i "$f")
			[ "$(grep -c ":$ino 101 101\$" /proc/locks)" -ge 2 ] && echo "$(date +%T.%N) two write locks on $f" >>"$T/inv.bad"
		done
		sleep 0.3
	done
}
inv_ok() { [ ! -s "$T/inv.bad" ] || { say "invariant broken:"; cat "$T/inv.bad" >&2; return 1; }; }

test_expect "three trusting hosts; a guest writing counters to memory and its local disk, replicated a->b in sync" '
	nhost_trust a b && nhost_trust a c &&
	ca disk create r1-d 32M >/dev/null && on a create_guest r1 --memory 128M --disk r1-d >/dev/null &&
	ca vm start r1 && on a wait_ready_after r1 0 &&
	start_work r1 a && check_on a &&
	ca vm replicate r1 --to b >/dev/null && wait_repl a in-sync && ls "$T"/a/storage/r1-d* "$T"/b/storage/r1-d* >/dev/null
'
invariants & INV_PID=$!

test_expect "refused, nothing changed: onto a degraded replica (the state named), to c (replicated to b)" '
	kill -9 "$(head -n1 "$T/b/replicas/$(uuid a)/qsd.pid")" && wait_repl a degraded 160 &&
	out=$(ca vm migrate r1 --to b 2>&1); [ $? -ne 0 ] && say "$out" && echo "$out" | grep -q "is degraded, not in-sync" &&
	unchanged a b degraded &&
	wait_repl a in-sync 200 &&
	out=$(ca vm migrate r1 --to c --with-local-disks 2>&1); [ $? -ne 0 ] && say "$out" &&
	echo "$out" | grep -q "r1 is replicated (docs/ha.md); stop it first with .corral vm replicate r1 --stop." &&
	unchanged a b in-sync && ! on_host c vm show r1 >/dev/null 2>&1 && check_on a
'

test_expect "vm migrate r1 --to b in sync: no disk byte copied, the guest runs on b on its replica, counters on" '
	c0=$(counters r1 a) && d0=${c0#* } && U=$(uuid a) &&
	out=$(ca vm migrate r1 --to b --json) && echo "$out" | jq -c .result >&2 &&
	[ "$(echo "$out" | jq -r .state)" = succeeded ] && [ "$(echo "$out" | jq -r .result.disk_bytes)" = 0 ] &&
	echo "$out" | jq -r .result.replication | grep -q "no longer replicated" &&
	[ "$(echo "$out" | jq -r .result.kind)" = quick ] &&
	check_on b && f=$(file_counter b) && say "acknowledged on a before the move: $d0, on b'"'"'s volume now: $f" &&
	[ -n "$f" ] && [ "$f" -ge "$d0" ] && inv_ok
'

test_expect "after the move: nothing of r1 on a but its old volume, marked stale; no replication left on either host" '
	gone_from a && ca disk show r1-d >/dev/null && [ "$(ca disk show r1-d --json | jq -r .stale_of)" = "$U" ] &&
	[ "$(rstate b)" = none ] && [ -z "$(ls "$T/b/replicas" 2>/dev/null)" ] && ! pgrep -f "qemu-storage-daemon.*$T/b/" >/dev/null &&
	cb disk show r1-d >/dev/null && [ "$(cb disk show r1-d --json | jq -r ".stale_of // empty")" = "" ] &&
	cb vm show r1 | grep -q running
'

test_expect "vm replicate r1 --to a --reuse (from b): the compare pass onto the old volume, in sync again" '
	cb vm replicate r1 --to a --reuse >/dev/null && wait_repl b in-sync 240 &&
	b=$(cb vm replicate r1 --json | jq -r ".compare.copied_bytes // empty") && say "compare pass copied $b bytes" &&
	check_on b && inv_ok
'

test_expect "job cancel during the move: r1 runs on where it was, the replica volume kept there, replication in sync again" '
	S=$(where r1) && D=$(other $S) && start_mig $S $D --bandwidth 4M && wait_phase $S "$JOB" memory &&
	on_host $S job cancel "$JOB" >/dev/null &&
	for _ in $(seq 1 100); do [ "$(on_host $S job show "$JOB" --json | jq -r .state)" = cancelled ] && break; sleep 0.2; done &&
	[ "$(on_host $S job show "$JOB" --json | jq -r .state)" = cancelled ] &&
	[ "$(settled)" = "$S" ] && check_on $S && on_host $D disk show r1-d >/dev/null && wait_repl $S in-sync 240 && inv_ok
'

test_expect "kill -9 of the source corrald during the move: settled on one host after its restart, replication consistent" '
	S=$(where r1) && D=$(other $S) && start_mig $S $D --bandwidth 4M && wait_phase $S "$JOB" memory &&
	nhost_kill9 $S && sleep 1 && nhost_start $S &&
	H=$(settled) && say "settled on $H" && check_on $H &&
	if [ "$H" = "$S" ]; then wait_repl $H in-sync 240; else [ "$(rstate $H)" = none ] && cb disk show r1-d >/dev/null; fi &&
	inv_ok
'

test_expect "kill -9 of the destination corrald during the move: settled on one host after its restart, replication consistent" '
	S=$(where r1) && D=$(other $S) &&
	if [ "$(rstate $S)" = none ]; then on_host $S vm replicate r1 --to $D --reuse >/dev/null && wait_repl $S in-sync 240; fi &&
	start_mig $S $D --bandwidth 4M && wait_phase $S "$JOB" memory &&
	nhost_kill9 $D && sleep 2 && nhost_start $D &&
	H=$(settled) && say "settled on $H" && check_on $H &&
	if [ "$H" = "$S" ]; then wait_repl $H in-sync 240; else [ "$(rstate $H)" = none ]; fi &&
	inv_ok
'

test_expect "the destination corrald hung, then kill -9, as the source ends the replication: the source takes it back" '
	S=$(where r1) && D=$(other $S) &&
	if [ "$(rstate $S)" = none ]; then on_host $S vm replicate r1 --to $D --reuse >/dev/null && wait_repl $S in-sync 240; fi &&
	start_mig $S $D --bandwidth 4M && wait_phase $S "$JOB" memory && kill -STOP "$(nhost_pid $D)" &&
	for _ in $(seq 1 600); do on_host $S job show "$JOB" --json | jq -r .phase | grep -q "ending the replication" && break; sleep 0.1; done &&
	on_host $S job show "$JOB" --json | jq -r .phase | grep -q "ending the replication" &&
	nhost_kill9 $D && sleep 1 && nhost_start $D &&
	H=$(settled) && say "settled on $H" && [ "$H" = "$S" ] && check_on $H && wait_repl $H in-sync 240 &&
	inv_ok
'

finish
