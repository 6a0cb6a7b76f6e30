#!/usr/bin/env bash
# Replication onto a stale copy (docs/ha.md "Resync onto a stale copy"): two
# corrald "hosts" in network namespaces, a real guest with a 32 MiB disk
# replicated to b.  `vm replicate --stop --keep-replica` keeps b's volume,
# marked as a stale copy of the VM; the guest writes 1 MiB and b's stale
# volume gets 1 MiB of other data (the old primary's unacknowledged writes);
# `vm replicate --to b` reuses the volume and the compare pass copies only
# the chunks that differ (~2 MiB, not 32), in sync, and the replica equals
# the disk once the guest stops.  Refused: a same-named volume not marked
# (without --reuse), --reuse of a volume of another size or one in use.
# kill -9 of corrald on a during the compare pass: degraded with a reason,
# resumable, never in sync before the pass is whole; a guest write made
# during a pass reaches the replica too (the pass's dirty bitmap); --stop
# ends a running pass at once.  A stale copy deleted and made again is none
# (refused); --reuse takes it and copies only the chunks holding data.
. "$(dirname "$0")/lib.sh"
hold_migration

f_cleanup() {
	[ -n "${T87_LOGS:-}" ] && cp "$T/a.log" "$T/b.log" "$T87_LOGS/"
	cleanup
}
trap f_cleanup EXIT

nhost_setup a b && nhost_start a && nhost_start b || { say "cannot start the two hosts"; FAILED=1; exit 1; }

MiB=$((1 << 20))
repl() { ca vm replicate "${2:-r1}" --json 2>/dev/null; }
rstate() { ca vm show "${1:-r1}" --json | jq -r '.status.replication.state // "none"'; }
wait_repl() {
	for _ in $(seq 1 "${2:-120}"); do
		[ "$(rstate)" = "$1" ] && return 0
		sleep 0.25
	done
	say "replication of r1 is '$(rstate)', not '$1'"; repl | jq -c . >&2; return 1
}
uuid() { ca vm show "$1" --json | jq -r .uuid; }
vol_path() { on_host "$1" disk show "$2" --json | jq -r .path; }
vol_fmt() { on_host "$1" disk show "$2" --json | jq -r .format; }
sum_b() { md5sum <"$(vol_path b "$1")"; }
# 1 MiB of random data at MiB $1 of the guest's disk (a script in the guest: console lines stay short)
GW="echo 'dd if=/dev/urandom of=/dev/vda bs=1048576 seek=\$1 count=\${2:-1} conv=fsync' >/g"
gwrite() { on a guest_sh r1 "sh /g $1 ${2:-1} 2>/dev/null" >/dev/null || { say "the guest could not write at $1 MiB"; return 1; }; }

test_expect "two trusting hosts; a guest with a 32 MiB disk holding data, replicated to b: in-sync" '
	nhost_trust a b &&
	ca disk create r1-d 32M >/dev/null && on a create_guest r1 --memory 128M --disk r1-d >/dev/null &&
	ca vm start r1 && on a wait_ready_after r1 0 &&
	on a guest_sh r1 "$GW" && gwrite 0 6 &&
	ca vm replicate r1 --to b >/dev/null && wait_repl in-sync
'

test_expect "--stop --keep-replica: the replica volume stays on b, marked as a stale copy of r1; its export daemon is gone" '
	P=$(head -n1 "$T/b/replicas/$(uuid r1)/qsd.pid") &&
	out=$(ca vm replicate r1 --stop --keep-replica) && echo "$out" | grep -q "kept" && [ "$(rstate)" = none ] &&
	[ "$(cb disk show r1-d --json | jq -r .stale_of)" = "$(uuid r1)" ] && cb disk show r1-d | grep -q "stale copy of.*$(uuid r1)" &&
	! kill -0 "$P" 2>/dev/null && [ -z "$(ls "$T/b/replicas" 2>/dev/null)" ] &&
	fails ca vm replicate r1 --keep-replica
'

test_expect "the guest writes 1 MiB at 8 MiB; b stale volume gets 1 MiB of other data at 20 MiB (unacknowledged writes)" '
	gwrite 8 &&
	qemu-io -f "$(vol_fmt b r1-d)" -c "write -P 0x5a 20M 1M" "$(vol_path b r1-d)" &&
	! qemu-img compare -q -U "$(vol_path a r1-d)" "$(vol_path b r1-d)"
'

