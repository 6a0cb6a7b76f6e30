#!/usr/bin/env bash
# HA failover onto a synchronous replica with RPO 0 (docs/ha.md "Failover
# onto the replica"): a two-host pool h1+h2 without shared storage, the
# witness on h3 (as t84).  Two guests on h1 write an increasing counter to
# their local disk (dd conv=fsync) and print "W n" once each write returned;
# both are replicated to h2 and HA-protected.  h2 cut off: h1 (quorate with
# the witness) records r1's replica outdated before r1's next write
# completes; both in sync again once h2 is back.  r2's replica is made outdated
# (kill -9 of its export daemon on h2, first while h1's corrald is killed -9
# too: the write waits for corrald): the pool must record it outdated before
# the guest's next write completes.  Then h1's link is cut: h1's
# QEMUs die (self-fence), r1 runs on h2 from its replica within a bound and
# the replica holds every counter value r1 saw written; r2 is not restarted
# on h2 (its HA status says why).  h1 back: it drops r1's record but keeps
# r1's volume, and r2 restarts on h1 (its own disks).  The invariant checker
# runs throughout (never two QEMUs of a VM).  Then r1 (HA) moves home onto
# its replica on h1 (vm migrate: a switchover, the HA owner follows, h1
# replicates it back to h2 by itself), `host maintenance h1 on` keeps it on
# h1 while its replica is outdated (the export daemon killed), switches it
# over onto h2 once corrald has it in sync again, and once h1 is out of maintenance it is replicated back and
# fails back (group home) the same way, h2's corrald killed -9 mid-move; its guest's writes all kept.  Bad input: ha add of a VM with
# a local disk and no replication, and of a VM whose replica is outdated.
. "$(dirname "$0")/lib.sh"
command -v corosync-qnetd >/dev/null && command -v corosync-qdevice >/dev/null && command -v certutil >/dev/null ||
	{ echo "corosync-qnetd, corosync-qdevice or certutil missing (scripts/install-deps.sh)"; FAILED=1; finish; exit 1; }
hold_migration
. "$TESTS/cluster-lib.sh"
# The hosts' logs are copied before cleanup removes $T; the witness daemons
# are stopped after it stopped the corralds (h3's would start its qnetd again).
t86_cleanup() {
	local p
	for p in $(pgrep -f "^corosync-q(device|netd) -f .*$T/h[0-9]/"); do kill "$p" 2>/dev/null; done
}
trap '[ -n "${T86_LOGS:-}" ] && cp "$T"/h?.log "$T86_LOGS/" 2>/dev/null; cleanup; t86_cleanup; coro_cleanup' EXIT
sw=$(nhost_ns sw)
wit() { st "$1" | jq -r '"\(.witness.connected),\(.witness.casts_vote),\(.votes.total),\(.quorate)"'; }

