#!/usr/bin/env bash
# The pool's replicated configuration (docs/cluster.md "Replicated
# configuration"): three "hosts" (network namespaces, real corosync each, as
# t74).  A user, an ACL entry, an alarm rule and a backup policy made on one
# host are there on all three, each host at the same configuration version.
# A host cut off at the switch cannot change them (a clear error, nothing
# changed) while the other two can; back on the network it catches up.  A
# corrald killed with -9 misses changes, and catches up when it starts
# again; so does one whose corosync was killed (and restarted by corrald).  A host made quorate alone by hand and changed there has forked: it
# is not overwritten, refuses changes, and `cluster resync --discard-local`
# takes the pool's.
. "$(dirname "$0")/lib.sh"
. "$TESTS/cluster-lib.sh"
cfgver() { st "$1" | jq -r '.config.version'; }
cfgstate() { st "$1" | jq -r '.config.state'; }
users() { on_host "$1" user list --json | jq -r '[.users[].name | select(. != "nhadmin")] | sort | join(",")'; }
alarms() { on_host "$1" alarm list --json | jq -r '[(.alarms // .rules // .)[] | .name] | sort | join(",")'; }
# all_synced VERSION: every host synced at VERSION
all_at() {
	local h
	for h in h1 h2 h3; do
		[ "$(cfgstate $h)" = synced ] && [ "$(cfgver $h)" = "$1" ] || return 1
	done
}

test_expect "a pool of three: create on h1, join h2 and h3; every host synced" '
	nhost_trust h2 h1 >/dev/null && nhost_trust h3 h1 >/dev/null && nhost_trust h3 h2 >/dev/null &&
	echo "password-h2" | on_host h2 user add early >/dev/null &&
	on_host h1 cluster create lab --token 1000 >/dev/null &&
	on_host h2 cluster join h1 >/dev/null && on_host h3 cluster join h1 >/dev/null &&
	for h in h1 h2 h3; do
		wait_for 25 "[ \"\$(online $h)\" = h1,h2,h3 ] && [ \"\$(quorate $h)\" = true ]" || return 1
	done &&
	wait_for 10 "all_at 0" || { for h in h1 h2 h3; do st $h | jq -c .config; done; false; } &&
	[ "$(users h2)" = "" ] &&
	on_host h1 cluster status | grep -q "^pool configuration: *version 0, synced"
'