test_expect "refused: a same-named volume that is not a stale copy (hint: --reuse); --reuse of another size; --reuse of one in use; nothing changed" '
	ca disk create r2-d 16M >/dev/null && on a create_guest r2 --memory 64M --disk r2-d >/dev/null && ca vm start r2 &&
	cb disk create r2-d 8M >/dev/null && S=$(sum_b r2-d) &&
	out=$(ca vm replicate r2 --to b 2>&1); [ $? -ne 0 ] && echo "$out" | grep -q "not a stale copy" && echo "$out" | grep -q -- "--reuse" &&
	out=$(ca vm replicate r2 --to b --reuse 2>&1); [ $? -ne 0 ] && echo "$out" | grep -q "virtual size" &&
	cb disk delete r2-d --yes >/dev/null && cb disk create r2-d 16M >/dev/null &&
	on b create_guest u1 --memory 64M --disk r2-d >/dev/null && S=$(sum_b r2-d) &&
	out=$(ca vm replicate r2 --to b --reuse 2>&1); [ $? -ne 0 ] && echo "$out" | grep -q "used by vm" &&
	[ "$(sum_b r2-d)" = "$S" ] && [ "$(rstate r2)" = none ] && [ -z "$(ls "$T/b/replicas" 2>/dev/null)" ] &&
	[ -f "$T/b/stale/r1-d.json" ] && ca vm kill r2 >/dev/null
'

test_expect "vm replicate --to b reuses the stale copy: the compare pass copies ~2 MiB (not 32), in-sync" '
	ca vm replicate r1 --to b >/dev/null && wait_repl in-sync 120 &&
	j=$(repl) && say "$(echo "$j" | jq -c "{resync_bytes, reused, compare}")" &&
	[ "$(echo "$j" | jq -r ".reused[0]")" = r1-d ] &&
	[ "$(echo "$j" | jq -r .compare.copied_bytes)" -eq $((2 * MiB)) ] &&
	[ "$(echo "$j" | jq -r .compare.compared_bytes)" -eq $((32 * MiB)) ] &&
	b=$(echo "$j" | jq -r .resync_bytes) && [ "$b" -ge $((2 * MiB)) ] && [ "$b" -le $((4 * MiB)) ] &&
	[ ! -f "$T/b/stale/r1-d.json" ] && [ "$(cb disk show r1-d --json | jq -r .stale_of)" = null ]
'

test_expect "kill -9 of corrald on a during the compare pass: degraded with a reason, never in-sync mid-pass; --resume makes it whole (the guest writing during it)" '
	ca vm replicate r1 --stop --keep-replica >/dev/null && gwrite 12 &&
	ca vm replicate r1 --to b --compare-rate 8 >/dev/null &&
	for _ in $(seq 1 40); do [ "$(repl | jq -r ".compare.compared_bytes // 0")" -gt 0 ] && break; sleep 0.1; done &&
	[ "$(repl | jq -r .compare.phase)" = compare ] && [ "$(rstate)" = syncing ] &&
	nhost_kill9 a && nhost_start a && st=$(rstate) && say "after the restart: $st: $(repl | jq -r .error)" &&
	[ "$st" = degraded ] && repl | jq -r .error | grep -q "compare pass" &&
	[ "$(ca vm show r1 --json | jq -r .status.state)" = running ] &&
	{ ca vm replicate r1 --resume >"$T/resume.out" 2>&1 & } && sleep 0.5 &&
	gwrite 24 && wait $! && wait_repl in-sync 120 &&
	[ "$(repl | jq -r .compare.phase)" = done ] && [ "$(repl | jq -r .resync_bytes)" -le $((6 * MiB)) ]
'

test_expect "--stop --keep-replica during a slow compare pass ends it at once; the volume stays a stale copy" '
	ca vm replicate r1 --stop --keep-replica >/dev/null && ca vm replicate r1 --to b --compare-rate 2 >/dev/null &&
	for _ in $(seq 1 40); do [ "$(repl | jq -r ".compare.compared_bytes // 0")" -gt 0 ] && break; sleep 0.1; done &&
	t0=$SECONDS && ca vm replicate r1 --stop --keep-replica >/dev/null && say "stopped in $((SECONDS - t0)) s" &&
	[ $((SECONDS - t0)) -le 4 ] && [ "$(rstate)" = none ] && [ "$(cb disk show r1-d --json | jq -r .stale_of)" = "$(uuid r1)" ]
'

test_expect "a stale copy deleted and made again is none: refused; --reuse compares it (only the 9 MiB of data copied)" '
	cb disk delete r1-d --yes >/dev/null && [ ! -f "$T/b/stale/r1-d.json" ] && cb disk create r1-d 32M >/dev/null &&
	out=$(ca vm replicate r1 --to b 2>&1); [ $? -ne 0 ] && echo "$out" | grep -q "not a stale copy" &&
	ca vm replicate r1 --to b --reuse >/dev/null && wait_repl in-sync 120 && [ "$(repl | jq -r ".reused[0]")" = r1-d ] &&
	[ "$(repl | jq -r .compare.copied_bytes)" -eq $((9 * MiB)) ]
'

test_expect "the guest stops: qemu-img compare says b volume is identical to a disk" '
	gwrite 16 && ca vm stop r1 --timeout 20 >/dev/null && on a wait_state r1 stopped 30 && wait_repl stopped 20 &&
	qemu-img compare -U "$(vol_path a r1-d)" "$(vol_path b r1-d)"
'

finish