WWORK="printf '%s\n' 'n=0; while :; do n=\$((n+1));' \
'echo \$n | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null && echo W \$n; sleep 0.2; done' >/w"
# wlast H VM: the last counter value VM's guest reported written (its console
# history on H, the file QEMU writes: read also while H's corrald is down)
wlast() { tail -c 65536 "$T/$1/run/$(uuid "$2")/console.log" 2>/dev/null | tr -d '\r' | sed -n 's/^W \([0-9][0-9]*\)$/\1/p' | tail -n1; }
rstate() { on_host "$1" vm show --local "$2" --json | jq -r '.status.replication.state // "none"'; }
wait_repl() { wait_for "${4:-60}" "[ \"\$(rstate $1 $2)\" = $3 ]" || { on_host "$1" vm show --local "$2" --json | jq -c .status.replication >&2; return 1; }; }
# hrow H VM: VM's replica state as the pool records it (ha status on H)
hrow() { on_host "$1" ha status --json | jq -r --arg v "$2" '[.resources[] | select(.vm == $v) | .replica.state // "none"][0] // "none"'; }
hstatus() { on_host "$1" ha status --json | jq -r --arg v "$2" '[.resources[] | select(.vm == $v) | "\(.host) \(.status)"][0]'; }
# uuid VM: its uuid (asked once, then from $T: h1's corrald may be down)
uuid() {
	[ -s "$T/uuid.$1" ] || on_host h1 vm show --local "$1" --json | jq -r .uuid >"$T/uuid.$1"
	cat "$T/uuid.$1"
}
qsd_pid() { head -n1 "$T/h2/replicas/$1/qsd.pid" 2>/dev/null; }
vol_path() { on_host "$1" disk show "$2" --json | jq -r .path; }
# held VM H FAULT...: run FAULT, then follow VM's guest writes (console on h1) and
# its replica's state as the pool records it (ha status on H) every 0.1 s:
# a write completed after the fault (beyond the one in flight) while the pool
# did not say outdated fails; prints "OUTDATED_MS WRITE_MS" after the fault
held() {
	local vm=$1 h=$2 w0 t0 w s tout= tw= end
	shift 2
	w0=$(wlast h1 "$vm") && [ -n "$w0" ] && t0=$(now_ms) && "$@" || return 1
	end=$((SECONDS + 40))
	while [ $SECONDS -le $end ]; do
		w=$(wlast h1 "$vm"); s=$(hrow "$h" "$vm")
		[ -z "$tout" ] && [ "$s" = outdated ] && tout=$(now_ms)
		if [ -n "$w" ] && [ "$w" -gt $((w0 + 1)) ]; then
			[ "$s" = outdated ] || { say "$vm: write $w completed while the pool said $s"; return 1; }
			tw=$(now_ms); break
		fi
		sleep 0.1
	done
	[ -n "$tout" ] && [ -n "$tw" ] || { say "$vm: outdated at '$tout', next write at '$tw'"; return 1; }
	echo "$((tout - t0)) $((tw - t0))"
}
disk_counter() {
	rm -f "$T/sector" && qemu-img dd -U -f qcow2 -O raw bs=512 count=1 if="$1" of="$T/sector" >/dev/null &&
		head -n1 "$T/sector" | tr -cd 0-9
}

test_expect "a two-host pool h1+h2 (token 1000) with the witness on h3, trusting each other" '
	on_host h3 witness init >/dev/null &&
	nhost_trust h2 h1 >/dev/null && nhost_trust h1 h3 >/dev/null &&
	on_host h1 cluster create lab --token 1000 >/dev/null && on_host h2 cluster join h1 >/dev/null &&
	for h in h1 h2; do wait_for 20 "[ \"\$(online $h)\" = h1,h2 ] && [ \"\$(quorate $h)\" = true ]" || return 1; done &&
	on_host h1 cluster witness add h3 >/dev/null &&
	for h in h1 h2; do wait_for 30 "[ \"\$(wit $h)\" = true,true,3,true ]" || { st $h >&2; return 1; }; done
'

test_expect "two guests on h1 with local disks write a counter; n1 has a local disk and no replica" '
	on_host h1 disk create r1-d 32M >/dev/null && on_host h1 disk create r2-d 32M >/dev/null &&
	on_host h1 disk create n1-d 8M >/dev/null &&
	on h1 create_guest r1 --memory 128M --disk r1-d >/dev/null && on h1 create_guest r2 --memory 128M --disk r2-d >/dev/null &&
	on h1 create_guest n1 --memory 64M --disk n1-d >/dev/null &&
	on_host h1 vm start r1 >/dev/null && on_host h1 vm start r2 >/dev/null &&
	on h1 wait_ready_after r1 0 240 && on h1 wait_ready_after r2 0 240 &&
	for v in r1 r2; do on h1 guest_sh $v "$WWORK" && on h1 guest_sh $v "sh /w >/dev/console 2>&1 &" || return 1; done &&
	wait_for 10 "[ \"\$(wlast h1 r1)\" -gt 3 ] && [ \"\$(wlast h1 r2)\" -gt 3 ]" &&
	printf "%s\n%s\n" "$(uuid r1)" "$(uuid r2)" >"$T/uuids" && ha_checker_start
'