test_expect "a user, an ACL entry, an alarm rule and a backup policy made on one host are on all three" '
	t0=$(now_ms) &&
	echo "password-one" | on_host h1 user add alice --comment ops >/dev/null &&
	echo "alice made on h1, visible on h2 and h3 after $(( $(now_ms) - t0 )) ms (the add returns once applied on h1)" >>"$T/measured" &&
	on_host h2 acl add alice Operator / >/dev/null &&
	on_host h3 alarm add noquorum --when "host lost quorum" >/dev/null &&
	printf "name=nightly\nrepo=/srv/backup\nschedule=daily 02:00\nselect=web*\nkeep_daily=7\n" | on_host h1 policy set - >/dev/null &&
	wait_for 5 "all_at 4" &&
	for h in h1 h2 h3; do
		[ "$(users $h)" = alice ] || return 1
		on_host $h acl list | grep -q "alice *Operator" || return 1
		on_host $h alarm list | grep -q noquorum || return 1
		on_host $h policy show nightly --json | jq -e ".repo == \"/srv/backup\"" >/dev/null || return 1
	done &&
	{ [ "$(st h1 | jq -r "[.nodes[].config.state] | unique | join(\",\")")" = synced ] || { st h1 | jq -c "[.nodes[].config]"; false; }; } &&
	! echo "password-one" | on_host h2 user add alice 2>err && grep -q "already exists" err
'

test_expect "h3 cut off: it cannot change the configuration (clear error, nothing changed), h1 and h2 can" '
	sw=$(nhost_ns sw) && ip -n "$sw" link set p3 down &&
	wait_for 20 "[ \"\$(quorate h3)\" = false ] && [ \"\$(online h1)\" = h1,h2 ]" &&
	! echo "password-two" | on_host h3 user add bob 2>err && cat err &&
	grep -q "the pool has no quorum: configuration is read-only (reads still work)" err &&
	fails on_host h3 alarm delete noquorum 2>err && grep -q "no quorum" err &&
	[ "$(users h3)" = alice ] && on_host h3 alarm list | grep -q noquorum && [ "$(cfgver h3)" = 4 ] &&
	echo "password-two" | on_host h2 user add carol >/dev/null &&
	on_host h1 alarm delete noquorum >/dev/null &&
	wait_for 5 "[ \"\$(users h1)\" = alice,carol ] && [ \"\$(users h2)\" = alice,carol ]" &&
	! on_host h2 alarm list | grep -q noquorum && [ "$(cfgver h2)" = 6 ] && [ "$(users h3)" = alice ]
'

test_expect "h3 back on the network: it catches up" '
	t0=$(now_ms) && ip -n "$(nhost_ns sw)" link set p3 up &&
	wait_for 30 "[ \"\$(quorate h3)\" = true ] && all_at 6" || { for h in h1 h2 h3; do st $h | jq -c .config; done; false; } &&
	echo "h3 back: synced at version 6 $(( $(now_ms) - t0 )) ms after its link came up" >>"$T/measured" &&
	[ "$(users h3)" = alice,carol ] && ! on_host h3 alarm list | grep -q noquorum &&
	on_host h3 events --kind cluster | grep -q "caught up with the pool.s configuration" &&
	echo "password-three" | on_host h3 user add dave >/dev/null &&
	wait_for 5 "all_at 7" && [ "$(users h1)" = alice,carol,dave ]
'

test_expect "kill -9 of corrald on h2: the others change on, the restarted h2 catches up" '
	nhost_kill9 h2 &&
	on_host h1 user delete carol --yes >/dev/null &&
	echo "password-four" | on_host h3 user add erin >/dev/null &&
	[ "$(users h1)" = alice,dave,erin ] &&
	nhost_start h2 &&
	wait_for 20 "all_at 9" && [ "$(users h2)" = alice,dave,erin ] &&
	on_host h2 cluster status | grep -q "^pool configuration: *version 9, synced"
'

test_expect "corosync killed on h2: corrald starts it again, rejoins the group, and changes flow both ways" '
	pid=$(st h2 | jq -r .corosync.pid) && [ "$pid" -gt 0 ] && kill -9 "$pid" &&
	wait_for 30 "[ \"\$(st h2 | jq -r .corosync.pid)\" != null ] && [ \"\$(st h2 | jq -r .corosync.pid)\" != $pid ] && [ \"\$(quorate h2)\" = true ] && [ \"\$(cfgstate h2)\" = synced ]" &&
	on_host h2 user delete erin --yes >/dev/null &&
	wait_for 5 "all_at 10" && [ "$(users h1)" = alice,dave ] &&
	echo "password-erin" | on_host h1 user add erin >/dev/null &&
	wait_for 5 "all_at 11" && [ "$(users h2)" = alice,dave,erin ]
'

test_expect "a fork (h3 made quorate alone by hand, changed alone) is not overwritten silently; resync --discard-local takes the pool's" '
	sw=$(nhost_ns sw) && ip -n "$sw" link set p3 down &&
	wait_for 20 "[ \"\$(quorate h3)\" = false ] && [ \"\$(online h1)\" = h1,h2 ]" &&
	ip netns exec "$(nhost_ns h3)" corosync-quorumtool -e 1 >/dev/null &&
	wait_for 10 "[ \"\$(quorate h3)\" = true ]" &&
	echo "password-five" | on_host h3 user add mallory >/dev/null &&
	echo "password-six" | on_host h1 user add oscar >/dev/null &&
	[ "$(cfgver h3)" = 12 ] && [ "$(cfgver h1)" = 12 ] &&
	ip -n "$sw" link set p3 up &&
	wait_for 30 "[ \"\$(cfgstate h3)\" = forked ]" &&
	st h1 | jq -e "[.nodes[] | select(.name == \"h3\") | .config.state] == [\"forked\"]" >/dev/null &&
	[ "$(cfgstate h1)" = synced ] && [ "$(users h1)" = alice,dave,erin,oscar ] &&
	[ "$(users h3)" = alice,dave,erin,mallory ] &&
	! echo "password-seven" | on_host h3 user add trent 2>err && grep -q "history differs from node 1" err &&
	on_host h3 cluster status | grep -q "^pool configuration: *version 12, forked" &&
	on_host h3 events --kind cluster | grep -q "forked from the pool" &&
	fails on_host h3 cluster resync --yes 2>err && grep -q "discard-local" err &&
	on_host h3 cluster resync --discard-local --yes >/dev/null &&
	wait_for 20 "all_at 12" && [ "$(users h3)" = alice,dave,erin,oscar ]
'

finish