test_expect "bad input: ha add of a VM with an unreplicated local disk: a clear error, nothing changed" '
	out=$(on_host h1 ha add n1 2>&1); [ $? -ne 0 ] &&
	echo "$out" | grep -q "disk n1-d of n1 is in pool .default., which is not shared, and is not replicated" &&
	echo "$out" | grep -q "corral vm replicate n1 --to HOST" &&
	[ "$(on_host h1 ha status --json | jq ".resources | length")" = 0 ]
'

test_expect "both replicated to h2, in sync; the pool records it; r1 HA-protected" '
	on_host h1 vm replicate r1 --to h2 >/dev/null && on_host h1 vm replicate r2 --to h2 >/dev/null &&
	wait_repl h1 r1 in-sync && wait_repl h1 r2 in-sync &&
	on_host h1 ha add r1 >/dev/null &&
	[ "$(hrow h2 r1)" = in-sync ] && on_host h1 ha status | grep -q "r1: replica on h2: in-sync since"
'

test_expect "r2 outdated (its export daemon killed): ha add refused with the reason; resumed: in sync, accepted" '
	kill -9 "$(qsd_pid "$(uuid r2)")" && wait_repl h1 r2 degraded 30 &&
	out=$(on_host h1 ha add r2 2>&1); [ $? -ne 0 ] &&
	echo "$out" | grep -q "the replica of r2 on h2 is outdated since .*: HA accepts a replicated VM once the pool records its replica in sync" &&
	[ "$(on_host h1 ha status --json | jq ".resources | length")" = 1 ] &&
	on_host h1 vm replicate r2 --resume >/dev/null && wait_repl h1 r2 in-sync 60 &&
	on_host h1 ha add r2 >/dev/null && [ "$(hrow h2 r2)" = in-sync ]
'

test_expect "the replica host h2 cut off: h1 keeps quorum (witness), records r1 outdated before r1 writes on alone; back: in sync again" '
	r=$(held r1 h1 ip -n "$sw" link set p2 down) && set -- $r &&
	echo "h2 cut at 0: h1 records r1 replica outdated at +$1 ms; r1 next sees a write done at +$2 ms (held meanwhile)" >>"$T/measured" &&
	[ "$(quorate h1)" = true ] && [ "$(on_host h1 vm show --local r1 --json | jq -r .status.state)" = running ] &&
	wait_repl h1 r1 degraded 10 &&
	ip -n "$sw" link set p2 up &&
	for h in h1 h2; do wait_for 40 "[ \"\$(online $h)\" = h1,h2 ] && [ \"\$(quorate $h)\" = true ]" || return 1; done &&
	wait_repl h1 r1 in-sync 60 && wait_repl h1 r2 in-sync 60 && [ "$(hrow h2 r1)" = in-sync ]
'

# dead_fault UUID: h1 corrald killed -9, then the replica daemon of UUID on h2;
# 5 s later no write of r2 completed (held: nobody recorded outdated); corrald back
dead_fault() {
	local w0 w P
	P=$(qsd_pid "$1") && [ -n "$P" ] && w0=$(wlast h1 r2) && nhost_kill9 h1 && kill -9 "$P" && sleep 5 &&
	w=$(wlast h1 r2) && say "r2 with h1 corrald dead: last write $w0 before, $w after 5 s" &&
	[ "$w" -le $((w0 + 1)) ] && nhost_start h1 >/dev/null
}
test_expect "r2 replica killed in sync while h1 corrald is dead (kill -9): writes held; corrald back: outdated recorded before the next write completes" '
	r=$(held r2 h2 dead_fault "$(uuid r2)") && set -- $r &&
	echo "h1 corrald killed -9 then the replica daemon at 0, corrald started again at ~+5 s: the pool (h2) records r2 outdated at +$1 ms; the guest next sees a write done at +$2 ms (held meanwhile)" >>"$T/measured" &&
	on_host h1 vm events r2 | grep -q "degraded with h2" &&
	on_host h2 ha status | grep -q "r2: replica on h2: outdated since"
'

test_expect "cut h1: its QEMUs die (fence); r1 runs on h2 from its replica with every acknowledged write; r2 is not restarted (outdated)" '
	u1=$(uuid r1) && u2=$(uuid r2) &&
	q1=$(qemus "$u1") && q2=$(qemus "$u2") && [ -n "$q1" ] && [ -n "$q2" ] &&
	W=$(on_host h2 ha status --json | jq -r .manager.wait_ms) &&
	t0=$(now_ms) && ip -n "$sw" link set p1 down &&
	tk= && tr= && wait_for 20 "proc_gone $q1 && proc_gone $q2" && tk=$(now_ms) &&
	wait_for 40 "qemu_new $u1 $q1" && tr=$(now_ms) &&
	last=$(wlast h1 r1) && [ -n "$last" ] &&
	wait_for 15 "[ \"\$(hstatus h2 r2)\" = \"h1 recovery\" ]" &&
	on_host h2 ha status >out && grep -q "r2: the replica on h2 is outdated since .*: not restarted there (RPO 0)" out &&
	on_host h2 events | grep -q "the replica on h2 is outdated since" &&
	[ -z "$(qemus "$u2")" ] &&
	wait_for 20 "[ \"\$(hstatus h2 r1)\" = \"h2 started\" ]" &&
	on_host h2 vm events r1 | grep -q "restarted on its replica on h2, in sync since" &&
	[ "$(on_host h2 vm show --local r1 --json | jq -r .status.state)" = running ] &&
	[ ! -e "$T/h2/replicas/$u1" ] && [ -e "$T/h2/replicas/$u2" ] &&
	c=$(disk_counter "$(vol_path h2 r1-d)") && say "r1: last write the guest saw done on h1: $last; on h2 disk: $c" &&
	[ -n "$c" ] && [ "$c" -ge "$last" ] &&
	[ "$(hrow h2 r1)" = none ] &&
	echo "cut h1 at 0 (two hosts + witness, W $W ms): h1 HA QEMUs dead at +$((tk - t0)) ms, r1 running on h2 from its replica at +$((tr - t0)) ms; counter: guest saw $last written, replica holds $c" >>"$T/measured"
'

test_expect "h1 back: it drops r1 (keeps its old volume r1-d as a stale copy), r2 restarts on h1 (its own disks), never two QEMUs" '
	ip -n "$sw" link set p1 up &&
	for h in h1 h2; do wait_for 40 "[ \"\$(online $h)\" = h1,h2 ] && [ \"\$(quorate $h)\" = true ]" || return 1; done &&
	wait_for 20 "! on_host h1 vm show --local r1 >/dev/null 2>&1" &&
	wait_for 5 "grep -q \"local record dropped: HA restarted r1 on its replica on h2; its old volumes stay here as stale copies (r1-d)\" \"\$T/h1.log\"" &&
	p=$(vol_path h1 r1-d) && [ -f "$p" ] && [ "$(on_host h1 disk show r1-d --json | jq -r .pool)" = default ] &&
	[ "$(on_host h1 disk show r1-d --json | jq -r .stale_of)" = "$(uuid r1)" ] &&
	wait_for 40 "[ \"\$(hstatus h2 r2)\" = \"h1 started\" ]" &&
	wait_for 10 "[ -n \"\$(qemus $(uuid r2))\" ]" &&
	ha_checker_stop >>"$T/measured"
'

# Replicating back onto the old primary reuses its stale copy: the compare
# pass copies what differs (what r1 wrote on h2 since the failover, and any
# write h1 made but never got acknowledged), not the whole disk.
test_expect "r1 replicated back to h1 onto its stale copy: only what differs is copied; the pool records it in sync" '
	on_host h2 vm replicate r1 --to h1 >/dev/null &&
	wait_repl h2 r1 in-sync 90 &&
	j=$(on_host h2 vm show --local r1 --json | jq -c .status.replication) &&
	[ "$(echo "$j" | jq -r ".reused | join(\",\")")" = r1-d ] &&
	copied=$(echo "$j" | jq -r .compare.copied_bytes) && [ "$copied" -lt $((16 << 20)) ] &&
	echo "replicate back onto the stale copy: $copied bytes of 32 MiB copied" >>"$T/measured" &&
	wait_for 20 "[ \"\$(hrow h2 r1)\" = in-sync ]"
'

# And back home onto its replica: r1 (HA, replicated to h1 in sync) switches
# over with its memory only (docs/migration.md "Onto its replica"); the HA
# owner follows, and h1 replicates it back to h2 by itself (onto h2's old
# volume, marked stale).  The guest (lib.sh WORK: a counter in memory and on
# its disk) goes on counting; the invariant checker runs throughout.
LM=0 LD=0
# runs_r1 H: r1 running on H only, HA owner H, the fence armed for it on H only, its counters did not go back and move on
runs_r1() {
	local h=$1 o c m d
	o=$([ "$h" = h1 ] && echo h2 || echo h1)
	[ "$(on_host "$h" vm show --local r1 --json | jq -r .status.state)" = running ] &&
		! on_host "$o" vm show --local r1 >/dev/null 2>&1 && [ "$(qemus "$(uuid r1)" | wc -l)" = 1 ] || {
		say "r1 on $h: $(on_host "$h" vm show --local r1 --json 2>&1 | jq -r .status.state 2>&1), on $o: $(on_host "$o" vm show --local r1 --json 2>&1 | jq -r .status.state 2>&1), QEMUs: $(qemus "$(uuid r1)" | wc -l)"
		return 1
	}
	wait_for 10 "[ \"\$(hstatus h1 r1)\" = \"$h started\" ]" || { say "r1 HA: $(hstatus h1 r1), not on $h"; return 1; }
	wait_for 10 "armed $h | grep -qw r1 && ! armed $o | grep -qw r1" ||
		{ say "the fence arms r1 on $h: '$(armed "$h")', on $o: '$(armed "$o")'"; return 1; }
	c=$(counters r1 "$h") && m=${c% *} && d=${c#* } && [ -n "$m" ] && [ -n "$d" ] || { say "no counters: '$c'"; return 1; }
	[ "$m" -ge "$LM" ] && [ "$d" -ge "$LD" ] || { say "the counters of r1 went back: memory $LM -> $m, disk $LD -> $d"; return 1; }
	c=$(counter_moves r1 "$h" "$m") || return 1
	LM=${c% *} LD=${c#* }
	say "r1 on $h: memory counter $LM, disk counter $LD"
}
armed() { on_host "$1" ha status --json | jq -r '.fence.armed | join(",")'; }
rback() { on_host h1 ha status --json | jq -r '[.resources[] | select(.vm == "r1") | .replicate_back // "none"][0]'; }
hrepl() { on_host h1 ha status --json | jq -r '[.resources[] | select(.vm == "r1") | "\(.replica.host // "-") \(.replica.state // "none")"][0]'; }

test_expect "r1 (HA, replicated to h1, in sync) migrated home onto its replica: no disk copied, HA owner h1, writes kept, replicated back to h2 by itself" '
	ha_checker_start && start_work r1 h2 && runs_r1 h2 &&
	out=$(on_host h2 vm migrate r1 --to h1 --json) && echo "$out" | jq -c .result >&2 &&
	[ "$(echo "$out" | jq -r .state)" = succeeded ] && [ "$(echo "$out" | jq -r .result.disk_bytes)" = 0 ] &&
	echo "$out" | jq -r .result.replication | grep -q "HA replicates r1 back to h2" &&
	runs_r1 h1 &&
	wait_repl h1 r1 in-sync 90 && wait_for 20 "[ \"\$(hrepl)\" = \"h2 in-sync\" ]" &&
	[ "$(on_host h1 vm show --local r1 --json | jq -r ".status.replication.reused | join(\",\")")" = r1-d ] &&
	grep -q "ha: r1: protecting r1 again: replicating it to h2 onto its old volumes there" "$T/h1.log" &&
	wait_for 20 "[ \"\$(rback)\" = none ]" && runs_r1 h1
'

# Maintenance never moves a VM onto a replica the pool does not record in
# sync: with r1's export daemon on h2 killed, r1 stays on h1 and the manager
# says why; corrald resumes the replication by itself (every 15 s), and once
# it is in sync the maintenance move goes on (the test after).
test_expect "host maintenance h1 on while r1's replica on h2 is outdated: r1 stays on h1, the manager says why" '
	on_host h1 ha group add home --hosts h1:2,h2:1 >/dev/null && on_host h1 ha set r1 --group home >/dev/null &&
	kill -9 "$(qsd_pid "$(uuid r1)")" && wait_for 30 "[ \"\$(hrow h1 r1)\" = outdated ]" &&
	on_host h2 host maintenance h1 on >/dev/null &&
	wait_for 20 "grep -hq \"ha: r1: maintenance of h1: r1 stays for now: the replica on h2 is outdated since .*: not restarted there (RPO 0)\" \"\$T\"/h[12].log" &&
	[ "$(hstatus h1 r1)" = "h1 started" ] && [ "$(qemus "$(uuid r1)" | wc -l)" = 1 ] &&
	[ "$(on_host h1 vm show --local r1 --json | jq -r .status.state)" = running ]
'

test_expect "in sync again: r1 switches over onto its replica on h2 (owner h2); not replicated back while h1 is in maintenance" '
	wait_for 60 "[ \"\$(hstatus h2 r1)\" = \"h2 started\" ]" &&
	on_host h2 ha status --json | jq -r ".resources[] | select(.vm == \"r1\") | .status_reason" | grep -q "moved to h2 by live migration (maintenance of h1)" &&
	runs_r1 h2 && [ "$(rstate h2 r1)" = none ] && [ "$(hrepl)" = "- none" ] &&
	sleep 3 && [ "$(rstate h2 r1)" = none ]
'

# mig_job H: the migration job running on H (empty: none)
mig_job() { on_host "$1" job list --json 2>/dev/null | jq -r '[.jobs[] | select(.type == "migrate" and .state == "running")][0].id // empty'; }

# The failback is an HA switchover (the HA manager's move onto the replica):
# h2's corrald is killed -9 while it runs it (docs/migration.md "Onto its
# replica": the records and the reconciler settle it on one host), started
# again, and the failback must still end on h1.
test_expect "maintenance off: r1 replicated back to h1, in sync, then fails back onto its replica on h1 (group home), h2 corrald killed -9 mid-move; never two QEMUs" '
	on_host h2 host maintenance h1 off >/dev/null &&
	wait_for 150 "[ -n \"\$(mig_job h2)\" ]" && j=$(mig_job h2) &&
	wait_for 60 "[ \"\$(job_phase h2 $j)\" = memory ] || [ \"\$(job_phase h2 $j)\" = switch ] || [ -z \"\$(mig_job h2)\" ]" &&
	ph=$(job_phase h2 "$j") && { [ -n "$(mig_job h2)" ] || ph="$ph, the job had ended"; } &&
	nhost_kill9 h2 && sleep 1 &&
	nhost_start h2 >/dev/null &&
	wait_for 150 "[ \"\$(hstatus h2 r1)\" = \"h1 started\" ]" &&
	on_host h1 ha status --json | jq -r ".resources[] | select(.vm == \"r1\") | .status_reason" >"$T/reason" &&
	echo "failback: h2 corrald killed -9 in migration job $j (phase ${ph:-none yet}); then r1 on h1: $(cat "$T/reason")" >>"$T/measured" &&
	runs_r1 h1 && wait_repl h1 r1 in-sync 90 && wait_for 20 "[ \"\$(hrepl)\" = \"h2 in-sync\" ]" &&
	on_host h1 vm kill r1 >/dev/null && f=$(disk_counter "$(vol_path h1 r1-d)") &&
	say "r1: the guest last read disk counter $LD, the disk on h1 holds $f" && [ -n "$f" ] && [ "$f" -ge "$LD" ] &&
	ha_checker_stop >>"$T/measured"
'

[ -f "$T/measured" ] && sed 's/^/# measured: /' "$T/measured"
finish
